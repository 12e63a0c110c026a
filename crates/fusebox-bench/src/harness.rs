//! Measuring: calibrated batches, contenders alternated round by round, medians.
//!
//! A shared 2-core VM drifts: another tenant wakes up, the CPU clock moves.
//! Measuring fusebox for a minute and then a peer for a minute would charge
//! the drift to whichever ran during it. So every row measures all its
//! contenders in *rounds*: one sample of each per round, in an order that
//! rotates each round, and the figure reported is the median over rounds.
//! Drift then lands on every contender alike, and the ratios stay honest.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Rounds per row (one sample of each contender per round).
    pub rounds: usize,
    /// Wall time one sample should take; the batch size is calibrated to it.
    pub sample_time: Duration,
}

impl Settings {
    /// The full run: about 25 ms of samples per contender per round.
    pub fn full() -> Self {
        Settings {
            rounds: 31,
            sample_time: Duration::from_millis(10),
        }
    }

    /// A few iterations of everything, so the suite cannot rot (runs in tests).
    pub fn smoke() -> Self {
        Settings {
            rounds: 3,
            sample_time: Duration::from_micros(200),
        }
    }
}

/// Runs a batch of `n` iterations and returns how long it took.
pub type Routine = Box<dyn FnMut(u64) -> Duration>;

/// Wraps a per-iteration closure into a batch routine. The closure's result
/// goes through `black_box` so the work cannot be optimised away.
pub fn batch<R>(mut f: impl FnMut() -> R + 'static) -> Routine {
    Box::new(move |n| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        start.elapsed()
    })
}

/// One implementation measured in a row.
pub struct Contender {
    /// Who: `fusebox`, `recloser`, ...
    pub name: &'static str,
    /// What exactly is called, for the table's footnotes.
    pub call: &'static str,
    /// Runs a batch.
    pub routine: Routine,
}

impl std::fmt::Debug for Contender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contender")
            .field("name", &self.name)
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl Contender {
    /// A contender from a per-iteration closure.
    pub fn new<R>(name: &'static str, call: &'static str, f: impl FnMut() -> R + 'static) -> Self {
        Contender {
            name,
            call,
            routine: batch(f),
        }
    }
}

/// The samples of one contender, in ns per iteration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measured {
    /// Who.
    pub name: &'static str,
    /// What was called.
    pub call: &'static str,
    /// Median ns per iteration over the rounds.
    pub median_ns: f64,
    /// Fastest round.
    pub min_ns: f64,
    /// Slowest round.
    pub max_ns: f64,
    /// Iterations per sample (after calibration).
    pub batch: u64,
}

/// Finds a batch size whose run takes at least `target`.
fn calibrate(routine: &mut Routine, target: Duration) -> u64 {
    let mut n = 1u64;
    loop {
        let took = routine(n);
        if took >= target || n >= 1 << 40 {
            // Scale to the target from the last measurement, at least `n`.
            let per = took.as_secs_f64() / n as f64;
            let want = if per > 0.0 {
                (target.as_secs_f64() / per) as u64
            } else {
                n
            };
            return want.max(n).max(1);
        }
        n *= if took < target / 100 { 10 } else { 2 };
    }
}

/// Measures every contender, alternating, and returns them in the given order.
pub fn measure(contenders: &mut [Contender], settings: &Settings) -> Vec<Measured> {
    let batches: Vec<u64> = contenders
        .iter_mut()
        .map(|c| {
            // Warm up (caches, branch predictors, lazily built state), then size.
            (c.routine)(1_000);
            calibrate(&mut c.routine, settings.sample_time)
        })
        .collect();
    let k = contenders.len();
    let mut samples = vec![Vec::with_capacity(settings.rounds); k];
    for round in 0..settings.rounds {
        for step in 0..k {
            // Rotate who goes first, so no contender always follows another.
            let i = (round + step) % k;
            let took = (contenders[i].routine)(batches[i]);
            samples[i].push(took.as_nanos() as f64 / batches[i] as f64);
        }
    }
    contenders
        .iter()
        .zip(samples)
        .zip(batches)
        .map(|((c, mut s), batch)| {
            s.sort_by(f64::total_cmp);
            Measured {
                name: c.name,
                call: c.call,
                median_ns: median(&s),
                min_ns: s[0],
                max_ns: s[s.len() - 1],
                batch,
            }
        })
        .collect()
}

/// The median of sorted samples.
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_slower_routine_measures_slower() {
        let mut cs = vec![
            Contender::new("fast", "nothing", || 1u64),
            Contender::new("slow", "sleep", || {
                std::thread::sleep(Duration::from_micros(50));
            }),
        ];
        let m = measure(&mut cs, &Settings::smoke());
        assert!(m[1].median_ns > 40_000.0, "{m:?}");
        assert!(m[0].median_ns < m[1].median_ns / 100.0, "{m:?}");
    }
}
