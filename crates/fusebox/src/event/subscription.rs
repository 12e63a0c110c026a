//! A subscriber's end of the event stream: receive (blocking, with a
//! timeout, or as a future), learn how many events were lost, or hand every
//! event to a callback on a thread of its own.

use std::fmt;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::queue::{Buffer, Queue};
use super::Event;

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

/// What a [`Subscription`] leaves when dropped: the bus, seen only as the
/// list it is in, so the subscriber's end knows nothing else of it.
pub(super) trait Leave: Send + Sync + fmt::Debug {
    /// Takes `q` out of the list.
    fn leave(&self, q: &Arc<Queue>);
}

/// The next result of a receive from `b`, if any: a loss first, then the
/// oldest event, then the end of the stream.
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

/// A subscriber's end of the event stream: a bounded buffer that never
/// blocks the fuses.
///
/// The buffer starts empty and grows as events wait in it, up to its
/// capacity. Dropping the subscription leaves the bus at once, on the
/// dropping thread (O(subscribers)): a subscriber that is gone costs the
/// publishers nothing, and its memory is freed then, not at the next event.
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
    pub(super) q: Arc<Queue>,
    /// To leave the bus when dropped; weak, so a subscription that outlives
    /// its Fusebox keeps nothing of it alive.
    pub(super) bus: Weak<dyn Leave>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            bus.leave(&self.q);
        }
    }
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
            b = crate::sync::wait(&self.q.ready, b);
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
            b = crate::sync::wait_timeout(&self.q.ready, b, left);
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
                if let Some(old) = b.waker.replace(cx.waker().clone()) {
                    crate::sync::wake_dropped(old);
                }
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
