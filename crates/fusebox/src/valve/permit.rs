//! The right to run one task (safetyvalve's ask/done as a value): the slot
//! is released exactly once, when the permit is dropped, even if the task
//! panics or its future is dropped.
//!
//! A permit also carries the task's verdict to an adaptive limit
//! (`limit.rs`): dropped normally, the time it was held is a latency
//! sample; [`Permit::dropped`] reports a drop; [`Permit::ignore`], a panic
//! or a cancelled [`Valve::run`](super::Valve::run) report nothing.

use std::fmt;
use std::sync::Arc;

use super::engine::{Outcome, Stamp, ValveCore};

/// The right to run one task; the slot is freed when it is dropped.
///
/// For a valve with an adaptive [`limit`](crate::ValveConfig::limit), how
/// the permit ends is what the limit learns from: dropped, the time it was
/// held is the task's latency; [`dropped`](Self::dropped) says the
/// dependency dropped the task (a timeout, an overload refusal);
/// [`ignore`](Self::ignore) says nothing. A permit dropped while its thread
/// panics says nothing either. A fixed valve only frees the slot.
///
/// ```
/// use fusebox::{Fusebox, ValveConfig};
/// use fusebox::valve::Adaptive;
///
/// let fb = Fusebox::new();
/// fb.install_valve("db", ValveConfig::new().limit(Adaptive::aimd().initial(10)))?;
/// let db = fb.valve("db").unwrap();
/// let p = db.try_acquire()?;
/// p.dropped();                      // the query timed out: the limit backs off
/// assert_eq!(db.snapshot().concurrency, 9);
/// let p = db.try_acquire()?;
/// p.ignore();                       // a cache hit: tells the limit nothing
/// assert_eq!(db.snapshot().concurrency, 9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct Permit {
    core: Arc<ValveCore>,
    stamp: Stamp,
    pub(super) outcome: Outcome,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("valve", &self.core.name)
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            Outcome::Ignore
        } else {
            self.outcome
        };
        self.core.release(self.stamp, outcome);
    }
}

impl Permit {
    pub(super) fn new(core: &Arc<ValveCore>, stamp: Stamp) -> Self {
        Permit {
            stamp,
            outcome: Outcome::Sample,
            core: core.clone(),
        }
    }

    /// Awaits `task` under this permit, then frees the slot; dropped before
    /// the task completes, the permit reports nothing (a task cut short is
    /// no latency sample).
    pub(crate) async fn run<T>(mut self, task: impl std::future::Future<Output = T>) -> T {
        self.outcome = Outcome::Ignore;
        let out = task.await;
        self.outcome = Outcome::Sample;
        out
    }

    /// Frees the slot, telling an adaptive limit that the dependency
    /// dropped the task (it timed out, or refused for overload): no latency
    /// sample, and the limit backs off.
    pub fn dropped(mut self) {
        self.outcome = Outcome::Drop;
    }

    /// Frees the slot, telling an adaptive limit nothing (the task never
    /// reached the dependency, or its time says nothing of its load).
    pub fn ignore(mut self) {
        self.outcome = Outcome::Ignore;
    }
}
