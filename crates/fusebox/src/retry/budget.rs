//! A retry budget: retries at most a ratio of first attempts, plus a floor.
//!
//! Why a budget and not just a maximum number of attempts: "retry up to 3
//! times" is harmless while a dependency is healthy and ruinous when it is
//! not. When every call fails, every call is made four times, and a
//! dependency already in trouble sees four times its load: a retry storm.
//! A budget ties retries to the traffic that earns them. Each first attempt
//! *deposits* `ratio` of a retry; each retry *withdraws* one; a retry that
//! finds the budget empty is not made. During an outage the load on the
//! dependency stays within `(1 + ratio)` times what clients send, and a
//! floor of `min_per_sec` retries per second keeps a quiet service able to
//! retry at all. The idea and its parameters are Finagle's `RetryBudget`
//! (Twitter, "Finagle: retry budgets", `com.twitter.finagle.service.RetryBudget`:
//! `ttl`, `minRetriesPerSec`, `percentCanRetry`) and tower's `TpsBudget`
//! (`tower/src/retry/budget/tps_budget.rs`), whose deposits also expire
//! after a `ttl` in a ring of slots.
//!
//! # The rule, exactly
//!
//! Time is cut into slots of `ttl / 10`; the budget keeps the last 10 slots
//! (a ring of ten buckets, memory fixed whatever the rate). At time `now`,
//! in slot `k = ⌊now / slot⌋`, the *window* is the slots `k-9 ..= k`. With
//! `F` the first attempts and `R` the retries recorded in the window, and
//! all in thousandths of a retry:
//!
//! ```text
//!   earn    = round(ratio · 1000)        per first attempt
//!   reserve = min_per_sec · ttl_ms       the floor, over the window
//!   a retry is allowed  ⇔  1000 · (R + 1) ≤ earn · F + reserve
//! ```
//!
//! So at the instant of every withdrawal, counting it,
//! `R ≤ ratio·F + min_per_sec·ttl` over the window (the property
//! `tests/retry_budget.rs` checks against a plain reference on generated
//! traces). A first attempt counted at the end of one window still pays for
//! retries early in the next, so over an arbitrary stretch of ten slots the
//! retries are bounded by `ratio` times the first attempts of that stretch
//! *and the ten slots before it*, plus the reserve; in a steady outage that
//! is the `(1 + ratio)` above.
//!
//! # Concurrency
//!
//! One short lock around the ten buckets; no user code runs under it, and
//! a deposit or withdrawal is a few additions. (tower's `TpsBudget` uses
//! atomics per slot and accepts a racy window; a lock keeps the rule above
//! exact.) The counters beside it are relaxed atomics: statistics only.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::duration_nanos;
use crate::error::ConfigError;
use crate::sync::{lock, AtomicU64, Mutex};

/// How many slots a budget's window is cut into.
const SLOTS: usize = 10;
/// A retry, in the budget's units.
const COST: u64 = 1000;

/// A retry budget shared by every caller of one dependency. Clones share
/// one budget.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::retry::RetryBudget;
///
/// // 20% of first attempts may be retried, and 1 retry a second regardless.
/// let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.2)?;
/// let now = Duration::ZERO;
/// for _ in 0..10 { budget.deposit(now); }      // ten first attempts earn 2 retries
/// let made = (0..100).filter(|_| budget.try_withdraw(now)).count();
/// assert_eq!(made, 2 + 10);                      // 0.2 · 10 + 1/s · 10 s
/// assert_eq!(budget.stats().exhausted, 88);
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    /// Slot length in ns (`ttl / 10`, at least 1).
    slot: u64,
    ttl: Duration,
    ratio: f64,
    min_per_sec: u32,
    /// Thousandths of a retry earned per first attempt.
    earn: u64,
    /// Thousandths of a retry always available over the window.
    reserve: u64,
    ring: Mutex<[Bucket; SLOTS]>,
    deposits: AtomicU64,
    withdrawals: AtomicU64,
    exhausted: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// The slot this bucket holds; a bucket whose slot left the window is
    /// stale and counts as empty.
    slot: u64,
    firsts: u64,
    retries: u64,
}

