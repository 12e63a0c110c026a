//! What every handle of one Fusebox shares: the maps of fuses and valves,
//! the clock and timer, the event bus and the alarm monitor.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use crate::error::NotFound;
use crate::event::alarm::Monitor;
use crate::event::Bus;
use crate::fuse::{Env, FuseCore};
use crate::pipeline::Listed;
use crate::sync::{self, Locked, Mutex, RwLock};
use crate::valve::engine::ValveCore;

pub(super) type FuseMap = papaya::HashMap<Arc<str>, Arc<FuseCore>, foldhash::fast::RandomState>;

/// The state behind every clone of one [`Fusebox`](super::Fusebox).
pub(super) struct Shared {
    #[cfg(feature = "metrics")]
    pub(super) exporter: crate::metrics_export::Exporter,
    #[cfg(feature = "metrics")]
    pub(super) metrics_interval: std::time::Duration,
    pub(super) fuses: FuseMap,
    pub(super) valves: RwLock<BTreeMap<Arc<str>, Arc<ValveCore>>>,
    /// The pipelines built with this Fusebox (held weakly).
    pub(super) pipelines: Arc<Listed>,
    /// The keyed families built with this Fusebox (held weakly).
    pub(super) keyed: super::Families,
    /// Serialises installs and removals, fuses and valves alike.
    pub(super) writes: Mutex<()>,
    pub(super) env: Arc<Env>,
    pub(super) bus: Arc<Bus>,
    pub(super) monitor: Monitor,
    pub(super) me: Weak<Shared>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.env.timers.shutdown();
    }
}

impl Shared {
    /// Every fuse, taken out of the map so no guard is held while they are read.
    pub(super) fn fuse_cores(&self) -> Vec<Arc<FuseCore>> {
        self.fuses.pin().values().cloned().collect()
    }

    /// Every valve, sorted by name, taken out of the lock likewise.
    pub(super) fn valve_cores(&self) -> Vec<Arc<ValveCore>> {
        sync::read(&self.valves).values().cloned().collect()
    }

    pub(super) fn get(&self, name: &str) -> Result<Arc<FuseCore>, NotFound> {
        self.fuses
            .pin()
            .get(name)
            .cloned()
            .ok_or_else(|| NotFound::fuse(name))
    }

    pub(super) fn valve(&self, name: &str) -> Option<Arc<ValveCore>> {
        sync::read(&self.valves).get(name).cloned()
    }

    /// Takes the writes lock (installs and removals).
    pub(super) fn write(&self) -> Locked<'_, ()> {
        sync::lock(&self.writes)
    }
}
