//! Pipelines: one way to call a dependency through every policy at once,
//! in one documented order.
//!
//! Each policy of this crate answers one question: the [fuse](crate::fuse)
//! "is the dependency down?", the [valve](crate::valve) "can we afford
//! another call now?", the [retry](crate::retry) "is this failure worth
//! another try?", a hedge "is this call just slow?", a timeout "how long do
//! we wait?", a fallback "what do we answer instead?". Stacked by hand they
//! are easy to stack wrong: a retry outside a valve that retries its
//! refusals, a timeout around the queue that fails calls for waiting in
//! line, a fallback inside the retry that hides every failure from it. A
//! [`Pipeline`] stacks them in one fixed order:
//!
//! ```text
//!   fallback ─► retry / hedge ─► fuse ─► valve ─► timeout ─► call
//! ```
//!
//! * **Fallback outermost**: it runs once, after the retries and hedges
//!   have given up, and is told why ([`PipelineError`]). Inside the retry it
//!   would turn every failure into a success the retry never sees.
//! * **Retry and hedge outside the fuse**: each attempt (and each hedge)
//!   asks the fuse, so a fuse that blows in the middle of a run refuses the
//!   next attempt, and that refusal ends the run: a refusal is never
//!   retried, nor a valve's. Retries and hedges draw from one
//!   [`RetryBudget`].
//! * **Fuse outside the valve**: a blown fuse refuses before the call
//!   takes a place in the valve's queue; waiting in line for a dependency
//!   known to be down only delays the refusal. A valve refusal counts as
//!   *ignored* for the fuse (the dependency was not asked).
//! * **Valve outside the timeout**: the timeout bounds the call, not the
//!   wait for a slot (the valve bounds that with its own `max_wait` and
//!   CoDel). A timeout around the queue would count a full queue as the
//!   dependency's failure and blow the fuse for our own congestion.
//! * **Timeout innermost**: a call cut by it is a *failure* for the fuse
//!   and for the retry (Polly and resilience4j agree: a timeout is the
//!   dependency's fault), so it is retried like any failure.
//!
//! We found no better order to argue for: this is the one Polly's
//! documentation recommends (fallback, retry, circuit breaker, bulkhead,
//! timeout), with the hedge at the retry's level because both make
//! attempts and share a budget.
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{FuseConfig, Fusebox, ManualClock, ValveConfig};
//! use fusebox::pipeline::{Hedge, Pipeline, Reason};
//! use fusebox::retry::{Backoff, RetryBudget, RetryPolicy};
//!
//! let clock = ManualClock::new();
//! let fb = Fusebox::builder().clock(clock.clone()).build();
//! fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))?;
//! fb.install_valve("db", ValveConfig::new().concurrency(16).queue(32))?;
//! let db = Pipeline::builder("db")
//!     .fusebox(&fb)                                  // its clock, events, metrics
//!     .retry(RetryPolicy::new(3).backoff(Backoff::constant(Duration::from_millis(10))))
//!     .budget(RetryBudget::new(Duration::from_secs(10), 1, 0.2)?)
//!     .hedge(Hedge::after(Duration::from_millis(50)))
//!     .fuse(fb.fuse("db").unwrap())
//!     .valve(fb.valve("db").unwrap())
//!     .timeout(Duration::from_millis(200))
//!     .fallback(|e| if e.is_refusal() { "cached" } else { "default" })
//!     .build()?;
//! let v = db.call_blocking(|| Ok::<_, ()>("fresh"));
//! assert_eq!(v, Ok("fresh"));
//! # Ok::<(), fusebox::ConfigError>(())
//! ```
//!
//! Files, one concept each: `hedge.rs` (when to hedge), `latency.rs` (the
//! recent-latency estimate a quantile hedge reads), `timer.rs` (how the
//! async form waits), `attempt.rs` (one attempt through fuse, valve and
//! timeout), `run.rs` (rounds, hedges and retries), `blocking.rs` (the sync
//! form), `fallback.rs`, `error.rs`, `stats.rs` (counters and events),
//! `home.rs` (what a pipeline takes from its Fusebox). What it costs on a
//! healthy call: `benches/pipeline.rs`.

