//! What stands between the service and a dependency, waiting for a turn:
//! a fusebox valve, or anyone else's regulator.
//!
//! The simulator judges protection on a table, so it must be able to run
//! the protection a team would otherwise pick (tower's `ConcurrencyLimit`,
//! a semaphore) on the same scenario, seed and virtual clock as fusebox's.
//! Anything that can be awaited for admission and holds its place until
//! dropped fits: [`Admit`]. A fusebox valve is one
//! ([`Valve::acquire`](fusebox::Valve::acquire), its permit held), and so is
//! a tower service's `poll_ready` followed by `call`, the response future
//! held. The simulator polls the future by hand with a waker of its own, so
//! a regulator built on tokio's synchronisation (which needs no runtime)
//! works as it does in production.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use fusebox::{Refused, Valve};

/// Waiting for admission: ready with what holds the place while the call
/// runs (dropped when it ends), or with the name of the refusal.
pub type Admission = Pin<Box<dyn Future<Output = Result<Box<dyn Any>, &'static str>>>>;

/// A regulator in front of a dependency.
///
/// ```
/// use std::any::Any;
/// use fusebox_sim::{Admission, Admit};
///
/// /// Admits everyone at once: no regulation.
/// struct Open;
///
/// impl Admit for Open {
///     fn admit(&self) -> Admission {
///         Box::pin(async { Ok(Box::new(()) as Box<dyn Any>) })
///     }
/// }
/// ```
pub trait Admit {
    /// One request's wait for its turn. Dropping the future gives the wait
    /// up (the client's timeout); dropping what it resolved to gives the
    /// place back.
    fn admit(&self) -> Admission;
}

impl Admit for Valve {
    fn admit(&self) -> Admission {
        let acquire = self.acquire();
        Box::pin(async move {
            match acquire.await {
                Ok(permit) => Ok(Box::new(permit) as Box<dyn Any>),
                Err(r) => Err(reason(r)),
            }
        })
    }
}

/// A valve refusal's name in the table.
fn reason(r: Refused) -> &'static str {
    match r {
        Refused::QueueFull => "valve_queue_full",
        Refused::Overload => "valve_overload",
        Refused::Timeout => "valve_timeout",
        Refused::Blown => "valve_blown",
        Refused::Busy => "valve_busy",
        _ => "valve_removed",
    }
}
