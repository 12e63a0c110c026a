//! Where a pipeline belongs: the Fusebox it was built with, seen only as
//! what the pipeline needs of it (a clock, a bus, a list to appear in).
//!
//! The registry knows pipelines (it lists them in its snapshot); a
//! pipeline must not know the registry, or the two would be one knot
//! (`tests/architecture.rs`). So the list is a type of this module, which
//! the registry holds and hands over in
//! [`PipelineBuilder::fusebox`](super::PipelineBuilder::fusebox). It holds
//! pipelines weakly: a pipeline belongs to its callers and leaves the list
//! when the last clone is dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use super::Core;
use crate::clock::Timebase;
use crate::error::ConfigError;
use crate::event::Bus;

/// What a pipeline built with a Fusebox takes from it.
#[derive(Debug)]
pub(crate) struct Home {
    pub(crate) timebase: Timebase,
    pub(crate) bus: Arc<Bus>,
    pub(crate) list: Arc<Listed>,
}

/// The live pipelines of one Fusebox, by name.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    map: Mutex<BTreeMap<Arc<str>, Weak<Core>>>,
}

impl Listed {
    /// Lists `core` under its name, unless a live pipeline has it.
    pub(crate) fn register(&self, core: &Arc<Core>) -> Result<(), ConfigError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&core.name).is_some_and(|w| w.strong_count() > 0) {
            return Err(ConfigError::pipeline(
                "name",
                &*core.name,
                "is the name of a live pipeline of this Fusebox",
            ));
        }
        map.insert(core.name.clone(), Arc::downgrade(core));
        Ok(())
    }

    /// Every live pipeline, sorted by name; departed ones are forgotten.
    pub(crate) fn cores(&self) -> Vec<Arc<Core>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, w| w.strong_count() > 0);
        map.values().filter_map(Weak::upgrade).collect()
    }
}
