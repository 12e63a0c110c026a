//! The layer: a family of fuses, a key function and a classifier, applied
//! to any service.

use std::fmt;
use std::sync::Arc;

use fusebox::keyed::KeyedFuses;
use tower_layer::Layer;

use super::KeyedFuseService;
use crate::classify::DefaultClassifier;

/// Puts a [`KeyedFuses`] family in front of a service: each request goes
/// through the fuse of the key `key_of` computes from it.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox};
/// use fusebox::keyed::{KeyedBuilder, KeyedFuses};
/// use fusebox_tower::keyed::KeyedFuseLayer;
/// use tower_layer::Layer;
///
/// let fb = Fusebox::new();
/// let hosts: KeyedFuses<String> =
///     KeyedBuilder::new(FuseConfig::standard(5, Duration::from_secs(10))).build(&fb, "hosts")?;
/// // Requests are (host, path) pairs here; with `http`, take `req.uri().host()`.
/// let layer = KeyedFuseLayer::new(hosts, |req: &(String, String)| req.0.clone());
/// let svc = layer.layer(tower::service_fn(|req: (String, String)| async move {
///     Ok::<_, std::io::Error>(req.1)
/// }));
/// # let _ = svc;
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
pub struct KeyedFuseLayer<K, F, C = DefaultClassifier> {
    fuses: KeyedFuses<K>,
    key_of: Arc<F>,
    classifier: Arc<C>,
}

impl<K, F> KeyedFuseLayer<K, F> {
    /// A layer over `fuses`, keying each request by `key_of(&request)`,
    /// with the default classifier (an `Err` melts).
    pub fn new(fuses: KeyedFuses<K>, key_of: F) -> Self {
        KeyedFuseLayer {
            fuses,
            key_of: Arc::new(key_of),
            classifier: Arc::new(DefaultClassifier),
        }
    }
}

impl<K, F, C> KeyedFuseLayer<K, F, C> {
    /// Uses `classifier` to tell success, failure and ignored apart (see
    /// [`FuseLayer::classifier`](crate::FuseLayer::classifier)).
    pub fn classifier<D>(self, classifier: D) -> KeyedFuseLayer<K, F, D> {
        KeyedFuseLayer {
            fuses: self.fuses,
            key_of: self.key_of,
            classifier: Arc::new(classifier),
        }
    }

    /// The family.
    pub fn fuses(&self) -> &KeyedFuses<K> {
        &self.fuses
    }
}

impl<K, F, C> Clone for KeyedFuseLayer<K, F, C> {
    fn clone(&self) -> Self {
        KeyedFuseLayer {
            fuses: self.fuses.clone(),
            key_of: self.key_of.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K, F, C> fmt::Debug for KeyedFuseLayer<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedFuseLayer").finish_non_exhaustive()
    }
}

impl<S, K, F, C> Layer<S> for KeyedFuseLayer<K, F, C> {
    type Service = KeyedFuseService<S, K, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedFuseService::from_parts(
            inner,
            self.fuses.clone(),
            self.key_of.clone(),
            self.classifier.clone(),
        )
    }
}
