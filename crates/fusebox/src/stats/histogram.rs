//! A lock-free latency histogram whose buckets are the Prometheus buckets
//! of the metric catalog, and the one place quantiles are computed.
//! (Over 400 lines with its tests, which are a third of the file: the
//! quantile oracle and the proptests stay next to the code they check.)
//!
//! # Buckets
//!
//! The bounds run 1-2-5 from 1 µs to 10 s (22 bounds, 23 buckets with the
//! overflow), so a valve histogram is 23 `_bucket` lines, and a bound reads
//! as people write it (`le="0.25"`, not `le="0.268435455"`). Bucket `k`
//! holds the durations in `(BOUNDS_NS[k-1], BOUNDS_NS[k]]` nanoseconds,
//! Prometheus's `le` ("less or equal"), so the cumulative count at a bound
//! is exact, not an estimate. Durations are whole nanoseconds, so bucket `k`
//! holds `BOUNDS_NS[k-1] + 1 ..= BOUNDS_NS[k]`.
//!
//! Beside the counts the histogram keeps the sum (for `_sum`), and the
//! smallest and largest durations recorded.
//!
//! # Quantiles
//!
//! A quantile is found as Prometheus's `histogram_quantile` finds it: the
//! bucket holding rank `q × count`, then linear interpolation within that
//! bucket. Unlike `histogram_quantile`, the bucket is first narrowed to the
//! smallest and largest durations recorded, so a quantile never exceeds the
//! largest duration seen nor undercuts the smallest: a valve whose tasks all
//! waited 6 ms reports a p50 of 6 ms, not the 10 ms bound of its bucket, and
//! a p99 wait never exceeds `max_wait` when no wait ever did.
//!
//! # Cost
//!
//! `record` is four relaxed atomic updates (count, sum, min, max). Sojourns
//! are recorded under the valve's lock, service times for one task in 64;
//! the path that admits a task at once records nothing.
//!
//! Ordering: every access is `Relaxed`. These are statistics; a snapshot
//! taken while another thread records may see the count before the sum, and
//! nothing else is synchronized through them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The finite bucket bounds, in nanoseconds: 1-2-5 from 1 µs to 10 s.
pub(crate) const BOUNDS_NS: [u64; 22] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The finite bucket bounds, in seconds (what the catalog publishes).
pub(crate) const BOUNDS_SECS: [f64; BOUNDS_NS.len()] = {
    let mut out = [0.0; BOUNDS_NS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = BOUNDS_NS[i] as f64 / 1e9;
        i += 1;
    }
    out
};

/// The finite buckets and the overflow.
const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// The bucket of a duration of `ns` nanoseconds: the first bound at or above it.
fn bucket(ns: u64) -> usize {
    BOUNDS_NS.partition_point(|&b| b < ns)
}

/// Counts of durations by bucket, their sum, their extremes.
#[derive(Debug)]
pub(crate) struct Histogram {
    counts: [AtomicU64; BUCKETS],
    /// The sum in seconds, as `f64` bits: nanoseconds in a `u64` would wrap
    /// after 584 years of accumulated waiting, which a thousand tasks
    /// waiting at once pile up in 213 days.
    sum: AtomicU64,
    /// The smallest duration recorded, `u64::MAX` before the first.
    min: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records a duration of `ns` nanoseconds.
    pub(crate) fn record(&self, ns: u64) {
        // Ordering: statistics (see the module docs). The extremes and the
        // sum go first, so that a reader rarely sees a count whose sample
        // is not yet within them.
        self.min.fetch_min(ns, Ordering::Relaxed);
        self.max.fetch_max(ns, Ordering::Relaxed);
        let add = ns as f64 / 1e9;
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + add).to_bits())
            });
        self.counts[bucket(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// The durations recorded.
    pub(crate) fn count(&self) -> u64 {
        // Ordering: as in `record`.
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// What was recorded, as of now.
    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        self.snapshot_with_zeros(0)
    }

    /// As [`snapshot`](Self::snapshot), counting `zeros` more durations of
    /// zero that were not recorded (kept apart to spare a fast path: a task
    /// a valve admits at once waited zero and records nothing).
    pub(crate) fn snapshot_with_zeros(&self, zeros: u64) -> HistogramSnapshot {
        // Ordering: as in `record`.
        let mut counts: [u64; BUCKETS] =
            std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed));
        counts[0] += zeros;
        let mut cumulative = 0;
        let buckets = BOUNDS_SECS
            .iter()
            .zip(counts)
            .map(|(&bound, n)| {
                cumulative += n;
                (bound, cumulative)
            })
            .collect();
        let count = cumulative + counts[BUCKETS - 1];
        let min = if zeros > 0 {
            0
        } else {
            self.min.load(Ordering::Relaxed)
        };
        let max = self.max.load(Ordering::Relaxed);
        let (min, max) = match count {
            0 => (0, 0),
            // A count seen before its sample's extremes (`u64::MAX` for none yet).
            _ if min > max => (0, max),
            _ => (min, max),
        };
        HistogramSnapshot {
            buckets,
            sum_seconds: f64::from_bits(self.sum.load(Ordering::Relaxed)),
            count,
            min_seconds: min as f64 / 1e9,
            max_seconds: max as f64 / 1e9,
        }
    }
}

