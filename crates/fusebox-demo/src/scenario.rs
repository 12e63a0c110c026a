//! The episode script and every parameter of the demo, scaled to the length
//! of one run.
//!
//! All times that shape the story (episodes, the slow latency, timeouts, the
//! throttle's window, the valve's longest wait, the chart buckets) are given for a 30 s run
//! and multiplied by `scale = run / 30 s`, so a 6 s demo tells the same story
//! in a fifth of the time. What is *not* scaled: the request rate (200/s), the
//! database's capacity (16 connections) and its healthy latency (a few
//! milliseconds), because timers below a millisecond are not real on a busy
//! machine. A shortened run therefore has fewer requests, but the same share
//! of them falls in each episode.
//!
//! ```text
//! 0%        20%          40%          60%                         100%
//! | healthy |  errors    |   slow     |  recovered                  |
//!           90% fail fast  800 ms each   healthy again
//! ```

use std::time::Duration;

/// What the database does at one moment of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Answers in a few milliseconds.
    Healthy,
    /// Most queries fail fast.
    Errors,
    /// Every query takes [`Scenario::slow_latency`].
    Slow,
    /// Healthy again, after the episodes.
    Recovered,
}

impl Phase {
    /// Every phase, in the order of a run.
    pub const ALL: [Phase; 4] = [Phase::Healthy, Phase::Errors, Phase::Slow, Phase::Recovered];

    /// A short lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Healthy => "healthy",
            Phase::Errors => "errors",
            Phase::Slow => "slow",
            Phase::Recovered => "recovered",
        }
    }
}

/// Every parameter of one run, already scaled.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox_demo::{Phase, Scenario};
///
/// let s = Scenario::for_run(Duration::from_secs(30));
/// assert_eq!(s.phase(Duration::from_secs(1)), Phase::Healthy);
/// assert_eq!(s.phase(Duration::from_secs(10)), Phase::Errors);
/// assert_eq!(s.slow_latency, Duration::from_millis(800));
/// let short = Scenario::for_run(Duration::from_secs(3));
/// assert_eq!(short.slow_latency, Duration::from_millis(80));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Scenario {
    /// Length of one run.
    pub run: Duration,
    /// `run / 30 s`: the factor applied to every scaled time below.
    pub scale: f64,
    /// Seed of the database's random draws (the same for both runs).
    pub seed: u64,
    /// Requests per second offered by the open-loop load generator.
    pub rate: u32,
    /// Connections the database can serve at once; the rest wait in its queue.
    pub capacity: usize,
    /// Start of the error episode (20% of the run).
    pub errors_start: Duration,
    /// End of the error episode and start of the slow one (40%).
    pub slow_start: Duration,
    /// End of the slow episode: the database is healthy again (60%).
    pub slow_end: Duration,
    /// Share of queries that fail during the error episode.
    pub error_share: f64,
    /// Latency of every query during the slow episode (800 ms scaled).
    pub slow_latency: Duration,
    /// Queries waiting in the database's queue at which each query's healthy
    /// cost has doubled (128 scaled): the database thrashes under a pile-up.
    pub thrash_backlog: f64,
    /// The client-side timeout of every database call (1 s scaled), in both runs.
    pub timeout: Duration,
    /// Fuse: the throttle's `K` (SRE book, "Handling Overload"): it admits
    /// up to `K` times the calls the database accepts.
    pub throttle_k: f64,
    /// Fuse: the throttle's window of requests and accepts (250 ms scaled,
    /// at least 20 ms).
    pub throttle_window: Duration,
    /// Fuse: the throttle's cap on its reject probability (Envoy's admission
    /// control `max_rejection_probability`): a share `1 − cap` of requests
    /// always goes through, the probes that see the database recover.
    pub throttle_max_reject: f64,
    /// Valve: concurrency limit in front of the database (its pool of
    /// connections: a number the service knows, not a guess of capacity).
    pub valve_concurrency: usize,
    /// Valve: waiting room.
    pub valve_queue: usize,
    /// Valve: longest wait for a connection (20 ms scaled, at least 2 ms):
    /// longer than the longest healthy query (17 ms), so a waiter never
    /// gives up on a slot a healthy query is about to free (as when the
    /// slow episode ends and its queries drain), and short enough that a
    /// slot held by a slow query means a fast refusal.
    pub valve_max_wait: Duration,
    /// Width of a chart bucket (1 s scaled: the episodes start and end on
    /// bucket boundaries).
    pub bucket: Duration,
    /// "Back above 99% for a second": the length of that second (1 s scaled).
    pub recovery_window: Duration,
}

