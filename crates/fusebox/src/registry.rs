//! The Fusebox: every fuse by name, with one clock, one timer and one event
//! bus, as the Erlang fuse application held its fuses.
//!
//! Lookups by name are lock-free (a read of a concurrent hash map); installs
//! and removals, which are rare, are serialised by one mutex so that an
//! install racing a remove of the same name has one clear winner.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::clock::{duration_nanos, Clock, MonotonicClock, Timebase};
use crate::error::{ConfigError, NotFound, RunError};
use crate::event::alarm::Monitor;
use crate::event::{Alarm, Bus, CallbackSubscriber, Event, RecvError, Subscription, ValveChange};
use crate::fuse::engine::{Answer, Env, FuseCore};
use crate::fuse::Outcome;
use crate::fuse::{Ask, Fuse, FuseConfig};
use crate::snapshot::{FuseSnapshot, Snapshot};
use crate::timer::{Fire, Timers};
use crate::valve::engine::ValveCore;
use crate::valve::{Valve, ValveConfig, ValveSnapshot};

type Map = papaya::HashMap<Arc<str>, Arc<FuseCore>, foldhash::fast::RandomState>;

/// The longest name a fuse may have, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Events a subscriber buffers by default before it starts losing the oldest.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// How often the alarm monitor looks at every fuse by default (as fuse).
pub const DEFAULT_ALARM_PERIOD: Duration = Duration::from_secs(60);

/// Clean looks needed to clear an alarm by default.
pub const DEFAULT_ALARM_CLEAR_LOOKS: u32 = 3;

struct Shared {
    #[cfg(feature = "metrics")]
    exporter: crate::metrics_export::Exporter,
    #[cfg(feature = "metrics")]
    metrics_interval: Duration,
    map: Map,
    valves: std::sync::RwLock<std::collections::BTreeMap<Arc<str>, Arc<ValveCore>>>,
    writes: Mutex<()>,
    env: Arc<Env>,
    monitor: Monitor,
    me: Weak<Shared>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.env.timers.shutdown();
    }
}

/// Timer tickets of the registry's own ticks.
const LOOK: u64 = 0;
#[cfg(feature = "metrics")]
const METRICS: u64 = 1;

impl Fire for Shared {
    /// One alarm look (or metrics tick), then the next one a period later.
    fn fire(&self, ticket: u64, at: u64, _now: u64) {
        #[cfg(feature = "metrics")]
        if ticket == METRICS {
            self.publish_metrics();
            self.schedule_metrics(at);
            return;
        }
        debug_assert_eq!(ticket, LOOK);
        // Look as of the tick the look was due, not as of when the driver got to it: a
        // ManualClock advance of several periods fires every look in order, and each must see
        // the fuses (and stamp `since`) at its own time.
        {
            let map = self.map.pin();
            let fuses = map
                .iter()
                .map(|(name, core)| (name.clone(), core.refusing_at(at)));
            self.monitor.look(at, fuses, &self.env.bus);
        }
        self.schedule_look(at);
    }
}

impl Shared {
    fn schedule_look(&self, from: u64) {
        let next = from.saturating_add(duration_nanos(self.monitor.period));
        let me: Weak<dyn Fire> = self.me.clone();
        self.env.timers.schedule(next, LOOK, me);
    }

    #[cfg(feature = "metrics")]
    fn schedule_metrics(&self, from: u64) {
        let next = from.saturating_add(duration_nanos(self.metrics_interval));
        let me: Weak<dyn Fire> = self.me.clone();
        self.env.timers.schedule(next, METRICS, me);
    }

    #[cfg(feature = "metrics")]
    fn publish_metrics(&self) {
        // `peek`, not `snapshot`: a tick must not apply due heal steps (a
        // ManualClock runs it late, and the steps' own timers come in order).
        let fuses: Vec<FuseSnapshot> = self.fuse_cores().iter().filter_map(|c| c.peek()).collect();
        self.exporter
            .publish(&fuses, &self.valve_cores(), &self.monitor.alarms());
    }

    /// Every fuse, taken out of the map so no guard is held while they are read.
    fn fuse_cores(&self) -> Vec<Arc<FuseCore>> {
        self.map.pin().values().cloned().collect()
    }

