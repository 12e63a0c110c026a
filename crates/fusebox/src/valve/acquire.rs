//! The future of [`Valve::acquire`](super::Valve::acquire): waits for a slot
//! on any runtime.
//!
//! # Cancel safety
//!
//! Dropping the future before it resolves removes its waiter from the queue;
//! if a slot had already been granted to it, the slot is given back and the
//! next waiter is served. No slot is ever leaked by cancellation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::engine::{Entry, Looked, ValveCore};
use super::waiter::Waiter;
use super::{Permit, Refused};

/// The future of [`Valve::acquire`](super::Valve::acquire): resolves to a
/// [`Permit`] or to the [`Refused`] reason.
///
/// # Cancel safety
///
/// Dropping it before it resolves removes its waiter from the valve's queue
/// (counted neither admitted nor refused); if a slot had already been granted
/// to it, the slot is given back and the next waiter is served. Dropped
/// before its first poll, it never entered the valve. No slot is ever leaked
/// by cancellation. Polled again after it resolved, it answers
/// [`Refused::Removed`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    core: Arc<ValveCore>,
    waiter: Option<Arc<Waiter>>,
    done: bool,
}

impl Acquire {
    pub(super) fn new(core: Arc<ValveCore>) -> Self {
        Acquire {
            core,
            waiter: None,
            done: false,
        }
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("valve", &self.core.name)
            .field("waiting", &self.waiter.is_some())
            .finish()
    }
}

impl Future for Acquire {
    type Output = Result<Permit, Refused>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(Err(Refused::Removed));
        }
        let waiter = match &this.waiter {
            Some(w) => w.clone(),
            None => match this.core.enter(true) {
                Entry::Admitted(t) => {
                    this.done = true;
                    return Poll::Ready(Ok(Permit::new(&this.core, t)));
                }
                Entry::Refused(r) => {
                    this.done = true;
                    return Poll::Ready(Err(r));
                }
                Entry::Queued(w) => {
                    this.waiter = Some(w.clone());
                    w
                }
            },
        };
        match this.core.look(&waiter, Some(cx.waker())) {
            Looked::Waiting => Poll::Pending,
            Looked::Admitted(t) => {
                this.done = true;
                this.waiter = None;
                Poll::Ready(Ok(Permit::new(&this.core, t)))
            }
            Looked::Refused(r) => {
                this.done = true;
                this.waiter = None;
                Poll::Ready(Err(r))
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Some(w) = self.waiter.take() {
            self.core.cancel(&w);
        }
    }
}
