//! Building a Fusebox: its clock, its alarm settings, its metrics tick.

use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;
use super::Fusebox;
use crate::clock::{Clock, MonotonicClock, Timebase};
use crate::event::alarm::Monitor;
use crate::event::Bus;
use crate::fuse::Env;
use crate::rng::Draws;
use crate::sync::Mutex;
use crate::timer::Timers;

/// Events a subscriber buffers by default before it starts losing the oldest.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// How often the alarm monitor looks at every fuse by default (as fuse).
pub const DEFAULT_ALARM_PERIOD: Duration = Duration::from_secs(60);

/// Clean looks needed to clear an alarm by default.
pub const DEFAULT_ALARM_CLEAR_LOOKS: u32 = 3;

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
    seed: Option<u64>,
}

impl Default for FuseboxBuilder {
    fn default() -> Self {
        FuseboxBuilder {
            timebase: Timebase::Monotonic(MonotonicClock::new()),
            alarm_period: DEFAULT_ALARM_PERIOD,
            alarm_clear_looks: DEFAULT_ALARM_CLEAR_LOOKS,
            #[cfg(feature = "metrics")]
            metrics_interval: crate::metrics_export::DEFAULT_METRICS_INTERVAL,
            seed: None,
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
    /// facade (default [`DEFAULT_METRICS_INTERVAL`](crate::registry::DEFAULT_METRICS_INTERVAL),
    /// at least 1 ms).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_interval(mut self, every: Duration) -> Self {
        self.metrics_interval = every.max(Duration::from_millis(1));
        self
    }

    /// Draws the Fusebox's random numbers (fault injection, gradual
    /// admission, heal jitter) from one stream seeded with `seed` instead of
    /// each thread's own generator: with a [`ManualClock`](crate::ManualClock)
    /// and one thread, the same operations then give the same answers, run
    /// after run (what a simulation needs). Without it, every process draws
    /// differently, so a fleet of services does not heal in step.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{FuseConfig, Fusebox, ManualClock};
    ///
    /// let answers = |seed| {
    ///     let fb = Fusebox::builder().clock(ManualClock::new()).seed(seed).build();
    ///     fb.install("chaos", FuseConfig::fault_injection(0.5, 1, Duration::from_secs(1)))
    ///         .unwrap();
    ///     (0..64).map(|_| fb.ask("chaos").unwrap().is_ok()).collect::<Vec<_>>()
    /// };
    /// assert_eq!(answers(7), answers(7));
    /// assert_ne!(answers(7), answers(8));
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The Fusebox.
    pub fn build(self) -> Fusebox {
        let timers = Timers::new(self.timebase.clone());
        let bus = Arc::new(Bus::default());
        let env = Arc::new(Env {
            timebase: self.timebase,
            timers,
            notify: bus.clone(),
            draws: self.seed.map(Draws::seeded).unwrap_or_default(),
        });
        let shared = Arc::new_cyclic(|me| Shared {
            #[cfg(feature = "metrics")]
            exporter: Default::default(),
            #[cfg(feature = "metrics")]
            metrics_interval: self.metrics_interval,
            fuses: Default::default(),
            valves: Default::default(),
            pipelines: Default::default(),
            keyed: Default::default(),
            writes: Mutex::new(()),
            env,
            bus,
            monitor: Monitor::new(self.alarm_period, self.alarm_clear_looks),
            me: me.clone(),
        });
        shared.schedule_look(shared.env.timebase.now());
        #[cfg(feature = "metrics")]
        shared.schedule_metrics(shared.env.timebase.now());
        Fusebox { shared }
    }
}
