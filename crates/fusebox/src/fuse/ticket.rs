//! The proof that a call was admitted, carried from admission to its report.
//!
//! An outcome counts only toward the generation that admitted it (a call let
//! in before a blow or a heal says nothing about the fuse after it), and a
//! probe slot taken at admission must be given back exactly once. Both ride
//! in one word so the closed path keeps the ticket in a register.

use super::word;

/// Proof of admission: the generation of the word that let the call in, the
/// probe slot it holds, if any, and the config flags at admission. Its
/// outcome must be reported exactly once ([`FuseCore::complete`]) so the slot
/// is given back. Packed in one word so that `run` keeps it in a register:
/// gen (27 bits) | flags (2) | holds a probe (1) | probe step (8) |
/// throttle bucket tag (26; 0 for none: see `throttle.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Ticket {
    #[inline]
    pub(super) fn new(gen: u64, flags: u8, probe_step: Option<usize>) -> Self {
        let probe = match probe_step {
            Some(step) => 1 << 29 | (step as u64 & 0xFF) << 30,
            None => 0,
        };
        Ticket((gen & word::GEN_MASK) | (flags as u64 & 3) << 27 | probe)
    }

    /// The same ticket, carrying the tag of the throttle bucket its request
    /// was counted in (below 2^26).
    #[inline]
    pub(super) fn with_throttle_tag(self, tag: u64) -> Self {
        Ticket(self.0 & ((1 << 38) - 1) | (tag & ((1 << 26) - 1)) << 38)
    }

    /// The throttle bucket tag, if the throttle counted this call.
    #[inline]
    pub(super) fn throttle_tag(self) -> Option<u64> {
        let tag = self.0 >> 38;
        (tag != 0).then_some(tag)
    }

    #[inline]
    pub(super) fn gen(self) -> u64 {
        self.0 & word::GEN_MASK
    }

    #[inline]
    pub(super) fn flags(self) -> u8 {
        (self.0 >> 27) as u8 & 3
    }

    #[inline]
    pub(super) fn probe_step(self) -> Option<usize> {
        (self.0 & 1 << 29 != 0).then_some((self.0 >> 30) as usize & 0xFF)
    }
}

/// Config flags read without the lock by `complete` on the hot path: the
/// strategy counts successes.
pub(super) const COUNTS_SUCCESSES: u8 = 1;
/// The strategy times calls (slow-call detection).
pub(super) const TIMES_CALLS: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_roundtrip() {
        let t = Ticket::new(word::GEN_MASK, 3, Some(255)).with_throttle_tag((1 << 26) - 1);
        assert_eq!(
            (t.gen(), t.flags(), t.probe_step(), t.throttle_tag()),
            (word::GEN_MASK, 3, Some(255), Some((1 << 26) - 1))
        );
        assert_eq!(Ticket::new(5, 1, None).throttle_tag(), None);
    }
}
