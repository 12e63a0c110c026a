//! The valves of a Fusebox by name: install (or reconfigure live), look up,
//! remove, read.

use std::sync::Arc;

use super::check_name;
use super::Fusebox;
use crate::error::{ConfigError, NotFound};
use crate::event::ValveChange;
use crate::fuse::FuseCore;
use crate::sync;
use crate::valve::engine::ValveCore;
use crate::valve::{Valve, ValveConfig, ValveSnapshot};

impl Fusebox {
    /// Installs a valve, or reconfigures it live if one has that name:
    /// running tasks finish, waiters are served under the new rules at once.
    /// A config naming a guard needs that fuse installed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Fusebox, ValveConfig};
    ///
    /// let fb = Fusebox::new();
    /// fb.install_valve("api", ValveConfig::new().concurrency(8).queue(64)
    ///     .codel(Duration::from_millis(5), Duration::from_millis(100)))?;
    /// fb.install_valve("api", ValveConfig::new().concurrency(4).queue(64))?; // live
    /// assert_eq!(fb.valve("api").unwrap().snapshot().concurrency, 4);
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn install_valve(
        &self,
        name: impl AsRef<str>,
        config: ValveConfig,
    ) -> Result<(), ConfigError> {
        let name = name.as_ref();
        check_name(name).map_err(ConfigError::for_valve)?;
        config.validate()?;
        let guard = self.guard_of(&config)?;
        let _w = self.shared.write();
        let mut valves = sync::write(&self.shared.valves);
        let now = self.shared.env.timebase.now();
        match valves.get(name) {
            Some(core) => {
                core.configure(config, guard, now);
                core.emit(ValveChange::Reconfigured);
            }
            None => {
                let name: Arc<str> = name.into();
                let core = ValveCore::new(
                    name.clone(),
                    config,
                    guard,
                    self.shared.env.clone(),
                    self.shared.bus.clone(),
                );
                valves.insert(name, core.clone());
                core.emit(ValveChange::Installed);
            }
        }
        Ok(())
    }

    /// The installed fuse `config` names as its guard, if it names one.
    pub(crate) fn guard_of(
        &self,
        config: &ValveConfig,
    ) -> Result<Option<Arc<FuseCore>>, ConfigError> {
        config
            .guard
            .as_ref()
            .map(|fuse| {
                self.shared
                    .get(fuse)
                    .map_err(|_| ConfigError::valve("guard", fuse, "names no installed fuse"))
            })
            .transpose()
    }

    /// A handle to the valve.
    pub fn valve(&self, name: &str) -> Option<Valve> {
        self.shared.valve(name).map(Valve::from_core)
    }

    /// Removes a valve: its waiters and later tasks are refused with
    /// `Removed`; running tasks finish and release normally.
    pub fn remove_valve(&self, name: &str) -> Result<(), NotFound> {
        let _w = self.shared.write();
        let core = sync::write(&self.shared.valves)
            .remove(name)
            .ok_or_else(|| NotFound::valve(name))?;
        core.remove();
        core.emit(ValveChange::Removed);
        Ok(())
    }

    /// Every valve, sorted by name.
    pub fn valves(&self) -> Vec<ValveSnapshot> {
        self.shared
            .valve_cores()
            .iter()
            .map(|c| ValveSnapshot::of(c))
            .collect()
    }

    /// The valve's state, config and statistics.
    pub fn valve_state(&self, name: &str) -> Result<ValveSnapshot, NotFound> {
        self.shared
            .valve(name)
            .map(|c| ValveSnapshot::of(&c))
            .ok_or_else(|| NotFound::valve(name))
    }
}
