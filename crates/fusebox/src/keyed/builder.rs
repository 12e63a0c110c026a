//! How a keyed family is configured: the template every key's engine is
//! made from (a [`FuseConfig`] for [`KeyedFuses`], a [`ValveConfig`] for
//! [`KeyedValves`]), how long a key may stay unused before it is
//! forgotten, how many keys it may hold, and how much work the periodic
//! sweep may do at a time. Validated once, at `build`.

use std::fmt::Display;
use std::hash::Hash;
use std::time::Duration;

use super::table::Sizing;
use super::{KeyedFuses, KeyedValves};
use crate::clock::duration_nanos;
use crate::error::ConfigError;
use crate::fuse::FuseConfig;
use crate::registry::{check_name, Fusebox};
use crate::valve::ValveConfig;

/// The idle time after which an unused, healthy key is forgotten, unless set.
pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(300);

/// The most keys one sweep looks at, unless set.
pub const DEFAULT_SWEEP_BUDGET: usize = 1024;

/// The most keys a family holds at once, unless set (2^20).
pub const DEFAULT_MAX_KEYS: usize = 1 << 20;

/// Builds a keyed family: the template, the idle TTL, the bound, the sweep.
/// `KeyedBuilder::new(fuse_config)` builds [`KeyedFuses`],
/// `KeyedBuilder::new(valve_config)` builds [`KeyedValves`].
#[derive(Debug, Clone)]
#[must_use]
pub struct KeyedBuilder<T = FuseConfig> {
    pub(super) template: T,
    pub(super) idle_ttl: Duration,
    pub(super) sweep_every: Option<Duration>,
    pub(super) sweep_budget: usize,
    pub(super) max_keys: usize,
}

impl<T> KeyedBuilder<T> {
    /// A family whose keys' engines are made from `template`.
    pub fn new(template: T) -> Self {
        KeyedBuilder {
            template,
            idle_ttl: DEFAULT_IDLE_TTL,
            sweep_every: None,
            sweep_budget: DEFAULT_SWEEP_BUDGET,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }

    /// A key unused for this long (and, if its fuse blew, healed for this
    /// long; for a valve, with no permit held and no task waiting) is
    /// forgotten; its next use starts it afresh from the template. Must be
    /// above zero; [`DEFAULT_IDLE_TTL`] unless set.
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

    /// The most keys the family holds at once (at least 1);
    /// [`DEFAULT_MAX_KEYS`] unless set. A new key beyond it is not
    /// remembered: a keyed fuse answers it as a fresh fuse would (ok; its
    /// melts are not recorded), a keyed valve refuses it with
    /// [`Refused::TooManyKeys`](crate::Refused::TooManyKeys); both count it
    /// in [`KeyedStats::full`](super::KeyedStats::full).
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// The family's sizes in the engine's units, checked.
    fn sizing(&self) -> Result<Sizing, ConfigError> {
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
        for (field, n) in [
            ("keyed.sweep_budget", self.sweep_budget),
            ("keyed.max_keys", self.max_keys),
        ] {
            if n == 0 {
                return Err(ConfigError::new(field, n, "must be at least 1"));
            }
        }
        let ttl = duration_nanos(self.idle_ttl);
        Ok(Sizing {
            ttl,
            period: self.sweep_every.map_or(ttl, duration_nanos),
            budget: self.sweep_budget,
            max_keys: self.max_keys,
        })
    }
}

impl KeyedBuilder<FuseConfig> {
    /// The family, on `fusebox`'s clock, timer, events and draws, and in
    /// its snapshot and metrics under `family` while a clone lives.
    /// Promoted keys' fuses are named `"{family}/{key}"` in their events.
    ///
    /// # Errors
    ///
    /// `name` for a family name a fuse could not have (empty, over 256
    /// bytes, control characters), the template's own errors,
    /// `keyed.idle_ttl`, `keyed.sweep_every`, `keyed.sweep_budget` or
    /// `keyed.max_keys` when zero, or `keyed.family` when a live keyed
    /// family of `fusebox` (fuses or valves) has the name already.
    pub fn build<K>(
        self,
        fusebox: &Fusebox,
        family: impl AsRef<str>,
    ) -> Result<KeyedFuses<K>, ConfigError>
    where
        K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    {
        check_name(family.as_ref())?;
        self.template.validate()?;
        let sizing = self.sizing()?;
        KeyedFuses::start(self.template, sizing, fusebox, family.as_ref())
    }
}

impl KeyedBuilder<ValveConfig> {
    /// The family, on `fusebox`'s clock and timer. Keys' valves are named
    /// `"{family}/{key}"`; a template naming a guard has every key's valve
    /// guarded by that one installed fuse.
    ///
    /// # Errors
    ///
    /// As for a fuse family, and `guard` if the template names no
    /// installed fuse.
    pub fn build<K>(
        self,
        fusebox: &Fusebox,
        family: impl AsRef<str>,
    ) -> Result<KeyedValves<K>, ConfigError>
    where
        K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    {
        check_name(family.as_ref()).map_err(ConfigError::for_valve)?;
        self.template.validate()?;
        let sizing = self.sizing().map_err(ConfigError::for_valve)?;
        KeyedValves::start(self.template, sizing, fusebox, family.as_ref())
    }
}
