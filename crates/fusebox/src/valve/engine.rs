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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::Duration;

use super::bucket::Bucket;
use super::codel::{Codel, Verdict};
use super::config::{Discipline, ValveConfig};
use super::Refused;
use crate::clock::duration_nanos;
use crate::event::{Event, EventKind, ValveChange};
use crate::fuse::engine::{Env, FuseCore};
use crate::stats::histogram::Histogram;
use crate::sync::{lock, AtomicUsize, Condvar, Mutex};
use crate::timer::Fire;

/// The ticket of a guard's "the fuse blew" call, apart from timer tickets.
pub(crate) const GUARD_BLOWN: u64 = u64::MAX;
const TIMER: u64 = 0;

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

/// One task waiting for a slot.
#[derive(Debug)]
pub(crate) struct Waiter {
    since: u64,
    deadline: u64,
    state: Mutex<WaitState>,
    cv: Condvar,
}

#[derive(Debug)]
enum WaitState {
    Waiting(Option<Waker>),
    /// A slot was taken for this waiter; it becomes a permit when the
    /// waiter looks, or is given back if the waiter is gone.
    Granted,
    Refused(Refused),
    /// The waiter took its permit or its refusal.
    Done,
}

impl Waiter {
    fn settle(&self, to: WaitState) -> bool {
        let mut st = lock(&self.state);
        let WaitState::Waiting(waker) = std::mem::replace(&mut *st, to) else {
            // Only a waiting waiter is in the queue; keep what it has.
            return false;
        };
        drop(st);
        self.cv.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
        true
    }
}

/// What an attempt to enter the valve led to.
pub(crate) enum Entry {
    /// Started; the service-time stamp if this task is sampled.
    Admitted(Option<u64>),
    Refused(Refused),
    Queued(Arc<Waiter>),
}

/// What the waiter found when it looked.
pub(crate) enum Looked {
    /// Granted; the service-time stamp if this task is sampled.
    Admitted(Option<u64>),
    Refused(Refused),
    Waiting,
}

#[derive(Debug)]
struct Slow {
    config: ValveConfig,
    queue: VecDeque<Arc<Waiter>>,
    bucket: Option<Bucket>,
    codel: Option<Codel>,
    guard: Option<Arc<FuseCore>>,
    /// The earliest timer armed, `u64::MAX` for none.
    timer_at: u64,
    removed: bool,
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
    env: Arc<Env>,
    in_flight: AtomicUsize,
    queued: AtomicUsize,
    /// The concurrency limit when the fast path is open, 0 when every
    /// acquire must take the lock (rate limit, guard, removed).
    fast_limit: AtomicUsize,
    slow: Mutex<Slow>,
    pub(crate) stats: Stats,
    me: Weak<ValveCore>,
}

