//! The tokio runtime's figures, from the metrics stable tokio exposes
//! (`Handle::metrics()`, no `tokio_unstable`).
//!
//! Which runtime: the one registered with
//! [`AdminConfig::runtime`](crate::AdminConfig::runtime), else the one
//! polling the request's handler, which is the runtime the admin server (or
//! the application's server that mounts the router) runs on.
//!
//! Stable in tokio 1.54: `num_workers`, `num_alive_tasks`,
//! `global_queue_depth`, and, where the target has 64-bit atomics, each
//! worker's `worker_total_busy_duration` and `worker_park_count`. The rest
//! (blocking threads, steals, poll histograms) needs `tokio_unstable`,
//! which a library must not ask of its users. Busy time is added to a
//! worker's total when it ends a busy stretch (parks, or yields to the
//! driver), so a worker busy all through a window shows its time a little
//! late.

use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};

/// Per-worker totals summed over this many workers at most: the sum is of
/// the first ones only beyond it (no runtime has so many).
const MAX_WORKERS_SUMMED: usize = 4096;

/// One reading of a runtime's metrics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reading {
    /// The runtime's id, to tell runtimes apart between two readings.
    pub(crate) id: tokio::runtime::Id,
    pub(crate) flavor: &'static str,
    pub(crate) workers: usize,
    pub(crate) alive_tasks: usize,
    pub(crate) global_queue_depth: usize,
    /// Busy time summed over the workers; `None` without 64-bit atomics.
    pub(crate) busy: Option<Duration>,
    /// Parks summed over the workers; `None` without 64-bit atomics.
    pub(crate) parks: Option<u64>,
}

/// Reads `handle`'s metrics: a few atomic loads per worker.
pub(crate) fn read(handle: &Handle) -> Reading {
    let m = handle.metrics();
    let workers = m.num_workers();
    let (busy, parks) = totals(&m, workers.min(MAX_WORKERS_SUMMED));
    Reading {
        id: handle.id(),
        flavor: match handle.runtime_flavor() {
            RuntimeFlavor::CurrentThread => "current_thread",
            RuntimeFlavor::MultiThread => "multi_thread",
            _ => "other",
        },
        workers,
        alive_tasks: m.num_alive_tasks(),
        global_queue_depth: m.global_queue_depth(),
        busy,
        parks,
    }
}

#[cfg(target_has_atomic = "64")]
fn totals(m: &tokio::runtime::RuntimeMetrics, workers: usize) -> (Option<Duration>, Option<u64>) {
    let busy = (0..workers).map(|w| m.worker_total_busy_duration(w)).sum();
    let parks = (0..workers).map(|w| m.worker_park_count(w)).sum();
    (Some(busy), Some(parks))
}

#[cfg(not(target_has_atomic = "64"))]
fn totals(_: &tokio::runtime::RuntimeMetrics, _: usize) -> (Option<Duration>, Option<u64>) {
    (None, None)
}

/// The share of the workers' time spent busy between two readings of the
/// same runtime, in percent (100 = every worker busy throughout).
pub(crate) fn busy_percent(then: &Reading, now: &Reading, wall: Duration) -> Option<f64> {
    if then.id != now.id || now.workers == 0 || wall.is_zero() {
        return None;
    }
    let busy = now.busy?.checked_sub(then.busy?)?;
    let capacity = wall.as_secs_f64() * now.workers.min(MAX_WORKERS_SUMMED) as f64;
    Some((busy.as_secs_f64() / capacity * 100.0).min(100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_runtime_of_three_workers() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .build()
            .unwrap();
        let r = read(rt.handle());
        assert_eq!((r.workers, r.flavor), (3, "multi_thread"));
        assert_eq!(r.id, rt.handle().id());
    }

    #[test]
    fn busy_percent_is_of_the_same_runtime_only() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut then = read(rt.handle());
        then.busy = Some(Duration::from_millis(100));
        let mut now = then.clone();
        now.busy = Some(Duration::from_millis(350));
        let pct = busy_percent(&then, &now, Duration::from_millis(500));
        assert_eq!(pct, Some(50.0));
        now.id = other.handle().id();
        assert_eq!(busy_percent(&then, &now, Duration::from_millis(500)), None);
    }
}
