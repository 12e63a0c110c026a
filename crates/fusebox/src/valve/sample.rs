//! One task's lesson for an adaptive limit: how long it held its slot, or
//! that the dependency dropped it.
//!
//! Both controllers (`aimd.rs`, `gradient.rs`) learn from the same sample,
//! and the limit that drives them (`limit.rs`) builds it when a permit is
//! released. It lives apart from all three so that each controller depends
//! on what it is fed, not on the limit that feeds it.

/// What a controller learns from one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// The task held its slot this many ns.
    Latency(u64),
    /// The dependency dropped it (or it took `timeout` or longer).
    Drop,
}

/// One task that ended: when it started and ended, how many ran when it
/// started (itself included), and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    pub(crate) started: u64,
    pub(crate) now: u64,
    pub(crate) in_flight: usize,
    pub(crate) signal: Signal,
}
