//! What a keyed family counts of its engines: each engine's cumulative
//! counts, and per shard those of the engines the sweep retired, so the
//! family's totals only go up (`survey.rs` adds the two).

use std::sync::atomic::{AtomicU64, Ordering};

/// How many counts an engine gives (see `PerKey::counts`): a fuse's
/// refused asks, melts, blows and heals; a valve's admissions and refusals
/// by reason.
pub(super) const COUNTS: usize = 6;

/// An engine's cumulative counts.
pub(crate) type Counts = [u64; COUNTS];

/// The counts of the engines the sweep retired from one shard.
#[derive(Debug, Default)]
pub(super) struct Retired([AtomicU64; COUNTS]);

impl Retired {
    /// Adds a retired engine's counts; under the shard's write lock.
    pub(super) fn add(&self, counts: &Counts) {
        for (total, n) in self.0.iter().zip(counts) {
            // Ordering: written and read only under the shard's write
            // lock, which orders them.
            total.fetch_add(*n, Ordering::Relaxed);
        }
    }

    pub(super) fn get(&self) -> Counts {
        // Ordering: as in `add`.
        std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed))
    }
}
