//! The layer: a pipeline and a classifier, applied to any service.

use std::fmt;
use std::sync::Arc;

use fusebox::pipeline::{NoFallback, Pipeline};
use tower_layer::Layer;

use super::PipelineService;
use crate::classify::DefaultClassifier;

/// Wraps services in a [`PipelineService`]: each request goes through a
/// pipeline. Every service it makes, and their clones, share the one
/// pipeline (its counters, its budget, its latency estimate).
///
/// # Example
///
/// ```
/// use fusebox::pipeline::Pipeline;
/// use fusebox::retry::RetryPolicy;
/// use fusebox_tower::pipeline::PipelineLayer;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), fusebox_tower::BoxError> {
/// let pipeline = Pipeline::builder("db").retry(RetryPolicy::new(3)).build()?;
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = calls.clone();
/// let svc = ServiceBuilder::new()
///     .layer(PipelineLayer::new(pipeline))
///     .service(service_fn(move |q: &'static str| {
///         let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
///         async move { if n < 3 { Err("connection reset") } else { Ok(q.len()) } }
///     }));
/// assert_eq!(svc.oneshot("select").await?, 6);     // third time lucky
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// # Ok(()) }
/// ```
pub struct PipelineLayer<F = NoFallback, C = DefaultClassifier> {
    pipeline: Pipeline<F>,
    classifier: Arc<C>,
}

impl<F> PipelineLayer<F> {
    /// A layer on `pipeline`: `Ok` is a success, `Err` a failure.
    pub fn new(pipeline: Pipeline<F>) -> Self {
        PipelineLayer {
            pipeline,
            classifier: Arc::new(DefaultClassifier),
        }
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl<F> PipelineLayer<F, crate::HttpClassifier> {
    /// A layer on `pipeline` for HTTP services: errors and 5xx are
    /// failures (retried), 4xx are ignored (answered as they are); see
    /// [`HttpClassifier`](crate::HttpClassifier). Feature `http`.
    pub fn http(pipeline: Pipeline<F>) -> Self {
        PipelineLayer::new(pipeline).classifier(crate::HttpClassifier::new())
    }
}

impl<F, C> PipelineLayer<F, C> {
    /// Uses `classifier` to tell what each attempt's result is: any
    /// [`Classify`](crate::Classify), such as a closure
    /// `Fn(&Result<Response, Error>) -> Outcome`.
    pub fn classifier<D>(self, classifier: D) -> PipelineLayer<F, D> {
        PipelineLayer {
            pipeline: self.pipeline,
            classifier: Arc::new(classifier),
        }
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline<F> {
        &self.pipeline
    }
}

impl<F, C> Clone for PipelineLayer<F, C> {
    fn clone(&self) -> Self {
        PipelineLayer {
            pipeline: self.pipeline.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<F, C> fmt::Debug for PipelineLayer<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineLayer")
            .field("pipeline", &self.pipeline)
            .finish_non_exhaustive()
    }
}

impl<S, F, C> Layer<S> for PipelineLayer<F, C> {
    type Service = PipelineService<S, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PipelineService::from_parts(inner, self.pipeline.clone(), self.classifier.clone())
    }
}
