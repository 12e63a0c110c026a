//! What the layers that call their inner service from inside the response
//! future need of it, said once.
//!
//! The fuse layers (plain and keyed) admit a request on the future's first
//! poll, the keyed valve layer learns its key only in `call` and waits for
//! the key's permit in the future, and the pipeline layer calls the inner
//! service once per attempt, from inside its future: either way the future must own a service (the one
//! `poll_ready` readied; a clone stays behind for the next request), and
//! since the future is boxed (`Send + 'static`, the fusebox calls are
//! `async fn`s), so must everything it holds be.

use tower_service::Service;

use crate::error::BoxError;

/// A service a layer can move into its boxed response future: cloneable,
/// and sendable with its future, response and error, the error boxable.
/// Implemented for every such service; you never implement it.
pub trait OwnedInner<Req>:
    Service<
        Req,
        Future: Send + 'static,
        Response: Send + 'static,
        Error: Into<BoxError> + Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, Req> OwnedInner<Req> for S
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
{
}

/// The service `poll_ready` readied, for the response future; a clone of
/// it stays for the next request (the way axum's `HandleError` does it).
pub(crate) fn take_readied<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}
