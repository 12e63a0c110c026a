//! The [`Retry`] handle and the loop that every form of running shares.
//!
//! The loop's decisions live in one engine, [`Attempts`] (`attempts.rs`), which
//! knows nothing of how an attempt is made or how a wait is spent: the
//! synchronous [`Retry::run`] sleeps through a [`Sleep`], the async forms
//! (`retry/call.rs`) await a timer, and both ask the same engine "again, and
//! after how long, or stop, and why". So the rules of
//! [`policy`](super::RetryPolicy) hold in every form by construction, and
//! tests on a [`ManualClock`](crate::ManualClock) (whose [`Sleep`] advances time instead of
//! waiting) prove them without sleeping.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::attempts::{stop_index, Attempts, Inner, Next, CALLS, RETRIES, SUCCESSES};
use super::sleep::{Sleep, ThreadSleep};
use super::{Class, RetryBudget, RetryError, RetryPolicy, Stop};
use crate::clock::{duration_nanos, Clock, MonotonicClock, Timebase};
use crate::error::{ConfigError, RunError};
use crate::fuse::{Fuse, Outcome};

/// Retries a call by a [`RetryPolicy`], optionally within a shared
/// [`RetryBudget`]. Cheap to clone: clones share the policy, the budget,
/// the random stream and the counters.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::ManualClock;
/// use fusebox::retry::{Backoff, Retry, RetryPolicy};
///
/// let clock = ManualClock::new();
/// let retry = Retry::builder(RetryPolicy::new(3)
///         .backoff(Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(1))))
///     .clock(clock.clone())                   // waits advance this clock
///     .build()?;
/// let mut calls = 0;
/// let out = retry.run(|| { calls += 1; if calls < 3 { Err("flaky") } else { Ok(calls) } });
/// assert_eq!(out, Ok(3));
/// assert_eq!(clock.now(), Duration::from_millis(100 + 200));
/// assert_eq!(retry.stats().retries, 2);
/// # use fusebox::Clock;
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Retry {
    pub(crate) inner: Arc<Inner>,
}

/// What a [`Retry`] has counted since it was built. These are the values a
/// `fusebox_retries_total{result}` counter would carry: `retried` is
/// [`retries`](Self::retries), and each way of stopping is its
/// [`Stop::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RetryStats {
    /// Runs started (first attempts).
    pub calls: u64,
    /// Retries made (attempts after the first).
    pub retries: u64,
    /// Runs that ended in a success.
    pub successes: u64,
    /// Runs that ended on a refusal.
    pub refused: u64,
    /// Runs that ended on a result not worth retrying.
    pub not_retryable: u64,
    /// Runs that used all their attempts.
    pub exhausted: u64,
    /// Runs ended by the deadline.
    pub deadline: u64,
    /// Runs ended because the budget was empty.
    pub budget_exhausted: u64,
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", &self.inner.policy)
            .field("budget", &self.inner.budget)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Builds a [`Retry`]: [`Retry::builder`].
#[derive(Debug)]
pub struct RetryBuilder {
    policy: RetryPolicy,
    budget: Option<RetryBudget>,
    clock: Option<Timebase>,
    sleeper: Option<Arc<dyn Sleep>>,
    seed: Option<u64>,
}

impl RetryBuilder {
    /// Retries draw from (and are refused by) this budget; share one budget
    /// among all the callers of a dependency.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The clock for the deadline and the budget (the OS monotonic clock by
    /// default). Give it the [`Fusebox`](crate::Fusebox)'s clock. A
    /// [`ManualClock`](crate::ManualClock) is also the sleeper unless another is given.
    pub fn clock<C: Clock>(mut self, clock: C) -> Self {
        self.clock = Some(Timebase::from_clock(clock));
        self
    }

    /// A sleeper already shared (a pipeline's).
    pub(crate) fn sleeper_arc(mut self, sleeper: Arc<dyn Sleep>) -> Self {
        self.sleeper = Some(sleeper);
        self
    }

    /// The clock as the crate holds it (a pipeline gives its own).
    pub(crate) fn timebase(mut self, timebase: Timebase) -> Self {
        self.clock = Some(timebase);
        self
    }

    /// How [`Retry::run`] waits ([`ThreadSleep`] by default, the clock
    /// itself for a [`ManualClock`](crate::ManualClock)).
    pub fn sleeper<S: Sleep>(mut self, sleeper: S) -> Self {
        self.sleeper = Some(Arc::new(sleeper));
        self
    }

    /// Jitter from a seeded stream: run `k` (counted from 0 across clones)
    /// draws from `SplitMix64::new(rng::mix(seed + k))`, so a test knows
    /// every delay. Without a seed, each `Retry` picks one at random.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks the policy and builds the handle.
    pub fn build(self) -> Result<Retry, ConfigError> {
        self.policy.validate()?;
        let clock = self
            .clock
            .unwrap_or_else(|| Timebase::from_clock(MonotonicClock::new()));
        let sleeper = self.sleeper.unwrap_or_else(|| match clock.manual() {
            Some(m) => Arc::new(m.clone()),
            None => Arc::new(ThreadSleep),
        });
        Ok(Retry {
            inner: Arc::new(Inner {
                policy: self.policy,
                budget: self.budget,
                clock,
                sleeper,
                seed: self.seed.unwrap_or_else(random_seed),
                runs: AtomicU64::new(0),
                counters: Default::default(),
            }),
        })
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5EED);
    h.finish()
}

