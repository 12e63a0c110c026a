//! What a run saw, phase by phase: requests offered and how they ended, the
//! calls the dependency served and how many were wasted, the clients'
//! latency, and how busy the dependency's connections were.
//!
//! A request counts in the phase it first arrived in (a retry counts with
//! its original); a dependency call in the phase it started; busy time in
//! the phase it was spent. Utilisation is over the run's own length: the
//! loop goes on after the last arrival until every timeout has fired (an
//! hour, for a client that waits an hour), but that drain is neither
//! capacity nor busy time, or a long timeout would dilute the figure to
//! nothing.
//!
//! Latencies are streamed ([`Latencies`]): the memory of a run does not grow
//! with its requests.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::latency::Latencies;
use crate::report::Bucket;

/// How a client's request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The dependency answered with success.
    Succeeded,
    /// The dependency answered with an error.
    Failed,
    /// The client (or the service's timeout) gave up.
    TimedOut,
    /// Refused without calling the dependency; the reason's name.
    Refused(&'static str),
}

/// One row of the per-phase table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRow {
    /// The phase's name (an episode's, `healthy` or `recovered`).
    pub phase: String,
    /// When it starts.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub start: Duration,
    /// When it ends.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub end: Duration,
    /// Requests the clients sent (first attempts).
    pub offered: u64,
    /// Attempts, retries included (`attempts - offered` are the retries).
    pub attempts: u64,
    /// Retries the clients' retry budget refused (the request ended with
    /// its last error instead); absent from the JSON when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries_refused: u64,
    /// Hedges sent (second copies of a slow attempt); absent from the JSON
    /// when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hedges: u64,
    /// Requests answered with success (perhaps after retries).
    pub succeeded: u64,
    /// Requests that ended failed: an error or a timeout on the last attempt.
    pub failed: u64,
    /// Of those, the ones that timed out.
    pub timed_out: u64,
    /// Requests whose last attempt was refused, by reason
    /// (`fuse`, `valve_queue_full`, `valve_timeout`, ...).
    pub refused: BTreeMap<String, u64>,
    /// Calls that reached the dependency.
    pub dependency_calls: u64,
    /// Of those, the calls that failed or whose caller had given up.
    pub wasted_calls: u64,
    /// Clients' latency, first arrival to final answer: the mean.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub mean: Duration,
    /// Calls the dependency served that first waited for a connection.
    pub dependency_queued: u64,
    /// Mean wait for a connection over the calls the dependency served
    /// (zero for those that found one free).
    #[serde(with = "fusebox::duration::serde_duration")]
    pub dependency_wait: Duration,
    /// Clients' latency: median.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub p50: Duration,
    /// 99th percentile.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub p99: Duration,
    /// Longest.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub max: Duration,
    /// Share of the dependency's connection time spent serving calls (of
    /// every dependency's together, when there are several).
    pub utilisation: f64,
    /// Dependency by dependency, when a request calls several (empty when
    /// it calls one: the row's own figures are that one's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyRow>,
}

/// One dependency's part of a phase row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyRow {
    /// The dependency's name.
    pub name: String,
    /// Calls that reached it (started in the phase).
    pub calls: u64,
    /// Of those, the calls that failed or whose caller had given up.
    pub wasted_calls: u64,
    /// Share of its connection time spent serving calls.
    pub utilisation: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PhaseRow {
    /// Requests that did not succeed (failed or refused).
    pub fn client_errors(&self) -> u64 {
        self.failed + self.refused.values().sum::<u64>()
    }

    /// The load on the dependency relative to the load the clients offer:
    /// calls that reached the dependency per first attempt (1 without
    /// retries, up to `1 + retries` in a retry storm, less when a fuse or a
    /// valve refuses); zero when nothing was offered.
    pub fn load_factor(&self) -> f64 {
        if self.offered == 0 {
            0.0
        } else {
            self.dependency_calls as f64 / self.offered as f64
        }
    }
}

#[derive(Debug, Default)]
struct Acc {
    offered: u64,
    attempts: u64,
    retries_refused: u64,
    hedges: u64,
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    refused: BTreeMap<&'static str, u64>,
    calls: u64,
    wasted: u64,
    /// Latencies in microseconds (rounded up).
    latencies: Latencies,
    busy_ns: u128,
    /// Connection time available, for utilisation.
    cap_ns: u128,
    served: u64,
    queued: u64,
    wait_ns: u128,
    /// Dependency by dependency: calls, wasted, busy and available time.
    deps: Vec<DepAcc>,
}

