use std::fmt;
use std::sync::Arc;

use fusebox::Fuse;
use tower_layer::Layer;

use super::FuseService;
use crate::classify::DefaultClassifier;

/// Wraps services in a [`FuseService`]: requests go through a fuse.
///
/// Every service the layer makes shares the one fuse it was built from, and
/// so do all their clones.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox};
/// use fusebox_tower::FuseLayer;
/// use tower::{service_fn, ServiceBuilder};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))?;
/// let svc = ServiceBuilder::new()
///     .layer(FuseLayer::new(fb.fuse("db").unwrap()))
///     .service(service_fn(|id: u32| async move { Ok::<_, std::io::Error>(id * 2) }));
/// # let _ = svc;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FuseLayer<C = DefaultClassifier> {
    fuse: Fuse,
    name: Arc<str>,
    classifier: Arc<C>,
}

impl FuseLayer {
    /// A layer on `fuse`: `Ok` is a success, `Err` a failure.
    pub fn new(fuse: Fuse) -> Self {
        FuseLayer {
            name: fuse.name().into(),
            fuse,
            classifier: Arc::new(DefaultClassifier),
        }
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl FuseLayer<crate::HttpClassifier> {
    /// A layer on `fuse` for HTTP services: errors and 5xx are failures, 4xx
    /// are ignored (see [`HttpClassifier`](crate::HttpClassifier)). Feature
    /// `http`.
    pub fn http(fuse: Fuse) -> Self {
        FuseLayer::new(fuse).classifier(crate::HttpClassifier::new())
    }
}

impl<C> FuseLayer<C> {
    /// Uses `classifier` to tell the fuse what each result means: any
    /// [`Classify`](crate::Classify), such as a closure
    /// `Fn(&Result<Response, Error>) -> Outcome`.
    pub fn classifier<D>(self, classifier: D) -> FuseLayer<D> {
        FuseLayer {
            fuse: self.fuse,
            name: self.name,
            classifier: Arc::new(classifier),
        }
    }

    /// The fuse.
    pub fn fuse(&self) -> &Fuse {
        &self.fuse
    }
}

impl<C> Clone for FuseLayer<C> {
    fn clone(&self) -> Self {
        FuseLayer {
            fuse: self.fuse.clone(),
            name: self.name.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for FuseLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuseLayer")
            .field("fuse", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for FuseLayer<C> {
    type Service = FuseService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        FuseService::from_parts(
            inner,
            self.fuse.clone(),
            self.name.clone(),
            self.classifier.clone(),
        )
    }
}
