//! How long to wait before the next attempt.
//!
//! Retrying at once, or after the same fixed pause, makes every client that
//! failed together retry together: the retries arrive as a wave, the
//! dependency fails again, and the wave comes back. Exponential backoff
//! spaces the waves out; jitter breaks them up. We follow Marc Brooker's
//! "Exponential Backoff and Jitter" (AWS Architecture Blog, 2015), whose
//! simulation found *full jitter* and *decorrelated jitter* the two to use:
//!
//! ```text
//!   exponential       d(n) = min(cap, base · factor^n)
//!   full jitter       d(n) = random_between(0, min(cap, base · factor^n))
//!   decorrelated      d(n) = min(cap, random_between(base, prev · 3)),  prev(0) = base
//! ```
//!
//! `n` counts retries from 0 (the wait before the first retry is `d(0)`).
//! Every bound is inclusive. The arithmetic is done in nanoseconds on `u64`
//! (and `f64` for the power), saturating: `factor^n` for a huge `n` is
//! infinite, and `min(cap, ∞)` is the cap, so no attempt count overflows.
//! Draws come from a [`SplitMix64`] the caller passes, so a seeded test
//! knows every delay in advance.

use std::time::Duration;

use crate::clock::duration_nanos;
use crate::rng::SplitMix64;

/// A backoff schedule: the wait before each retry.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::retry::Backoff;
/// use fusebox::rng::SplitMix64;
///
/// let ms = Duration::from_millis;
/// let b = Backoff::exponential(ms(100), 2.0, ms(1_000));
/// let mut rng = SplitMix64::new(1);
/// let mut prev = Duration::ZERO;
/// let waits: Vec<_> = (0..6).map(|n| { prev = b.delay(n, prev, &mut rng); prev }).collect();
/// assert_eq!(waits, [ms(100), ms(200), ms(400), ms(800), ms(1_000), ms(1_000)]);
///
/// let j = b.full_jitter();
/// for n in 0..100 {
///     assert!(j.delay(n, Duration::ZERO, &mut rng) <= ms(1_000));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    base: u64,
    factor: f64,
    cap: u64,
    jitter: Jitter,
}

/// How a [`Backoff`] spreads its delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jitter {
    /// None: the delays are exact.
    None,
    /// `random_between(0, min(cap, base · factor^n))`.
    Full,
    /// `min(cap, random_between(base, prev · 3))`.
    Decorrelated,
}

impl Backoff {
    /// No wait at all between attempts.
    pub const fn none() -> Self {
        Backoff::constant(Duration::ZERO)
    }

    /// The same wait `d` before every retry.
    pub const fn constant(d: Duration) -> Self {
        let n = d.as_nanos();
        let n = if n > u64::MAX as u128 {
            u64::MAX
        } else {
            n as u64
        };
        Backoff {
            base: n,
            factor: 1.0,
            cap: n,
            jitter: Jitter::None,
        }
    }

    /// `min(cap, base · factor^n)` before retry `n` (from 0). `factor` must
    /// be finite and at least 1 and `cap` at least `base`
    /// ([`Retry::new`](crate::retry::Retry::new) checks).
    pub fn exponential(base: Duration, factor: f64, cap: Duration) -> Self {
        Backoff {
            base: duration_nanos(base),
            factor,
            cap: duration_nanos(cap),
            jitter: Jitter::None,
        }
    }

    /// The same schedule with full jitter: each wait uniform in
    /// `[0, min(cap, base · factor^n)]`.
    pub fn full_jitter(self) -> Self {
        Backoff {
            jitter: Jitter::Full,
            ..self
        }
    }

    /// Decorrelated jitter: each wait uniform in `[base, prev · 3]`, capped
    /// (`prev` the last wait, `base` before the first retry). The factor
    /// plays no part.
    pub fn decorrelated_jitter(self) -> Self {
        Backoff {
            jitter: Jitter::Decorrelated,
            ..self
        }
    }

    /// The jitter in use.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The first wait (before jitter).
    pub fn base(&self) -> Duration {
        Duration::from_nanos(self.base)
    }

    /// The longest wait.
    pub fn cap(&self) -> Duration {
        Duration::from_nanos(self.cap)
    }

    /// The growth factor.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// The wait before retry `n` (from 0), given the previous wait `prev`
    /// (used by decorrelated jitter only). Never above the cap.
    pub fn delay(&self, n: u32, prev: Duration, rng: &mut SplitMix64) -> Duration {
        Duration::from_nanos(self.delay_nanos(n, duration_nanos(prev), rng))
    }

    /// The exponential bound `min(cap, base · factor^n)` in nanoseconds.
    pub(crate) fn bound_nanos(&self, n: u32) -> u64 {
        if self.base == 0 {
            return 0;
        }
        // powi takes an i32; beyond that the power is infinite anyway for
        // any factor > 1, and 1 for factor 1.
        let exp = i32::try_from(n).unwrap_or(i32::MAX);
        let raw = self.base as f64 * self.factor.powi(exp);
        if raw.is_nan() || raw >= self.cap as f64 {
            self.cap
        } else {
            // raw < cap ≤ u64::MAX, so the cast does not saturate.
            (raw as u64).min(self.cap)
        }
    }

    pub(crate) fn delay_nanos(&self, n: u32, prev: u64, rng: &mut SplitMix64) -> u64 {
        match self.jitter {
            Jitter::None => self.bound_nanos(n),
            Jitter::Full => between(rng, 0, self.bound_nanos(n)),
            Jitter::Decorrelated => {
                let prev = if n == 0 {
                    self.base
                } else {
                    prev.max(self.base)
                };
                let hi = prev.saturating_mul(3).max(self.base);
                between(rng, self.base, hi).min(self.cap)
            }
        }
    }
}

/// Uniform in `[lo, hi]` (both inclusive; `lo ≤ hi`).
fn between(rng: &mut SplitMix64, lo: u64, hi: u64) -> u64 {
    let span = hi - lo;
    if span == u64::MAX {
        return rng.next_u64();
    }
    lo + rng.below(span + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_covers_its_ends() {
        let mut rng = SplitMix64::new(3);
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let v = between(&mut rng, 5, 7);
            assert!((5..=7).contains(&v));
            seen[(v - 5) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        let _ = between(&mut rng, 0, u64::MAX);
    }
}
