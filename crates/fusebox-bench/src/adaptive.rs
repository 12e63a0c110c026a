//! `--adaptive`: protection that learns the capacity against limits set by
//! hand, on the simulator's capacity-drop scenario (a database whose
//! connections halve for a minute, then come back; nobody tells the valve).
//!
//! Every config runs the same scenario and seed on virtual time, through the
//! real valve code. Each is judged on what the issue asks of adaptive
//! concurrency: goodput in every 5 s bucket (successes against what the
//! database could serve then, or against the offered load when that is
//! less), leaving out the first 10 s after each change of capacity while a
//! controller adapts; and the 99th percentile of the queueing delay of the
//! requests served (in the valve's queue, then the database's), against
//! CoDel's target plus interval (5 ms + 100 ms).
//!
//! The contenders: the gradient and AIMD controllers; a fixed limit right
//! for the healthy database (16) and one right for the degraded database
//! (8); a fixed 16 that waits without bound (a valve with tower's
//! semantics); and tower's own `ConcurrencyLimit` of 16, its code, polled by
//! the simulator through [`fusebox_sim::Admit`] on the same virtual clock.

use std::any::Any;
use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use fusebox::ConfigFile;
use fusebox_sim::{file, run_logged, run_regulated, Admission, Admit, ClientRequest, End};
use serde::Serialize;
use tower::limit::ConcurrencyLimit;
use tower::{Service, ServiceExt};

/// A service that never answers: what matters is the response future,
/// which holds tower's permit until the simulator drops it when the
/// database's answer (or the client's timeout) comes.
type Hold = tower::util::ServiceFn<fn(()) -> std::future::Pending<Result<(), Infallible>>>;

/// tower's `ConcurrencyLimit`, as a regulator of the simulator.
struct TowerLimit(RefCell<ConcurrencyLimit<Hold>>);

impl TowerLimit {
    fn new(max: usize) -> Self {
        let hold: Hold = tower::service_fn(|()| std::future::pending());
        TowerLimit(RefCell::new(ConcurrencyLimit::new(hold, max)))
    }
}

impl Admit for TowerLimit {
    fn admit(&self) -> Admission {
        // Each request waits on a clone: a clone shares the semaphore and
        // holds the permit its `poll_ready` acquired.
        let svc = self.0.borrow().clone();
        Box::pin(async move {
            let mut svc = svc;
            let ready = svc.ready().await.map_err(|_| "tower")?;
            let held = ready.call(());
            Ok(Box::new((svc, held)) as Box<dyn Any>)
        })
    }
}

/// The scenario, shipped with the simulator.
const SCENARIO: &str = include_str!("../../fusebox-sim/scenarios/capacity_drop.toml");

/// The valve configs compared, by name.
const CONFIGS: [(&str, &str); 6] = [
    (
        "gradient (learned)",
        r#"[valves.db]
limit = { kind = "gradient", min = 2, max = 200, initial = 16 }
queue = 64
max_wait = "100ms""#,
    ),
    (
        "gradient (learned), max_wait 50ms",
        r#"[valves.db]
limit = { kind = "gradient", min = 2, max = 200, initial = 16 }
queue = 64
max_wait = "50ms""#,
    ),
    (
        "aimd (learned)",
        r#"[valves.db]
limit = { kind = "aimd", min = 2, max = 200, initial = 16, timeout = "100ms" }
queue = 64
max_wait = "100ms""#,
    ),
    (
        "fixed 16 (right when healthy)",
        r#"[valves.db]
concurrency = 16
queue = 64
max_wait = "100ms""#,
    ),
    (
        "fixed 8 (right when degraded)",
        r#"[valves.db]
concurrency = 8
queue = 64
max_wait = "100ms""#,
    ),
    (
        "fixed 16, unbounded wait (as tower ConcurrencyLimit)",
        r#"[valves.db]
concurrency = 16
queue = 1000000"#,
    ),
];

/// Bucket width for goodput.
const BUCKET: Duration = Duration::from_secs(5);
/// Left out after each change of capacity.
const SETTLE: Duration = Duration::from_secs(10);
/// CoDel's target plus interval: the bound on the queueing delay's p99.
const DELAY_BOUND: Duration = Duration::from_millis(105);

/// What one config achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The config's name.
    pub name: &'static str,
    /// The lowest goodput of a judged 5 s bucket, as a share of what could
    /// be served then.
    pub min_goodput: f64,
    /// The judged buckets with goodput of at least 90 %.
    pub buckets_ok: usize,
    /// The judged buckets.
    pub buckets: usize,
    /// 99th percentile of the served requests' queueing delay, ms, in the
    /// healthy and the degraded phase.
    pub p99_delay_healthy_ms: f64,
    /// As above, while the capacity is halved.
    pub p99_delay_degraded_ms: f64,
    /// 99th percentile client latency, ms, whole run.
    pub p99_latency_ms: f64,
    /// Requests that did not succeed.
    pub client_errors: u64,
    /// Requests offered.
    pub offered: u64,
}

