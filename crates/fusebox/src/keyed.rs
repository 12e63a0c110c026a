//! Keyed fuses: one fuse per host, tenant or any other key, made from a
//! template on first use and forgotten when idle.
//!
//! A service that talks to many hosts wants one breaker per host, so one
//! bad host does not cut it off from the good ones; a multi-tenant service
//! wants one per tenant, so one noisy tenant does not blow the breaker of
//! the rest. The keys are not known in advance and come and go: Polly's
//! `ResiliencePipelineRegistry` and resilience4j's `CircuitBreakerRegistry`
//! create breakers from a default config on first use by name; Sentinel's
//! hot-parameter flow control keeps a limit per argument value in an LRU
//! map. A [`KeyedFuses`] does the same, with two things those lack: a key
//! that is healthy and idle costs a few words instead of a whole breaker,
//! and it is forgotten after an idle TTL by a sweep of bounded work on the
//! Fusebox's timer, so a million keys seen once do not stay forever.
//!
//! How (see `keyed/slot.rs`): for the `standard` and `consecutive`
//! strategies a healthy key with nothing in its window is a compact record
//! (its last use) in a sharded lock-free map; at its first melt it is
//! *promoted* to a real fuse engine, the same one a named fuse runs, so no
//! rule is implemented twice. Other strategies (fault injection, failure
//! rate, throttle) need their engine from the first call, so their keys are
//! promoted on first use. The sweep (`keyed/sweep.rs`) demotes an engine
//! back to a compact record once it is pristine, and evicts a key unused for
//! the TTL; a blown, healing or disabled key is never forgotten, and a key
//! that blew is kept until it has been healed for the TTL.
//!
//! A family is bounded: at most [`max_keys`](KeyedBuilder::max_keys) keys
//! ([`DEFAULT_MAX_KEYS`] unless set). A new key beyond the bound is not
//! remembered and is answered as a fresh fuse would answer it (ok, its
//! melts dropped), counted in [`KeyedStats::full`]. [`KeyedValves`] (one
//! valve per key, `keyed/valves.rs`) shares the table, the sweep and the
//! builder; a full valve family refuses instead.
//!
//! A promoted key's fuse reports its transitions on the Fusebox's event bus
//! under the name `"{family}/{key}"`. Its fuse is not in the Fusebox's
//! registry: `Fusebox::fuses` and the alarm monitor do not list keyed fuses
//! (a family can hold millions); ask the family for a key's
//! [`snapshot`](KeyedFuses::snapshot). The *family* is known to the
//! Fusebox, by its name, for as long as a clone of it lives
//! (`keyed/family.rs`): [`Fusebox::snapshot`] and the metrics give each
//! family's key counts by state, totals and top keys, bounded however many
//! keys it holds ([`KeyedSnapshot`], `keyed/survey.rs`).

mod builder;
mod counts;
mod family;
mod per_key;
mod slot;
mod survey;
mod sweep;
mod table;
mod valves;

use std::borrow::Borrow;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;

pub use crate::keyed_snapshot::{
    KeyState, KeyStates, KeyedConfig, KeyedKey, KeyedKind, KeyedSnapshot, KeyedStats, KeyedTotals,
    MAX_KEY_LEN, MAX_TOP_KEYS, TOP_KEYS,
};
pub use builder::{KeyedBuilder, DEFAULT_IDLE_TTL, DEFAULT_MAX_KEYS, DEFAULT_SWEEP_BUDGET};
pub use valves::KeyedValves;

use crate::error::{ConfigError, RunError};
use crate::fuse::{Answer, Ask, FuseConfig, FuseCore, FuseSnapshot, Outcome};
use crate::registry::Fusebox;
use table::{Found, Inner, Sizing};

/// A family of fuses, one per key, made from one template on first use.
///
/// Cloning is cheap; all clones share the keys. Keys are `K`, looked up by
/// any borrowed form of it (`&str` for `String` keys). A key's fuse answers
/// as a fuse installed with the template would, from its first use.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Ask, FuseConfig, Fusebox, Heal};
/// use fusebox::keyed::{KeyedBuilder, KeyedFuses};
///
/// let fb = Fusebox::new();
/// let hosts: KeyedFuses<String> = KeyedBuilder::new(
///     FuseConfig::standard(0, Duration::from_secs(10)).heal(Heal::reset(Duration::from_secs(30))),
/// )
/// .idle_ttl(Duration::from_secs(300))
/// .build(&fb, "hosts")?;
///
/// assert_eq!(hosts.ask("a.example"), Ask::Ok);   // created on first use
/// hosts.melt("a.example");                        // blows a.example only
/// assert_eq!(hosts.ask("a.example"), Ask::Blown);
/// assert_eq!(hosts.ask("b.example"), Ask::Ok);
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
pub struct KeyedFuses<K> {
    inner: Arc<Inner<K, FuseCore>>,
}

impl<K> Clone for KeyedFuses<K> {
    fn clone(&self) -> Self {
        KeyedFuses {
            inner: self.inner.clone(),
        }
    }
}

