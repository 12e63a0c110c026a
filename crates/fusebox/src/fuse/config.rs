//! What a fuse is told at install: a *strategy* (when does it blow) and a
//! *heal* (what happens after).
//!
//! Building a config never fails; [`FuseConfig::validate`] (called by
//! [`Fusebox::install`](crate::Fusebox::install)) checks it once and names the
//! field and the rule of anything wrong, as Erlang fuse validated its options
//! once, at install.

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
        #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
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
        #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
        window: Duration,
    },
}

impl Strategy {
    /// The melt window, for strategies that have one.
    pub fn window(&self) -> Option<Duration> {
        match self {
            Strategy::Standard { window, .. } | Strategy::FaultInjection { window, .. } => {
                Some(*window)
            }
        }
    }

    /// The melt budget, for strategies that have one.
    pub fn max_melts(&self) -> Option<u32> {
        match self {
            Strategy::Standard { max_melts, .. } | Strategy::FaultInjection { max_melts, .. } => {
                Some(*max_melts)
            }
        }
    }

    /// The injected refusal rate, for fault injection.
    pub fn injection_rate(&self) -> Option<f64> {
        match self {
            Strategy::FaultInjection { rate, .. } => Some(*rate),
            Strategy::Standard { .. } => None,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
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

/// What happens after a fuse blows.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::Heal;
///
/// // Heal fully one minute after the blow, like Erlang fuse's {reset, 60000}.
/// let h = Heal::reset(Duration::from_secs(60));
/// assert_eq!(h.base_delay(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum Heal {
    /// Heal fully `after` the blow. Melts while blown are recorded but neither
    /// extend nor restart the wait.
    Reset {
        /// Time from the blow to the heal; must be greater than zero.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
        after: Duration,
    },
}

impl Heal {
    /// Heal fully `after` the blow.
    pub fn reset(after: Duration) -> Self {
        Heal::Reset { after }
    }

    /// The time from a blow to the first moment anything is let through.
    pub fn base_delay(&self) -> Duration {
        match self {
            Heal::Reset { after } => *after,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Heal::Reset { after } => {
                if after.is_zero() {
                    return Err(ConfigError::new(
                        "heal.after",
                        after,
                        "must be greater than zero",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// A fuse's configuration: a [`Strategy`] and a [`Heal`].
///
/// The heal defaults to [`Heal::reset`] after 60 seconds, as in Erlang fuse's
/// documentation.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Heal};
///
/// let cfg = FuseConfig::standard(5, Duration::from_secs(10))
///     .heal(Heal::reset(Duration::from_secs(30)));
/// assert!(cfg.validate().is_ok());
/// assert!(FuseConfig::fault_injection(1.5, 5, Duration::from_secs(1)).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FuseConfig {
    /// When the fuse blows.
    pub strategy: Strategy,
    /// What happens after it blows.
    pub heal: Heal,
}

/// The heal a config gets unless told otherwise.
pub const DEFAULT_HEAL_AFTER: Duration = Duration::from_secs(60);

impl FuseConfig {
    /// Blow when more than `max_melts` melts fall within `window`.
    pub fn standard(max_melts: u32, window: Duration) -> Self {
        Self::new(Strategy::Standard { max_melts, window })
    }

    /// As [`standard`](Self::standard), refusing each ask on an ok fuse with
    /// probability `rate`.
    pub fn fault_injection(rate: f64, max_melts: u32, window: Duration) -> Self {
        Self::new(Strategy::FaultInjection {
            rate,
            max_melts,
            window,
        })
    }

    /// A config from a strategy, with the default heal.
    pub fn new(strategy: Strategy) -> Self {
        FuseConfig {
            strategy,
            heal: Heal::reset(DEFAULT_HEAL_AFTER),
        }
    }

    /// Replaces the heal.
    pub fn heal(mut self, heal: Heal) -> Self {
        self.heal = heal;
        self
    }

    /// Checks every rule; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.strategy.validate()?;
        self.heal.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_their_field() {
        let s = Duration::from_secs(1);
        let cases = [
            (FuseConfig::standard(1, Duration::ZERO), "strategy.window"),
            (FuseConfig::fault_injection(0.0, 1, s), "strategy.rate"),
            (FuseConfig::fault_injection(1.01, 1, s), "strategy.rate"),
            (FuseConfig::fault_injection(f64::NAN, 1, s), "strategy.rate"),
            (FuseConfig::fault_injection(0.5, 0, s), "strategy.max_melts"),
            (
                FuseConfig::standard(1, s).heal(Heal::reset(Duration::ZERO)),
                "heal.after",
            ),
        ];
        for (cfg, field) in cases {
            assert_eq!(cfg.validate().unwrap_err().field(), field, "{cfg:?}");
        }
        assert!(FuseConfig::standard(0, s).validate().is_ok());
        assert!(FuseConfig::fault_injection(1.0, 1, s).validate().is_ok());
    }
}
