//! The Fusebox: every fuse and valve by name, with one clock, one timer and
//! one event bus, as the Erlang fuse application held its fuses.
//!
//! Lookups by name are lock-free (a read of a concurrent hash map); installs
//! and removals, which are rare, are serialised by one mutex so that an
//! install racing a remove of the same name has one clear winner.
//!
//! The registry is written across files by concept: the fuse operations by
//! name here; `builder.rs` builds it; `shared.rs` holds what its handles
//! share; `valves.rs` the valve operations; `pipelines.rs` the pipelines
//! built with the Fusebox; `ticks.rs` the alarm look and
//! metrics tick; `events.rs` subscriptions and the aggregate snapshot;
//! `keyed.rs` the keyed families built with it; `names.rs` the rules for
//! names.

mod builder;
mod events;
mod families;
mod keyed;
mod names;
mod pipelines;
mod shared;
mod ticks;
mod valves;

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use crate::metrics_export::DEFAULT_METRICS_INTERVAL;
pub use builder::{
    FuseboxBuilder, DEFAULT_ALARM_CLEAR_LOOKS, DEFAULT_ALARM_PERIOD, DEFAULT_EVENT_CAPACITY,
};
pub use events::Snapshot;
pub use names::MAX_NAME_LEN;

use crate::error::{ConfigError, NotFound};
use crate::fuse::{Answer, Ask, Fuse, FuseConfig, FuseCore, FuseSnapshot, Outcome, RunError};
pub(crate) use families::{Families, Family};
pub(crate) use names::check_name;
use shared::Shared;

/// The registry of fuses by name, with one clock, one timer and one event bus.
///
/// Cloning a `Fusebox` is cheap and gives another handle to the same fuses.
/// Every operation by name answers [`NotFound`] for an unknown name and never
/// panics.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Ask, FuseConfig, Fusebox, Heal};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(2, Duration::from_secs(10))
///     .heal(Heal::reset(Duration::from_secs(60)))).unwrap();
/// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
/// for _ in 0..3 { fb.melt("db").unwrap(); }   // 3 > 2 melts within 10 s
/// assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
/// fb.reset("db").unwrap();
/// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
/// assert!(fb.ask("cache").is_err());            // not found
/// ```
#[derive(Clone)]
pub struct Fusebox {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Fusebox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fusebox")
            .field("fuses", &self.shared.fuses.len())
            .field("now", &self.now())
            .finish()
    }
}

impl Default for Fusebox {
    fn default() -> Self {
        Self::new()
    }
}

impl Fusebox {
    /// A Fusebox on the monotonic clock with default alarm settings.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder, to choose the clock and alarm settings.
    pub fn builder() -> FuseboxBuilder {
        FuseboxBuilder::default()
    }

    /// The clock, timer and reporting this Fusebox shares with its fuses.
    pub(crate) fn env(&self) -> &Arc<crate::fuse::Env> {
        &self.shared.env
    }

    pub(crate) fn bus(&self) -> &Arc<crate::event::Bus> {
        &self.shared.bus
    }

