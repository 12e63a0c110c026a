//! The AIMD controller: additive increase, multiplicative decrease, TCP's
//! congestion avoidance applied to a concurrency limit.
//!
//! Why: it needs no model of the dependency's latency at all, only a
//! verdict per task: fast enough, or a drop. Each task that ends faster
//! than `timeout` while the valve was using its limit raises the limit by
//! one; a drop (the dependency timed out or refused, reported with
//! [`Permit::dropped`](crate::Permit::dropped)) or a task that held its slot
//! `timeout` or longer multiplies it by `backoff`. The limit saws just
//! under the point where the dependency starts to fail, as a TCP window
//! does under the point of loss (Jacobson, "Congestion Avoidance and
//! Control", SIGCOMM 1988; Chiu and Jain's proof that AIMD converges to
//! fairness, 1989). This is Netflix concurrency-limits' `AIMDLimit`.
//!
//! Pathologies handled on purpose:
//!
//! * a refused, cancelled or panicked task is no sample at all;
//! * a task as slow as `timeout` is a drop, not a success: timeouts that
//!   all take exactly `timeout` are not below the threshold, so they cannot
//!   raise the limit to `max` (concurrency-limits #137 describes this trap
//!   for the gradient: steady timeouts look like a steady latency);
//! * one decrease per round trip (*choice*, TCP's rule since NewReno,
//!   RFC 6582): the tasks that were already running when the limit fell
//!   cannot lower it again, so fifty timeouts that land together cut the
//!   limit once, not fifty times;
//! * no growth while the valve is not using its limit: a task that started
//!   with fewer than half the limit in flight raises nothing
//!   (concurrency-limits' `inflight * 2 >= limit`);
//! * the limit stays in `[min, max]`.

use std::time::Duration;

use super::sample::{Signal, Taken};

/// The default `min` of [`Aimd`].
pub const AIMD_MIN: usize = 1;
/// The default `max` of [`Aimd`] (concurrency-limits' default).
pub const AIMD_MAX: usize = 200;
/// The default `initial` of [`Aimd`] (concurrency-limits' default).
pub const AIMD_INITIAL: usize = 20;

/// An AIMD controller's parameters; see [`Adaptive::aimd`](super::Adaptive::aimd).
///
/// ```
/// use std::time::Duration;
/// use fusebox::valve::Adaptive;
///
/// let a = Adaptive::aimd().min(2).max(64).backoff(0.8).timeout(Duration::from_secs(1));
/// assert_eq!((a.min, a.max, a.backoff), (2, 64, 0.8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct Aimd {
    /// The limit at install.
    pub initial: usize,
    /// The lowest limit; at least 1.
    pub min: usize,
    /// The highest limit.
    pub max: usize,
    /// What a decrease multiplies the limit by, in (0, 1).
    pub backoff: f64,
    /// A task that held its slot this long or longer counts as a drop.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub timeout: Duration,
}

impl Default for Aimd {
    fn default() -> Self {
        Aimd {
            initial: AIMD_INITIAL,
            min: AIMD_MIN,
            max: AIMD_MAX,
            backoff: 0.9,
            timeout: Duration::from_secs(5),
        }
    }
}

impl Aimd {
    /// The limit at install.
    pub fn initial(mut self, n: usize) -> Self {
        self.initial = n;
        self
    }
    /// The lowest limit.
    pub fn min(mut self, n: usize) -> Self {
        self.min = n;
        self
    }
    /// The highest limit.
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
    /// What a decrease multiplies the limit by.
    pub fn backoff(mut self, ratio: f64) -> Self {
        self.backoff = ratio;
        self
    }
    /// A task that held its slot this long or longer counts as a drop.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
}

/// The AIMD controller's state. Pure: it is told the time.
#[derive(Debug, Clone)]
pub(crate) struct AimdState {
    cfg: Aimd,
    limit: usize,
    /// When the limit last fell: tasks started before then cannot lower it
    /// again.
    pub(crate) decreased_at: Option<u64>,
}

impl AimdState {
    pub(crate) fn new(cfg: Aimd) -> Self {
        AimdState {
            limit: cfg.initial.clamp(cfg.min, cfg.max),
            decreased_at: None,
            cfg,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// One task ended (a slow one is already a drop, see `limit.rs`).
    pub(crate) fn on_sample(&mut self, t: Taken) {
        match t.signal {
            Signal::Drop => {
                if self.decreased_at.is_some_and(|at| t.started < at) {
                    return; // this round trip already cut the limit
                }
                let cut = (self.limit as f64 * self.cfg.backoff) as usize;
                self.limit = cut.clamp(self.cfg.min, self.cfg.max);
                self.decreased_at = Some(t.now);
            }
            Signal::Latency(_) => {
                if t.in_flight * 2 >= self.limit {
                    self.limit = (self.limit + 1).clamp(self.cfg.min, self.cfg.max);
                }
            }
        }
    }
}
