//! The fuse: a named circuit breaker.
//!
//! ```text
//!              melt × (max_melts + 1) within window
//!     ┌────┐ ─────────────────────────────────────▶ ┌───────┐
//!     │ ok │                                        │ blown │
//!     └────┘ ◀───────────────────────────────────── └───────┘
//!       ▲  │        heal deadline passes, or reset      │
//!       │  │ disable                            disable │
//!       │  ▼                                            ▼
//!     ┌──────────┐   (disable dominates: only enable or remove leave it)
//!     │ disabled │ ─── enable ──▶ ok, empty history
//!     └──────────┘
//! ```
//!
//! A [`Fuse`] is a cheap handle (a clone of an `Arc`) to one fuse of a
//! [`Fusebox`](crate::Fusebox); keep one where calls are hot and skip the
//! by-name lookup.
//!
//! (Over 400 lines: the handle is the public face of a fuse, and most of
//! this file is its documentation and runnable examples; the engine behind
//! it lives in the files of `fuse/`.)

mod chaos;
mod config;
pub(crate) mod engine;
pub(crate) mod env;
mod heal;
mod operate;
mod outcome;
mod program;
mod rate;
mod report;
mod retire;
mod slow;
mod snapshot;
mod state;
mod strategy;
mod throttle;
mod ticket;
mod view;
mod watch;
mod window;
mod word;

use std::sync::Arc;

pub use chaos::Chaos;
pub use config::{FuseConfig, DEFAULT_HEAL_AFTER};
pub(crate) use engine::{Answer, FuseCore};
pub(crate) use env::{Env, Notify};
pub use heal::{Backoff, Heal, Step, MAX_PROBES};
pub use outcome::Outcome;
pub use snapshot::{FuseCounters, FuseSnapshot, ThrottleSnapshot};
pub use state::{Cause, FuseState};
pub use strategy::Strategy;
pub(crate) use ticket::Ticket;
pub(crate) use watch::Watcher;

pub use crate::error::RunError;

/// The answer to [`ask`](Fuse::ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Ask {
    /// Go ahead.
    Ok,
    /// Do not call the dependency now.
    Blown,
}

impl Ask {
    /// True for [`Ask::Ok`].
    #[inline]
    pub fn is_ok(self) -> bool {
        self == Ask::Ok
    }
}

/// A handle to one installed fuse.
///
/// Cloning is cheap; all clones and the [`Fusebox`](crate::Fusebox) see one
/// fuse. Reinstalling the name changes the fuse the handle points to in
/// place. After [`remove`](crate::Fusebox::remove), a handle answers
/// [`Ask::Blown`] to every ask and ignores melts; look the name up again if
/// it is reinstalled.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Ask, FuseConfig, Fusebox};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(1, Duration::from_secs(10))).unwrap();
/// let db = fb.fuse("db").expect("installed");
/// assert_eq!(db.ask(), Ask::Ok);
/// db.melt();
/// db.melt();                        // the second melt in the window blows it
/// assert_eq!(db.ask(), Ask::Blown);
/// ```
#[derive(Clone)]
pub struct Fuse {
    core: Arc<FuseCore>,
}

impl std::fmt::Debug for Fuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl Fuse {
    pub(crate) fn from_core(core: Arc<FuseCore>) -> Self {
        Fuse { core }
    }

    /// The engine, for the pipeline's attempts (`pipeline/attempt.rs`).
    pub(crate) fn core(&self) -> &FuseCore {
        &self.core
    }

    /// The fuse's name.
    pub fn name(&self) -> &str {
        self.core.name()
    }

    /// Ok or blown. On a healthy fuse: one atomic load, no lock, no clock.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{Ask, FuseConfig, Fusebox};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(1, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// if db.ask().is_ok() {
    ///     // call the database
    /// }
    /// ```
    #[inline]
    pub fn ask(&self) -> Ask {
        match self.core.ask() {
            Answer::Ok => Ask::Ok,
            Answer::Blown | Answer::Removed => Ask::Blown,
        }
    }

