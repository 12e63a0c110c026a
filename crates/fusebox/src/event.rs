//! Events: every state change of every fuse, and every alarm set and cleared.
//!
//! Observability must never break the breaker (fuse's stats plugins were best
//! effort for the same reason). So each subscriber gets a bounded buffer of
//! its own; publishing never blocks and never waits for a subscriber. A slow
//! subscriber whose buffer is full loses its *oldest* events and is told how
//! many at its next receive ([`RecvError::Lagged`]). A callback subscriber
//! ([`Fusebox::subscribe_fn`](crate::Fusebox::subscribe_fn)) runs on a thread of
//! its own; if it panics it is dropped, and the fuses never notice.
//!
//! Events are published while the fuse that changed holds its lock, so the
//! events of one fuse arrive in the order its state changed.

pub(crate) mod alarm;
#[cfg(feature = "tracing")]
mod trace;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub use crate::fuse::Cause;
use crate::fuse::{FuseState, Notify, Step};

pub use alarm::{Alarm, AlarmKind};

/// One thing that happened to a fuse.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Event {
    /// The fuse's name.
    pub name: Arc<str>,
    /// What happened.
    pub kind: EventKind,
    /// When, on the Fusebox's clock (for a heal: its deadline).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
    pub at: Duration,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum EventKind {
    /// The fuse changed state. `from` is `None` for a new install, `to` is
    /// `None` for a removal.
    Transition {
        /// The state before.
        from: Option<FuseState>,
        /// The state after.
        to: Option<FuseState>,
        /// What caused it.
        cause: Cause,
    },
    /// A blown fuse entered a step of its heal program (only for programs of
    /// more than one step).
    HealStep {
        /// The step's position in the program, from 0.
        index: usize,
        /// The step.
        step: Step,
    },
    /// A valve was installed, reconfigured or removed (the event's name is
    /// the valve's).
    Valve {
        /// What happened.
        change: ValveChange,
    },
    /// The alarm monitor raised an alarm.
    AlarmSet {
        /// Which alarm.
        alarm: AlarmKind,
    },
    /// The alarm monitor cleared an alarm (after its hysteresis, or removal).
    AlarmCleared {
        /// Which alarm.
        alarm: AlarmKind,
    },
}

/// What happened to a valve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ValveChange {
    /// Installed anew.
    Installed,
    /// Its config was replaced, live.
    Reconfigured,
    /// Removed; its waiters were refused.
    Removed,
}

/// Why a receive returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// This many events were lost because the buffer was full; the next
    /// receive returns the oldest event still kept.
    Lagged(u64),
    /// The Fusebox is gone and the buffer is empty.
    Closed,
    /// Nothing arrived in time (only from `recv_timeout` and `try_recv`).
    Empty,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "subscriber lagged: {n} events lost"),
            RecvError::Closed => f.write_str("event stream closed"),
            RecvError::Empty => f.write_str("no event"),
        }
    }
}

impl std::error::Error for RecvError {}

#[derive(Debug)]
struct Buffer {
    events: VecDeque<Event>,
    lost: u64,
    closed: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Queue {
    buf: Mutex<Buffer>,
    ready: Condvar,
    capacity: usize,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, event: &Event) {
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

    fn close(&self) {
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

fn take(b: &mut Buffer) -> Option<Result<Event, RecvError>> {
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
        trace::melt(name, blown);
        #[cfg(not(feature = "tracing"))]
        let _ = (name, blown);
    }
}

impl Bus {
    pub(crate) fn publish(&self, event: Event) {
        #[cfg(feature = "tracing")]
        trace::event(&event);
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

/// A subscriber's end of the event stream: a bounded buffer that never
/// blocks the fuses.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox, event::{Cause, EventKind}, fuse::FuseState};
///
/// let fb = Fusebox::new();
/// let events = fb.subscribe();
/// fb.install("db", FuseConfig::standard(0, Duration::from_secs(1))).unwrap();
/// fb.melt("db").unwrap();
/// let e = events.try_recv().unwrap();          // installed
/// assert!(matches!(e.kind, EventKind::Transition { cause: Cause::Install, .. }));
/// let e = events.try_recv().unwrap();          // blown
/// assert!(matches!(e.kind, EventKind::Transition { to: Some(FuseState::Blown), .. }));
/// ```
#[derive(Debug)]
pub struct Subscription {
    q: Arc<Queue>,
}

impl Subscription {
    /// The next event if one is buffered; never waits.
    pub fn try_recv(&self) -> Result<Event, RecvError> {
        take(&mut self.q.lock()).unwrap_or(Err(RecvError::Empty))
    }

    /// Waits for the next event.
    pub fn recv(&self) -> Result<Event, RecvError> {
        let mut b = self.q.lock();
        loop {
            if let Some(r) = take(&mut b) {
                return r;
            }
            b = self.q.ready.wait(b).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvError> {
        let end = Instant::now() + timeout;
        let mut b = self.q.lock();
        loop {
            if let Some(r) = take(&mut b) {
                return r;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvError::Empty);
            }
            b = self
                .q
                .ready
                .wait_timeout(b, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Polls for the next event from async code (any runtime).
    ///
    /// # Cancel safety
    ///
    /// Nothing is lost if the task stops polling: events stay buffered.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Event, RecvError>> {
        let mut b = self.q.lock();
        match take(&mut b) {
            Some(r) => Poll::Ready(r),
            None => {
                b.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Waits for the next event from async code (any runtime).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses no event.
    pub async fn recv_async(&self) -> Result<Event, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Events currently buffered.
    pub fn len(&self) -> usize {
        self.q.lock().events.len()
    }

    /// True if no event is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A callback subscriber started by
/// [`Fusebox::subscribe_fn`](crate::Fusebox::subscribe_fn). Dropping it does
/// not stop the callback; it ends when the Fusebox goes away or when the
/// callback panics.
#[derive(Debug)]
pub struct CallbackSubscriber {
    alive: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CallbackSubscriber {
    pub(crate) fn spawn<F>(sub: Subscription, mut f: F) -> std::io::Result<Self>
    where
        F: FnMut(Result<Event, RecvError>) + Send + 'static,
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        let thread = std::thread::Builder::new()
            .name("fusebox-events".into())
            .spawn(move || loop {
                let r = sub.recv();
                let closed = matches!(r, Err(RecvError::Closed));
                let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(r)));
                if call.is_err() || closed {
                    // Ordering: a flag for observers, nothing depends on it.
                    flag.store(false, Ordering::Relaxed);
                    return; // dropping `sub` unsubscribes
                }
            })?;
        Ok(CallbackSubscriber {
            alive,
            thread: Some(thread),
        })
    }

    /// False once the callback panicked (and was dropped) or the stream closed.
    pub fn is_alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits for the callback's thread to end (after a panic or close).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
