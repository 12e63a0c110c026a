//! What a simulation runs: the load, the dependencies (one, or several that
//! every request calls in turn), their episodes, and how the service calls
//! them. Plain data, read from a TOML scenario file (see
//! [`crate::file`]) or built in code.
//!
//! ```text
//! clients ──load──▶ service ──[fuse]──[valve]──▶ dependency (connections, queue)
//!                      ▲                               │ latency, errors,
//!                      └──────── answer / timeout ─────┘ episodes
//! ```

use std::time::Duration;

use fusebox::config_file::{BudgetSpec, HedgeSpec};
use serde::Deserialize;

/// A whole simulated stretch of time (a night, say).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario is about, one line.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw (arrivals, latencies, errors, the fuses').
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long the simulated stretch lasts.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub duration: Duration,
    /// Who calls the service, and how often.
    pub load: Load,
    /// What the service depends on, when it is one thing. Exactly one of
    /// `dependency` and `dependencies` is given.
    #[serde(default)]
    pub dependency: Option<Dependency>,
    /// What the service depends on, when it is several: every request
    /// calls each of them in turn (a cache, then the database, say), each
    /// behind its own fuse and valve, and fails at the first that fails.
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    /// Times when the dependency misbehaves, in any order; they may overlap
    /// (the later-starting one wins where they do).
    #[serde(default)]
    pub episodes: Vec<Episode>,
    /// The metric the scenario is judged on (for "which config is best").
    #[serde(default)]
    pub objective: Objective,
}

fn default_seed() -> u64 {
    1
}

/// Who calls the service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Open loop: requests arrive at a rate, whatever the service does
    /// (a Poisson process whose rate follows `shape`).
    #[serde(default)]
    pub open: Option<OpenLoad>,
    /// Closed loop: a population of clients, each waiting for its answer,
    /// thinking, and asking again.
    #[serde(default)]
    pub closed: Option<ClosedLoad>,
    /// A client gives up on a request after this long (counted failed).
    #[serde(with = "fusebox::duration::serde_duration")]
    pub timeout: Duration,
    /// A client retries a failed or timed-out request this many times
    /// (refusals included: a retry storm is what clients do).
    #[serde(default)]
    pub retries: u32,
    /// Wait before a retry.
    #[serde(default, with = "fusebox::duration::serde_duration")]
    pub retry_after: Duration,
    /// A retry budget every client's retries draw from: fusebox's own
    /// [`RetryBudget`](fusebox::retry::RetryBudget), on the simulation's
    /// clock, written as a pipeline's `budget` table
    /// ([`BudgetSpec`]: `{ ratio, min_per_sec, ttl }`). A retry the budget
    /// refuses is not made, and the request ends with its last attempt's
    /// error. `None`: retries are bounded by `retries` alone.
    #[serde(default)]
    pub retry_budget: Option<BudgetSpec>,
    /// Whether a refused attempt (a blown fuse, a full valve) is retried.
    /// Naive clients do (`true`, the default); fusebox's retries never do
    /// ([`Class::Refusal`](fusebox::retry::Class::Refusal)): `false`.
    #[serde(default = "yes")]
    pub retry_refusals: bool,
    /// Hedging: an attempt still unanswered after a delay gets a second
    /// copy, the first success wins and the other is dropped (its fuse
    /// hears nothing of it, its valve slot is freed). Written as a
    /// pipeline's `hedge` table ([`HedgeSpec`]: `{ after }` or
    /// `{ quantile, initial }`, ...), read by the core. A hedge is paid
    /// from `retry_budget`, when there is one. `None`: no hedging.
    #[serde(default)]
    pub hedge: Option<HedgeSpec>,
    /// The clients call through this pipeline of the run's config
    /// (`[pipelines.NAME]` in `fusebox.toml`), when the config declares it:
    /// its retries, backoff, budget, hedge and per-attempt timeout replace
    /// `retries`, `retry_after`, `retry_budget` and `hedge` above, a refusal
    /// is never retried, and its fuse and valve guard the first dependency
    /// in place of the dependency's `fuse` and `valve`. A run without a
    /// config (the unprotected one) keeps the fields above. `None`: every
    /// run keeps them.
    #[serde(default)]
    pub pipeline: Option<String>,
}

