//! A bounded estimate of a dependency's recent latency, for hedging after a
//! quantile rather than a guess.
//!
//! The last `window` latencies of successful attempts sit in a ring (memory
//! fixed whatever the call rate; old behaviour leaves as new arrives). The
//! quantile is the nearest rank over them: sort, take element
//! `ceil(q · n) − 1`. Sorting up to 1024 numbers is far more work than
//! the rest of a successful attempt's bookkeeping, so the quantile is
//! recomputed only every [`EVERY`] samples (and on each sample until
//! `min_samples` are known), and read from one atomic word between
//! recomputations. Only successes are sampled: a failure that answers fast
//! would pull the estimate down and make the pipeline hedge too early.
//!
//! The estimate knows nothing of hedges: the one a hedge needs is built by
//! [`RecentLatency::for_hedge`], in `hedge.rs`, from the hedge's own rule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sync::{lock, Mutex};

/// How many samples pass between recomputations of the quantile.
const EVERY: u32 = 16;
/// The word's value while too few samples are known.
const UNKNOWN: u64 = u64::MAX;

/// A dependency's recent latencies and their quantile: what a hedge at a
/// quantile ([`Hedge::quantile`](super::Hedge::quantile)) waits for. A
/// [`Pipeline`](super::Pipeline) keeps one itself; this is the same
/// estimate for a caller that makes its own attempts (a simulator, say).
///
/// ```
/// use std::time::Duration;
/// use fusebox::pipeline::{Hedge, RecentLatency};
///
/// let hedge = Hedge::quantile(0.5, Duration::from_millis(100)).samples(8, 4);
/// let recent = RecentLatency::for_hedge(&hedge).expect("a quantile hedge");
/// assert_eq!(hedge.delay_now(Some(&recent)), Duration::from_millis(100));
/// for ms in [10, 20, 30, 40] {
///     recent.record(Duration::from_millis(ms));
/// }
/// assert_eq!(recent.quantile(), Some(Duration::from_millis(20)));
/// assert_eq!(hedge.delay_now(Some(&recent)), Duration::from_millis(20));
/// ```
#[derive(Debug)]
pub struct RecentLatency {
    q: f64,
    min_samples: usize,
    ring: Mutex<Ring>,
    /// The quantile in ns, or [`UNKNOWN`].
    quantile: AtomicU64,
}

#[derive(Debug)]
struct Ring {
    samples: Vec<u64>,
    window: usize,
    next: usize,
    since: u32,
}

impl RecentLatency {
    /// Records one successful attempt's latency.
    pub fn record(&self, latency: Duration) {
        self.record_ns(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    /// The quantile, once enough latencies are known.
    pub fn quantile(&self) -> Option<Duration> {
        self.quantile_ns().map(Duration::from_nanos)
    }

    pub(crate) fn new(q: f64, window: usize, min_samples: usize) -> Self {
        RecentLatency {
            q,
            min_samples,
            ring: Mutex::new(Ring {
                samples: Vec::with_capacity(window),
                window,
                next: 0,
                since: 0,
            }),
            quantile: AtomicU64::new(UNKNOWN),
        }
    }

    /// Records one successful attempt's latency, in ns.
    pub(crate) fn record_ns(&self, ns: u64) {
        let mut r = lock(&self.ring);
        if r.samples.len() < r.window {
            r.samples.push(ns);
        } else {
            let i = r.next;
            r.samples[i] = ns;
        }
        r.next = (r.next + 1) % r.window;
        r.since += 1;
        let n = r.samples.len();
        if n < self.min_samples || (r.since < EVERY && n > self.min_samples) {
            return;
        }
        r.since = 0;
        let mut sorted = r.samples.clone();
        drop(r);
        sorted.sort_unstable();
        let rank = ((self.q * n as f64).ceil() as usize).clamp(1, n);
        // Ordering: the word is a hint read on its own; no other memory is
        // published through it.
        self.quantile.store(sorted[rank - 1], Ordering::Relaxed);
    }

    /// The quantile in ns, once `min_samples` latencies are known.
    pub(crate) fn quantile_ns(&self) -> Option<u64> {
        // Ordering: as in `record`.
        match self.quantile.load(Ordering::Relaxed) {
            UNKNOWN => None,
            v => Some(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_once_enough_samples_are_known() {
        let l = RecentLatency::new(0.95, 100, 20);
        for v in 1..=19 {
            l.record_ns(v);
        }
        assert_eq!(l.quantile_ns(), None);
        l.record_ns(20);
        assert_eq!(l.quantile_ns(), Some(19)); // ceil(0.95 · 20) = 19th
        for v in 21..=100 {
            l.record_ns(v);
        }
        // 100 samples: recomputed at 36, 52, 68, 84, 100.
        assert_eq!(l.quantile_ns(), Some(95));
    }

    #[test]
    fn the_ring_forgets_the_oldest() {
        let l = RecentLatency::new(1.0, 4, 1);
        for v in [100, 100, 100, 100] {
            l.record_ns(v);
        }
        for _ in 0..EVERY {
            l.record_ns(1);
        }
        assert_eq!(l.quantile_ns(), Some(1));
    }
}
