//! The bodies as the server sees them: a response body that tells the
//! connection when its request is over and ends an event stream at
//! shutdown, and a request body that must arrive in time.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use super::table::Busy;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response on its way out. Dropping it (hyper does once the last byte is
/// written, or the connection goes) puts the connection back to waiting for
/// a request. An event stream (`text/event-stream`) carries the server's
/// shutdown signal and ends, cleanly, when it fires: a graceful shutdown
/// would otherwise wait on a stream that never ends.
pub(crate) struct ResponseBody {
    inner: Body,
    _busy: Option<Busy>,
    until: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    ended: bool,
}

impl ResponseBody {
    pub(crate) fn new(
        inner: Body,
        busy: Option<Busy>,
        until: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    ) -> Self {
        ResponseBody {
            inner,
            _busy: busy,
            until,
            ended: false,
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("ends_at_shutdown", &self.until.is_some())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(until) = self.until.as_mut() {
            if until.as_mut().poll(cx).is_ready() {
                self.ended = true;
                self.until = None;
                return Poll::Ready(None);
            }
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that must be complete within a time of the end of its
/// head; past it, reading it fails (the handler answers 400) and hyper
/// closes the connection, since the rest of the body is never read.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: hyper::body::Incoming,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl RequestBody {
    pub(crate) fn new(inner: hyper::body::Incoming, within: Duration) -> Self {
        use http_body::Body as _;
        // No timer for a request without a body (every GET).
        let deadline =
            (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep(within.min(DAY))));
        RequestBody { inner, deadline }
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// The body did not arrive within the header read timeout.
#[derive(Debug)]
struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(deadline) = self.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
            }
        }
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() {
            self.deadline = None;
        }
        Poll::Ready(frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
