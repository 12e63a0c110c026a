//! The private engine behind a [`Fuse`](crate::Fuse) handle.
//!
//! # Implementation details
//!
//! Reads go straight to one atomic word (the *state word*, see `word.rs`);
//! everything that changes state goes one at a time through a mutex, the way
//! Erlang fuse sent melts through `fuse_server` while asks read an ETS table.
//!
//! * `ask` loads the word. A healthy fuse is kind OK, so the common case is
//!   one load, one test of 4 bits and a bump of this thread's own counter
//!   slot: no lock, no clock read, no shared write.
//! * While a heal program runs, `gradual` admission is a draw against the
//!   word's threshold and `probe` admission a compare-and-swap of the word's
//!   in-use field: lock-free too. Giving a probe slot back takes the lock.
//! * An ok fuse with the throttle strategy has a word of its own kind
//!   (THROTTLE): each of its asks changes the window, so it takes the lock,
//!   reads the precise clock, sums 10 buckets and draws if the reject
//!   probability is above 0 (`throttle_admit`). Bounded, no allocation, but
//!   not the one-load path.
//! * `run` remembers the generation of the word that admitted it (a
//!   [`Ticket`]); its outcome counts only if the fuse has neither blown nor
//!   healed since.
//! * A blown fuse's word carries its heal deadline. `ask` compares it with
//!   the coarse clock (about 3 ns); only when the deadline has passed does it
//!   take the lock and heal the fuse itself. That is the *lazy check*: a fuse
//!   answers as healed on time even if the timer thread is late.
//! * Every mutation takes the lock, reads the precise clock *under the lock*
//!   (so its timestamp and its effect are one atomic step), first applies any
//!   heal that fell due (`catch_up`), then changes the slow state, stores the
//!   word derived from it, and publishes its event before unlocking, so the
//!   events of one fuse are in state order.
//!
//! Linearizability: a mutation takes effect when it stores the word, under
//! the lock; an `ask` takes effect when it loads the word. Every mutation of a
//! fuse is totally ordered by the lock, and the word always equals
//! `derive(slow state)` whenever the lock is free.
//!
//! Memory ordering: the word is stored with `Release` and loaded with
//! `Acquire`. Nothing an ask reads after the load depends on it today (the
//! answer is entirely in the word), but the pairing keeps any later field
//! read on the fast path correct by construction; both are plain moves on
//! x86-64.
//!
//! The engine is one type, [`FuseCore`], written across the files of this
//! module by concept: admission and the state word here, outcome reporting
//! in `report.rs`, the heal program in `program.rs`, operator operations in
//! `operate.rs`, reads in `view.rs`, valve guards in `watch.rs`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use crossbeam_utils::CachePadded;

use super::chaos::ChaosCell;
use super::config::FuseConfig;
use super::env::Env;
use super::heal::Step;
use super::rate::RateWindow;
use super::slow::{Admit, Phase, Slow};
use super::state::{Cause, FuseState};
use super::throttle::ThrottleWindow;
use super::ticket::{Ticket, TIMES_CALLS};
use super::watch::{Watcher, Watchers};
use super::window::MeltWindow;
use super::word;
use crate::stats::counters::{Hot, HotCounters};
use crate::sync::{lock, AtomicU64, Mutex};

/// The answer of the engine, which knows one more case than [`Ask`](crate::Ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    Blown,
    /// The fuse was removed; by-name callers answer `NotFound`.
    Removed,
}

/// One fuse: its state word, counters and the slow state behind its lock.
pub(crate) struct FuseCore {
    pub(super) word: CachePadded<AtomicU64>,
    /// The end of the current delay step while the word admits some calls
    /// (GRADUAL, PROBE), whose payload has no room for it: the lazy check
    /// of those asks (`u64::MAX` when there is none).
    pub(super) step_until: AtomicU64,
    /// A sequence lock over `word` and `step_until`: odd while `publish` is
    /// storing them, bumped to the next even number once both are stored.
    /// A reader of the pair checks it did not move (see `step_overdue`).
    pub(super) published: AtomicU64,
    pub(super) hot: HotCounters,
    pub(super) flags: AtomicU8,
    pub(super) slow: Mutex<Slow>,
    pub(super) name: Arc<str>,
    pub(super) env: Arc<Env>,
    pub(super) me: Weak<FuseCore>,
    /// Valves guarded by this fuse, told when it blows.
    pub(super) watchers: Watchers,
    /// Injected latency and errors (`chaos.rs`), off unless set.
    pub(crate) chaos: ChaosCell,
}

