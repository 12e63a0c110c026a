//! What a valve is configured with, and the rules a config must obey.

use std::time::Duration;

use super::limit::Adaptive;
use crate::error::ConfigError;

/// The order in which waiters get a slot, and when they are shed.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum Discipline {
    /// First come, first served (the default).
    Fifo,
    /// Last come, first served: under overload the newest waiters, whose
    /// callers are most likely still there, are served first.
    Lifo,
    /// FIFO with CoDel's control law (RFC 8289) applied as a waiter is
    /// dequeued: once the waiting time of the waiters served has stayed above
    /// `target` for a whole `interval`, the head is refused with
    /// [`Refused::Overload`](crate::Refused::Overload), and the next
    /// refusals come at `interval / sqrt(count)` until waiting times fall
    /// below `target` again.
    Codel {
        /// The acceptable standing waiting time (RFC 8289 suggests 5 ms).
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        target: Duration,
        /// How long waiting times may stay above `target` before shedding
        /// starts (RFC 8289 suggests 100 ms).
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        interval: Duration,
    },
    /// FIFO while the queue drains quickly, LIFO while a standing queue
    /// exists (the oldest waiter has waited longer than `standing`).
    AdaptiveLifo {
        /// The wait of the oldest waiter above which the queue counts as
        /// standing.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        standing: Duration,
    },
}

/// A token bucket's refill: `count` tokens per `period`, continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Rate {
    /// Tokens per period; at least 1.
    pub count: u32,
    /// The period; greater than zero.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub period: Duration,
}

/// A valve's configuration.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::ValveConfig;
///
/// // 8 tasks at once, at most 100 starts per second in bursts of 20, 64
/// // waiting, shed by CoDel, none waiting longer than 2 s.
/// let cfg = ValveConfig::new()
///     .concurrency(8)
///     .rate(100, Duration::from_secs(1))
///     .burst(20)
///     .queue(64)
///     .codel(Duration::from_millis(5), Duration::from_millis(100))
///     .max_wait(Duration::from_secs(2));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct ValveConfig {
    /// Most tasks running at once; at least 1. With an adaptive
    /// [`limit`](Self::limit), leave it at its default: the limit is
    /// learned within `[limit.min, limit.max]` instead.
    pub concurrency: usize,
    /// An adaptive concurrency limit, learned from the tasks' latencies
    /// and drops (see [`Adaptive`]); `None` for the fixed `concurrency`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub limit: Option<Adaptive>,
    /// Token bucket: at most `count` starts per `period`; `None` for no
    /// rate limit.
    pub rate: Option<Rate>,
    /// Tokens the bucket holds when full (it starts full); defaults to the
    /// rate's count.
    pub burst: Option<u32>,
    /// Most tasks waiting; 0 refuses every task that cannot start at once.
    pub queue: usize,
    /// Who is served first, and when waiters are shed.
    pub discipline: Discipline,
    /// A waiter older than this is refused with `Timeout`.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub max_wait: Option<Duration>,
    /// The fuse guarding this valve: when it blows, waiters are refused
    /// with `Blown` at once, and so are new tasks while it refuses.
    pub guard: Option<String>,
}

impl Default for ValveConfig {
    fn default() -> Self {
        ValveConfig::new()
    }
}

/// The default concurrency of [`ValveConfig::new`].
pub const DEFAULT_CONCURRENCY: usize = 1;
/// The default queue size of [`ValveConfig::new`].
pub const DEFAULT_QUEUE: usize = 0;

impl ValveConfig {
    /// One task at a time, no rate limit, no queue, FIFO, no waiting limit.
    pub fn new() -> Self {
        ValveConfig {
            concurrency: DEFAULT_CONCURRENCY,
            limit: None,
            rate: None,
            burst: None,
            queue: DEFAULT_QUEUE,
            discipline: Discipline::Fifo,
            max_wait: None,
            guard: None,
        }
    }

    /// Most tasks running at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Learn the concurrency limit instead of fixing it: a
    /// [`Gradient`](super::Gradient) or [`Aimd`](super::Aimd) controller.
    ///
    /// ```
    /// use fusebox::{Fusebox, ValveConfig};
    /// use fusebox::valve::Adaptive;
    ///
    /// let fb = Fusebox::new();
    /// fb.install_valve("db", ValveConfig::new().limit(Adaptive::aimd().initial(8)).queue(32))?;
    /// assert_eq!(fb.valve("db").unwrap().snapshot().concurrency, 8);
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn limit(mut self, adaptive: impl Into<Adaptive>) -> Self {
        self.limit = Some(adaptive.into());
        self
    }

    /// At most `count` task starts per `period`, refilled continuously.
    pub fn rate(mut self, count: u32, period: Duration) -> Self {
        self.rate = Some(Rate { count, period });
        self
    }

    /// The bucket's size (the most starts in a burst).
    pub fn burst(mut self, tokens: u32) -> Self {
        self.burst = Some(tokens);
        self
    }

    /// Most tasks waiting.
    pub fn queue(mut self, size: usize) -> Self {
        self.queue = size;
        self
    }

    /// Serve the oldest waiter first (the default).
    pub fn fifo(mut self) -> Self {
        self.discipline = Discipline::Fifo;
        self
    }

    /// Serve the newest waiter first.
    pub fn lifo(mut self) -> Self {
        self.discipline = Discipline::Lifo;
        self
    }

    /// FIFO with CoDel shedding (see [`Discipline::Codel`]).
    pub fn codel(mut self, target: Duration, interval: Duration) -> Self {
        self.discipline = Discipline::Codel { target, interval };
        self
    }