/// Runs every config on the scenario.
pub fn run() -> Result<Vec<Outcome>, String> {
    let scenario = file::parse(SCENARIO).map_err(|e| e.to_string())?.scenario;
    let dep = scenario.calls()[0].clone();
    let mean = match dep.latency {
        fusebox_sim::scenario::Latency::Exponential { mean, shift, .. } => mean + shift,
        _ => return Err("the capacity-drop scenario's latency is exponential".into()),
    };
    let episode = scenario
        .episodes
        .first()
        .ok_or("the capacity-drop scenario has an episode")?
        .clone();
    let rate = scenario
        .load
        .open
        .as_ref()
        .ok_or("the capacity-drop scenario has an open load")?
        .rate;
    let degraded = |t: Duration| episode.start <= t && t < episode.end;
    // What the database can serve per second at `t`, at most what arrives.
    let servable = |t: Duration| {
        let connections = if degraded(t) {
            episode.connections.unwrap_or(dep.connections)
        } else {
            dep.connections
        };
        (f64::from(connections) / mean.as_secs_f64()).min(rate)
    };
    let changes = [Duration::ZERO, episode.start, episode.end];
    let mut out = Vec::new();
    let runs = CONFIGS
        .iter()
        .map(|&(name, text)| (name, Some(text)))
        .chain([("tower ConcurrencyLimit(16)", None)]);
    for (name, text) in runs {
        let (result, log) = match text {
            Some(text) => {
                let cfg = ConfigFile::parse(text).map_err(|e| format!("{name}: {e}"))?;
                run_logged(&scenario, name, Some(&cfg)).map_err(|e| e.to_string())?
            }
            None => run_regulated(&scenario, name, None, Rc::new(TowerLimit::new(16)))
                .map_err(|e| e.to_string())?,
        };
        let (min_goodput, buckets_ok, buckets) =
            goodput(&log, scenario.duration, &changes, servable);
        let delay = |in_phase: &dyn Fn(Duration) -> bool| {
            let mut ms: Vec<f64> = log
                .iter()
                .filter(|r| in_phase(r.at) && r.end == End::Succeeded)
                .filter_map(|r| r.waited)
                .map(|d| d.as_secs_f64() * 1e3)
                .collect();
            ms.sort_unstable_by(f64::total_cmp);
            if ms.is_empty() {
                0.0
            } else {
                crate::overload::quantile(&ms, 0.99)
            }
        };
        out.push(Outcome {
            name,
            min_goodput,
            buckets_ok,
            buckets,
            p99_delay_healthy_ms: delay(&|t| !degraded(t)),
            p99_delay_degraded_ms: delay(&degraded),
            p99_latency_ms: result.total.p99.as_secs_f64() * 1e3,
            client_errors: result.total.client_errors(),
            offered: result.total.offered,
        });
    }
    Ok(out)
}

/// Per judged bucket, successes (by arrival) over what could be served.
fn goodput(
    log: &[ClientRequest],
    length: Duration,
    changes: &[Duration],
    servable: impl Fn(Duration) -> f64,
) -> (f64, usize, usize) {
    let n = length.as_nanos().div_ceil(BUCKET.as_nanos()) as usize;
    let mut ok = vec![0u64; n];
    for r in log.iter().filter(|r| r.end == End::Succeeded) {
        ok[((r.at.as_nanos() / BUCKET.as_nanos()) as usize).min(n - 1)] += 1;
    }
    let mut worst = f64::INFINITY;
    let (mut good, mut judged) = (0, 0);
    for (i, &served) in ok.iter().enumerate() {
        let start = BUCKET * i as u32;
        let end = (start + BUCKET).min(length);
        let settling = changes.iter().any(|&c| start < c + SETTLE && end > c);
        if settling || end - start < BUCKET {
            continue;
        }
        let share = served as f64 / (servable(start) * BUCKET.as_secs_f64());
        worst = worst.min(share);
        judged += 1;
        good += usize::from(share >= 0.9);
    }
    (worst, good, judged)
}

/// The comparison as a table.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "capacity drop (16 -> 8 -> 16 connections, 480 req/s, 20 ms a query), on virtual time\n\
         goodput: successes per 5 s bucket against what the database could serve (or was\n\
         offered), the first 10 s after each change left out; delay: queueing delay of the\n\
         requests served, p99, against 5 ms + 100 ms\n\n\
         {:<54}{:>13}{:>11}{:>14}{:>15}{:>13}{:>10}\n",
        "config",
        "min goodput",
        "buckets",
        "delay healthy",
        "delay degraded",
        "p99 latency",
        "errors"
    );
    for o in outcomes {
        let delay = |ms: f64| {
            let mark = if ms <= DELAY_BOUND.as_secs_f64() * 1e3 {
                ""
            } else {
                " !"
            };
            format!("{ms:.1}ms{mark}")
        };
        out.push_str(&format!(
            "{:<54}{:>12.0}%{:>11}{:>14}{:>15}{:>11.1}ms{:>10}\n",
            o.name,
            o.min_goodput * 100.0,
            format!("{}/{}", o.buckets_ok, o.buckets),
            delay(o.p99_delay_healthy_ms),
            delay(o.p99_delay_degraded_ms),
            o.p99_latency_ms,
            o.client_errors,
        ));
    }
    out.push_str("(! over 105 ms; buckets: judged buckets with at least 90 % goodput)\n");
    out
}
