//! Restart types, OTP's three: whether a child that exited is started
//! again.
//!
//! The answer depends only on the type and on how the child exited, so it
//! is one pure function, [`Restart::restarts_after`], shared by the engine
//! and checked against the reference model.

use crate::exit::Exit;

/// Whether a child is restarted when it exits.
///
/// # Example
///
/// ```
/// use fusebox_supervisor::{Exit, Restart};
///
/// assert!(Restart::Permanent.restarts_after(&Exit::Normal));
/// assert!(!Restart::Transient.restarts_after(&Exit::Normal));
/// assert!(Restart::Transient.restarts_after(&Exit::Failed("boom".into())));
/// assert!(!Restart::Temporary.restarts_after(&Exit::Panicked("boom".into())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after a crash (not after `Ok(())`).
    Transient,
    /// Never restarted; removed once it exits.
    Temporary,
}

impl Restart {
    /// Whether a child of this type is restarted after `exit`.
    pub fn restarts_after(self, exit: &Exit) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => exit.is_crash(),
            Restart::Temporary => false,
        }
    }
}
