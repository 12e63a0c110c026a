//! # fusebox-sim
//!
//! A whole night of failures on virtual time, in seconds, with the real
//! fusebox code: a deterministic discrete-event simulation of a service, its
//! load and the dependencies it calls, in which every request goes through the
//! same fuses, valves, heal programs and timers a production service uses.
//! Nobody else ships this (Polly, resilience4j, Sentinel, tower and Erlang
//! fuse leave it to the user); it answers "does this config get us through
//! the night?" before the night, and judges a new protection algorithm on a
//! table instead of by eye.
//!
//! ```
//! use std::time::Duration;
//! use fusebox_sim::{simulate, Scenario};
//!
//! let scenario: Scenario = toml::from_str(r#"
//!     duration = "60s"
//!     [load]
//!     open = { rate = 100.0 }
//!     timeout = "1s"
//!     [dependency]
//!     connections = 8
//!     latency = { kind = "exponential", mean = "20ms" }
//!     [[episodes]]
//!     name = "outage"
//!     start = "20s"
//!     end = "30s"
//!     down = true
//! "#)?;
//! let report = simulate(&scenario, &[])?;
//! let none = &report.runs[0];
//! assert_eq!(none.config, "none");
//! assert!(none.total.offered > 5_000);
//! // Same scenario, same seed: the same report, byte for byte.
//! assert_eq!(report.json(), simulate(&scenario, &[])?.json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `fusebox simulate SCENARIO.toml [--config A.toml ...] [--json]` runs a
//! scenario file from the command line; the scenario files shipped in
//! `scenarios/` cover the demo's episodes, a flapping dependency, a slow one,
//! a capacity drop, an 8-hour night with three incidents and a retry storm;
//! `retry_outage.toml` and `retry_outage_budget.toml` are the storm against
//! a dependency that is down, without and with fusebox's retry budget
//! (`load.retry_budget`, the core's [`RetryBudget`](fusebox::retry::RetryBudget)
//! on the run's clock) and its rule that a refusal is final
//! (`load.retry_refusals = false`); with `--config retry_outage-retries.toml
//! --config retry_outage-fuse.toml`, `retry_outage.toml`'s clients call
//! through each config's pipeline (`load.pipeline`), so one command gives
//! naive clients, fusebox's retries, and fusebox's retries with a fuse.
//! `long_tail.toml` and `long_tail_hedged.toml` are a dependency with
//! stragglers, without and with hedging (`load.hedge`).
//!
//! # Bounds
//!
//! A run's memory does not grow with its requests: latencies are streamed
//! into histograms, so p50, p99 and a chart bucket's p99 are within
//! [`QUANTILE_ERROR`] (1/1024, under 0.1 %) of the exact nearest-rank
//! quantiles, never below them, and exact under 2,048 µs; the mean and the
//! max are exact. (What does grow is what is in flight at once: requests
//! waiting for an answer, timeouts not yet fired.) A scenario is estimated
//! before it runs ([`estimate`]), and one past [`MAX_REQUESTS`] client
//! requests a run is refused with [`SimError::too_large`].

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod admit;
mod clients;
mod dependency;
mod engine;
pub mod file;
mod hedging;
mod latency;
mod load;
mod progress;
pub mod report;
pub mod scenario;
mod stats;
mod table;
mod work;

use std::fmt;

pub use admit::{Admission, Admit};
pub use engine::{fusebox_seed, run_logged, run_regulated, ClientRequest, RunResult};
pub use latency::QUANTILE_ERROR;
pub use progress::Progress;
pub use scenario::Scenario;
pub use stats::{DependencyRow, End, PhaseRow};
pub use work::{estimate, TooLarge, MAX_REQUESTS};

/// A simulation that could not run (a config that names no such fuse, say,
/// or a scenario too large to simulate: [`SimError::too_large`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    Message(String),
    TooLarge(TooLarge),
}