impl<K> std::fmt::Debug for KeyedFuses<K>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<K> KeyedFuses<K>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
{
    fn start(
        template: FuseConfig,
        sizing: Sizing,
        fusebox: &Fusebox,
        family: &str,
    ) -> Result<Self, ConfigError> {
        let inner = Inner::start(family, template, sizing, fusebox);
        let weak: std::sync::Weak<dyn crate::registry::Family> = Arc::downgrade(&inner) as _;
        fusebox.families().register(&inner.family, weak)?;
        Ok(KeyedFuses { inner })
    }

    /// The family's name, the prefix of its fuses' names.
    pub fn family(&self) -> &str {
        &self.inner.family
    }

    /// Ok or blown for `key`, creating it (ok) on first use. For a healthy
    /// compact key: one map lookup and a timestamp, no lock.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{Ask, FuseConfig, Fusebox, Strategy, keyed::{KeyedBuilder, KeyedFuses}};
    /// # let fb = Fusebox::new();
    /// let tenants: KeyedFuses<u64> =
    ///     KeyedBuilder::new(FuseConfig::new(Strategy::consecutive(3))).build(&fb, "tenants")?;
    /// assert_eq!(tenants.ask(&42), Ask::Ok);
    /// assert_eq!(tenants.stats().keys, 1);
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    #[inline]
    pub fn ask<Q>(&self, key: &Q) -> Ask
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let fast = self.inner.read(key, |core| match core {
            None => Some(Ask::Ok),
            Some(core) => answer(core.ask()),
        });
        match fast {
            Some(a) => a,
            None => loop {
                match self.inner.slow(key, false) {
                    // A key the full family cannot hold answers as a
                    // fresh fuse: ok.
                    Found::Compact | Found::Full => return Ask::Ok,
                    Found::Live(core) => {
                        if let Some(a) = answer(core.ask()) {
                            return a;
                        }
                    }
                }
            },
        }
    }

    /// Records a melt for `key` (giving it an engine if it had none); may
    /// blow it and no other key.
    pub fn melt<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.with_engine(key, |core| core.melt());
    }

    /// Reports a success for `key`. A compact key stays compact: for its
    /// strategy a success changes nothing but a counter it does not keep.
    pub fn success<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let fast = self.inner.read(key, |core| match core {
            None => Some(()),
            Some(core) => (core.success() != Answer::Removed).then_some(()),
        });
        if fast.is_none() {
            if let Found::Live(core) = self.inner.slow(key, false) {
                let _ = core.success();
            }
        }
    }

    /// Heals `key` now (see [`Fuse::reset`](crate::Fuse::reset)); a key
    /// without an engine is healthy already.
    pub fn reset<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(core) = self.inner.engine(key) {
            let _ = core.reset();
        }
    }

    /// Blows `key` until [`enable`](Self::enable); a disabled key is never
    /// forgotten.
    pub fn disable<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.with_engine(key, |core| core.disable());
    }

    /// Ends a [`disable`](Self::disable) of `key`. Idempotent.
    pub fn enable<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(core) = self.inner.engine(key) {
            let _ = core.enable();
        }
    }

    /// Releases a [`Step::Barrier`](crate::Step::Barrier) `key` waits at.
    pub fn unlock<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(core) = self.inner.engine(key) {
            let _ = core.unlock();
        }
    }

    /// The snapshot of `key`'s fuse if it has an engine; `None` for a key
    /// that is compact (healthy, nothing in its window) or unknown.
    pub fn snapshot<Q>(&self, key: &Q) -> Option<FuseSnapshot>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.engine(key).and_then(|c| c.snapshot())
    }

    /// The family's counts.
    pub fn stats(&self) -> KeyedStats {
        self.inner.stats()
    }

    /// Runs one sweep now (the timer runs them every `sweep_every`);
    /// returns how many keys it looked at, at most the sweep budget.
    pub fn sweep(&self) -> usize {
        self.inner.sweep()
    }

    /// [`Fuse::run`](crate::Fuse::run) for `key`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox, RunError, keyed::{KeyedBuilder, KeyedFuses}};
    /// # let fb = Fusebox::new();
    /// let hosts: KeyedFuses<String> =
    ///     KeyedBuilder::new(FuseConfig::standard(0, Duration::from_secs(10))).build(&fb, "hosts")?;
    /// assert_eq!(hosts.run("a", || Err::<(), _>("down")), Err(RunError::Failed("down")));
    /// assert_eq!(hosts.run("a", || Ok::<_, ()>(1)), Err(RunError::Blown));
    /// assert_eq!(hosts.run("b", || Ok::<_, ()>(1)), Ok(1));
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn run<Q, T, E>(&self, key: &Q, f: impl FnOnce() -> Result<T, E>) -> Result<T, RunError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.run_classified(key, f, Outcome::of_result)
    }

    /// [`Fuse::run_classified`](crate::Fuse::run_classified) for `key`.
    pub fn run_classified<Q, T, E>(
        &self,
        key: &Q,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let call = self.admit(key).ok_or(RunError::Blown)?;
        let out = f();
        call.finish(classify(&out));
        out.map_err(RunError::Failed)
    }

    /// [`Fuse::call`](crate::Fuse::call) for `key`, on any runtime.
    ///
    /// # Cancel safety
    ///
    /// As [`Fuse::call`](crate::Fuse::call): dropped before its first poll
    /// it did nothing (not even create the key); dropped after admission it
    /// reports [`Outcome::Ignored`] and frees a probe slot it held; dropped
    /// while unwinding it counts as a failure.
    pub async fn call<Q, T, E, F>(&self, key: &Q, fut: F) -> Result<T, RunError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: std::future::Future<Output = Result<T, E>>,
    {
        self.call_classified(key, fut, Outcome::of_result).await
    }

    /// [`Fuse::call_classified`](crate::Fuse::call_classified) for `key`.
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Self::call).
    pub async fn call_classified<Q, T, E, F>(
        &self,
        key: &Q,
        fut: F,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: std::future::Future<Output = Result<T, E>>,
    {
        let call = self.admit(key).ok_or(RunError::Blown)?;
        let out = fut.await;
        call.finish(classify(&out));
        out.map_err(RunError::Failed)
    }

    /// `f` on `key`'s engine, giving it one if it has none; again if the
    /// engine was retired under us.
    fn with_engine<Q>(&self, key: &Q, f: impl Fn(&FuseCore) -> Answer)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let fast = self.inner.read(key, |core| {
            let core = core?;
            (f(core.as_ref()) != Answer::Removed).then_some(())
        });
        if fast.is_none() {
            while let Found::Live(core) = self.inner.slow(key, true) {
                if f(&core) != Answer::Removed {
                    return;
                }
            }
        }
    }

    /// Admits a call for `key`, or `None` if refused.
    fn admit<'a, Q>(&'a self, key: &'a Q) -> Option<Call<'a, K, Q>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let decide = |core: Option<&Arc<FuseCore>>| -> Option<Option<Admission>> {
            match core {
                None => Some(Some(Admission::Fresh)),
                Some(core) => match core.admit() {
                    Ok(t) => {
                        let start = core.times_calls(&t).then(|| core.now());
                        Some(Some(Admission::Core(core.clone(), t, start)))
                    }
                    Err(Answer::Blown) => Some(None),
                    Err(_) => None,
                },
            }
        };
        let admission = match self.inner.read(key, decide) {
            Some(a) => a,
            None => loop {
                let found = self.inner.slow(key, false);
                let core = match &found {
                    Found::Compact | Found::Full => None,
                    Found::Live(core) => Some(core),
                };
                if let Some(a) = decide(core) {
                    break a;
                }
            },
        };
        admission.map(|a| Call {
            inner: &self.inner,
            key,
            admission: Some(a),
        })
    }
}

