//! The overload benchmark: offered load twice the capacity, a worker with a
//! fixed service time, and three ways to regulate it: a fusebox valve with a
//! FIFO queue, one with CoDel, and tower's `ConcurrencyLimit` behind a
//! `Buffer` of the same size. Each reports goodput (tasks served per second,
//! as a share of capacity), refusals, and the p50/p99 sojourn (arrival to
//! service start) of the tasks it served.
//!
//! Arrivals are evenly spaced (an open loop: an arrival does not wait for
//! the previous one), so the offered load does not fall when the service
//! slows, as it would not in production.

use std::time::{Duration, Instant};

use serde::Serialize;
use tower::{Service, ServiceExt};

/// The worker: `CONCURRENCY` at once, `SERVICE` each.
pub const CONCURRENCY: usize = 4;
/// Service time of one task.
pub const SERVICE: Duration = Duration::from_millis(10);
/// Queue (and buffer) size.
pub const QUEUE: usize = 64;
/// CoDel's parameters: RFC 8289's defaults.
pub const TARGET: Duration = Duration::from_millis(5);
/// CoDel's interval.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// What one regulator achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Who regulated.
    pub name: &'static str,
    /// Tasks offered.
    pub offered: u64,
    /// Tasks served.
    pub served: u64,
    /// Tasks refused (or, for tower, that could not be queued).
    pub refused: u64,
    /// Tasks whose service started within the run, per second, divided by
    /// the worker's capacity as measured (tokio's timer rounds each sleep up
    /// to its millisecond tick, so a "10 ms" service takes a little longer).
    pub goodput: f64,
    /// The measured capacity, tasks per second.
    pub capacity: f64,
    /// Median sojourn of served tasks, ms.
    pub p50_ms: f64,
    /// 99th percentile sojourn of served tasks, ms.
    pub p99_ms: f64,
}

fn capacity_per_sec() -> f64 {
    CONCURRENCY as f64 / SERVICE.as_secs_f64()
}

/// The nearest-rank `q` quantile of sorted values (NaN for none).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// One served task: its sojourn (ms), when its service started (s from the
/// run's start) and how long its service took (s).
#[derive(Debug, Clone, Copy)]
pub struct Served {
    sojourn_ms: f64,
    started: f64,
    service: f64,
}

fn outcome(
    name: &'static str,
    offered: u64,
    refused: u64,
    served: Vec<Served>,
    secs: f64,
) -> Outcome {
    let mut sojourns: Vec<f64> = served.iter().map(|s| s.sojourn_ms).collect();
    sojourns.sort_by(f64::total_cmp);
    let mut service: Vec<f64> = served.iter().map(|s| s.service).collect();
    service.sort_by(f64::total_cmp);
    let capacity = CONCURRENCY as f64 / quantile(&service, 0.5);
    let in_run = served.iter().filter(|s| s.started <= secs).count();
    Outcome {
        name,
        offered,
        served: served.len() as u64,
        refused,
        goodput: in_run as f64 / secs / capacity,
        capacity,
        p50_ms: quantile(&sojourns, 0.5),
        p99_ms: quantile(&sojourns, 0.99),
    }
}

/// Serves one task that arrived at `arrived`, the run having started at
/// `start`.
async fn serve(arrived: Instant, start: Instant) -> Served {
    let began = Instant::now();
    tokio::time::sleep(SERVICE).await;
    Served {
        sojourn_ms: began.duration_since(arrived).as_secs_f64() * 1e3,
        started: began.duration_since(start).as_secs_f64(),
        service: began.elapsed().as_secs_f64(),
    }
}