mod attempt;
mod blocking;
mod error;
mod fallback;
mod hedge;
mod home;
mod latency;
mod run;
mod stats;
mod timer;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use error::{PipelineError, Reason, ReasonKind};
pub use fallback::{
    BlockingFallback, Fallback, FallbackAsync, FallbackFn, FallbackValue, NoFallback, OkFuture,
};
pub use hedge::{Hedge, HedgeDelay, DEFAULT_LATENCY_WINDOW, DEFAULT_MIN_SAMPLES};
pub use latency::RecentLatency;
pub use stats::{FallbackCounts, PipelineSnapshot, PipelineStats};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use timer::TokioTimer;
pub use timer::{Sleeping, Timer};

use crate::clock::{Clock, MonotonicClock, Timebase};
use crate::error::ConfigError;
use crate::event::Bus;
use crate::fuse::{Fuse, Outcome};
use crate::retry::{Retry, RetryBudget, RetryPolicy, Sleep};
use crate::valve::Valve;
pub(crate) use home::{Home, Listed};
use stats::{Counters, Events, CALLS};

/// A dependency's policies, stacked in the order of the [module](self):
/// fallback, retry and hedge, fuse, valve, timeout. Cheap to clone: clones
/// share everything, counters included.
///
/// `F` is the fallback ([`NoFallback`] unless the builder was given one).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox};
/// use fusebox::pipeline::{Pipeline, Reason};
/// use fusebox::retry::{RetryPolicy, Stop};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))?;  // blows on the 1st melt
/// let p = Pipeline::builder("db").retry(RetryPolicy::new(5)).fuse(fb.fuse("db").unwrap()).build()?;
/// let mut calls = 0;
/// let err = p.call_blocking(|| { calls += 1; Err::<(), _>("down") }).unwrap_err();
/// assert_eq!(calls, 1);                               // the retry was refused by the fuse
/// assert_eq!((err.reason(), err.stop()), (&Reason::Blown, Stop::Refused));
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
pub struct Pipeline<F = NoFallback> {
    core: Arc<Core>,
    fallback: Arc<F>,
}

impl<F> Clone for Pipeline<F> {
    fn clone(&self) -> Self {
        Pipeline {
            core: self.core.clone(),
            fallback: self.fallback.clone(),
        }
    }
}

/// What every clone of a pipeline shares.
pub(crate) struct Core {
    pub(crate) name: Arc<str>,
    pub(crate) retry: Retry,
    pub(crate) hedge: Option<Hedge>,
    pub(crate) latency: Option<RecentLatency>,
    pub(crate) fuse: Option<Fuse>,
    pub(crate) valve: Option<Valve>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) timer: Arc<dyn Timer>,
    pub(crate) clock: Timebase,
    pub(crate) counters: Counters,
    pub(crate) bus: Option<Arc<Bus>>,
}

impl Core {
    pub(crate) fn events(&self) -> Events<'_> {
        Events {
            bus: self.bus.as_deref(),
            name: &self.name,
            now: self.clock.now(),
        }
    }

    pub(crate) fn snapshot(&self) -> PipelineSnapshot {
        PipelineSnapshot {
            name: self.name.clone(),
            stats: self.counters.stats(self.retry.stats()),
        }
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("retry", &self.retry.policy())
            .field("budget", &self.retry.budget())
            .field("hedge", &self.hedge)
            .field("fuse", &self.fuse.as_ref().map(Fuse::name))
            .field("valve", &self.valve.as_ref().map(Valve::name))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<F> fmt::Debug for Pipeline<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f)
    }
}

/// Builds a [`Pipeline`]: [`Pipeline::builder`]. Every layer is optional;
/// the order they apply in is fixed, whatever the order of the calls.
pub struct PipelineBuilder<F = NoFallback> {
    pub(crate) name: Arc<str>,
    policy: Option<RetryPolicy>,
    budget: Option<RetryBudget>,
    hedge: Option<Hedge>,
    fuse: Option<Fuse>,
    valve: Option<Valve>,
    timeout: Option<Duration>,
    clock: Option<Timebase>,
    timer: Option<Arc<dyn Timer>>,
    sleeper: Option<Arc<dyn Sleep>>,
    seed: Option<u64>,
    pub(crate) home: Option<Result<Home, ConfigError>>,
    fallback: F,
}

