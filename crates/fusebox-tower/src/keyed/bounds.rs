//! What both keyed layers need of the service they wrap, said once.
//!
//! A keyed service learns its key in `call`, so the key's fuse or valve is
//! consulted inside the response future: the future owns the inner service
//! `poll_ready` readied (a clone stays behind for the next request) and is
//! boxed, hence `Clone`, `Send` and `'static` on everything it holds.

use tower_service::Service;

use crate::error::BoxError;

/// A service a keyed layer can wrap: cloneable, and sendable with its
/// future, response and error. Implemented for every such service.
pub trait KeyedInner<Req>:
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

impl<S, Req> KeyedInner<Req> for S
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
{
}

/// The service `poll_ready` readied, for the response future; a clone of
/// it stays for the next request.
pub(super) fn take_readied<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}
