//! What a fuse is told at install: a *strategy* (when does it blow) and a
//! *heal* (what happens after).
//!
//! Building a config never fails; [`FuseConfig::validate`] (called by
//! [`Fusebox::install`](crate::Fusebox::install)) checks it once and names the
//! field and the rule of anything wrong, as Erlang fuse validated its options
//! once, at install.

use std::time::Duration;

use super::heal::Heal;
use super::strategy::Strategy;
use crate::error::ConfigError;

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
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
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
                "heal.steps[0].delay",
            ),
        ];
        for (cfg, field) in cases {
            assert_eq!(cfg.validate().unwrap_err().field(), field, "{cfg:?}");
        }
        assert!(FuseConfig::standard(0, s).validate().is_ok());
        assert!(FuseConfig::fault_injection(1.0, 1, s).validate().is_ok());
    }
}
