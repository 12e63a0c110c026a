//! A family's snapshot: one walk over its keys, shard by shard, counting
//! keys by state, adding up its engines' counts, and keeping its top keys.
//!
//! # Implementation details
//!
//! * The totals must only go up, yet engines come and go: the sweep
//!   retires them. So each shard keeps the counts of the engines retired
//!   from it (`Retired`), added by the sweep in the same step as the
//!   retirement, under the shard's write lock; the walk reads a shard's
//!   retired counts and its engines under that same lock. An engine is thus
//!   counted once, live or retired, never both and never neither. (Counts an
//!   engine takes between the sweep's read and its retirement, an ask racing
//!   the sweep of an idle key, are lost, never counted twice.)
//! * Holding a shard's lock blocks the creation, promotion and sweep of its
//!   keys (not their asks) while the walk reads it: one sixty-fourth of the
//!   family at a time. Reading an engine takes its own lock under the
//!   shard's, the order the sweep takes them in. It is a *peek*: nothing is
//!   applied, no event published, no waker run under either lock.
//! * The top keys are a bounded list, best first: a candidate is compared
//!   by its rank before its name is written, so most keys never run their
//!   `Display`; those that do run it under the shard's lock, as the
//!   creation of a key does for its engine's name.
//!
//! The walk costs a read of every key: O(keys held), at most `max_keys`.

use super::counts::{Counts, COUNTS};
use std::fmt::Display;
use std::hash::Hash;

use super::per_key::PerKey;
use super::table::Inner;
use crate::keyed_snapshot::{bounded, KeyStates, KeyedConfig, KeyedSnapshot, KeyedTotals};
use crate::sync::lock;
use crate::valve::Refusals;

/// The best `room` candidates so far, best first.
struct Top<V> {
    room: usize,
    best: Vec<((u64, u64), String, V)>,
}

impl<V> Top<V> {
    /// Takes the candidate if it is among the best; `name` is called only
    /// if its rank alone does not rule it out.
    fn offer(&mut self, rank: (u64, u64), name: impl FnOnce() -> String, view: V) {
        if self.room == 0 {
            return;
        }
        let full = self.best.len() == self.room;
        if full && self.best.last().is_some_and(|w| rank < w.0) {
            return;
        }
        let name = name();
        // Higher ranks first, then names in ascending order.
        let at = self
            .best
            .partition_point(|(r, n, _)| *r > rank || (*r == rank && *n <= name));
        if full && at == self.room {
            return;
        }
        self.best.insert(at, (rank, name, view));
        self.best.truncate(self.room);
    }
}

impl<K, E> Inner<K, E>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    E: PerKey,
{
    /// The family now, with at most `top` top keys.
    pub(super) fn survey(&self, top: usize) -> KeyedSnapshot {
        let mut counts: Counts = [0; COUNTS];
        let mut states = KeyStates::default();
        let (mut in_flight, mut queued) = (0, 0);
        let mut best: Top<E::View> = Top {
            room: top,
            best: Vec::new(),
        };
        for shard in self.shards.iter() {
            let _w = lock(&shard.writes);
            for (total, n) in counts.iter_mut().zip(shard.retired.get()) {
                *total += n;
            }
            let map = shard.map.pin();
            for (key, slot) in map.iter() {
                let Some(core) = &slot.core else {
                    // A compact key: a healthy fuse with nothing to remember.
                    states.add(crate::keyed_snapshot::KeyState::Ok);
                    continue;
                };
                // Under the lock a slot's engine is never retired.
                let Some(view) = core.view() else { continue };
                for (total, n) in counts.iter_mut().zip(E::counts(&view)) {
                    *total += n;
                }
                states.add(E::state(&view));
                let k = E::top_key(String::new(), &view);
                in_flight += k.in_flight;
                queued += k.queued;
                if let Some(rank) = E::rank(&view) {
                    best.offer(rank, || bounded(key.to_string()), view);
                }
            }
        }
        let totals = match E::KIND {
            super::KeyedKind::Fuses => KeyedTotals {
                refused: counts[0],
                melts: counts[1],
                blows: counts[2],
                heals: counts[3],
                ..KeyedTotals::default()
            },
            _ => KeyedTotals {
                admitted: counts[0],
                refusals: Refusals {
                    queue_full: counts[1],
                    overload: counts[2],
                    timeout: counts[3],
                    blown: counts[4],
                    busy: counts[5],
                    removed: 0,
                },
                in_flight,
                queued,
                ..KeyedTotals::default()
            },
        };
        let (fuse, valve) = E::template(&self.template);
        KeyedSnapshot {
            name: self.family.clone(),
            kind: E::KIND,
            config: KeyedConfig {
                fuse,
                valve,
                idle_ttl: std::time::Duration::from_nanos(self.ttl),
                sweep_every: std::time::Duration::from_nanos(self.period),
                sweep_budget: self.budget,
                max_keys: self.max_keys,
            },
            stats: self.stats(),
            states,
            totals,
            top: best
                .best
                .into_iter()
                .map(|(_, name, view)| E::top_key(name, &view))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Top;

    #[test]
    fn the_top_keeps_the_best_ranks_then_the_first_names() {
        let mut top = Top {
            room: 3,
            best: Vec::new(),
        };
        let mut named = 0;
        for (rank, name) in [(1, "e"), (5, "d"), (5, "a"), (2, "c"), (5, "b"), (1, "f")] {
            top.offer(
                (rank, 0),
                || {
                    named += 1;
                    name.to_string()
                },
                (),
            );
        }
        let got: Vec<_> = top.best.iter().map(|b| (b.0 .0, b.1.as_str())).collect();
        assert_eq!(got, [(5, "a"), (5, "b"), (5, "d")]);
        // (1, "f") came when the list was full of better ranks: not named.
        assert_eq!(named, 5);
        let mut none: Top<()> = Top {
            room: 0,
            best: Vec::new(),
        };
        none.offer((9, 9), || unreachable!(), ());
        assert!(none.best.is_empty());
    }
}
