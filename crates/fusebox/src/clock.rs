//! Time, as the fuses see it.
//!
//! Every timestamp a fuse records is taken *inside* the fuse from its
//! [`Fusebox`](crate::Fusebox)'s clock, never from a caller: a caller's clock may
//! be skewed, and a melt stamped by the caller could land in the wrong window.
//! Erlang fuse made the same choice and kept `fuse_time.erl` only so tests could
//! substitute it; we do the same with the [`Clock`] trait.
//!
//! Two clocks ship with the crate:
//!
//! - [`MonotonicClock`], the default: the operating system's monotonic clock.
//!   On Linux its [`now_coarse`](Clock::now_coarse) reads
//!   `CLOCK_MONOTONIC_COARSE` (about 3 ns through the vDSO, 4 ms resolution,
//!   never ahead of the fine clock), which is what a blown fuse uses to check its
//!   heal deadline without paying for a precise reading (about 20 ns).
//! - [`ManualClock`], for tests and simulations: time stands still until you
//!   [`advance`](ManualClock::advance) it, and advancing it runs every heal and
//!   alarm look that fell due, on the caller's thread, before `advance` returns.
//!   Exact timing is therefore testable without sleeping.
//!
//! Times are [`Duration`]s since the clock's own epoch (its creation for the
//! monotonic clock, zero for the manual clock).
//!
//! This module depends on nothing else in the crate: a clock is a clock. The
//! Fusebox's timer attaches itself to a manual clock through `Advanced`,
//! an interface the clock owns, so that advancing time can run what fell due.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::sync::{lock, Mutex};

/// A source of monotonic time for a [`Fusebox`](crate::Fusebox).
///
/// Implement it to drive fuses from a clock of your own (a simulation, say).
/// A custom clock is polled by the Fusebox's timer thread as if it were real
/// time; for a clock that only moves when told to, use [`ManualClock`].
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Clock, Fusebox};
///
/// #[derive(Debug)]
/// struct Frozen;
/// impl Clock for Frozen {
///     fn now(&self) -> Duration { Duration::from_secs(42) }
/// }
///
/// let fb = Fusebox::builder().clock(Frozen).build();
/// assert_eq!(fb.now(), Duration::from_secs(42));
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The time since this clock's epoch. Must never decrease.
    fn now(&self) -> Duration;

    /// A cheaper reading that may lag [`now`](Clock::now) by a few
    /// milliseconds but is never ahead of it. Used only to decide whether a
    /// blown fuse's heal deadline has passed; the default is `now()`.
    fn now_coarse(&self) -> Duration {
        self.now()
    }

    /// Which built-in clock this is, if any, so a Fusebox can read the two
    /// built-in clocks without a virtual call. Leave the default.
    #[doc(hidden)]
    fn builtin(&self) -> Option<Builtin<'_>> {
        None
    }
}

/// The built-in clocks, as [`Clock::builtin`] names them. Not part of the
/// public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Builtin<'a> {
    /// The operating system's clock.
    Monotonic(&'a MonotonicClock),
    /// A clock that moves by hand.
    Manual(&'a ManualClock),
}

/// Told by a [`ManualClock`] after it moved, so whatever fell due can run:
/// the Fusebox's timer registers itself this way. The clock holds it weakly.
pub(crate) trait Advanced: Send + Sync {
    /// Time now reads `now` nanoseconds.
    fn advanced(&self, now: u64);
}

/// The operating system's monotonic clock, counted from the moment this value
/// was created. The default clock of a [`Fusebox`](crate::Fusebox).
///
/// # Example
///
/// ```
/// use fusebox::{Clock, clock::MonotonicClock};
///
/// let clock = MonotonicClock::new();
/// let a = clock.now();
/// let b = clock.now();
/// assert!(b >= a);
/// assert!(clock.now_coarse() <= clock.now());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    epoch: u64,
}

impl MonotonicClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        MonotonicClock { epoch: os::fine() }
    }

    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        os::fine().saturating_sub(self.epoch)
    }

    #[inline]
    pub(crate) fn nanos_coarse(&self) -> u64 {
        os::coarse().saturating_sub(self.epoch)
    }

    /// How far the coarse reading may lag the precise one, in ns: twice
    /// its resolution (one tick, as `clock_getres` reports it; doubled for
    /// a tick that comes late), 0 where the coarse reading is the precise
    /// one.
    pub(crate) fn coarse_lag(&self) -> u64 {
        os::coarse_resolution().saturating_mul(2)
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }
    fn now_coarse(&self) -> Duration {
        Duration::from_nanos(self.nanos_coarse())
    }
    fn builtin(&self) -> Option<Builtin<'_>> {
        Some(Builtin::Monotonic(self))
    }
}

#[cfg(target_os = "linux")]
mod os {
    //! Both readings come from the same kernel timekeeper, so the coarse one
    //! (updated once per scheduler tick) is never ahead of the fine one.
    //! See clock_gettime(2): "CLOCK_MONOTONIC_COARSE: A faster but less
    //! precise version of CLOCK_MONOTONIC."

    #[inline(always)]
    fn read(id: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and both clock ids exist
        // on every Linux since 2.6.32; clock_gettime writes only to `ts`.
        let rc = unsafe { libc::clock_gettime(id, &mut ts) };
        debug_assert_eq!(rc, 0);
        (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64)
    }

    #[inline]
    pub(super) fn fine() -> u64 {
        read(libc::CLOCK_MONOTONIC)
    }

    #[inline]
    pub(super) fn coarse() -> u64 {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }

    /// The coarse clock's resolution (its tick), `u64::MAX` if unknown.
    pub(super) fn coarse_resolution() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; clock_getres writes
        // only to it, and the clock id exists on every Linux since 2.6.32.
        let rc = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        if rc != 0 {
            return u64::MAX;
        }
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use std::sync::OnceLock;
    use std::time::Instant;

    fn base() -> Instant {
        static BASE: OnceLock<Instant> = OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    pub(super) fn fine() -> u64 {
        base().elapsed().as_nanos() as u64
    }

    pub(super) fn coarse() -> u64 {
        fine()
    }

    /// The coarse reading is the precise one.
    pub(super) fn coarse_resolution() -> u64 {
        0
    }
}

/// A clock that moves only when told to; for tests and simulations.
///
/// Clones share one time. A [`Fusebox`](crate::Fusebox) built on a manual
/// clock has no timer thread: [`advance`](ManualClock::advance) runs every heal
/// and alarm look that fell due, in deadline order, before it returns.
///
/// ```text
///  t=0        melt x3 → blown (reset after 60 s)
///  advance(59 s)         still blown
///  advance(1 s)  t=60 s  the heal runs inside advance(): ok, event sent
/// ```
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock};
///
/// let clock = ManualClock::new();
/// let fb = Fusebox::builder().clock(clock.clone()).build();
/// fb.install("db", FuseConfig::standard(0, Duration::from_secs(1))
///     .heal(Heal::reset(Duration::from_secs(60)))).unwrap();
/// fb.melt("db").unwrap();
/// assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Default)]
struct ManualInner {
    nanos: AtomicU64,
    watchers: Mutex<Vec<Weak<dyn Advanced>>>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` and runs every timer that fell due.
    pub fn advance(&self, by: Duration) {
        self.advance_quietly(by);
        self.run_due();
    }

    /// Moves time forward by `by` *without* running due timers, as if the
    /// timer thread were late. Fuses must still answer as healed once their
    /// deadline has passed; this lets a test prove it.
    pub fn advance_quietly(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Ordering: the clock is one word read by every fuse; SeqCst keeps
        // "advance happened before this melt read the time" simple to reason
        // about in tests, and advancing is never on a hot path.
        let _ = self
            .inner
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Runs the timers that are due at the current time (what
    /// [`advance`](ManualClock::advance) does after moving time).
    pub fn run_due(&self) {
        let watchers: Vec<Arc<dyn Advanced>> = {
            let mut l = lock(&self.inner.watchers);
            l.retain(|w| w.strong_count() > 0);
            l.iter().filter_map(Weak::upgrade).collect()
        };
        let now = self.nanos();
        for w in watchers {
            w.advanced(now);
        }
    }

    pub(crate) fn nanos(&self) -> u64 {
        self.inner.nanos.load(Ordering::SeqCst)
    }

    /// Tells `w` after every advance, for as long as it lives.
    pub(crate) fn watch(&self, w: Weak<dyn Advanced>) {
        lock(&self.inner.watchers).push(w);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }
    fn builtin(&self) -> Option<Builtin<'_>> {
        Some(Builtin::Manual(self))
    }
}

/// The clock a Fusebox actually uses: the two built-in clocks are matched
/// statically so the hot path pays no virtual call.
#[derive(Debug, Clone)]
pub(crate) enum Timebase {
    Monotonic(MonotonicClock),
    Manual(ManualClock),
    Custom(Arc<dyn Clock>),
}

impl Timebase {
    pub(crate) fn from_clock<C: Clock>(clock: C) -> Self {
        match clock.builtin() {
            Some(Builtin::Manual(m)) => Timebase::Manual(m.clone()),
            Some(Builtin::Monotonic(m)) => Timebase::Monotonic(*m),
            None => Timebase::Custom(Arc::new(clock)),
        }
    }

    /// Nanoseconds since the epoch, precise.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Timebase::Monotonic(c) => c.nanos(),
            Timebase::Manual(c) => c.nanos(),
            Timebase::Custom(c) => duration_nanos(c.now()),
        }
    }

    /// Nanoseconds since the epoch, possibly a few ms behind [`Self::now`].
    #[inline]
    pub(crate) fn now_coarse(&self) -> u64 {
        match self {
            Timebase::Monotonic(c) => c.nanos_coarse(),
            Timebase::Manual(c) => c.nanos(),
            Timebase::Custom(c) => duration_nanos(c.now_coarse()),
        }
    }

    /// A bound on how far [`Self::now_coarse`] lags [`Self::now`], in ns:
    /// known for the built-in clocks (0 for a manual one), `u64::MAX` for a
    /// custom clock, whose coarse reading promises no bound.
    pub(crate) fn coarse_lag(&self) -> u64 {
        match self {
            Timebase::Monotonic(c) => c.coarse_lag(),
            Timebase::Manual(_) => 0,
            Timebase::Custom(_) => u64::MAX,
        }
    }

    /// The manual clock, if time moves by hand.
    pub(crate) fn manual(&self) -> Option<&ManualClock> {
        match self {
            Timebase::Manual(c) => Some(c),
            _ => None,
        }
    }
}

/// A duration as nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(5));
        assert_eq!(b.now(), Duration::from_millis(5));
    }

    #[test]
    fn coarse_never_ahead() {
        let c = MonotonicClock::new();
        for _ in 0..1000 {
            let coarse = c.nanos_coarse();
            let fine = c.nanos();
            assert!(coarse <= fine, "coarse {coarse} ahead of fine {fine}");
        }
    }

    #[test]
    fn timebase_recognises_builtin_clocks() {
        assert!(Timebase::from_clock(ManualClock::new()).manual().is_some());
        assert!(matches!(
            Timebase::from_clock(MonotonicClock::new()),
            Timebase::Monotonic(_)
        ));
    }
}
