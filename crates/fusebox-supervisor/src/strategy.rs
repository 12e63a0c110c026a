//! Restart strategies, OTP's three: which children a crash takes down with
//! it. One pure function, [`Strategy::affected`], used by the engine and
//! checked against the reference model.

use std::ops::Range;

/// Which children are restarted when one of them must be.
///
/// # Example
///
/// ```
/// use fusebox_supervisor::Strategy;
///
/// assert_eq!(Strategy::OneForOne.affected(1, 4), 1..2);
/// assert_eq!(Strategy::OneForAll.affected(1, 4), 0..4);
/// assert_eq!(Strategy::RestForOne.affected(1, 4), 1..4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// All children: the others are stopped (in reverse order), then all
    /// are started again (in order).
    OneForAll,
    /// The child that exited and those started after it.
    RestForOne,
}

impl Strategy {
    /// The children (by index, of `n`) restarted when child `i` must be.
    pub fn affected(self, i: usize, n: usize) -> Range<usize> {
        match self {
            Strategy::OneForOne => i..(i + 1).min(n),
            Strategy::OneForAll => 0..n,
            Strategy::RestForOne => i.min(n)..n,
        }
    }
}