impl Retry {
    /// A retry by `policy` on the OS clock, sleeping the thread, no budget.
    /// Refuses a policy with `max_attempts = 0`, a backoff factor below 1
    /// or not finite, a cap below the base, or a zero deadline.
    pub fn new(policy: RetryPolicy) -> Result<Retry, ConfigError> {
        Self::builder(policy).build()
    }

    /// A builder, for a budget, a clock, a sleeper or a seed.
    pub fn builder(policy: RetryPolicy) -> RetryBuilder {
        RetryBuilder {
            policy,
            budget: None,
            clock: None,
            sleeper: None,
            seed: None,
        }
    }

    /// How the synchronous form waits.
    pub(crate) fn sleeper(&self) -> &dyn Sleep {
        &*self.inner.sleeper
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }

    /// The budget, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.inner.budget.as_ref()
    }

    /// What this retry (and its clones) counted.
    pub fn stats(&self) -> RetryStats {
        let c = |i: usize| self.inner.counters[i].load(Ordering::Relaxed);
        RetryStats {
            calls: c(CALLS),
            retries: c(RETRIES),
            successes: c(SUCCESSES),
            refused: c(stop_index(Stop::Refused)),
            not_retryable: c(stop_index(Stop::NotRetryable)),
            exhausted: c(stop_index(Stop::Exhausted)),
            deadline: c(stop_index(Stop::Deadline)),
            budget_exhausted: c(stop_index(Stop::BudgetExhausted)),
        }
    }

    /// Calls `f` until it succeeds or a rule of the policy stops it; every
    /// `Err` counts as a failure (use [`run_fuse`](Self::run_fuse) or
    /// [`run_classified`](Self::run_classified) for calls that can be
    /// refused). Waits go through the [`Sleep`].
    pub fn run<T, E>(&self, f: impl FnMut() -> Result<T, E>) -> Result<T, RetryError<E>> {
        self.run_classified(f, Class::of_result)
    }

    /// As [`run`](Self::run), with `classify` saying which results are
    /// retried: only a [`Class::Failure`] is. An `Ok` classified as a
    /// failure is retried too, and returned as it is if it is the last.
    ///
    /// ```
    /// use fusebox::retry::{Class, Retry, RetryPolicy, Stop};
    ///
    /// let retry = Retry::new(RetryPolicy::new(5))?;
    /// // A 404 is final; a 503 is worth another try.
    /// let classify = |r: &Result<(), u16>| match r {
    ///     Ok(_) => Class::Success,
    ///     Err(c) if *c < 500 => Class::Ignored,
    ///     Err(_) => Class::Failure,
    /// };
    /// let err = retry.run_classified(|| Err(404), classify).unwrap_err();
    /// assert_eq!((err.attempts(), err.stop()), (1, Stop::NotRetryable));
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn run_classified<T, E>(
        &self,
        mut f: impl FnMut() -> Result<T, E>,
        classify: impl Fn(&Result<T, E>) -> Class,
    ) -> Result<T, RetryError<E>> {
        let mut attempts = Attempts::begin(&self.inner);
        loop {
            let out = f();
            match attempts.after_with(classify(&out), || self.inner.clock.now()) {
                Next::Again(d) => self.inner.sleeper.sleep(d),
                Next::Done(stop) => return attempts.finish(out, stop),
            }
        }
    }

    /// Runs `f` through `fuse` with retries: a refusal by the fuse (blown,
    /// disabled, removed) ends the retries at once and `f` is not called
    /// again; an `Err` from `f` is a melt and is retried.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{FuseConfig, Fusebox, RunError};
    /// use fusebox::retry::{Retry, RetryPolicy, Stop};
    ///
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(1, Duration::from_secs(10)))?;   // blows on the 2nd melt
    /// let db = fb.fuse("db").unwrap();
    /// let retry = Retry::new(RetryPolicy::new(10))?;
    /// let mut calls = 0;
    /// let err = retry.run_fuse(&db, || { calls += 1; Err::<(), _>("down") }).unwrap_err();
    /// assert_eq!(calls, 2);                        // the third attempt was refused
    /// assert_eq!((err.attempts(), err.stop()), (3, Stop::Refused));
    /// assert_eq!(err.into_inner(), RunError::Blown);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_fuse<T, E>(
        &self,
        fuse: &Fuse,
        mut f: impl FnMut() -> Result<T, E>,
    ) -> Result<T, RetryError<RunError<E>>> {
        self.run_classified(|| fuse.run(&mut f), Class::of_run)
    }

    /// As [`run_fuse`](Self::run_fuse), with `classify` for both the fuse's
    /// bookkeeping and the retry: a failure melts and is retried, an
    /// [`Outcome::Ignored`] result counts toward nothing and is not retried.
    pub fn run_fuse_classified<T, E>(
        &self,
        fuse: &Fuse,
        mut f: impl FnMut() -> Result<T, E>,
        classify: impl Fn(&Result<T, E>) -> Outcome,
    ) -> Result<T, RetryError<RunError<E>>> {
        let last = Cell::new(Outcome::Ignored);
        self.run_classified(
            || {
                fuse.run_classified(&mut f, |r| {
                    let o = classify(r);
                    last.set(o);
                    o
                })
            },
            |r| match r {
                Err(RunError::Blown | RunError::NotFound(_)) => Class::Refusal,
                _ => Class::of_outcome(last.get()),
            },
        )
    }
}

impl Retry {
    /// A call begins at `now` (on the retry's clock; the budget reads no
    /// other): its first attempt is counted and deposited in the budget.
    /// Drive the [`Attempts`] with each attempt's class.
    pub fn begin(&self, now: Duration) -> Attempts<'_> {
        Attempts::begin_at(&self.inner, duration_nanos(now))
    }
}
