//! The state word: everything the hot path needs to answer `ask`, in one
//! `AtomicU64`.
//!
//! ```text
//!  63                                                4 3    0
//! +---------------------------------------------------+------+
//! |                      payload                      | kind |
//! +---------------------------------------------------+------+
//!  kind OK        gen (58) | flags (2)          → admit
//!  kind INJECT    threshold (33) | gen (27)     → admit unless draw < threshold
//!  kind BLOWN     payload = heal deadline µs    → refuse until the deadline
//!  kind DISABLED  payload 0                     → refuse
//!  kind REMOVED   payload 0                     → refuse (handle outlived remove)
//!  kind GRADUAL   threshold (33) | gen (27)     → admit if draw < threshold
//!  kind PROBE     in use (10) | max (10) | step (8) | gen (32)
//!                                               → admit while in use < max
//!  kind THROTTLE  gen (58) | flags (2)          → ok; the throttle decides,
//!                                                 under the lock
//! ```
//!
//! The word is written only under the fuse's lock (the slow path), except
//! that `ask` takes and gives back probe slots with compare-and-swap; it is
//! read without any lock by `ask`. A healthy fuse is kind OK, so the fast
//! path is one load and one test of the low 4 bits.
//!
//! The *generation* counts blows and heals. Words that admit carry it, so a
//! call admitted by `run` knows which generation let it in, and its outcome
//! is dropped if the fuse has blown or healed since (see `Ticket`).
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
pub(crate) const KIND_GRADUAL: u64 = 5;
pub(crate) const KIND_PROBE: u64 = 6;
pub(crate) const KIND_THROTTLE: u64 = 7;

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

/// Generations are compared on their low 27 bits, the most every admitting
/// word can hold; an outcome would have to be late by 2^27 blows and heals
/// to be mistaken for a current one.
pub(crate) const GEN_MASK: u64 = (1 << 27) - 1;

const THRESHOLD_BITS: u32 = 33;

/// A healthy word of generation `gen`, carrying the fuse's config `flags`
/// (2 bits) so that `run` learns them from the load it makes anyway.
#[inline]
pub(crate) const fn ok(gen: u64, flags: u8) -> u64 {
    ((((gen & (u64::MAX >> 6)) << 2) | (flags as u64 & 3)) << 4) | KIND_OK
}

/// An ok word of a throttling fuse: laid out as [`ok`], another kind, so
/// the fast path sends its asks to the throttle.
#[inline]
pub(crate) const fn throttle(gen: u64, flags: u8) -> u64 {
    (ok(gen, flags) & !KIND_MASK) | KIND_THROTTLE
}

/// The config flags of an OK word.
#[inline]
pub(crate) const fn ok_flags(word: u64) -> u8 {
    (payload(word) & 3) as u8
}

/// An ok word that refuses each ask with probability `rate`.
pub(crate) fn injecting(rate: f64, gen: u64) -> u64 {
    thresholded(KIND_INJECT, injection_threshold(rate), gen)
}

/// A healing word that admits each ask with probability `fraction`.
pub(crate) fn gradual(fraction: f64, gen: u64) -> u64 {
    thresholded(KIND_GRADUAL, injection_threshold(fraction), gen)
}

fn thresholded(kind: u64, threshold: u64, gen: u64) -> u64 {
    (((gen & GEN_MASK) << THRESHOLD_BITS | threshold) << 4) | kind
}

/// The draw threshold of an INJECT or GRADUAL word.
#[inline]
pub(crate) const fn threshold(word: u64) -> u64 {
    payload(word) & ((1 << THRESHOLD_BITS) - 1)
}

/// The generation of an admitting word (OK, INJECT, GRADUAL, PROBE,
/// THROTTLE), masked
/// to [`GEN_MASK`].
#[inline]
pub(crate) const fn gen(word: u64) -> u64 {
    match kind(word) {
        KIND_OK | KIND_THROTTLE => (payload(word) >> 2) & GEN_MASK,
        KIND_INJECT | KIND_GRADUAL => (payload(word) >> THRESHOLD_BITS) & GEN_MASK,
        KIND_PROBE => (payload(word) >> 28) & GEN_MASK,
        _ => 0,
    }
}

/// A probe word: `max` slots, `in_use` taken, for program step `step`.
pub(crate) fn probe(max: u32, in_use: u32, step: usize, gen: u64) -> u64 {
    let payload = (in_use as u64 & 0x3FF)
        | (max as u64 & 0x3FF) << 10
        | (step as u64 & 0xFF) << 20
        | (gen & 0xFFFF_FFFF) << 28;
    (payload << 4) | KIND_PROBE
}

/// Slots taken in a probe word.
#[inline]
pub(crate) const fn probes_in_use(word: u64) -> u32 {
    (payload(word) & 0x3FF) as u32
}

/// Slots of a probe word.
#[inline]
pub(crate) const fn probes_max(word: u64) -> u32 {
    ((payload(word) >> 10) & 0x3FF) as u32
}

/// The program step a probe word belongs to.
#[inline]
pub(crate) const fn probe_step(word: u64) -> usize {
    ((payload(word) >> 20) & 0xFF) as usize
}

/// One more (or one fewer) slot taken: the in-use field is the lowest of the
/// payload, so this is plain addition on the word.
pub(crate) const PROBE_ONE: u64 = 1 << 4;

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
        assert_eq!(kind(injecting(0.3, 7)), KIND_INJECT);
        assert_eq!(gen(injecting(0.3, 7)), 7);
        assert_eq!(threshold(gradual(1.0, GEN_MASK)), 1 << 32);
        assert_eq!(gen(gradual(1.0, GEN_MASK + 5)), 4);
    }

    #[test]
    fn probe_fields_roundtrip() {
        let w = probe(1023, 5, 200, 99);
        assert_eq!(kind(w), KIND_PROBE);
        assert_eq!(
            (probes_in_use(w), probes_max(w), probe_step(w), gen(w)),
            (5, 1023, 200, 99)
        );
        assert_eq!(probes_in_use(w + PROBE_ONE), 6);
        assert_eq!(gen(ok(12, 3)), 12);
        assert_eq!(ok_flags(ok(12, 2)), 2);
        assert_eq!(kind(ok(u64::MAX, 3)), KIND_OK);
        assert_eq!(kind(throttle(12, 3)), KIND_THROTTLE);
        assert_eq!((gen(throttle(12, 3)), ok_flags(throttle(12, 2))), (12, 2));
    }
}
