//! Valves guarded by a fuse, told when it starts refusing.
//!
//! The fuse knows nothing of valves: anything that wants to hear "this fuse
//! now refuses every call" implements [`Watcher`], an interface the fuse
//! owns, and registers itself. Watchers are held weakly.
//!
//! Lock order: a fuse's locks before a watcher's (a watcher never takes a
//! fuse lock from `refusing`).

use std::fmt;
use std::sync::Weak;

use crate::sync::{lock, Mutex};

/// Told when a fuse blows or is disabled.
pub(crate) trait Watcher: Send + Sync {
    /// The fuse refuses every call from `at` (ns) on.
    fn refusing(&self, at: u64);
}

/// The watchers of one fuse, held weakly: a valve that is gone is pruned
/// the next time the list changes, and is never kept alive by its guard.
pub(crate) struct Watchers(Mutex<Vec<Weak<dyn Watcher>>>);

impl fmt::Debug for Watchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchers")
            .field("len", &lock(&self.0).len())
            .finish()
    }
}

impl Watchers {
    /// None yet.
    pub(crate) fn new() -> Self {
        Watchers(Mutex::new(Vec::new()))
    }

    /// Adds `w` (once, however often it is added).
    pub(crate) fn watch(&self, w: Weak<dyn Watcher>) {
        let mut ws = lock(&self.0);
        ws.retain(|x| x.strong_count() > 0 && !x.ptr_eq(&w));
        ws.push(w);
    }

    /// Removes `w`.
    pub(crate) fn unwatch(&self, w: &Weak<dyn Watcher>) {
        lock(&self.0).retain(|x| x.strong_count() > 0 && !x.ptr_eq(w));
    }

    /// Tells every live watcher that the fuse refuses from `at` on, with
    /// the list's lock released first.
    pub(crate) fn tell(&self, at: u64) {
        let ws: Vec<_> = lock(&self.0).iter().filter_map(Weak::upgrade).collect();
        for w in ws {
            w.refusing(at);
        }
    }
}
