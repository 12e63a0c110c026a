//! The service: computes the request's key, then waits for a permit of
//! that key's valve inside the response future.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::task::{Context, Poll};

use fusebox::keyed::KeyedValves;
use tower_service::Service;

use crate::bounds::{take_readied, OwnedInner};
use crate::error::{BoxError, FuseboxError};
use crate::fuse::ResponseFuture;

/// A service whose requests each hold a permit of their key's valve; made
/// by [`KeyedValveLayer`](super::KeyedValveLayer).
///
/// The key is known only in `call`, so there is no backpressure in
/// `poll_ready` (which is the inner service's): the response future waits
/// in the key's queue, bounded by the template's queue size, `max_wait`
/// and CoDel, and a refusal is [`FuseboxError::Refused`] naming the key's
/// valve, `"{family}/{key}"` (reason [`TooManyKeys`](fusebox::Refused::TooManyKeys)
/// when the family is full). A template with `queue(0)` refuses at once
/// when the key's slots are taken, as reject mode does.
///
/// # Cancel safety
///
/// Dropping the response future while it waits leaves the key's queue;
/// dropping it while the inner future runs frees the permit at once. The
/// permit is freed as soon as the inner future completes.
pub struct KeyedValveService<S, K, F> {
    inner: S,
    valves: KeyedValves<K>,
    key_of: Arc<F>,
}

impl<S, K, F> KeyedValveService<S, K, F> {
    pub(super) fn from_parts(inner: S, valves: KeyedValves<K>, key_of: Arc<F>) -> Self {
        KeyedValveService {
            inner,
            valves,
            key_of,
        }
    }

    /// The family.
    pub fn valves(&self) -> &KeyedValves<K> {
        &self.valves
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone, K, F> Clone for KeyedValveService<S, K, F> {
    fn clone(&self) -> Self {
        KeyedValveService::from_parts(self.inner.clone(), self.valves.clone(), self.key_of.clone())
    }
}

impl<S: fmt::Debug, K, F> fmt::Debug for KeyedValveService<S, K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedValveService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, Req> Service<Req> for KeyedValveService<S, K, F>
where
    S: OwnedInner<Req>,
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    F: Fn(&Req) -> K,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = (self.key_of)(&req);
        let mut inner = take_readied(&mut self.inner);
        let valves = self.valves.clone();
        ResponseFuture::new(async move {
            let permit = valves
                .acquire(&key)
                .await
                .map_err(|reason| FuseboxError::Refused {
                    valve: format!("{}/{key}", valves.family()).into(),
                    reason,
                })?;
            let out = inner.call(req).await;
            drop(permit);
            out.map_err(Into::into)
        })
    }
}
