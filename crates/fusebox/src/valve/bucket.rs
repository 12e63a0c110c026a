//! The token bucket, kept as one number: the time at which the bucket will
//! be full again (the generic cell rate algorithm's "theoretical arrival
//! time", ITU-T I.371; governor's `state/in_memory.rs` keeps the same word).
//! Taking a token moves it one emission interval later; tokens refill
//! simply because the clock moves on. No timer, O(1), exact.
//!
//! The word is an `AtomicU64` and a token is taken by one compare-and-swap,
//! so a passing rate check needs no lock: the valve's fast path takes its
//! token here, outside the valve's lock, and the locked path (waiters, the
//! timer) takes tokens from the same word by the same CAS. Whoever loses a
//! CAS race looks again; whoever finds no token falls back to the locked
//! path, which orders the waiters.
//!
//! The parameters (`every`, `allow`, `mode`) change only under the valve's
//! lock, at a reconfiguration, and are published to the fast path by the
//! `SeqCst` store that opens it (see `engine.rs`); a check racing a
//! reconfiguration may be charged at the old rate, once.
//!
//! # The clock of a passing check
//!
//! A precise clock reading costs about as much as the rest of the check
//! (`clock.rs`). When the Fusebox's clock offers a coarse reading with a
//! known bound on its lag (Linux `CLOCK_MONOTONIC_COARSE`: never ahead, at
//! most one resolution behind, 4 ms on most kernels, read from
//! `clock_getres`), the fast path uses it, on buckets where that error is
//! small (below):
//!
//! * a check that fails on the coarse reading is not a refusal: the locked
//!   path checks again on the precise clock;
//! * a check that passes dates its token up to one resolution early, which
//!   at most credits the bucket with that much extra refill. In any window
//!   the valve may then start up to `ceil(resolution / interval)` tasks
//!   more than the exact bucket would; the coarse reading is used only on
//!   buckets where that is at most 1 % of the burst (rates of 100 / s
//!   and bursts of 100 and up, say), the precise one everywhere else. A
//!   manual clock has no lag: the bucket is exact.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::Ordering::SeqCst;

use crate::sync::AtomicU64;

/// No rate limit.
const OFF: u64 = 0;
/// Rate-limited, precise clock only.
const PRECISE: u64 = 1;
/// Rate-limited; a passing check may use the coarse clock.
const COARSE: u64 = 2;

/// A token bucket of `size` tokens refilled at one token per `every` ns,
/// shared by the fast and the locked path.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// ns per token.
    every: AtomicU64,
    /// `(size - 1) · every`: how far ahead of now `tat` may be for a token
    /// to be taken.
    allow: AtomicU64,
    /// OFF, PRECISE or COARSE.
    mode: AtomicU64,
    /// When the bucket is full again; at or before `now` means full.
    tat: AtomicU64,
}

/// The parameters of one rate, computed once per config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tuning {
    every: u64,
    size: u64,
}

impl Tuning {
    /// `count` tokens per `period_ns`, holding `size`.
    pub(crate) fn new(count: u32, period_ns: u64, size: u32) -> Self {
        Tuning {
            every: (period_ns / u64::from(count.max(1))).max(1),
            size: u64::from(size.max(1)),
        }
    }

    fn allow(self) -> u64 {
        (self.size - 1).saturating_mul(self.every)
    }

    /// Whether a coarse clock lagging up to `lag` ns may date a passing
    /// check: at most 1 % of the burst in extra tokens.
    fn coarse_ok(self, lag: u64) -> bool {
        lag.div_ceil(self.every).saturating_mul(100) <= self.size
    }
}

impl Bucket {
    /// No rate limit (yet).
    pub(crate) fn off() -> Self {
        Bucket {
            every: AtomicU64::new(1),
            allow: AtomicU64::new(0),
            mode: AtomicU64::new(OFF),
            tat: AtomicU64::new(0),
        }
    }

    /// Whether a rate limit is on.
    #[inline]
    pub(crate) fn on(&self) -> bool {
        // Ordering: published by the SeqCst store that opens the fast path.
        self.mode.load(Relaxed) != OFF
    }

    /// Whether a passing check may read the coarse clock.
    #[inline]
    pub(crate) fn coarse(&self) -> bool {
        // Ordering: as `on`.
        self.mode.load(Relaxed) == COARSE
    }

