//! How many events a code trace may still send, and how fast: a count and a
//! rate, the two bounds of `recon_trace`, checked by every thread that emits
//! a matching event, without a lock.
//!
//! The rate is a GCRA with a burst of one (governor's single state word, its
//! `state/in_memory.rs`): the word holds the theoretical arrival time, in
//! nanoseconds since the trace started, of the next event that may go; an
//! event at `now` goes if `now >= tat`, and moves `tat` to
//! `max(tat, now) + 1/rate`. A burst of one means events are spaced at least
//! `1/rate` apart, so `max` events take at least `(max - 1)/rate`: a trace of
//! 20 events at 10/s lasts 1.9 s or more, whatever the service does.
//! *Choice*: an event over the rate is dropped and counted, not queued, and
//! does not stop the trace (recon_trace stops instead); the count and the
//! time limit still end it.
//!
//! Time is a parameter (`now`, nanoseconds since the trace's start), so the
//! tests drive it by hand.

use std::sync::atomic::{AtomicU64, Ordering};

/// The verdict on one matching event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Send it, as the n-th event of the trace (from 1).
    Send(u64),
    /// Send it: the n-th, the last one the count allows.
    Last(u64),
    /// Too soon after the previous one: drop it.
    OverRate,
    /// The count is spent: drop it.
    Spent,
}

#[derive(Debug)]
pub(crate) struct Budget {
    max: u64,
    interval_ns: u64,
    /// The theoretical arrival time of the next event allowed.
    tat: AtomicU64,
    /// Events let through so far, never above `max`.
    sent: AtomicU64,
    /// Events dropped over the rate.
    over_rate: AtomicU64,
}

impl Budget {
    /// `max >= 1` events, at most `rate >= 1` a second.
    pub(crate) fn new(max: u64, rate: u64) -> Self {
        Budget {
            max,
            interval_ns: 1_000_000_000 / rate.max(1),
            tat: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            over_rate: AtomicU64::new(0),
        }
    }

    /// Decides on one matching event at `now_ns` since the trace began.
    pub(crate) fn take(&self, now_ns: u64) -> Take {
        // Relaxed: the count is checked first so a spent trace costs one
        // load; the CAS below is what decides, and no other memory is
        // published through either word.
        if self.sent.load(Ordering::Relaxed) >= self.max {
            return Take::Spent;
        }
        // Relaxed: the rate word guards no other data; its CAS alone makes
        // two threads agree on who got the slot.
        let rate = self
            .tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                (now_ns >= tat).then(|| now_ns.max(tat).saturating_add(self.interval_ns))
            });
        if rate.is_err() {
            // Relaxed: a statistic.
            self.over_rate.fetch_add(1, Ordering::Relaxed);
            return Take::OverRate;
        }
        // Relaxed: as above; the CAS hands out each of the `max` slots once.
        match self
            .sent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            }) {
            Ok(n) if n + 1 == self.max => Take::Last(n + 1),
            Ok(n) => Take::Send(n + 1),
            Err(_) => Take::Spent,
        }
    }

    /// Events let through so far.
    pub(crate) fn sent(&self) -> u64 {
        // Relaxed: a statistic, read after the trace's end is signalled.
        self.sent.load(Ordering::Relaxed)
    }

    /// True once `max` events went.
    pub(crate) fn spent(&self) -> bool {
        self.sent() >= self.max
    }

    /// Events dropped over the rate.
    pub(crate) fn over_rate(&self) -> u64 {
        // Relaxed: a statistic.
        self.over_rate.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn events_are_spaced_by_the_rate_and_stop_at_max() {
        let b = Budget::new(3, 10); // 100 ms apart
        assert_eq!(b.take(0), Take::Send(1));
        assert_eq!(b.take(50 * MS), Take::OverRate);
        assert_eq!(b.take(99 * MS), Take::OverRate);
        assert_eq!(b.take(100 * MS), Take::Send(2));
        // Late: the next slot is 100 ms after this one, not after the last.
        assert_eq!(b.take(350 * MS), Take::Last(3));
        assert_eq!(b.take(449 * MS), Take::Spent);
        assert_eq!(b.take(10_000 * MS), Take::Spent);
        assert_eq!((b.sent(), b.over_rate()), (3, 2));
        assert!(b.spent());
    }

    #[test]
    fn racing_threads_never_exceed_max() {
        let b = std::sync::Arc::new(Budget::new(100, 1_000_000_000));
        let mut threads = Vec::new();
        for _ in 0..4 {
            let b = b.clone();
            threads.push(std::thread::spawn(move || {
                let mut lasts = 0;
                let mut sent = 0;
                for i in 0..10_000u64 {
                    match b.take(i * 10) {
                        Take::Send(_) => sent += 1,
                        Take::Last(_) => {
                            sent += 1;
                            lasts += 1;
                        }
                        _ => {}
                    }
                }
                (sent, lasts)
            }));
        }
        let (sent, lasts) = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!((sent, lasts), (100, 1));
    }
}