    /// LIFO while a standing queue exists (see [`Discipline::AdaptiveLifo`]).
    pub fn adaptive_lifo(mut self, standing: Duration) -> Self {
        self.discipline = Discipline::AdaptiveLifo { standing };
        self
    }

    /// Refuse waiters older than `d` with `Timeout`.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = Some(d);
        self
    }

    /// Guard the valve with the fuse named `fuse` (it must be installed
    /// when the valve is).
    pub fn guard(mut self, fuse: impl Into<String>) -> Self {
        self.guard = Some(fuse.into());
        self
    }

    /// The bucket size in effect: `burst`, or the rate's count.
    pub(crate) fn bucket_size(&self) -> Option<u32> {
        self.rate.map(|r| self.burst.unwrap_or(r.count))
    }

    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::valve("concurrency", 0, "must be at least 1"));
        }
        if let Some(limit) = &self.limit {
            if self.concurrency != DEFAULT_CONCURRENCY {
                return Err(ConfigError::valve(
                    "concurrency",
                    self.concurrency,
                    "cannot be set with an adaptive `limit` (its `min` and `max` bound it)",
                ));
            }
            limit
                .validate()
                .map_err(|(field, value, rule)| ConfigError::valve(field, Raw(value), rule))?;
        }
        if let Some(Rate { count, period }) = self.rate {
            if count == 0 {
                return Err(ConfigError::valve("rate.count", 0, "must be at least 1"));
            }
            if period.is_zero() {
                return Err(ConfigError::valve(
                    "rate.period",
                    period,
                    "must be greater than zero",
                ));
            }
        }
        if self.burst == Some(0) {
            return Err(ConfigError::valve("burst", 0, "must be at least 1"));
        }
        if self.burst.is_some() && self.rate.is_none() {
            return Err(ConfigError::valve(
                "burst",
                self.burst.unwrap_or_default(),
                "needs a rate",
            ));
        }
        match self.discipline {
            Discipline::Codel { target, interval } => {
                if target.is_zero() {
                    return Err(ConfigError::valve(
                        "discipline.target",
                        target,
                        "must be greater than zero",
                    ));
                }
                if interval.is_zero() {
                    return Err(ConfigError::valve(
                        "discipline.interval",
                        interval,
                        "must be greater than zero",
                    ));
                }
            }
            Discipline::AdaptiveLifo { standing } if standing.is_zero() => {
                return Err(ConfigError::valve(
                    "discipline.standing",
                    standing,
                    "must be greater than zero",
                ));
            }
            _ => {}
        }
        if let Some(d) = self.max_wait {
            if d.is_zero() {
                return Err(ConfigError::valve(
                    "max_wait",
                    d,
                    "must be greater than zero",
                ));
            }
        }
        if self.guard.as_deref() == Some("") {
            return Err(ConfigError::valve("guard", "", "must name a fuse"));
        }
        Ok(())
    }
}

/// A value already formatted, shown as it is.
struct Raw(String);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_its_field() {
        let ms = Duration::from_millis;
        let cases = [
            (ValveConfig::new().concurrency(0), "concurrency"),
            (ValveConfig::new().rate(0, ms(1)), "rate.count"),
            (ValveConfig::new().rate(1, ms(0)), "rate.period"),
            (ValveConfig::new().rate(1, ms(1)).burst(0), "burst"),
            (ValveConfig::new().burst(3), "burst"),
            (ValveConfig::new().codel(ms(0), ms(1)), "discipline.target"),
            (
                ValveConfig::new().codel(ms(1), ms(0)),
                "discipline.interval",
            ),
            (
                ValveConfig::new().adaptive_lifo(ms(0)),
                "discipline.standing",
            ),
            (ValveConfig::new().max_wait(ms(0)), "max_wait"),
            (ValveConfig::new().guard(""), "guard"),
            (
                ValveConfig::new().concurrency(4).limit(Adaptive::aimd()),
                "concurrency",
            ),
            (
                ValveConfig::new().limit(Adaptive::aimd().min(0)),
                "limit.min",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().min(5).max(4)),
                "limit.max",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().max(usize::MAX)),
                "limit.max",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().initial(500)),
                "limit.initial",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().timeout(ms(0))),
                "limit.timeout",
            ),
            (
                ValveConfig::new().limit(Adaptive::aimd().timeout(ms(0))),
                "limit.timeout",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().interval(ms(0))),
                "limit.interval",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().tolerance(0.9)),
                "limit.tolerance",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().tolerance(f64::NAN)),
                "limit.tolerance",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().smoothing(0.0)),
                "limit.smoothing",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().probe_interval(ms(0))),
                "limit.probe_interval",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().probe_jitter(1.5)),
                "limit.probe_jitter",
            ),
            (
                ValveConfig::new().limit(Adaptive::gradient().probe_samples(0)),
                "limit.probe_samples",
            ),
            (
                ValveConfig::new().limit(Adaptive::aimd().backoff(1.0)),
                "limit.backoff",
            ),
        ];
        for (cfg, field) in cases {
            let err = cfg.validate().expect_err(field);
            assert_eq!(err.field(), field, "{err}");
        }
        assert!(ValveConfig::new().validate().is_ok());
        assert!(ValveConfig::new()
            .limit(Adaptive::gradient())
            .validate()
            .is_ok());
        let err = ValveConfig::new()
            .limit(Adaptive::aimd().backoff(1.0))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid valve config: `limit.backoff` = 1.0: must be in (0, 1)"
        );
    }
}