impl ValveCore {
    pub(crate) fn new(
        name: Arc<str>,
        config: ValveConfig,
        guard: Option<Arc<FuseCore>>,
        env: Arc<Env>,
    ) -> Arc<Self> {
        let now = env.timebase.now();
        let core = Arc::new_cyclic(|me| ValveCore {
            name,
            env,
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

    fn now(&self) -> u64 {
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
                let me: Weak<dyn Fire> = self.me.clone();
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
    fn take_slot(&self, limit: usize) -> bool {
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

    fn refused(&self, r: Refused) -> Entry {
        // Ordering: a statistic.
        self.stats.refused[reason_index(r)].fetch_add(1, Ordering::Relaxed);
        Entry::Refused(r)
    }

    /// Takes a slot and a token if both are free (under the lock).
    fn try_start(&self, s: &mut Slow, now: u64) -> bool {
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
    fn can_start(&self, s: &Slow, now: u64) -> bool {
        self.in_flight.load(Ordering::SeqCst) < s.config.concurrency
            && s.bucket.as_ref().is_none_or(|b| b.ready(now))
    }

    /// Hands free slots to waiters, refusing the expired and the shed.
    fn dispatch(&self, s: &mut Slow, now: u64) {
        // Every expired waiter, wherever it stands: deadlines follow queue
        // order only while max_wait stays the same, and one left behind a
        // live waiter would re-arm a timer in the past forever (`arm` takes
        // the earliest deadline of the whole queue). `now` is the same for
        // the whole dispatch, so one pass suffices.
        if s.queue.iter().any(|w| w.deadline <= now) {
            s.queue.retain(|w| {
                if w.deadline <= now {
                    self.refuse(w, Refused::Timeout);
                    false
                } else {
                    true
                }
            });
        }
        loop {
            if s.queue.is_empty() {
                if let Some(c) = &mut s.codel {
                    c.idle();
                }
                break;
            }
            if guard_refuses(s, now) {
                self.refuse_all(s, Refused::Blown);
                break;
            }
            if !self.can_start(s, now) {
                break;
            }
            let back = match s.config.discipline {
                Discipline::Lifo => true,
                Discipline::AdaptiveLifo { standing } => s
                    .queue
                    .front()
                    .is_some_and(|w| now.saturating_sub(w.since) > duration_nanos(standing)),
                Discipline::Fifo | Discipline::Codel { .. } => false,
            };
            let w = if back {
                s.queue.pop_back()
            } else {
                s.queue.pop_front()
            }
            .expect("not empty");
            let sojourn = now.saturating_sub(w.since);
            if let Some(c) = &mut s.codel {
                if c.judge(sojourn, now) == Verdict::Shed {
                    self.refuse(&w, Refused::Overload);
                    continue;
                }
            }
            // Take the slot before the waiter can see it is granted.
            if !self.try_start(s, now) {
                // The fast path took the slot meanwhile: back in line.
                if back {
                    s.queue.push_back(w);
                } else {
                    s.queue.push_front(w);
                }
                break;
            }
            if w.settle(WaitState::Granted) {
                self.stats.sojourn.record(sojourn);
            } else {
                // Not waiting any more (cannot happen: a cancelled waiter
                // leaves the queue under this lock); give the slot back.
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.queued.store(s.queue.len(), Ordering::SeqCst);
        self.arm(s, now);
    }

    fn refuse(&self, w: &Waiter, r: Refused) {
        if w.settle(WaitState::Refused(r)) {
            // Ordering: a statistic.
            self.stats.refused[reason_index(r)].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn refuse_all(&self, s: &mut Slow, r: Refused) {
        for w in std::mem::take(&mut s.queue) {
            self.refuse(&w, r);
        }
        self.queued.store(0, Ordering::SeqCst);
    }

    /// Arms a timer for the next moment the queue can move by itself: the
    /// oldest waiter's deadline, or the next token.
    fn arm(&self, s: &mut Slow, now: u64) {
        if s.queue.is_empty() {
            return;
        }
        let deadline = s.queue.iter().map(|w| w.deadline).min().unwrap_or(u64::MAX);
        let token = match &s.bucket {
            Some(b) if self.in_flight.load(Ordering::SeqCst) < s.config.concurrency => {
                b.next_token_at(now)
            }
            _ => u64::MAX,
        };
        let at = deadline.min(token);
        if at < s.timer_at {
            s.timer_at = at;
            let me: Weak<dyn Fire> = self.me.clone();
            self.env.timers.schedule(at, TIMER, me);
        }
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

    /// The waiter looks at its state; `waker` is woken when it changes.
    pub(crate) fn look(&self, w: &Waiter, waker: Option<&Waker>) -> Looked {
        let mut st = lock(&w.state);
        match &mut *st {
            WaitState::Granted => {
                *st = WaitState::Done;
                Looked::Admitted(self.stamp(None))
            }
            WaitState::Refused(r) => {
                let r = *r;
                *st = WaitState::Done;
                Looked::Refused(r)
            }
            WaitState::Waiting(slot) => {
                if let Some(waker) = waker {
                    if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
                        *slot = Some(waker.clone());
                    }
                }
                Looked::Waiting
            }
            WaitState::Done => Looked::Refused(Refused::Removed),
        }
    }

    /// Blocks the thread until the waiter is granted (the answer is the
    /// service-time stamp, if sampled) or refused.
    pub(crate) fn wait(&self, w: &Waiter) -> Result<Option<u64>, Refused> {
        let mut st = lock(&w.state);
        loop {
            match &*st {
                WaitState::Granted => {
                    *st = WaitState::Done;
                    drop(st);
                    return Ok(self.stamp(None));
                }
                WaitState::Refused(r) => {
                    let r = *r;
                    *st = WaitState::Done;
                    return Err(r);
                }
                WaitState::Done => return Err(Refused::Removed),
                WaitState::Waiting(_) => st = crate::sync::wait(&w.cv, st),
            }
        }
    }

    /// The waiter is gone (its future was dropped): leave the queue, or give
    /// back the slot it was granted and never took.
    pub(crate) fn cancel(&self, w: &Arc<Waiter>) {
        let mut s = lock(&self.slow);
        let mut st = lock(&w.state);
        match &*st {
            WaitState::Waiting(_) => {
                *st = WaitState::Done;
                drop(st);
                if let Some(i) = s.queue.iter().position(|x| Arc::ptr_eq(x, w)) {
                    s.queue.remove(i);
                }
                self.queued.store(s.queue.len(), Ordering::SeqCst);
            }
            WaitState::Granted => {
                *st = WaitState::Done;
                drop(st);
                // The task never started: it was not admitted after all
                // (it was cancelled), and its slot goes back.
                // Ordering: a statistic.
                self.stats.admitted.fetch_sub(1, Ordering::Relaxed);
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                let now = self.now();
                self.dispatch(&mut s, now);
            }
            WaitState::Refused(_) | WaitState::Done => {}
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
        self.env.bus.publish(Event {
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
fn guard_refuses(s: &Slow, now: u64) -> bool {
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

impl Fire for ValveCore {
    fn fire(&self, ticket: u64, _at: u64, now: u64) {
        let mut s = lock(&self.slow);
        if ticket == GUARD_BLOWN {
            // The guarding fuse blew: nobody waits for a dependency that is down.
            self.refuse_all(&mut s, Refused::Blown);
            return;
        }
        s.timer_at = u64::MAX;
        self.dispatch(&mut s, now);
    }
}
