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
//!
//! Except the pipelines the Fusebox built itself, from a config file: those
//! have no caller to own them, so the list also *keeps* them (strongly),
//! one per name, until a later load replaces one. Keeping them here and not
//! in the registry lets one lock decide both "is the name free" and "which
//! pipeline is kept under it".

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use super::{Core, NoFallback, Pipeline};
use crate::clock::Timebase;
use crate::error::ConfigError;
use crate::event::Bus;
use crate::sync::{lock, Mutex};

/// What a pipeline built with a Fusebox takes from it.
#[derive(Debug)]
pub(crate) struct Home {
    pub(crate) timebase: Timebase,
    pub(crate) bus: Arc<Bus>,
    pub(crate) list: Arc<Listed>,
    /// Kept by the list (built from a config file), replacing the one kept
    /// under its name, if any.
    pub(crate) keep: bool,
}

/// The live pipelines of one Fusebox, by name.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    map: Mutex<Lists>,
}

#[derive(Debug, Default)]
struct Lists {
    live: BTreeMap<Arc<str>, Weak<Core>>,
    kept: BTreeMap<Arc<str>, Arc<Core>>,
}

impl Listed {
    /// Lists `core` under its name, unless a live pipeline has it (one
    /// this list keeps may be replaced by another to keep); keeps it if
    /// `keep`.
    pub(crate) fn register(&self, core: &Arc<Core>, keep: bool) -> Result<(), ConfigError> {
        let mut lists = lock(&self.map);
        let Lists { live, kept } = &mut *lists;
        let replaceable = |w: &Weak<Core>| {
            keep && kept
                .get(&core.name)
                .is_some_and(|k| std::ptr::eq(Arc::as_ptr(k), w.as_ptr()))
        };
        if live
            .get(&core.name)
            .is_some_and(|w| w.strong_count() > 0 && !replaceable(w))
        {
            return Err(ConfigError::pipeline(
                "name",
                &*core.name,
                "is the name of a live pipeline of this Fusebox",
            ));
        }
        live.insert(core.name.clone(), Arc::downgrade(core));
        if keep {
            // The replaced one, if any, is dropped after the lock.
            let _old = kept.insert(core.name.clone(), core.clone());
            drop(lists);
        }
        Ok(())
    }

    /// Every live pipeline, sorted by name; departed ones are forgotten.
    pub(crate) fn cores(&self) -> Vec<Arc<Core>> {
        let mut lists = lock(&self.map);
        lists.live.retain(|_, w| w.strong_count() > 0);
        lists.live.values().filter_map(Weak::upgrade).collect()
    }

    /// The pipeline kept under `name`.
    pub(crate) fn kept(&self, name: &str) -> Option<Pipeline> {
        let lists = lock(&self.map);
        lists.kept.get(name).map(|core| Pipeline {
            core: core.clone(),
            fallback: Arc::new(NoFallback),
        })
    }
}
