//! What an operator (or the registry) does to a fuse: reset, disable,
//! enable, unlock a barrier, reinstall with a new config, remove. Each takes
//! the lock, applies due heal steps first, changes the slow state, publishes
//! the word and reports the transition.

use std::sync::atomic::Ordering;

use super::config::FuseConfig;
use super::engine::{Answer, FuseCore};
use super::heal::Step;
use super::slow::{Phase, Slow};
use super::state::Cause;
use crate::sync::{lock, Locked};

impl FuseCore {
    /// The slow state under the lock, with every heal step due by the
    /// clock's `now` applied, and `now`; `None` for a removed fuse. The way
    /// every operator operation begins.
    fn lock_caught_up(&self) -> Option<(Locked<'_, Slow>, u64)> {
        let mut s = lock(&self.slow);
        if s.removed {
            return None;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        Some((s, now))
    }

    /// Heal now: ok, empty history, program cancelled. Keeps a disabled fuse disabled.
    pub(crate) fn reset(&self) -> Answer {
        self.mutate(|s, _| {
            s.settle();
            s.attempt = 0;
            Cause::Reset
        })
    }

    pub(crate) fn disable(&self) -> Answer {
        self.mutate(|s, _| {
            if !s.disabled {
                s.disabled = true;
                s.settle();
            }
            Cause::Disable
        })
    }

    pub(crate) fn enable(&self) -> Answer {
        self.mutate(|s, _| {
            if s.disabled {
                s.disabled = false;
                s.settle();
                s.attempt = 0;
            }
            Cause::Enable
        })
    }

    /// Releases a barrier step (anything else: nothing happens).
    pub(crate) fn unlock(&self) -> Answer {
        let Some((mut s, now)) = self.lock_caught_up() else {
            return Answer::Removed;
        };
        if s.disabled {
            return Answer::Ok;
        }
        if let Phase::Healing { step, .. } = s.phase {
            if s.config.heal.steps().get(step) == Some(&Step::Barrier) {
                self.enter(&mut s, step + 1, now);
            }
        }
        Answer::Ok
    }

    /// New config, state reset to ok, history cleared, program cancelled;
    /// the disabled flag is kept. Always emits `installed`.
    pub(crate) fn reinstall(&self, config: FuseConfig) -> Answer {
        let Some((mut s, now)) = self.lock_caught_up() else {
            return Answer::Removed;
        };
        let from = s.state();
        s.config = config;
        s.settle();
        s.attempt = 0;
        // Ordering: config flags order nothing (see `times_calls`).
        self.flags.store(s.flags(), Ordering::Relaxed);
        self.publish(&s);
        self.emit(Some(from), Some(s.state()), Cause::Install, now);
        Answer::Ok
    }

    /// Marks the fuse removed: handles refuse, by-name calls say not found.
    pub(crate) fn remove(&self) -> Answer {
        let Some((mut s, now)) = self.lock_caught_up() else {
            return Answer::Removed;
        };
        let from = s.state();
        s.removed = true;
        s.ticket += 1;
        self.publish(&s);
        self.emit(Some(from), None, Cause::Remove, now);
        Answer::Ok
    }

    /// Runs an operator mutation: lock, clock, catch up, change, publish, and
    /// an event if the state changed.
    fn mutate(&self, change: impl FnOnce(&mut Slow, u64) -> Cause) -> Answer {
        let Some((mut s, now)) = self.lock_caught_up() else {
            return Answer::Removed;
        };
        let from = s.state();
        let cause = change(&mut s, now);
        if s.phase == Phase::Ok {
            s.healed_at = Some(now);
        }
        self.publish(&s);
        let to = s.state();
        if from != to {
            self.emit(Some(from), Some(to), cause, now);
        }
        Answer::Ok
    }
}
