//! The token bucket, kept as one number: the time at which the bucket will
//! be full again (the generic cell rate algorithm's "theoretical arrival
//! time"). Taking a token moves it one emission interval later; tokens
//! refill simply because the clock moves on. No timer, O(1), exact.

/// A token bucket of `size` tokens refilled at one token per `every` ns.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    every: u64,
    size: u64,
    /// When the bucket is full again; at or before `now` means full.
    full_at: u64,
}

impl Bucket {
    /// A full bucket: `count` tokens per `period_ns`, holding `size`.
    pub(crate) fn new(count: u32, period_ns: u64, size: u32) -> Self {
        Bucket {
            every: (period_ns / u64::from(count.max(1))).max(1),
            size: u64::from(size.max(1)),
            full_at: 0,
        }
    }

    /// A new rate and size that keeps the tokens spent so far spent.
    pub(crate) fn retune(&mut self, count: u32, period_ns: u64, size: u32, now: u64) {
        let spent = self.spent(now);
        *self = Bucket::new(count, period_ns, size);
        let spent = spent.min(self.size);
        self.full_at = now.saturating_add(spent * self.every);
    }

    /// Tokens spent (the bucket's debt) at `now`, rounded up.
    fn spent(&self, now: u64) -> u64 {
        self.full_at.saturating_sub(now).div_ceil(self.every)
    }

    /// Whole tokens available at `now`.
    pub(crate) fn tokens(&self, now: u64) -> u64 {
        self.size.saturating_sub(self.spent(now))
    }

    /// Whether a token can be taken at `now`.
    pub(crate) fn ready(&self, now: u64) -> bool {
        self.next_token_at(now) <= now
    }

    /// When the next token can be taken (`now` if one can be now).
    pub(crate) fn next_token_at(&self, now: u64) -> u64 {
        // A token is available while the debt after taking it fits the size.
        let allowed = (self.size - 1) * self.every;
        self.full_at.saturating_sub(allowed).max(now)
    }

    /// Takes one token; the caller checked [`ready`](Self::ready).
    pub(crate) fn take(&mut self, now: u64) {
        debug_assert!(self.ready(now));
        self.full_at = self.full_at.max(now).saturating_add(self.every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn starts_full_then_refills_one_per_interval() {
        // 10 per second, bursts of 3.
        let mut b = Bucket::new(10, 1_000 * MS, 3);
        assert_eq!(b.tokens(0), 3);
        for _ in 0..3 {
            assert!(b.ready(0));
            b.take(0);
        }
        assert!(!b.ready(0));
        assert_eq!(b.next_token_at(0), 100 * MS);
        assert!(!b.ready(99 * MS));
        assert!(b.ready(100 * MS));
        assert_eq!(b.tokens(100 * MS), 1);
        assert_eq!(b.tokens(10_000 * MS), 3, "never more than the size");
    }

    #[test]
    fn retune_keeps_the_debt() {
        let mut b = Bucket::new(10, 1_000 * MS, 5);
        b.take(0);
        b.take(0);
        b.retune(10, 1_000 * MS, 3, 0);
        assert_eq!(b.tokens(0), 1);
    }
}
