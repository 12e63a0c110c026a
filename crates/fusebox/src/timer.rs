//! One timer for a whole Fusebox.
//!
//! A blown fuse must heal on time even if nobody asks, so its heal and event
//! happen at the deadline. Instead of a timer per fuse (Erlang fuse used one
//! `erlang:send_after` each), every deadline goes into one heap, and one
//! thread sleeps until the earliest. On a [`ManualClock`](crate::ManualClock)
//! there is no thread: advancing the clock fires what fell due.
//!
//! Correctness never rests on this timer alone: a fuse whose deadline has
//! passed answers as healed even if the timer is late (see `fuse/engine.rs`).
//! An entry is a [`Task`]: a closure that holds its target weakly and carries
//! its own typed message (a fuse's ticket, a tick's kind), so the timer knows
//! nothing of what it fires. A fuse's task carries the ticket of the state it
//! was scheduled for; when a reset, reinstall or new blow has moved the fuse
//! on, the ticket no longer matches and the firing does nothing, as fuse
//! ignored stale timer messages.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::clock::{Advanced, Timebase};
use crate::sync::{self, Condvar, Locked, Mutex};

/// When a task fires: the deadline it was scheduled for and the clock's
/// reading when it ran (`now >= at`), both in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Due {
    pub(crate) at: u64,
    pub(crate) now: u64,
}

/// What a timer entry runs, once, outside the timer's lock.
pub(crate) type Task = Box<dyn FnOnce(Due) + Send>;

struct Entry {
    at: u64,
    seq: u64,
    task: Task,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    thread_started: bool,
    shutdown: bool,
}

/// The timer heap of one Fusebox.
pub(crate) struct Timers {
    heap: Mutex<Heap>,
    wake: Condvar,
    timebase: Timebase,
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("pending", &self.lock().entries.len())
            .finish()
    }
}

impl Timers {
    pub(crate) fn new(timebase: Timebase) -> Arc<Self> {
        let timers = Arc::new(Timers {
            heap: Mutex::new(Heap::default()),
            wake: Condvar::new(),
            timebase: timebase.clone(),
        });
        if let Some(clock) = timebase.manual() {
            let me: Weak<dyn Advanced> = Arc::downgrade(&timers) as Weak<dyn Advanced>;
            clock.watch(me);
        }
        timers
    }

    fn lock(&self) -> Locked<'_, Heap> {
        sync::lock(&self.heap)
    }

    /// Runs `task` once the clock reaches `at` (ns).
    pub(crate) fn schedule(self: &Arc<Self>, at: u64, task: impl FnOnce(Due) + Send + 'static) {
        self.schedule_boxed(at, Box::new(task));
    }

    fn schedule_boxed(self: &Arc<Self>, at: u64, task: Task) {
        let mut heap = self.lock();
        if heap.shutdown {
            return;
        }
        heap.seq += 1;
        let seq = heap.seq;
        let earliest = heap.entries.peek().is_none_or(|Reverse(e)| at < e.at);
        heap.entries.push(Reverse(Entry { at, seq, task }));
        if self.timebase.manual().is_none() && !heap.thread_started {
            heap.thread_started = true;
            let me = self.clone();
            // If the thread cannot start, fuses still heal lazily on their
            // next operation; only the on-time event is lost.
            let _ = std::thread::Builder::new()
                .name("fusebox-timer".into())
                .spawn(move || me.run());
        }
        drop(heap);
        if earliest {
            self.wake.notify_one();
        }
    }

    /// Fires, in deadline order, every entry due at `now`.
    pub(crate) fn fire_due(&self, now: u64) {
        loop {
            let entry = {
                let mut heap = self.lock();
                match heap.entries.peek() {
                    Some(Reverse(e)) if e.at <= now => heap.entries.pop().map(|Reverse(e)| e),
                    _ => None,
                }
            };
            let Some(e) = entry else { return };
            (e.task)(Due { at: e.at, now });
        }
    }

    /// The timer thread: sleeps until the earliest deadline, fires, repeats.
    fn run(self: Arc<Self>) {
        let mut heap = self.lock();
        loop {
            if heap.shutdown {
                return;
            }
            let now = self.timebase.now();
            let next = heap.entries.peek().map(|Reverse(e)| e.at);
            match next {
                Some(at) if at <= now => {
                    drop(heap);
                    self.fire_due(now);
                    heap = self.lock();
                }
                Some(at) => {
                    let wait = Duration::from_nanos(at - now);
                    heap = sync::wait_timeout(&self.wake, heap, wait);
                }
                None => {
                    heap = sync::wait(&self.wake, heap);
                }
            }
        }
    }

    /// Stops the thread and drops every entry.
    pub(crate) fn shutdown(&self) {
        let mut heap = self.lock();
        heap.shutdown = true;
        // The tasks are dropped after unlocking: a task's captures are its
        // owner's values, and their drop must not run under the timer's lock.
        let entries = std::mem::take(&mut heap.entries);
        drop(heap);
        drop(entries);
        self.wake.notify_all();
    }

    /// Entries waiting (stale ones included until they fire).
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.lock().entries.len()
    }
}

