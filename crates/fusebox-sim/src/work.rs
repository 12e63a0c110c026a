//! How much work a scenario is, known before it starts, and the most the
//! simulator takes on.
//!
//! A scenario file is a few lines; `duration = "10000h"` with a billion
//! requests a second is as short as a night at a hundred. The simulator
//! handles one event at a time, a few million a second, so the first would
//! run for years; it used to be accepted and run until the machine gave
//! out. So the requests a run will simulate are estimated from the load
//! alone (the clients' first attempts: the open load's rate integrated over
//! the run, or a closed population's cycles of think time and healthy
//! latency), and a scenario over [`MAX_REQUESTS`] is refused with a
//! [`TooLarge`] naming both numbers, before a single virtual second runs.
//! The same estimate drives the command line's progress line.
//!
//! Retries and hedges add to the work (up to `1 + retries` attempts a
//! request); the limit is on the clients' requests, the number a person
//! reads off the scenario.

use std::fmt;
use std::time::Duration;

use crate::scenario::{Latency, OpenLoad, Scenario, Shape};

/// The most client requests (first attempts) a run may be estimated to
/// simulate: ten billion, about three hours of a release build on one core
/// at a million requests a second. A week at 1,000 requests a second is
/// 605 million.
pub const MAX_REQUESTS: u64 = 10_000_000_000;

/// A scenario refused for its size: the client requests it was estimated
/// to simulate, and the limit ([`MAX_REQUESTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TooLarge {
    /// The estimate (saturated at `u64::MAX`, which also stands for a
    /// closed loop whose clients never wait: zero think time and zero
    /// latency).
    pub estimated: u64,
    /// The limit it passed.
    pub limit: u64,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the scenario is too large to simulate: about {} client requests estimated, over the limit of {} a run (shorten `duration` or lower the load)",
            grouped(self.estimated),
            grouped(self.limit)
        )
    }
}

impl std::error::Error for TooLarge {}

/// The client requests (first attempts) a run of `s` is expected to
/// simulate, saturated at `u64::MAX`.
///
/// ```
/// let week: fusebox_sim::Scenario = toml::from_str(r#"
///     duration = "168h"
///     [load]
///     open = { rate = 1000.0 }
///     timeout = "2s"
///     [dependency]
///     connections = 8
///     latency = { kind = "constant", value = "5ms" }
/// "#)?;
/// assert_eq!(fusebox_sim::estimate(&week), 604_800_000);
/// # Ok::<(), toml::de::Error>(())
/// ```
pub fn estimate(s: &Scenario) -> u64 {
    let mut requests = 0.0;
    if let Some(open) = &s.load.open {
        requests += open_requests(open, s.duration);
    }
    if let Some(closed) = &s.load.closed {
        // Each client asks, waits for the healthy answer, thinks, asks again.
        let latency: f64 = s.calls().iter().map(|d| mean(d.latency)).sum();
        let cycle = closed.think.as_secs_f64() + latency;
        requests += if cycle > 0.0 {
            f64::from(closed.clients) * s.duration.as_secs_f64() / cycle
        } else {
            f64::INFINITY
        };
    }
    if requests.is_nan() {
        return u64::MAX;
    }
    // `as` saturates: infinity and anything past u64::MAX become u64::MAX.
    requests.max(0.0).round() as u64
}

/// `Err` if `s` is estimated past [`MAX_REQUESTS`].
pub(crate) fn check(s: &Scenario) -> Result<u64, TooLarge> {
    let estimated = estimate(s);
    if estimated > MAX_REQUESTS {
        Err(TooLarge {
            estimated,
            limit: MAX_REQUESTS,
        })
    } else {
        Ok(estimated)
    }
}

/// The open load's rate integrated over `[0, length)`: its expected
/// arrivals.
fn open_requests(open: &OpenLoad, length: Duration) -> f64 {
    let d = length.as_secs_f64();
    let base = match open.shape {
        Shape::Steady => open.rate * d,
        Shape::Ramp { to } => (open.rate + to) / 2.0 * d,
        Shape::Diurnal { amplitude, period } => {
            // ∫ rate·(1 − a·cos(2πt/P)) dt = rate·(d − a·P/2π·sin(2πd/P)).
            let p = period.as_secs_f64().max(1e-9);
            let w = 2.0 * std::f64::consts::PI / p;
            open.rate * (d - amplitude * (w * d).sin() / w)
        }
    };
    let spikes: f64 = open
        .spikes
        .iter()
        .map(|s| {
            let from = s.at.min(length);
            let to = (s.at + s.lasts).min(length);
            s.rate * (to - from).as_secs_f64()
        })
        .sum();
    base + spikes
}

/// A latency distribution's mean, in seconds.
fn mean(l: Latency) -> f64 {
    match l {
        Latency::Constant { value } => value.as_secs_f64(),
        Latency::Exponential { mean, shift, max } => {
            let m = shift.as_secs_f64() + mean.as_secs_f64();
            max.map_or(m, |cap| m.min(cap.as_secs_f64()))
        }
        Latency::Uniform { min, max } => (min.as_secs_f64() + max.as_secs_f64()) / 2.0,
        Latency::LogNormal { median, .. } if median.is_zero() => 0.0,
        Latency::LogNormal { median, p99 } => {
            let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / 2.326_347_874;
            median.as_secs_f64() * (sigma * sigma / 2.0).exp()
        }
    }
}

/// `n` with thousands separated by commas.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(604_800_000), "604,800,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }
}
