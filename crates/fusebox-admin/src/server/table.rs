//! The open connections, their cap, and which one makes room at the cap.
//!
//! Why not a semaphore: a semaphore of `max_connections` permits makes the
//! cap a first-come lock. Whoever opens that many connections and sends
//! nothing holds every permit until the timeouts fire, and an operator's
//! request waits (or is refused) behind them. The table instead keeps every
//! connection's phase, and at the cap closes the one that has waited longest
//! for a request: clients that hoard idle connections only ever evict each
//! other, while a connection that is answering a request keeps its place.
//!
//! The accept loop is the only one that adds entries, so checking the count
//! and inserting need no more than the table's lock; connections leave the
//! table when their task ends (or at once, when evicted).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Nothing recorded (for `head_since`).
const NONE: u64 = u64::MAX;

/// A connection's phase: waiting for a request, evictable.
const WAITING: u8 = 0;
/// A request is being read, handled or answered: never evicted.
const BUSY: u8 = 1;
/// Chosen for eviction; it takes no new request.
const CLOSING: u8 = 2;

/// What the server knows of one connection. Its own task (hyper's connection
/// future, the I/O wrapper, the service and the response body, all polled by
/// that one task) writes the times; the accept loop reads them to pick whom
/// to evict.
///
/// # Memory ordering
///
/// The times are `Relaxed`: each is a self-contained reading of a clock, and
/// a stale one only makes the watchdog wake early (it then re-reads them) or
/// the eviction pick a slightly different victim. The phase changes by
/// compare-and-swap (`AcqRel`), so a connection that starts a request and an
/// eviction that picks it agree on who won: either the request runs or the
/// connection closes, never a request cut off half-way for room.
#[derive(Debug)]
pub(crate) struct Conn {
    id: u64,
    epoch: Instant,
    phase: AtomicU8,
    /// When it last started waiting for a request: its accept, or the end of
    /// its last response. The eviction victim has the smallest.
    waiting_since: AtomicU64,
    /// When the head being read started (the accept for the first request,
    /// the first byte for later ones), or `NONE`.
    head_since: AtomicU64,
    /// The last time a byte was read or written.
    last_io: AtomicU64,
    /// Told when the connection was evicted: its task drops it.
    pub(crate) evicted: Notify,
}

