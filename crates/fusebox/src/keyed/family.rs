//! A keyed family as the registry sees it ([`Family`], in
//! `registry/families.rs`): whatever its key and engine types, it answers
//! its snapshot.

use std::fmt::Display;
use std::hash::Hash;

use super::per_key::PerKey;
use super::table::Inner;
use crate::keyed_snapshot::KeyedSnapshot;
use crate::registry::Family;

impl<K, E> Family for Inner<K, E>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    E: PerKey,
{
    fn snapshot(&self, top: usize) -> KeyedSnapshot {
        self.survey(top)
    }
}
