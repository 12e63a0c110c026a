//! One small random generator for the whole project: SplitMix64 (Steele,
//! Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
//! 2014). A 64-bit state, a few instructions per draw, every seed a good
//! stream; not for cryptography.
//!
//! The core draws from a per-thread instance (fault-injection and
//! gradual-admission draws, heal jitter), seeded from the process's hash
//! randomness so that a fleet of services does not draw in step. Simulations
//! and tests make their own seeded [`SplitMix64`] so that every run can be
//! replayed.
//!
//! ```
//! use fusebox::rng::SplitMix64;
//!
//! let mut a = SplitMix64::new(7);
//! let mut b = SplitMix64::new(7);
//! assert_eq!(a.next_u64(), b.next_u64());   // the same seed, the same stream
//! let u = a.unit();
//! assert!((0.0..1.0).contains(&u));
//! assert!(a.below(6) < 6);
//! ```

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A seeded SplitMix64 generator. Clones continue the same stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The generator for `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 uniform bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`, with 53 bits of precision.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)` (`0` when `n` is `0`), by Lemire's multiply-shift
    /// (no modulo bias worth the name for the `n` a test uses).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// SplitMix64's output function: a 64-bit finaliser whose every input bit
/// affects every output bit. Also a good hash of a counter.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where a Fusebox's draws come from: each thread's own generator (the
/// default: no shared write on the draw), or one seeded stream for the
/// whole Fusebox ([`FuseboxBuilder::seed`](crate::registry::FuseboxBuilder::seed)),
/// so that a simulation run twice with one seed draws the same numbers.
#[derive(Debug, Default)]
pub(crate) struct Draws {
    seeded: Option<AtomicU64>,
}

impl Draws {
    /// One stream from `seed`.
    pub(crate) fn seeded(seed: u64) -> Self {
        Draws {
            seeded: Some(AtomicU64::new(seed)),
        }
    }

    /// A uniform draw in `[0, 2^32)`.
    #[inline]
    pub(crate) fn draw32(&self) -> u64 {
        match &self.seeded {
            // Ordering: the stream is the only state; a draw needs no other
            // memory ordered with it. SplitMix64 is a counter: the n-th
            // fetch_add gives the n-th output, whoever draws it.
            Some(state) => {
                let s = state
                    .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                    .wrapping_add(0x9E37_79B9_7F4A_7C15);
                mix(s) >> 32
            }
            None => draw32(),
        }
    }
}

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A uniform draw in `[0, 2^32)` from this thread's generator.
#[inline]
fn draw32() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = seed();
        }
        let mut g = SplitMix64::new(x);
        let out = g.next_u64() >> 32;
        s.set(g.state | 1);
        out
    })
}

#[cold]
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(&h as *const _ as usize);
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_stream() {
        // The first outputs for seed 1234567 from the authors' reference
        // implementation (also in Vigna's splitmix64.c).
        let mut g = SplitMix64::new(1_234_567);
        let want = [
            6_457_827_717_110_365_317u64,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for w in want {
            assert_eq!(g.next_u64(), w);
        }
    }

    #[test]
    fn draws_stay_in_range() {
        let mut g = SplitMix64::new(1);
        for _ in 0..10_000 {
            assert!(g.unit() < 1.0);
            assert!(g.below(3) < 3);
            assert!(draw32() < 1 << 32);
        }
        assert_eq!(g.below(0), 0);
    }

    #[test]
    fn a_seeded_stream_is_the_generators_stream() {
        let d = Draws::seeded(1_234_567);
        let mut g = SplitMix64::new(1_234_567);
        for _ in 0..100 {
            assert_eq!(d.draw32(), g.next_u64() >> 32);
        }
    }
}