    /// Reports one failure, timestamped by the fuse's clock. May blow it.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{Ask, FuseConfig, Fusebox};
    /// # let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// db.melt();
    /// assert_eq!(db.ask(), Ask::Blown);
    /// ```
    pub fn melt(&self) {
        let _ = self.core.melt();
    }

    /// Reports one success (counted; strategies that need successes use it).
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// db.success();
    /// assert_eq!(db.snapshot().unwrap().counters.successes, 1);
    /// ```
    pub fn success(&self) {
        // A removed fuse has nothing to count: a handle is fire-and-forget.
        let _ = self.core.success();
    }

    /// Asks; if blown, refuses without calling `f`; if ok, calls `f` and melts
    /// on `Err`. A panic in `f` counts as a melt and keeps unwinding.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox, RunError};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// let row: Result<u32, RunError<&str>> = db.run(|| Ok(7));
    /// assert_eq!(row, Ok(7));
    /// let row: Result<u32, RunError<&str>> = db.run(|| Err("down"));
    /// assert_eq!(row, Err(RunError::Failed("down")));
    /// assert_eq!(db.run(|| Ok::<_, ()>(1)), Err(RunError::Blown));
    /// ```
    #[inline]
    pub fn run<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, RunError<E>> {
        self.run_classified(f, Outcome::of_result)
    }

    /// As [`run`](Self::run), with your own idea of what counts: `classify`
    /// sees the result and says success, failure or ignored (a client error
    /// that says nothing about the dependency's health, say). The result is
    /// returned as it is; only the fuse's bookkeeping follows `classify`.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// use fusebox::{Ask, FuseConfig, Fusebox, Outcome, RunError};
    /// # let fb = Fusebox::new();
    /// # fb.install("api", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let api = fb.fuse("api").unwrap();
    /// // A 404 is the caller's problem, not the dependency's: ignore it.
    /// let status = |r: &Result<u16, u16>| match r {
    ///     Ok(_) => Outcome::Success,
    ///     Err(code) if *code < 500 => Outcome::Ignored,
    ///     Err(_) => Outcome::Failure,
    /// };
    /// assert_eq!(api.run_classified(|| Err(404), status), Err(RunError::Failed(404)));
    /// assert_eq!(api.ask(), Ask::Ok);                    // not melted
    /// assert_eq!(api.run_classified(|| Err(503), status), Err(RunError::Failed(503)));
    /// assert_eq!(api.ask(), Ask::Blown);
    /// ```
    #[inline]
    pub fn run_classified<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>> {
        self.core.run(f, classify).map_err(|e| match e {
            RunError::NotFound(_) => RunError::Blown,
            e => e,
        })
    }