impl SimError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        SimError {
            kind: ErrorKind::Message(message.into()),
        }
    }

    /// The scenario's estimate and the limit, when it was refused for its
    /// size (past [`MAX_REQUESTS`]).
    ///
    /// ```
    /// let s: fusebox_sim::Scenario = toml::from_str(r#"
    ///     duration = "10000h"
    ///     [load]
    ///     open = { rate = 1e9 }
    ///     timeout = "1s"
    ///     [dependency]
    ///     connections = 8
    ///     latency = { kind = "constant", value = "5ms" }
    /// "#)?;
    /// let e = fusebox_sim::simulate(&s, &[]).unwrap_err();
    /// let too_large = e.too_large().expect("refused for its size");
    /// assert_eq!(too_large.estimated, 36_000_000_000_000_000);
    /// assert_eq!(too_large.limit, fusebox_sim::MAX_REQUESTS);
    /// # Ok::<(), toml::de::Error>(())
    /// ```
    pub fn too_large(&self) -> Option<&TooLarge> {
        match &self.kind {
            ErrorKind::TooLarge(t) => Some(t),
            ErrorKind::Message(_) => None,
        }
    }
}

impl From<TooLarge> for SimError {
    fn from(t: TooLarge) -> Self {
        SimError {
            kind: ErrorKind::TooLarge(t),
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Message(m) => f.write_str(m),
            ErrorKind::TooLarge(t) => t.fmt(f),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::TooLarge(t) => Some(t),
            ErrorKind::Message(_) => None,
        }
    }
}

/// Every configuration's run of one scenario, side by side.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The scenario's description.
    pub description: String,
    /// The seed every run used.
    pub seed: u64,
    /// The metric the runs are judged on.
    pub objective: &'static str,
    /// The relative error of every quantile in the report
    /// ([`QUANTILE_ERROR`]): each is at least the exact one and less than
    /// this share above it.
    pub quantile_error: f64,
    /// `none` first, then each configuration in the order given.
    pub runs: Vec<RunResult>,
}

impl Report {
    /// The report as JSON, the same bytes for the same scenario and seed.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// The per-phase tables, for people.
    pub fn table(&self) -> String {
        table::render(self)
    }

    /// The HTML report: totals, p99 and error-rate charts of every run,
    /// per-phase tables (the same report module as the demo's).
    pub fn html(&self, scenario: &Scenario) -> String {
        report::html(self, scenario)
    }

    /// The run of the configuration named `name`.
    pub fn run(&self, name: &str) -> Option<&RunResult> {
        self.runs.iter().find(|r| r.config == name)
    }
}

/// Runs `scenario` unprotected (`none`) and then with each named fusebox
/// config, every run on the same seed.
///
/// # Errors
///
/// A config that names no such fuse, valve or pipeline; a scenario
/// estimated past [`MAX_REQUESTS`] ([`SimError::too_large`]), refused
/// before anything runs.
pub fn simulate(
    scenario: &Scenario,
    configs: &[(String, fusebox::ConfigFile)],
) -> Result<Report, SimError> {
    simulate_observed(scenario, configs, |_| {})
}

/// As [`simulate`], telling `observe` how far it has come every 65,536
/// events (the same report: observing changes nothing).
///
/// ```
/// # let scenario: fusebox_sim::Scenario = toml::from_str(r#"
/// #     duration = "60s"
/// #     [load]
/// #     open = { rate = 2000.0 }
/// #     timeout = "1s"
/// #     [dependency]
/// #     connections = 8
/// #     latency = { kind = "exponential", mean = "2ms" }
/// # "#)?;
/// let mut reports = 0;
/// let report = fusebox_sim::simulate_observed(&scenario, &[], |p| {
///     assert_eq!(p.estimated, 120_000);
///     reports += 1;
/// })?;
/// assert!(reports > 0);
/// assert_eq!(report, fusebox_sim::simulate(&scenario, &[])?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`simulate`].
pub fn simulate_observed(
    scenario: &Scenario,
    configs: &[(String, fusebox::ConfigFile)],
    mut observe: impl FnMut(&Progress<'_>),
) -> Result<Report, SimError> {
    let estimated = work::check(scenario)?;
    let runs_total = configs.len() + 1;
    let all = std::iter::once(("none", None))
        .chain(configs.iter().map(|(name, cfg)| (name.as_str(), Some(cfg))));
    let mut runs = Vec::with_capacity(runs_total);
    for (run, (name, cfg)) in all.enumerate() {
        let mut tell = |simulated: std::time::Duration, requests: u64| {
            observe(&Progress {
                config: name,
                run,
                runs: runs_total,
                simulated,
                duration: scenario.duration,
                requests,
                estimated,
            });
        };
        runs.push(engine::run(scenario, name, cfg, &mut tell)?);
    }
    Ok(Report {
        description: scenario.description.clone(),
        seed: scenario.seed,
        objective: scenario.objective.as_str(),
        quantile_error: QUANTILE_ERROR,
        runs,
    })
}