fn yes() -> bool {
    true
}

/// Open-loop arrivals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenLoad {
    /// Mean requests per second (the shape's base rate).
    pub rate: f64,
    /// How the rate moves over time.
    #[serde(default)]
    pub shape: Shape,
    /// How arrivals are spaced: a Poisson process, or one every `1 / rate`
    /// (a load generator's ticker, as the demo's).
    #[serde(default)]
    pub arrivals: Arrivals,
    /// Short bursts on top of the shape.
    #[serde(default)]
    pub spikes: Vec<Spike>,
}

/// How an open-loop rate moves over the run.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// Always `rate`.
    #[default]
    Steady,
    /// From `rate` at the start to `to` at the end, linearly.
    Ramp {
        /// The rate at the end of the run.
        to: f64,
    },
    /// A day's curve: `rate` is the mean, swinging by `amplitude` (a
    /// fraction of the mean) over `period`, lowest at the start.
    Diurnal {
        /// Swing as a fraction of the mean, in `[0, 1]`.
        amplitude: f64,
        /// One full cycle.
        #[serde(with = "fusebox::duration::serde_duration")]
        period: Duration,
    },
}

/// How open-loop arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Independent arrivals: exponential gaps (a Poisson process).
    #[default]
    Poisson,
    /// One every `1 / rate(t)`, starting at zero: a ticker.
    Periodic,
}

/// A burst of extra arrivals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spike {
    /// When it starts.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub at: Duration,
    /// How long it lasts.
    #[serde(rename = "for", with = "fusebox::duration::serde_duration")]
    pub lasts: Duration,
    /// Extra requests per second while it lasts.
    pub rate: f64,
}

/// Closed-loop clients.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedLoad {
    /// How many clients.
    pub clients: u32,
    /// Mean think time between an answer and the next request
    /// (exponentially distributed).
    #[serde(with = "fusebox::duration::serde_duration")]
    pub think: Duration,
}

/// The dependency the service calls.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// Its name in the table.
    #[serde(default = "default_dependency")]
    pub name: String,
    /// Calls it serves at once (connections); the rest wait in its queue,
    /// first come first served.
    pub connections: u32,
    /// How long a healthy call takes.
    pub latency: Latency,
    /// The service's own timeout on a call: the call fails after this long,
    /// but the dependency goes on working on it (it cannot know). `None`:
    /// only the client's timeout ends a call.
    #[serde(default, with = "fusebox::duration::serde_duration::option")]
    pub timeout: Option<Duration>,
    /// The fuse (of the fusebox config) guarding calls to it, by name.
    #[serde(default)]
    pub fuse: Option<String>,
    /// The valve (of the fusebox config) regulating calls to it, by name.
    #[serde(default)]
    pub valve: Option<String>,
    /// A pile-up makes it worse: with `n` calls waiting for a connection, a
    /// call that starts costs `1 + n / thrash_backlog` times its healthy
    /// latency (and its error latency): context switches, lock contention,
    /// memory pressure. `None`: waiting costs nothing extra.
    #[serde(default)]
    pub thrash_backlog: Option<f64>,
    /// A share of calls that are slow for reasons of their own (a garbage
    /// collection, a cold cache: "The Tail at Scale"), their latency drawn
    /// from `stragglers.latency` in place of `latency`. A second copy of
    /// the same request is most likely not a straggler: what hedging is
    /// for. `None`: no stragglers.
    #[serde(default)]
    pub stragglers: Option<Stragglers>,
}

/// Calls slow for reasons of their own.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stragglers {
    /// The share of calls that straggle, 0 to 1.
    pub share: f64,
    /// A straggler's latency.
    pub latency: Latency,
}

fn default_dependency() -> String {
    "dependency".to_owned()
}

