//! How a pipeline waits without blocking: a timer that hands out sleeping
//! futures.
//!
//! Hedging, a per-attempt timeout and the wait between retries all race a
//! call against the passage of time, so the async pipeline needs a sleep it
//! can *poll* beside the call, which the synchronous
//! [`Sleep`](crate::retry::Sleep) is not. The core has no runtime of its
//! own, so the timer is a parameter, as the clock is: [`ManualClock`] is a
//! timer whose sleeps end when a test advances it (time moves only by hand,
//! so every hedge and timeout is exact), and with the `tokio` feature
//! [`TokioTimer`] sleeps on tokio's timer. Any other runtime's sleep fits in
//! a few lines (see [`Timer`]).
//!
//! A manual sleep registers itself with the clock as a watcher (held
//! weakly, so a dropped sleep costs the clock nothing past its next
//! advance) and is woken inside [`ManualClock::advance`] once the clock has
//! reached its deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::clock::{duration_nanos, Advanced, ManualClock};
use crate::sync::{self, Mutex};

/// A sleeping future, as a [`Timer`] gives it.
pub type Sleeping = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Gives futures that complete after a duration: what a
/// [`Pipeline`](super::Pipeline) awaits for hedge delays, timeouts and
/// retry waits.
///
/// # Example
///
/// A timer for another runtime is one method (here a stand-in that never
/// waits):
///
/// ```
/// use std::time::Duration;
/// use fusebox::pipeline::{Sleeping, Timer};
///
/// #[derive(Debug)]
/// struct Instant;
/// impl Timer for Instant {
///     fn sleep(&self, _d: Duration) -> Sleeping {
///         Box::pin(std::future::ready(()))
///     }
/// }
/// let _nap: Sleeping = Instant.sleep(Duration::from_millis(5));
/// ```
pub trait Timer: Send + Sync + fmt::Debug + 'static {
    /// A future that completes `d` from now.
    fn sleep(&self, d: Duration) -> Sleeping;
}

impl Timer for ManualClock {
    /// Completes once the clock reads at least now + `d`, woken by the
    /// [`advance`](ManualClock::advance) that gets it there.
    fn sleep(&self, d: Duration) -> Sleeping {
        let at = self.nanos().saturating_add(duration_nanos(d));
        Box::pin(ManualSleep {
            clock: self.clone(),
            at,
            alarm: None,
        })
    }
}

/// Tokio's timer (`tokio::time::sleep`); needs a runtime with time enabled.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    fn sleep(&self, d: Duration) -> Sleeping {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The timer of a pipeline that never waits: no hedge, no timeout, no
/// backoff (what [`build`](super::PipelineBuilder::build) checks before it
/// picks this one). Its sleeps are all of zero length, and end at once.
#[derive(Debug)]
pub(crate) struct NoWaits;

impl Timer for NoWaits {
    fn sleep(&self, d: Duration) -> Sleeping {
        debug_assert!(d.is_zero(), "a pipeline without a timer waited {d:?}");
        Box::pin(std::future::ready(()))
    }
}

/// A sleep on a manual clock.
struct ManualSleep {
    clock: ManualClock,
    at: u64,
    /// Registered with the clock at the first pending poll.
    alarm: Option<Arc<Alarm>>,
}

/// What the clock tells after each advance: wake the sleeper if due.
struct Alarm {
    at: u64,
    waker: Mutex<Option<Waker>>,
}

impl Advanced for Alarm {
    fn advanced(&self, now: u64) {
        if now >= self.at {
            let w = sync::lock(&self.waker).take();
            if let Some(w) = w {
                sync::wake(w);
            }
        }
    }
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.nanos() >= self.at {
            return Poll::Ready(());
        }
        let at = self.at;
        let alarm = match &self.alarm {
            Some(a) => a.clone(),
            None => {
                let a = Arc::new(Alarm {
                    at,
                    waker: Mutex::new(None),
                });
                let weak: Weak<dyn Advanced> = Arc::downgrade(&a) as Weak<dyn Advanced>;
                self.clock.watch(weak);
                self.alarm = Some(a.clone());
                a
            }
        };
        if let Some(old) = sync::lock(&alarm.waker).replace(cx.waker().clone()) {
            sync::wake_dropped(old);
        }
        // An advance between the first check and storing the waker would
        // have found no waker: look again now that it is stored.
        if self.clock.nanos() >= self.at {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            // Ordering: a test counter, read after the advance returns on
            // the same thread.
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_manual_sleep_ends_at_its_deadline_and_wakes_its_task() {
        let clock = ManualClock::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        // Ordering (of the loads below): the counter is written by `wake`
        // on this same thread, inside `advance`.
        let mut s = clock.sleep(Duration::from_millis(10));
        assert!(s.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_millis(9));
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        assert!(s.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_millis(1));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(s.as_mut().poll(&mut cx).is_ready());
    }
}
