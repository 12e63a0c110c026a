//! One attempt through the inner layers, in their fixed order: the fuse is
//! asked, the valve admits, the timeout bounds the call.
//!
//! ```text
//!   fuse.admit ──blown──────────────────────────────► Blown      (fuse: nothing counted)
//!      │ ok
//!   valve.run ──refused─────────────────────────────► Refused    (fuse: ignored)
//!      │ admitted
//!   timeout(call) ──late────────────────────────────► Timeout    (fuse: failure)
//!      │ answered
//!   classify(result) ───────────────────────────────► the result (fuse: as classified)
//! ```
//!
//! A valve refusal reports *ignored* to the fuse: the call never ran, and a
//! dependency that was never asked has not failed. Dropping the attempt's
//! future at any point (a hedge that lost, a caller that gave up) drops
//! the call, frees the valve slot (or leaves its queue), and reports
//! ignored to the fuse, freeing a probe slot: the cancellation rule of the
//! contract, section 5.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use super::{Core, Reason};
use crate::fuse::{Outcome, Pending};
use crate::retry::Class;

/// What one attempt came to.
#[derive(Debug)]
pub(crate) struct Done<T, E> {
    pub(crate) result: Result<T, Reason<E>>,
    pub(crate) class: Class,
}

impl<T, E> Done<T, E> {
    /// The fuse's chaos answered an error in place of the call.
    pub(crate) fn injected() -> Self {
        Done {
            result: Err(Reason::Injected),
            class: Class::Failure,
        }
    }

    pub(crate) fn refused(reason: Reason<E>) -> Self {
        Done {
            result: Err(reason),
            class: Class::Refusal,
        }
    }
}

/// A call cut short by the timeout.
struct TimedOut;

/// One attempt of `fut` through the fuse, the valve and the timeout.
pub(crate) async fn attempt<T, E, Fut, C>(core: &Core, fut: Fut, classify: &C) -> Done<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    C: Fn(&Result<T, E>) -> Outcome,
{
    // Read only for the latency estimate (a quantile hedge).
    let started = core.latency.as_ref().map(|_| core.clock.now());
    let mut pending = match &core.fuse {
        Some(f) => match Pending::admit(f.core()) {
            Ok(p) => Some(p),
            Err(_) => return Done::refused(Reason::Blown),
        },
        None => None,
    };
    if let Some(p) = pending.as_mut() {
        // The fuse's chaos, as for `Fuse::call`: a latency waited, an error
        // in place of the call (already reported to the fuse).
        if p.inject().await {
            return Done::injected();
        }
    }
    let bounded = within(core, core.timeout, fut);
    let out = match &core.valve {
        Some(v) => match v.run(bounded).await {
            Ok(out) => out,
            Err(r) => {
                if let Some(p) = pending {
                    p.finish(Outcome::Ignored);
                }
                return Done::refused(Reason::Refused(r));
            }
        },
        None => bounded.await,
    };
    let (result, outcome) = match out {
        Ok(r) => {
            let o = classify(&r);
            (r.map_err(Reason::Failed), o)
        }
        Err(TimedOut) => (Err(Reason::Timeout), Outcome::Failure),
    };
    if let Some(p) = pending {
        p.finish(outcome);
    }
    if let (Outcome::Success, Some(l), Some(t0)) = (outcome, &core.latency, started) {
        l.record_ns(core.clock.now().saturating_sub(t0));
    }
    Done {
        result,
        class: Class::of_outcome(outcome),
    }
}

/// `fut`, or [`TimedOut`] once `timeout` has passed on the pipeline's
/// timer. An answer ready at the poll that finds the deadline passed wins.
async fn within<F: Future>(
    core: &Core,
    timeout: Option<Duration>,
    fut: F,
) -> Result<F::Output, TimedOut> {
    let Some(d) = timeout else {
        return Ok(fut.await);
    };
    let mut fut = pin!(fut);
    let mut sleep = core.timer.sleep(d);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(TimedOut));
        }
        Poll::Pending
    })
    .await
}