/// Offers `2 x capacity` for `secs` to each regulator in turn.
pub fn run(secs: f64, progress: bool) -> Vec<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let mut out = Vec::new();
    for (name, config) in [
        ("fusebox fifo", fusebox::ValveConfig::new().fifo()),
        (
            "fusebox codel",
            fusebox::ValveConfig::new().codel(TARGET, INTERVAL),
        ),
        (
            "codel+max_wait",
            fusebox::ValveConfig::new()
                .codel(TARGET, INTERVAL)
                .max_wait(TARGET + INTERVAL),
        ),
    ] {
        if progress {
            eprintln!("overload: {name} for {secs} s ...");
        }
        let config = config.concurrency(CONCURRENCY).queue(QUEUE);
        out.push(rt.block_on(valve_run(name, config, secs)));
    }
    if progress {
        eprintln!("overload: tower ConcurrencyLimit + Buffer for {secs} s ...");
    }
    out.push(rt.block_on(tower_run(secs)));
    out
}

/// Evenly spaced arrivals at twice the capacity for `secs`; `task` handles
/// one arrival and answers its sojourn in ms if served.
async fn offer<F, Fut>(secs: f64, task: F) -> (u64, u64, Vec<Served>)
where
    F: Fn(Instant, Instant) -> Fut,
    Fut: std::future::Future<Output = Option<Served>> + Send + 'static,
{
    let epoch = Instant::now();
    let every = Duration::from_secs_f64(1.0 / (2.0 * capacity_per_sec()));
    let n = (secs / every.as_secs_f64()) as u64;
    let start = tokio::time::Instant::now();
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        tokio::time::sleep_until(start + every * i as u32).await;
        handles.push(tokio::spawn(task(Instant::now(), epoch)));
    }
    let mut sojourns = Vec::new();
    let mut refused = 0;
    for h in handles {
        match h.await {
            Ok(Some(served)) => sojourns.push(served),
            _ => refused += 1,
        }
    }
    (n, refused, sojourns)
}

async fn valve_run(name: &'static str, config: fusebox::ValveConfig, secs: f64) -> Outcome {
    let fb = fusebox::Fusebox::new();
    fb.install_valve("worker", config).expect("a valid valve");
    let valve = fb.valve("worker").expect("installed");
    let (offered, refused, sojourns) = offer(secs, |arrived, start| {
        let valve = valve.clone();
        async move {
            let _permit = valve.acquire().await.ok()?;
            Some(serve(arrived, start).await)
        }
    })
    .await;
    outcome(name, offered, refused, sojourns, secs)
}

async fn tower_run(secs: f64) -> Outcome {
    let worker = tower::service_fn(|(arrived, start): (Instant, Instant)| async move {
        Ok::<Served, std::convert::Infallible>(serve(arrived, start).await)
    });
    let svc = tower::buffer::Buffer::new(
        tower::limit::ConcurrencyLimit::new(worker, CONCURRENCY),
        QUEUE,
    );
    let (offered, refused, sojourns) = offer(secs, |arrived, start| {
        // Each caller its own clone of the buffer handle, as in a server.
        let mut svc = svc.clone();
        async move {
            // A full buffer makes callers wait in `ready` (backpressure);
            // tower refuses nothing here.
            svc.ready().await.ok()?;
            svc.call((arrived, start)).await.ok()
        }
    })
    .await;
    outcome("tower limit+buffer", offered, refused, sojourns, secs)
}

/// The table of outcomes.
pub fn table(outcomes: &[Outcome], secs: f64) -> String {
    let mut s = format!(
        "overload: {:.0} tasks/s offered for {secs} s to a worker of nominal capacity {:.0}/s \
         ({CONCURRENCY} at once, {} ms each), queue {QUEUE}; goodput is service starts within \
         the run per second over the measured capacity\n",
        2.0 * capacity_per_sec(),
        capacity_per_sec(),
        SERVICE.as_millis()
    );
    s += "  regulator            offered   served  refused  capacity  goodput  p50 sojourn  p99 sojourn\n";
    for o in outcomes {
        s += &format!(
            "  {:<18} {:>9} {:>8} {:>8} {:>7.0}/s {:>7.1}% {:>9.1} ms {:>9.1} ms\n",
            o.name,
            o.offered,
            o.served,
            o.refused,
            o.capacity,
            o.goodput * 100.0,
            o.p50_ms,
            o.p99_ms
        );
    }
    s
}
