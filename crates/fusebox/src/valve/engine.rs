//! The valve's engine: slots, tokens, the queue and its disciplines.
//!
//! Running tasks are counted in one atomic, `in_flight`, which only ever
//! grows by a compare-and-swap that checks the limit or under the valve's
//! lock after the same check, so it never exceeds `concurrency`, not even
//! for an instant. A valve with no rate limit and no guard takes a free slot
//! without the lock (the fast path) while nobody waits.
//!
//! Everything else happens under the lock: the queue, the token bucket,
//! CoDel, deadlines. Whoever frees a slot while someone waits takes the lock
//! and hands the slot on (`dispatch`). The one race that could strand a
//! waiter, a release that looks at the queue just before a waiter joins it,
//! is closed Dekker-style: the releaser decrements `in_flight` and then reads
//! `queued`; the waiter publishes `queued` and then reads `in_flight`, both
//! `SeqCst`, so at least one of them sees the other.

//!
//! The engine is one type, [`ValveCore`], written across files by concept:
//! admission and slots here, the waiting task in `waiter.rs`, the queue and
//! its disciplines in `queue.rs`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::bucket::Bucket;
use super::codel::Codel;
use super::config::{Discipline, ValveConfig};
use super::waiter::{Entry, WaitState, Waiter};
use super::Refused;
use crate::clock::duration_nanos;
use crate::event::{Bus, Event, EventKind, ValveChange};
use crate::fuse::{Env, FuseCore, Watcher};
use crate::stats::histogram::Histogram;
use crate::sync::{lock, AtomicUsize, Condvar, Mutex};
use crate::timer::Due;

/// Refusal reasons, in the order of the counters.
pub(crate) const REASONS: [Refused; 6] = [
    Refused::QueueFull,
    Refused::Overload,
    Refused::Timeout,
    Refused::Blown,
    Refused::Busy,
    Refused::Removed,
];

pub(crate) fn reason_index(r: Refused) -> usize {
    REASONS.iter().position(|&x| x == r).unwrap_or(0)
}

#[derive(Debug)]
pub(super) struct Slow {
    pub(super) config: ValveConfig,
    pub(super) queue: VecDeque<Arc<Waiter>>,
    pub(super) bucket: Option<Bucket>,
    pub(super) codel: Option<Codel>,
    pub(super) guard: Option<Arc<FuseCore>>,
    /// The earliest timer armed, `u64::MAX` for none.
    pub(super) timer_at: u64,
    pub(super) removed: bool,
}

/// The counters and histograms of a valve.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) admitted: AtomicU64,
    pub(crate) refused: [AtomicU64; 6],
    pub(crate) sojourn: Histogram,
    pub(crate) service: Histogram,
}

/// One valve.
#[derive(Debug)]
pub(crate) struct ValveCore {
    pub(crate) name: Arc<str>,
    pub(super) env: Arc<Env>,
    bus: Arc<Bus>,
    pub(super) in_flight: AtomicUsize,
    pub(super) queued: AtomicUsize,
    /// The concurrency limit when the fast path is open, 0 when every
    /// acquire must take the lock (rate limit, guard, removed).
    pub(super) fast_limit: AtomicUsize,
    pub(super) slow: Mutex<Slow>,
    pub(crate) stats: Stats,
    pub(super) me: Weak<ValveCore>,
}

impl ValveCore {
    pub(crate) fn new(
        name: Arc<str>,
        config: ValveConfig,
        guard: Option<Arc<FuseCore>>,
        env: Arc<Env>,
        bus: Arc<Bus>,
    ) -> Arc<Self> {
        let now = env.timebase.now();
        let core = Arc::new_cyclic(|me| ValveCore {
            name,
            env,
            bus,
            in_flight: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            fast_limit: AtomicUsize::new(0),
            slow: Mutex::new(Slow {
                config: ValveConfig::new(),
                queue: VecDeque::new(),
                bucket: None,
                codel: None,
                guard: None,
                timer_at: u64::MAX,
                removed: false,
            }),
            stats: Stats::default(),
            me: me.clone(),
        });
        core.configure(config, guard, now);
        core
    }

