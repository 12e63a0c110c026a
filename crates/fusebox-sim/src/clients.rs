//! How the simulated clients retry and hedge: as the scenario's `load`
//! says, or, when the scenario names a pipeline (`load.pipeline`) and the
//! run's config declares it (`[pipelines.NAME]` in `fusebox.toml`), as that
//! pipeline would.
//!
//! The second is what makes one `fusebox simulate` command compare naive
//! clients (the unprotected run, the scenario's own load) with fusebox's
//! retries, budget and hedges (each config's pipeline) on the same
//! arrivals. Either way the decisions are the core's: a
//! [`Retry`] (the pipeline's [`RetrySpec`](fusebox::config_file::RetrySpec)
//! policy, or the scenario's `retries` as a constant [`Backoff`]), with its
//! [`RetryBudget`](fusebox::retry::RetryBudget), on the run's clock; each
//! request drives one [`Attempts`](fusebox::retry::Attempts) of it, the
//! I/O-free engine a [`Pipeline`](fusebox::pipeline::Pipeline) drives, for
//! its retries (attempts, deadline, backoff, budget) and its hedges (one
//! per call by default, the deadline, the budget). Naive clients sort a
//! refusal as a failure (`load.retry_refusals`); a pipeline never retries
//! one. A pipeline's per-attempt timeout bounds each call as the
//! dependency's own `timeout` does (the shorter wins). What the simulator
//! does not model of a pipeline: its fallback, and more than one hedge
//! running at once.

use std::time::Duration;

use fusebox::config_file::PipelineSpec;
use fusebox::pipeline::Hedge;
use fusebox::retry::{Backoff, Retry, RetryPolicy};
use fusebox::ManualClock;

use crate::scenario::Load;
use crate::SimError;

/// The clients' retry and hedging rules for one run.
pub(crate) struct Clients {
    /// The core's retry: its policy, its budget (retries and hedges are
    /// paid from it), on the run's clock; each request drives one
    /// [`Attempts`](fusebox::retry::Attempts) of it.
    pub(crate) retry: Retry,
    /// Whether a refused attempt is retried (sorted as a failure).
    pub(crate) retry_refusals: bool,
    /// When to hedge.
    pub(crate) hedge: Option<Hedge>,
    /// A pipeline's per-attempt timeout.
    pub(crate) attempt_timeout: Option<Duration>,
}

impl Clients {
    /// The scenario's own clients: `retries` retries `retry_after` apart
    /// (a constant backoff), within `retry_budget`; jitter (none) from
    /// `seed`.
    pub(crate) fn of_load(load: &Load, seed: u64, clock: &ManualClock) -> Result<Self, SimError> {
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
        let policy = RetryPolicy::new(load.retries.saturating_add(1))
            .backoff(Backoff::constant(load.retry_after));
        let mut b = Retry::builder(policy).clock(clock.clone()).seed(seed);
        if let Some(budget) = budget {
            b = b.budget(budget);
        }
        Ok(Clients {
            retry: b
                .build()
                .map_err(|e| SimError::new(format!("load.retries: {e}")))?,
            retry_refusals: load.retry_refusals,
            hedge,
            attempt_timeout: None,
        })
    }

    /// Clients calling through `spec`, jitter drawn from `seed`.
    pub(crate) fn of_pipeline(
        spec: &PipelineSpec,
        seed: u64,
        clock: &ManualClock,
    ) -> Result<Self, SimError> {
        let policy = spec
            .retry
            .as_ref()
            .map_or(RetryPolicy::new(1), |r| r.policy());
        let mut b = Retry::builder(policy).clock(clock.clone()).seed(seed);
        if let Some(budget) = &spec.budget {
            b = b.budget(
                budget
                    .budget()
                    .map_err(|e| SimError::new(format!("the pipeline's budget: {e}")))?,
            );
        }
        Ok(Clients {
            retry: b
                .build()
                .map_err(|e| SimError::new(format!("the pipeline's retry: {e}")))?,
            retry_refusals: false,
            hedge: spec.hedge.clone(),
            attempt_timeout: spec.timeout,
        })
    }
}