    /// Applies a rate (under the valve's lock): a new one starts full; a
    /// changed one keeps the tokens spent so far spent (up to its size).
    /// `lag` bounds the coarse clock's lag (`u64::MAX`: no coarse clock).
    pub(crate) fn tune(&self, tuning: Option<Tuning>, now: u64, lag: u64) {
        let Some(t) = tuning else {
            // Ordering: read only under the lock or after the SeqCst store
            // that opens the fast path.
            self.mode.store(OFF, Relaxed);
            return;
        };
        let was_on = self.on();
        let spent = self.spent(now);
        // Ordering: as above; `tat` is stored SeqCst, as every CAS on it.
        self.every.store(t.every, Relaxed);
        self.allow.store(t.allow(), Relaxed);
        let tat = if was_on {
            now.saturating_add(spent.min(t.size).saturating_mul(t.every))
        } else {
            0
        };
        self.tat.store(tat, SeqCst);
        let mode = if t.coarse_ok(lag) { COARSE } else { PRECISE };
        self.mode.store(mode, Relaxed);
    }

    /// Takes a token if one is there at `now`: one compare-and-swap (again
    /// only if another check won the race), as governor's check.
    #[inline]
    pub(crate) fn try_take(&self, now: u64) -> bool {
        // Ordering: the parameters, as `on`.
        let every = self.every.load(Relaxed);
        let allow = self.allow.load(Relaxed);
        // Ordering: SeqCst, the bucket's linearisation point (on x86 a
        // SeqCst CAS is the same `lock cmpxchg` as a relaxed one, and a
        // SeqCst load a plain load).
        let mut tat = self.tat.load(SeqCst);
        loop {
            if tat.saturating_sub(allow) > now {
                return false;
            }
            let next = tat.max(now).saturating_add(every);
            match self.tat.compare_exchange_weak(tat, next, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(seen) => tat = seen,
            }
        }
    }

    fn spent(&self, now: u64) -> u64 {
        let every = self.every.load(Relaxed).max(1);
        self.tat.load(SeqCst).saturating_sub(now).div_ceil(every)
    }

    /// Whole tokens available at `now`.
    pub(crate) fn tokens(&self, now: u64) -> u64 {
        let size = self.allow.load(Relaxed) / self.every.load(Relaxed).max(1) + 1;
        size.saturating_sub(self.spent(now))
    }

    /// Whether a token can be taken at `now`.
    pub(crate) fn ready(&self, now: u64) -> bool {
        self.next_token_at(now) <= now
    }

    /// When the next token can be taken (`now` if one can be now).
    pub(crate) fn next_token_at(&self, now: u64) -> u64 {
        let allow = self.allow.load(Relaxed);
        self.tat.load(SeqCst).saturating_sub(allow).max(now)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn bucket(count: u32, period: u64, size: u32) -> Bucket {
        let b = Bucket::off();
        b.tune(Some(Tuning::new(count, period, size)), 0, u64::MAX);
        b
    }

    #[test]
    fn starts_full_then_refills_one_per_interval() {
        // 10 per second, bursts of 3.
        let b = bucket(10, 1_000 * MS, 3);
        assert_eq!(b.tokens(0), 3);
        for _ in 0..3 {
            assert!(b.ready(0));
            assert!(b.try_take(0));
        }
        assert!(!b.try_take(0));
        assert_eq!(b.next_token_at(0), 100 * MS);
        assert!(!b.ready(99 * MS));
        assert!(b.ready(100 * MS));
        assert_eq!(b.tokens(100 * MS), 1);
        assert_eq!(b.tokens(10_000 * MS), 3, "never more than the size");
    }

    #[test]
    fn retune_keeps_the_debt() {
        let b = bucket(10, 1_000 * MS, 5);
        assert!(b.try_take(0));
        assert!(b.try_take(0));
        b.tune(Some(Tuning::new(10, 1_000 * MS, 3)), 0, u64::MAX);
        assert_eq!(b.tokens(0), 1);
        b.tune(None, 0, u64::MAX);
        assert!(!b.on());
        b.tune(Some(Tuning::new(10, 1_000 * MS, 3)), 0, u64::MAX);
        assert_eq!(b.tokens(0), 3, "a rate switched on anew starts full");
    }

    #[test]
    fn the_coarse_clock_only_where_its_error_is_small() {
        let lag = 4 * MS;
        // 100 per second, burst 100: one token of error in 100.
        assert!(Tuning::new(100, 1_000 * MS, 100).coarse_ok(lag));
        // 100 per second, burst 20: one token in 20 is too much.
        assert!(!Tuning::new(100, 1_000 * MS, 20).coarse_ok(lag));
        // A manual clock does not lag; no coarse clock at all never passes.
        assert!(Tuning::new(1, 1_000 * MS, 1).coarse_ok(0));
        assert!(!Tuning::new(1_000_000_000, 1_000 * MS, u32::MAX).coarse_ok(u64::MAX));
    }
}
