//! The gradient controller: a concurrency limit that follows the ratio of
//! the no-load latency to the latency seen now.
//!
//! Why: Little's law says a dependency serving at its capacity with no
//! queue answers in its no-load time, `min_rtt`; beyond that capacity, extra
//! concurrency only adds queueing, and the latency grows. So the ratio
//! `min_rtt / rtt` (the *gradient*) says how much of the concurrency is
//! queueing: 1 means none, 0.5 means half. The controller multiplies the
//! limit by it, and adds a little headroom (`sqrt(limit)`) so that it keeps
//! probing for more capacity:
//!
//! ```text
//! gradient  = clamp(tolerance · min_rtt / window_rtt, 0.5, 1.0)   (0.5 after a drop)
//! new_limit = limit · gradient + sqrt(limit)                     (no headroom after a drop)
//! limit     = clamp(limit · (1 − smoothing) + new_limit · smoothing, min, max)
//! ```
//!
//! once per `interval`, on the mean service time of the tasks that ended in
//! it. This is Netflix concurrency-limits' `Gradient2Limit` (its tolerance,
//! smoothing and queue-size headroom) anchored, as Envoy's adaptive
//! concurrency filter is, on a *measured* no-load latency rather than on a
//! long-term average: a long average drifts up under sustained load and the
//! limit with it (concurrency-limits #165, on Vegas's `rtt_noload`). The
//! no-load latency is measured the way Envoy does it: the limit is pinned to
//! `min` until `probe_samples` tasks have ended, and `min_rtt` is the median
//! of their service times (Envoy aggregates its min-RTT samples by a
//! percentile, the 50th by default, not by their least: with a service time
//! that varies, an exponential say, the least of 50 is a fiftieth of the
//! mean, and a gradient on it would pin the limit to `min` for good); it is
//! measured at install and again every
//! `probe_interval`, lengthened by a random share of up to `probe_jitter`
//! so a fleet does not probe in step.
//!
//! Pathologies handled on purpose:
//!
//! * a task the valve refused never ran: it is no sample, so a burst of
//!   refusals cannot drag `min_rtt` towards zero (concurrency-limits #176);
//!   nor is a task that was dropped, cancelled or panicked;
//! * a drop (the dependency timed out or refused, reported with
//!   [`Permit::dropped`](crate::Permit::dropped), or a task that held its
//!   slot `timeout` or longer) halves the gradient instead of being a
//!   latency: timeouts that all take the same time look like a perfectly
//!   steady latency, and would otherwise let the limit grow to `max`
//!   (concurrency-limits #137; the 0.5 is concurrency-limits PR #134's);
//! * the limit never leaves `[min, max]`, also through smoothing and while
//!   probing (Envoy #9947: the gradient could push it below the minimum);
//! * while the valve is not using its limit (the busiest task of the window
//!   started with fewer than half the limit in flight), the limit does not
//!   grow: a lightly loaded valve says nothing about the capacity above it.
//!
//! Sources: Netflix concurrency-limits (`Gradient2Limit.java`, its README);
//! Envoy's adaptive concurrency filter documentation and
//! `gradient_controller.cc` (min RTT window, jitter, `min_concurrency`).

use std::time::Duration;

use super::sample::{Signal, Taken};
use crate::clock::duration_nanos;

/// The default `min` of [`Gradient`]: the concurrency Envoy pins while it
/// measures the no-load latency.
pub const GRADIENT_MIN: usize = 3;
/// The default `max` of [`Gradient`] (concurrency-limits' default).
pub const GRADIENT_MAX: usize = 200;
/// The default `initial` of [`Gradient`] (concurrency-limits' default).
pub const GRADIENT_INITIAL: usize = 20;

