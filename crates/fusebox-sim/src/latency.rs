//! The clients' latencies of a phase, a chart bucket or a whole run, in
//! memory that does not grow with the number of requests.
//!
//! A night at a thousand requests a second is thirty million latencies; a
//! week is six hundred million. Keeping every one to sort it at the end (as
//! the simulator once did, several times over) makes the memory a run needs
//! grow with its length, until a long scenario takes the machine down. So
//! the quantiles are streamed: each latency, in whole microseconds rounded
//! up, is counted in an HdrHistogram (Gil Tene's High Dynamic Range
//! Histogram, the `hdrhistogram` crate) with three significant digits, whose
//! size depends on the largest latency seen, never on how many there were.
//!
//! # The stated error
//!
//! A quantile `q` is the nearest-rank one (the `ceil(q·n)`-th smallest
//! latency, as the exact computation took it), reported as the highest value
//! its histogram bucket holds. So it is never lower than the exact quantile
//! of the microsecond latencies, exact below 2,048 µs, and higher by less
//! than [`QUANTILE_ERROR`] (1/1024, under 0.1 %) of it above. The mean and
//! the largest latency are kept exactly, beside the histogram.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The relative error of every streamed quantile (p50, p99, a chart
/// bucket's p99): a reported quantile `r` of an exact one `x` (both in
/// whole microseconds) satisfies `x <= r < x · (1 + QUANTILE_ERROR)`, and
/// `r == x` below 2,048 µs. It is 1/1024: an HdrHistogram of three
/// significant digits splits every power of two in 1,024 buckets.
pub const QUANTILE_ERROR: f64 = 1.0 / 1024.0;

/// Significant decimal digits of the histogram: 3 gives buckets of 2,048
/// sub-buckets, each at most 1/1024 of its values wide.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies in whole microseconds: their count, sum and largest exactly,
/// their quantiles within [`QUANTILE_ERROR`].
#[derive(Debug, Clone)]
pub(crate) struct Latencies {
    histogram: Histogram<u64>,
    count: u64,
    sum_us: u128,
    max_us: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            // Auto-resizing from a small range: the histogram grows to the
            // largest latency recorded (about 190 kB for an hour), not
            // with the count.
            histogram: Histogram::new(SIGNIFICANT_DIGITS)
                .expect("three significant digits are in the histogram's range"),
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl Latencies {
    /// Counts one latency of `us` microseconds.
    pub(crate) fn record(&mut self, us: u64) {
        // `record` grows the histogram to take the value (the saturating
        // form would clamp it to the current top instead); only a value
        // past what the histogram can ever track (beyond 2^63 µs, about
        // 290,000 years) fails, and counts as its top.
        if self.histogram.record(us).is_err() {
            self.histogram.saturating_record(us);
        }
        self.count += 1;
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
    }

    /// How many latencies were counted.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The nearest-rank `q` quantile, within [`QUANTILE_ERROR`] (zero when
    /// nothing was counted).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        // The histogram's highest equivalent is at most the largest value
        // seen's bucket top; the exact largest caps it, so p100 is exact.
        micros(self.histogram.value_at_quantile(q).min(self.max_us))
    }

    /// The mean, exactly (rounded down to the microsecond).
    pub(crate) fn mean(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            micros((self.sum_us / u128::from(self.count)) as u64)
        }
    }

    /// The largest, exactly.
    pub(crate) fn max(&self) -> Duration {
        micros(self.max_us)
    }
}

fn micros(us: u64) -> Duration {
    Duration::from_micros(us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The exact nearest-rank quantile of `values`: the oracle.
    fn exact(values: &[u64], q: f64) -> u64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    proptest! {
        /// Every quantile is at least the exact one and less than
        /// `QUANTILE_ERROR` above it; the mean and the max are exact.
        #[test]
        fn streamed_quantiles_are_within_the_stated_error(
            values in prop::collection::vec(
                prop_oneof![0u64..3_000, 0u64..10_000_000, any::<u32>().prop_map(u64::from), 0u64..1 << 62],
                1..400,
            ),
            q in prop_oneof![Just(0.5), Just(0.99), Just(1.0), 0.0f64..=1.0],
        ) {
            let mut l = Latencies::default();
            for &v in &values {
                l.record(v);
            }
            let want = exact(&values, q);
            let got = l.quantile(q).as_micros() as u64;
            prop_assert!(got >= want, "q {q}: {got} below the exact {want}");
            prop_assert!(
                ((got - want) as f64) < (want as f64 * QUANTILE_ERROR).max(1.0),
                "q {q}: {got} vs exact {want}"
            );
            if want < 2_048 {
                prop_assert_eq!(got, want);
            }
            let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
            prop_assert_eq!(l.mean().as_micros(), sum / values.len() as u128);
            prop_assert_eq!(l.max().as_micros() as u64, *values.iter().max().unwrap());
            prop_assert_eq!(l.count(), values.len() as u64);
        }
    }

    #[test]
    fn empty_is_zero() {
        let l = Latencies::default();
        assert_eq!(l.quantile(0.99), Duration::ZERO);
        assert_eq!(l.mean(), Duration::ZERO);
        assert_eq!(l.max(), Duration::ZERO);
    }
}
