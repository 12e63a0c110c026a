//! Chaos beyond refusals: injected latency and injected errors for the
//! calls a fuse admits, in the spirit of Polly's Simmy.
//!
//! Fault injection (`Strategy::FaultInjection`, Erlang fuse's
//! `fault_injection`) tests what callers do when the breaker says no. It
//! does not test what the breaker does when the dependency misbehaves: a
//! slow dependency (do the timeouts, the slow-call rate, the valves' CoDel
//! react?) or a failing one (does the fuse blow, heal, probe as it
//! should?). [`Chaos`] adds those two faults to the calls a fuse has
//! *admitted*, so they go through the same bookkeeping as real outcomes:
//!
//! * **latency**: with probability `p`, the call waits `d` before it runs.
//!   The wait is inside the call's timing, so a slow-call strategy sees it;
//! * **error**: with probability `p`, the call is not made at all, answers
//!   [`RunError::Injected`](crate::RunError::Injected), and counts as a
//!   failure for the fuse: chaos can blow a fuse, which is the point.
//!
//! Both are off unless set, change at runtime ([`Fuse::set_chaos`](crate::Fuse::set_chaos),
//! [`Fusebox::set_chaos`](crate::Fusebox::set_chaos)), and are counted apart
//! from real outcomes ([`FuseCounters::chaos_latency`](super::FuseCounters::chaos_latency),
//! [`FuseCounters::chaos_errors`](super::FuseCounters::chaos_errors), the
//! `fusebox_chaos_injected_total` metric), so an injected failure can be
//! told from a real one: real failures = `melts − chaos_errors`.
//!
//! The draws come from the Fusebox's generator, latency first, then error
//! (each only when its probability is above 0), so a Fusebox built with a
//! [`seed`](crate::registry::FuseboxBuilder::seed) injects exactly the same faults
//! on every run.
//!
//! # Where the latency is waited
//!
//! The core has no runtime. [`Fuse::run`](crate::Fuse::run) waits on the
//! thread: on a [`ManualClock`](crate::ManualClock) it advances the clock by
//! `d` (running what fell due), as the retry's `Sleep` does; otherwise it
//! sleeps the thread. [`Fuse::call`](crate::Fuse::call) advances a manual
//! clock too; on another clock it awaits `tokio::time::sleep` with the
//! `tokio` feature (the future must then be polled inside a tokio runtime
//! while latency is configured), and without it injects no latency (and
//! counts none): an async call never blocks its thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::word::injection_threshold;
use crate::clock::Timebase;
use crate::error::ConfigError;
use crate::rng::Draws;
use crate::sync::{lock, Mutex};

/// What chaos a fuse injects into the calls it admits; [`Chaos::new`] is
/// none.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Clock, FuseConfig, Fusebox, ManualClock, RunError};
/// use fusebox::fuse::Chaos;
///
/// let clock = ManualClock::new();
/// let fb = Fusebox::builder().clock(clock.clone()).seed(7).build();
/// fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))?;
/// let db = fb.fuse("db").unwrap();
/// db.set_chaos(Chaos::new().latency(1.0, Duration::from_millis(50)).error(1.0))?;
///
/// assert_eq!(db.run(|| Ok::<_, ()>(1)), Err(RunError::Injected));
/// assert_eq!(clock.now(), Duration::from_millis(50));   // waited 50 ms first
/// assert_eq!(db.run(|| Ok::<_, ()>(1)), Err(RunError::Blown)); // chaos blew it
/// let c = db.snapshot().unwrap().counters;
/// assert_eq!((c.melts, c.chaos_errors, c.chaos_latency), (1, 1, 1));
///
/// db.set_chaos(Chaos::new())?;                                  // off again
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Chaos {
    /// The probability that an admitted call waits [`delay`](Self::delay)
    /// first (0: never).
    pub latency_rate: f64,
    /// How long an injected latency waits.
    pub delay: Duration,
    /// The probability that an admitted call is replaced by an injected
    /// error (0: never).
    pub error_rate: f64,
}

impl Chaos {
    /// No chaos: the default of every fuse.
    pub const fn new() -> Self {
        Chaos {
            latency_rate: 0.0,
            delay: Duration::ZERO,
            error_rate: 0.0,
        }
    }

    /// With probability `p` (in `[0, 1]`), an admitted call waits `d`
    /// before it runs.
    pub const fn latency(mut self, p: f64, d: Duration) -> Self {
        self.latency_rate = p;
        self.delay = d;
        self
    }