#[derive(Debug, Default, Clone)]
struct DepAcc {
    calls: u64,
    wasted: u64,
    busy_ns: u128,
    cap_ns: u128,
}

/// A dependency's connections as time goes: busy since `since`.
#[derive(Debug, Default, Clone, Copy)]
struct Busy {
    busy: u32,
    since: Duration,
}

/// The accumulators of every phase.
#[derive(Debug)]
pub(crate) struct Stats {
    phases: Vec<(String, Duration, Duration)>,
    acc: Vec<Acc>,
    /// The dependencies' names, in call order.
    names: Vec<String>,
    /// Each dependency's busy connections.
    busy: Vec<Busy>,
    /// Every phase together.
    all: Acc,
    /// Chart buckets by first arrival: (requests, errors, latencies in µs).
    width: Duration,
    buckets: Vec<(u64, u64, Latencies)>,
    /// The run's length: no connection time counts after it.
    length: Duration,
}

impl Stats {
    pub(crate) fn new(phases: Vec<(String, Duration, Duration)>, names: Vec<String>) -> Self {
        let n = phases.len();
        let acc = || Acc {
            deps: vec![DepAcc::default(); names.len()],
            ..Acc::default()
        };
        let length = phases.last().map_or(Duration::ZERO, |p| p.2);
        // About 120 buckets a run, whole milliseconds, at least a second.
        let width = Duration::from_millis((length.as_millis() as u64 / 120).max(1_000));
        Stats {
            phases,
            acc: (0..n).map(|_| acc()).collect(),
            busy: vec![Busy::default(); names.len()],
            all: acc(),
            names,
            width,
            buckets: Vec::new(),
            length,
        }
    }

    fn index(&self, t: Duration) -> usize {
        self.phases
            .partition_point(|(_, start, _)| *start <= t)
            .saturating_sub(1)
    }

    /// `f` on the phase at `t` and on the whole run.
    fn count(&mut self, t: Duration, f: impl Fn(&mut Acc)) {
        let i = self.index(t);
        f(&mut self.acc[i]);
        f(&mut self.all);
    }

    pub(crate) fn offered(&mut self, born: Duration) {
        self.count(born, |a| a.offered += 1);
    }

    pub(crate) fn attempt(&mut self, born: Duration) {
        self.count(born, |a| a.attempts += 1);
    }

    /// The retry budget refused a retry of a request first sent at `born`.
    pub(crate) fn retry_refused(&mut self, born: Duration) {
        self.count(born, |a| a.retries_refused += 1);
    }

    /// A client hedged its request first sent at `born`.
    pub(crate) fn hedged(&mut self, born: Duration) {
        self.count(born, |a| a.hedges += 1);
    }

    /// A call to dependency `dep` started at `at`.
    pub(crate) fn call(&mut self, dep: usize, at: Duration) {
        self.count(at, |a| {
            a.calls += 1;
            a.deps[dep].calls += 1;
        });
    }

    /// The dependency started serving a call that arrived at `arrived` and
    /// waited `waited` for its connection.
    pub(crate) fn served(&mut self, arrived: Duration, waited: Duration) {
        self.count(arrived, |a| {
            a.served += 1;
            a.queued += u64::from(!waited.is_zero());
            a.wait_ns += waited.as_nanos();
        });
    }

    /// A call to dependency `dep`, started at `started`, was wasted.
    pub(crate) fn wasted(&mut self, dep: usize, started: Duration) {
        self.count(started, |a| {
            a.wasted += 1;
            a.deps[dep].wasted += 1;
        });
    }

    /// A request ended at `at`, first sent at `born`.
    pub(crate) fn ended(&mut self, born: Duration, at: Duration, end: End) {
        let us = (at - born).as_nanos().div_ceil(1_000);
        let us = u64::try_from(us).unwrap_or(u64::MAX);
        self.count(born, |a| a.record(end, us));
        let b = (born.as_nanos() / self.width.as_nanos().max(1)) as usize;
        if self.buckets.len() <= b {
            self.buckets.resize_with(b + 1, Default::default);
        }
        let bucket = &mut self.buckets[b];
        bucket.0 += 1;
        bucket.1 += u64::from(end != End::Succeeded);
        bucket.2.record(us);
    }
}

