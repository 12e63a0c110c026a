//! The keyed families a Fusebox knows: each one built with it, by name,
//! held weakly, so that its snapshot, metrics and admin list them.
//!
//! A family is its callers' (its clones own it), as a pipeline built with a
//! Fusebox is: the Fusebox keeps a weak handle under the family's name and
//! forgets it once the last clone is gone. Names are one namespace for
//! fuse and valve families, so a name is one set of metric series: a build
//! under the name of a live family is refused. The registry knows a family
//! only as a [`Family`], which `keyed/family.rs` implements: the families
//! depend on the registry, never the other way round.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use crate::error::ConfigError;
use crate::keyed_snapshot::KeyedSnapshot;
use crate::sync::{lock, Mutex};

/// What the Fusebox asks of a family, whatever its key and engine types.
pub(crate) trait Family: Send + Sync {
    /// The family now, with at most `top` top keys.
    fn snapshot(&self, top: usize) -> KeyedSnapshot;
}

/// The live families of one Fusebox, by name.
#[derive(Debug, Default)]
pub(crate) struct Families {
    list: Mutex<BTreeMap<Arc<str>, Weak<dyn Family>>>,
}

impl Families {
    /// Lists `family` under `name`, unless a live family has that name.
    pub(crate) fn register(
        &self,
        name: &Arc<str>,
        family: Weak<dyn Family>,
    ) -> Result<(), ConfigError> {
        let mut list = lock(&self.list);
        if list.get(name).is_some_and(|w| w.strong_count() > 0) {
            return Err(ConfigError::new(
                "keyed.family",
                &**name,
                "is the name of a live keyed family of this Fusebox",
            ));
        }
        // A departed family's entry is a bare `Weak`: nothing of the
        // caller's is dropped under the lock.
        list.insert(name.clone(), family);
        Ok(())
    }

    /// Every live family, sorted by name; departed ones are forgotten.
    pub(crate) fn all(&self) -> Vec<Arc<dyn Family>> {
        let mut list = lock(&self.list);
        list.retain(|_, w| w.strong_count() > 0);
        list.values().filter_map(Weak::upgrade).collect()
        // The upgraded handles may be the last ones: they are dropped by
        // the caller, after the lock.
    }

    /// The live family named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<dyn Family>> {
        lock(&self.list).get(name).and_then(Weak::upgrade)
    }
}
