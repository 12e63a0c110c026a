//! `GET /api/runtime`: the host process as recon's `node_stats` and
//! `proc_count` show an Erlang node: the tokio runtime's workers and tasks,
//! the process's memory, CPU, threads and descriptors, and the busiest
//! fuses and valves.
//!
//! Why rates need a window: CPU time, busy time and call counts are totals;
//! what an operator asks is "how busy is it now". The router keeps the
//! previous reading (one per router, shared by every client) and answers the
//! rates over the time since it. A window is at least [`MIN_WINDOW`]: when
//! the last reading is younger (another client just asked) or there is none
//! (the first request), the request waits for the rest of it, sleeping on
//! the timer and holding no lock, so rates are never computed over a few
//! microseconds, and a client that asks in a loop gets at most a couple of
//! answers a second. The wait is cancel safe: a client that leaves drops it.
//!
//! ```text
//! reading r1          request A            request B (r2 + 0.1 s)
//!     |------ window A (>= 0.5 s) ---|r2
//!                                    |-- B waits to r2 + 0.5 s --|r3: window B
//! ```
//!
//! The memory kept is one reading: a few numbers, and two counters per
//! fuse and valve ([`busiest`]); an answer holds at most [`MAX_TOP`] of
//! each. Reading the figures costs three small `/proc` reads
//! ([`process`]), a few atomic loads per runtime worker ([`scheduler`]) and
//! one [`Fusebox::snapshot`](fusebox::Fusebox::snapshot).

mod busiest;
mod process;
mod scheduler;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use fusebox::Fusebox;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::time::Instant;

use crate::error::ApiError;
use busiest::{BusyFuse, BusyValve, By, Counts};

/// The shortest window rates are computed over.
pub(crate) const MIN_WINDOW: Duration = Duration::from_millis(500);
/// How many busiest fuses and valves an answer lists by default.
pub(crate) const DEFAULT_TOP: usize = 5;
/// The most it lists (`?top=` beyond is a 400).
pub(crate) const MAX_TOP: usize = 50;

/// A runtime registered with [`AdminConfig::runtime`](crate::AdminConfig::runtime):
/// equal to another when it is the same runtime.
#[derive(Clone)]
pub(crate) struct Registered(pub(crate) Handle);

impl PartialEq for Registered {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for Registered {}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Runtime({})", self.0.id())
    }
}

/// A router's inspector: the runtime to read, and the last reading.
#[derive(Debug)]
pub(crate) struct Inspector {
    registered: Option<Handle>,
    last: Mutex<Option<Arc<Reading>>>,
}

/// Everything a window's rates are computed from.
#[derive(Debug)]
struct Reading {
    at: Instant,
    runtime: scheduler::Reading,
    cpu: Option<Duration>,
    counts: Counts,
}

impl Inspector {
    pub(crate) fn new(registered: Option<Registered>) -> Self {
        Inspector {
            registered: registered.map(|r| r.0),
            last: Mutex::new(None),
        }
    }

    fn last(&self) -> Option<Arc<Reading>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Keeps `reading` as the last, unless a later one was kept meanwhile.
    fn keep(&self, reading: &Arc<Reading>) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref().is_none_or(|l| l.at < reading.at) {
            *last = Some(reading.clone());
        }
    }

    /// The report over a window of at least [`MIN_WINDOW`] ending now.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it holds no lock across its one await (a sleep).
    async fn report(&self, fb: &fusebox::Fusebox, top: usize, by: By) -> Report {
        let handle = self.registered.clone().unwrap_or_else(Handle::current);
        let then = match self.last() {
            Some(then) => then,
            None => {
                let first = Arc::new(read(fb, &handle).0);
                self.keep(&first);
                first
            }
        };
        let young = MIN_WINDOW.saturating_sub(then.at.elapsed());
        if !young.is_zero() {
            tokio::time::sleep(young).await;
        }
        let (now, snapshot, usage, errors) = read(fb, &handle);
        let now = Arc::new(now);
        self.keep(&now);
        let wall = now.at.saturating_duration_since(then.at);
        let (fuses, valves) = busiest::busiest(Some(&then.counts), &snapshot, wall, top, by);
        let rt = &now.runtime;
        let secs = wall.as_secs_f64();
        let cpu_percent = match (then.cpu, now.cpu) {
            (Some(a), Some(b)) if secs > 0.0 => {
                Some(b.saturating_sub(a).as_secs_f64() / secs * 100.0)
            }
            _ => None,
        };
        let mut notes: Vec<String> = errors.iter().map(ToString::to_string).collect();
        notes.extend(process::UNSUPPORTED.map(str::to_owned));
        Report {
            window_seconds: secs,
            runtime: RuntimeReport {
                source: if self.registered.is_some() {
                    "registered"
                } else {
                    "server"
                },
                id: rt.id.to_string(),
                flavor: rt.flavor,
                workers: rt.workers,
                alive_tasks: rt.alive_tasks,
                global_queue_depth: rt.global_queue_depth,
                busy_percent: scheduler::busy_percent(&then.runtime, rt, wall),
                busy_seconds: rt.busy.map(|d| d.as_secs_f64()),
                parks: rt.parks,
            },
            process: ProcessReport {
                rss_bytes: usage.rss_bytes,
                rss_peak_bytes: usage.rss_peak_bytes,
                cpu_user_seconds: usage.cpu_user.map(|d| d.as_secs_f64()),
                cpu_system_seconds: usage.cpu_system.map(|d| d.as_secs_f64()),
                cpu_percent,
                threads: usage.threads,
                open_fds: usage.open_fds,
                note: (!notes.is_empty()).then(|| notes.join("; ")),
            },
            busiest: Busiest { by, fuses, valves },
        }
    }
}

