//! When requests arrive: an open-loop Poisson process whose rate follows a
//! shape and spikes (drawn by thinning, Lewis & Shedler 1979: candidates at
//! the highest rate, each kept with probability `rate(t) / highest`), or a
//! closed-loop population whose clients think between answers.

use std::time::Duration;

use fusebox::rng::SplitMix64;

use crate::dependency::exponential;
use crate::scenario::{self, OpenLoad, Shape};

/// The open-loop rate, requests per second, at `t` of a run of `length`.
pub(crate) fn rate_at(open: &OpenLoad, t: Duration, length: Duration) -> f64 {
    let base = match open.shape {
        Shape::Steady => open.rate,
        Shape::Ramp { to } => {
            let f = t.as_secs_f64() / length.as_secs_f64().max(1e-9);
            open.rate + (to - open.rate) * f.clamp(0.0, 1.0)
        }
        Shape::Diurnal { amplitude, period } => {
            let phase = t.as_secs_f64() / period.as_secs_f64().max(1e-9);
            open.rate * (1.0 - amplitude * (2.0 * std::f64::consts::PI * phase).cos())
        }
    };
    let spikes: f64 = open
        .spikes
        .iter()
        .filter(|s| s.at <= t && t < s.at + s.lasts)
        .map(|s| s.rate)
        .sum();
    (base + spikes).max(0.0)
}

/// The highest rate the open load ever reaches (the thinning bound).
pub(crate) fn peak(open: &OpenLoad) -> f64 {
    let base = match open.shape {
        Shape::Steady => open.rate,
        Shape::Ramp { to } => open.rate.max(to),
        Shape::Diurnal { amplitude, .. } => open.rate * (1.0 + amplitude),
    };
    base + open.spikes.iter().map(|s| s.rate).sum::<f64>()
}

/// Draws the open-loop arrival times one after the other.
#[derive(Debug)]
pub(crate) struct Arrivals {
    rng: SplitMix64,
    peak: f64,
    next: Duration,
    /// A ticker: the next arrival is `1 / rate` after the last.
    periodic: bool,
    /// No arrival yet (a ticker's first is at zero).
    first: bool,
}

impl Arrivals {
    pub(crate) fn new(seed: u64, open: &OpenLoad) -> Self {
        Arrivals {
            rng: SplitMix64::new(seed),
            peak: peak(open),
            next: Duration::ZERO,
            periodic: open.arrivals == scenario::Arrivals::Periodic,
            first: true,
        }
    }

    /// The next arrival at or after the last one, before `end`.
    pub(crate) fn next(&mut self, open: &OpenLoad, length: Duration) -> Option<Duration> {
        if self.peak <= 0.0 {
            return None;
        }
        if self.periodic {
            return self.tick(open, length);
        }
        loop {
            let gap = exponential(&mut self.rng) / self.peak;
            self.next += Duration::from_secs_f64(gap);
            if self.next >= length {
                return None;
            }
            if self.rng.unit() * self.peak < rate_at(open, self.next, length) {
                return Some(self.next);
            }
        }
    }
}

impl Arrivals {
    /// A ticker's next arrival: at zero first, then `1 / rate` after the
    /// last (a rate that fell to zero is looked at again a millisecond on).
    fn tick(&mut self, open: &OpenLoad, length: Duration) -> Option<Duration> {
        loop {
            if !std::mem::take(&mut self.first) {
                let rate = rate_at(open, self.next, length);
                self.next += if rate > 0.0 {
                    Duration::from_secs_f64(1.0 / rate)
                } else {
                    Duration::from_millis(1)
                };
            }
            if self.next >= length {
                return None;
            }
            if rate_at(open, self.next, length) > 0.0 {
                return Some(self.next);
            }
        }
    }
}

/// A think time of mean `think`.
pub(crate) fn think(rng: &mut SplitMix64, think: Duration) -> Duration {
    think.mul_f64(exponential(rng))
}
