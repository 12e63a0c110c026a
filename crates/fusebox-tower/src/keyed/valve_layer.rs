//! The layer: a family of valves and a key function, applied to any
//! service.

use std::fmt;
use std::sync::Arc;

use fusebox::keyed::KeyedValves;
use tower_layer::Layer;

use super::KeyedValveService;

/// Puts a [`KeyedValves`] family in front of a service: each request
/// holds a permit of the valve of the key `key_of` computes from it.
///
/// # Example
///
/// ```
/// use fusebox::{Fusebox, ValveConfig};
/// use fusebox::keyed::{KeyedBuilder, KeyedValves};
/// use fusebox_tower::keyed::KeyedValveLayer;
/// use tower_layer::Layer;
///
/// let fb = Fusebox::new();
/// let tenants: KeyedValves<String> =
///     KeyedBuilder::new(ValveConfig::new().concurrency(4).queue(16)).build(&fb, "tenants")?;
/// // Requests are (tenant, body) pairs here; with `http`, read a header.
/// let layer = KeyedValveLayer::new(tenants, |req: &(String, String)| req.0.clone());
/// let svc = layer.layer(tower::service_fn(|req: (String, String)| async move {
///     Ok::<_, std::io::Error>(req.1)
/// }));
/// # let _ = svc;
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
pub struct KeyedValveLayer<K, F> {
    valves: KeyedValves<K>,
    key_of: Arc<F>,
}

impl<K, F> KeyedValveLayer<K, F> {
    /// A layer over `valves`, keying each request by `key_of(&request)`.
    pub fn new(valves: KeyedValves<K>, key_of: F) -> Self {
        KeyedValveLayer {
            valves,
            key_of: Arc::new(key_of),
        }
    }

    /// The family.
    pub fn valves(&self) -> &KeyedValves<K> {
        &self.valves
    }
}

impl<K, F> Clone for KeyedValveLayer<K, F> {
    fn clone(&self) -> Self {
        KeyedValveLayer {
            valves: self.valves.clone(),
            key_of: self.key_of.clone(),
        }
    }
}

impl<K, F> fmt::Debug for KeyedValveLayer<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedValveLayer").finish_non_exhaustive()
    }
}

impl<S, K, F> Layer<S> for KeyedValveLayer<K, F> {
    type Service = KeyedValveService<S, K, F>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedValveService::from_parts(inner, self.valves.clone(), self.key_of.clone())
    }
}