/// The run length every scaled figure is given for.
pub const REFERENCE_RUN: Duration = Duration::from_secs(30);

impl Scenario {
    /// The scenario for runs of length `run` (at least 1 s is sensible).
    pub fn for_run(run: Duration) -> Scenario {
        let run = run.max(Duration::from_millis(100));
        let scale = run.as_secs_f64() / REFERENCE_RUN.as_secs_f64();
        let at = |fraction: f64| run.mul_f64(fraction);
        let scaled = |ms: u64| Duration::from_millis(ms).mul_f64(scale);
        Scenario {
            run,
            scale,
            seed: 0x5eed_f05e_b0c5,
            rate: 200,
            capacity: 16,
            errors_start: at(0.2),
            slow_start: at(0.4),
            slow_end: at(0.6),
            error_share: 0.9,
            slow_latency: scaled(800),
            thrash_backlog: (128.0 * scale).max(1.0),
            timeout: scaled(1000),
            throttle_k: 2.0,
            throttle_window: scaled(250).max(Duration::from_millis(20)),
            throttle_max_reject: 0.8,
            valve_concurrency: 16,
            valve_queue: 16,
            valve_max_wait: scaled(20).max(Duration::from_millis(2)),
            bucket: scaled(1000),
            recovery_window: scaled(1000),
        }
    }

    /// The phase at `t` from the start of a run.
    pub fn phase(&self, t: Duration) -> Phase {
        if t < self.errors_start {
            Phase::Healthy
        } else if t < self.slow_start {
            Phase::Errors
        } else if t < self.slow_end {
            Phase::Slow
        } else {
            Phase::Recovered
        }
    }

    /// The database's capacity in the slow episode, queries per second: its
    /// connections over a slow query's mean cost (the slow latency plus a
    /// healthy query's mean, 5 ms).
    pub fn slow_capacity(&self) -> f64 {
        let cost = self.slow_latency + Duration::from_millis(5);
        self.capacity as f64 / cost.as_secs_f64()
    }

    /// The client errors no protection could avoid among `requests`
    /// arriving in `phase`: the queries the database fails in the error
    /// episode, the requests beyond its capacity in the slow one, none
    /// otherwise. Fuses and valves can make errors cheap, not fewer than
    /// this.
    pub fn best_possible_errors(&self, phase: Phase, requests: u64) -> u64 {
        match phase {
            Phase::Healthy | Phase::Recovered => 0,
            Phase::Errors => (requests as f64 * self.error_share).round() as u64,
            Phase::Slow => {
                let served = self.slow_capacity() * (self.slow_end - self.slow_start).as_secs_f64();
                (requests as f64 - served).max(0.0).round() as u64
            }
        }
    }

    /// True during the error and slow episodes.
    pub fn in_episode(&self, t: Duration) -> bool {
        matches!(self.phase(t), Phase::Errors | Phase::Slow)
    }

    /// The longest a query of the slow episode holds its connection: the
    /// slow latency plus its 10% jitter, plus the longest healthy cost
    /// (17 ms, on a database that is not thrashing).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_demo::Scenario;
    ///
    /// let s = Scenario::for_run(Duration::from_secs(30));
    /// assert_eq!(s.longest_slow_query(), Duration::from_millis(897));
    /// ```
    pub fn longest_slow_query(&self) -> Duration {
        self.slow_latency.mul_f64(1.1) + LONGEST_HEALTHY_QUERY
    }
}

/// The longest healthy query: 2 ms plus an exponential tail cut at 15 ms
/// (`database.rs`, and the simulator's `max` in `simulated.rs`).
pub(crate) const LONGEST_HEALTHY_QUERY: Duration = Duration::from_millis(17);
