//! `POST` and `DELETE /api/trace/code` against the router in process: every
//! refusal typed, one trace at a time, the bounds clamped and reported, a
//! slow client losing lines (counted) rather than growing memory, and a
//! field whose `Debug` panics losing its event, not the service's thread.
//!
//! Each test has a subscriber of its own on its own thread (`set_default`),
//! and a tracer of its own, so they run in parallel without meeting.

use std::fmt;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use fusebox::Fusebox;
use fusebox_admin::code_trace::{CodeTrace, BUFFER, MAX_MAX};
use fusebox_admin::AdminConfig;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

const TOKEN: &str = "t0ken";

fn app(tracer: &CodeTrace) -> axum::Router {
    fusebox_admin::router(
        Fusebox::new(),
        AdminConfig::new().token(TOKEN).code_trace(tracer.clone()),
    )
}

/// The tracer's layer as this thread's subscriber, until the guard drops.
fn install(tracer: &CodeTrace) -> tracing::subscriber::DefaultGuard {
    tracing::subscriber::set_default(tracing_subscriber::registry().with(tracer.layer()))
}

/// A tracer serving its app, its layer this thread's subscriber (until
/// `_default` drops), and `res`, the answer to starting the trace `body`.
struct Started {
    tracer: CodeTrace,
    app: axum::Router,
    _default: tracing::subscriber::DefaultGuard,
    res: Response,
}

async fn start(body: &str) -> Started {
    let tracer = CodeTrace::new();
    let app = app(&tracer);
    let _default = install(&tracer);
    let res = send(&app, "POST", body, Some(TOKEN)).await;
    Started {
        tracer,
        app,
        _default,
        res,
    }
}

async fn send(app: &axum::Router, method: &str, body: &str, token: Option<&str>) -> Response {
    let mut req = Request::builder().method(method).uri("/api/trace/code");
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = req.body(Body::from(body.to_owned())).unwrap();
    app.clone().oneshot(req).await.unwrap()
}

/// The status and JSON body of an error answer.
async fn error(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

/// Reads a trace's stream to its end: (event type, data) for each event.
async fn events(res: Response) -> Vec<(String, Value)> {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let read = res.into_body().collect();
    let bytes = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the stream ends")
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let (mut event, mut data) = ("message".to_owned(), String::new());
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_owned();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            }
        }
        if !data.is_empty() {
            out.push((event, serde_json::from_str(&data).unwrap()));
        }
    }
    out
}