impl Advanced for Timers {
    fn advanced(&self, now: u64) {
        self.fire_due(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicU64, Ordering as AtOrd};

    #[derive(Default)]
    struct Log(Mutex<Vec<(u64, u64, u64)>>, AtomicU64);
    impl Log {
        fn fire(&self, ticket: u64, due: Due) {
            self.0.lock().unwrap().push((ticket, due.at, due.now));
            self.1.fetch_add(1, AtOrd::SeqCst);
        }
    }

    /// A task that logs `ticket` into `log`.
    fn logs(log: &Arc<Log>, ticket: u64) -> impl FnOnce(Due) + Send + 'static {
        let log = log.clone();
        move |due| log.fire(ticket, due)
    }

    #[test]
    fn manual_fires_in_deadline_order() {
        let clock = ManualClock::new();
        let timers = Timers::new(Timebase::from_clock(clock.clone()));
        let log = Arc::new(Log::default());
        timers.schedule(30, logs(&log, 3));
        timers.schedule(10, logs(&log, 1));
        timers.schedule(20, logs(&log, 2));
        clock.advance(Duration::from_nanos(25));
        assert_eq!(*log.0.lock().unwrap(), vec![(1, 10, 25), (2, 20, 25)]);
        clock.advance(Duration::from_nanos(5));
        assert_eq!(log.0.lock().unwrap().len(), 3);
        assert_eq!(timers.pending(), 0);
    }

    /// A task's captures are its owner's values; their drop may use the
    /// timer again (here: schedule), so shutdown drops them unlocked.
    #[test]
    fn shutdown_drops_tasks_after_unlocking() {
        struct Reschedules(Weak<Timers>);
        impl Drop for Reschedules {
            fn drop(&mut self) {
                if let Some(t) = self.0.upgrade() {
                    t.schedule(1, |_| {});
                }
            }
        }
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let timers = Timers::new(Timebase::from_clock(ManualClock::new()));
            let owned = Reschedules(Arc::downgrade(&timers));
            timers.schedule(10, move |_| drop(owned));
            timers.shutdown();
            done.send(timers.pending()).unwrap();
        });
        let pending = finished
            .recv_timeout(Duration::from_secs(20))
            .expect("shutdown deadlocked: a task was dropped under the timer's lock");
        assert_eq!(pending, 0, "nothing is scheduled after shutdown");
    }

    #[test]
    fn real_thread_fires_on_time() {
        let tb = Timebase::from_clock(crate::clock::MonotonicClock::new());
        let timers = Timers::new(tb.clone());
        let log = Arc::new(Log::default());
        let at = tb.now() + 20_000_000;
        timers.schedule(at, logs(&log, 7));
        let start = std::time::Instant::now();
        while log.1.load(AtOrd::SeqCst) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timer never fired"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let (ticket, fired_at, now) = log.0.lock().unwrap()[0];
        assert_eq!((ticket, fired_at), (7, at));
        assert!(now >= at);
        timers.shutdown();
    }
}