/// One reading, and what the report needs of its moment besides.
fn read(
    fb: &fusebox::Fusebox,
    handle: &Handle,
) -> (
    Reading,
    fusebox::Snapshot,
    process::Usage,
    Vec<process::ProcError>,
) {
    let snapshot = fb.snapshot();
    let (usage, errors) = process::read();
    let reading = Reading {
        at: Instant::now(),
        runtime: scheduler::read(handle),
        cpu: usage.cpu(),
        counts: Counts::of(&snapshot),
    };
    (reading, snapshot, usage, errors)
}

/// The answer of `GET /api/runtime`.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// The time the rates are over.
    window_seconds: f64,
    runtime: RuntimeReport,
    process: ProcessReport,
    busiest: Busiest,
}

#[derive(Debug, Serialize)]
struct RuntimeReport {
    /// `registered` (AdminConfig::runtime) or `server` (the one serving).
    source: &'static str,
    id: String,
    flavor: &'static str,
    workers: usize,
    alive_tasks: usize,
    global_queue_depth: usize,
    busy_percent: Option<f64>,
    busy_seconds: Option<f64>,
    parks: Option<u64>,
}

#[derive(Debug, Serialize)]
struct ProcessReport {
    rss_bytes: Option<u64>,
    rss_peak_bytes: Option<u64>,
    cpu_user_seconds: Option<f64>,
    cpu_system_seconds: Option<f64>,
    /// CPU time over wall time in the window; 100 is one core.
    cpu_percent: Option<f64>,
    threads: Option<u64>,
    open_fds: Option<u64>,
    /// Why figures are missing, if some are.
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Busiest {
    by: By,
    fuses: Vec<BusyFuse>,
    valves: Vec<BusyValve>,
}

/// `?top=N&by=calls|in_flight|refused`; other parameters are ignored.
fn query(uri: &Uri) -> Result<(usize, By), ApiError> {
    let (mut top, mut by) = (DEFAULT_TOP, By::Calls);
    for pair in uri.query().unwrap_or("").split('&') {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("top", n) => {
                top = n.parse().ok().filter(|&n| n <= MAX_TOP).ok_or_else(|| {
                    ApiError::bad_request(format!("top must be a number from 0 to {MAX_TOP}"))
                })?;
            }
            ("by", b) => {
                by = By::parse(b).ok_or_else(|| {
                    ApiError::bad_request("by must be calls, in_flight or refused")
                })?;
            }
            _ => {}
        }
    }
    Ok((top, by))
}

/// `GET /api/runtime`: from the router's state, only the inspector and the
/// Fusebox (the state hands them over by `FromRef`, so this room knows
/// nothing of the rest of it).
pub(crate) async fn runtime(
    State(inspector): State<Arc<Inspector>>,
    State(fb): State<Fusebox>,
    uri: Uri,
) -> Result<Json<Report>, ApiError> {
    let (top, by) = query(&uri)?;
    Ok(Json(inspector.report(&fb, top, by).await))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let q = |s: &str| query(&s.parse::<Uri>().unwrap()).map_err(|_| ());
        assert_eq!(q("/api/runtime"), Ok((DEFAULT_TOP, By::Calls)));
        assert_eq!(q("/api/runtime?top=0&by=refused"), Ok((0, By::Refused)));
        assert_eq!(
            q("/api/runtime?by=in_flight&x=1&top=50"),
            Ok((50, By::InFlight))
        );
        assert_eq!(q("/api/runtime?top=51"), Err(()));
        assert_eq!(q("/api/runtime?top=-1"), Err(()));
        assert_eq!(q("/api/runtime?by=cpu"), Err(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_is_at_least_min_window() {
        let inspector = Inspector::new(None);
        let fb = fusebox::Fusebox::new();
        let first = inspector.report(&fb, 1, By::Calls).await;
        assert!(
            first.window_seconds >= MIN_WINDOW.as_secs_f64(),
            "{first:?}"
        );
        // Right after: waits for the rest of a window after the last reading.
        let second = inspector.report(&fb, 1, By::Calls).await;
        assert!(
            second.window_seconds >= MIN_WINDOW.as_secs_f64(),
            "{second:?}"
        );
    }
}