/// The data of a stream's `trace` events, in order.
fn trace_lines(seen: &[(String, Value)]) -> Vec<&Value> {
    seen.iter()
        .filter(|(k, _)| k == "trace")
        .map(|(_, d)| d)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn every_refusal_is_typed() {
    let tracer = CodeTrace::new();
    let app = app(&tracer);
    let spec = r#"{"spec": "myapp=debug"}"#;

    let off = fusebox_admin::router(Fusebox::new(), AdminConfig::new().token(TOKEN));
    let (status, v) = error(send(&off, "POST", spec, Some(TOKEN)).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("code tracing not enabled"))
    );
    let no_token = fusebox_admin::router(
        Fusebox::new(),
        AdminConfig::new().code_trace(tracer.clone()),
    );
    let (status, _) = error(send(&no_token, "POST", spec, Some(TOKEN)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = error(send(&app, "POST", spec, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = error(send(&app, "POST", spec, Some("wrong")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for (body, detail) in [
        ("", "expected {\"spec\""),
        ("[1]", "expected {\"spec\""),
        (r#"{"spec": "a", "limit": 3}"#, "unknown field `limit`"),
        (r#"{"max": 3}"#, "missing field `spec`"),
        (r#"{"spec": "a", "max": -1}"#, "invalid value"),
        (
            r#"{"spec": "a", "max": 0}"#,
            "`max` must be greater than zero",
        ),
        (
            r#"{"spec": "a", "rate": 0}"#,
            "`rate` must be greater than zero",
        ),
        (
            r#"{"spec": "a", "for": "0s"}"#,
            "`for` must be greater than zero",
        ),
        (r#"{"spec": "a", "for": "soon"}"#, "`for`: "),
    ] {
        let (status, v) = error(send(&app, "POST", body, Some(TOKEN)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(
            v["detail"].as_str().unwrap().contains(detail),
            "{body}: {v}"
        );
    }
    let (status, v) =
        error(send(&app, "POST", r#"{"spec": "myapp[db=debug"}"#, Some(TOKEN)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "bad trace spec");
    assert_eq!(
        (v["at"].as_u64(), v["kind"].as_str()),
        (Some(8), Some("unexpected"))
    );
    assert_eq!(v["spec"], "myapp[db=debug");
    assert_eq!(v["detail"], "at byte 8: unexpected `=`, expected `]`");

    // The layer in no subscriber yet: nothing could be traced.
    let (status, v) = error(send(&app, "POST", spec, Some(TOKEN)).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("code-trace layer not installed"))
    );

    let _default = install(&tracer);
    let first = send(&app, "POST", spec, Some(TOKEN)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(tracer.is_tracing());
    let (status, v) = error(send(&app, "POST", spec, Some(TOKEN)).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("a code trace is running"))
    );
    assert!(v["ends_in_ms"].as_u64().unwrap() <= 60_000, "{v}");

    let (status, _) = error(send(&app, "DELETE", "", None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let stopped = send(&app, "DELETE", "", Some(TOKEN)).await;
    assert_eq!(stopped.status(), StatusCode::OK);
    let seen = events(first).await;
    assert_eq!(seen.first().unwrap().0, "started");
    let (last, data) = seen.last().unwrap();
    assert_eq!(
        (last.as_str(), data["reason"].as_str()),
        ("ended", Some("stopped"))
    );
    assert!(!tracer.is_tracing());
    let again = send(&app, "POST", spec, Some(TOKEN)).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the stream's end freed the slot"
    );
    drop(again);
    let (status, v) = error(send(&app, "DELETE", "", Some(TOKEN)).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no code trace running"))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn bounds_are_clamped_and_a_slow_client_loses_lines_not_memory() {
    let Started {
        tracer,
        app,
        _default,
        res,
    } = start(r#"{"spec": "flood=debug", "max": 1000000000, "rate": 1000000, "for": "1h"}"#).await;
    // Nobody reads the body while the service floods: the buffer fills.
    let emitted = 3 * BUFFER;
    for i in 0..emitted {
        tracing::debug!(target: "flood", i, "line");
        // The ceiling rate is 1000/s: 1 ms apart, each one passes it.
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(tracer.is_tracing());
    assert_eq!(
        send(&app, "DELETE", "", Some(TOKEN)).await.status(),
        StatusCode::OK
    );
    let seen = events(res).await;
    let (kind, started) = &seen[0];
    assert_eq!(kind, "started");
    assert_eq!(started["max"].as_u64(), Some(MAX_MAX));
    assert_eq!(started["rate"], 1000);
    assert_eq!(started["for_ms"], 600_000);
    assert_eq!(
        started["clamped"],
        serde_json::json!(["max", "rate", "for"])
    );
    let lines = seen.iter().filter(|(k, _)| k == "trace").count();
    assert_eq!(lines, BUFFER, "the buffer's worth, no more");
    let lagged: u64 = seen
        .iter()
        .filter(|(k, _)| k == "lagged")
        .map(|(_, d)| d["lost"].as_u64().unwrap())
        .sum();
    let (_, ended) = seen.last().unwrap();
    assert_eq!(ended["reason"], "stopped");
    let (sent, lost) = (
        ended["sent"].as_u64().unwrap(),
        ended["lost"].as_u64().unwrap(),
    );
    assert_eq!(lagged, lost, "every loss reported");
    assert_eq!(
        sent,
        BUFFER as u64 + lost,
        "a line sent is delivered or counted lost"
    );
    assert!(lost > 0 && sent <= emitted as u64, "{ended}");
    // The lines kept are the first ones, in order.
    let first: Vec<u64> = seen
        .iter()
        .filter(|(k, _)| k == "trace")
        .map(|(_, d)| d["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(first, (1..=BUFFER as u64).collect::<Vec<_>>());
}

struct Panicky;

impl fmt::Debug for Panicky {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("a user's Debug that panics (this panic is expected)")
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_field_loses_its_event_and_the_service_goes_on() {
    let Started {
        tracer,
        app: _app,
        _default,
        res,
    } = start(r#"{"spec": "svc", "max": 2, "rate": 1000}"#).await;
    tracing::debug!(target: "svc", bad = ?Panicky, "lost");
    std::thread::sleep(Duration::from_millis(2));
    tracing::debug!(target: "svc", size = 3, "kept");
    std::thread::sleep(Duration::from_millis(2));
    tracing::warn!(target: "svc::sub", "last");
    let seen = events(res).await;
    let lines = trace_lines(&seen);
    // The panic came after the budget took the first slot: that slot is
    // spent, counted as failed, and the count still ends the trace.
    assert_eq!(lines.len(), 1, "{seen:?}");
    assert_eq!(lines[0]["message"], "kept");
    assert_eq!(lines[0]["fields"], serde_json::json!([["size", "3"]]));
    assert_eq!(lines[0]["level"], "DEBUG");
    assert_eq!(lines[0]["seq"], 2);
    let (_, ended) = seen.last().unwrap();
    assert_eq!(
        (ended["reason"].as_str(), ended["failed"].as_u64()),
        (Some("max"), Some(1))
    );
    assert!(!tracer.is_tracing());
}

/// Counts the events it is given.
struct Counting(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counting {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_layer_never_disables_an_event_for_another_layer() {
    use std::sync::atomic::Ordering;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::Layer;

    let tracer = CodeTrace::new();
    let app = app(&tracer);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(Counting(seen.clone()).with_filter(LevelFilter::DEBUG))
        .with(tracer.layer());
    let _default = tracing::subscriber::set_default(subscriber);
    let emit = || {
        tracing::debug!(target: "app::a", "wanted by the logging layer");
        tracing::trace!(target: "app::a", "wanted by nobody");
    };
    emit();
    assert_eq!(
        seen.load(Ordering::Relaxed),
        1,
        "idle: the logging layer's debug event"
    );
    // A trace of something else, then of exactly these events.
    for spec in [
        r#"{"spec": "other=trace"}"#,
        r#"{"spec": "app=trace", "rate": 1000}"#,
    ] {
        let res = send(&app, "POST", spec, Some(TOKEN)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let before = seen.load(Ordering::Relaxed);
        emit();
        assert_eq!(
            seen.load(Ordering::Relaxed),
            before + 1,
            "{spec}: the trace adds nothing to it"
        );
        drop(res);
        assert!(!tracer.is_tracing());
    }
    emit();
    assert_eq!(seen.load(Ordering::Relaxed), 4, "idle again");
}

#[tokio::test(flavor = "current_thread")]
async fn field_values_select_events_and_long_values_are_cut() {
    let Started {
        tracer: _tracer,
        app: _app,
        _default,
        res,
    } = start(r#"{"spec": "svc{table=users},svc[batch]{size}=warn", "max": 4, "rate": 1000}"#)
        .await;
    let pace = || std::thread::sleep(Duration::from_millis(2));
    tracing::debug!(target: "svc", table = "orders", "not this table");
    tracing::debug!(target: "svc", "no table at all");
    tracing::warn!(target: "svc", size = 3, "not in a batch");
    tracing::debug!(target: "svc", table = "users", note = %"é".repeat(2000), "this one");
    pace();
    {
        let batch = tracing::info_span!(target: "jobs", "batch");
        let _batch = batch.enter();
        tracing::info!(target: "svc", size = 3, "too verbose for the second directive");
        tracing::error!(target: "svc", size = 4, "in a batch");
    }
    pace();
    tracing::trace!(target: "svc::deep", table = "users", "deeper");
    pace();
    let big = "x".repeat(1000);
    tracing::debug!(target: "svc", table = "users", a = %big, b = %big, c = %big, d = %big,
        e = %big, f = %big, g = %big, h = %big, i = %big, j = %big, "wide");
    let seen = events(res).await;
    let lines = trace_lines(&seen);
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["this one", "in a batch", "deeper", "wide"],
        "{seen:?}"
    );
    // A line keeps at most 8 KiB of message and values: the last are cut.
    let wide: usize = lines[3]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[1].as_str().unwrap().len())
        .sum();
    assert!((7 * 1024..=8 * 1024 + 16).contains(&wide), "{wide}");
    // A value is cut at 1 KiB, at a char boundary, and says so.
    let note = lines[0]["fields"][1][1].as_str().unwrap();
    assert!(
        note.ends_with('…') && note.len() <= 1024 + '…'.len_utf8(),
        "{}",
        note.len()
    );
    assert_eq!(lines[1]["spans"], serde_json::json!(["batch"]));
    assert_eq!(lines[1]["level"], "ERROR");
    assert_eq!(lines[2]["target"], "svc::deep");
    assert_eq!(seen.last().unwrap().1["reason"], "max");
}
