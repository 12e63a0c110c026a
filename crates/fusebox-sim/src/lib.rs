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

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod admit;
mod clients;
mod dependency;
mod engine;
pub mod file;
mod hedging;
mod load;
pub mod report;
pub mod scenario;
mod stats;
mod table;

use std::fmt;

pub use admit::{Admission, Admit};
pub use engine::{fusebox_seed, run_logged, run_regulated, ClientRequest, RunResult};
pub use scenario::Scenario;
pub use stats::{DependencyRow, End, PhaseRow};

/// A simulation that could not run (a config that names no such fuse, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    message: String,
}

impl SimError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        SimError {
            message: message.into(),
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SimError {}

/// Every configuration's run of one scenario, side by side.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The scenario's description.
    pub description: String,
    /// The seed every run used.
    pub seed: u64,
    /// The metric the runs are judged on.
    pub objective: &'static str,
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
pub fn simulate(
    scenario: &Scenario,
    configs: &[(String, fusebox::ConfigFile)],
) -> Result<Report, SimError> {
    let mut runs = vec![engine::run(scenario, "none", None)?];
    for (name, cfg) in configs {
        runs.push(engine::run(scenario, name, Some(cfg))?);
    }
    Ok(Report {
        description: scenario.description.clone(),
        seed: scenario.seed,
        objective: scenario.objective.as_str(),
        runs,
    })
}