impl<F> fmt::Debug for PipelineBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("hedge", &self.hedge)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A builder for the pipeline of the dependency `name` (the `pipeline`
    /// label of its metrics, the name of its events).
    pub fn builder(name: impl AsRef<str>) -> PipelineBuilder {
        PipelineBuilder {
            name: name.as_ref().into(),
            policy: None,
            budget: None,
            hedge: None,
            fuse: None,
            valve: None,
            timeout: None,
            clock: None,
            timer: None,
            sleeper: None,
            seed: None,
            home: None,
            fallback: NoFallback,
        }
    }
}

impl<F> PipelineBuilder<F> {
    /// Retries by `policy` (attempts, backoff, deadline). Without one, a
    /// call makes one attempt (and its hedges).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The budget that pays for every retry and every hedge; share one
    /// among all the callers of a dependency. Each call deposits into it.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Hedges slow attempts (async calls only: [`call_blocking`](Pipeline::call_blocking)
    /// makes one attempt at a time).
    pub fn hedge(mut self, hedge: Hedge) -> Self {
        self.hedge = Some(hedge);
        self
    }

    /// Every attempt asks this fuse and reports to it.
    pub fn fuse(mut self, fuse: Fuse) -> Self {
        self.fuse = Some(fuse);
        self
    }

    /// Every attempt admitted by the fuse runs under this valve.
    pub fn valve(mut self, valve: Valve) -> Self {
        self.valve = Some(valve);
        self
    }

    /// Each attempt's call may take at most `timeout` (greater than zero);
    /// a call cut by it is a failure, for the fuse and the retry.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The clock for deadlines, the budget and latencies (the Fusebox's
    /// with [`fusebox`](Self::fusebox), else the OS monotonic clock). A
    /// [`ManualClock`](crate::ManualClock) is also the timer and the
    /// sleeper unless others are given.
    pub fn clock<C: Clock>(mut self, clock: C) -> Self {
        self.clock = Some(Timebase::from_clock(clock));
        self
    }

    /// How async calls wait: a manual clock by default if the clock is
    /// one, else [`TokioTimer`] with the `tokio` feature. Needed (and
    /// checked by [`build`](Self::build)) for hedges, timeouts and
    /// backoff waits in async calls.
    pub fn timer<T: Timer>(mut self, timer: T) -> Self {
        self.timer = Some(Arc::new(timer));
        self
    }

    /// How [`call_blocking`](Pipeline::call_blocking) waits between
    /// attempts (the thread sleeps by default; a manual clock advances).
    pub fn sleeper<S: Sleep>(mut self, sleeper: S) -> Self {
        self.sleeper = Some(Arc::new(sleeper));
        self
    }

