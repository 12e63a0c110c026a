//! What a pipeline answers when it has no value: why (a refusal, a
//! timeout, the call's own error), after how many attempts and hedges, and
//! which rule stopped the retries.
//!
//! A refusal by the fuse or the valve is kept apart from the call's error,
//! as everywhere in fusebox: the call never ran, the dependency said
//! nothing, and a fallback usually wants to tell "we did not ask" from "it
//! said no".

use std::fmt;

pub use crate::event::ReasonKind;
use crate::retry::Stop;
use crate::valve::Refused;

/// Why a call through a pipeline has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason<E> {
    /// The fuse refused the call (blown, disabled or removed).
    Blown,
    /// The valve refused the call, for the reason given.
    Refused(Refused),
    /// The attempt ran longer than the pipeline's timeout and was dropped.
    Timeout,
    /// The call itself answered this error.
    Failed(E),
    /// The fuse's [`Chaos`](crate::fuse::Chaos) injected an error in place
    /// of the call, which was not made. A failure like any other for the
    /// fuse and the retry (its kind is [`ReasonKind::Failed`]); the fuse
    /// counts it apart, in its chaos counters.
    Injected,
}

impl<E> Reason<E> {
    /// The kind, without the error.
    pub fn kind(&self) -> ReasonKind {
        match self {
            Reason::Blown => ReasonKind::Blown,
            Reason::Refused(_) => ReasonKind::Refused,
            Reason::Timeout => ReasonKind::Timeout,
            Reason::Failed(_) | Reason::Injected => ReasonKind::Failed,
        }
    }

    /// True for a refusal by the fuse or the valve: the call never ran.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Reason::Blown | Reason::Refused(_))
    }
}

impl<E: fmt::Display> fmt::Display for Reason<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Blown => f.write_str("refused by the fuse"),
            Reason::Refused(r) => write!(f, "refused by the valve ({r})"),
            Reason::Timeout => f.write_str("timed out"),
            Reason::Failed(e) => e.fmt(f),
            Reason::Injected => f.write_str("an error injected by chaos"),
        }
    }
}

/// A call through a pipeline that has no value: the last attempt's
/// [`Reason`], the attempts and hedges made, and why no more were.
///
/// # Example
///
/// ```
/// use fusebox::pipeline::{Pipeline, Reason};
/// use fusebox::retry::{RetryPolicy, Stop};
///
/// let p = Pipeline::builder("api").retry(RetryPolicy::new(3)).build()?;
/// let err = p.call_blocking(|| Err::<(), _>("down")).unwrap_err();
/// assert_eq!(err.reason(), &Reason::Failed("down"));
/// assert_eq!((err.attempts(), err.stop()), (3, Stop::Exhausted));
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineError<E> {
    reason: Reason<E>,
    attempts: u32,
    hedges: u32,
    stop: Stop,
}

impl<E> PipelineError<E> {
    pub(crate) fn new(reason: Reason<E>, attempts: u32, hedges: u32, stop: Stop) -> Self {
        PipelineError {
            reason,
            attempts,
            hedges,
            stop,
        }
    }

    /// Why there is no value.
    pub fn reason(&self) -> &Reason<E> {
        &self.reason
    }

    /// The reason, owned.
    pub fn into_reason(self) -> Reason<E> {
        self.reason
    }

    /// The call's own error, if that is the reason.
    pub fn into_failed(self) -> Option<E> {
        match self.reason {
            Reason::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True for a refusal by the fuse or the valve.
    pub fn is_refusal(&self) -> bool {
        self.reason.is_refusal()
    }

    /// Attempts made (first attempts and retries; hedges apart).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Hedges started.
    pub fn hedges(&self) -> u32 {
        self.hedges
    }

    /// Why no further attempt was made.
    pub fn stop(&self) -> Stop {
        self.stop
    }
}

impl<E: fmt::Display> fmt::Display for PipelineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} after {} attempt(s) and {} hedge(s) ({})",
            self.reason, self.attempts, self.hedges, self.stop
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PipelineError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            Reason::Failed(e) => Some(e),
            Reason::Refused(r) => Some(r),
            _ => None,
        }
    }
}