impl std::fmt::Debug for FuseCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuse")
            .field("name", &self.name)
            .field(
                "word",
                &format_args!("{:#x}", self.word.load(Ordering::Relaxed)),
            )
            .finish()
    }
}

impl FuseCore {
    /// A new, ok fuse. The caller has validated `config`. Emits `installed`.
    pub(crate) fn new(name: Arc<str>, config: FuseConfig, env: Arc<Env>) -> Arc<Self> {
        let slow = Slow {
            config,
            phase: Phase::Ok,
            disabled: false,
            removed: false,
            window: MeltWindow::default(),
            consecutive: 0,
            rate: RateWindow::default(),
            throttle: ThrottleWindow::default(),
            throttled: 0,
            gen: 0,
            attempt: 0,
            healed_at: None,
            ticket: 0,
            melts: 0,
            blows: 0,
            heals: 0,
            last_blow: None,
        };
        let word = slow.word(0);
        let flags = slow.flags();
        Arc::new_cyclic(|me| FuseCore {
            word: CachePadded::new(AtomicU64::new(word)),
            step_until: AtomicU64::new(u64::MAX),
            published: AtomicU64::new(0),
            hot: HotCounters::default(),
            flags: AtomicU8::new(flags),
            slow: Mutex::new(slow),
            name,
            env,
            me: me.clone(),
            watchers: Watchers::new(),
            chaos: ChaosCell::new(),
        })
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Registers a valve to be told when this fuse blows. Lock order: a
    /// fuse's locks before a valve's (a valve never takes a fuse lock).
    pub(crate) fn watch(&self, w: Weak<dyn Watcher>) {
        self.watchers.watch(w);
    }

    /// Stops telling a valve that no longer has this fuse as its guard.
    pub(crate) fn unwatch(&self, w: &Weak<dyn Watcher>) {
        self.watchers.unwatch(w);
    }

    /// Announces a brand-new fuse (separate from `new` so the registry can
    /// publish it after the fuse is visible by name).
    pub(crate) fn announce_installed(&self) {
        let s = lock(&self.slow);
        let now = self.env.timebase.now();
        self.emit(None, Some(s.state()), Cause::Install, now);
    }

    #[inline]
    pub(crate) fn ask(&self) -> Answer {
        // Ordering: Acquire pairs with the Release store in `publish`.
        let w = self.word.load(Ordering::Acquire);
        if word::kind(w) == word::KIND_OK {
            self.hot.add(Hot::AskOk);
            return Answer::Ok;
        }
        self.ask_not_ok(w)
    }

    /// A blown fuse whose deadline is still ahead: the common refusal, kept
    /// small so it saves few registers; everything else goes to `admit_slow`.
    #[inline(never)]
    fn ask_not_ok(&self, w: u64) -> Answer {
        if word::kind(w) == word::KIND_BLOWN
            && self.env.timebase.now_coarse() < word::deadline_ns(w)
        {
            self.hot.add(Hot::AskBlown);
            return Answer::Blown;
        }
        match self.admit_slow(w) {
            // A plain ask that took a probe slot: `success` or `melt` gives it back.
            Ok(_) => Answer::Ok,
            Err(a) => a,
        }
    }

    /// Ask, keeping the proof of admission for `complete`.
    #[inline]
    pub(crate) fn admit(&self) -> Result<Ticket, Answer> {
        // Ordering: as in `ask`.
        let w = self.word.load(Ordering::Acquire);
        if word::kind(w) == word::KIND_OK {
            self.hot.add(Hot::AskOk);
            return Ok(Ticket::new(word::gen(w), word::ok_flags(w), None));
        }
        self.admit_slow(w)
    }

    #[cold]
    #[inline(never)]
    fn admit_slow(&self, mut w: u64) -> Result<Ticket, Answer> {
        loop {
            // Ordering: a config flag; a race with a reinstall is resolved by
            // the generation (the reinstall makes the call's outcome stale).
            let flags = self.flags.load(Ordering::Relaxed);
            let admitted = Ticket::new(word::gen(w), flags, None);
            match word::kind(w) {
                word::KIND_OK => {
                    self.hot.add(Hot::AskOk);
                    return Ok(admitted);
                }
                word::KIND_BLOWN => {
                    if self.env.timebase.now_coarse() >= word::deadline_ns(w) {
                        // The deadline passed and the timer has not moved us
                        // on yet: do it now, under the lock, and answer anew.
                        let after = self.catch_up_now();
                        if after != w {
                            w = after;
                            continue;
                        }
                    }
                    self.hot.add(Hot::AskBlown);
                    return Err(Answer::Blown);
                }
                word::KIND_INJECT => {
                    if self.env.draws.draw32() < word::threshold(w) {
                        self.hot.add(Hot::Injected);
                        return Err(Answer::Blown);
                    }
                    self.hot.add(Hot::AskOk);
                    return Ok(admitted);
                }
                word::KIND_GRADUAL | word::KIND_PROBE if self.step_overdue(w) => {
                    // The delay step ended and the timer is late: move on
                    // under the lock, and answer anew.
                    w = self.catch_up_now();
                    continue;
                }
                word::KIND_GRADUAL => {
                    if self.env.draws.draw32() < word::threshold(w) {
                        self.hot.add(Hot::AskOk);
                        return Ok(admitted);
                    }
                    self.hot.add(Hot::AskBlown);
                    return Err(Answer::Blown);
                }
                word::KIND_PROBE => {
                    if word::probes_in_use(w) >= word::probes_max(w) {
                        self.hot.add(Hot::AskBlown);
                        return Err(Answer::Blown);
                    }
                    // Ordering: AcqRel so slot takes and gives are totally
                    // ordered with each other and with `publish`; on failure
                    // Acquire, as the first load.
                    match self.word.compare_exchange_weak(
                        w,
                        w + word::PROBE_ONE,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.hot.add(Hot::AskOk);
                            return Ok(Ticket::new(word::gen(w), flags, Some(word::probe_step(w))));
                        }
                        Err(now) => w = now,
                    }
                }
                word::KIND_THROTTLE => match self.throttle_admit() {
                    Some(answer) => return answer,
                    // The fuse is no longer a throttling ok fuse: answer anew.
                    // Ordering: as the first load.
                    None => w = self.word.load(Ordering::Acquire),
                },
                word::KIND_DISABLED => {
                    self.hot.add(Hot::AskBlown);
                    return Err(Answer::Blown);
                }
                _ => return Err(Answer::Removed),
            }
        }
    }