    /// Seeds the backoff's jitter, as [`RetryBuilder::seed`](crate::retry::RetryBuilder::seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn with_fallback<G>(self, fallback: G) -> PipelineBuilder<G> {
        PipelineBuilder {
            name: self.name,
            policy: self.policy,
            budget: self.budget,
            hedge: self.hedge,
            fuse: self.fuse,
            valve: self.valve,
            timeout: self.timeout,
            clock: self.clock,
            timer: self.timer,
            sleeper: self.sleeper,
            seed: self.seed,
            home: self.home,
            fallback,
        }
    }

    /// On an error (a refusal, a timeout, a failure, or a result the
    /// classifier ignored), answers `f(error)` instead.
    pub fn fallback<T, E, G>(self, f: G) -> PipelineBuilder<FallbackFn<G>>
    where
        G: Fn(PipelineError<E>) -> T,
    {
        self.with_fallback(FallbackFn(f))
    }

    /// On an error, answers a clone of `value`.
    pub fn fallback_value<T: Clone>(self, value: T) -> PipelineBuilder<FallbackValue<T>> {
        self.with_fallback(FallbackValue(value))
    }

    /// On an error, answers what the future `f(error)` gives (async calls
    /// only).
    pub fn fallback_async<T, E, G, Fut>(self, f: G) -> PipelineBuilder<FallbackAsync<G>>
    where
        G: Fn(PipelineError<E>) -> Fut,
        Fut: Future<Output = T>,
    {
        self.with_fallback(FallbackAsync(f))
    }

    /// Checks everything once and builds the pipeline: with a Fusebox,
    /// the name (as a fuse's); the retry policy, the hedge, a timeout above zero, a timer
    /// where one is needed, and a name free in the Fusebox.
    pub fn build(self) -> Result<Pipeline<F>, ConfigError> {
        let home = self.home.transpose()?;
        if let Some(h) = &self.hedge {
            h.check()?;
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(ConfigError::pipeline(
                "timeout",
                Duration::ZERO,
                "must be greater than zero",
            ));
        }
        let clock = match (self.clock, &home) {
            (Some(c), _) => c,
            (None, Some(h)) => h.timebase.clone(),
            (None, None) => Timebase::Monotonic(MonotonicClock::new()),
        };
        let policy = self.policy.unwrap_or_else(|| RetryPolicy::new(1));
        let waits = policy.backoff.cap() > Duration::ZERO;
        let mut retry = Retry::builder(policy).timebase(clock.clone());
        if let Some(b) = self.budget {
            retry = retry.budget(b);
        }
        if let Some(s) = self.seed {
            retry = retry.seed(s);
        }
        if let Some(s) = self.sleeper {
            retry = retry.sleeper_arc(s);
        }
        let retry = retry.build()?;
        let timer = match (self.timer, clock.manual()) {
            (Some(t), _) => Some(t),
            (None, Some(m)) => Some(Arc::new(m.clone()) as Arc<dyn Timer>),
            (None, None) => default_timer(),
        };
        let needs_timer = self.hedge.is_some() || self.timeout.is_some() || waits;
        let timer = match timer {
            Some(t) => t,
            None if needs_timer => {
                return Err(ConfigError::pipeline(
                    "timer",
                    "none",
                    "hedges, timeouts and backoff waits need a timer: give one, or enable the `tokio` feature",
                ))
            }
            None => Arc::new(timer::NoWaits),
        };
        let latency = self.hedge.as_ref().and_then(RecentLatency::for_hedge);
        let core = Arc::new(Core {
            name: self.name,
            retry,
            hedge: self.hedge,
            latency,
            fuse: self.fuse,
            valve: self.valve,
            timeout: self.timeout,
            timer,
            clock,
            counters: Counters::default(),
            bus: home.as_ref().map(|h| h.bus.clone()),
        });
        if let Some(h) = &home {
            h.list.register(&core, h.keep)?;
        }
        Ok(Pipeline {
            core,
            fallback: Arc::new(self.fallback),
        })
    }
}

#[cfg(feature = "tokio")]
fn default_timer() -> Option<Arc<dyn Timer>> {
    Some(Arc::new(TokioTimer))
}

#[cfg(not(feature = "tokio"))]
fn default_timer() -> Option<Arc<dyn Timer>> {
    None
}

impl<F> Pipeline<F> {
    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// What this pipeline and its clones counted.
    pub fn stats(&self) -> PipelineStats {
        self.core.counters.stats(self.core.retry.stats())
    }

    /// Its name and counters.
    pub fn snapshot(&self) -> PipelineSnapshot {
        self.core.snapshot()
    }