    /// [`run`](Self::run) for a future, on any runtime: asks, awaits `fut`
    /// if admitted, and reports its outcome. If the returned future is
    /// dropped before `fut` finishes (the caller gave up), the call counts
    /// as neither success nor failure, and a probe slot it held is given
    /// back at once. A panic inside `fut` counts as a failure.
    ///
    /// The fuse is asked when the returned future is first polled, not when
    /// `call` is called; a refusal resolves it at once with
    /// [`RunError::Blown`], and `fut` is dropped unpolled.
    ///
    /// # Cancel safety
    ///
    /// The returned future may be dropped at any point; nothing leaks and
    /// nothing blows the fuse:
    ///
    /// * dropped before its first poll, it did nothing: the fuse was not
    ///   asked, nothing is counted, and `fut` is dropped unpolled;
    /// * dropped after admission, before `fut` finished (a caller that gave
    ///   up, a timeout outside, the loser of a `select!`), `fut` is dropped
    ///   with it and the call is reported as [`Outcome::Ignored`]: it counts
    ///   toward no window, no strategy and no probe, and a
    ///   [`Step::Probe`] slot it held is given back at once, so the next
    ///   probe can go;
    /// * dropped while unwinding from a panic (raised inside `fut`, say), it
    ///   counts as a failure instead, as a panic in [`run`](Self::run) does.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox, RunError};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// let query = async { Ok::<u32, &str>(7) };
    /// # let out = futures_lite_block_on(db.call(query));
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// // let out = db.call(query).await;
    /// assert_eq!(out, Ok(7));
    /// ```
    pub async fn call<T, E, F>(&self, fut: F) -> Result<T, RunError<E>>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        self.call_classified(fut, Outcome::of_result).await
    }

    /// [`call`](Self::call) with your own classification (see
    /// [`run_classified`](Self::run_classified)).
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Self::call): dropped before its first poll it did
    /// nothing; dropped after admission it is reported as
    /// [`Outcome::Ignored`] without calling `classify`, and frees a probe
    /// slot it held; dropped while unwinding from a panic it counts as a
    /// failure.
    pub async fn call_classified<T, E, F>(
        &self,
        fut: F,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let mut pending = match Pending::admit(&self.core) {
            Ok(p) => p,
            Err(_) => return Err(RunError::Blown),
        };
        if pending.inject().await {
            return Err(RunError::Injected);
        }
        let out = fut.await;
        let outcome = classify(&out);
        pending.finish(outcome);
        out.map_err(RunError::Failed)
    }

    /// [`call`](Self::call) with a deadline: if `fut` has not finished after
    /// `timeout`, it is dropped, the call counts as a failure and the answer
    /// is [`RunError::Timeout`]. Needs a tokio runtime with time enabled.
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Self::call): the returned future may be dropped at any
    /// point. Dropped before its first poll it did nothing; dropped by the
    /// caller after admission and before the deadline, `fut` is dropped with
    /// it and the call is reported as [`Outcome::Ignored`], freeing a probe
    /// slot it held. Reaching the deadline is not a cancellation by the
    /// caller: `fut` is dropped, the call counts as a failure, and the future
    /// resolves to [`RunError::Timeout`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn call_timeout<T, E, F>(
        &self,
        timeout: std::time::Duration,
        fut: F,
    ) -> Result<T, RunError<E>>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let mut pending = match Pending::admit(&self.core) {
            Ok(p) => p,
            Err(_) => return Err(RunError::Blown),
        };
        if pending.inject().await {
            return Err(RunError::Injected);
        }
        match tokio::time::timeout(timeout, fut).await {
            Ok(out) => {
                pending.finish(Outcome::of_result(&out));
                out.map_err(RunError::Failed)
            }
            Err(_) => {
                pending.finish(Outcome::Failure);
                Err(RunError::Timeout)
            }
        }
    }

    /// Heals now: ok, empty history, pending heal cancelled. A disabled fuse
    /// stays disabled.
    pub fn reset(&self) {
        let _ = self.core.reset();
    }

    /// Blown until [`enable`](Self::enable), whatever else happens.
    pub fn disable(&self) {
        let _ = self.core.disable();
    }

    /// Ends a [`disable`](Self::disable): ok, empty history. Idempotent.
    pub fn enable(&self) {
        let _ = self.core.enable();
    }

    /// Releases a [`Step::Barrier`] the heal program waits at; a fuse not at
    /// a barrier is unaffected.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Ask, FuseConfig, Fusebox, Heal, Step};
    ///
    /// let fb = Fusebox::new();
    /// fb.install("ledger", FuseConfig::standard(0, Duration::from_secs(1))
    ///     .heal(Heal::program([Step::Barrier])))?;
    /// let ledger = fb.fuse("ledger").unwrap();
    /// ledger.melt();
    /// assert_eq!(ledger.ask(), Ask::Blown);   // waits for the operator
    /// ledger.unlock();
    /// assert_eq!(ledger.ask(), Ask::Ok);
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn unlock(&self) {
        let _ = self.core.unlock();
    }

    /// True while an operator has the fuse disabled: one atomic load, for
    /// telling a refusal by an operator from a refusal by a blow.
    pub fn is_disabled(&self) -> bool {
        self.core.is_disabled()
    }

    /// The fuse's state, melts, config, counters and timing; `None` once removed.
    pub fn snapshot(&self) -> Option<FuseSnapshot> {
        self.core.snapshot()
    }

    /// Injects latency and errors into the calls this fuse admits from now
    /// on ([`Chaos::new`] turns it off); see [`Chaos`]. Kept across a
    /// reinstall of the same name.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use fusebox::{Fusebox, FuseConfig, RunError};
    /// use fusebox::fuse::Chaos;
    ///
    /// let fb = Fusebox::builder().seed(1).build();
    /// fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))?;
    /// let db = fb.fuse("db").unwrap();
    /// db.set_chaos(Chaos::new().error(1.0))?;
    /// assert_eq!(db.run(|| Ok::<_, ()>(1)), Err(RunError::Injected));
    /// assert_eq!(db.chaos(), Chaos::new().error(1.0));
    /// assert!(db.set_chaos(Chaos::new().error(2.0)).is_err());
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A probability outside `[0, 1]` ([`Chaos::validate`]); the chaos in
    /// force is then unchanged.
    pub fn set_chaos(&self, chaos: Chaos) -> Result<(), crate::error::ConfigError> {
        chaos.validate()?;
        self.core.chaos.set(chaos);
        Ok(())
    }

    /// The chaos in force.
    pub fn chaos(&self) -> Chaos {
        self.core.chaos.get()
    }
}

