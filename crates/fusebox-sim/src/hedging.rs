//! When the simulated clients hedge: the delay an attempt waits before a
//! second copy of it starts, fixed or a quantile of the clients' recent
//! successful attempts.

use std::collections::VecDeque;
use std::time::Duration;

use crate::scenario::HedgeSpec;

/// The clients' hedging rule and what it has seen.
pub(crate) struct Hedging {
    spec: HedgeSpec,
    recent: VecDeque<Duration>,
}

impl Hedging {
    pub(crate) fn new(spec: HedgeSpec) -> Self {
        Hedging {
            spec,
            recent: VecDeque::new(),
        }
    }

    /// How long an attempt starting now waits before its hedge.
    pub(crate) fn delay(&self) -> Duration {
        match (self.spec.quantile, self.spec.after) {
            (Some(q), _) if self.recent.len() >= self.spec.min_samples.max(1) => {
                let mut v: Vec<Duration> = self.recent.iter().copied().collect();
                v.sort_unstable();
                let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
                v[rank - 1]
            }
            (Some(_), _) => self.spec.initial,
            (None, Some(after)) => after,
            (None, None) => self.spec.initial,
        }
    }

    /// An attempt succeeded after `took`.
    pub(crate) fn observe(&mut self, took: Duration) {
        if self.spec.quantile.is_some() {
            if self.recent.len() >= self.spec.window.max(1) {
                self.recent.pop_front();
            }
            self.recent.push_back(took);
        }
    }
}
