use std::sync::Arc;

use fusebox::Valve;
use tower_layer::Layer;

use super::{Mode, ValveService};

/// Wraps services in a [`ValveService`]: each request holds a valve permit.
///
/// # Example
///
/// ```
/// use fusebox::{Fusebox, ValveConfig};
/// use fusebox_tower::ValveLayer;
/// use tower::{service_fn, ServiceBuilder};
///
/// let fb = Fusebox::new();
/// fb.install_valve("api", ValveConfig::new().concurrency(8).queue(64))?;
/// let api = fb.valve("api").unwrap();
/// // Refuse at once when 8 requests are in flight...
/// let reject = ServiceBuilder::new()
///     .layer(ValveLayer::reject(api.clone()))
///     .service(service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) }));
/// // ...or queue up to 64 more, as the valve is configured.
/// let wait = ServiceBuilder::new()
///     .layer(ValveLayer::wait(api))
///     .service(service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) }));
/// # let _ = (reject, wait);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ValveLayer {
    valve: Valve,
    name: Arc<str>,
    mode: Mode,
}

impl ValveLayer {
    /// A layer in `mode` on `valve`.
    pub fn new(valve: Valve, mode: Mode) -> Self {
        ValveLayer {
            name: valve.name().into(),
            valve,
            mode,
        }
    }

    /// Reject mode: no free slot now → [`FuseboxError::Refused`](crate::FuseboxError::Refused)
    /// with reason `Busy`, at once.
    pub fn reject(valve: Valve) -> Self {
        Self::new(valve, Mode::Reject)
    }

    /// Wait mode: `poll_ready` waits in the valve's queue for a slot.
    pub fn wait(valve: Valve) -> Self {
        Self::new(valve, Mode::Wait)
    }

    /// The valve.
    pub fn valve(&self) -> &Valve {
        &self.valve
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

impl<S> Layer<S> for ValveLayer {
    type Service = ValveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ValveService::from_parts(inner, self.valve.clone(), self.name.clone(), self.mode)
    }
}
