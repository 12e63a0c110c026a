use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::BoxError;

/// The response future of a [`FuseService`](super::FuseService).
///
/// Boxed, because it is built on the fuse's `async` admission
/// ([`Fuse::call_classified`](fusebox::Fuse::call_classified)), whose type
/// cannot be named. Dropping it before it completes counts the call as
/// ignored and frees a probe slot it held.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<R> {
    inner: Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>,
}

impl<R> ResponseFuture<R> {
    pub(super) fn new(fut: impl Future<Output = Result<R, BoxError>> + Send + 'static) -> Self {
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
