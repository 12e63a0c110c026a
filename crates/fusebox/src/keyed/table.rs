//! The keys of one family: sharded lock-free maps for reads, one write lock
//! per shard for everything that replaces a key's record.
//!
//! # Implementation details
//!
//! * A read (`ask`, the admission of `run`, a melt of a promoted key) pins
//!   the key's shard map (papaya, the registry's own map), finds the slot,
//!   touches its timestamp and either answers `Ok` (a compact slot) or goes
//!   to the slot's engine. No lock on that path.
//! * Creating a key, promoting it, demoting or evicting it take the shard's
//!   write lock and re-read the slot under it, so two melts of a new key
//!   make one engine, and the sweep's decision and its map change are one
//!   step as far as writers go.
//! * A demotion or eviction retires the engine first (`retire_if_idle`,
//!   under the engine's own lock, only if it is pristine). A reader that
//!   still holds the old slot and reaches the retired engine sees
//!   `Removed` and takes the slow path, which waits on the write lock and
//!   finds the key's new record. Nothing a retired engine would have
//!   remembered is lost, since it remembered nothing a fresh one would not.

use std::borrow::Borrow;
use std::fmt::Display;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use super::counts::Retired;
use super::per_key::PerKey;
use super::slot::Slot;
use super::KeyedStats;
use crate::fuse::Env;
use crate::registry::Fusebox;
use crate::sync::{lock, Mutex};

/// Shards per family: spreads write locks and gives the sweep places to
/// resume from. A power of two.
pub(super) const SHARDS: usize = 64;

/// Where the next sweep starts (`sweep.rs`): a position in the table, shard
/// by shard, then by entry within the shard.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    pub(super) shard: usize,
    pub(super) offset: usize,
}

type Map<K, E> = papaya::HashMap<K, Slot<E>, foldhash::fast::RandomState>;

pub(super) struct Shard<K, E> {
    pub(super) map: Map<K, E>,
    pub(super) writes: Mutex<()>,
    /// The counts of the engines retired from this shard (`survey.rs`).
    pub(super) retired: Retired,
}

/// How a family is sized and swept, in ns and counts (validated by the
/// builder).
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizing {
    pub(super) ttl: u64,
    pub(super) period: u64,
    pub(super) budget: usize,
    pub(super) max_keys: usize,
}

/// Everything behind the clones of one keyed family
/// ([`KeyedFuses`](super::KeyedFuses), [`KeyedValves`](super::KeyedValves)).
pub(super) struct Inner<K, E: PerKey> {
    pub(super) family: Arc<str>,
    pub(super) template: E::Template,
    /// Whether a healthy key may live without an engine (see `slot.rs`).
    pub(super) compact: bool,
    pub(super) ttl: u64,
    pub(super) period: u64,
    pub(super) budget: usize,
    pub(super) max_keys: usize,
    pub(super) env: Arc<Env>,
    pub(super) shards: Box<[Shard<K, E>]>,
    hasher: foldhash::fast::RandomState,
    pub(super) cursor: Mutex<Cursor>,
    /// Keys held, counted by who inserts and who evicts, so that the bound
    /// is one compare-and-swap however many shards create keys at once.
    pub(super) keys: AtomicUsize,
    /// Keys holding an engine.
    pub(super) live: AtomicUsize,
    pub(super) promotions: AtomicU64,
    pub(super) demotions: AtomicU64,
    pub(super) evictions: AtomicU64,
    /// New keys turned away because the family held `max_keys`.
    pub(super) full: AtomicU64,
    pub(super) me: Weak<Inner<K, E>>,
}

impl<K, E> std::fmt::Debug for Inner<K, E>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    E: PerKey,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(E::FAMILY)
            .field("family", &self.family)
            .field("keys", &self.len())
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish()
    }
}

/// What a slot holds for a caller: nothing to ask, an engine, or no room
/// for a new key.
pub(super) enum Found<E> {
    Compact,
    Live(Arc<E>),
    Full,
}

impl<K, E> Inner<K, E>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    E: PerKey,
{
    pub(super) fn new(
        family: &str,
        template: E::Template,
        sizing: Sizing,
        env: Arc<Env>,
    ) -> Arc<Self> {
        let hasher = foldhash::fast::RandomState::default();
        Arc::new_cyclic(|me| Inner {
            family: family.into(),
            compact: E::compact(&template),
            template,
            ttl: sizing.ttl,
            period: sizing.period,
            budget: sizing.budget,
            max_keys: sizing.max_keys,
            env,
            shards: (0..SHARDS)
                .map(|_| Shard {
                    map: Map::with_hasher(hasher.clone()),
                    writes: Mutex::new(()),
                    retired: Retired::default(),
                })
                .collect(),
            hasher,
            cursor: Mutex::new(Cursor::default()),
            keys: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            promotions: AtomicU64::new(0),
            demotions: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            full: AtomicU64::new(0),
            me: me.clone(),
        })
    }