/// A gradient controller's parameters; see [`Adaptive::gradient`](super::Adaptive::gradient).
///
/// ```
/// use std::time::Duration;
/// use fusebox::valve::Adaptive;
///
/// let g = Adaptive::gradient().min(4).max(100).initial(16)
///     .probe_interval(Duration::from_secs(30));
/// assert_eq!((g.min, g.max, g.initial), (4, 100, 16));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct Gradient {
    /// The limit after the first measurement of the no-load latency.
    pub initial: usize,
    /// The lowest limit, and the limit while the no-load latency is
    /// measured; at least 1.
    pub min: usize,
    /// The highest limit.
    pub max: usize,
    /// How often the limit is recomputed (from the tasks that ended
    /// meanwhile); Envoy's `concurrency_update_interval`.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub interval: Duration,
    /// How much slower than the no-load latency tasks may be before the
    /// limit falls; at least 1 (concurrency-limits' `rttTolerance`).
    pub tolerance: f64,
    /// The weight of each new estimate, in (0, 1].
    pub smoothing: f64,
    /// How often the no-load latency is measured again.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub probe_interval: Duration,
    /// Each wait for the next measurement is `probe_interval` lengthened by
    /// a random share of up to this, in [0, 1].
    pub probe_jitter: f64,
    /// Tasks that must end while the limit is pinned to `min` for one
    /// measurement of the no-load latency (their median is it); from 1 to
    /// 10,000.
    pub probe_samples: u32,
    /// A task that held its slot this long or longer counts as a drop, not
    /// as a latency (the caller's own timeout, say); `None` for none.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub timeout: Option<Duration>,
}

impl Default for Gradient {
    fn default() -> Self {
        Gradient {
            initial: GRADIENT_INITIAL,
            min: GRADIENT_MIN,
            max: GRADIENT_MAX,
            interval: Duration::from_millis(100),
            tolerance: 1.5,
            smoothing: 0.2,
            probe_interval: Duration::from_secs(60),
            probe_jitter: 0.15,
            probe_samples: 50,
            timeout: None,
        }
    }
}

impl Gradient {
    /// The limit after the first measurement.
    pub fn initial(mut self, n: usize) -> Self {
        self.initial = n;
        self
    }
    /// The lowest limit (and the limit while measuring).
    pub fn min(mut self, n: usize) -> Self {
        self.min = n;
        self
    }
    /// The highest limit.
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
    /// How often the limit is recomputed.
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }
    /// How much slower than the no-load latency tasks may be.
    pub fn tolerance(mut self, t: f64) -> Self {
        self.tolerance = t;
        self
    }
    /// The weight of each new estimate.
    pub fn smoothing(mut self, s: f64) -> Self {
        self.smoothing = s;
        self
    }
    /// How often the no-load latency is measured again.
    pub fn probe_interval(mut self, d: Duration) -> Self {
        self.probe_interval = d;
        self
    }
    /// The random share each wait for a measurement is lengthened by.
    pub fn probe_jitter(mut self, j: f64) -> Self {
        self.probe_jitter = j;
        self
    }
    /// Tasks per measurement of the no-load latency.
    pub fn probe_samples(mut self, n: u32) -> Self {
        self.probe_samples = n;
        self
    }
    /// A task that held its slot this long or longer counts as a drop.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
}

/// What the controller is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    /// The limit is pinned to `min` while the no-load latency is measured;
    /// `resume` is the limit to return to.
    Probing { resume: f64 },
    /// The limit follows the gradient until `next_probe`.
    Running { next_probe: u64 },
}

/// The gradient controller's state. Pure: it is told the time.
#[derive(Debug, Clone)]
pub(crate) struct GradientState {
    cfg: Gradient,
    interval: u64,
    /// The limit as a real number; the valve's limit is its floor.
    limit: f64,
    pub(crate) min_rtt: Option<u64>,
    pub(crate) phase: Phase,
    /// The latencies of the measurement under way (at most
    /// `probe_samples`, bounded by validation).
    probe: Vec<u64>,
    /// The window being collected: its start, the sum and number of
    /// latencies, the drops, the most tasks in flight when one started.
    window_start: u64,
    sum: u128,
    count: u64,
    drops: u64,
    busiest: usize,
    /// The mean latency of the last window closed.
    pub(crate) window_rtt: Option<u64>,
}

impl GradientState {
    /// A controller installed at `now`: it measures the no-load latency
    /// first, at `min`, and goes on from `initial`.
    pub(crate) fn new(cfg: Gradient, now: u64) -> Self {
        GradientState {
            interval: duration_nanos(cfg.interval).max(1),
            limit: cfg.min as f64,
            min_rtt: None,
            phase: Phase::Probing {
                resume: cfg.initial.clamp(cfg.min, cfg.max) as f64,
            },
            probe: Vec::new(),
            window_start: now,
            sum: 0,
            count: 0,
            drops: 0,
            busiest: 0,
            window_rtt: None,
            cfg,
        }
    }

