//! What a keyed family (`crate::keyed`) needs of the engine: to take a
//! fuse out of service only when nothing about it matters any more, and to
//! report a call it admitted before the fuse existed.
//!
//! A keyed fuse that has gone back to health and stayed unused can be
//! dropped and later recreated from the template: the new fuse answers
//! exactly as the old one would have, *if* the old one had nothing left to
//! remember. `retire_if_idle` decides that under the fuse's lock and marks
//! the fuse removed in the same step, so no melt can slip in between the
//! decision and the removal (a melt that arrives later sees `Removed` and
//! goes back to the family, which recreates the fuse).

use super::engine::FuseCore;
use super::slow::{Phase, Slow};
use super::ticket::Ticket;
use crate::sync::lock;

impl Slow {
    /// True if a fresh fuse of the same config would answer every later
    /// operation as this one does: ok, not disabled, nothing in any window,
    /// no consecutive failures, and a backoff attempt that has started over
    /// (or never began).
    fn pristine_at(&self, now: u64) -> bool {
        use crate::clock::duration_nanos;
        if self.removed || self.disabled || self.phase != Phase::Ok || self.consecutive != 0 {
            return false;
        }
        let span = self
            .config
            .strategy
            .window()
            .map(duration_nanos)
            .unwrap_or(u64::MAX);
        let melts = self.window.count(now, span);
        let rate = self.rate.totals(now, span);
        let throttle = self.throttle.totals(now, span);
        let attempt_over = self.attempt == 0
            || self
                .healed_at
                .is_some_and(|h| now.saturating_sub(h) >= self.backoff_reset_span());
        melts == 0 && rate == (0, 0) && throttle == (0, 0) && attempt_over
    }
}

impl FuseCore {
    /// Marks the fuse removed, without an event, if it is pristine (see
    /// `Slow::pristine_at`) and neither used since `last_used` nor healed
    /// within the last `ttl` ns. True if it was retired.
    pub(crate) fn retire_if_idle(&self, last_used: u64, ttl: u64) -> bool {
        let mut s = lock(&self.slow);
        if s.removed {
            return false;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        let since = s.healed_at.map_or(last_used, |h| h.max(last_used));
        if now.saturating_sub(since) < ttl || !s.pristine_at(now) {
            return false;
        }
        s.removed = true;
        s.ticket += 1;
        self.publish(&s);
        true
    }

    /// The ticket of a call admitted while its key had no fuse yet: the
    /// first generation of a fresh fuse, holding no probe. Its outcome
    /// counts only if this fuse has neither blown nor healed since it was
    /// created, as for a call this fuse admitted itself.
    pub(crate) fn fresh_ticket(&self) -> Ticket {
        // Ordering: config flags order nothing (see `times_calls`).
        Ticket::new(
            0,
            self.flags.load(std::sync::atomic::Ordering::Relaxed),
            None,
        )
    }

    /// True once removed (or retired).
    pub(crate) fn is_removed(&self) -> bool {
        // Ordering: pairs with the `Release` store of `publish`.
        super::word::kind(self.word.load(std::sync::atomic::Ordering::Acquire))
            == super::word::KIND_REMOVED
    }
}
