//! The valve's engine: slots, tokens, the queue and its disciplines.
//!
//! Running tasks are counted in one atomic word together with the limit in
//! force (`slots.rs`); the count only ever grows by a compare-and-swap of
//! that word that checks the limit, so it never exceeds the limit in force
//! at that instant, not even while an adaptive limit falls. A valve with no
//! guard takes a free slot, and its token if it is rate-limited (one CAS on
//! the GCRA word of `bucket.rs`), without the lock (the fast path) while
//! nobody waits.
//!
//! Everything else happens under the lock: the queue, the token bucket,
//! CoDel, deadlines. Whoever frees a slot while someone waits takes the lock
//! and hands the slot on (`dispatch`). The one race that could strand a
//! waiter, a release that looks at the queue just before a waiter joins it,
//! is closed Dekker-style: the releaser decrements the slot word and then
//! reads `queued`; the waiter publishes `queued` and then reads the slot
//! word, both `SeqCst`, so at least one of them sees the other. A limit
//! that grows is published the same way (the slot word, then `queued`).
//!
//! An adaptive valve's controller (`limit.rs`) has a lock of its own,
//! `limits`, taken when a task of that valve ends; it is never held while
//! the valve's lock is taken (the lock order is `slow`, then `limits`).
//!
//! The engine is one type, [`ValveCore`], written across files by concept:
//! admission and slots here, the waiting task in `waiter.rs`, the queue and
//! its disciplines in `queue.rs`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::Duration;

use super::bucket::{Bucket, Tuning};
use super::codel::Codel;
use super::config::{Discipline, ValveConfig};
use super::limit::{LimitSnapshot, Limiter};
use super::slots::Slots;
use super::waiter::{WaitState, Waiter};
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

/// An adaptive valve's controller, and the generation of its config: a
/// task reports only to the controller it was admitted under.
#[derive(Debug, Default)]
pub(super) struct Limits {
    gen: usize,
    limiter: Option<Limiter>,
}

/// How a task ended, as its permit tells the valve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It ran: its service time is a latency sample.
    Sample,
    /// The dependency dropped it: a drop for an adaptive limit.
    Drop,
    /// No sample at all (cancelled, panicked, or given up on purpose).
    Ignore,
}

/// What a permit remembers of its start: when (if timed), how many ran
/// with it, and the generation of the adaptive limit it reports to (0 for
/// none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) started: Option<u64>,
    pub(crate) in_flight: usize,
    pub(crate) gen: usize,
}