/// A latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Constant {
        /// The latency.
        #[serde(with = "fusebox::duration::serde_duration")]
        value: Duration,
    },
    /// `shift` plus an exponential of mean `mean` (the M in M/M/c when
    /// `shift` is zero), cut at `max` if given.
    Exponential {
        /// The mean of the exponential part.
        #[serde(with = "fusebox::duration::serde_duration")]
        mean: Duration,
        /// Added to every draw: the least latency.
        #[serde(default, with = "fusebox::duration::serde_duration")]
        shift: Duration,
        /// No draw is longer (shift included).
        #[serde(default, with = "fusebox::duration::serde_duration::option")]
        max: Option<Duration>,
    },
    /// Uniform between two bounds.
    Uniform {
        /// The least.
        #[serde(with = "fusebox::duration::serde_duration")]
        min: Duration,
        /// The most.
        #[serde(with = "fusebox::duration::serde_duration")]
        max: Duration,
    },
    /// Log-normal, given by its median and its 99th percentile (a long tail).
    LogNormal {
        /// The median.
        #[serde(with = "fusebox::duration::serde_duration")]
        median: Duration,
        /// The 99th percentile (at least the median).
        #[serde(with = "fusebox::duration::serde_duration")]
        p99: Duration,
    },
}

/// A stretch of time when the dependency misbehaves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    /// Its name in the per-phase table.
    pub name: String,
    /// The dependency that misbehaves, by name; `None`: the first one.
    #[serde(default)]
    pub dependency: Option<String>,
    /// When it starts.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub start: Duration,
    /// When it ends.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub end: Duration,
    /// Share of calls that fail (fast, in a tenth of the healthy latency).
    #[serde(default)]
    pub error_rate: f64,
    /// Which calls fail: each with probability `error_rate` (`random`, the
    /// default), or exactly that share of them, evenly (`even`: with
    /// `error_rate = 0.9`, every tenth call the dependency starts succeeds).
    #[serde(default)]
    pub error_pattern: ErrorPattern,
    /// Healthy latency is multiplied by this.
    #[serde(default = "one")]
    pub latency_multiplier: f64,
    /// A latency added to every successful call (after the multiplier): a
    /// dependency that went slow by a fixed amount.
    #[serde(default)]
    pub extra_latency: Option<Latency>,
    /// How long a failing call takes; `None`: a tenth of the healthy latency.
    #[serde(default, with = "fusebox::duration::serde_duration::option")]
    pub error_latency: Option<Duration>,
    /// Connections during the episode, if they change.
    #[serde(default)]
    pub connections: Option<u32>,
    /// Hard down: every call fails after `down_after`, nothing is served.
    #[serde(default)]
    pub down: bool,
    /// How long a call to a down dependency takes to fail (a connect timeout).
    #[serde(
        default = "default_down_after",
        with = "fusebox::duration::serde_duration"
    )]
    pub down_after: Duration,
    /// Flapping: down for `down_for`, up for `up_for`, repeating from the
    /// episode's start (overrides `down`).
    #[serde(default)]
    pub flap: Option<Flap>,
}

fn one() -> f64 {
    1.0
}

fn default_down_after() -> Duration {
    Duration::from_millis(1)
}

/// Down and up, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flap {
    /// Down this long.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub down_for: Duration,
    /// Then up this long.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub up_for: Duration,
}

/// The number a scenario is judged by; lower is better for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Requests the clients saw fail (errors, timeouts, refusals).
    #[default]
    ClientErrors,
    /// Calls made to the dependency that failed or whose client had given
    /// up: work spent on a dependency that could not help.
    WastedCalls,
    /// The 99th percentile of the clients' latency.
    P99,
}

impl Objective {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::ClientErrors => "client_errors",
            Objective::WastedCalls => "wasted_calls",
            Objective::P99 => "p99",
        }
    }
}

/// Which of a failing dependency's calls fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorPattern {
    /// Each call fails with probability `error_rate`, independently.
    #[default]
    Random,
    /// Exactly the share `error_rate` of the calls started fail, spread
    /// evenly over them: what the dependency gets right does not depend on
    /// the dice, so a count of successes measures who called, not luck.
    Even,
}

impl ErrorPattern {
    /// Whether the `nth` call started (counting from 1) fails when a share
    /// `error_rate` of calls fail; `draw` gives a uniform number in [0, 1)
    /// and is called by `Random` alone.
    pub fn fails(self, error_rate: f64, nth: u64, draw: impl FnOnce() -> f64) -> bool {
        match self {
            ErrorPattern::Random => draw() < error_rate,
            ErrorPattern::Even => {
                // Call n succeeds when the successes owed so far,
                // n · (1 − error_rate), pass a whole number.
                let ok = 1.0 - error_rate;
                let n = nth.max(1) as f64;
                (n * ok).floor() == ((n - 1.0) * ok).floor()
            }
        }
    }
}