    /// Every valve, sorted by name, taken out of the lock likewise.
    fn valve_cores(&self) -> Vec<Arc<ValveCore>> {
        self.valves
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn get(&self, name: &str) -> Result<Arc<FuseCore>, NotFound> {
        self.map
            .pin()
            .get(name)
            .cloned()
            .ok_or_else(|| NotFound::new(name))
    }
}

/// Builds a [`Fusebox`] with a chosen clock and alarm settings.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Fusebox, ManualClock};
///
/// let clock = ManualClock::new();
/// let fb = Fusebox::builder()
///     .clock(clock.clone())
///     .alarm_period(Duration::from_secs(10))
///     .alarm_clear_looks(3)
///     .build();
/// assert_eq!(fb.now(), Duration::ZERO);
/// ```
#[derive(Debug)]
pub struct FuseboxBuilder {
    timebase: Timebase,
    alarm_period: Duration,
    alarm_clear_looks: u32,
    #[cfg(feature = "metrics")]
    metrics_interval: Duration,
}

impl Default for FuseboxBuilder {
    fn default() -> Self {
        FuseboxBuilder {
            timebase: Timebase::Monotonic(MonotonicClock::new()),
            alarm_period: DEFAULT_ALARM_PERIOD,
            alarm_clear_looks: DEFAULT_ALARM_CLEAR_LOOKS,
            #[cfg(feature = "metrics")]
            metrics_interval: crate::metrics_export::DEFAULT_METRICS_INTERVAL,
        }
    }
}

impl FuseboxBuilder {
    /// The clock every fuse of this Fusebox reads (default: [`MonotonicClock`]).
    pub fn clock<C: Clock>(mut self, clock: C) -> Self {
        self.timebase = Timebase::from_clock(clock);
        self
    }

    /// How often the alarm monitor looks at every fuse (default 60 s; a zero
    /// period is taken as 1 ms).
    pub fn alarm_period(mut self, period: Duration) -> Self {
        self.alarm_period = period.max(Duration::from_millis(1));
        self
    }

    /// How many consecutive looks must find a fuse not blown before its alarm
    /// clears (default 3, at least 1).
    pub fn alarm_clear_looks(mut self, looks: u32) -> Self {
        self.alarm_clear_looks = looks.max(1);
        self
    }

    /// How often fuse and valve statistics are published to the `metrics`
    /// facade (default [`DEFAULT_METRICS_INTERVAL`](crate::DEFAULT_METRICS_INTERVAL),
    /// at least 1 ms).
    #[cfg(feature = "metrics")]
    pub fn metrics_interval(mut self, every: Duration) -> Self {
        self.metrics_interval = every.max(Duration::from_millis(1));
        self
    }

