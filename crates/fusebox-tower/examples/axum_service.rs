//! An axum service whose handler calls a flaky downstream through a fuse and
//! a valve, under load from a built-in load generator, for about 5 seconds.
//!
//! ```sh
//! cargo run -p fusebox-tower --example axum_service --features axum,http
//! ```
//!
//! The downstream is healthy, then down for 1.5 s (every call fails after
//! 40 ms), then healthy again. Watch the fuse blow, refuse fast while the
//! downstream is down (503 in well under a millisecond instead of a 502
//! after 40 ms), probe it with two trial calls and heal; the downstream's
//! valve keeps at most 4 calls in flight; the inbound valve queues requests
//! (wait mode) beyond 16 concurrent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use fusebox::{event::EventKind, FuseConfig, Fusebox, Heal, Step, ValveConfig};
use fusebox_tower::{FuseLayer, FuseboxError, ValveLayer};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{service_fn, ServiceBuilder, ServiceExt};

const RUN_FOR: Duration = Duration::from_millis(4500);
const DOWN_FROM: Duration = Duration::from_millis(1500);
const DOWN_UNTIL: Duration = Duration::from_millis(3000);
const CLIENTS: usize = 12;
const SLOT: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct DownstreamError;

impl std::fmt::Display for DownstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("downstream: connection reset")
    }
}

impl std::error::Error for DownstreamError {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fb = Fusebox::new();
    // More than 5 failures within 1 s blow it; after 300 ms, two trial calls.
    let heal = Heal::program([Step::Delay(Duration::from_millis(300)), Step::Probe(2)]);
    fb.install(
        "downstream",
        FuseConfig::standard(5, Duration::from_secs(1)).heal(heal),
    )?;
    // Other callers share the downstream too: it takes 8 calls at once, at most.
    fb.install_valve("downstream", ValveConfig::new().concurrency(8))?;
    fb.install_valve(
        "api",
        ValveConfig::new()
            .concurrency(8)
            .queue(32)
            .max_wait(Duration::from_millis(200)),
    )?;
    let events = fb.subscribe();
    let start = Instant::now();
    let t0 = fb.now();

    // The flaky downstream, a tower service; the valve outside the fuse, so
    // the fuse never mistakes a busy valve for a broken downstream.
    let downstream = ServiceBuilder::new()
        .layer(ValveLayer::reject(fb.valve("downstream").unwrap()))
        .layer(FuseLayer::new(fb.fuse("downstream").unwrap()))
        .service(service_fn(move |id: u64| async move {
            let t = start.elapsed();
            if t >= DOWN_FROM && t < DOWN_UNTIL {
                tokio::time::sleep(Duration::from_millis(40)).await;
                Err(DownstreamError)
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(format!("quote #{id}"))
            }
        }));

    let next_id = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handler = move || {
        let downstream = downstream.clone();
        let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            match downstream.oneshot(id).await {
                Ok(quote) => quote.into_response(),
                Err(err) => match err.downcast::<FuseboxError>() {
                    Ok(refusal) => refusal.into_response(), // 503, fast
                    Err(other) => (StatusCode::BAD_GATEWAY, other.to_string()).into_response(),
                },
            }
        }
    };
    let app = Router::new().route("/quote", get(handler)).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error))
            .layer(ValveLayer::wait(fb.valve("api").unwrap())),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    println!("serving on http://{addr}/quote for {RUN_FOR:?}; downstream down from {DOWN_FROM:?} to {DOWN_UNTIL:?}");

    // The load generator: CLIENTS closed-loop clients. Per half-second slot
    // and answer: (count, total latency).
    type Tally = BTreeMap<(u128, &'static str), (u64, Duration)>;
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let client = Client::builder(TokioExecutor::new()).build_http::<axum::body::Body>();
    let uri: axum::http::Uri = format!("http://{addr}/quote").parse()?;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (client, uri, tally) = (client.clone(), uri.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            while start.elapsed() < RUN_FOR {
                let sent = Instant::now();
                let Ok(resp) = client.get(uri.clone()).await else {
                    continue;
                };
                let status = resp.status();
                let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                let answer = match status.as_u16() {
                    200 => "200",
                    502 => "502",
                    503 if body.is_ok_and(|b| b.starts_with(br#"{"error":"fuse"#)) => "503 fuse",
                    503 => "503 valve",
                    _ => "other",
                };
                let slot = sent.duration_since(start).as_millis() / SLOT.as_millis();
                let mut t = tally.lock().unwrap();
                let e = t.entry((slot, answer)).or_default();
                e.0 += 1;
                e.1 += sent.elapsed();
            }
        }));
    }
    for c in clients {
        c.await?;
    }
    let _ = stop_tx.send(());
    server.await??;

    println!("\n  time   200 ok  (avg lat.)   502 failed        503 fuse blown    503 valve busy");
    let tally = tally.lock().unwrap();
    let slots = RUN_FOR.as_millis() / SLOT.as_millis();
    for slot in 0..=slots {
        let cell = |answer: &'static str| match tally.get(&(slot, answer)) {
            Some((n, total)) => format!("{n:>6} ({:>6.1?})", *total / (*n as u32)),
            None => format!("{:>6} {:>8}", 0, ""),
        };
        println!(
            "{:>5.1}s  {}  {}  {}  {}",
            (slot * SLOT.as_millis()) as f64 / 1000.0,
            cell("200"),
            cell("502"),
            cell("503 fuse"),
            cell("503 valve"),
        );
    }

    println!("\nwhat the fuse did:");
    while let Ok(e) = events.try_recv() {
        if let EventKind::Transition { from, to, cause } = &e.kind {
            if from.is_some() && to.is_some() {
                println!(
                    "  {:>7.3}s  {} {:?} -> {:?} ({cause:?})",
                    e.at.saturating_sub(t0).as_secs_f64(),
                    e.name,
                    from.unwrap(),
                    to.unwrap()
                );
            }
        }
    }
    let fuse = fb.state("downstream")?;
    println!(
        "  now {}; blows {}, heals {}, melts {}, successes {}, refused asks {}",
        fuse.state,
        fuse.counters.blows,
        fuse.counters.heals,
        fuse.counters.melts,
        fuse.counters.successes,
        fuse.counters.asks_blown,
    );
    for v in fb.valves() {
        println!(
            "valve {}: admitted {}, refused {} (busy {}, queue full {}, timeout {}), waiting p99 {:?}",
            v.name,
            v.admitted,
            v.refused.total(),
            v.refused.busy,
            v.refused.queue_full,
            v.refused.timeout,
            v.sojourn_p99.unwrap_or_default(),
        );
    }
    Ok(())
}