    pub(super) fn now(&self) -> u64 {
        self.env.timebase.now()
    }

    /// Applies a config, live: running tasks finish; waiters are served
    /// under the new rules at once.
    pub(crate) fn configure(&self, config: ValveConfig, guard: Option<Arc<FuseCore>>, now: u64) {
        let mut s = lock(&self.slow);
        s.bucket = match (config.rate, config.bucket_size(), s.bucket.take()) {
            (Some(r), Some(size), Some(mut b)) => {
                b.retune(r.count, duration_nanos(r.period), size, now);
                Some(b)
            }
            (Some(r), Some(size), None) => {
                Some(Bucket::new(r.count, duration_nanos(r.period), size))
            }
            _ => None,
        };
        s.codel = match (config.discipline, s.codel.take()) {
            (Discipline::Codel { target, interval }, Some(mut c)) => {
                c.retune(duration_nanos(target), duration_nanos(interval));
                Some(c)
            }
            (Discipline::Codel { target, interval }, None) => {
                Some(Codel::new(duration_nanos(target), duration_nanos(interval)))
            }
            _ => None,
        };
        // A fuse that guarded this valve and guards it no more must not
        // refuse its waiters when it blows.
        if let Some(old) = &s.guard {
            if guard.as_ref().is_none_or(|g| !Arc::ptr_eq(g, old)) {
                let me: Weak<dyn Watcher> = self.me.clone();
                old.unwatch(&me);
            }
        }
        if let Some(g) = &guard {
            g.watch(self.me.clone());
        }
        s.guard = guard;
        let fast = if s.bucket.is_none() && s.guard.is_none() && !s.removed {
            config.concurrency
        } else {
            0
        };
        s.config = config;
        // Ordering: SeqCst, as every access to the fast-path words.
        self.fast_limit.store(fast, Ordering::SeqCst);
        self.dispatch(&mut s, now);
    }

    /// Refuses every waiter and every later task with `Removed`; running
    /// tasks finish.
    pub(crate) fn remove(&self) {
        let mut s = lock(&self.slow);
        s.removed = true;
        self.fast_limit.store(0, Ordering::SeqCst);
        self.refuse_all(&mut s, Refused::Removed);
    }

    /// Takes a free slot without the lock, if the fast path is open.
    #[inline]
    pub(crate) fn try_fast(&self) -> bool {
        let limit = self.fast_limit.load(Ordering::SeqCst);
        if limit == 0 || self.queued.load(Ordering::SeqCst) != 0 || !self.take_slot(limit) {
            return false;
        }
        // Ordering: a statistic. (Tasks admitted at once are not put in the
        // sojourn histogram: they are `admitted` minus those it holds.)
        self.stats.admitted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Takes a slot if fewer than `limit` are taken: the only way
    /// `in_flight` grows, so it never exceeds the limit, even for an
    /// instant, whoever races.
    pub(super) fn take_slot(&self, limit: usize) -> bool {
        let mut n = self.in_flight.load(Ordering::SeqCst);
        while n < limit {
            match self
                .in_flight
                .compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(seen) => n = seen,
            }
        }
        false
    }

    /// Starts a task now if it may, else queues it (`wait`) or refuses it.
    pub(crate) fn enter(&self, wait: bool) -> Entry {
        if self.try_fast() {
            return Entry::Admitted(self.stamp(None));
        }
        let mut s = lock(&self.slow);
        if s.removed {
            return self.refused(Refused::Removed);
        }
        let now = self.now();
        if guard_refuses(&s, now) {
            return self.refused(Refused::Blown);
        }
        self.dispatch(&mut s, now);
        if s.queue.is_empty() && self.try_start(&mut s, now) {
            return Entry::Admitted(self.stamp(Some(now)));
        }
        if !wait {
            return self.refused(Refused::Busy);
        }
        if s.queue.len() >= s.config.queue {
            return self.refused(Refused::QueueFull);
        }
        let deadline = s
            .config
            .max_wait
            .map_or(u64::MAX, |d| now.saturating_add(duration_nanos(d)));
        let waiter = Arc::new(Waiter {
            since: now,
            deadline,
            state: Mutex::new(WaitState::Waiting(None)),
            cv: Condvar::new(),
        });
        s.queue.push_back(waiter.clone());
        self.queued.store(s.queue.len(), Ordering::SeqCst);
        // A slot freed just before `queued` was published went unseen by its
        // releaser: look again now that it is.
        self.dispatch(&mut s, now);
        Entry::Queued(waiter)
    }

