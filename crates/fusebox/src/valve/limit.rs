//! Adaptive concurrency: a valve's limit learned from how its tasks fare,
//! instead of a number set by hand.
//!
//! Why: the right concurrency for a dependency is its capacity, and that
//! moves: a database that answers 16 queries at once in 50 ms answers them
//! in 800 ms when its disk is slow, and a fixed limit that was right before
//! is now a queue. Too high, and latency grows for everyone; too low, and
//! capacity is wasted. Netflix's concurrency-limits and Envoy's adaptive
//! concurrency filter learn the limit instead, from the latency of the
//! tasks that ran and from the ones the dependency dropped, the way TCP
//! learns its window. fusebox offers two of their controllers:
//! [`Gradient`] (`gradient.rs`: the limit follows the ratio of the no-load
//! latency to the current one) and [`Aimd`] (`aimd.rs`: one more per fast
//! task, a cut per drop).
//!
//! What a controller hears, and what it never hears:
//!
//! * a **latency**: the time from the grant of a slot to the drop of its
//!   permit, for every task of an adaptive valve;
//! * a **drop**: [`Permit::dropped`](crate::Permit::dropped), or a task
//!   that held its slot for the controller's `timeout` or longer;
//! * **nothing** for a task the valve refused (it never ran: its "latency"
//!   would be near zero, concurrency-limits #176), for a task whose permit
//!   was given up with [`Permit::ignore`](crate::Permit::ignore), whose
//!   future was dropped while it ran, or that panicked, and for a task that
//!   started under another config of the valve.
//!
//! The limit the controller sets takes effect at once: it is half of the
//! word the valve takes slots from (`slots.rs`), so when it falls, running
//! tasks finish and nothing starts until fewer than the new limit run.
//!
//! An event ([`ValveChange::Limit`](crate::event::ValveChange::Limit))
//! reports a change of at least a tenth (and at least 1) from the last limit
//! reported, at most once a second per valve: bounded, never per task.

use std::time::Duration;

use super::aimd::{Aimd, AimdState};
use super::gradient::{Gradient, GradientState, Phase};
use super::sample::{Signal, Taken};

/// An adaptive concurrency limit for a valve:
/// [`ValveConfig::limit`](crate::ValveConfig::limit).
///
/// ```
/// use std::time::Duration;
/// use fusebox::ValveConfig;
/// use fusebox::valve::Adaptive;
///
/// let cfg = ValveConfig::new()
///     .limit(Adaptive::gradient().min(4).max(200).initial(16))
///     .queue(64);
/// assert!(cfg.validate().is_ok());
/// let cfg = ValveConfig::new().limit(Adaptive::aimd().max(64).timeout(Duration::from_secs(1)));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Adaptive {
    /// Follow the ratio of the no-load latency to the current one.
    Gradient(Gradient),
    /// Additive increase, multiplicative decrease.
    Aimd(Aimd),
}

impl Adaptive {
    /// A gradient controller with the defaults (min 3, max 200, initial 20,
    /// recomputed every 100 ms, tolerance 1.5, smoothing 0.2, the no-load
    /// latency measured over 50 tasks every 60 s + up to 15 %).
    pub fn gradient() -> Gradient {
        Gradient::default()
    }

    /// An AIMD controller with the defaults (min 1, max 200, initial 20,
    /// backoff 0.9, timeout 5 s).
    pub fn aimd() -> Aimd {
        Aimd::default()
    }

