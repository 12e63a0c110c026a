//! The state word: everything the hot path needs to answer `ask`, in one
//! `AtomicU64`.
//!
//! ```text
//!  63                                                4 3    0
//! +---------------------------------------------------+------+
//! |                      payload                      | kind |
//! +---------------------------------------------------+------+
//!  kind OK        payload 0                  → admit
//!  kind INJECT    payload = refusal threshold → admit unless draw < threshold
//!  kind BLOWN     payload = heal deadline µs  → refuse until the deadline
//!  kind DISABLED  payload 0                  → refuse
//!  kind REMOVED   payload 0                  → refuse (handle outlived remove)
//! ```
//!
//! The word is written only under the fuse's lock (the slow path), and read
//! without any lock by `ask`. A healthy fuse is the single value [`OK`], so the
//! fast path is one load and one compare.
//!
//! Deadlines are kept in whole microseconds, rounded *up* from the
//! nanosecond deadline, so a fuse never heals early; 60 bits of microseconds
//! last 36,000 years.

/// The part of the word that says what kind of state this is.
pub(crate) const KIND_MASK: u64 = 0xF;
pub(crate) const KIND_OK: u64 = 0;
pub(crate) const KIND_INJECT: u64 = 1;
pub(crate) const KIND_BLOWN: u64 = 2;
pub(crate) const KIND_DISABLED: u64 = 3;
pub(crate) const KIND_REMOVED: u64 = 4;

/// A healthy fuse without fault injection: the whole fast path compares to this.
pub(crate) const OK: u64 = KIND_OK;
pub(crate) const DISABLED: u64 = KIND_DISABLED;
pub(crate) const REMOVED: u64 = KIND_REMOVED;

/// Deadline payload meaning "no deadline" (blown until someone acts).
pub(crate) const NO_DEADLINE: u64 = u64::MAX >> 4;

#[inline]
pub(crate) const fn kind(word: u64) -> u64 {
    word & KIND_MASK
}

#[inline]
pub(crate) const fn payload(word: u64) -> u64 {
    word >> 4
}

/// A blown word whose heal is due at `deadline_ns` (rounded up to µs).
pub(crate) fn blown_until(deadline_ns: Option<u64>) -> u64 {
    let us = match deadline_ns {
        Some(ns) => ns.div_ceil(1_000).min(NO_DEADLINE),
        None => NO_DEADLINE,
    };
    (us << 4) | KIND_BLOWN
}

/// The deadline of a blown word, in nanoseconds (`u64::MAX` if none).
#[inline]
pub(crate) fn deadline_ns(word: u64) -> u64 {
    let us = payload(word);
    if us == NO_DEADLINE {
        u64::MAX
    } else {
        us.saturating_mul(1_000)
    }
}

/// An ok word that refuses each ask with probability `rate`.
pub(crate) fn injecting(rate: f64) -> u64 {
    (injection_threshold(rate) << 4) | KIND_INJECT
}

/// `rate` as a threshold over a 32-bit draw: refuse when `draw < threshold`.
/// `rate = 1` gives 2^32, above every draw.
pub(crate) fn injection_threshold(rate: f64) -> u64 {
    ((rate * 4_294_967_296.0).ceil() as u64).min(1 << 32)
}

/// Rounds a nanosecond deadline up to the word's microsecond resolution.
pub(crate) fn round_deadline(ns: u64) -> u64 {
    ns.div_ceil(1_000).saturating_mul(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blown_roundtrip_rounds_up() {
        let w = blown_until(Some(1_500));
        assert_eq!(kind(w), KIND_BLOWN);
        assert_eq!(deadline_ns(w), 2_000);
        let w = blown_until(Some(3_000));
        assert_eq!(deadline_ns(w), 3_000);
        assert_eq!(deadline_ns(blown_until(None)), u64::MAX);
        assert_eq!(deadline_ns(blown_until(Some(u64::MAX))), u64::MAX);
    }

    #[test]
    fn injection_threshold_bounds() {
        assert_eq!(injection_threshold(1.0), 1 << 32);
        assert_eq!(injection_threshold(0.5), 1 << 31);
        assert!(injection_threshold(1e-12) >= 1);
        assert_eq!(kind(injecting(0.3)), KIND_INJECT);
    }
}