impl Acc {
    fn record(&mut self, end: End, us: u64) {
        let a = self;
        match end {
            End::Succeeded => a.succeeded += 1,
            End::Failed => a.failed += 1,
            End::TimedOut => {
                a.failed += 1;
                a.timed_out += 1;
            }
            End::Refused(r) => *a.refused.entry(r).or_default() += 1,
        }
        a.latencies.record(us);
    }
}

impl Stats {
    /// Accounts dependency `dep`'s connection time from its last change to
    /// `t` (with the busy count so far and `connections` available
    /// meanwhile), split at phase boundaries; then `busy` connections are
    /// busy from `t` on. Time after the run's end counts for nothing.
    pub(crate) fn busy(&mut self, dep: usize, t: Duration, busy: u32, connections: u32) {
        let t = t.min(self.length);
        let Busy {
            busy: before,
            since,
        } = self.busy[dep];
        let mut from = since;
        while from < t {
            let i = self.index(from);
            let phase_end = self.phases[i].2.min(t);
            let to = if phase_end > from { phase_end } else { t };
            let ns = (to - from).as_nanos();
            for a in [&mut self.acc[i], &mut self.all] {
                a.busy_ns += ns * u128::from(before);
                a.cap_ns += ns * u128::from(connections);
                a.deps[dep].busy_ns += ns * u128::from(before);
                a.deps[dep].cap_ns += ns * u128::from(connections);
            }
            from = to;
        }
        self.busy[dep] = Busy {
            busy,
            since: since.max(t),
        };
    }

    /// The chart buckets' width.
    pub(crate) fn width(&self) -> Duration {
        self.width
    }

    /// The chart buckets, in time order (one per width, empty ones too).
    pub(crate) fn buckets(&mut self) -> Vec<Bucket> {
        let w = self.width;
        std::mem::take(&mut self.buckets)
            .into_iter()
            .enumerate()
            .map(|(i, (requests, errors, lat))| {
                Bucket::new(w * i as u32, requests, errors, lat.quantile(0.99))
            })
            .collect()
    }

    /// The rows, one per phase, and the whole run's.
    pub(crate) fn rows(self) -> (Vec<PhaseRow>, PhaseRow) {
        let length = self.phases.last().map_or(Duration::ZERO, |p| p.2);
        let names = &self.names;
        let mut rows: Vec<PhaseRow> = self
            .phases
            .into_iter()
            .zip(self.acc)
            .map(|((name, start, end), a)| a.row(name, start, end, names))
            .collect();
        let total = self
            .all
            .row("total".to_owned(), Duration::ZERO, length, names);
        rows.shrink_to_fit();
        (rows, total)
    }
}

impl Acc {
    fn row(mut self, name: String, start: Duration, end: Duration, names: &[String]) -> PhaseRow {
        let a = &mut self;
        {
            let q = |q: f64| a.latencies.quantile(q);
            PhaseRow {
                phase: name,
                start,
                end,
                offered: a.offered,
                attempts: a.attempts,
                retries_refused: a.retries_refused,
                hedges: a.hedges,
                succeeded: a.succeeded,
                failed: a.failed,
                timed_out: a.timed_out,
                refused: std::mem::take(&mut a.refused)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                dependency_calls: a.calls,
                wasted_calls: a.wasted,
                mean: a.latencies.mean(),
                dependency_queued: a.queued,
                dependency_wait: if a.served == 0 {
                    Duration::ZERO
                } else {
                    Duration::from_nanos((a.wait_ns / u128::from(a.served)) as u64)
                },
                p50: q(0.5),
                p99: q(0.99),
                max: a.latencies.max(),
                utilisation: share(a.busy_ns, a.cap_ns),
                dependencies: if names.len() < 2 {
                    Vec::new()
                } else {
                    names
                        .iter()
                        .zip(&a.deps)
                        .map(|(name, d)| DependencyRow {
                            name: name.clone(),
                            calls: d.calls,
                            wasted_calls: d.wasted,
                            utilisation: share(d.busy_ns, d.cap_ns),
                        })
                        .collect()
                },
            }
        }
    }
}

/// `busy / cap`, rounded so that the JSON is the same on every build.
fn share(busy: u128, cap: u128) -> f64 {
    if cap == 0 {
        0.0
    } else {
        (busy as f64 / cap as f64 * 1e4).round() / 1e4
    }
}
