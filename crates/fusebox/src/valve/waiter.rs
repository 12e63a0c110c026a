//! A task waiting for a slot, and how its fate is told.
//!
//! A waiter is settled exactly once (granted or refused) by whoever holds
//! the valve's lock, and woken once that lock is released (`sync.rs`); the
//! task looks (async: with its waker; blocking: on a condition variable) and
//! takes its permit or its refusal (`ValveCore::look` and `ValveCore::wait`,
//! in `engine.rs`). A waiter that
//! goes away (a dropped future) leaves the queue, or gives back the slot it
//! was granted and never took (`ValveCore::cancel`): cancel-safe by
//! construction. This file knows nothing of the valve: the engine holds
//! waiters, never the other way round.

use std::task::Waker;

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
