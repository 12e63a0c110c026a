//! Keyed valves: one valve per host, tenant or any other key, made from a
//! template [`ValveConfig`] on first use and forgotten when idle.
//!
//! A keyed fuse keeps one bad host from cutting a service off from the
//! good ones; a keyed valve keeps one busy host (or one noisy tenant) from
//! taking every slot: each key gets its own concurrency limit, rate and
//! queue, the template's. The family is the same as [`KeyedFuses`](super::KeyedFuses):
//! the same sharded table, the same bounded sweep on the Fusebox's timer,
//! the same [`KeyedBuilder`](super::KeyedBuilder). Two things differ:
//!
//! * a valve has no compact form: its free slots and its queue are its
//!   state, so a key holds its valve from the first use;
//! * a key is forgotten only when its valve has no permit held and no task
//!   waiting, and no acquire came for the idle TTL. A permit held for
//!   longer than the TTL keeps the key; its release does not count as a
//!   use, so the key may go at the next sweep after it.
//!
//! A key's valve is named `"{family}/{key}"`. Like keyed fuses, keyed
//! valves are not in the Fusebox's registry: ask the family for
//! [`snapshot`](KeyedValves::snapshot) and [`stats`](KeyedValves::stats).

use std::borrow::Borrow;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use std::sync::atomic::Ordering::Relaxed;

use super::counts::{Counts, COUNTS};
use super::per_key::PerKey;
use super::table::{Found, Inner, Sizing};
use super::KeyedStats;
use crate::error::ConfigError;
use crate::event::Bus;
use crate::fuse::{Env, FuseCore};
use crate::keyed_snapshot::{KeyState, KeyedKey, KeyedKind, KEYED_REASONS};
use crate::registry::Fusebox;
use crate::valve::engine::{reason_index, ValveCore};
use crate::valve::{Permit, Refused, Valve, ValveConfig, ValveSnapshot};

/// What every key's valve is made from: the config, its guard resolved
/// once at `build`, and the bus valves report to.
#[derive(Debug)]
pub(crate) struct ValveTemplate {
    config: ValveConfig,
    guard: Option<Arc<FuseCore>>,
    bus: Arc<Bus>,
}

impl PerKey for ValveCore {
    type Template = ValveTemplate;
    const FAMILY: &'static str = "KeyedValves";

    fn make(name: Arc<str>, t: &ValveTemplate, env: &Arc<Env>) -> Arc<Self> {
        ValveCore::new(
            name,
            t.config.clone(),
            t.guard.clone(),
            env.clone(),
            t.bus.clone(),
        )
    }

    fn compact(_: &ValveTemplate) -> bool {
        false
    }

    /// The family has already found the key unused for the TTL.
    fn retire_if_idle(&self, _ttl: u64) -> bool {
        ValveCore::retire_if_idle(self)
    }

    fn is_removed(&self) -> bool {
        ValveCore::is_removed(self)
    }

    const KIND: KeyedKind = KeyedKind::Valves;
    type View = ValveView;

    fn view(&self) -> Option<ValveView> {
        if ValveCore::is_removed(self) {
            return None;
        }
        // Ordering: statistics, read independently.
        let count = |r: Refused| self.stats.refused[reason_index(r)].load(Relaxed);
        let mut refused = [0; KEYED_REASONS.len()];
        for (n, &r) in refused.iter_mut().zip(KEYED_REASONS.iter()) {
            *n = count(r);
        }
        Some(ValveView {
            admitted: self.stats.admitted.load(Relaxed),
            refused,
            in_flight: self.in_flight(),
            queued: self.queued(),
        })
    }

    fn settled_view(&self) -> Option<ValveView> {
        PerKey::view(self)
    }

    /// Admitted, then refused by reason in the order of [`KEYED_REASONS`].
    fn counts(v: &ValveView) -> Counts {
        let mut out = [0; COUNTS];
        out[0] = v.admitted;
        out[1..=KEYED_REASONS.len()].copy_from_slice(&v.refused);
        out
    }

    fn state(v: &ValveView) -> KeyState {
        if v.in_flight + v.queued > 0 {
            KeyState::Busy
        } else {
            KeyState::Idle
        }
    }

    /// Keys that refused a task, by refusals.
    fn rank(v: &ValveView) -> Option<(u64, u64)> {
        let refused: u64 = v.refused.iter().sum();
        (refused > 0).then_some((refused, 0))
    }

    fn top_key(key: String, v: &ValveView) -> KeyedKey {
        KeyedKey {
            key,
            state: Self::state(v),
            refused: v.refused.iter().sum(),
            blows: 0,
            last_blow: None,
            next_heal: None,
            in_flight: v.in_flight,
            queued: v.queued,
        }
    }

    fn template(t: &ValveTemplate) -> (Option<crate::fuse::FuseConfig>, Option<ValveConfig>) {
        (None, Some(t.config.clone()))
    }
}

/// What a snapshot reads of one key's valve.
#[derive(Debug)]
pub(crate) struct ValveView {
    admitted: u64,
    refused: [u64; KEYED_REASONS.len()],
    in_flight: usize,
    queued: usize,
}