/// A duration histogram as it was at a snapshot: what a Prometheus histogram
/// needs (cumulative counts at the bucket bounds, the sum and the count),
/// and the extremes, which keep quantiles honest.
///
/// The bounds are [`catalog::DURATION_BUCKETS`](crate::catalog::DURATION_BUCKETS);
/// the overflow bucket (`le="+Inf"`) is implied: its cumulative count is
/// [`count`](Self::count).
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Fusebox, ValveConfig};
///
/// let fb = Fusebox::new();
/// fb.install_valve("api", ValveConfig::new().concurrency(1))?;
/// let api = fb.valve("api").unwrap();
/// api.run_blocking(|| ())?;                 // admitted at once: waited zero
/// let h = api.snapshot().sojourn;
/// assert_eq!(h.count, 1);
/// assert_eq!(h.buckets[0], (0.000001, 1)); // at or below 1 µs
/// assert_eq!(h.p50(), Some(Duration::ZERO));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, durations at or below it)`, by ascending
    /// bound, without the `+Inf` bucket.
    pub buckets: Vec<(f64, u64)>,
    /// The sum of every duration, in seconds.
    pub sum_seconds: f64,
    /// How many durations.
    pub count: u64,
    /// The smallest duration, in seconds (0 when there is none).
    pub min_seconds: f64,
    /// The largest duration, in seconds (0 when there is none).
    pub max_seconds: f64,
}