    /// The time on this Fusebox's clock.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.shared.env.timebase.now())
    }

    /// Installs a fuse. A new name starts ok with an empty history. An
    /// existing name gets the new config, is reset to ok, loses its history
    /// and pending heal, and **stays disabled** if it was. An invalid config
    /// (or name) is refused and the installed fuse, if any, is untouched.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(5, Duration::from_secs(10))).unwrap();
    /// let bad = FuseConfig::fault_injection(2.0, 5, Duration::from_secs(10));
    /// assert_eq!(fb.install("db", bad).unwrap_err().field(), "strategy.rate");
    /// ```
    pub fn install(&self, name: impl AsRef<str>, config: FuseConfig) -> Result<(), ConfigError> {
        let name = name.as_ref();
        check_name(name)?;
        config.validate()?;
        let _w = self.shared.write();
        let map = self.shared.fuses.pin();
        match map.get(name) {
            Some(core) => {
                let _ = core.reinstall(config);
            }
            None => {
                let name: Arc<str> = name.into();
                let core = FuseCore::new(name.clone(), config, self.shared.env.clone());
                map.insert(name, core.clone());
                core.announce_installed();
            }
        }
        Ok(())
    }

    /// A cheap handle to the fuse, for hot paths.
    pub fn fuse(&self, name: &str) -> Option<Fuse> {
        self.shared.get(name).ok().map(Fuse::from_core)
    }

    /// Ok or blown; no effect but counters (and fault injection's draw).
    #[inline]
    pub fn ask(&self, name: &str) -> Result<Ask, NotFound> {
        let map = self.shared.fuses.pin();
        match map.get(name).map(|core| core.ask()) {
            Some(Answer::Ok) => Ok(Ask::Ok),
            Some(Answer::Blown) => Ok(Ask::Blown),
            Some(Answer::Removed) | None => Err(NotFound::fuse(name)),
        }
    }

    /// Records a melt at the fuse's clock; may blow it.
    pub fn melt(&self, name: &str) -> Result<(), NotFound> {
        self.by_name(name, FuseCore::melt)
    }

    /// Counts a success reported outside [`run`](Self::run).
    pub fn success(&self, name: &str) -> Result<(), NotFound> {
        self.by_name(name, FuseCore::success)
    }

    /// Asks; if blown, refuses; if ok, calls `f` and melts on `Err` (or panic).
    pub fn run<T, E>(
        &self,
        name: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, RunError<E>> {
        self.shared.get(name)?.run(f, Outcome::of_result)
    }

    /// [`run`](Self::run) with your own classification of the result (see
    /// [`Fuse::run_classified`]).
    pub fn run_classified<T, E>(
        &self,
        name: &str,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>> {
        self.shared.get(name)?.run(f, classify)
    }

    /// Heals now: ok, empty history, heal cancelled; a disabled fuse stays disabled.
    pub fn reset(&self, name: &str) -> Result<(), NotFound> {
        self.by_name(name, FuseCore::reset)
    }

    /// Removes the fuse: later calls say not found, its alarm clears.
    pub fn remove(&self, name: &str) -> Result<(), NotFound> {
        let _w = self.shared.write();
        let core = self.shared.get(name)?;
        if core.remove() == Answer::Removed {
            return Err(NotFound::fuse(name));
        }
        self.shared.fuses.pin().remove(name);
        let now = self.shared.env.timebase.now();
        self.shared.monitor.forget(name, now, &self.shared.bus);
        Ok(())
    }

    /// Blown until [`enable`](Self::enable); dominates everything but remove.
    pub fn disable(&self, name: &str) -> Result<(), NotFound> {
        self.by_name(name, FuseCore::disable)
    }

    /// If disabled: ok with an empty history. Idempotent.
    pub fn enable(&self, name: &str) -> Result<(), NotFound> {
        self.by_name(name, FuseCore::enable)
    }

    /// Releases a `barrier` heal step (fuses without one are unaffected).
    pub fn unlock(&self, name: &str) -> Result<(), NotFound> {
        self.by_name(name, FuseCore::unlock)
    }

    /// [`Fuse::set_chaos`] by name.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Fusebox, FuseConfig};
    /// use fusebox::fuse::Chaos;
    ///
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))?;
    /// fb.set_chaos("db", Chaos::new().latency(0.1, Duration::from_millis(200)))?;
    /// assert!(fb.set_chaos("cache", Chaos::new()).is_err());
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Fuse::set_chaos`], and `chaos.fuse` for a name with no fuse.
    pub fn set_chaos(&self, name: &str, chaos: crate::fuse::Chaos) -> Result<(), ConfigError> {
        let fuse = self
            .fuse(name)
            .ok_or_else(|| ConfigError::new("chaos.fuse", name, "names no installed fuse"))?;
        fuse.set_chaos(chaos)
    }

    /// The fuse's state, melts in window, config, counters and timing.
    pub fn state(&self, name: &str) -> Result<FuseSnapshot, NotFound> {
        self.shared
            .get(name)?
            .snapshot()
            .ok_or_else(|| NotFound::fuse(name))
    }

    /// Every fuse, sorted by name.
    pub fn fuses(&self) -> Vec<FuseSnapshot> {
        let mut fuses: Vec<FuseSnapshot> = self
            .shared
            .fuse_cores()
            .iter()
            .filter_map(|c| c.snapshot())
            .collect();
        fuses.sort_by(|a, b| a.name.cmp(&b.name));
        fuses
    }

    /// The names of every fuse, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.shared.fuses.pin().keys().cloned().collect();
        names.sort();
        names
    }

    fn by_name(&self, name: &str, op: impl FnOnce(&FuseCore) -> Answer) -> Result<(), NotFound> {
        match op(&*self.shared.get(name)?) {
            Answer::Removed => Err(NotFound::fuse(name)),
            Answer::Ok | Answer::Blown => Ok(()),
        }
    }
}