    /// `gradient` or `aimd`.
    pub fn kind(&self) -> &'static str {
        match self {
            Adaptive::Gradient(_) => "gradient",
            Adaptive::Aimd(_) => "aimd",
        }
    }

    /// The lowest limit.
    pub fn min(&self) -> usize {
        match self {
            Adaptive::Gradient(g) => g.min,
            Adaptive::Aimd(a) => a.min,
        }
    }

    /// The highest limit.
    pub fn max(&self) -> usize {
        match self {
            Adaptive::Gradient(g) => g.max,
            Adaptive::Aimd(a) => a.max,
        }
    }

    fn initial(&self) -> usize {
        match self {
            Adaptive::Gradient(g) => g.initial,
            Adaptive::Aimd(a) => a.initial,
        }
    }

    fn timeout(&self) -> Option<Duration> {
        match self {
            Adaptive::Gradient(g) => g.timeout,
            Adaptive::Aimd(a) => Some(a.timeout),
        }
    }

    /// Checks the rules; the field is relative to `limit`.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String, &'static str)> {
        let bad =
            |field, value: &dyn std::fmt::Debug, rule| Err((field, format!("{value:?}"), rule));
        let (min, max, initial) = (self.min(), self.max(), self.initial());
        if min == 0 {
            return bad("limit.min", &min, "must be at least 1");
        }
        if max < min {
            return bad("limit.max", &max, "must be at least limit.min");
        }
        if max > super::slots::MAX_LIMIT {
            return bad("limit.max", &max, "must be at most 2147483647");
        }
        if !(min..=max).contains(&initial) {
            return bad(
                "limit.initial",
                &initial,
                "must be within [limit.min, limit.max]",
            );
        }
        if self.timeout().is_some_and(|t| t.is_zero()) {
            return bad(
                "limit.timeout",
                &Duration::ZERO,
                "must be greater than zero",
            );
        }
        match self {
            Adaptive::Gradient(g) => {
                if g.interval.is_zero() {
                    return bad("limit.interval", &g.interval, "must be greater than zero");
                }
                if !(g.tolerance >= 1.0 && g.tolerance.is_finite()) {
                    return bad("limit.tolerance", &g.tolerance, "must be at least 1");
                }
                if !(g.smoothing > 0.0 && g.smoothing <= 1.0) {
                    return bad("limit.smoothing", &g.smoothing, "must be in (0, 1]");
                }
                if g.probe_interval.is_zero() {
                    return bad(
                        "limit.probe_interval",
                        &g.probe_interval,
                        "must be greater than zero",
                    );
                }
                if !(0.0..=1.0).contains(&g.probe_jitter) {
                    return bad("limit.probe_jitter", &g.probe_jitter, "must be in [0, 1]");
                }
                if g.probe_samples == 0 {
                    return bad("limit.probe_samples", &0, "must be at least 1");
                }
                if g.probe_samples > 10_000 {
                    return bad(
                        "limit.probe_samples",
                        &g.probe_samples,
                        "must be at most 10000 (they are kept until the measurement ends)",
                    );
                }
            }
            Adaptive::Aimd(a) => {
                if !(a.backoff > 0.0 && a.backoff < 1.0) {
                    return bad("limit.backoff", &a.backoff, "must be in (0, 1)");
                }
            }
        }
        Ok(())
    }
}

impl From<Gradient> for Adaptive {
    fn from(g: Gradient) -> Self {
        Adaptive::Gradient(g)
    }
}

impl From<Aimd> for Adaptive {
    fn from(a: Aimd) -> Self {
        Adaptive::Aimd(a)
    }
}

#[derive(Debug, Clone)]
enum Controller {
    Gradient(GradientState),
    Aimd(AimdState),
}

/// One valve's adaptive limit: its controller and the bookkeeping of its
/// events.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    pub(crate) config: Adaptive,
    controller: Controller,
    timeout: Option<u64>,
    /// The limit last reported by an event, and when.
    reported: usize,
    reported_at: Option<u64>,
    /// Limit changes since install.
    pub(crate) changes: u64,
}

/// The least time between two limit events of one valve.
pub(crate) const EVENT_EVERY: u64 = 1_000_000_000;

