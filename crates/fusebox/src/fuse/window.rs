//! The melt window of the `standard` strategy, O(1) per melt.
//!
//! Erlang fuse keeps every melt in a list and counts the list on each melt
//! (86 µs per melt with 20,000 melts in the window). We only need to know
//! whether *more than* `max_melts` melts fall in the window, and melts
//! arrive in time order, so a queue of at most `max_melts + 1` timestamps
//! suffices: push the new melt, drop from the front what has left the window
//! or what can no longer matter, and the fuse blows exactly when the queue
//! still holds `max_melts + 1` entries.
//!
//! ```text
//!   window = 10 s, max_melts = 2
//!   melts at     0s   4s   9s   10s
//!   queue after  [0]  [0,4] [0,4,9] → 3 > 2: blow
//!   at 10 s the 0 s melt is exactly 10 s old: outside (now - t < window fails)
//! ```
//!
//! Memory is bounded by `max_melts + 1` and by what the window holds,
//! whichever is smaller; the queue grows only as melts arrive.

use std::collections::VecDeque;

/// Timestamps (ns since the clock's epoch) of the melts that may still matter.
#[derive(Debug, Default, Clone)]
pub(crate) struct MeltWindow {
    melts: VecDeque<u64>,
}

impl MeltWindow {
    /// Records a melt at `now` and answers whether more than `max_melts`
    /// melts now fall within `window` of `now`.
    pub(crate) fn record(&mut self, now: u64, window: u64, max_melts: u32) -> bool {
        self.melts.push_back(now);
        self.expire(now, window);
        let keep = max_melts as usize + 1;
        while self.melts.len() > keep {
            self.melts.pop_front();
        }
        self.melts.len() == keep
    }

    /// Drops the melts that are `window` old or older at `now`.
    pub(crate) fn expire(&mut self, now: u64, window: u64) {
        while let Some(&t) = self.melts.front() {
            if now.saturating_sub(t) >= window {
                self.melts.pop_front();
            } else {
                break;
            }
        }
    }

    /// How many of the kept melts fall within `window` of `now` (at most
    /// `max_melts + 1`: older ones were not kept because they cannot matter).
    pub(crate) fn count(&self, now: u64, window: u64) -> usize {
        // The queue is sorted by time, so the melts inside the window form a
        // suffix; find where it starts.
        let outside = self
            .melts
            .partition_point(|&t| now.saturating_sub(t) >= window);
        self.melts.len() - outside
    }

    pub(crate) fn clear(&mut self) {
        self.melts.clear();
        self.melts.shrink_to(16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive oracle: keep everything, count on every melt.
    fn naive(melts: &[u64], now: u64, window: u64, max: u32) -> bool {
        melts.iter().filter(|&&t| now - t < window).count() > max as usize
    }

    #[test]
    fn boundary_is_outside() {
        let mut w = MeltWindow::default();
        assert!(!w.record(0, 10, 1));
        // exactly `window` old: outside, so only one melt counts
        assert!(!w.record(10, 10, 1));
        assert!(w.record(19, 10, 1));
    }

    #[test]
    fn zero_budget_blows_at_once() {
        let mut w = MeltWindow::default();
        assert!(w.record(5, 1, 0));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_naive(
            gaps in proptest::collection::vec(0u64..20, 1..200),
            window in 1u64..50,
            max in 0u32..8,
        ) {
            let mut w = MeltWindow::default();
            let mut all = Vec::new();
            let mut now = 0;
            for g in gaps {
                now += g;
                all.push(now);
                proptest::prop_assert_eq!(w.record(now, window, max), naive(&all, now, window, max));
                let inside = all.iter().filter(|&&t| now - t < window).count();
                proptest::prop_assert_eq!(w.count(now, window), inside.min(max as usize + 1));
            }
        }
    }
}
