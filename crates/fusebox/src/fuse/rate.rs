//! The window of the `failure_rate` strategy: outcome counts in 10 time
//! buckets, O(1) per outcome, memory independent of the call rate.
//!
//! The window is cut into 10 buckets of `window / 10`. An outcome at `now`
//! lands in bucket `now / width`; a bucket slot whose number is too old is
//! reset before reuse. The rate is judged over the buckets younger than the
//! window, so the window slides in steps of a tenth of itself (an outcome
//! leaves between 0.9 and 1.0 window after it happened).

const BUCKETS: u64 = 10;

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    number: u64,
    successes: u64,
    failures: u64,
}

/// Success and failure counts over a sliding time window.
#[derive(Debug, Default, Clone)]
pub(crate) struct RateWindow {
    buckets: [Bucket; BUCKETS as usize],
}

impl RateWindow {
    fn width(window: u64) -> u64 {
        (window / BUCKETS).max(1)
    }

    /// Counts one outcome at `now`.
    pub(crate) fn record(&mut self, now: u64, window: u64, failed: bool) {
        let number = now / Self::width(window) + 1; // 0 marks an unused slot
        let slot = &mut self.buckets[(number % BUCKETS) as usize];
        if slot.number != number {
            *slot = Bucket {
                number,
                ..Bucket::default()
            };
        }
        if failed {
            slot.failures += 1;
        } else {
            slot.successes += 1;
        }
    }

    /// (calls, failures) in the window at `now`.
    pub(crate) fn totals(&self, now: u64, window: u64) -> (u64, u64) {
        let current = now / Self::width(window) + 1;
        self.buckets
            .iter()
            .filter(|b| b.number != 0 && b.number + BUCKETS > current && b.number <= current)
            .fold((0, 0), |(c, f), b| {
                (c + b.successes + b.failures, f + b.failures)
            })
    }

    /// True if at least `min_calls` outcomes are in the window and the share
    /// of failures is at least `ratio`.
    pub(crate) fn tripped(&self, now: u64, window: u64, ratio: f64, min_calls: u32) -> bool {
        let (calls, failures) = self.totals(now, window);
        calls >= u64::from(min_calls) && failures as f64 >= ratio * calls as f64
    }

    pub(crate) fn clear(&mut self) {
        *self = RateWindow::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 10_000; // buckets of 1,000

    #[test]
    fn counts_inside_the_window_only() {
        let mut r = RateWindow::default();
        r.record(0, W, true);
        r.record(500, W, false);
        r.record(9_999, W, true);
        assert_eq!(r.totals(9_999, W), (3, 2));
        // At 10,000 the bucket [0, 1000) has left the window.
        assert_eq!(r.totals(10_000, W), (1, 1));
        // The 9,999 outcome's bucket [9000, 10000) leaves at 19,000.
        assert_eq!(r.totals(18_999, W), (1, 1));
        assert_eq!(r.totals(19_000, W), (0, 0));
    }

    #[test]
    fn a_reused_slot_is_reset() {
        let mut r = RateWindow::default();
        r.record(0, W, true);
        r.record(10_000, W, false); // same slot, ten buckets later
        assert_eq!(r.totals(10_000, W), (1, 0));
    }

    #[test]
    fn trips_on_ratio_and_min_calls() {
        let mut r = RateWindow::default();
        r.record(1, W, true);
        assert!(!r.tripped(1, W, 0.5, 2));
        r.record(2, W, false);
        assert!(r.tripped(2, W, 0.5, 2));
        assert!(!r.tripped(2, W, 0.6, 2));
    }
}
