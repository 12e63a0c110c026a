//! When a fuse blows: its *strategy*.
//!
//! A strategy sees each failure (and, for some, each success) and says when
//! the fuse must blow. `standard` is Erlang fuse's melt window; the others
//! hear of successes too. Each rule is checked once, by
//! [`Strategy::validate`], when the config is installed.

use std::time::Duration;

use crate::error::ConfigError;

/// When a fuse blows.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::Strategy;
///
/// // More than 5 melts within 10 s blows the fuse.
/// let s = Strategy::Standard { max_melts: 5, window: Duration::from_secs(10) };
/// assert_eq!(s.window(), Some(Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum Strategy {
    /// After a melt at time `now`, count the melts `t` with `now - t < window`
    /// (a melt exactly `window` old is outside); more than `max_melts` blows.
    Standard {
        /// How many melts the window tolerates; `0` blows on the first melt.
        max_melts: u32,
        /// How far back melts count; must be greater than zero.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
    },
    /// As [`Standard`](Strategy::Standard), and while the fuse is ok each ask
    /// answers blown with probability `rate`: chaos testing in production, as
    /// Erlang fuse's `fault_injection`.
    FaultInjection {
        /// Probability in (0, 1] that an ask on an ok fuse is refused.
        rate: f64,
        /// As in `Standard`; must be at least 1.
        max_melts: u32,
        /// As in `Standard`.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
    },
    /// Blows after `failures` failures with no success in between (Polly's
    /// "consecutive failures" breaker). Needs success reports: use `run`, or
    /// [`Fuse::success`](crate::Fuse::success) with `ask`/`melt`.
    Consecutive {
        /// Failures in a row that blow the fuse; at least 1.
        failures: u32,
    },
    /// Blows when, over the last `window`, at least `min_calls` outcomes were
    /// reported and the share of failures is `ratio` or more. Outcomes are
    /// counted in 10 time buckets (O(1) per outcome, memory independent of
    /// the call rate). With `slow_call`, a successful call through `run` that
    /// took longer than it counts as a failure.
    FailureRate {
        /// Failure share in (0, 1] that blows the fuse.
        ratio: f64,
        /// How far back outcomes count; must be greater than zero.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
        /// Fewest outcomes in the window before the ratio is judged; at least 1.
        min_calls: u32,
        /// Calls slower than this count as failures.
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "crate::duration::serde_duration::option")
        )]
        slow_call: Option<Duration>,
    },
}

impl Strategy {
    /// Blow after `failures` failures in a row.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Ask, FuseConfig, Fusebox, Strategy};
    ///
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::new(Strategy::consecutive(3))).unwrap();
    /// fb.melt("db").unwrap();
    /// fb.melt("db").unwrap();
    /// fb.success("db").unwrap();          // the run of failures is broken
    /// fb.melt("db").unwrap();
    /// fb.melt("db").unwrap();
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    /// fb.melt("db").unwrap();             // the third in a row
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    /// ```
    pub fn consecutive(failures: u32) -> Self {
        Strategy::Consecutive { failures }
    }

    /// Blow when at least `min_calls` outcomes in `window` are `ratio` or
    /// more failures.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Ask, FuseConfig, Fusebox, Strategy};
    ///
    /// let fb = Fusebox::new();
    /// let half = Strategy::failure_rate(0.5, Duration::from_secs(10), 4);
    /// fb.install("db", FuseConfig::new(half)).unwrap();
    /// fb.success("db").unwrap();
    /// fb.melt("db").unwrap();
    /// fb.success("db").unwrap();
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);   // 3 calls: below min_calls
    /// fb.melt("db").unwrap();                       // 2 of 4 failed: 50%
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    /// ```
    pub fn failure_rate(ratio: f64, window: Duration, min_calls: u32) -> Self {
        Strategy::FailureRate {
            ratio,
            window,
            min_calls,
            slow_call: None,
        }
    }

    /// Adds a slow-call threshold to a `failure_rate` strategy (other
    /// strategies are returned unchanged).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::Strategy;
    ///
    /// let s = Strategy::failure_rate(0.5, Duration::from_secs(10), 20)
    ///     .slow_call(Duration::from_millis(500));
    /// assert!(matches!(s, Strategy::FailureRate { slow_call: Some(_), .. }));
    /// ```
    pub fn slow_call(self, threshold: Duration) -> Self {
        match self {
            Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                ..
            } => Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                slow_call: Some(threshold),
            },
            other => other,
        }
    }

    /// True if the strategy needs success reports to work.
    pub fn counts_successes(&self) -> bool {
        matches!(
            self,
            Strategy::Consecutive { .. } | Strategy::FailureRate { .. }
        )
    }

    /// The melt window, for strategies that have one.
    pub fn window(&self) -> Option<Duration> {
        match self {
            Strategy::Standard { window, .. }
            | Strategy::FaultInjection { window, .. }
            | Strategy::FailureRate { window, .. } => Some(*window),
            Strategy::Consecutive { .. } => None,
        }
    }

    /// The melt budget, for strategies that have one.
    pub fn max_melts(&self) -> Option<u32> {
        match self {
            Strategy::Standard { max_melts, .. } | Strategy::FaultInjection { max_melts, .. } => {
                Some(*max_melts)
            }
            Strategy::Consecutive { .. } | Strategy::FailureRate { .. } => None,
        }
    }

    /// The injected refusal rate, for fault injection.
    pub fn injection_rate(&self) -> Option<f64> {
        match self {
            Strategy::FaultInjection { rate, .. } => Some(*rate),
            _ => None,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Strategy::Standard { window, .. } => check_window(window),
            Strategy::FaultInjection {
                rate,
                max_melts,
                window,
            } => {
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(ConfigError::new("strategy.rate", rate, "must be in (0, 1]"));
                }
                if max_melts == 0 {
                    return Err(ConfigError::new(
                        "strategy.max_melts",
                        max_melts,
                        "must be at least 1 with fault injection",
                    ));
                }
                check_window(window)
            }
            Strategy::Consecutive { failures } => {
                if failures == 0 {
                    return Err(ConfigError::new(
                        "strategy.failures",
                        failures,
                        "must be at least 1",
                    ));
                }
                Ok(())
            }
            Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                slow_call,
            } => {
                if !(ratio > 0.0 && ratio <= 1.0) {
                    return Err(ConfigError::new(
                        "strategy.ratio",
                        ratio,
                        "must be in (0, 1]",
                    ));
                }
                if min_calls == 0 {
                    return Err(ConfigError::new(
                        "strategy.min_calls",
                        min_calls,
                        "must be at least 1",
                    ));
                }
                if slow_call.is_some_and(|d| d.is_zero()) {
                    return Err(ConfigError::new(
                        "strategy.slow_call",
                        Duration::ZERO,
                        "must be greater than zero",
                    ));
                }
                check_window(window)
            }
        }
    }
}

fn check_window(window: Duration) -> Result<(), ConfigError> {
    if window.is_zero() {
        return Err(ConfigError::new(
            "strategy.window",
            window,
            "must be greater than zero",
        ));
    }
    Ok(())
}
