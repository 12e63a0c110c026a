//! The periodic sweep: forgets keys that have been idle for the TTL and
//! demotes promoted keys whose engine has nothing left to remember.
//!
//! It runs on the Fusebox's timer, every `sweep_every`, and looks at no more
//! than `sweep_budget` keys per run, resuming where the last run stopped
//! (shard by shard, then by position in the shard's table), so a family of
//! a million keys costs the timer thread a bounded slice of work at a time.
//! Resuming in the middle of a shard walks past the entries before the
//! cursor (reads of one table, no lock, no engine); a resize between runs
//! may make a pass see a key twice or miss it once, which only moves its
//! eviction to the next pass.
//!
//! The rule, per key looked at, at time `now`:
//!
//! * a compact key unused for `ttl` (`now - last_used >= ttl`) is evicted;
//! * a promoted key is retired only if its engine is *pristine*: ok, not
//!   disabled, nothing in its window, no consecutive failures, its backoff
//!   started over, and healed (if it ever blew) at least `ttl` ago. Then it
//!   is evicted if also unused for `ttl`, else demoted to a compact record
//!   (templates that allow one) keeping its last use;
//! * a blown, healing or disabled key is never retired: its state matters;
//! * a keyed valve (never compact) is retired, and its key evicted, only
//!   when unused for `ttl` with no permit held and no task waiting.
//!
//! ```text
//!  melt ×2 (blows)   heal (reset 1 s)       ttl = 10 s after both
//!  ─────┬───────────────┬──────────────────────────┬──────▶ time
//!       t               t+1s                      t+11s: evicted at the
//!                                                 first sweep from here
//! ```

use std::fmt::Display;
use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::Weak;

use super::per_key::PerKey;
use super::slot::Slot;
use super::table::{Inner, SHARDS};
use crate::sync::lock;

impl<K, E> Inner<K, E>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    E: PerKey,
{
    pub(super) fn schedule_sweep(&self, from: u64) {
        let me: Weak<Inner<K, E>> = self.me.clone();
        let at = from.saturating_add(self.period);
        self.env.timers.schedule(at, move |due| {
            if let Some(inner) = me.upgrade() {
                inner.sweep();
                inner.schedule_sweep(due.at);
            }
        });
    }

    /// One sweep: looks at up to `budget` keys from the cursor on. Returns
    /// how many it looked at.
    pub(super) fn sweep(&self) -> usize {
        let mut cursor = lock(&self.cursor);
        let mut looked = 0;
        // Each shard at most once per run, so an empty family ends at once.
        for _ in 0..SHARDS {
            let shard = &self.shards[cursor.shard];
            let room = self.budget - looked;
            let keys: Vec<K> = {
                let map = shard.map.pin();
                map.iter()
                    .skip(cursor.offset)
                    .take(room)
                    .map(|(k, _)| k.clone())
                    .collect()
            };
            let seen = keys.len();
            looked += seen;
            let mut evicted = 0;
            for key in keys {
                evicted += usize::from(self.judge(key));
            }
            if seen < room {
                cursor.shard = (cursor.shard + 1) % SHARDS;
                cursor.offset = 0;
            } else {
                // The keys evicted are no longer counted by `skip`.
                cursor.offset += seen - evicted;
            }
            if looked >= self.budget {
                break;
            }
        }
        looked
    }

    /// Applies the rule of the module docs to one key; true if evicted.
    /// The key is the sweep's own copy (made with no lock held), so a
    /// demotion clones nothing under the lock, and the copy is dropped after
    /// the lock is released (a parameter outlives the function's locals).
    fn judge(&self, key: K) -> bool {
        let shard = self.shard(&key);
        // Pinned before the lock, so what the pin reclaims on release is
        // dropped with no lock held.
        let map = shard.map.pin();
        let _w = lock(&shard.writes);
        let Some(slot) = map.get(&key) else {
            return false;
        };
        let now = self.env.timebase.now();
        let last = slot.last();
        let idle = now.saturating_sub(last) >= self.ttl;
        match &slot.core {
            None if idle => {
                map.remove(&key);
                self.evicted();
                true
            }
            None => false,
            // In use, and no compact record to demote to: keep the engine.
            Some(_) if !idle && !self.compact => false,
            Some(core) => {
                // Read before retiring (a retired engine reads as nothing),
                // caught up as the retirement's own check is.
                let counts = core.settled_view().map(|v| E::counts(&v));
                if !core.retire_if_idle(self.ttl) {
                    return false;
                }
                if let Some(counts) = counts {
                    shard.retired.add(&counts);
                }
                // Ordering: statistics.
                self.live.fetch_sub(1, Ordering::Relaxed);
                if idle {
                    map.remove(&key);
                    self.evicted();
                    true
                } else {
                    map.insert(key, Slot::new(last, None));
                    self.demotions.fetch_add(1, Ordering::Relaxed);
                    false
                }
            }
        }
    }
}
