//! Delivering events: one bus per Fusebox, a bounded buffer per subscriber.
//! Publishing never blocks and never waits for a subscriber; a full buffer
//! loses its oldest event and counts the loss.
//!
//! # Implementation details
//!
//! The bus keeps its subscribers as a copy-on-write list: an
//! `Arc<[Arc<Queue>]>` behind a lock. Publishing takes the lock only long
//! enough to clone that `Arc` (one atomic increment), then pushes to each
//! queue and wakes each waiting receiver with no bus lock held. So a
//! publisher, who is often a melting caller holding its fuse's lock, does
//! O(live subscribers) work and never any cleanup, and a waker that drops a
//! task (and with it a [`Subscription`]) cannot deadlock against the bus.
//!
//! Subscribing and unsubscribing build a new list, O(subscribers), on the
//! subscriber's own thread and outside the lock publishers read (the write
//! lock only swaps the pointer): a [`Subscription`]'s `Drop` takes its queue out
//! of the list at once, so a subscriber that is gone costs the publishers
//! nothing from that moment (an earlier version left dead queues in the list
//! until the next publish pruned them, on the publisher's thread). A publish
//! that cloned the list just before an unsubscribe still pushes to the old
//! queue, which is then freed when that publish ends: a bounded race, never a
//! sweep.
//!
//! A queue's buffer starts empty and grows on demand up to its capacity, so
//! an idle subscriber costs a few words, not `capacity` events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::queue::{Buffer, Queue};
use super::subscription::{Leave, Subscription};
use super::{Event, EventKind};
use crate::fuse::{Cause, FuseState, Notify, Step};
use crate::sync::{self, Condvar, Mutex, RwLock};

/// The publishing side, one per Fusebox.
#[derive(Debug)]
pub(crate) struct Bus {
    /// The live subscribers, replaced whole on every change (see the module
    /// docs); never holds a queue whose [`Subscription`] was dropped, but for
    /// the instant of the race described there. Written only to swap the
    /// list, so a publisher waits at most for a pointer swap.
    subs: RwLock<Arc<[Arc<Queue>]>>,
    /// Taken by whoever builds a new list (subscribe, unsubscribe), so that
    /// two changes never build from the same old list and lose one.
    writers: Mutex<()>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            subs: RwLock::new(Arc::from(Vec::<Arc<Queue>>::new())),
            writers: Mutex::new(()),
        }
    }
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
        // A tracing subscriber is foreign code: it runs once the melting
        // fuse's lock is released.
        #[cfg(feature = "tracing")]
        {
            let name = name.clone();
            sync::later(move || super::trace::melt(&name, blown));
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (name, blown);
    }
}

impl Bus {
    /// Hands `event` to every live subscriber: one clone of the list's `Arc`
    /// under the lock, then a push per subscriber with no bus lock held.
    pub(crate) fn publish(&self, event: Event) {
        // A tracing subscriber is foreign code: it runs once the publisher's
        // locks are released (the queues below are filled now, under them,
        // so each subscriber sees a fuse's events in state order).
        #[cfg(feature = "tracing")]
        {
            let event = event.clone();
            sync::later(move || super::trace::event(&event));
        }
        let subs = Arc::clone(&sync::read(&self.subs));
        for q in subs.iter() {
            q.push(&event);
        }
    }

