//! How the simulated clients retry and hedge: as the scenario's `load`
//! says, or, when the scenario names a pipeline (`load.pipeline`) and the
//! run's config declares it (`[pipelines.NAME]` in `fusebox.toml`), as that
//! pipeline would.
//!
//! The second is what makes one `fusebox simulate` command compare naive
//! clients (the unprotected run, the scenario's own load) with fusebox's
//! retries, budget and hedges (each config's pipeline) on the same
//! arrivals. The pipeline's parts are the core's own: its
//! [`RetrySpec`](fusebox::config_file::RetrySpec)'s attempts and
//! [`Backoff`], its [`RetryBudget`], its [`Hedge`]; a pipeline never
//! retries a refusal. Its per-attempt timeout bounds each call as the
//! dependency's own `timeout` does (the shorter wins). What the simulator
//! does not model of a pipeline: its overall retry deadline (the client's
//! `load.timeout` still bounds each attempt) and its fallback.

use std::time::Duration;

use fusebox::config_file::PipelineSpec;
use fusebox::pipeline::Hedge;
use fusebox::retry::{Backoff, RetryBudget};
use fusebox::rng::SplitMix64;

use crate::scenario::Load;
use crate::SimError;

/// The clients' retry and hedging rules for one run.
pub(crate) struct Clients {
    /// Retries after the first attempt.
    pub(crate) retries: u32,
    /// The wait before retry `n`: the scenario's fixed one, or the
    /// pipeline's backoff.
    wait: Wait,
    /// Whether a refused attempt is retried.
    pub(crate) retry_refusals: bool,
    /// The budget retries and hedges are paid from.
    pub(crate) budget: Option<RetryBudget>,
    /// When to hedge.
    pub(crate) hedge: Option<Hedge>,
    /// A pipeline's per-attempt timeout.
    pub(crate) attempt_timeout: Option<Duration>,
}

enum Wait {
    Fixed(Duration),
    Backoff { backoff: Backoff, rng: SplitMix64 },
}

impl Clients {
    /// The scenario's own clients.
    pub(crate) fn of_load(load: &Load) -> Result<Self, SimError> {
        let budget = match &load.retry_budget {
            None => None,
            Some(b) => Some(
                b.budget()
                    .map_err(|e| SimError::new(format!("load.retry_budget: {e}")))?,
            ),
        };
        let hedge = match &load.hedge {
            None => None,
            Some(h) => Some(
                h.hedge()
                    .map_err(|e| SimError::new(format!("load.hedge: {e}")))?,
            ),
        };
        Ok(Clients {
            retries: load.retries,
            wait: Wait::Fixed(load.retry_after),
            retry_refusals: load.retry_refusals,
            budget,
            hedge,
            attempt_timeout: None,
        })
    }

    /// Clients calling through `spec`, jitter drawn from `seed`.
    pub(crate) fn of_pipeline(spec: &PipelineSpec, seed: u64) -> Result<Self, SimError> {
        let budget = match &spec.budget {
            None => None,
            Some(b) => Some(
                b.budget()
                    .map_err(|e| SimError::new(format!("the pipeline's budget: {e}")))?,
            ),
        };
        Ok(Clients {
            retries: spec
                .retry
                .as_ref()
                .map_or(0, |r| r.attempts.saturating_sub(1)),
            wait: match &spec.retry {
                Some(r) => Wait::Backoff {
                    backoff: r.backoff,
                    rng: SplitMix64::new(seed),
                },
                None => Wait::Fixed(Duration::ZERO),
            },
            retry_refusals: false,
            budget,
            hedge: spec.hedge.clone(),
            attempt_timeout: spec.timeout,
        })
    }

    /// The wait before retry `n` (0 for the first), `prev` the wait before
    /// the one before.
    pub(crate) fn wait(&mut self, n: u32, prev: Duration) -> Duration {
        match &mut self.wait {
            Wait::Fixed(d) => *d,
            Wait::Backoff { backoff, rng } => backoff.delay(n, prev, rng),
        }
    }
}
