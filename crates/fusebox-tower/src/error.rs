//! The refusal: why a request never reached the inner service (or, through
//! a pipeline, was cut short by its timeout).
//!
//! A refusal is its own type, apart from the inner service's errors: the
//! layers answer with [`BoxError`], as tower's own `load_shed`, `timeout`
//! and `rate_limit` do, so that a stack of layers has one error type and a
//! single `HandleErrorLayer` (or a `downcast_ref::<FuseboxError>()`) can tell
//! "we refused" from "the dependency failed".

use std::fmt;
use std::sync::Arc;

use fusebox::Refused;

/// The error type of the layers' services: the inner service's error, or a
/// [`FuseboxError`], boxed (tower's convention).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request refused by a fuse or a valve (the inner service was not
/// called), or cut short by a pipeline's timeout.
///
/// # Example
///
/// ```
/// use fusebox_tower::{BoxError, FuseboxError};
///
/// let err: BoxError = FuseboxError::Blown { fuse: "db".into() }.into();
/// let refusal = err.downcast_ref::<FuseboxError>().expect("a refusal");
/// assert_eq!(refusal.name(), "db");
/// assert_eq!(refusal.to_string(), "fuse \"db\" is blown");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FuseboxError {
    /// The fuse is blown (or removed): the dependency is presumed down, so
    /// the call was not made.
    Blown {
        /// The fuse's name.
        fuse: Arc<str>,
    },
    /// An operator disabled the fuse: calls are refused until it is enabled.
    Disabled {
        /// The fuse's name.
        fuse: Arc<str>,
    },
    /// The valve refused the request.
    Refused {
        /// The valve's name.
        valve: Arc<str>,
        /// Why: `Busy` in reject mode; `QueueFull`, `Overload`, `Timeout`,
        /// `Blown` or `Removed` in wait mode.
        reason: Refused,
    },
    /// Through a [`PipelineService`](crate::pipeline::PipelineService):
    /// the last attempt ran longer than the pipeline's timeout and was
    /// dropped (a failure for its fuse, and retried while the retry
    /// allowed).
    TimedOut {
        /// The pipeline's name.
        pipeline: Arc<str>,
    },
    /// The fuse's [`Chaos`](fusebox::fuse::Chaos) injected an error in
    /// place of the call, which was not made (a failure for the fuse, and
    /// retried by a pipeline like any).
    Injected {
        /// The fuse's name.
        fuse: Arc<str>,
    },
}

impl FuseboxError {
    /// The name of the fuse or valve that refused, or of the pipeline
    /// whose timeout cut the call.
    pub fn name(&self) -> &str {
        match self {
            FuseboxError::Blown { fuse }
            | FuseboxError::Disabled { fuse }
            | FuseboxError::Injected { fuse } => fuse,
            FuseboxError::Refused { valve, .. } => valve,
            FuseboxError::TimedOut { pipeline } => pipeline,
        }
    }

    /// A short machine-readable reason: `blown` or `disabled` for a fuse,
    /// the valve's reason (`busy`, `queue_full`, `overload`, `timeout`,
    /// `blown`, `removed`), `timed_out` for a pipeline's timeout, or
    /// `injected` for chaos.
    pub fn reason(&self) -> &'static str {
        match self {
            FuseboxError::Blown { .. } => "blown",
            FuseboxError::Disabled { .. } => "disabled",
            FuseboxError::Refused { reason, .. } => reason.as_str(),
            FuseboxError::TimedOut { .. } => "timed_out",
            FuseboxError::Injected { .. } => "injected",
        }
    }

    /// True for a refusal (by a fuse or a valve: the inner service was
    /// not called, and a pipeline does not retry it). False for a
    /// pipeline's timeout and for an injected error, both failures.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            FuseboxError::Blown { .. }
                | FuseboxError::Disabled { .. }
                | FuseboxError::Refused { .. }
        )
    }
}

impl fmt::Display for FuseboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FuseboxError::Blown { fuse } => write!(f, "fuse {fuse:?} is blown"),
            FuseboxError::Disabled { fuse } => write!(f, "fuse {fuse:?} is disabled"),
            FuseboxError::Refused { valve, reason } => {
                write!(
                    f,
                    "valve {valve:?} refused the request: {}",
                    reason.as_str()
                )
            }
            FuseboxError::TimedOut { pipeline } => {
                write!(f, "pipeline {pipeline:?}: the call timed out")
            }
            FuseboxError::Injected { fuse } => {
                write!(f, "fuse {fuse:?}: an error injected by chaos")
            }
        }
    }
}

impl std::error::Error for FuseboxError {}
