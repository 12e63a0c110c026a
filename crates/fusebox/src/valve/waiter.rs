//! A task waiting for a slot, and how it learns its fate.
//!
//! A waiter is settled exactly once (granted or refused) by whoever holds
//! the valve's lock, and woken once that lock is released (`sync.rs`); the task looks (async: with its waker; blocking: on a
//! condition variable) and takes its permit or its refusal. A waiter that
//! goes away (a dropped future) leaves the queue, or gives back the slot it
//! was granted and never took: cancel-safe by construction.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Waker;

use super::engine::{Stamp, ValveCore};
use super::Refused;
use crate::sync::{lock, Condvar, Mutex};

/// One task waiting for a slot.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(super) since: u64,
    pub(super) deadline: u64,
    pub(super) state: Mutex<WaitState>,
    pub(super) cv: Condvar,
}

#[derive(Debug)]
pub(super) enum WaitState {
    Waiting(Option<Waker>),
    /// A slot was taken for this waiter at `at`, with `in_flight` running
    /// (itself included); it becomes a permit when the waiter looks, or is
    /// given back if the waiter is gone.
    Granted {
        at: u64,
        in_flight: usize,
    },
    Refused(Refused),
    /// The waiter took its permit or its refusal.
    Done,
}

impl Waiter {
    pub(super) fn settle(&self, to: WaitState) -> bool {
        let mut st = lock(&self.state);
        let WaitState::Waiting(waker) = std::mem::replace(&mut *st, to) else {
            // Only a waiting waiter is in the queue; keep what it has.
            return false;
        };
        drop(st);
        self.cv.notify_all();
        // The caller holds the valve's lock: the wake runs once it is
        // released (`sync.rs`), so a waker that re-enters the valve finds
        // it free.
        if let Some(w) = waker {
            crate::sync::wake(w);
        }
        true
    }
}

/// What an attempt to enter the valve led to.
pub(crate) enum Entry {
    /// Started; what its permit remembers of the start.
    Admitted(Stamp),
    Refused(Refused),
    Queued(Arc<Waiter>),
}

/// What the waiter found when it looked.
pub(crate) enum Looked {
    /// Granted; what its permit remembers of the start.
    Admitted(Stamp),
    Refused(Refused),
    Waiting,
}

impl ValveCore {
    /// The waiter looks at its state; `waker` is woken when it changes.
    pub(crate) fn look(&self, w: &Waiter, waker: Option<&Waker>) -> Looked {
        let mut st = lock(&w.state);
        match &mut *st {
            WaitState::Granted { at, in_flight } => {
                let (at, in_flight) = (*at, *in_flight);
                *st = WaitState::Done;
                Looked::Admitted(self.stamp(Some(at), in_flight))
            }
            WaitState::Refused(r) => {
                let r = *r;
                *st = WaitState::Done;
                Looked::Refused(r)
            }
            WaitState::Waiting(slot) => {
                if let Some(waker) = waker {
                    if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
                        if let Some(old) = slot.replace(waker.clone()) {
                            crate::sync::wake_dropped(old);
                        }
                    }
                }
                Looked::Waiting
            }
            WaitState::Done => Looked::Refused(Refused::Removed),
        }
    }

    /// Blocks the thread until the waiter is granted (the answer is what
    /// its permit remembers of the start) or refused.
    pub(crate) fn wait(&self, w: &Waiter) -> Result<Stamp, Refused> {
        let mut st = lock(&w.state);
        loop {
            match &*st {
                WaitState::Granted { at, in_flight } => {
                    let (at, in_flight) = (*at, *in_flight);
                    *st = WaitState::Done;
                    drop(st);
                    return Ok(self.stamp(Some(at), in_flight));
                }
                WaitState::Refused(r) => {
                    let r = *r;
                    *st = WaitState::Done;
                    return Err(r);
                }
                WaitState::Done => return Err(Refused::Removed),
                WaitState::Waiting(_) => st = crate::sync::wait(&w.cv, st),
            }
        }
    }

    /// The waiter is gone (its future was dropped): leave the queue, or give
    /// back the slot it was granted and never took.
    pub(crate) fn cancel(&self, w: &Arc<Waiter>) {
        let mut s = lock(&self.slow);
        let mut st = lock(&w.state);
        match &*st {
            WaitState::Waiting(_) => {
                *st = WaitState::Done;
                drop(st);
                if let Some(i) = s.queue.iter().position(|x| Arc::ptr_eq(x, w)) {
                    s.queue.remove(i);
                }
                self.queued.store(s.queue.len(), Ordering::SeqCst);
            }
            WaitState::Granted { .. } => {
                *st = WaitState::Done;
                drop(st);
                // The task never started: it was not admitted after all
                // (it was cancelled), and its slot goes back.
                // Ordering: a statistic.
                self.stats.admitted.fetch_sub(1, Ordering::Relaxed);
                self.slots.give_back();
                let now = self.now();
                self.dispatch(&mut s, now);
            }
            WaitState::Refused(_) | WaitState::Done => {}
        }
    }
}