/// A family of valves, one per key, made from one template on first use.
///
/// Cloning is cheap; all clones share the keys. Keys are `K`, looked up by
/// any borrowed form of it (`&str` for `String` keys).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Fusebox, Refused, ValveConfig};
/// use fusebox::keyed::{KeyedBuilder, KeyedValves};
///
/// let fb = Fusebox::new();
/// let tenants: KeyedValves<String> = KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
///     .idle_ttl(Duration::from_secs(60))
///     .max_keys(10_000)
///     .build(&fb, "tenants")?;
///
/// let a = tenants.try_acquire("acme")?;                  // created on first use
/// assert_eq!(tenants.try_acquire("acme").unwrap_err(), Refused::Busy);
/// let b = tenants.try_acquire("globex")?;                 // a limit of its own
/// drop((a, b));
/// assert_eq!(tenants.stats().keys, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyedValves<K> {
    inner: Arc<Inner<K, ValveCore>>,
}

impl<K> Clone for KeyedValves<K> {
    fn clone(&self) -> Self {
        KeyedValves {
            inner: self.inner.clone(),
        }
    }
}

impl<K> std::fmt::Debug for KeyedValves<K>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<K> KeyedValves<K>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
{
    pub(super) fn start(
        config: ValveConfig,
        sizing: Sizing,
        fusebox: &Fusebox,
        family: &str,
    ) -> Result<Self, ConfigError> {
        let guard = fusebox.guard_of(&config)?;
        let template = ValveTemplate {
            config,
            guard,
            bus: fusebox.bus().clone(),
        };
        let inner = Inner::start(family, template, sizing, fusebox);
        let weak: std::sync::Weak<dyn crate::registry::Family> = Arc::downgrade(&inner) as _;
        fusebox
            .families()
            .register(&inner.family, weak)
            .map_err(ConfigError::for_valve)?;
        Ok(KeyedValves { inner })
    }

    /// The family's name, the prefix of its valves' names.
    pub fn family(&self) -> &str {
        &self.inner.family
    }

    /// [`Valve::try_acquire`] for `key`, creating its valve on first use.
    ///
    /// # Errors
    ///
    /// As [`Valve::try_acquire`], and [`Refused::TooManyKeys`] for a new
    /// key when the family holds its `max_keys`.
    pub fn try_acquire<Q>(&self, key: &Q) -> Result<Permit, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.on_valve(key, Valve::try_acquire)
    }

    /// [`Valve::acquire`] for `key`, on any runtime.
    ///
    /// # Cancel safety
    ///
    /// As [`Valve::acquire`]: dropped before its first poll it did nothing
    /// (not even create the key); dropped while waiting its waiter leaves
    /// the queue, and a slot granted meanwhile is handed on.
    ///
    /// ```
    /// # use fusebox::{Fusebox, ValveConfig, keyed::{KeyedBuilder, KeyedValves}};
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let fb = Fusebox::new();
    /// let hosts: KeyedValves<String> =
    ///     KeyedBuilder::new(ValveConfig::new().concurrency(4)).build(&fb, "hosts")?;
    /// let permit = block_on(hosts.acquire("a.example"))?;   // .await on a runtime
    /// assert_eq!(hosts.snapshot("a.example").unwrap().in_flight, 1);
    /// # drop(permit);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn acquire<Q>(&self, key: &Q) -> Result<Permit, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        loop {
            match self.valve(key)?.acquire().await {
                // Retired before we entered (a retired valve has no
                // waiter): the family makes a fresh one.
                Err(Refused::Removed) => continue,
                r => return r,
            }
        }
    }

    /// [`Valve::acquire_blocking`] for `key`.
    pub fn acquire_blocking<Q>(&self, key: &Q) -> Result<Permit, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.on_valve(key, Valve::acquire_blocking)
    }

    /// [`Valve::run`] for `key`.
    ///
    /// # Cancel safety
    ///
    /// As [`Valve::run`]: no slot is lost wherever the future is dropped.
    pub async fn run<Q, T>(&self, key: &Q, task: impl Future<Output = T>) -> Result<T, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let permit = self.acquire(key).await?;
        Ok(permit.run(task).await)
    }

    /// [`Valve::run_blocking`] for `key`.
    pub fn run_blocking<Q, T>(&self, key: &Q, f: impl FnOnce() -> T) -> Result<T, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let _permit = self.acquire_blocking(key)?;
        Ok(f())
    }

    /// The snapshot of `key`'s valve; `None` for a key not held.
    pub fn snapshot<Q>(&self, key: &Q) -> Option<ValveSnapshot>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.engine(key).map(|c| ValveSnapshot::of(&c))
    }

    /// The family's counts (every key held has its valve: `live == keys`).
    pub fn stats(&self) -> KeyedStats {
        self.inner.stats()
    }

    /// Runs one sweep now (the timer runs them every `sweep_every`);
    /// returns how many keys it looked at, at most the sweep budget.
    pub fn sweep(&self) -> usize {
        self.inner.sweep()
    }

    /// `f` on `key`'s valve; again on a fresh one if it was retired under
    /// us (a retired valve refuses with `Removed`).
    fn on_valve<Q>(
        &self,
        key: &Q,
        f: impl Fn(&Valve) -> Result<Permit, Refused>,
    ) -> Result<Permit, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        loop {
            match f(&self.valve(key)?) {
                Err(Refused::Removed) => continue,
                r => return r,
            }
        }
    }

    /// `key`'s valve, made from the template if it has none; touched.
    fn valve<Q>(&self, key: &Q) -> Result<Valve, Refused>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let fast = self
            .inner
            .read(key, |core| core.filter(|c| !c.is_removed()).cloned());
        let core = match fast {
            Some(core) => core,
            None => match self.inner.slow(key, true) {
                Found::Live(core) => core,
                Found::Full => return Err(Refused::TooManyKeys),
                Found::Compact => unreachable!("a valve template is never compact"),
            },
        };
        Ok(Valve::from_core(core))
    }
}
