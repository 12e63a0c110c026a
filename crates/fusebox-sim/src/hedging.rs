//! When the simulated clients hedge: the delay an attempt waits before a
//! second copy of it starts, fixed or a quantile of the clients' recent
//! successful attempts.
//!
//! Both are the core's own: the rule is a
//! [`Hedge`](fusebox::pipeline::Hedge) (the scenario's, or a config's pipeline's), and a quantile is read from a
//! [`RecentLatency`](fusebox::pipeline::RecentLatency) fed the latencies
//! the clients saw, what a [`Pipeline`](fusebox::pipeline::Pipeline)
//! hedging at a quantile does. The simulator hedges as the library would,
//! never by a second rule.

use std::time::Duration;

use fusebox::pipeline::{Hedge, RecentLatency};

/// The clients' hedging rule and what it has seen.
pub(crate) struct Hedging {
    hedge: Hedge,
    recent: Option<RecentLatency>,
}

impl Hedging {
    pub(crate) fn new(hedge: Hedge) -> Self {
        let recent = RecentLatency::for_hedge(&hedge);
        Hedging { hedge, recent }
    }

    /// How long an attempt starting now waits before its hedge.
    pub(crate) fn delay(&self) -> Duration {
        self.hedge.delay_now(self.recent.as_ref())
    }

    /// An attempt succeeded after `took`.
    pub(crate) fn observe(&mut self, took: Duration) {
        if let Some(r) = &self.recent {
            r.record(took);
        }
    }
}
