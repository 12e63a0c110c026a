//! The service: computes the request's key, then admits it through that
//! key's fuse inside the response future.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::task::{Context, Poll};

use fusebox::keyed::KeyedFuses;
use fusebox::RunError;
use tower_service::Service;

use super::bounds::{take_readied, KeyedInner};
use crate::classify::Classify;
use crate::error::{BoxError, FuseboxError};
use crate::fuse::ResponseFuture;

/// A service whose requests go through the fuse of their key; made by
/// [`KeyedFuseLayer`](super::KeyedFuseLayer).
///
/// As [`FuseService`](crate::FuseService): `poll_ready` is the inner
/// service's; the key is computed in `call`, and the key's fuse is asked on
/// the response future's first poll, so `S` must be `Clone` and the future
/// is boxed.
///
/// # Cancel safety
///
/// Dropping the response future before it completes reports the call to
/// its key as [`Outcome::Ignored`](fusebox::Outcome::Ignored) and gives back
/// a probe slot it held.
pub struct KeyedFuseService<S, K, F, C> {
    inner: S,
    fuses: KeyedFuses<K>,
    key_of: Arc<F>,
    classifier: Arc<C>,
}

impl<S, K, F, C> KeyedFuseService<S, K, F, C> {
    pub(super) fn from_parts(
        inner: S,
        fuses: KeyedFuses<K>,
        key_of: Arc<F>,
        classifier: Arc<C>,
    ) -> Self {
        KeyedFuseService {
            inner,
            fuses,
            key_of,
            classifier,
        }
    }

    /// The family.
    pub fn fuses(&self) -> &KeyedFuses<K> {
        &self.fuses
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, K, F, C> Clone for KeyedFuseService<S, K, F, C> {
    fn clone(&self) -> Self {
        KeyedFuseService::from_parts(
            self.inner.clone(),
            self.fuses.clone(),
            self.key_of.clone(),
            self.classifier.clone(),
        )
    }
}

impl<S: fmt::Debug, K, F, C> fmt::Debug for KeyedFuseService<S, K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedFuseService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, C, Req> Service<Req> for KeyedFuseService<S, K, F, C>
where
    S: KeyedInner<Req>,
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    F: Fn(&Req) -> K,
    C: Classify<S::Response, S::Error> + Send + Sync + 'static,
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
        let fuses = self.fuses.clone();
        let classifier = self.classifier.clone();
        ResponseFuture::new(async move {
            let call = async move { inner.call(req).await };
            match fuses
                .call_classified(&key, call, |r| classifier.classify(r))
                .await
            {
                Ok(resp) => Ok(resp),
                Err(RunError::Failed(e)) => Err(e.into()),
                Err(_) => Err(FuseboxError::Blown {
                    fuse: format!("{}/{key}", fuses.family()).into(),
                }
                .into()),
            }
        })
    }
}