/// An admitted async call that has not reported yet. Dropped unfinished (the
/// caller's future was dropped), it reports `Ignored`, or `Failure` if the
/// drop is part of a panic's unwinding.
pub(crate) struct Pending<'a> {
    core: &'a FuseCore,
    ticket: Option<ticket::Ticket>,
    start: Option<u64>,
}

impl<'a> Pending<'a> {
    pub(crate) fn admit(core: &'a FuseCore) -> Result<Self, Answer> {
        let ticket = core.admit()?;
        Ok(Pending {
            core,
            ticket: Some(ticket),
            start: core.times_calls(&ticket).then(|| core.now()),
        })
    }

    /// Applies the [`Chaos`] drawn for this call: waits an injected
    /// latency (where it can, see `chaos.rs`), and reports an injected
    /// error as the call's failure. True if the call must not be made.
    pub(crate) async fn inject(&mut self) -> bool {
        let Some(chaos) = self.core.chaos.draw(&self.core.env.draws) else {
            return false;
        };
        if let Some(d) = chaos.delay {
            if chaos::pause_async(&self.core.env.timebase, d).await {
                self.core.chaos.waited();
            }
        }
        if chaos.error {
            self.core.chaos.failed();
            self.finish_with(Outcome::Failure);
        }
        chaos.error
    }

    /// [`inject`](Self::inject) on the calling thread: an injected latency
    /// advances a manual clock or sleeps the thread.
    pub(crate) fn inject_blocking(&mut self) -> bool {
        let core = self.core;
        let error = core
            .chaos
            .apply_blocking(&core.env.draws, &core.env.timebase);
        if error {
            self.finish_with(Outcome::Failure);
        }
        error
    }

    pub(crate) fn finish(mut self, outcome: Outcome) {
        self.finish_with(outcome);
    }

    fn finish_with(&mut self, outcome: Outcome) {
        if let Some(ticket) = self.ticket.take() {
            let elapsed = self.start.map(|t| self.core.now().saturating_sub(t));
            self.core.complete(ticket, outcome, elapsed);
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let outcome = if std::thread::panicking() {
                Outcome::Failure
            } else {
                Outcome::Ignored
            };
            self.core.complete(ticket, outcome, None);
        }
    }
}
