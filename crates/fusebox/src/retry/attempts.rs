//! The decision engine: after each attempt, "again, after how long, or
//! stop, and why"; while an attempt runs, "may a hedge start now". No I/O.
//!
//! Whoever makes the attempts (the synchronous [`Retry::run`](super::Retry::run), the async
//! [`Retry::call_with`](super::Retry::call_with), a [`Pipeline`](crate::pipeline::Pipeline)'s async
//! and blocking forms, the simulator's clients on virtual time) drives one
//! [`Attempts`] per call and does what it says: the engine never sleeps,
//! never reads a clock it was not given, never spawns, so the rules of
//! [`policy`](super::RetryPolicy) (the class, the attempts, the deadline,
//! the budget, asked in that order) and the hedges' (a hedge left, the
//! deadline, the budget) are written here once. tower's `retry::Policy` is
//! the model: a policy decides, the service does.
//!
//! ```text
//!  begin(now) ─► attempt ─► after(class, now) ─► Again(wait) ─► attempt ...
//!                  │                         └─► Done(stop)
//!                  └─ still running after a hedge delay ─► hedge(now) ─► Ok: start a copy
//!                                                                   └─► Err(stop): no (more) hedges
//! ```
//!
//! What the engine writes down is the retry's own bookkeeping: the first
//! attempt's deposit in the budget and each paid withdrawal, and the
//! [`RetryStats`](super::RetryStats) counters.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::sleep::Sleep;
use super::{Class, RetryBudget, RetryError, RetryPolicy, Stop};
use crate::clock::{duration_nanos, Timebase};
use crate::rng::{mix, SplitMix64};

/// What to do after an attempt ([`Attempts::after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Wait this long, then attempt again.
    Again(Duration),
    /// No more attempts; the stop applies if the result is an error (a
    /// success answers [`Stop::NotRetryable`], which nobody reads).
    Done(Stop),
}

/// One call's state, for its retry and hedge decisions: when it began, the
/// attempts and hedges made, the last wait, its random stream. Begun by
/// [`Retry::begin`](super::Retry::begin); time is given to each decision, never read.
///
/// # Example
///
/// A driver of its own, on a virtual clock (the simulator's way):
///
/// ```
/// use std::time::Duration;
/// use fusebox::retry::{Backoff, Class, Next, Retry, RetryPolicy, Stop};
///
/// let retry = Retry::new(RetryPolicy::new(3)
///     .backoff(Backoff::constant(Duration::from_millis(50)))
///     .deadline(Duration::from_millis(120)))?;
/// let mut t = Duration::ZERO;
/// let mut call = retry.begin(t);
/// t += Duration::from_millis(10);                       // attempt 1 fails at 10 ms
/// assert_eq!(call.after(Class::Failure, t), Next::Again(Duration::from_millis(50)));
/// t += Duration::from_millis(50 + 10);                  // attempt 2 fails at 70 ms
/// // A third would start at 120 ms: the deadline.
/// assert_eq!(call.after(Class::Failure, t), Next::Done(Stop::Deadline));
/// assert_eq!(call.made(), 2);
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
pub struct Attempts<'a> {
    inner: &'a Inner,
    /// When the call began, in ns on the retry's clock.
    start: u64,
    made: u32,
    prev: u64,
    rng: SplitMix64,
    hedges_left: u32,
    hedges_made: u32,
}

impl fmt::Debug for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempts")
            .field("start", &Duration::from_nanos(self.start))
            .field("made", &self.made)
            .field("hedges_made", &self.hedges_made)
            .field("hedges_left", &self.hedges_left)
            .finish_non_exhaustive()
    }
}

/// What a [`Retry`](super::Retry) and its clones share: the policy, the
/// budget, the clock and the counters the engine keeps.
pub(crate) struct Inner {
    pub(super) policy: RetryPolicy,
    pub(super) budget: Option<RetryBudget>,
    pub(super) clock: Timebase,
    pub(super) sleeper: Arc<dyn Sleep>,
    pub(super) seed: u64,
    pub(super) runs: AtomicU64,
    pub(super) counters: [AtomicU64; 8],
}

/// Indices into `Inner::counters`.
pub(super) const CALLS: usize = 0;
pub(super) const RETRIES: usize = 1;
pub(super) const SUCCESSES: usize = 2;

pub(super) fn stop_index(s: Stop) -> usize {
    match s {
        Stop::Refused => 3,
        Stop::NotRetryable => 4,
        Stop::Exhausted => 5,
        Stop::Deadline => 6,
        Stop::BudgetExhausted => 7,
    }
}

impl<'a> Attempts<'a> {
    /// A call begins at `start` ns: the first attempt is counted and
    /// deposited.
    pub(crate) fn begin_at(inner: &'a Inner, start: u64) -> Self {
        if let Some(b) = &inner.budget {
            b.deposit(Duration::from_nanos(start));
        }
        // Ordering: counters and the run index are statistics and a seed;
        // nothing else is ordered by them.
        inner.counters[CALLS].fetch_add(1, Ordering::Relaxed);
        let k = inner.runs.fetch_add(1, Ordering::Relaxed);
        Attempts {
            inner,
            start,
            made: 1,
            prev: 0,
            rng: SplitMix64::new(mix(inner.seed.wrapping_add(k))),
            hedges_left: 0,
            hedges_made: 0,
        }
    }