/// What the dependency is like at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Condition {
    pub(crate) error_rate: f64,
    pub(crate) error_pattern: ErrorPattern,
    pub(crate) latency_multiplier: f64,
    pub(crate) extra_latency: Option<Latency>,
    pub(crate) error_latency: Option<Duration>,
    pub(crate) connections: u32,
    pub(crate) down: bool,
    pub(crate) down_after: Duration,
}

impl Scenario {
    /// The dependencies a request calls, in order (`dependency`, or
    /// `dependencies`).
    pub fn calls(&self) -> Vec<&Dependency> {
        self.dependency.iter().chain(&self.dependencies).collect()
    }

    /// How many dependencies a request calls.
    pub(crate) fn call_count(&self) -> usize {
        usize::from(self.dependency.is_some()) + self.dependencies.len()
    }

    /// The `i`th dependency a request calls.
    pub(crate) fn call_at(&self, i: usize) -> &Dependency {
        match (&self.dependency, i) {
            (Some(d), 0) => d,
            (Some(_), i) => &self.dependencies[i - 1],
            (None, i) => &self.dependencies[i],
        }
    }

    /// The index in [`calls`](Self::calls) of the dependency `e` is about,
    /// `None` if it names none.
    pub(crate) fn target(&self, e: &Episode) -> Option<usize> {
        match &e.dependency {
            None => Some(0),
            Some(name) => (0..self.call_count()).find(|&i| &self.call_at(i).name == name),
        }
    }

    /// Dependency `dep`'s condition at `t`: the latest-starting of its
    /// episodes that covers `t`, or healthy.
    pub(crate) fn condition(&self, dep: usize, t: Duration) -> Condition {
        let connections = self.call_at(dep).connections;
        let healthy = Condition {
            error_rate: 0.0,
            error_pattern: ErrorPattern::Random,
            latency_multiplier: 1.0,
            extra_latency: None,
            error_latency: None,
            connections,
            down: false,
            down_after: default_down_after(),
        };
        let Some(e) = self
            .episodes
            .iter()
            .filter(|e| e.start <= t && t < e.end && self.target(e) == Some(dep))
            .max_by_key(|e| e.start)
        else {
            return healthy;
        };
        let down = match e.flap {
            Some(f) => {
                let cycle = (f.down_for + f.up_for).as_nanos().max(1);
                ((t - e.start).as_nanos() % cycle) < f.down_for.as_nanos()
            }
            None => e.down,
        };
        Condition {
            error_rate: e.error_rate,
            error_pattern: e.error_pattern,
            latency_multiplier: e.latency_multiplier,
            extra_latency: e.extra_latency,
            error_latency: e.error_latency,
            connections: e.connections.unwrap_or(connections),
            down,
            down_after: e.down_after,
        }
    }

    /// The phases of the per-phase table: the stretches between episode
    /// boundaries, each named for the episode covering it (or `healthy`,
    /// `recovered` after the last episode), in time order.
    pub fn phases(&self) -> Vec<(String, Duration, Duration)> {
        let mut cuts: Vec<Duration> = vec![Duration::ZERO, self.duration];
        for e in &self.episodes {
            cuts.push(e.start.min(self.duration));
            cuts.push(e.end.min(self.duration));
        }
        cuts.sort();
        cuts.dedup();
        let last_end = self.episodes.iter().map(|e| e.end).max();
        let mut out: Vec<(String, Duration, Duration)> = Vec::new();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if a >= b {
                continue;
            }
            let name = match self
                .episodes
                .iter()
                .filter(|e| e.start <= a && a < e.end)
                .max_by_key(|e| e.start)
            {
                Some(e) => e.name.clone(),
                None if last_end.is_some_and(|end| a >= end) => "recovered".to_owned(),
                None => "healthy".to_owned(),
            };
            match out.last_mut() {
                Some(last) if last.0 == name && last.2 == a => last.2 = b,
                _ => out.push((name, a, b)),
            }
        }
        out
    }
}
