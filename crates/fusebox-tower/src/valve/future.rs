use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use fusebox::Permit;
use pin_project_lite::pin_project;

use crate::error::{BoxError, FuseboxError};

pin_project! {
    /// The response future of a [`ValveService`](super::ValveService): the
    /// inner future, holding the request's permit until it completes (the
    /// permit is freed as soon as the inner future is ready, or when this
    /// future is dropped), or a refusal.
    ///
    /// For HTTP, "completes" means the response head is ready: a streaming
    /// body is not counted against the valve.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes drops the inner future and frees the
    /// request's permit at once: the slot goes to the valve's next waiter,
    /// and the request counts as admitted (it started). A refused one holds
    /// nothing, and dropping it changes nothing. Once it has completed, its
    /// permit is already free.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called {
            #[pin]
            fut: F,
            permit: Option<Permit>,
        },
        Refused {
            error: Option<FuseboxError>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn called(fut: F, permit: Permit) -> Self {
        ResponseFuture {
            state: State::Called {
                fut,
                permit: Some(permit),
            },
        }
    }

    pub(super) fn refused(error: FuseboxError) -> Self {
        ResponseFuture {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Result<R, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { fut, permit } => {
                let out = ready!(fut.poll(cx));
                // The task is done: free its slot now, not when the caller
                // gets round to dropping this future.
                drop(permit.take());
                Poll::Ready(out.map_err(Into::into))
            }
            StateProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .expect("ResponseFuture polled after completion")
                .into())),
        }
    }
}
