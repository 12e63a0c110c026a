//! What a retry policy says: how many attempts, how far apart, until when,
//! and which failures deserve another try.
//!
//! The rules, in the order they are applied after an attempt that did not
//! succeed (each is a test in `tests/retry.rs`):
//!
//! 1. **Only a failure is retried.** The classifier sorts each result into
//!    a [`Class`]: a success ends the run; an [`Ignored`](Class::Ignored)
//!    result (a client error, say: Polly's and resilience4j's "not
//!    retryable exception") ends it; a [`Refusal`](Class::Refusal) — a fuse
//!    that is blown or disabled, a valve that refused — ends it *at once*.
//!    A refusal is the fuse or the valve saying "not now"; retrying it
//!    would only turn a fast refusal into a slow one, or hammer a valve that
//!    is shedding load.
//! 2. **At most `max_attempts` attempts** in all, the first included
//!    (`max_attempts = 1` never retries).
//! 3. **The deadline**: measured from the start of the run on the retry's
//!    clock, no retry starts at or after it, and a wait that would reach it
//!    ends the retries then and there rather than sleeping in vain.
//! 4. **The budget**, if any: a retry that the [`RetryBudget`](super::RetryBudget)
//!    cannot pay for is not made. The budget is asked last, so a retry that
//!    rule 2 or 3 forbids costs it nothing.
//!
//! Rules 2 to 4 end a run with the last failure and the rule that ended it
//! ([`Stop`](super::Stop)).

use std::time::Duration;

use crate::error::{ConfigError, RunError};
use crate::fuse::Outcome;
use crate::valve::Refused;

use super::Backoff;

/// How many attempts, how far apart, and until when.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::new(4)
///     .backoff(Backoff::exponential(Duration::from_millis(50), 2.0, Duration::from_secs(1))
///         .full_jitter())
///     .deadline(Duration::from_secs(2));
/// assert_eq!(policy.max_attempts(), 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) deadline: Option<Duration>,
}

impl RetryPolicy {
    /// At most `max_attempts` attempts (at least 1), no wait between them,
    /// no deadline.
    pub fn new(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            backoff: Backoff::none(),
            deadline: None,
        }
    }

    /// The wait before each retry.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// No retry starts `deadline` or later after the run began.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The most attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Checks the policy once, as [`Retry::new`](super::Retry::new) does.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::retry("max_attempts", 0, "must be at least 1"));
        }
        let b = &self.backoff;
        if !b.factor().is_finite() || b.factor() < 1.0 {
            return Err(ConfigError::retry(
                "backoff.factor",
                b.factor(),
                "must be finite and at least 1",
            ));
        }
        if b.cap() < b.base() {
            return Err(ConfigError::retry(
                "backoff.cap",
                b.cap(),
                "must be at least the base delay",
            ));
        }
        if self.deadline == Some(Duration::ZERO) {
            return Err(ConfigError::retry(
                "deadline",
                Duration::ZERO,
                "must be greater than zero",
            ));
        }
        Ok(())
    }
}

/// How a retry sees the result of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Class {
    /// It worked: the run ends with it.
    Success,
    /// It failed: the only class that is retried.
    Failure,
    /// Neither (a client error, a cancellation): never retried.
    Ignored,
    /// A fuse or a valve refused the call, which never ran: never retried.
    Refusal,
}

impl Class {
    /// Every `Err` is a failure: the default of [`Retry::run`](super::Retry::run).
    ///
    /// ```
    /// use fusebox::retry::Class;
    /// assert_eq!(Class::of_result(&Err::<(), _>("down")), Class::Failure);
    /// ```
    pub fn of_result<T, E>(r: &Result<T, E>) -> Class {
        match r {
            Ok(_) => Class::Success,
            Err(_) => Class::Failure,
        }
    }

    /// A fuse's answer: [`RunError::Blown`] (blown or disabled) and
    /// [`RunError::NotFound`] are refusals; a failed, timed-out or
    /// chaos-injected call is a failure.
    ///
    /// ```
    /// use fusebox::{RunError, retry::Class};
    /// assert_eq!(Class::of_run(&Err::<(), RunError<()>>(RunError::Blown)), Class::Refusal);
    /// assert_eq!(Class::of_run(&Err::<(), _>(RunError::Failed(()))), Class::Failure);
    /// ```
    pub fn of_run<T, E>(r: &Result<T, RunError<E>>) -> Class {
        match r {
            Ok(_) => Class::Success,
            Err(RunError::Blown | RunError::NotFound(_)) => Class::Refusal,
            Err(RunError::Failed(_) | RunError::Timeout | RunError::Injected) => Class::Failure,
        }
    }

    /// A valve's answer when the task's own error is folded into `E`: a
    /// [`Refused`] is a refusal, whatever its reason.
    ///
    /// ```
    /// use fusebox::{Refused, retry::Class};
    /// assert_eq!(Class::of_refused(&Err::<(), _>(Refused::QueueFull)), Class::Refusal);
    /// ```
    pub fn of_refused<T>(r: &Result<T, Refused>) -> Class {
        match r {
            Ok(_) => Class::Success,
            Err(_) => Class::Refusal,
        }
    }

    /// A fuse's [`Outcome`] as a class: `Ignored` is never retried.
    pub fn of_outcome(o: Outcome) -> Class {
        match o {
            Outcome::Success => Class::Success,
            Outcome::Failure => Class::Failure,
            _ => Class::Ignored,
        }
    }
}