    pub(super) fn refused(&self, r: Refused) -> Entry {
        // Ordering: a statistic.
        self.stats.refused[reason_index(r)].fetch_add(1, Ordering::Relaxed);
        Entry::Refused(r)
    }

    /// Takes a slot and a token if both are free (under the lock).
    pub(super) fn try_start(&self, s: &mut Slow, now: u64) -> bool {
        if s.bucket.as_ref().is_some_and(|b| !b.ready(now)) || !self.take_slot(s.config.concurrency)
        {
            return false;
        }
        if let Some(b) = &mut s.bucket {
            b.take(now);
        }
        // Ordering: a statistic.
        self.stats.admitted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether a slot and a token are free now (a hint for `dispatch`; the
    /// slot is taken by `try_start`).
    pub(super) fn can_start(&self, s: &Slow, now: u64) -> bool {
        self.in_flight.load(Ordering::SeqCst) < s.config.concurrency
            && s.bucket.as_ref().is_none_or(|b| b.ready(now))
    }

    /// A task ended: frees its slot and hands it on.
    pub(crate) fn release(&self, started: Option<u64>) {
        if let Some(t) = started {
            self.stats.service.record(self.now().saturating_sub(t));
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.queued.load(Ordering::SeqCst) != 0 {
            let mut s = lock(&self.slow);
            let now = self.now();
            self.dispatch(&mut s, now);
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// The config, and the tokens now (if rate-limited).
    pub(crate) fn view(&self) -> (ValveConfig, Option<u64>) {
        let s = lock(&self.slow);
        let now = self.now();
        (s.config.clone(), s.bucket.as_ref().map(|b| b.tokens(now)))
    }

    /// The start of a task whose service time is measured: one task in 64
    /// per thread, so that most tasks read no clock at all (`now` is used
    /// if the caller already read the clock).
    pub(crate) fn stamp(&self, now: Option<u64>) -> Option<u64> {
        sample().then(|| now.unwrap_or_else(|| self.now()))
    }

    pub(crate) fn emit(&self, change: ValveChange) {
        let now = self.now();
        self.bus.publish(Event {
            name: self.name.clone(),
            kind: EventKind::Valve { change },
            at: Duration::from_nanos(now),
        });
    }
}

/// Whether the guarding fuse refuses every call now: blown before its
/// deadline, or disabled. A fuse in a `gradual` or `probe` step admits some
/// calls, and decides which itself; refusing them here would refuse the
/// fuse's own probes and keep it from ever healing.
pub(super) fn guard_refuses(s: &Slow, now: u64) -> bool {
    s.guard.as_ref().is_some_and(|g| g.refuses_all_at(now))
}

/// One in 64 calls on this thread.
fn sample() -> bool {
    use std::cell::Cell;
    thread_local! {
        static N: Cell<u8> = const { Cell::new(0) };
    }
    N.try_with(|n| {
        let v = n.get().wrapping_add(1);
        n.set(v);
        v % 64 == 0
    })
    .unwrap_or(false)
}

/// The guarding fuse blew: nobody waits for a dependency that is down.
impl Watcher for ValveCore {
    fn refusing(&self, _at: u64) {
        let mut s = lock(&self.slow);
        self.refuse_all(&mut s, Refused::Blown);
    }
}

impl ValveCore {
    /// The queue's timer (a deadline or the next token): serve or refuse.
    pub(super) fn timer_due(&self, due: Due) {
        let mut s = lock(&self.slow);
        s.timer_at = u64::MAX;
        self.dispatch(&mut s, due.now);
    }
}
