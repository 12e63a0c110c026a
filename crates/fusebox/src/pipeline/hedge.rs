//! Hedging: when an attempt is slow, send a second one and take whichever
//! answers first.
//!
//! A dependency's latency has a long tail: most calls answer fast, a few
//! are slow for reasons that have nothing to do with the request (a
//! garbage collection, a cold cache, a queue behind a slow neighbour).
//! Dean and Barroso ("The Tail at Scale", CACM 56(2), 2013) found that a
//! second copy of the request, sent once the first has waited longer than
//! the 95th percentile, cuts the tail sharply for a few percent more load.
//! A hedge is therefore not a retry: nothing failed, the first attempt
//! keeps running, and the first *success* wins; the loser is dropped,
//! which for a [`Fuse`](crate::Fuse) counts as ignored (frees a probe
//! slot) and for a [`Valve`](crate::Valve) frees its slot at once.
//!
//! The extra load is bounded twice: at most [`max_hedges`](Hedge::max_hedges)
//! per call (1 by default), and each hedge is paid from the pipeline's
//! [`RetryBudget`](crate::retry::RetryBudget), the one its retries draw
//! from, so during an outage hedges and retries together stay within the
//! budget's ratio of first attempts.
//!
//! ```text
//!  t=0        attempt 1 starts
//!  t=delay    attempt 1 still running: the budget pays, hedge 1 starts
//!  t=delay+x  hedge 1 succeeds: its answer is returned, attempt 1 dropped
//! ```

use std::time::Duration;

use super::RecentLatency;
use crate::error::ConfigError;

/// When to hedge, and how often.
///
/// A hedge is a second attempt started while the first is still running
/// slowly (not a retry: nothing failed); the first success wins and the
/// other attempt is dropped, which frees its valve slot and counts as
/// ignored for the fuse (freeing a probe slot). After Dean and Barroso,
/// "The Tail at Scale" (CACM 56(2), 2013): hedging at the 95th percentile
/// cuts the latency tail for a few percent more load. Hedges are paid from
/// the pipeline's [`RetryBudget`](crate::retry::RetryBudget), the one its
/// retries draw from, and at most [`max_hedges`](Self::max_hedges) are
/// made per call.
///
/// ```text
///  t=0        attempt 1 starts
///  t=delay    attempt 1 still running: the budget pays, hedge 1 starts
///  t=delay+x  hedge 1 succeeds: its answer is returned, attempt 1 dropped
/// ```
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::pipeline::Hedge;
///
/// // After 50 ms, one hedge.
/// let fixed = Hedge::after(Duration::from_millis(50));
/// assert_eq!(fixed.max_hedges(), 1);
/// // After the p95 of the last 128 successful attempts; 100 ms until 20
/// // of them are known.
/// let adaptive = Hedge::quantile(0.95, Duration::from_millis(100)).max(2);
/// assert_eq!(adaptive.max_hedges(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Hedge {
    pub(crate) delay: HedgeDelay,
    pub(crate) max: u32,
}

/// How long an attempt may run before a hedge starts.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum HedgeDelay {
    /// Always the same delay.
    Fixed(Duration),
    /// A quantile of the latencies of the pipeline's recent successful
    /// attempts (nearest rank over the last `window`); `initial` until
    /// `min_samples` of them are known.
    Quantile {
        /// In (0, 1]: 0.95 hedges the slowest 5 %.
        q: f64,
        /// The delay before enough latencies are known.
        initial: Duration,
        /// How many recent latencies are kept (1 to 1024).
        window: usize,
        /// How many are needed before the quantile is used (1 to `window`).
        min_samples: usize,
    },
}

/// How many recent latencies a quantile hedge keeps by default.
pub const DEFAULT_LATENCY_WINDOW: usize = 128;
/// How many latencies a quantile hedge needs by default before using them.
pub const DEFAULT_MIN_SAMPLES: usize = 20;

impl Hedge {
    /// A hedge after a fixed `delay` (zero hedges at once: two attempts
    /// from the start).
    pub fn after(delay: Duration) -> Self {
        Hedge {
            delay: HedgeDelay::Fixed(delay),
            max: 1,
        }
    }

    /// A hedge after the `q` quantile of recent successful attempts'
    /// latencies, `initial` until [`DEFAULT_MIN_SAMPLES`] are known.
    pub fn quantile(q: f64, initial: Duration) -> Self {
        Hedge {
            delay: HedgeDelay::Quantile {
                q,
                initial,
                window: DEFAULT_LATENCY_WINDOW,
                min_samples: DEFAULT_MIN_SAMPLES,
            },
            max: 1,
        }
    }

    /// At most `n` hedges per call (1 by default; 0 turns hedging off).
    /// Hedge `k` starts `k` delays after the round's first attempt.
    pub fn max(mut self, n: u32) -> Self {
        self.max = n;
        self
    }

    /// For a quantile hedge: keep the last `window` latencies and use them
    /// once `min_samples` are known. No effect on a fixed hedge.
    pub fn samples(mut self, window: usize, min_samples: usize) -> Self {
        if let HedgeDelay::Quantile {
            window: w,
            min_samples: m,
            ..
        } = &mut self.delay
        {
            *w = window;
            *m = min_samples;
        }
        self
    }

    /// The most hedges per call.
    pub fn max_hedges(&self) -> u32 {
        self.max
    }

    /// The delay rule.
    pub fn delay(&self) -> HedgeDelay {
        self.delay
    }

    /// The delay a hedge waits now: the fixed one, or the quantile of
    /// `recent` (`initial` until it knows enough, or without it).
    pub fn delay_now(&self, recent: Option<&RecentLatency>) -> Duration {
        match self.delay {
            HedgeDelay::Fixed(d) => d,
            HedgeDelay::Quantile { initial, .. } => {
                recent.and_then(RecentLatency::quantile).unwrap_or(initial)
            }
        }
    }

    /// Checks the rule, as [`PipelineBuilder::build`](super::PipelineBuilder::build)
    /// does: a quantile in (0, 1], a window of 1 to 1024, `min_samples` of
    /// 1 to the window.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let HedgeDelay::Quantile {
            q,
            window,
            min_samples,
            ..
        } = self.delay
        {
            if !(q > 0.0 && q <= 1.0) {
                return Err(ConfigError::pipeline(
                    "hedge.quantile",
                    q,
                    "must be in (0, 1]",
                ));
            }
            if !(1..=1024).contains(&window) {
                return Err(ConfigError::pipeline(
                    "hedge.window",
                    window,
                    "must be between 1 and 1024",
                ));
            }
            if !(1..=window).contains(&min_samples) {
                return Err(ConfigError::pipeline(
                    "hedge.min_samples",
                    min_samples,
                    "must be between 1 and the window",
                ));
            }
        }
        Ok(())
    }
}

/// The hedge's side of its latency estimate, here rather than in
/// `latency.rs` so that the estimate knows nothing of hedges.
impl RecentLatency {
    /// The estimate a hedge reads: `Some` for a quantile hedge, `None` for
    /// a fixed one.
    pub fn for_hedge(hedge: &Hedge) -> Option<Self> {
        match hedge.delay() {
            HedgeDelay::Quantile {
                q,
                window,
                min_samples,
                ..
            } => Some(RecentLatency::new(q, window, min_samples)),
            HedgeDelay::Fixed(_) => None,
        }
    }
}