    /// A call begins now, on the retry's own clock.
    pub(crate) fn begin(inner: &'a Inner) -> Self {
        Self::begin_at(inner, inner.clock.now())
    }

    /// The call may make up to `max` hedges in all, across its retries (a
    /// [`Hedge`](crate::pipeline::Hedge)'s [`max_hedges`](crate::pipeline::Hedge::max_hedges)).
    /// None without it.
    pub fn hedges(mut self, max: u32) -> Self {
        self.hedges_left = max;
        self
    }

    /// Attempts made so far, the first included (hedges apart).
    pub fn made(&self) -> u32 {
        self.made
    }

    /// Hedges made so far.
    pub fn hedges_made(&self) -> u32 {
        self.hedges_made
    }

    /// Whether the call may still hedge: a hedge is left, and none was
    /// refused by the deadline or the budget.
    pub fn may_hedge(&self) -> bool {
        self.hedges_left > 0
    }

    /// Decides after an attempt classified `class`, ended at `now`: only a
    /// [`Class::Failure`] is retried, if an attempt is left, its wait ends
    /// before the deadline and the budget pays (asked last, so a retry
    /// another rule forbids costs it nothing).
    pub fn after(&mut self, class: Class, now: Duration) -> Next {
        self.after_with(class, || duration_nanos(now))
    }

    /// As [`after`](Self::after), reading the time (in ns) only if a rule
    /// needs it: a success never does.
    pub(crate) fn after_with(&mut self, class: Class, now: impl FnOnce() -> u64) -> Next {
        let stop = match class {
            Class::Success => {
                self.count(SUCCESSES);
                return Next::Done(Stop::NotRetryable);
            }
            Class::Refusal => Stop::Refused,
            Class::Ignored => Stop::NotRetryable,
            Class::Failure => match self.retry_after(now) {
                Ok(d) => return Next::Again(d),
                Err(stop) => stop,
            },
        };
        self.count(stop_index(stop));
        Next::Done(stop)
    }

    /// Rules 2 to 4 of the policy for a failure.
    fn retry_after(&mut self, now: impl FnOnce() -> u64) -> Result<Duration, Stop> {
        let p = &self.inner.policy;
        if self.made >= p.max_attempts {
            return Err(Stop::Exhausted);
        }
        let delay = p
            .backoff
            .delay_nanos(self.made - 1, self.prev, &mut self.rng);
        let now = now();
        if self.past_deadline(now.saturating_add(delay)) {
            return Err(Stop::Deadline);
        }
        if !self.withdraw(now) {
            return Err(Stop::BudgetExhausted);
        }
        self.prev = delay;
        self.made += 1;
        self.count(RETRIES);
        Ok(Duration::from_nanos(delay))
    }

    /// A hedge's delay has passed at `now`: may a copy of the running
    /// attempt start? `Ok` if a hedge is left, the deadline has not passed
    /// and the budget pays (the hedge is then counted); else the reason,
    /// and the call hedges no more: [`Stop::Exhausted`] (none left),
    /// [`Stop::Deadline`], [`Stop::BudgetExhausted`].
    pub fn hedge(&mut self, now: Duration) -> Result<(), Stop> {
        self.hedge_at(duration_nanos(now))
    }

    pub(crate) fn hedge_at(&mut self, now: u64) -> Result<(), Stop> {
        if self.hedges_left == 0 {
            return Err(Stop::Exhausted);
        }
        if self.past_deadline(now) {
            self.hedges_left = 0;
            return Err(Stop::Deadline);
        }
        if !self.withdraw(now) {
            self.hedges_left = 0;
            return Err(Stop::BudgetExhausted);
        }
        self.hedges_left -= 1;
        self.hedges_made += 1;
        Ok(())
    }

    /// The deadline rule, for retries and hedges alike: nothing starts at
    /// or after `start + deadline`.
    fn past_deadline(&self, at: u64) -> bool {
        self.inner
            .policy
            .deadline
            .is_some_and(|d| at >= self.start.saturating_add(duration_nanos(d)))
    }

    /// The budget pays for one more attempt at `now` (always, without one).
    fn withdraw(&self, now: u64) -> bool {
        self.inner
            .budget
            .as_ref()
            .is_none_or(|b| b.try_withdraw(Duration::from_nanos(now)))
    }

    /// The run's answer: the value, or the last error with the stop.
    pub(crate) fn finish<T, E>(&self, out: Result<T, E>, stop: Stop) -> Result<T, RetryError<E>> {
        out.map_err(|e| RetryError::new(e, self.made, stop))
    }

    fn count(&self, i: usize) {
        // Ordering: a statistic; nothing is ordered by it.
        self.inner.counters[i].fetch_add(1, Ordering::Relaxed);
    }
}
