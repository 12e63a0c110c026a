use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::BoxError;

/// The response future of a [`FuseService`](super::FuseService), and of
/// the services that likewise call their inner service from inside it:
/// [`KeyedFuseService`](crate::keyed::KeyedFuseService) and
/// [`PipelineService`](crate::pipeline::PipelineService) (whose cancel
/// safety is the pipeline's: every attempt in flight is dropped, each as
/// below).
///
/// Boxed, because it is built on the fuse's `async` admission
/// ([`Fuse::call_classified`](fusebox::Fuse::call_classified)), whose type
/// cannot be named. Dropping it before it completes counts the call as
/// ignored and frees a probe slot it held.
///
/// The fuse is asked on the first poll, not in `call`; the inner service is
/// called only once the fuse has admitted the request.
///
/// # Cancel safety
///
/// It may be dropped at any point (a client that hung up, a timeout layer
/// outside, the loser of a hedge), and nothing leaks or melts:
///
/// * dropped before its first poll, it did nothing: the fuse was not asked,
///   nothing was counted, and the inner service `call` moved into it (the one
///   `poll_ready` made ready) is dropped without being called;
/// * dropped after admission, before the inner future completed, the inner
///   future is dropped and the call is reported as
///   [`Outcome::Ignored`](fusebox::Outcome::Ignored): neither a melt nor a
///   success, and a probe slot it held is given back at once;
/// * dropped while a panic unwinds (one raised by the inner future, say), it
///   counts as a failure, as a panic does in the core.
///
/// Once it has completed, the outcome has been reported; dropping it then
/// changes nothing.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<R> {
    inner: Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>,
}

impl<R> ResponseFuture<R> {
    pub(crate) fn new(fut: impl Future<Output = Result<R, BoxError>> + Send + 'static) -> Self {
        ResponseFuture {
            inner: Box::pin(fut),
        }
    }
}

impl<R> Future for ResponseFuture<R> {
    type Output = Result<R, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<R> fmt::Debug for ResponseFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