impl HistogramSnapshot {
    /// The quantile `q` (in `[0, 1]`), interpolated linearly within its
    /// bucket, the bucket first narrowed to the smallest and largest
    /// durations recorded; `None` when nothing was recorded.
    ///
    /// The value lies in the bucket that holds the exact quantile and
    /// between the smallest and the largest duration: a quantile never
    /// exceeds the largest duration seen.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Fusebox, ValveConfig};
    ///
    /// let fb = Fusebox::new();
    /// fb.install_valve("api", ValveConfig::new())?;
    /// let s = fb.valve("api").unwrap().snapshot();
    /// assert_eq!(s.service.quantile(0.5), None); // nothing ran yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let rank = q * self.count as f64;
        let (min, max) = (self.min_seconds, self.max_seconds.max(self.min_seconds));
        let mut below = 0u64;
        let mut lower = 0.0;
        for k in 0..=self.buckets.len() {
            let (upper, cumulative) = match self.buckets.get(k) {
                Some(&b) => b,
                None => (max.max(lower), self.count),
            };
            if cumulative > below && cumulative as f64 >= rank {
                let lo = lower.max(min).min(max);
                let hi = upper.min(max).max(lo);
                let within = ((rank - below as f64) / (cumulative - below) as f64).clamp(0.0, 1.0);
                let v = (lo + (hi - lo) * within).clamp(min, max);
                return Some(Duration::from_secs_f64(v.max(0.0)));
            }
            below = cumulative;
            lower = upper;
        }
        // Unreachable with consistent counts; the largest is an honest answer.
        Some(Duration::from_secs_f64(max.max(0.0)))
    }

    /// The median (see [`quantile`](Self::quantile)).
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    /// The 99th percentile (see [`quantile`](Self::quantile)).
    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }

    /// The durations recorded since `before` (an earlier snapshot of the
    /// same histogram, or `None`), as `(seconds, how many)` to feed to a
    /// histogram that takes single values, such as the `metrics` facade's.
    ///
    /// Each value lies in the bucket its durations were counted in, so an
    /// exporter with the catalog's bounds counts them in the same buckets,
    /// and the values add up to the sum of the durations they stand for
    /// (each bucket's values sit at the same fraction of their bucket,
    /// chosen so), so `_sum` stays exact too. An earlier snapshot with more
    /// in any bucket is of a histogram that started over: everything counts
    /// as new.
    /// Per bucket, the overflow last: the durations in it (not cumulative).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn counts(&self) -> Vec<u64> {
        let mut below = 0;
        let mut out: Vec<u64> = self
            .buckets
            .iter()
            .map(|&(_, c)| {
                let n = c.saturating_sub(below);
                below = c;
                n
            })
            .collect();
        out.push(self.count.saturating_sub(below));
        out
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn since(&self, before: Option<&HistogramSnapshot>) -> Vec<(f64, u64)> {
        let before = before.filter(|b| {
            b.count <= self.count
                && b.buckets.len() == self.buckets.len()
                && b.buckets.iter().zip(&self.buckets).all(|(b, s)| b.1 <= s.1)
        });
        let one_ns = 1e-9;
        let (min, max) = (self.min_seconds, self.max_seconds.max(self.min_seconds));
        let counts = self.counts();
        let counts_before = before.map(HistogramSnapshot::counts);
        // Per bucket: new durations, and the lowest and highest value each can have.
        let mut new = Vec::new();
        let mut lower = 0.0;
        for (k, &n) in counts.iter().enumerate() {
            let upper = self.buckets.get(k).map_or(max.max(lower), |b| b.0);
            let n = n.saturating_sub(counts_before.as_ref().map_or(0, |c| c[k]));
            if n > 0 {
                // Above the bound below (durations are whole nanoseconds).
                let floor = if k == 0 { 0.0 } else { lower + one_ns };
                let lo = floor.max(min).min(upper);
                let hi = upper.min(max).max(lo);
                new.push((lo, hi, n));
            }
            lower = upper;
        }
        let sum = self.sum_seconds - before.map_or(0.0, |b| b.sum_seconds);
        let low: f64 = new.iter().map(|&(lo, _, n)| lo * n as f64).sum();
        let span: f64 = new.iter().map(|&(lo, hi, n)| (hi - lo) * n as f64).sum();
        let at = if span > 0.0 {
            ((sum - low) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        new.into_iter()
            .map(|(lo, hi, n)| (lo + (hi - lo) * at, n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;

    /// The bucket of a value in seconds, by the bounds (`le`).
    fn bucket_of(secs: f64) -> usize {
        BOUNDS_SECS.partition_point(|&b| b < secs)
    }

    #[test]
    fn bounds_are_1_2_5_and_le() {
        assert_eq!(BOUNDS_SECS[0], 0.000001);
        assert_eq!(BOUNDS_SECS[16], 0.2);
        assert_eq!(BOUNDS_SECS[21], 10.0);
        assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1_000), 0);
        assert_eq!(bucket(1_001), 1);
        assert_eq!(bucket(10_000_000_000), 21);
        assert_eq!(bucket(10_000_000_001), 22);
        assert_eq!(bucket(u64::MAX), 22);
    }

    #[test]
    fn a_constant_6ms_has_a_6ms_median() {
        let h = Histogram::default();
        for _ in 0..100 {
            h.record(6 * MS);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert!((s.sum_seconds - 0.6).abs() < 1e-9);
        let p50 = s.p50().unwrap();
        // Within its bucket (5 ms, 10 ms], and no more than the 6 ms seen.
        assert!(p50 > Duration::from_millis(5), "{p50:?}");
        assert!(p50 <= Duration::from_millis(6), "{p50:?}");
        assert_eq!(p50, Duration::from_millis(6));
        assert_eq!(s.p99(), Some(Duration::from_millis(6)));
    }

    #[test]
    fn a_wait_never_reported_above_the_longest() {
        // Waits up to 250 ms, as under a 250 ms max_wait that never fired.
        let h = Histogram::default();
        for i in 1..=1000 {
            h.record(i * MS / 4);
        }
        let s = h.snapshot();
        assert!(s.p99().unwrap() <= Duration::from_millis(250));
        assert_eq!(s.quantile(1.0), Some(Duration::from_millis(250)));
        assert_eq!(s.quantile(0.0), Some(Duration::from_micros(250)));
    }

    #[test]
    fn interpolates_within_the_bucket() {
        // 100 durations spread over (10 ms, 20 ms]: the median lands mid-bucket.
        let h = Histogram::default();
        for i in 1..=100 {
            h.record(10 * MS + i * MS / 10);
        }
        let p50 = h.snapshot().p50().unwrap();
        assert!(
            (p50.as_secs_f64() - 0.015).abs() < 0.0002,
            "{p50:?} should be near 15 ms"
        );
    }

    #[test]
    fn zeros_and_overflow() {
        let h = Histogram::default();
        assert_eq!(h.snapshot().p50(), None);
        assert_eq!(
            h.snapshot(),
            HistogramSnapshot {
                buckets: BOUNDS_SECS.iter().map(|&b| (b, 0)).collect(),
                ..HistogramSnapshot::default()
            }
        );
        h.record(30_000_000_000); // 30 s, past the last bound
        let s = h.snapshot_with_zeros(3);
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets[0].1, 3);
        assert_eq!(s.buckets[21].1, 3);
        assert_eq!(s.min_seconds, 0.0);
        assert_eq!(s.max_seconds, 30.0);
        // Interpolated within the first bucket, [0, 1 µs].
        assert!(s.p50().unwrap() <= Duration::from_micros(1));
        let p99 = s.p99().unwrap();
        assert!(p99 > Duration::from_secs(10) && p99 <= Duration::from_secs(30));
    }

    #[test]
    fn new_samples_keep_their_buckets_and_the_sum() {
        let h = Histogram::default();
        for ns in [3_000, 4_000, 7 * MS, 8 * MS, 9 * MS] {
            h.record(ns);
        }
        let first = h.snapshot_with_zeros(2);
        let got = first.since(None);
        assert_eq!(got.iter().map(|&(_, n)| n).sum::<u64>(), 7);
        let by_bucket = |s: &[(f64, u64)]| {
            let mut c = [0u64; BUCKETS];
            for &(v, n) in s {
                c[bucket_of(v)] += n;
            }
            c
        };
        let c = by_bucket(&got);
        assert_eq!(c[0], 2); // the zeros
        assert_eq!(c[2], 2); // 3 µs, 4 µs in (2 µs, 5 µs]
        assert_eq!(c[12], 3); // 7, 8, 9 ms in (5 ms, 10 ms]
        let sum: f64 = got.iter().map(|&(v, n)| v * n as f64).sum();
        assert!(
            (sum - first.sum_seconds).abs() < 1e-12,
            "{sum} {}",
            first.sum_seconds
        );

        h.record(9 * MS);
        let second = h.snapshot_with_zeros(2);
        let got = second.since(Some(&first));
        assert_eq!(got.len(), 1);
        assert!((got[0].0 - 0.009).abs() < 1e-12 && got[0].1 == 1, "{got:?}");
        // A histogram that started over: everything is new.
        let fresh = Histogram::default();
        fresh.record(MS);
        let got = fresh.snapshot().since(Some(&second));
        assert_eq!(got, vec![(0.001, 1)]);
    }

    proptest! {
        #[test]
        fn quantiles_stay_within_the_samples_and_their_bucket(
            exps in proptest::collection::vec(0.0f64..11.0, 1..300),
            zeros in 0u64..5,
            q in 0.0f64..=1.0,
        ) {
            // Log-uniform from 1 ns to 100 s.
            let mut ns: Vec<u64> = exps.iter().map(|e| 10f64.powf(*e) as u64).collect();
            let h = Histogram::default();
            for &v in &ns {
                h.record(v);
            }
            ns.extend(std::iter::repeat_n(0, zeros as usize));
            ns.sort_unstable();
            let s = h.snapshot_with_zeros(zeros);
            let got = s.quantile(q).unwrap().as_nanos() as u64;
            let (min, max) = (ns[0], *ns.last().unwrap());
            prop_assert!(got >= min && got <= max, "{got} not in [{min}, {max}]");
            // In the bucket of the exact (nearest-rank) quantile.
            let rank = ((q * ns.len() as f64).ceil() as usize).max(1);
            let exact = ns[rank - 1];
            let k = bucket(exact);
            let lo = if k == 0 { 0 } else { BOUNDS_NS[k - 1] };
            let hi = BOUNDS_NS.get(k).copied().unwrap_or(u64::MAX);
            prop_assert!(got + 1 >= lo && got <= hi.saturating_add(1), "{got} not in bucket ({lo}, {hi}] of {exact}");
            // Monotone in q.
            let lower = s.quantile(q / 2.0).unwrap().as_nanos() as u64;
            prop_assert!(lower <= got + 1);
            // The new samples sum to the sum, in their buckets.
            let new = s.since(None);
            prop_assert_eq!(new.iter().map(|&(_, n)| n).sum::<u64>(), ns.len() as u64);
            let sum: f64 = new.iter().map(|&(v, n)| v * n as f64).sum();
            prop_assert!((sum - s.sum_seconds).abs() <= 1e-9 * s.sum_seconds.max(1.0));
        }
    }
}
