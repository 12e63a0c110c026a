use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use fusebox::{valve::Acquire, Permit, Valve};
use tower_service::Service;

use super::{Mode, ResponseFuture};
use crate::error::{BoxError, FuseboxError};

/// A service whose requests each hold a valve permit; made by
/// [`ValveLayer`](super::ValveLayer). See the [module docs](super) for the
/// two modes.
///
/// # Cancel safety
///
/// A permit is freed when the response future completes or is dropped; a
/// service dropped while waiting in `poll_ready` leaves the valve's queue
/// (and hands on a slot granted meanwhile), and one dropped holding a permit
/// it has not used frees it.
#[derive(Debug)]
pub struct ValveService<S> {
    inner: S,
    valve: Valve,
    name: Arc<str>,
    mode: Mode,
    /// Wait mode: the pending acquisition, while `poll_ready` waits.
    acquire: Option<Acquire>,
    /// Wait mode: the permit `poll_ready` got, for the next `call`.
    permit: Option<Permit>,
}

impl<S> ValveService<S> {
    /// Wraps `inner` in `valve`, in `mode`.
    pub fn new(inner: S, valve: Valve, mode: Mode) -> Self {
        let name = valve.name().into();
        Self::from_parts(inner, valve, name, mode)
    }

    pub(super) fn from_parts(inner: S, valve: Valve, name: Arc<str>, mode: Mode) -> Self {
        ValveService {
            inner,
            valve,
            name,
            mode,
            acquire: None,
            permit: None,
        }
    }

    /// The valve.
    pub fn valve(&self) -> &Valve {
        &self.valve
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service (a permit held for the next call is freed).
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn refused(&self, reason: fusebox::Refused) -> FuseboxError {
        FuseboxError::Refused {
            valve: self.name.clone(),
            reason,
        }
    }
}

/// A clone starts with no permit and no place in the queue: a permit is one
/// request's slot, never shared.
impl<S: Clone> Clone for ValveService<S> {
    fn clone(&self) -> Self {
        Self::from_parts(
            self.inner.clone(),
            self.valve.clone(),
            self.name.clone(),
            self.mode,
        )
    }
}

impl<S, Req> Service<Req> for ValveService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.mode == Mode::Wait && self.permit.is_none() {
            let acquire = self.acquire.get_or_insert_with(|| self.valve.acquire());
            let got = ready!(Pin::new(acquire).poll(cx));
            self.acquire = None;
            match got {
                Ok(permit) => self.permit = Some(permit),
                Err(reason) => return Poll::Ready(Err(self.refused(reason).into())),
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let permit = match self.mode {
            Mode::Wait => self
                .permit
                .take()
                .expect("ValveService (wait mode): poll_ready must return Ready(Ok) before call"),
            Mode::Reject => match self.valve.try_acquire() {
                Ok(permit) => permit,
                Err(reason) => return ResponseFuture::refused(self.refused(reason)),
            },
        };
        ResponseFuture::called(self.inner.call(req), permit)
    }
}