    /// The limit now.
    pub(crate) fn limit(&self) -> usize {
        (self.limit as usize).clamp(self.cfg.min, self.cfg.max)
    }

    /// When the next measurement starts, if one is not under way.
    pub(crate) fn next_probe(&self) -> Option<u64> {
        match self.phase {
            Phase::Running { next_probe } => Some(next_probe),
            Phase::Probing { .. } => None,
        }
    }

    /// One task ended. `draw` is a uniform draw in `[0, 2^32)`, taken only
    /// when a measurement ends (for the jitter of the next one).
    pub(crate) fn on_sample(&mut self, t: Taken, draw: &mut dyn FnMut() -> u64) {
        let now = t.now;
        if let Phase::Probing { resume } = self.phase {
            // A drop says nothing of the no-load latency.
            if let Signal::Latency(rtt) = t.signal {
                self.probe.push(rtt);
                if self.probe.len() >= self.cfg.probe_samples as usize {
                    self.probe.sort_unstable();
                    // The median, nearest rank.
                    self.min_rtt = Some(self.probe[self.probe.len().div_ceil(2) - 1]);
                    self.probe.clear();
                    self.limit = resume;
                    self.phase = Phase::Running {
                        next_probe: self.next_probe_from(now, draw()),
                    };
                    self.open_window(now);
                }
            }
            return;
        }
        match t.signal {
            Signal::Latency(rtt) => {
                self.sum += u128::from(rtt);
                self.count += 1;
                self.busiest = self.busiest.max(t.in_flight);
            }
            Signal::Drop => self.drops += 1,
        }
        if now < self.window_start.saturating_add(self.interval) {
            return;
        }
        self.close_window();
        self.open_window(now);
        if let Phase::Running { next_probe } = self.phase {
            if now >= next_probe {
                self.phase = Phase::Probing { resume: self.limit };
                self.probe.clear();
                self.limit = self.cfg.min as f64;
            }
        }
    }

    fn close_window(&mut self) {
        let limit = self.limit;
        let new = if self.drops > 0 {
            limit * 0.5
        } else if self.count == 0 {
            return;
        } else {
            let mean = (self.sum / u128::from(self.count)) as f64;
            self.window_rtt = Some(mean as u64);
            let min_rtt = self.min_rtt.unwrap_or(0) as f64;
            let gradient = if mean <= 0.0 {
                1.0
            } else {
                (self.cfg.tolerance * min_rtt / mean).clamp(0.5, 1.0)
            };
            let mut new = limit * gradient + limit.sqrt();
            // Not using its limit: no growth (a decrease still applies).
            if self.busiest * 2 < self.limit() {
                new = new.min(limit);
            }
            new
        };
        let s = self.cfg.smoothing;
        self.limit = (limit * (1.0 - s) + new * s).clamp(self.cfg.min as f64, self.cfg.max as f64);
    }

    fn open_window(&mut self, now: u64) {
        self.window_start = now;
        self.sum = 0;
        self.count = 0;
        self.drops = 0;
        self.busiest = 0;
    }

    /// `probe_interval` after `now`, lengthened by `draw / 2^32` of
    /// `probe_jitter · probe_interval`.
    fn next_probe_from(&self, now: u64, draw: u64) -> u64 {
        let every = duration_nanos(self.cfg.probe_interval);
        let spread = (every as f64 * self.cfg.probe_jitter) as u64;
        let extra = ((u128::from(spread) * u128::from(draw & 0xFFFF_FFFF)) >> 32) as u64;
        now.saturating_add(every).saturating_add(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The no-load latency is the median of the probe's tasks, not their
    /// least: one lucky fast task must not pin the limit to `min`.
    #[test]
    fn the_no_load_latency_is_the_probes_median() {
        let cfg = Gradient::default().probe_samples(5);
        let mut g = GradientState::new(cfg, 0);
        for (i, ms) in [1u64, 50, 60, 70, 80].into_iter().enumerate() {
            g.on_sample(
                Taken {
                    started: 0,
                    now: i as u64,
                    in_flight: 1,
                    signal: Signal::Latency(ms * 1_000_000),
                },
                &mut || 0,
            );
        }
        assert_eq!(g.min_rtt, Some(60_000_000));
        assert_eq!(g.limit(), cfg.initial);
    }
}
