//! The keyed families built with a Fusebox: listed by name in its snapshot
//! and metrics while a clone of them lives (`keyed/family.rs`), each read
//! in a bounded summary however many keys it holds.

use super::Families;
use super::Fusebox;
use crate::error::NotFound;
use crate::keyed_snapshot::{KeyedSnapshot, MAX_TOP_KEYS, TOP_KEYS};

impl Fusebox {
    /// Every live keyed family built with this Fusebox
    /// ([`KeyedBuilder::build`](crate::keyed::KeyedBuilder)), sorted by
    /// name, each with at most [`TOP_KEYS`] top keys.
    ///
    /// Reads every key of every family (a family's keys shard by shard,
    /// each shard under its write lock): O(keys held).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Fusebox, ValveConfig};
    /// use fusebox::keyed::{KeyedBuilder, KeyedValves};
    ///
    /// let fb = Fusebox::new();
    /// let tenants: KeyedValves<String> =
    ///     KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0)).build(&fb, "tenants")?;
    /// let _held = tenants.try_acquire("acme")?;
    /// assert!(tenants.try_acquire("acme").is_err());           // busy
    /// let family = &fb.keyed()[0];
    /// assert_eq!((family.states.busy, family.totals.refusals.busy), (1, 1));
    /// assert_eq!(family.top[0].key, "acme");
    /// drop(tenants);                                          // its last clone
    /// assert!(fb.keyed().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyed(&self) -> Vec<KeyedSnapshot> {
        self.families()
            .all()
            .iter()
            .map(|f| f.snapshot(TOP_KEYS))
            .collect()
    }

    /// The live keyed family `name`, with at most `top` top keys (at most
    /// [`MAX_TOP_KEYS`], whatever is asked).
    ///
    /// # Errors
    ///
    /// [`NotFound`] if no live family of this Fusebox has the name.
    pub fn keyed_family(&self, name: &str, top: usize) -> Result<KeyedSnapshot, NotFound> {
        let family = self
            .families()
            .get(name)
            .ok_or_else(|| NotFound::keyed(name))?;
        Ok(family.snapshot(top.min(MAX_TOP_KEYS)))
    }

    /// The keyed families' list.
    pub(crate) fn families(&self) -> &Families {
        &self.shared.keyed
    }
}
