//! A lock-free latency histogram: one counter per power of two of
//! nanoseconds. Coarse (each bucket spans 2x) but O(1), allocation-free and
//! safe to record from any thread; quantiles report a bucket's upper bound,
//! so they never understate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) const BUCKETS: usize = 64;

/// Counts of durations by power of two of nanoseconds.
#[derive(Debug)]
pub(crate) struct Histogram {
    counts: [AtomicU64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// The upper bound of bucket `i`, in seconds (what a quantile reports).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) fn upper_bound_secs(i: usize) -> f64 {
    upper_bound_ns(i) as f64 / 1e9
}

fn upper_bound_ns(i: usize) -> u64 {
    if i == 0 {
        0
    } else {
        (1u64 << i.min(63)) - 1
    }
}

/// Bucket `i` holds durations in `[2^(i-1), 2^i)` ns; bucket 0 holds 0.
fn bucket(ns: u64) -> usize {
    (u64::BITS - ns.leading_zeros()) as usize
}

impl Histogram {
    pub(crate) fn record(&self, ns: u64) {
        // Ordering: statistics, read by snapshots with no other memory to
        // synchronize.
        self.counts[bucket(ns).min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bound of the bucket holding quantile `q` in [0, 1], or
    /// `None` if nothing was recorded.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        self.quantile_with_zeros(q, 0)
    }

    /// As [`quantile`](Self::quantile), counting `zeros` more durations of
    /// zero that were not recorded (kept apart to spare a hot path).
    pub(crate) fn quantile_with_zeros(&self, q: f64, zeros: u64) -> Option<Duration> {
        // Ordering: as in `record`.
        let mut counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        counts[0] += zeros;
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_nanos(upper_bound_ns(i)));
            }
        }
        None
    }

    /// Every bucket's count.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn buckets(&self) -> [u64; BUCKETS] {
        // Ordering: as in `record`.
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }

    pub(crate) fn count(&self) -> u64 {
        // Ordering: as in `record`.
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_upper_bounds() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..99 {
            h.record(1_000); // bucket [512, 1024)
        }
        h.record(1_000_000); // bucket [2^19, 2^20)
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(Duration::from_nanos(1_023)));
        assert_eq!(h.quantile(0.99), Some(Duration::from_nanos(1_023)));
        assert_eq!(h.quantile(1.0), Some(Duration::from_nanos((1 << 20) - 1)));
        h.record(0);
        assert_eq!(h.quantile(0.0), Some(Duration::ZERO));
    }
}
