//! A valve's slots as one word: how many tasks run, how many may, and
//! whether the lock-free path is open.
//!
//! An adaptive limit moves while tasks are admitted. If the limit lived in a
//! word of its own, an admission could read the old limit, the controller
//! lower it, and the admission's compare-and-swap then push `in_flight` past
//! the new limit: a task started *after* the limit fell, above it. So the
//! limit and the count share one `AtomicU64`, and a slot is taken by one
//! compare-and-swap of the whole word: it succeeds only if, at that instant,
//! the count is below the limit in force (the same reason governor keeps a
//! limiter's whole state in one word).
//!
//! ```text
//!  63   62 ............ 32   31 ............ 0
//! [shut][     limit      ] [    in flight    ]
//! ```
//!
//! `shut` closes the lock-free path (a guard, a removed valve): every
//! acquire then takes the valve's lock. When the limit falls below the
//! count, nothing is taken until enough tasks have ended; the count only
//! falls, by releases.
//!
//! Every access is `SeqCst`: the release path's decrement and the queue's
//! `queued` word form a Dekker-style handshake (see `engine.rs`), and the
//! word is the valve's one linearisation point for slots.

use std::sync::atomic::Ordering::SeqCst;

use crate::sync::AtomicU64;

/// The largest limit a valve keeps (2^31 - 1); a larger `concurrency`
/// acts as this one, which no process reaches.
pub(crate) const MAX_LIMIT: usize = (1 << 31) - 1;

const COUNT: u64 = (1 << 32) - 1;
const LIMIT_SHIFT: u32 = 32;
const SHUT: u64 = 1 << 63;

/// In flight, the limit and the shut flag, in one atomic word.
#[derive(Debug)]
pub(crate) struct Slots(AtomicU64);

/// One reading of the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(u64);

impl Word {
    pub(crate) fn in_flight(self) -> usize {
        (self.0 & COUNT) as usize
    }

    pub(crate) fn limit(self) -> usize {
        ((self.0 & !SHUT) >> LIMIT_SHIFT) as usize
    }

    pub(crate) fn shut(self) -> bool {
        self.0 & SHUT != 0
    }

    fn with_limit(self, limit: usize) -> Word {
        let limit = limit.min(MAX_LIMIT) as u64;
        Word((self.0 & (SHUT | COUNT)) | (limit << LIMIT_SHIFT))
    }

    fn with_shut(self, shut: bool) -> Word {
        Word(if shut { self.0 | SHUT } else { self.0 & !SHUT })
    }
}

impl Slots {
    /// No slot, no task, shut.
    pub(crate) fn new() -> Self {
        Slots(AtomicU64::new(SHUT))
    }

    pub(crate) fn load(&self) -> Word {
        Word(self.0.load(SeqCst))
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.load().in_flight()
    }

    pub(crate) fn limit(&self) -> usize {
        self.load().limit()
    }

    /// Takes a slot if fewer than the limit are taken (and, for the
    /// lock-free path, if it is open): the only way the count grows, so it
    /// never exceeds the limit in force at that instant. The answer is the
    /// count with this task.
    #[inline]
    pub(crate) fn take(&self, lock_free: bool) -> Option<usize> {
        let mut w = self.load();
        loop {
            if (lock_free && w.shut()) || w.in_flight() >= w.limit() {
                return None;
            }
            match self.0.compare_exchange_weak(w.0, w.0 + 1, SeqCst, SeqCst) {
                Ok(_) => return Some(w.in_flight() + 1),
                Err(seen) => w = Word(seen),
            }
        }
    }

    /// Gives one slot back (the caller holds one).
    #[inline]
    pub(crate) fn give_back(&self) {
        let before = self.0.fetch_sub(1, SeqCst);
        debug_assert!(Word(before).in_flight() > 0, "a slot given back twice");
    }

    /// Sets the limit, keeping the count and the flag; the previous limit.
    pub(crate) fn set_limit(&self, limit: usize) -> usize {
        self.update(|w| w.with_limit(limit)).limit()
    }

    /// Opens or shuts the lock-free path.
    pub(crate) fn set_shut(&self, shut: bool) {
        self.update(|w| w.with_shut(shut));
    }

    fn update(&self, f: impl Fn(Word) -> Word) -> Word {
        let mut w = self.load();
        loop {
            match self.0.compare_exchange_weak(w.0, f(w).0, SeqCst, SeqCst) {
                Ok(_) => return w,
                Err(seen) => w = Word(seen),
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_count_stays_below_the_limit_in_force() {
        let s = Slots::new();
        assert_eq!(s.take(true), None, "shut");
        s.set_limit(2);
        assert_eq!(s.take(true), None, "still shut");
        assert_eq!(s.take(false), Some(1));
        s.set_shut(false);
        assert_eq!(s.take(true), Some(2));
        assert_eq!(s.take(true), None, "full");
        assert_eq!(s.set_limit(1), 2);
        s.give_back();
        assert_eq!(s.take(true), None, "1 of 1 after the shrink");
        s.give_back();
        assert_eq!(s.take(true), Some(1));
        assert_eq!((s.in_flight(), s.limit(), s.load().shut()), (1, 1, false));
    }

    #[test]
    fn huge_limits_are_clamped() {
        let s = Slots::new();
        s.set_limit(usize::MAX);
        assert_eq!(s.limit(), MAX_LIMIT);
        s.set_shut(true);
        assert_eq!(s.limit(), MAX_LIMIT);
        assert!(s.load().shut());
    }
}