fn answer(a: Answer) -> Option<Ask> {
    match a {
        Answer::Ok => Some(Ask::Ok),
        Answer::Blown => Some(Ask::Blown),
        Answer::Removed => None,
    }
}

/// How a call was let in: by a compact key (no engine: its outcome matters
/// only if it failed), or by an engine, with its ticket and start time.
enum Admission {
    Fresh,
    Core(Arc<FuseCore>, crate::fuse::Ticket, Option<u64>),
}

/// An admitted call that has not reported yet; dropped unfinished it
/// reports `Ignored`, or `Failure` while unwinding (as `Fuse::call`).
struct Call<'a, K, Q>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static + Borrow<Q>,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
{
    inner: &'a Inner<K, FuseCore>,
    key: &'a Q,
    admission: Option<Admission>,
}

impl<K, Q> Call<'_, K, Q>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static + Borrow<Q>,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
{
    fn finish(mut self, outcome: Outcome) {
        if let Some(a) = self.admission.take() {
            self.report(a, outcome);
        }
    }

    fn report(&self, a: Admission, outcome: Outcome) {
        match a {
            Admission::Core(core, ticket, start) => {
                let elapsed = start.map(|t| core.now().saturating_sub(t));
                core.complete(ticket, outcome, elapsed);
            }
            // A compact key admitted the call as a fresh fuse would have:
            // a failure goes to the key's engine with the ticket of a fresh
            // fuse, so it counts only if that engine has not blown since.
            Admission::Fresh if outcome == Outcome::Failure => {
                if let Found::Live(core) = self.inner.slow(self.key, true) {
                    core.complete(core.fresh_ticket(), outcome, None);
                }
            }
            Admission::Fresh => {}
        }
    }
}

impl<K, Q> Drop for Call<'_, K, Q>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static + Borrow<Q>,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
{
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            let outcome = if std::thread::panicking() {
                Outcome::Failure
            } else {
                Outcome::Ignored
            };
            self.report(a, outcome);
        }
    }
}
