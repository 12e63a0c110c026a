//! How a child is stopped, OTP's three ways: a grace period then a kill
//! (`Graceful`), a kill at once (`Abort`, OTP's `brutal_kill`), or no limit
//! (`Infinity`, for a child supervisor, which stops its own children within
//! their limits).
//!
//! Graceful means: cancel the child's [`CancellationToken`], wait up to the
//! timeout for the task to end, then abort it. A tokio task is aborted at
//! its next await; one that never yields cannot be stopped by anyone, which
//! is why a child must not block its thread.
//!
//! [`CancellationToken`]: tokio_util::sync::CancellationToken

use std::sync::Arc;
use std::time::Duration;

/// How a child is stopped.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox_supervisor::Shutdown;
///
/// let s = Shutdown::Graceful(Duration::from_secs(5));
/// assert_ne!(s, Shutdown::Abort);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shutdown {
    /// Cancel its token, wait up to this long, then abort it.
    Graceful(Duration),
    /// Abort it at once.
    Abort,
    /// Cancel its token and wait for it without a limit.
    Infinity,
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// It ended within its timeout (or without a limit).
    InTime,
    /// It was aborted: at once, or when its timeout ran out.
    Aborted,
}

/// One child stopped during a shutdown, in the order it was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopRecord {
    /// The supervisor's name.
    pub supervisor: Arc<str>,
    /// The child's id.
    pub child: Arc<str>,
    /// How it went.
    pub how: Stopped,
}

/// What a supervisor's shutdown stopped, in order: its children in reverse
/// start order, a child supervisor's own children before itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Every stop, in order.
    pub stopped: Vec<StopRecord>,
}