    /// An ask of an ok throttling fuse, under the lock: the reject
    /// probability from the window as it stands, a draw if it is above 0,
    /// and the ask counted as a request either way (the book's `requests`
    /// counts the refused too). `None` if the fuse has changed kind since
    /// its word was loaded. Bounded: a lock, the clock, a sum over 10
    /// buckets, no allocation.
    fn throttle_admit(&self) -> Option<Result<Ticket, Answer>> {
        let mut s = lock(&self.slow);
        if s.removed {
            return Some(Err(Answer::Removed));
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        // Ordering: under the lock, where every store of a throttle word is.
        let w = self.word.load(Ordering::Relaxed);
        if word::kind(w) != word::KIND_THROTTLE {
            return None;
        }
        let window = s
            .config
            .strategy
            .window()
            .map_or(1, crate::clock::duration_nanos);
        let p = s.reject_probability(now);
        let tag = s.throttle.request(now, window);
        if p > 0.0 && self.env.draws.draw32() < word::injection_threshold(p) {
            s.throttled += 1;
            return Some(Err(Answer::Blown));
        }
        self.hot.add(Hot::AskOk);
        let ticket = Ticket::new(word::gen(w), word::ok_flags(w), None);
        Some(Ok(ticket.with_throttle_tag(tag)))
    }

    /// True if the admitting heal step the word `w` shows may be over: its
    /// delay has ended by the coarse clock, or the word and its deadline
    /// could not be read as one pair (a publish ran meanwhile, or the word
    /// moved on). Either way the caller takes the lock, where the truth is.
    ///
    /// The pair must be one publish's: a deadline newer than the word (a
    /// heal's "no deadline" after a gradual word) would make a stale word
    /// look current, and the ask refuse a fuse the clock has healed.
    fn step_overdue(&self, w: u64) -> bool {
        // Ordering: the sequence-lock reader. Acquire on `published` keeps
        // the loads below after it; Acquire on each of them keeps the final
        // `published` load after them. `publish` marks the sequence odd
        // before its Release stores, so a reader that saw any of them sees
        // the sequence moved.
        let before = self.published.load(Ordering::Acquire);
        let until = self.step_until.load(Ordering::Acquire);
        let again = self.word.load(Ordering::Acquire);
        let after = self.published.load(Ordering::Acquire);
        if before & 1 == 1 || before != after || again != w {
            return true;
        }
        until != u64::MAX && self.env.timebase.now_coarse() >= until
    }

    /// Applies due steps now; returns the word after.
    fn catch_up_now(&self) -> u64 {
        let mut s = lock(&self.slow);
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        // Ordering: we hold the lock, and every store happens under it.
        self.word.load(Ordering::Relaxed)
    }

    /// True if `complete` needs the clock (slow-call detection).
    #[inline]
    pub(crate) fn times_calls(&self, ticket: &Ticket) -> bool {
        ticket.flags() & TIMES_CALLS != 0
    }

    /// The fuse's clock, for timing calls.
    pub(crate) fn now(&self) -> u64 {
        self.env.timebase.now()
    }

    /// Publishes the word derived from `s`. Called under the lock.
    pub(super) fn publish(&self, s: &Slow) {
        let until = match s.phase {
            Phase::Healing {
                admit: Admit::Fraction(_) | Admit::Probe(_),
                until,
                ..
            } if !s.disabled && !s.removed => until,
            _ => u64::MAX,
        };
        // Ordering: the sequence-lock writer (readers in `step_overdue`).
        // Under the lock, so a plain load and store move the sequence. The
        // odd mark is Relaxed: the Release stores below carry it to any
        // reader that sees them.
        let seq = self.published.load(Ordering::Relaxed);
        self.published.store(seq + 1, Ordering::Relaxed);
        self.step_until.store(until, Ordering::Release);
        // Ordering: Release pairs with the Acquire load in `ask`. Stores
        // happen under the lock, but probe takes CAS the word without it,
        // so a probe word keeps the slots taken in its own step.
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            let in_use = if word::kind(cur) == word::KIND_PROBE {
                word::probes_in_use(cur)
            } else {
                0
            };
            let next = s.word(in_use);
            let next = if word::kind(next) == word::KIND_PROBE
                && (word::kind(cur) != word::KIND_PROBE
                    || word::gen(cur) != word::gen(next)
                    || word::probe_step(cur) != word::probe_step(next))
            {
                // A new probe step starts with every slot free.
                s.word(0)
            } else {
                next
            };
            match self
                .word
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        // Ordering: Release, after both stores: a reader that sees this even
        // value sees the pair it closes.
        self.published.store(seq + 2, Ordering::Release);
    }

    /// Reports a transition, and tells guarded valves when calls start being
    /// refused. Called under the lock.
    pub(super) fn emit(
        &self,
        from: Option<FuseState>,
        to: Option<FuseState>,
        cause: Cause,
        at: u64,
    ) {
        self.env.notify.transition(&self.name, from, to, cause, at);
        // Blown or disabled: either way calls are refused; tell the valves
        // it guards so their waiters stop waiting.
        if matches!(to, Some(FuseState::Blown | FuseState::Disabled)) && from != to {
            self.watchers.tell(at);
        }
    }

    pub(super) fn emit_step(&self, index: usize, step: Step, at: u64) {
        self.env.notify.heal_step(&self.name, index, step, at);
    }
}
