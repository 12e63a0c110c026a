//! One subscriber's bounded buffer of events, shared by the bus that
//! pushes and the [`Subscription`](super::Subscription) that receives.
//!
//! A full buffer loses its oldest event and counts the loss, so a publisher
//! (often a melting caller holding its fuse's lock) never waits; a push or a
//! close wakes the waiting receiver only after unlocking, so the woken task
//! does not block on the buffer it was woken for.

use std::collections::VecDeque;
use std::task::Waker;

use super::Event;
use crate::sync::{self, Condvar, Locked, Mutex};

/// The events waiting, the count lost, and the receiver to wake.
#[derive(Debug)]
pub(super) struct Buffer {
    pub(super) events: VecDeque<Event>,
    pub(super) lost: u64,
    pub(super) closed: bool,
    pub(super) waker: Option<Waker>,
}

/// A [`Buffer`] behind its lock, with the condition a blocking receive
/// waits on and the most it holds.
#[derive(Debug)]
pub(super) struct Queue {
    pub(super) buf: Mutex<Buffer>,
    pub(super) ready: Condvar,
    pub(super) capacity: usize,
}

impl Queue {
    pub(super) fn lock(&self) -> Locked<'_, Buffer> {
        sync::lock(&self.buf)
    }

    pub(super) fn push(&self, event: &Event) {
        let waker = {
            let mut b = self.lock();
            if b.events.len() == self.capacity {
                b.events.pop_front();
                b.lost += 1;
            }
            b.events.push_back(event.clone());
            b.waker.take()
        };
        // Wake only after unlocking, so the woken task does not block on us.
        self.ready.notify_one();
        if let Some(w) = waker {
            sync::wake(w);
        }
    }

    pub(super) fn close(&self) {
        let waker = {
            let mut b = self.lock();
            b.closed = true;
            b.waker.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            sync::wake(w);
        }
    }
}