/// One valve.
#[derive(Debug)]
pub(crate) struct ValveCore {
    pub(crate) name: Arc<str>,
    pub(super) env: Arc<Env>,
    bus: Arc<Bus>,
    /// In flight, the limit in force, and whether the fast path is shut
    /// (guard, removed): one word.
    pub(super) slots: Slots,
    pub(super) queued: AtomicUsize,
    /// The token bucket (off without a rate): one GCRA word, taken from
    /// by the fast path and the locked path alike.
    pub(super) bucket: Bucket,
    /// The generation of the adaptive limit, 0 for a fixed one: read when a
    /// task starts, to time it and tag it.
    limit_gen: AtomicUsize,
    limits: Mutex<Limits>,
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
            slots: Slots::new(),
            queued: AtomicUsize::new(0),
            bucket: Bucket::off(),
            limit_gen: AtomicUsize::new(0),
            limits: Mutex::new(Limits::default()),
            slow: Mutex::new(Slow {
                config: ValveConfig::new(),
                queue: VecDeque::new(),
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
        let tuning = config
            .rate
            .zip(config.bucket_size())
            .map(|(r, size)| Tuning::new(r.count, duration_nanos(r.period), size));
        self.bucket
            .tune(tuning, now, self.env.timebase.coarse_lag());
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
        {
            let mut l = lock(&self.limits);
            match config.limit {
                // The same controller config keeps what it learned (a
                // config file loaded again, say).
                Some(a) if l.limiter.as_ref().is_some_and(|x| x.config == a) => {}
                Some(a) => {
                    l.gen += 1;
                    l.limiter = Some(Limiter::new(a, now));
                }
                None => {
                    if l.limiter.take().is_some() {
                        l.gen += 1;
                    }
                }
            }
            let (gen, limit) = match &l.limiter {
                Some(x) => (l.gen, x.limit()),
                None => (0, config.concurrency),
            };
            // Ordering: SeqCst, as every access to the slot word's peers.
            self.limit_gen.store(gen, Ordering::SeqCst);
            self.slots.set_limit(limit);
        }
        // The SeqCst update of the slot word also publishes the bucket's
        // new parameters to the fast path.
        self.slots.set_shut(s.guard.is_some() || s.removed);
        s.config = config;
        self.dispatch(&mut s, now);
    }

    /// Refuses every waiter and every later task with `Removed`; running
    /// tasks finish.
    pub(crate) fn remove(&self) {
        let mut s = lock(&self.slow);
        s.removed = true;
        self.slots.set_shut(true);
        self.refuse_all(&mut s, Refused::Removed);
    }

    /// Takes a free slot without the lock, if the fast path is open; the
    /// answer is how many run with this task.
    #[inline]
    pub(crate) fn try_fast(&self) -> Option<usize> {
        if self.queued.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let n = self.slots.take(true)?;
        if !self.pass_token() {
            // No token (or not yet by the coarse clock): give the slot
            // back. The caller takes the locked path next, which checks
            // on the precise clock and hands the slot on to any waiter
            // that saw it taken.
            self.slots.give_back();
            return None;
        }
        // Ordering: a statistic. (Tasks admitted at once are not put in the
        // sojourn histogram: they are `admitted` minus those it holds.)
        self.stats.admitted.fetch_add(1, Ordering::Relaxed);
        Some(n)
    }

    /// Admits a task that ends at once (a rate check): a free slot seen, a
    /// token taken, no slot held. Lock-free when the fast path is open and
    /// nobody waits; otherwise the locked path decides, as for `enter`.
    pub(crate) fn pass(&self) -> Result<(), Refused> {
        if self.queued.load(Ordering::SeqCst) == 0 {
            let w = self.slots.load();
            if !w.shut() && w.in_flight() < w.limit() && self.pass_token() {
                // Ordering: a statistic.
                self.stats.admitted.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
        let mut s = lock(&self.slow);
        if s.removed {
            return Err(self.count_refusal(Refused::Removed));
        }
        let now = self.now();
        if guard_refuses(&s, now) {
            return Err(self.count_refusal(Refused::Blown));
        }
        self.dispatch(&mut s, now);
        if s.queue.is_empty() && self.try_start(&mut s, now).is_some() {
            // The task is over as it starts. Nobody waits (the queue is
            // empty and we hold the lock), so the slot needs no handing on.
            self.slots.give_back();
            return Ok(());
        }
        Err(self.count_refusal(Refused::Busy))
    }

    /// A token for the lock-free path, if the valve has a rate; `false`
    /// sends the caller to the locked path, which looks again on the
    /// precise clock.
    #[inline]
    fn pass_token(&self) -> bool {
        if !self.bucket.on() {
            return true;
        }
        let now = if self.bucket.coarse() {
            self.env.timebase.now_coarse()
        } else {
            self.now()
        };
        self.bucket.try_take(now)
    }

    /// Starts a task now if it may, else queues it (`wait`) or refuses it.
    pub(crate) fn enter(&self, wait: bool) -> Entry {
        if let Some(n) = self.try_fast() {
            return Entry::Admitted(self.stamp(None, n));
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
        if s.queue.is_empty() {
            if let Some(n) = self.try_start(&mut s, now) {
                return Entry::Admitted(self.stamp(Some(now), n));
            }
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
        Entry::Refused(self.count_refusal(r))
    }

    /// Counts a refusal.
    fn count_refusal(&self, r: Refused) -> Refused {
        // Ordering: a statistic.
        self.stats.refused[reason_index(r)].fetch_add(1, Ordering::Relaxed);
        r
    }

    /// Takes a slot and a token if both are free (under the lock); the
    /// answer is how many run with this task.
    pub(super) fn try_start(&self, _locked: &mut Slow, now: u64) -> Option<usize> {
        let rated = self.bucket.on();
        if rated && !self.bucket.ready(now) {
            return None;
        }
        let n = self.slots.take(false)?;
        if rated && !self.bucket.try_take(now) {
            // The fast path took the token meanwhile.
            self.slots.give_back();
            return None;
        }
        // Ordering: a statistic.
        self.stats.admitted.fetch_add(1, Ordering::Relaxed);
        Some(n)
    }

    /// Whether a slot and a token are free now (a hint for `dispatch`; the
    /// slot is taken by `try_start`).
    pub(super) fn can_start(&self, now: u64) -> bool {
        let w = self.slots.load();
        w.in_flight() < w.limit() && (!self.bucket.on() || self.bucket.ready(now))
    }

    /// A task ended: tells an adaptive limit how it went, frees its slot
    /// and hands it on.
    pub(crate) fn release(&self, stamp: Stamp, outcome: Outcome) {
        if let Some(t) = stamp.started {
            let now = self.now();
            self.stats.service.record(now.saturating_sub(t));
            if stamp.gen != 0 && outcome != Outcome::Ignore {
                self.learn(stamp.gen, t, now, stamp.in_flight, outcome == Outcome::Drop);
            }
        }
        self.slots.give_back();
        if self.queued.load(Ordering::SeqCst) != 0 {
            let mut s = lock(&self.slow);
            let now = self.now();
            self.dispatch(&mut s, now);
        }
    }

    /// Feeds one task to the adaptive limit it was admitted under, and
    /// applies the limit it answers.
    fn learn(&self, gen: usize, started: u64, now: u64, in_flight: usize, dropped: bool) {
        let mut l = lock(&self.limits);
        if l.gen != gen {
            return; // admitted under another config
        }
        let Some(limiter) = &mut l.limiter else {
            return;
        };
        let event = limiter.on_task(started, now, in_flight, dropped, &mut || {
            self.env.draws.draw32()
        });
        self.slots.set_limit(limiter.limit());
        if let Some((from, to)) = event {
            self.emit(ValveChange::Limit { from, to });
        }
    }

    /// The adaptive limit's state, if the valve has one.
    pub(crate) fn limit_view(&self) -> Option<LimitSnapshot> {
        lock(&self.limits).limiter.as_ref().map(Limiter::snapshot)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.slots.in_flight()
    }

    /// The concurrency limit in force.
    pub(crate) fn limit(&self) -> usize {
        self.slots.limit()
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// The config, and the tokens now (if rate-limited).
    pub(crate) fn view(&self) -> (ValveConfig, Option<u64>) {
        let s = lock(&self.slow);
        let now = self.now();
        let tokens = self.bucket.on().then(|| self.bucket.tokens(now));
        (s.config.clone(), tokens)
    }

    /// The start of a task that runs with `in_flight` others (itself
    /// included). Its service time is measured for every task of an
    /// adaptive valve (it is the limit's latency sample), and otherwise for
    /// one task in 64 per thread, so that most tasks read no clock at all
    /// (`now` is used if the caller already read the clock).
    pub(crate) fn stamp(&self, now: Option<u64>, in_flight: usize) -> Stamp {
        // Ordering: SeqCst, as the slot word it is published with.
        let gen = self.limit_gen.load(Ordering::SeqCst);
        let timed = gen != 0 || sample();
        Stamp {
            started: timed.then(|| now.unwrap_or_else(|| self.now())),
            in_flight,
            gen,
        }
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

/// What an attempt to enter the valve led to.
pub(crate) enum Entry {
    /// Started; what its permit remembers of the start.
    Admitted(Stamp),
    Refused(Refused),
    Queued(Arc<Waiter>),
}

/// What the waiter found when it looked.
pub(crate) enum Looked {
    /// Granted; what its permit remembers of the start.
    Admitted(Stamp),
    Refused(Refused),
    Waiting,
}

impl ValveCore {
    /// The waiter looks at its state; `waker` is woken when it changes.
    pub(crate) fn look(&self, w: &Waiter, waker: Option<&Waker>) -> Looked {
        let mut st = lock(&w.state);
        match &mut *st {
            WaitState::Granted { at, in_flight } => {
                let (at, in_flight) = (*at, *in_flight);
                *st = WaitState::Done;
                Looked::Admitted(self.stamp(Some(at), in_flight))
            }
            WaitState::Refused(r) => {
                let r = *r;
                *st = WaitState::Done;
                Looked::Refused(r)
            }
            WaitState::Waiting(slot) => {
                if let Some(waker) = waker {
                    if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
                        if let Some(old) = slot.replace(waker.clone()) {
                            // The old waker's drop is the executor's code.
                            crate::sync::wake_dropped(old);
                        }
                    }
                }
                Looked::Waiting
            }
            WaitState::Done => Looked::Refused(Refused::Removed),
        }
    }

    /// Blocks the thread until the waiter is granted (the answer is what
    /// its permit remembers of the start) or refused.
    pub(crate) fn wait(&self, w: &Waiter) -> Result<Stamp, Refused> {
        let mut st = lock(&w.state);
        loop {
            match &*st {
                WaitState::Granted { at, in_flight } => {
                    let (at, in_flight) = (*at, *in_flight);
                    *st = WaitState::Done;
                    drop(st);
                    return Ok(self.stamp(Some(at), in_flight));
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
            WaitState::Granted { .. } => {
                *st = WaitState::Done;
                drop(st);
                // The task never started: it was not admitted after all
                // (it was cancelled), and its slot goes back.
                // Ordering: a statistic.
                self.stats.admitted.fetch_sub(1, Ordering::Relaxed);
                self.slots.give_back();
                let now = self.now();
                self.dispatch(&mut s, now);
            }
            WaitState::Refused(_) | WaitState::Done => {}
        }
    }
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
