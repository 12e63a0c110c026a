//! What a keyed family keeps per key: a compact record while the key is
//! healthy, the real fuse engine once it has something to remember.
//!
//! Most keys of a family (hosts, tenants) are healthy most of the time, and
//! a healthy fuse of the `standard` or `consecutive` strategy with nothing
//! in its window answers every ask `Ok` and ignores successes: a full engine
//! (about 2 KB: state word, padded counters, slow state, windows) would hold
//! nothing that changes an answer. So a key starts as a [`Slot`] of two
//! words, the last time it was used and no engine, and is *promoted* to a
//! fuse engine built from the template at its first melt. The sweep
//! *demotes* it back (or evicts it) once the engine is pristine again.
//! A keyed valve's key holds its valve from the first use: a valve's
//! free slots and queue are its state, and it has no compact form.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One key's record. Replaced as a whole (never mutated but for `last`)
/// when the key is promoted or demoted, under its shard's write lock.
#[derive(Debug)]
pub(super) struct Slot<E> {
    /// When the key was last used (coarse ns on the Fusebox's clock).
    last: AtomicU64,
    /// The engine of a promoted key; `None` for a compact one.
    pub(super) core: Option<Arc<E>>,
}

impl<E> Slot<E> {
    pub(super) fn new(last: u64, core: Option<Arc<E>>) -> Self {
        Slot {
            last: AtomicU64::new(last),
            core,
        }
    }

    pub(super) fn last(&self) -> u64 {
        // Ordering: a timestamp read only to judge idleness; nothing is
        // published through it, and a stale value only delays an eviction
        // that the engine's own check (under its lock) makes safe.
        self.last.load(Ordering::Relaxed)
    }

    /// Marks the key used at `now`. Writes only when the time moved on, so
    /// a hot key's asks on many threads do not bounce its cache line more
    /// than once per tick of the coarse clock.
    #[inline]
    pub(super) fn touch(&self, now: u64) {
        // Ordering: as in `last`.
        if self.last.load(Ordering::Relaxed) < now {
            self.last.store(now, Ordering::Relaxed);
        }
    }
}
