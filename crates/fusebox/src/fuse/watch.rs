//! Valves guarded by a fuse, told when it starts refusing.
//!
//! The fuse knows nothing of valves: anything that wants to hear "this fuse
//! now refuses every call" implements [`Watcher`], an interface the fuse
//! owns, and registers itself. Watchers are held weakly.
//!
//! Lock order: a fuse's locks before a watcher's (a watcher never takes a
//! fuse lock from `refusing`).

use std::sync::Weak;

use super::engine::FuseCore;
use crate::sync::lock;

/// Told when a fuse blows or is disabled.
pub(crate) trait Watcher: Send + Sync {
    /// The fuse refuses every call from `at` (ns) on.
    fn refusing(&self, at: u64);
}

impl FuseCore {
    /// Registers a valve to be told when this fuse blows. Lock order: a
    /// fuse's locks before a valve's (a valve never takes a fuse lock).
    pub(crate) fn watch(&self, w: Weak<dyn Watcher>) {
        let mut ws = lock(&self.watchers);
        ws.retain(|x| x.strong_count() > 0 && !x.ptr_eq(&w));
        ws.push(w);
    }

    /// Stops telling a valve that no longer has this fuse as its guard.
    pub(crate) fn unwatch(&self, w: &Weak<dyn Watcher>) {
        lock(&self.watchers).retain(|x| x.strong_count() > 0 && !x.ptr_eq(w));
    }

    pub(super) fn tell_watchers(&self, at: u64) {
        let ws: Vec<_> = lock(&self.watchers)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for w in ws {
            w.refusing(at);
        }
    }
}