    /// The Fusebox.
    pub fn build(self) -> Fusebox {
        let timers = Timers::new(self.timebase.clone());
        let env = Arc::new(Env {
            timebase: self.timebase,
            timers,
            bus: Bus::default(),
        });
        let shared = Arc::new_cyclic(|me| Shared {
            #[cfg(feature = "metrics")]
            exporter: Default::default(),
            #[cfg(feature = "metrics")]
            metrics_interval: self.metrics_interval,
            map: Map::default(),
            valves: Default::default(),
            writes: Mutex::new(()),
            env,
            monitor: Monitor::new(self.alarm_period, self.alarm_clear_looks),
            me: me.clone(),
        });
        shared.schedule_look(shared.env.timebase.now());
        #[cfg(feature = "metrics")]
        shared.schedule_metrics(shared.env.timebase.now());
        Fusebox { shared }
    }
}

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
            .field("fuses", &self.shared.map.len())
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
        let _w = self.shared.writes.lock().unwrap_or_else(|e| e.into_inner());
        let map = self.shared.map.pin();
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
        check_name(name)?;
        config.validate()?;
        let guard = match &config.guard {
            Some(fuse) => Some(
                self.shared
                    .get(fuse)
                    .map_err(|_| ConfigError::new("guard", fuse, "names no installed fuse"))?,
            ),
            None => None,
        };
        let _w = self.shared.writes.lock().unwrap_or_else(|e| e.into_inner());
        let mut valves = self
            .shared
            .valves
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let now = self.shared.env.timebase.now();
        match valves.get(name) {
            Some(core) => {
                core.configure(config, guard, now);
                core.emit(ValveChange::Reconfigured);
            }
            None => {
                let name: Arc<str> = name.into();
                let core = ValveCore::new(name.clone(), config, guard, self.shared.env.clone());
                valves.insert(name, core.clone());
                core.emit(ValveChange::Installed);
            }
        }
        Ok(())
    }

    /// A handle to the valve.
    pub fn valve(&self, name: &str) -> Option<Valve> {
        self.valve_core(name).map(Valve::from_core)
    }

    fn valve_core(&self, name: &str) -> Option<Arc<ValveCore>> {
        self.shared
            .valves
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Removes a valve: its waiters and later tasks are refused with
    /// `Removed`; running tasks finish and release normally.
    pub fn remove_valve(&self, name: &str) -> Result<(), NotFound> {
        let _w = self.shared.writes.lock().unwrap_or_else(|e| e.into_inner());
        let core = self
            .shared
            .valves
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .ok_or_else(|| NotFound::new(name))?;
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

    /// A cheap handle to the fuse, for hot paths.
    pub fn fuse(&self, name: &str) -> Option<Fuse> {
        self.shared.get(name).ok().map(Fuse::from_core)
    }

    /// Ok or blown; no effect but counters (and fault injection's draw).
    #[inline]
    pub fn ask(&self, name: &str) -> Result<Ask, NotFound> {
        let map = self.shared.map.pin();
        match map.get(name).map(|core| core.ask()) {
            Some(Answer::Ok) => Ok(Ask::Ok),
            Some(Answer::Blown) => Ok(Ask::Blown),
            Some(Answer::Removed) | None => Err(NotFound::new(name)),
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
        let _w = self.shared.writes.lock().unwrap_or_else(|e| e.into_inner());
        let core = self.shared.get(name)?;
        if core.remove() == Answer::Removed {
            return Err(NotFound::new(name));
        }
        self.shared.map.pin().remove(name);
        let now = self.shared.env.timebase.now();
        self.shared.monitor.forget(name, now, &self.shared.env.bus);
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

    /// The fuse's state, melts in window, config, counters and timing.
    pub fn state(&self, name: &str) -> Result<FuseSnapshot, NotFound> {
        self.shared
            .get(name)?
            .snapshot()
            .ok_or_else(|| NotFound::new(name))
    }

    /// The names of every fuse, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.shared.map.pin().keys().cloned().collect();
        names.sort();
        names
    }

    /// Every fuse (sorted by name) and every active alarm.
    pub fn snapshot(&self) -> Snapshot {
        let mut fuses: Vec<FuseSnapshot> = self
            .shared
            .fuse_cores()
            .iter()
            .filter_map(|c| c.snapshot())
            .collect();
        fuses.sort_by(|a, b| a.name.cmp(&b.name));
        Snapshot {
            at: self.now(),
            fuses,
            valves: self.valves(),
            alarms: self.alarms(),
        }
    }

    /// Publishes every fuse's and valve's statistics to the `metrics`
    /// facade now (the Fusebox also does so every
    /// [`metrics_interval`](FuseboxBuilder::metrics_interval)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(1, Duration::from_secs(10))).unwrap();
    /// fb.publish_metrics();   // to whatever recorder the application installed, if any
    /// ```
    #[cfg(feature = "metrics")]
    pub fn publish_metrics(&self) {
        self.shared.publish_metrics();
    }

    /// The active alarms, sorted by name.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.shared.monitor.alarms()
    }

    /// A new subscriber to every event, buffering up to
    /// [`DEFAULT_EVENT_CAPACITY`] events.
    pub fn subscribe(&self) -> Subscription {
        self.subscribe_with_capacity(DEFAULT_EVENT_CAPACITY)
    }

    /// A new subscriber buffering up to `capacity` events (at least 1).
    pub fn subscribe_with_capacity(&self, capacity: usize) -> Subscription {
        self.shared.env.bus.subscribe(capacity)
    }

    /// Calls `f` with every event (or lag notice) on a thread of its own. A
    /// panic in `f` drops this subscriber and touches nothing else.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// let fb = Fusebox::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let _sub = fb.subscribe_fn(move |e| { let _ = tx.send(e); }).unwrap();
    /// fb.install("db", FuseConfig::standard(0, Duration::from_secs(1))).unwrap();
    /// let first = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    /// assert_eq!(&*first.name, "db");
    /// ```
    pub fn subscribe_fn<F>(&self, f: F) -> std::io::Result<CallbackSubscriber>
    where
        F: FnMut(Result<Event, RecvError>) + Send + 'static,
    {
        CallbackSubscriber::spawn(self.subscribe(), f)
    }

    fn by_name(&self, name: &str, op: impl FnOnce(&FuseCore) -> Answer) -> Result<(), NotFound> {
        match op(&*self.shared.get(name)?) {
            Answer::Removed => Err(NotFound::new(name)),
            Answer::Ok | Answer::Blown => Ok(()),
        }
    }
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::new("name", name, "must not be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ConfigError::new(
            "name",
            format_args!("{}…", &name[..name.floor_char_boundary_compat(32)]),
            "must be at most 256 bytes",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "name",
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