    /// With probability `p` (in `[0, 1]`), an admitted call is not made and
    /// answers [`RunError::Injected`](crate::RunError::Injected), a failure.
    pub const fn error(mut self, p: f64) -> Self {
        self.error_rate = p;
        self
    }

    /// True if it injects nothing.
    pub fn is_off(&self) -> bool {
        self.error_rate == 0.0 && (self.latency_rate == 0.0 || self.delay.is_zero())
    }

    /// Checks both probabilities are in `[0, 1]`.
    ///
    /// ```
    /// # use fusebox::fuse::Chaos;
    /// assert!(Chaos::new().error(1.5).validate().is_err());
    /// assert!(Chaos::new().error(0.5).validate().is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// `chaos.latency_rate` or `chaos.error_rate` outside `[0, 1]` (or NaN).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, p) in [
            ("chaos.latency_rate", self.latency_rate),
            ("chaos.error_rate", self.error_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(ConfigError::new(field, p, "must be in [0, 1]"));
            }
        }
        Ok(())
    }
}

/// What was drawn for one admitted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Injection {
    /// Wait this long before the call.
    pub(crate) delay: Option<Duration>,
    /// Do not make the call: answer an injected error.
    pub(crate) error: bool,
}

/// A fuse's chaos: its config and its counts.
#[derive(Debug)]
pub(crate) struct ChaosCell {
    /// False while the config injects nothing: the only thing an admitted
    /// call reads when chaos is off.
    on: AtomicBool,
    config: Mutex<Chaos>,
    latency: AtomicU64,
    errors: AtomicU64,
}

impl ChaosCell {
    pub(crate) fn new() -> Self {
        ChaosCell {
            on: AtomicBool::new(false),
            config: Mutex::new(Chaos::new()),
            latency: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Replaces the config; the caller validated it.
    pub(crate) fn set(&self, chaos: Chaos) {
        let mut c = lock(&self.config);
        *c = chaos;
        // Ordering: a hint only; the config itself is read under the lock,
        // so a call that sees the old flag merely runs as it would have an
        // instant earlier.
        self.on.store(!chaos.is_off(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Chaos {
        *lock(&self.config)
    }

    /// The chaos for one admitted call; `None` (one relaxed load) when off.
    #[inline]
    pub(crate) fn draw(&self, draws: &Draws) -> Option<Injection> {
        // Ordering: as in `set`.
        if !self.on.load(Ordering::Relaxed) {
            return None;
        }
        self.draw_on(draws)
    }

    #[cold]
    fn draw_on(&self, draws: &Draws) -> Option<Injection> {
        let c = self.get();
        let hit = |p: f64| p > 0.0 && draws.draw32() < injection_threshold(p);
        let delay = (!c.delay.is_zero() && hit(c.latency_rate)).then_some(c.delay);
        let error = hit(c.error_rate);
        Some(Injection { delay, error })
    }

    /// Applies the chaos for one call made on the calling thread: waits an
    /// injected latency ([`pause`]) and counts it; true, counted, if an
    /// error is injected in place of the call (the caller reports it).
    pub(crate) fn apply_blocking(&self, draws: &Draws, timebase: &Timebase) -> bool {
        let Some(chaos) = self.draw(draws) else {
            return false;
        };
        if let Some(d) = chaos.delay {
            pause(timebase, d);
            self.waited();
        }
        if chaos.error {
            self.failed();
        }
        chaos.error
    }

    /// Counts a latency that was waited.
    pub(crate) fn waited(&self) {
        // Ordering: statistics.
        self.latency.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an injected error.
    pub(crate) fn failed(&self) {
        // Ordering: statistics.
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Latencies waited and errors injected so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        // Ordering: statistics, read independently.
        (
            self.latency.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// Waits `d` on the thread: advances a manual clock, sleeps otherwise.
pub(crate) fn pause(timebase: &Timebase, d: Duration) {
    match timebase.manual() {
        Some(clock) => clock.advance(d),
        None => std::thread::sleep(d),
    }
}

/// Waits `d` without blocking the thread (see the module docs); false if
/// no wait was possible.
pub(crate) async fn pause_async(timebase: &Timebase, d: Duration) -> bool {
    if let Some(clock) = timebase.manual() {
        clock.advance(d);
        return true;
    }
    #[cfg(feature = "tokio")]
    {
        tokio::time::sleep(d).await;
        true
    }
    #[cfg(not(feature = "tokio"))]
    false
}
