//! What a retried call answers when it did not succeed: the last attempt's
//! error and the rule that ended the retries, apart from each other.

use std::fmt;

/// Why the retries ended without a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stop {
    /// The last result was a refusal by a fuse or a valve: never retried.
    Refused,
    /// The last result was classified as not worth retrying (ignored).
    NotRetryable,
    /// `max_attempts` attempts were made.
    Exhausted,
    /// The next retry would have started at or after the deadline.
    Deadline,
    /// The retry budget could not pay for another retry.
    BudgetExhausted,
}

impl Stop {
    /// The reason as a metric label: `refused`, `not_retryable`,
    /// `exhausted`, `deadline`, `budget_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Refused => "refused",
            Stop::NotRetryable => "not_retryable",
            Stop::Exhausted => "exhausted",
            Stop::Deadline => "deadline",
            Stop::BudgetExhausted => "budget_exhausted",
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A retried call that did not succeed: the last attempt's error, how many
/// attempts were made, and why no more were.
///
/// # Example
///
/// ```
/// use fusebox::retry::{Retry, RetryPolicy, Stop};
///
/// let retry = Retry::new(RetryPolicy::new(3))?;
/// let err = retry.run(|| Err::<(), _>("down")).unwrap_err();
/// assert_eq!(err.attempts(), 3);
/// assert_eq!(err.stop(), Stop::Exhausted);
/// assert_eq!(err.into_inner(), "down");
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryError<E> {
    error: E,
    attempts: u32,
    stop: Stop,
}

impl<E> RetryError<E> {
    pub(crate) fn new(error: E, attempts: u32, stop: Stop) -> Self {
        RetryError {
            error,
            attempts,
            stop,
        }
    }

    /// The last attempt's error.
    pub fn error(&self) -> &E {
        &self.error
    }

    /// The last attempt's error, owned.
    pub fn into_inner(self) -> E {
        self.error
    }

    /// Attempts made, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why no further attempt was made.
    pub fn stop(&self) -> Stop {
        self.stop
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} after {} attempt(s) ({})",
            self.error, self.attempts, self.stop
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