    /// A family on `fusebox`'s clock and timer, its sweep scheduled.
    pub(super) fn start(
        family: &str,
        template: E::Template,
        sizing: Sizing,
        fusebox: &Fusebox,
    ) -> Arc<Self> {
        let env = fusebox.env().clone();
        let now = env.timebase.now();
        let inner = Self::new(family, template, sizing, env);
        inner.schedule_sweep(now);
        inner
    }

    /// The family's counts.
    pub(super) fn stats(&self) -> KeyedStats {
        // Ordering: statistics, read independently.
        KeyedStats {
            keys: self.len(),
            live: self.live.load(Ordering::Relaxed),
            promotions: self.promotions.load(Ordering::Relaxed),
            demotions: self.demotions.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            full: self.full.load(Ordering::Relaxed),
        }
    }

    /// Counts a new key in, unless the family is full.
    fn reserve(&self) -> bool {
        // Ordering: a count that guards only itself; the key's record is
        // published by the shard map, under the shard's write lock.
        let ok = self
            .keys
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_keys).then_some(n + 1)
            })
            .is_ok();
        if !ok {
            // Ordering: statistics.
            self.full.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Counts an evicted key out.
    pub(super) fn evicted(&self) {
        // Ordering: as in `reserve`; statistics for `evictions`.
        self.keys.fetch_sub(1, Ordering::Relaxed);
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }
}

impl<K, E> Inner<K, E>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    E: PerKey,
{
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.map.len()).sum()
    }

    #[inline]
    pub(super) fn shard<Q>(&self, key: &Q) -> &Shard<K, E>
    where
        Q: Hash + ?Sized,
    {
        // The top bits: papaya indexes its table with the low ones.
        let h = self.hasher.hash_one(key);
        &self.shards[(h >> 58) as usize & (SHARDS - 1)]
    }

    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.env.timebase.now_coarse()
    }

    /// Without a lock: `f` of the key's engine (`None` for a compact key),
    /// under the map's guard so no reference count moves, after touching
    /// the key. `None` if the key has no record or `f` declines (its engine
    /// was retired): the caller takes the slow path.
    #[inline]
    pub(super) fn read<Q, R>(
        &self,
        key: &Q,
        f: impl FnOnce(Option<&Arc<E>>) -> Option<R>,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key);
        let map = shard.map.pin();
        let slot = map.get(key)?;
        slot.touch(self.now());
        f(slot.core.as_ref())
    }

    /// Under the shard's write lock: the key's record, created from the
    /// template if it has none, and given an engine if `engine` or the
    /// template needs one. Touched.
    pub(super) fn slow<Q>(&self, key: &Q, engine: bool) -> Found<E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let shard = self.shard(key);
        // The key's owned copy and its engine's name are the user's code
        // (`ToOwned`, `Display`): made before the lock, and dropped after it
        // if another writer made the record first. Declared before the
        // lock, so they drop after it; the map's pin likewise, so what it
        // reclaims is dropped with no lock held.
        let owned = key.to_owned();
        let name: Option<Arc<str>> =
            (engine || !self.compact).then(|| format!("{}/{}", self.family, owned).into());
        let map = shard.map.pin();
        let _w = lock(&shard.writes);
        let now = self.now();
        let existing = map.get(key);
        if let Some(slot) = existing {
            match &slot.core {
                // Under the lock a slot's engine is never retired: the
                // sweep retires and replaces under this same lock.
                Some(core) if !core.is_removed() => {
                    slot.touch(now);
                    return Found::Live(core.clone());
                }
                None if !engine => {
                    slot.touch(now);
                    return Found::Compact;
                }
                _ => {}
            }
        }
        if existing.is_none() && !self.reserve() {
            return Found::Full;
        }
        let Some(name) = name else {
            // A compact family asked for no engine: a compact record.
            map.insert(owned, Slot::new(now, None));
            return Found::Compact;
        };
        let core = E::make(name, &self.template, &self.env);
        map.insert(owned, Slot::new(now, Some(core.clone())));
        // Ordering: statistics.
        self.live.fetch_add(1, Ordering::Relaxed);
        self.promotions.fetch_add(1, Ordering::Relaxed);
        Found::Live(core)
    }

    /// The key's engine if it has one, without creating anything.
    pub(super) fn engine<Q>(&self, key: &Q) -> Option<Arc<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key);
        let map = shard.map.pin();
        let _w = lock(&shard.writes);
        map.get(key).and_then(|s| s.core.clone())
    }
}
