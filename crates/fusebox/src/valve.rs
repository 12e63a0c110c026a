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

pub(crate) mod bucket;
pub(crate) mod codel;
pub(crate) mod config;
pub(crate) mod engine;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub use config::{Discipline, Rate, ValveConfig, DEFAULT_CONCURRENCY, DEFAULT_QUEUE};
use engine::{Entry, Looked, ValveCore, Waiter, REASONS};

use crate::stats::histogram::HistogramSnapshot;

/// Why a valve refused a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Refused {
    /// The queue was full.
    QueueFull,
    /// CoDel shed the task: waiting times had stayed above target too long.
    Overload,
    /// The task waited longer than `max_wait`.
    Timeout,
    /// The fuse guarding the valve is blown.
    Blown,
    /// `try_acquire` found no free slot (or no token) and does not wait.
    Busy,
    /// The valve was removed.
    Removed,
}

impl Refused {
    /// The reason as a metric label: `queue_full`, `overload`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::QueueFull => "queue_full",
            Refused::Overload => "overload",
            Refused::Timeout => "timeout",
            Refused::Blown => "blown",
            Refused::Busy => "busy",
            Refused::Removed => "removed",
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by the valve: {}", self.as_str())
    }
}

impl std::error::Error for Refused {}

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

/// The right to run one task; the slot is freed when it is dropped.
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct Permit {
    core: Arc<ValveCore>,
    started: Option<u64>,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("valve", &self.core.name)
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.core.release(self.started);
    }
}

impl Permit {
    fn new(core: &Arc<ValveCore>, started: Option<u64>) -> Self {
        Permit {
            started,
            core: core.clone(),
        }
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

    /// Waits for a permit, on any async runtime. Dropping the future leaves
    /// the queue (and hands on a slot granted meanwhile).
    pub fn acquire(&self) -> Acquire {
        Acquire {
            core: self.core.clone(),
            waiter: None,
            done: false,
        }
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
        let _permit = self.acquire().await?;
        Ok(task.await)
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

    /// Tasks waiting now.
    pub fn queued(&self) -> usize {
        self.core.queued()
    }

    /// Everything about the valve now.
    pub fn snapshot(&self) -> ValveSnapshot {
        ValveSnapshot::of(&self.core)
    }
}

/// The future of [`Valve::acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    core: Arc<ValveCore>,
    waiter: Option<Arc<Waiter>>,
    done: bool,
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("valve", &self.core.name)
            .field("waiting", &self.waiter.is_some())
            .finish()
    }
}

impl Future for Acquire {
    type Output = Result<Permit, Refused>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(Err(Refused::Removed));
        }
        let waiter = match &this.waiter {
            Some(w) => w.clone(),
            None => match this.core.enter(true) {
                Entry::Admitted(t) => {
                    this.done = true;
                    return Poll::Ready(Ok(Permit::new(&this.core, t)));
                }
                Entry::Refused(r) => {
                    this.done = true;
                    return Poll::Ready(Err(r));
                }
                Entry::Queued(w) => {
                    this.waiter = Some(w.clone());
                    w
                }
            },
        };
        match this.core.look(&waiter, Some(cx.waker())) {
            Looked::Waiting => Poll::Pending,
            Looked::Admitted(t) => {
                this.done = true;
                this.waiter = None;
                Poll::Ready(Ok(Permit::new(&this.core, t)))
            }
            Looked::Refused(r) => {
                this.done = true;
                this.waiter = None;
                Poll::Ready(Err(r))
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Some(w) = self.waiter.take() {
            self.core.cancel(&w);
        }
    }
}

/// Refusals of a valve, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Refusals {
    /// The queue was full.
    pub queue_full: u64,
    /// Shed by CoDel.
    pub overload: u64,
    /// Waited longer than `max_wait`.
    pub timeout: u64,
    /// The guarding fuse was blown.
    pub blown: u64,
    /// `try_acquire` found nothing free.
    pub busy: u64,
    /// The valve was removed.
    pub removed: u64,
}

impl Refusals {
    /// The count for one reason.
    pub fn get(&self, r: Refused) -> u64 {
        match r {
            Refused::QueueFull => self.queue_full,
            Refused::Overload => self.overload,
            Refused::Timeout => self.timeout,
            Refused::Blown => self.blown,
            Refused::Busy => self.busy,
            Refused::Removed => self.removed,
        }
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        REASONS.iter().map(|&r| self.get(r)).sum()
    }
}

/// A valve as it is now.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ValveSnapshot {
    /// The valve's name.
    pub name: String,
    /// Its config.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub config: ValveConfig,
    /// The concurrency limit.
    pub concurrency: usize,
    /// The queue size.
    pub queue: usize,
    /// Tasks running.
    pub in_flight: usize,
    /// Tasks waiting.
    pub queued: usize,
    /// Tokens in the bucket, if rate-limited.
    pub tokens: Option<u64>,
    /// Tasks admitted since install.
    pub admitted: u64,
    /// Tasks refused since install, by reason.
    pub refused: Refusals,
    /// Median waiting time of admitted tasks (interpolated within its
    /// histogram bucket; never above the longest wait).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde::option"))]
    pub sojourn_p50: Option<Duration>,
    /// 99th percentile waiting time of admitted tasks (likewise).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde::option"))]
    pub sojourn_p99: Option<Duration>,
    /// Median service time (interpolated likewise; sampled, one task in 64
    /// per thread, so that most tasks read no clock).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde::option"))]
    pub service_p50: Option<Duration>,
    /// 99th percentile service time (interpolated and sampled likewise).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde::option"))]
    pub service_p99: Option<Duration>,
    /// Waiting times of admitted tasks, a task admitted at once counted as
    /// a wait of zero: the histogram `fusebox_valve_sojourn_seconds`.
    pub sojourn: HistogramSnapshot,
    /// Service times of the sampled tasks: the histogram
    /// `fusebox_valve_service_seconds`.
    pub service: HistogramSnapshot,
}

impl ValveSnapshot {
    pub(crate) fn of(core: &ValveCore) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let (config, tokens) = core.view();
        let st = &core.stats;
        // Ordering: statistics.
        let count = |r: Refused| st.refused[engine::reason_index(r)].load(Relaxed);
        let admitted = st.admitted.load(Relaxed);
        // Tasks that never waited are not in the sojourn histogram.
        let immediate = admitted.saturating_sub(st.sojourn.count());
        let sojourn = st.sojourn.snapshot_with_zeros(immediate);
        let service = st.service.snapshot();
        ValveSnapshot {
            name: core.name.to_string(),
            concurrency: config.concurrency,
            queue: config.queue,
            in_flight: core.in_flight(),
            queued: core.queued(),
            tokens,
            admitted,
            refused: Refusals {
                queue_full: count(Refused::QueueFull),
                overload: count(Refused::Overload),
                timeout: count(Refused::Timeout),
                blown: count(Refused::Blown),
                busy: count(Refused::Busy),
                removed: count(Refused::Removed),
            },
            sojourn_p50: sojourn.p50(),
            sojourn_p99: sojourn.p99(),
            service_p50: service.p50(),
            service_p99: service.p99(),
            sojourn,
            service,
            config,
        }
    }
}