impl Conn {
    fn now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    /// Bytes came in (called by the I/O wrapper).
    pub(crate) fn on_read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.phase.load(Ordering::Relaxed) == WAITING
            && self.head_since.load(Ordering::Relaxed) == NONE
        {
            self.head_since.store(now, Ordering::Relaxed);
        }
    }

    /// Bytes went out.
    pub(crate) fn on_write(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// A request's head is complete and about to be handled. False if the
    /// connection was evicted first: the request must not run.
    pub(crate) fn begin_request(self: &Arc<Self>) -> Option<Busy> {
        let won = self
            .phase
            .compare_exchange(WAITING, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        self.head_since.store(NONE, Ordering::Relaxed);
        won.then(|| Busy(self.clone()))
    }

    /// When the watchdog should close the connection if nothing changes:
    /// `idle` after the last byte, or `header` after the head began.
    pub(crate) fn deadline(&self, idle: Duration, header: Duration) -> Instant {
        let mut due = self
            .last_io
            .load(Ordering::Relaxed)
            .saturating_add(nanos(idle));
        let head = self.head_since.load(Ordering::Relaxed);
        if head != NONE && self.phase.load(Ordering::Relaxed) == WAITING {
            due = due.min(head.saturating_add(nanos(header)));
        }
        // At most a day ahead: the watchdog then wakes and looks again.
        let cap = self
            .now()
            .saturating_add(nanos(Duration::from_secs(86_400)));
        self.epoch + Duration::from_nanos(due.min(cap))
    }

    /// Marks the connection evicted if it is waiting for a request; its
    /// task is told by [`tell_evicted`](Self::tell_evicted), which the
    /// caller does once it holds no lock (the wake may run the task inline,
    /// and the task's `Slot` takes the table's lock when dropped).
    fn try_evict(&self) -> bool {
        self.phase
            .compare_exchange(WAITING, CLOSING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Tells the connection's task it was evicted. A stored permit if the
    /// task is not waiting yet: never lost.
    fn tell_evicted(&self) {
        self.evicted.notify_one();
    }
}

/// A request in progress on a connection; dropped when its response is done
/// (the response body is dropped), which puts the connection back to
/// waiting.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        let c = &self.0;
        let now = c.now();
        c.waiting_since.store(now, Ordering::Relaxed);
        c.last_io.store(now, Ordering::Relaxed);
        c.head_since.store(NONE, Ordering::Relaxed);
        // Failing means CLOSING: an eviction cannot pick a busy connection,
        // but stay safe if it ever could.
        let _ = c
            .phase
            .compare_exchange(BUSY, WAITING, Ordering::AcqRel, Ordering::Acquire);
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Every open connection of one server.
#[derive(Debug)]
pub(crate) struct Table {
    max: usize,
    epoch: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
}

impl Table {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Table {
            max,
            epoch: Instant::now(),
            inner: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for a new connection, made by evicting the one waiting longest
    /// if the table is full; `None` if every connection is busy.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Slot> {
        // Declared before the lock, so the evicted are told after it is
        // released (locals drop in reverse order), on every return.
        let mut evicted = Evicted(Vec::new());
        let mut inner = self.lock();
        // Bounded: each round removes an entry or ends.
        while inner.conns.len() >= self.max {
            let victim = inner
                .conns
                .values()
                .filter(|c| c.phase.load(Ordering::Acquire) == WAITING)
                .min_by_key(|c| c.waiting_since.load(Ordering::Relaxed))
                .cloned()?;
            if victim.try_evict() {
                inner.conns.remove(&victim.id);
                evicted.0.push(victim);
            }
            // Else it became busy meanwhile: look again.
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let now = nanos(self.epoch.elapsed());
        let conn = Arc::new(Conn {
            id,
            epoch: self.epoch,
            phase: AtomicU8::new(WAITING),
            waiting_since: AtomicU64::new(now),
            head_since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            evicted: Notify::new(),
        });
        inner.conns.insert(id, conn.clone());
        Some(Slot {
            table: self.clone(),
            conn,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().conns.len()
    }
}

/// Connections evicted under the table's lock, told when this is dropped,
/// after the lock.
struct Evicted(Vec<Arc<Conn>>);

impl Drop for Evicted {
    fn drop(&mut self) {
        for c in self.0.drain(..) {
            c.tell_evicted();
        }
    }
}

/// A connection's place in the table, given back when dropped (when its task
/// ends or is aborted).
#[derive(Debug)]
pub(crate) struct Slot {
    table: Arc<Table>,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.lock().conns.remove(&self.conn.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_makes_room() {
        let tick = || tokio::time::advance(Duration::from_millis(1));
        let t = Table::new(3);
        let a = t.admit().unwrap();
        tick().await;
        let b = t.admit().unwrap();
        tick().await;
        let c = t.admit().unwrap();
        tick().await;
        // `a` is answering a request: `b` has waited longest of the others.
        let busy = a.conn.begin_request().unwrap();
        let d = t.admit().unwrap();
        assert_eq!(t.len(), 3);
        assert!(b.conn.begin_request().is_none(), "b was evicted");
        tick().await;
        // `a` finishes: it now waits since the latest time of all.
        drop(busy);
        let e = t.admit().unwrap(); // evicts c
        assert!(c.conn.begin_request().is_none(), "c was evicted");
        let _busy = [&a, &d, &e].map(|s| s.conn.begin_request().unwrap());
        // Everyone busy: no room.
        assert!(t.admit().is_none());
        drop((b, c));
        assert_eq!(t.len(), 3);
        drop(d);
        assert_eq!(t.len(), 2);
        assert!(t.admit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines() {
        let t = Table::new(1);
        let s = t.admit().unwrap();
        let (idle, header) = (Duration::from_secs(60), Duration::from_secs(10));
        let start = Instant::now();
        // The first head counts from the accept.
        assert_eq!(s.conn.deadline(idle, header), start + header);
        tokio::time::advance(Duration::from_secs(1)).await;
        s.conn.on_read();
        assert_eq!(s.conn.deadline(idle, header), start + header);
        let busy = s.conn.begin_request().unwrap();
        // Busy: only idleness counts.
        assert_eq!(
            s.conn.deadline(idle, header),
            start + Duration::from_secs(61)
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(busy);
        let done = Instant::now();
        assert_eq!(s.conn.deadline(idle, header), done + idle);
        tokio::time::advance(Duration::from_secs(5)).await;
        s.conn.on_read(); // the next head's first byte
        let first = Instant::now();
        assert_eq!(s.conn.deadline(idle, header), first + header);
        // No overflow with huge timeouts.
        let far = s.conn.deadline(Duration::MAX, Duration::MAX);
        assert!(far > first + Duration::from_secs(3600));
    }

    /// The evicted task's waker may run it inline: its `Slot` is dropped
    /// from inside the wake and takes the table's lock, which `admit` must
    /// no longer hold.
    #[test]
    fn an_eviction_wakes_its_task_after_the_table_lock() {
        use std::future::Future;
        use std::sync::mpsc;
        use std::task::{Context, Wake, Waker};

        struct DropSlot(Mutex<Option<Slot>>);
        impl Wake for DropSlot {
            fn wake(self: Arc<Self>) {
                let slot = self.0.lock().unwrap().take();
                drop(slot);
            }
        }

        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let t = Table::new(1);
            let victim = t.admit().unwrap();
            let conn = victim.conn.clone();
            let holder = Arc::new(DropSlot(Mutex::new(Some(victim))));
            let waker = Waker::from(holder.clone());
            let mut told = Box::pin(conn.evicted.notified());
            assert!(told
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            let newcomer = t.admit();
            done.send((
                newcomer.is_some(),
                holder.0.lock().unwrap().is_none(),
                t.len(),
            ))
            .unwrap();
        });
        let (admitted, slot_dropped, open) = finished
            .recv_timeout(Duration::from_secs(20))
            .expect("admit deadlocked: the eviction woke its task under the table's lock");
        assert!(admitted && slot_dropped);
        assert_eq!(open, 1);
    }

    #[tokio::test]
    async fn a_cap_of_zero_admits_nobody() {
        assert!(Table::new(0).admit().is_none());
    }
}
