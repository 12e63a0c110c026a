//! The valve: a named load regulator, safetyvalve's heir.
//!
//! A valve decides when a task may start: at most `concurrency` run at once,
//! at most `rate` start per `period` (a token bucket), and the rest wait in
//! a bounded queue, served by a discipline (FIFO, LIFO, CoDel, adaptive
//! LIFO), for at most `max_wait`. Whatever happens, each task ends either
//! run or refused with a [`Refused`] reason, and no slot is ever lost:
//!
//! * a [`Permit`] frees its slot when dropped, exactly once, also when the
//!   task panics (safetyvalve kept the slot of a task that raised);
//! * a waiter whose future is dropped leaves the queue, and a slot granted
//!   to it in the meantime is handed on (safetyvalve granted slots to dead
//!   waiters, never to be freed);
//! * tokens refill from elapsed time, with no timer per valve, so a manual
//!   refill cannot start extra timers;
//! * two waiters that arrive in the same nanosecond are two waiters.
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{Fusebox, Refused, ValveConfig};
//!
//! let fb = Fusebox::new();
//! fb.install_valve("api", ValveConfig::new().concurrency(2).queue(0))?;
//! let api = fb.valve("api").unwrap();
//! let a = api.try_acquire()?;
//! let b = api.try_acquire()?;
//! assert_eq!(api.try_acquire().unwrap_err(), Refused::Busy);
//! drop(a);                                  // released on drop
//! let out = api.run_blocking(|| 6 * 7)?;    // acquire, run, release
//! assert_eq!(out, 42);
//! # drop(b);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acquire;
mod aimd;
mod bucket;
pub(crate) mod codel;
mod config;
pub(crate) mod engine;
mod gradient;
mod limit;
mod permit;
mod queue;
mod refused;
mod retire;
mod sample;
mod slots;
mod snapshot;
mod waiter;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

pub use crate::stats::histogram::HistogramSnapshot;
pub use acquire::Acquire;
pub use aimd::{Aimd, AIMD_INITIAL, AIMD_MAX, AIMD_MIN};
pub use config::{Discipline, Rate, ValveConfig, DEFAULT_CONCURRENCY, DEFAULT_QUEUE};
use engine::{Entry, ValveCore};
pub use gradient::{Gradient, GRADIENT_INITIAL, GRADIENT_MAX, GRADIENT_MIN};
pub use limit::{Adaptive, LimitSnapshot};
pub use permit::Permit;
pub use refused::Refused;
pub use snapshot::{Refusals, ValveSnapshot};

/// A cheap handle to one valve of a [`Fusebox`](crate::Fusebox).
#[derive(Clone)]
pub struct Valve {
    core: Arc<ValveCore>,
}

impl fmt::Debug for Valve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Valve")
            .field("name", &self.core.name)
            .field("in_flight", &self.core.in_flight())
            .field("queued", &self.core.queued())
            .finish()
    }
}

impl Valve {
    pub(crate) fn from_core(core: Arc<ValveCore>) -> Self {
        Valve { core }
    }

