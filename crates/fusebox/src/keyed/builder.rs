//! How a keyed family is configured: the template every key's fuse is made
//! from, how long a key may stay unused before it is forgotten, and how much
//! work the periodic sweep may do at a time. Validated once, at `build`.

use std::fmt::Display;
use std::hash::Hash;
use std::time::Duration;

use super::KeyedFuses;
use crate::error::ConfigError;
use crate::fuse::FuseConfig;
use crate::registry::Fusebox;

/// The idle time after which an unused, healthy key is forgotten, unless set.
pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(300);

/// The most keys one sweep looks at, unless set.
pub const DEFAULT_SWEEP_BUDGET: usize = 1024;

/// Builds a [`KeyedFuses`]: the template, the idle TTL, the sweep.
#[derive(Debug, Clone)]
#[must_use]
pub struct KeyedBuilder {
    pub(super) template: FuseConfig,
    pub(super) idle_ttl: Duration,
    pub(super) sweep_every: Option<Duration>,
    pub(super) sweep_budget: usize,
}

impl KeyedBuilder {
    /// A family whose keys' fuses are made from `template`.
    pub fn new(template: FuseConfig) -> Self {
        KeyedBuilder {
            template,
            idle_ttl: DEFAULT_IDLE_TTL,
            sweep_every: None,
            sweep_budget: DEFAULT_SWEEP_BUDGET,
        }
    }

    /// A key unused for this long (and, if it blew, healed for this long)
    /// is forgotten; its next use starts it afresh from the template. Must
    /// be above zero; [`DEFAULT_IDLE_TTL`] unless set.
    pub fn idle_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = ttl;
        self
    }

    /// How often the sweep runs on the Fusebox's timer; the idle TTL
    /// unless set. Must be above zero.
    pub fn sweep_every(mut self, period: Duration) -> Self {
        self.sweep_every = Some(period);
        self
    }

    /// The most keys one sweep looks at (at least 1);
    /// [`DEFAULT_SWEEP_BUDGET`] unless set.
    pub fn sweep_budget(mut self, keys: usize) -> Self {
        self.sweep_budget = keys;
        self
    }

    /// The family, on `fusebox`'s clock, timer, events and draws. Promoted
    /// keys' fuses are named `"{family}/{key}"` in their events.
    ///
    /// # Errors
    ///
    /// The template's own errors, or `keyed.idle_ttl`, `keyed.sweep_every`
    /// or `keyed.sweep_budget` when zero.
    pub fn build<K>(
        self,
        fusebox: &Fusebox,
        family: impl AsRef<str>,
    ) -> Result<KeyedFuses<K>, ConfigError>
    where
        K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    {
        self.template.validate()?;
        if self.idle_ttl.is_zero() {
            return Err(ConfigError::new(
                "keyed.idle_ttl",
                self.idle_ttl,
                "must be above zero",
            ));
        }
        if let Some(p) = self.sweep_every.filter(|p| p.is_zero()) {
            return Err(ConfigError::new(
                "keyed.sweep_every",
                p,
                "must be above zero",
            ));
        }
        if self.sweep_budget == 0 {
            return Err(ConfigError::new(
                "keyed.sweep_budget",
                self.sweep_budget,
                "must be at least 1",
            ));
        }
        Ok(KeyedFuses::start(self, fusebox, family.as_ref()))
    }
}
