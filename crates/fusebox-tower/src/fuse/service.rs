use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use fusebox::{Fuse, RunError};
use tower_service::Service;

use super::ResponseFuture;
use crate::bounds::{take_readied, OwnedInner};
use crate::classify::{Classify, DefaultClassifier};
use crate::error::{BoxError, FuseboxError};

/// A service whose requests go through a fuse; made by
/// [`FuseLayer`](super::FuseLayer).
///
/// * `poll_ready` is the inner service's.
/// * `call` returns a future that, on its first poll, asks the fuse for
///   admission: if the fuse is blown it resolves to a [`FuseboxError::Blown`]
///   (boxed) and the inner service is never called; if admitted, it calls the
///   inner service and reports the classified result to the fuse.
///
/// The inner service is called from inside the response future, after
/// admission, so `call` moves the service that `poll_ready` made ready into
/// the future and keeps a clone (the way axum's `HandleError` does): `S`
/// must be `Clone`, and the future is boxed (`Send + 'static`), since the
/// fuse's admission is an `async fn`.
///
/// # Clones
///
/// All clones share one fuse: a melt reported through one clone is seen by
/// every other (unlike tower's `RateLimit`, whose clones each kept a state of
/// their own, tower issue #794).
///
/// # Cancel safety
///
/// Dropping the response future before it completes reports the call as
/// [`Outcome::Ignored`](fusebox::Outcome::Ignored) and gives back a probe
/// slot it held.
pub struct FuseService<S, C = DefaultClassifier> {
    inner: S,
    fuse: Fuse,
    name: Arc<str>,
    classifier: Arc<C>,
}

impl<S> FuseService<S> {
    /// Wraps `inner` in `fuse`, with the default classifier.
    pub fn new(inner: S, fuse: Fuse) -> Self {
        FuseService {
            inner,
            name: fuse.name().into(),
            fuse,
            classifier: Arc::new(DefaultClassifier),
        }
    }
}

impl<S, C> FuseService<S, C> {
    pub(super) fn from_parts(inner: S, fuse: Fuse, name: Arc<str>, classifier: Arc<C>) -> Self {
        FuseService {
            inner,
            fuse,
            name,
            classifier,
        }
    }

    /// Uses `classifier` instead (see [`FuseLayer::classifier`](super::FuseLayer::classifier)).
    pub fn classifier<D>(self, classifier: D) -> FuseService<S, D> {
        FuseService::from_parts(self.inner, self.fuse, self.name, Arc::new(classifier))
    }

    /// The fuse.
    pub fn fuse(&self) -> &Fuse {
        &self.fuse
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, C> Clone for FuseService<S, C> {
    fn clone(&self) -> Self {
        FuseService::from_parts(
            self.inner.clone(),
            self.fuse.clone(),
            self.name.clone(),
            self.classifier.clone(),
        )
    }
}

impl<S: fmt::Debug, C> fmt::Debug for FuseService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuseService")
            .field("fuse", &self.name)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for FuseService<S, C>
where
    S: OwnedInner<Req>,
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
        let mut inner = take_readied(&mut self.inner);
        let fuse = self.fuse.clone();
        let name = self.name.clone();
        let classifier = self.classifier.clone();
        ResponseFuture::new(async move {
            // `inner.call` runs only once this block is polled, i.e. after
            // `call_classified` has admitted the call.
            let call = async move { inner.call(req).await };
            match fuse.call_classified(call, |r| classifier.classify(r)).await {
                Ok(resp) => Ok(resp),
                Err(RunError::Failed(e)) => Err(e.into()),
                Err(RunError::Injected) => Err(FuseboxError::Injected { fuse: name }.into()),
                // A handle answers `Blown` once its fuse is removed; no
                // timeout is set here. Anything else is a refusal too, and
                // says whether an operator disabled the fuse.
                Err(_) if fuse.is_disabled() => Err(FuseboxError::Disabled { fuse: name }.into()),
                Err(_) => Err(FuseboxError::Blown { fuse: name }.into()),
            }
        })
    }
}