    /// The valve's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// A permit if a slot (and a token) is free now; never waits.
    ///
    /// ```
    /// # use fusebox::{Fusebox, Refused, ValveConfig};
    /// let fb = Fusebox::new();
    /// fb.install_valve("v", ValveConfig::new().concurrency(1)).unwrap();
    /// let v = fb.valve("v").unwrap();
    /// let p = v.try_acquire().unwrap();
    /// assert_eq!(v.try_acquire().unwrap_err(), Refused::Busy);
    /// drop(p);
    /// assert!(v.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<Permit, Refused> {
        match self.core.enter(false) {
            Entry::Admitted(t) => Ok(Permit::new(&self.core, t)),
            Entry::Refused(r) => Err(r),
            Entry::Queued(w) => {
                // Not reachable with `wait = false`; never strand a waiter.
                self.core.cancel(&w);
                Err(Refused::Busy)
            }
        }
    }

    /// Admits a task that ends as it starts, holding nothing: a rate
    /// limiter's check, as governor's `check`. It passes if a slot is free
    /// and a token is there now, takes the token and counts the task as
    /// admitted; it never waits and never teaches an adaptive limit
    /// anything (a task of no duration is no latency sample).
    ///
    /// On a rate-limited valve with nobody waiting this is one
    /// compare-and-swap on the bucket's word and no lock, which makes it the
    /// cheapest way to ask "may one more go now?" of a rate. Use
    /// [`try_acquire`](Self::try_acquire) for a task that takes time: its
    /// permit holds the slot until the task ends.
    ///
    /// ```
    /// # use fusebox::{Fusebox, Refused, ValveConfig};
    /// # use std::time::Duration;
    /// let fb = Fusebox::new();
    /// fb.install_valve("sms", ValveConfig::new().rate(2, Duration::from_secs(1)))?;
    /// let sms = fb.valve("sms").unwrap();
    /// assert!(sms.try_pass().is_ok());
    /// assert!(sms.try_pass().is_ok());
    /// assert_eq!(sms.try_pass(), Err(Refused::Busy), "two a second");
    /// assert_eq!(sms.snapshot().admitted, 2);
    /// assert_eq!(sms.snapshot().in_flight, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_pass(&self) -> Result<(), Refused> {
        self.core.pass()
    }

    /// Waits for a permit, on any async runtime. Dropping the future leaves
    /// the queue (and hands on a slot granted meanwhile).
    ///
    /// The valve is entered when the [`Acquire`] future is first polled: it
    /// resolves at once with a permit if a slot (and a token) is free, or
    /// with a refusal ([`Refused::QueueFull`], [`Refused::Blown`],
    /// [`Refused::Removed`]), and otherwise waits in the queue until it is
    /// granted a slot or refused ([`Refused::Overload`],
    /// [`Refused::Timeout`], [`Refused::Blown`], [`Refused::Removed`]).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it resolves leaks nothing:
    ///
    /// * before its first poll, it did nothing (it never entered the valve);
    /// * while waiting, its waiter leaves the queue at once, counted neither
    ///   admitted nor refused;
    /// * if a slot was granted to it but not yet taken (granted between two
    ///   polls), the slot is given back and handed on to the next waiter, and
    ///   the grant is uncounted from `admitted`. A rate token the grant spent
    ///   stays spent.
    ///
    /// Once it has resolved, the [`Permit`] is the caller's: its slot is
    /// freed when the permit is dropped.
    ///
    /// ```
    /// # use fusebox::{Fusebox, ValveConfig};
    /// use std::future::Future;
    ///
    /// let fb = Fusebox::new();
    /// fb.install_valve("v", ValveConfig::new().concurrency(1).queue(8)).unwrap();
    /// let v = fb.valve("v").unwrap();
    /// let held = v.try_acquire().unwrap();
    /// let mut waiting = Box::pin(v.acquire());
    /// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// assert!(waiting.as_mut().poll(&mut cx).is_pending());   // queued
    /// assert_eq!(v.queued(), 1);
    /// drop(held);                          // the slot is granted to the waiter...
    /// drop(waiting);                       // ...which is gone: the slot comes back
    /// assert_eq!((v.queued(), v.in_flight()), (0, 0));
    /// ```
    pub fn acquire(&self) -> Acquire {
        Acquire::new(self.core.clone())
    }

    /// Waits for a permit, blocking the thread.
    ///
    /// ```
    /// # use fusebox::{Fusebox, ValveConfig};
    /// let fb = Fusebox::new();
    /// fb.install_valve("v", ValveConfig::new().concurrency(1).queue(8)).unwrap();
    /// let v = fb.valve("v").unwrap();
    /// let p = v.acquire_blocking().unwrap();
    /// let v2 = v.clone();
    /// let t = std::thread::spawn(move || v2.acquire_blocking().map(drop));
    /// drop(p);                      // the waiting thread gets the slot
    /// assert!(t.join().unwrap().is_ok());
    /// ```
    pub fn acquire_blocking(&self) -> Result<Permit, Refused> {
        match self.core.enter(true) {
            Entry::Admitted(t) => Ok(Permit::new(&self.core, t)),
            Entry::Refused(r) => Err(r),
            Entry::Queued(w) => self.core.wait(&w).map(|t| Permit::new(&self.core, t)),
        }
    }

    /// Acquires, awaits `task`, releases (also if `task` panics or the
    /// future is dropped).
    ///
    /// # Cancel safety
    ///
    /// The returned future may be dropped at any point; no slot is lost:
    ///
    /// * before its first poll, it did nothing, and `task` is dropped
    ///   unpolled;
    /// * while waiting for a slot, as [`acquire`](Self::acquire): the waiter
    ///   leaves the queue, and a slot granted meanwhile is handed on; `task`
    ///   is dropped unpolled;
    /// * while `task` runs, `task` is dropped and its slot is released at
    ///   once (the task counts as admitted: it started). An adaptive limit
    ///   learns nothing from it: a task cut short is no latency sample.
    ///
    /// ```
    /// # use fusebox::{Fusebox, ValveConfig};
    /// # let fb = Fusebox::new();
    /// fb.install_valve("api", ValveConfig::new().concurrency(8).queue(64)).unwrap();
    /// let api = fb.valve("api").unwrap();
    /// # let fut = async {
    /// let out = api.run(async { 42 }).await;
    /// assert_eq!(out, Ok(42));
    /// # };
    /// ```
    pub async fn run<T>(&self, task: impl Future<Output = T>) -> Result<T, Refused> {
        let permit = self.acquire().await?;
        Ok(permit.run(task).await)
    }

    /// Acquires (blocking), calls `f`, releases (also if `f` panics).
    pub fn run_blocking<T>(&self, f: impl FnOnce() -> T) -> Result<T, Refused> {
        let _permit = self.acquire_blocking()?;
        Ok(f())
    }

    /// Tasks running now.
    pub fn in_flight(&self) -> usize {
        self.core.in_flight()
    }

    /// The concurrency limit in force now: `concurrency`, or what an
    /// adaptive limit has learned.
    pub fn limit(&self) -> usize {
        self.core.limit()
    }

    /// Tasks waiting now.
    pub fn queued(&self) -> usize {
        self.core.queued()
    }

    /// Everything about the valve now.
    pub fn snapshot(&self) -> ValveSnapshot {
        ValveSnapshot::of(&self.core)
    }
}