    /// The budget retries and hedges draw from, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.core.retry.budget()
    }

    /// The fuse every attempt asks, if any (what a refusal names).
    pub fn fuse(&self) -> Option<&Fuse> {
        self.core.fuse.as_ref()
    }

    /// The valve every attempt runs under, if any.
    pub fn valve(&self) -> Option<&Valve> {
        self.core.valve.as_ref()
    }

    /// Each attempt's timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.core.timeout
    }

    /// Calls `make()`'s future through every layer: each `Err` is a
    /// failure; the fallback, if any, answers for an error.
    ///
    /// `make` builds each attempt's future (the first, each retry, each
    /// hedge) before the fuse is asked; a refused attempt's future is
    /// dropped unpolled, so put the call's effects inside the future.
    ///
    /// # Cancel safety
    ///
    /// The returned future may be dropped at any point, and nothing leaks:
    /// every attempt in flight (a hedge too) is dropped with it, counts as
    /// ignored for the fuse (freeing a probe slot it held) and frees its
    /// valve slot or leaves the valve's queue; no further attempt is made.
    /// What was counted stays counted: the call's deposit in the budget,
    /// and retries and hedges already withdrawn.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::ManualClock;
    /// use fusebox::pipeline::Pipeline;
    /// use fusebox::retry::RetryPolicy;
    ///
    /// let clock = ManualClock::new();
    /// let p = Pipeline::builder("api").clock(clock.clone())
    ///     .retry(RetryPolicy::new(3)).fallback_value(0).build()?;
    /// let mut n = 0;
    /// let fut = p.call(|| { n += 1; let k = n; async move { if k < 3 { Err("flaky") } else { Ok(k) } } });
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// assert_eq!(block_on(fut), Ok(3));                // fut.await on a runtime
    /// assert_eq!(block_on(p.call(|| async { Err::<i32, _>("down") })), Ok(0));
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub async fn call<T, E, M, Fut>(&self, make: M) -> Result<T, PipelineError<E>>
    where
        F: Fallback<T, E>,
        M: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_classified(make, Outcome::of_result).await
    }

    /// As [`call`](Self::call), with `classify` saying what each attempt's
    /// result is: a success ends the call, a failure melts the fuse and is
    /// retried, an [`Outcome::Ignored`] result counts toward nothing and
    /// is not retried.
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Self::call).
    pub async fn call_classified<T, E, M, Fut, C>(
        &self,
        make: M,
        classify: C,
    ) -> Result<T, PipelineError<E>>
    where
        F: Fallback<T, E>,
        M: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Fn(&Result<T, E>) -> Outcome,
    {
        self.core.counters.add(CALLS);
        match self.core.run(make, classify).await {
            Ok(v) => Ok(v),
            Err(e) if Fallback::<T, E>::active(&*self.fallback) => {
                self.core
                    .counters
                    .fell_back(e.reason().kind(), &self.core.events());
                self.fallback.fallback(e).await
            }
            Err(e) => Err(e),
        }
    }

    /// The synchronous form of [`call`](Self::call): attempts one at a time
    /// on the calling thread, waits through the [`Sleep`], no hedges (a
    /// hedge needs two attempts at once). The timeout cannot interrupt a
    /// call here: a call that took longer than the timeout has its value
    /// dropped and counts as a [`Reason::Timeout`] failure, as it would
    /// have in the async form.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Clock, ManualClock};
    /// use fusebox::pipeline::{Pipeline, Reason};
    ///
    /// let clock = ManualClock::new();
    /// let p = Pipeline::builder("api").clock(clock.clone())
    ///     .timeout(Duration::from_millis(100)).build()?;
    /// let late = p.call_blocking(|| { clock.advance(Duration::from_millis(101)); Ok::<_, ()>(1) });
    /// assert_eq!(late.unwrap_err().reason(), &Reason::Timeout);
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn call_blocking<T, E>(
        &self,
        f: impl FnMut() -> Result<T, E>,
    ) -> Result<T, PipelineError<E>>
    where
        F: BlockingFallback<T, E>,
    {
        self.call_blocking_classified(f, Outcome::of_result)
    }

    /// [`call_blocking`](Self::call_blocking) with a classifier, as
    /// [`call_classified`](Self::call_classified).
    pub fn call_blocking_classified<T, E>(
        &self,
        f: impl FnMut() -> Result<T, E>,
        classify: impl Fn(&Result<T, E>) -> Outcome,
    ) -> Result<T, PipelineError<E>>
    where
        F: BlockingFallback<T, E>,
    {
        self.core.counters.add(CALLS);
        match self.core.run_blocking(f, classify) {
            Ok(v) => Ok(v),
            Err(e) if BlockingFallback::<T, E>::active(&*self.fallback) => {
                self.core
                    .counters
                    .fell_back(e.reason().kind(), &self.core.events());
                self.fallback.fallback_blocking(e)
            }
            Err(e) => Err(e),
        }
    }
}