/// What a [`RetryBudget`] has counted since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BudgetStats {
    /// First attempts deposited.
    pub deposits: u64,
    /// Retries withdrawn (made).
    pub withdrawals: u64,
    /// Retries refused because the budget was empty.
    pub exhausted: u64,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ttl", &self.inner.ttl)
            .field("min_per_sec", &self.inner.min_per_sec)
            .field("ratio", &self.inner.ratio)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RetryBudget {
    /// A budget over a window of `ttl` (10 ms to 1 hour): each first
    /// attempt earns `ratio` retries (0 to 1000), and `min_per_sec` retries
    /// a second are always available. Finagle's defaults are
    /// `(10 s, 10, 0.2)`.
    pub fn new(ttl: Duration, min_per_sec: u32, ratio: f64) -> Result<Self, ConfigError> {
        if ttl < Duration::from_millis(10) || ttl > Duration::from_secs(3600) {
            return Err(ConfigError::retry(
                "budget.ttl",
                ttl,
                "must be between 10 ms and 1 hour",
            ));
        }
        if !(0.0..=1000.0).contains(&ratio) {
            return Err(ConfigError::retry(
                "budget.ratio",
                ratio,
                "must be between 0 and 1000",
            ));
        }
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Ok(RetryBudget {
            inner: Arc::new(Inner {
                slot: (duration_nanos(ttl) / SLOTS as u64).max(1),
                ttl,
                ratio,
                min_per_sec,
                earn: (ratio * COST as f64).round() as u64,
                reserve: u64::from(min_per_sec).saturating_mul(ttl_ms),
                ring: Mutex::new([Bucket::default(); SLOTS]),
                deposits: AtomicU64::new(0),
                withdrawals: AtomicU64::new(0),
                exhausted: AtomicU64::new(0),
            }),
        })
    }

    /// The window.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Retries earned per first attempt.
    pub fn ratio(&self) -> f64 {
        self.inner.ratio
    }

    /// Retries a second always available.
    pub fn min_per_sec(&self) -> u32 {
        self.inner.min_per_sec
    }

    /// Records a first attempt at `now` (time since the clock's epoch).
    pub fn deposit(&self, now: Duration) {
        let k = self.slot_of(now);
        {
            let mut ring = lock(&self.inner.ring);
            bucket(&mut ring, k).firsts += 1;
        }
        // Ordering: a statistic, read by nobody who needs it ordered.
        self.inner.deposits.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget at `now` if it holds one: `true`
    /// means the retry may be made (and is counted), `false` that it must
    /// not (counted as exhausted).
    pub fn try_withdraw(&self, now: Duration) -> bool {
        let k = self.slot_of(now);
        let ok = {
            let mut ring = lock(&self.inner.ring);
            let (f, r) = window(&ring, k);
            let ok = self.allows(f, r);
            if ok {
                bucket(&mut ring, k).retries += 1;
            }
            ok
        };
        let counter = if ok {
            &self.inner.withdrawals
        } else {
            &self.inner.exhausted
        };
        counter.fetch_add(1, Ordering::Relaxed);
        ok
    }

    /// How many whole retries the budget would allow at `now`.
    pub fn available(&self, now: Duration) -> u64 {
        let k = self.slot_of(now);
        let (f, r) = window(&lock(&self.inner.ring), k);
        let have = self
            .inner
            .earn
            .saturating_mul(f)
            .saturating_add(self.inner.reserve);
        (have / COST).saturating_sub(r)
    }

    /// What the budget has counted.
    pub fn stats(&self) -> BudgetStats {
        BudgetStats {
            deposits: self.inner.deposits.load(Ordering::Relaxed),
            withdrawals: self.inner.withdrawals.load(Ordering::Relaxed),
            exhausted: self.inner.exhausted.load(Ordering::Relaxed),
        }
    }

    /// The rule: `1000 · (R + 1) ≤ earn · F + reserve`.
    fn allows(&self, firsts: u64, retries: u64) -> bool {
        let need = COST.saturating_mul(retries.saturating_add(1));
        let have = self
            .inner
            .earn
            .saturating_mul(firsts)
            .saturating_add(self.inner.reserve);
        need <= have
    }

    fn slot_of(&self, now: Duration) -> u64 {
        duration_nanos(now) / self.inner.slot
    }
}

/// The bucket for slot `k`, emptied first if it held an older slot.
fn bucket(ring: &mut [Bucket; SLOTS], k: u64) -> &mut Bucket {
    let b = &mut ring[(k % SLOTS as u64) as usize];
    // Only an older slot is cleared: a bucket from a later one (another
    // caller read the clock a little later) keeps counting.
    if b.slot < k {
        *b = Bucket {
            slot: k,
            firsts: 0,
            retries: 0,
        };
    }
    b
}

/// First attempts and retries in the window of slot `k` (slots
/// `k-9 ..= k`). A bucket from a later slot than `k` (a caller whose
/// reading of the clock is behind another's) counts too: the budget never
/// forgets a retry because time seemed to step back.
fn window(ring: &[Bucket; SLOTS], k: u64) -> (u64, u64) {
    let oldest = k.saturating_sub(SLOTS as u64 - 1);
    ring.iter()
        .filter(|b| b.slot >= oldest)
        .fold((0, 0), |(f, r), b| {
            (f.saturating_add(b.firsts), r.saturating_add(b.retries))
        })
}
