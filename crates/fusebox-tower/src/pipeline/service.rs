//! The service: each request through the pipeline, one attempt per clone
//! of the inner service.

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use fusebox::pipeline::{Fallback, NoFallback, Pipeline, PipelineError, Reason};
use tower_service::Service;

use crate::bounds::{take_readied, OwnedInner};
use crate::classify::{Classify, DefaultClassifier};
use crate::error::{BoxError, FuseboxError};
use crate::fuse::ResponseFuture;

/// A service whose requests go through a pipeline; made by
/// [`PipelineLayer`](super::PipelineLayer). See the [module docs](super)
/// for what it needs of the request and the inner service.
///
/// `F` is the pipeline's fallback: it is given the
/// [`PipelineError`] with the inner service's own error type, and answers
/// a response.
///
/// # Cancel safety
///
/// Dropping the response future drops every attempt in flight (a hedge
/// too), each reported to the fuse as ignored (a probe slot it held is
/// given back) and freeing its valve slot; no further attempt is made (the
/// pipeline's [cancel safety](fusebox::pipeline::Pipeline::call)).
pub struct PipelineService<S, F = NoFallback, C = DefaultClassifier> {
    inner: S,
    pipeline: Pipeline<F>,
    classifier: Arc<C>,
}

impl<S, F> PipelineService<S, F> {
    /// Wraps `inner` in `pipeline`, with the default classifier.
    pub fn new(inner: S, pipeline: Pipeline<F>) -> Self {
        Self::from_parts(inner, pipeline, Arc::new(DefaultClassifier))
    }
}

impl<S, F, C> PipelineService<S, F, C> {
    pub(super) fn from_parts(inner: S, pipeline: Pipeline<F>, classifier: Arc<C>) -> Self {
        PipelineService {
            inner,
            pipeline,
            classifier,
        }
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline<F> {
        &self.pipeline
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

impl<S: Clone, F, C> Clone for PipelineService<S, F, C> {
    fn clone(&self) -> Self {
        Self::from_parts(
            self.inner.clone(),
            self.pipeline.clone(),
            self.classifier.clone(),
        )
    }
}

impl<S: fmt::Debug, F, C> fmt::Debug for PipelineService<S, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineService")
            .field("pipeline", &self.pipeline)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, F, C, Req> Service<Req> for PipelineService<S, F, C>
where
    S: OwnedInner<Req>,
    F: Fallback<S::Response, S::Error> + Send + Sync + 'static,
    F::Future: Send,
    C: Classify<S::Response, S::Error> + Send + Sync + 'static,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let mut readied = Some(take_readied(&mut self.inner));
        let spare = self.inner.clone();
        let pipeline = self.pipeline.clone();
        let classifier = self.classifier.clone();
        ResponseFuture::new(async move {
            // Built before the fuse is asked, polled only if it admits: the
            // first attempt calls the readied service, the others a clone
            // they ready themselves.
            let make = move || {
                let mut svc = readied.take().unwrap_or_else(|| spare.clone());
                let req = req.clone();
                async move {
                    poll_fn(|cx| svc.poll_ready(cx)).await?;
                    svc.call(req).await
                }
            };
            pipeline
                .call_classified(make, |r| classifier.classify(r))
                .await
                .map_err(|e| boxed(&pipeline, e))
        })
    }
}

/// The pipeline's error as the layers answer: the inner error itself, or a
/// [`FuseboxError`] naming what refused or cut the call.
fn boxed<F, E: Into<BoxError>>(pipeline: &Pipeline<F>, err: PipelineError<E>) -> BoxError {
    let fuse = || -> Arc<str> { pipeline.fuse().map_or("", |f| f.name()).into() };
    let kind = err.reason().kind();
    match err.into_reason() {
        Reason::Failed(e) => e.into(),
        Reason::Blown if pipeline.fuse().is_some_and(|f| f.is_disabled()) => {
            FuseboxError::Disabled { fuse: fuse() }.into()
        }
        Reason::Blown => FuseboxError::Blown { fuse: fuse() }.into(),
        Reason::Refused(reason) => FuseboxError::Refused {
            valve: pipeline.valve().map_or("", |v| v.name()).into(),
            reason,
        }
        .into(),
        Reason::Timeout => FuseboxError::TimedOut {
            pipeline: pipeline.name().into(),
        }
        .into(),
        Reason::Injected => FuseboxError::Injected { fuse: fuse() }.into(),
        // `Reason` is non-exhaustive: a reason fusebox adds later is still
        // not the inner service's error, and says which it is.
        _ => format!("pipeline {:?}: no value ({kind:?})", pipeline.name()).into(),
    }
}