impl Limiter {
    pub(crate) fn new(config: Adaptive, now: u64) -> Self {
        let controller = match config {
            Adaptive::Gradient(g) => Controller::Gradient(GradientState::new(g, now)),
            Adaptive::Aimd(a) => Controller::Aimd(AimdState::new(a)),
        };
        let mut l = Limiter {
            config,
            controller,
            timeout: config.timeout().map(crate::clock::duration_nanos),
            reported: 0,
            reported_at: None,
            changes: 0,
        };
        l.reported = l.limit();
        l
    }

    /// The limit now.
    pub(crate) fn limit(&self) -> usize {
        match &self.controller {
            Controller::Gradient(g) => g.limit(),
            Controller::Aimd(a) => a.limit(),
        }
    }

    /// One task ended after holding its slot from `started` to `now`
    /// (`dropped`: reported as a drop). The answer is `Some((from, to))`
    /// when an event is due for the limit's change.
    pub(crate) fn on_task(
        &mut self,
        started: u64,
        now: u64,
        in_flight: usize,
        dropped: bool,
        draw: &mut dyn FnMut() -> u64,
    ) -> Option<(usize, usize)> {
        let rtt = now.saturating_sub(started);
        let signal = if dropped || self.timeout.is_some_and(|t| rtt >= t) {
            Signal::Drop
        } else {
            Signal::Latency(rtt)
        };
        let t = Taken {
            started,
            now,
            in_flight,
            signal,
        };
        let before = self.limit();
        match &mut self.controller {
            Controller::Gradient(g) => g.on_sample(t, draw),
            Controller::Aimd(a) => a.on_sample(t),
        }
        let after = self.limit();
        if after != before {
            self.changes += 1;
        }
        let moved = after.abs_diff(self.reported);
        let due = self
            .reported_at
            .is_none_or(|at| now >= at.saturating_add(EVENT_EVERY));
        if moved > 0 && moved >= (self.reported / 10).max(1) && due {
            let from = self.reported;
            self.reported = after;
            self.reported_at = Some(now);
            return Some((from, after));
        }
        None
    }

    pub(crate) fn snapshot(&self) -> LimitSnapshot {
        let ns = |t: Option<u64>| t.map(Duration::from_nanos);
        let (min_rtt, window_rtt, probing, next_probe, decreased_at) = match &self.controller {
            Controller::Gradient(g) => (
                ns(g.min_rtt),
                ns(g.window_rtt),
                matches!(g.phase, Phase::Probing { .. }),
                ns(g.next_probe()),
                None,
            ),
            Controller::Aimd(a) => (None, None, false, None, ns(a.decreased_at)),
        };
        LimitSnapshot {
            kind: self.config.kind().to_string(),
            limit: self.limit(),
            min: self.config.min(),
            max: self.config.max(),
            changes: self.changes,
            min_rtt,
            window_rtt,
            probing,
            next_probe,
            decreased_at,
        }
    }
}

/// An adaptive limit as it is now, in a [`ValveSnapshot`](super::ValveSnapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct LimitSnapshot {
    /// `gradient` or `aimd`.
    pub kind: String,
    /// The limit in force.
    pub limit: usize,
    /// The lowest it may go.
    pub min: usize,
    /// The highest it may go.
    pub max: usize,
    /// How many times it changed since install.
    pub changes: u64,
    /// Gradient: the no-load latency measured last.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::duration::serde_duration::option")
    )]
    pub min_rtt: Option<Duration>,
    /// Gradient: the mean latency of the last window.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::duration::serde_duration::option")
    )]
    pub window_rtt: Option<Duration>,
    /// Gradient: the limit is pinned to `min` while the no-load latency is
    /// measured.
    #[cfg_attr(feature = "serde", serde(default))]
    pub probing: bool,
    /// Gradient: when the next measurement starts, on the Fusebox's clock.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::duration::serde_duration::option")
    )]
    pub next_probe: Option<Duration>,
    /// AIMD: when the limit last fell, on the Fusebox's clock.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::duration::serde_duration::option")
    )]
    pub decreased_at: Option<Duration>,
}
