//! What a keyed family (`crate::keyed`) needs of a valve: to take it out
//! of service only when nothing about it matters any more.
//!
//! A keyed valve with no task running and none waiting can be dropped and
//! later made afresh from the template: the new valve admits exactly as
//! the old one would. Its limit state is another matter: a token bucket
//! refills from elapsed time, and an adaptive limit forgets what it
//! learned; both are what a fresh valve starts with, which is the point of
//! forgetting an idle key. `retire_if_idle` decides under the valve's lock
//! and with its lock-free path shut, so no task can start between the
//! decision and the removal (a task that arrives later is refused with
//! `Removed`, which sends the family's caller back for a fresh valve).

use super::engine::ValveCore;
use crate::sync::lock;

impl ValveCore {
    /// Marks the valve removed, without an event, if no task holds a
    /// permit and none waits. True if it was retired.
    pub(crate) fn retire_if_idle(&self) -> bool {
        let mut s = lock(&self.slow);
        if s.removed || !s.queue.is_empty() {
            return false;
        }
        // Shut first: from here on a task starts only under this lock, so
        // the count read next cannot grow behind our back.
        self.slots.set_shut(true);
        if self.slots.in_flight() != 0 {
            self.slots.set_shut(s.guard.is_some());
            return false;
        }
        s.removed = true;
        true
    }

    /// True once removed (or retired).
    pub(crate) fn is_removed(&self) -> bool {
        lock(&self.slow).removed
    }
}
