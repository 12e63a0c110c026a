//! Delivering events: one bus per Fusebox, a bounded buffer per subscriber.
//! Publishing never blocks and never waits for a subscriber; a full buffer
//! loses its oldest event and counts the loss.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::task::Waker;
use std::time::Duration;

use super::subscription::{RecvError, Subscription};
use super::{Event, EventKind};
use crate::fuse::{Cause, FuseState, Notify, Step};

#[derive(Debug)]
pub(super) struct Buffer {
    pub(super) events: VecDeque<Event>,
    pub(super) lost: u64,
    pub(super) closed: bool,
    pub(super) waker: Option<Waker>,
}

#[derive(Debug)]
pub(super) struct Queue {
    pub(super) buf: Mutex<Buffer>,
    pub(super) ready: Condvar,
    pub(super) capacity: usize,
}

impl Queue {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
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
            w.wake();
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
            w.wake();
        }
    }
}

pub(super) fn take(b: &mut Buffer) -> Option<Result<Event, RecvError>> {
    if b.lost > 0 {
        let n = std::mem::take(&mut b.lost);
        return Some(Err(RecvError::Lagged(n)));
    }
    if let Some(e) = b.events.pop_front() {
        return Some(Ok(e));
    }
    if b.closed {
        return Some(Err(RecvError::Closed));
    }
    None
}

/// The publishing side, one per Fusebox.
#[derive(Debug, Default)]
pub(crate) struct Bus {
    subs: RwLock<Vec<Arc<Queue>>>,
}

/// The fuses report to the bus: each transition becomes an [`Event`].
impl Notify for Bus {
    fn transition(
        &self,
        name: &Arc<str>,
        from: Option<FuseState>,
        to: Option<FuseState>,
        cause: Cause,
        at: u64,
    ) {
        self.publish(Event {
            name: name.clone(),
            kind: EventKind::Transition { from, to, cause },
            at: Duration::from_nanos(at),
        });
    }

    fn heal_step(&self, name: &Arc<str>, index: usize, step: Step, at: u64) {
        self.publish(Event {
            name: name.clone(),
            kind: EventKind::HealStep { index, step },
            at: Duration::from_nanos(at),
        });
    }

    fn melted(&self, name: &Arc<str>, blown: bool) {
        #[cfg(feature = "tracing")]
        super::trace::melt(name, blown);
        #[cfg(not(feature = "tracing"))]
        let _ = (name, blown);
    }
}

impl Bus {
    pub(crate) fn publish(&self, event: Event) {
        #[cfg(feature = "tracing")]
        super::trace::event(&event);
        let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let mut gone = false;
        for q in subs.iter() {
            // A queue nobody holds any more is pruned below.
            if Arc::strong_count(q) == 1 {
                gone = true;
                continue;
            }
            q.push(&event);
        }
        drop(subs);
        if gone {
            let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
            subs.retain(|q| Arc::strong_count(q) > 1);
        }
    }

    pub(crate) fn subscribe(&self, capacity: usize) -> Subscription {
        let q = Arc::new(Queue {
            buf: Mutex::new(Buffer {
                events: VecDeque::with_capacity(capacity.min(1024)),
                lost: 0,
                closed: false,
                waker: None,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        self.subs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(q.clone());
        Subscription { q }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        for q in self
            .subs
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            q.close();
        }
    }
}