    /// A new subscriber. Its buffer holds nothing until events come, and at
    /// most `capacity` (at least 1) of them.
    pub(crate) fn subscribe(self: &Arc<Self>, capacity: usize) -> Subscription {
        let q = Arc::new(Queue {
            buf: Mutex::new(Buffer {
                // Grows on demand: an idle subscriber allocates no events.
                events: VecDeque::new(),
                lost: 0,
                closed: false,
                waker: None,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        self.replace(|old| old.iter().cloned().chain([q.clone()]).collect());
        // The subscription leaves through `Leave`, knowing no more of the bus.
        let bus: std::sync::Weak<dyn Leave> = Arc::downgrade(self) as _;
        Subscription { q, bus }
    }

    /// Swaps in the list `f` builds from the current one. The list is built
    /// outside the lock publishers read, and the lists replaced are dropped
    /// after every lock is released (dropping a queue drops its waker, which
    /// may drop a task, and with it another subscription).
    fn replace(&self, f: impl FnOnce(&[Arc<Queue>]) -> Arc<[Arc<Queue>]>) {
        let writer = sync::lock(&self.writers);
        let current = Arc::clone(&sync::read(&self.subs));
        let new = f(&current);
        let old = std::mem::replace(&mut *sync::write(&self.subs), new);
        drop(writer);
        drop((old, current));
    }

    /// How many subscribers the bus holds now.
    #[cfg(test)]
    pub(super) fn subscribers(&self) -> usize {
        sync::read(&self.subs).len()
    }
}

impl Leave for Bus {
    /// Takes `q` out of the list (a [`Subscription`] being dropped).
    fn leave(&self, q: &Arc<Queue>) {
        self.replace(|old| {
            old.iter()
                .filter(|other| !Arc::ptr_eq(other, q))
                .cloned()
                .collect()
        });
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        for q in sync::read(&self.subs).iter() {
            q.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::RecvError;
    use super::*;
    use std::task::{Context, Wake, Waker};

    fn event(name: &str) -> Event {
        Event {
            name: Arc::from(name),
            kind: EventKind::AlarmCleared {
                alarm: super::super::AlarmKind::FuseBlown,
            },
            at: Duration::ZERO,
        }
    }

    #[test]
    fn a_dropped_subscription_leaves_the_bus_at_once() {
        let bus = Arc::new(Bus::default());
        let subs: Vec<_> = (0..100).map(|_| bus.subscribe(1024)).collect();
        assert_eq!(bus.subscribers(), 100);
        drop(subs);
        // No publish in between: dropping alone freed them.
        assert_eq!(bus.subscribers(), 0);
        let kept = bus.subscribe(4);
        let gone = bus.subscribe(4);
        drop(gone);
        bus.publish(event("a"));
        assert_eq!(bus.subscribers(), 1);
        assert_eq!(&*kept.try_recv().unwrap().name, "a");
    }

    #[test]
    fn churn_beside_publishing_loses_no_subscriber_and_no_event() {
        let bus = Arc::new(Bus::default());
        let kept = bus.subscribe(10_000);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..2_000 {
                        let a = bus.subscribe(4);
                        let b = bus.subscribe(4);
                        drop(a);
                        drop(b);
                    }
                });
            }
            s.spawn(|| {
                for i in 0..5_000 {
                    bus.publish(event(&i.to_string()));
                }
            });
        });
        assert_eq!(bus.subscribers(), 1);
        for i in 0..5_000 {
            assert_eq!(*kept.try_recv().unwrap().name, *i.to_string());
        }
        assert_eq!(kept.try_recv(), Err(RecvError::Empty));
    }

    #[test]
    fn an_idle_subscription_allocates_no_events() {
        let bus = Arc::new(Bus::default());
        let sub = bus.subscribe(1024);
        assert_eq!(sub.q.lock().events.capacity(), 0);
        for i in 0..3000 {
            bus.publish(event(&i.to_string()));
        }
        // Grown on demand, never past what the capacity needs.
        let cap = sub.q.lock().events.capacity();
        assert!((1024..2048).contains(&cap), "{cap}");
        assert_eq!(sub.try_recv(), Err(RecvError::Lagged(3000 - 1024)));
        assert_eq!(&*sub.try_recv().unwrap().name, "1976");
    }

    #[test]
    fn a_subscription_outliving_its_bus_drops_quietly() {
        let bus = Arc::new(Bus::default());
        let sub = bus.subscribe(4);
        drop(bus);
        assert_eq!(sub.try_recv(), Err(RecvError::Closed));
        drop(sub);
    }

    /// A waker whose `wake` drops the subscription it woke (as an executor
    /// dropping a finished task may): publishing must not deadlock.
    struct DropOnWake(Mutex<Option<Subscription>>);

    impl Wake for DropOnWake {
        fn wake(self: Arc<Self>) {
            drop(self.0.lock().unwrap().take());
        }
    }

    #[test]
    fn a_subscription_dropped_by_a_wake_inside_publish_does_not_deadlock() {
        let bus = Arc::new(Bus::default());
        let holder = Arc::new(DropOnWake(Mutex::new(None)));
        let waker = Waker::from(holder.clone());
        let sub = bus.subscribe(4);
        assert!(sub.poll_recv(&mut Context::from_waker(&waker)).is_pending());
        *holder.0.lock().unwrap() = Some(sub);
        drop(waker);
        bus.publish(event("a")); // wakes, and the wake drops `sub`
        assert!(holder.0.lock().unwrap().is_none());
        assert_eq!(bus.subscribers(), 0);
    }
}
