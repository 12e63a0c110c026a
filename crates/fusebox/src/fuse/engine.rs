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

use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::config::{FuseConfig, Step, Strategy};
use super::rate::RateWindow;
use super::window::MeltWindow;
use super::word;
use crate::clock::{duration_nanos, Timebase};
use crate::error::{NotFound, RunError};
use crate::event::{Bus, Cause, Event, EventKind};
use crate::snapshot::{FuseCounters, FuseSnapshot, FuseState};
use crate::stats::counters::{Hot, HotCounters};
use crate::sync::{lock, AtomicU64, Mutex};
use crate::timer::{Fire, Timers};

use std::sync::atomic::{AtomicU8, Ordering};

/// What a Fusebox shares with all its fuses: its clock, timer and event bus.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) timebase: Timebase,
    pub(crate) timers: Arc<Timers>,
    pub(crate) bus: Bus,
}

/// The answer of the engine, which knows one more case than [`Ask`](crate::Ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    Blown,
    /// The fuse was removed; by-name callers answer `NotFound`.
    Removed,
}

/// How a call ended, for the fuse's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// It worked: counts toward healing and against failure rates.
    Success,
    /// It failed: a melt.
    Failure,
    /// Neither (a client error, a cancellation): counted nowhere.
    Ignored,
}

impl Outcome {
    /// The default classification: `Ok` is a success, `Err` a failure.
    ///
    /// ```
    /// use fusebox::Outcome;
    /// assert_eq!(Outcome::of_result(&Ok::<u8, ()>(1)), Outcome::Success);
    /// assert_eq!(Outcome::of_result(&Err::<u8, ()>(())), Outcome::Failure);
    /// ```
    pub fn of_result<T, E>(r: &Result<T, E>) -> Outcome {
        match r {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}

/// Proof of admission: the generation of the word that let the call in, the
/// probe slot it holds, if any, and the config flags at admission. Its
/// outcome must be reported exactly once ([`FuseCore::complete`]) so the slot
/// is given back. Packed in one word so that `run` keeps it in a register:
/// gen (27 bits) | flags (2) | holds a probe (1) | probe step (8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Ticket {
    #[inline]
    fn new(gen: u64, flags: u8, probe_step: Option<usize>) -> Self {
        let probe = match probe_step {
            Some(step) => 1 << 29 | (step as u64 & 0xFF) << 30,
            None => 0,
        };
        Ticket((gen & word::GEN_MASK) | (flags as u64 & 3) << 27 | probe)
    }

    #[inline]
    fn gen(self) -> u64 {
        self.0 & word::GEN_MASK
    }

    #[inline]
    fn flags(self) -> u8 {
        (self.0 >> 27) as u8 & 3
    }

    #[inline]
    fn probe_step(self) -> Option<usize> {
        (self.0 & 1 << 29 != 0).then_some((self.0 >> 30) as usize & 0xFF)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Admit {
    Nothing,
    Fraction(f64),
    Probe(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Ok,
    /// Running the heal program at `step`, admitting `admit`. `until` ends a
    /// delay step (`u64::MAX` while waiting on probes or a barrier).
    Healing {
        step: usize,
        admit: Admit,
        until: u64,
        probes_ok: u32,
    },
}

/// Flags read without the lock by `complete` on the hot path.
const COUNTS_SUCCESSES: u8 = 1;
const TIMES_CALLS: u8 = 2;

#[derive(Debug)]
struct Slow {
    config: FuseConfig,
    phase: Phase,
    disabled: bool,
    removed: bool,
    window: MeltWindow,
    consecutive: u32,
    rate: RateWindow,
    /// Blows and heals so far (see `word::gen`).
    gen: u64,
    /// Consecutive blows, for backoff.
    attempt: u32,
    healed_at: Option<u64>,
    /// Bumped by every change that makes a scheduled timer stale.
    ticket: u64,
    melts: u64,
    blows: u64,
    heals: u64,
    last_blow: Option<u64>,
}

impl Slow {
    fn state(&self) -> FuseState {
        if self.disabled {
            FuseState::Disabled
        } else {
            match self.phase {
                Phase::Ok => FuseState::Ok,
                Phase::Healing { .. } => FuseState::Blown,
            }
        }
    }

    /// The state word that answers asks for this state, given the probe
    /// slots currently taken.
    fn word(&self, probes_in_use: u32) -> u64 {
        if self.removed {
            word::REMOVED
        } else if self.disabled {
            word::DISABLED
        } else {
            match self.phase {
                Phase::Healing {
                    admit: Admit::Nothing,
                    until,
                    ..
                } => word::blown_until((until != u64::MAX).then_some(until)),
                Phase::Healing {
                    admit: Admit::Fraction(f),
                    ..
                } => word::gradual(f, self.gen),
                Phase::Healing {
                    admit: Admit::Probe(n),
                    step,
                    ..
                } => word::probe(n, probes_in_use, step, self.gen),
                Phase::Ok => match self.config.strategy {
                    Strategy::FaultInjection { rate, .. } => word::injecting(rate, self.gen),
                    _ => word::ok(self.gen, self.flags()),
                },
            }
        }
    }

    /// Clears history, cancels any program and pending timer: a new generation.
    fn settle(&mut self) {
        self.phase = Phase::Ok;
        self.window.clear();
        self.consecutive = 0;
        self.rate.clear();
        self.ticket += 1;
        self.gen += 1;
    }

    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.config.strategy.counts_successes() {
            f |= COUNTS_SUCCESSES;
        }
        if matches!(
            self.config.strategy,
            Strategy::FailureRate {
                slow_call: Some(_),
                ..
            }
        ) {
            f |= TIMES_CALLS;
        }
        f
    }

    /// Counts a failure at `now` against the strategy; true if it trips.
    fn tally_failure(&mut self, now: u64) -> bool {
        match self.config.strategy {
            Strategy::Standard { max_melts, window }
            | Strategy::FaultInjection {
                max_melts, window, ..
            } => self.window.record(now, duration_nanos(window), max_melts),
            Strategy::Consecutive { failures } => {
                self.consecutive = self.consecutive.saturating_add(1);
                self.consecutive >= failures
            }
            Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                ..
            } => {
                let w = duration_nanos(window);
                self.rate.record(now, w, true);
                self.rate.tripped(now, w, ratio, min_calls)
            }
        }
    }

    fn tally_success(&mut self, now: u64) {
        match self.config.strategy {
            Strategy::Consecutive { .. } => self.consecutive = 0,
            Strategy::FailureRate { window, .. } => {
                self.rate.record(now, duration_nanos(window), false)
            }
            Strategy::Standard { .. } | Strategy::FaultInjection { .. } => {}
        }
    }

    /// How long a fuse must stay healed for backoff to start over.
    fn backoff_reset_span(&self) -> u64 {
        duration_nanos(
            self.config
                .strategy
                .window()
                .unwrap_or_else(|| self.config.heal.base_delay()),
        )
    }
}

/// One fuse: its state word, counters and the slow state behind its lock.
pub(crate) struct FuseCore {
    word: CachePadded<AtomicU64>,
    /// The end of the current delay step while the word admits some calls
    /// (GRADUAL, PROBE), whose payload has no room for it: the lazy check
    /// of those asks (`u64::MAX` when there is none).
    step_until: AtomicU64,
    hot: HotCounters,
    flags: AtomicU8,
    slow: Mutex<Slow>,
    name: Arc<str>,
    env: Arc<Env>,
    me: Weak<FuseCore>,
    /// Valves guarded by this fuse, told when it blows.
    watchers: Mutex<Vec<Weak<dyn Fire>>>,
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
            hot: HotCounters::default(),
            flags: AtomicU8::new(flags),
            slow: Mutex::new(slow),
            name,
            env,
            me: me.clone(),
            watchers: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
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
                    if rng::draw32() < word::threshold(w) {
                        self.hot.add(Hot::Injected);
                        return Err(Answer::Blown);
                    }
                    self.hot.add(Hot::AskOk);
                    return Ok(admitted);
                }
                word::KIND_GRADUAL | word::KIND_PROBE if self.step_overdue() => {
                    // The delay step ended and the timer is late: move on
                    // under the lock, and answer anew.
                    w = self.catch_up_now();
                    continue;
                }
                word::KIND_GRADUAL => {
                    if rng::draw32() < word::threshold(w) {
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
                word::KIND_DISABLED => {
                    self.hot.add(Hot::AskBlown);
                    return Err(Answer::Blown);
                }
                _ => return Err(Answer::Removed),
            }
        }
    }

    /// True if the current delay step of an admitting heal step has ended
    /// by the coarse clock.
    fn step_overdue(&self) -> bool {
        // Ordering: Acquire pairs with the Release store in `publish`, which
        // writes it before the word; a newer value than the word we read only
        // makes us take the lock, where the truth is.
        let until = self.step_until.load(Ordering::Acquire);
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

    /// Reports how an admitted call ended. `elapsed` is its duration when
    /// [`times_calls`](Self::times_calls) asked for it.
    #[inline]
    pub(crate) fn complete(&self, ticket: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        if outcome == Outcome::Success
            && ticket.flags() & COUNTS_SUCCESSES == 0
            && ticket.probe_step().is_none()
        {
            // Nothing to give back and nothing the strategy needs: a counter.
            self.hot.add(Hot::Success);
            return;
        }
        self.complete_slow(ticket, outcome, elapsed);
    }

    #[cold]
    fn complete_slow(&self, ticket: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        let mut s = lock(&self.slow);
        if outcome == Outcome::Success {
            self.hot.add(Hot::Success);
        }
        if s.removed {
            return;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        // The slot is given back only after the outcome has taken effect: a
        // failure re-blows and a last probe success moves on, and giving the
        // slot back first would let an ask in between (a state no sequential
        // order has). Only this lock's holder frees slots, so a slot held now
        // is still held below.
        let held = ticket
            .probe_step()
            .filter(|&step| self.holds_probe(ticket.gen(), step));
        self.complete_held(&mut s, ticket, outcome, elapsed, now, held.is_some());
        if let Some(step) = held {
            self.give_back_probe(ticket.gen(), step);
        }
    }

    fn complete_held(
        &self,
        s: &mut Slow,
        ticket: Ticket,
        outcome: Outcome,
        elapsed: Option<u64>,
        now: u64,
        released: bool,
    ) {
        if s.disabled {
            if outcome == Outcome::Failure {
                s.melts += 1;
            }
            return;
        }
        let current = ticket.gen() == s.gen & word::GEN_MASK;
        let slow = match (&s.config.strategy, elapsed) {
            (
                Strategy::FailureRate {
                    slow_call: Some(limit),
                    ..
                },
                Some(took),
            ) => took > duration_nanos(*limit),
            _ => false,
        };
        match outcome {
            Outcome::Ignored => {}
            Outcome::Success if !slow => {
                if current {
                    self.succeeded(s, now, released.then_some(ticket.probe_step()).flatten());
                }
            }
            Outcome::Success | Outcome::Failure => {
                s.melts += 1;
                if current {
                    self.failed(s, now);
                }
            }
        }
    }

    /// True if the word is still the probe step `step` of generation `gen`
    /// with a slot taken. Called under the lock.
    fn holds_probe(&self, gen: u64, step: usize) -> bool {
        // Ordering: Acquire, as every load of the word.
        let w = self.word.load(Ordering::Acquire);
        word::kind(w) == word::KIND_PROBE
            && word::gen(w) == gen
            && word::probe_step(w) == step
            && word::probes_in_use(w) > 0
    }

    /// Gives back a probe slot taken in generation `gen` at program step
    /// `step`, if that probe step is still on. Called under the lock.
    fn give_back_probe(&self, gen: u64, step: usize) -> bool {
        // Ordering: under the lock the word changes only by probe takes,
        // which are CAS; Acquire/AcqRel as they are.
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            if word::kind(w) != word::KIND_PROBE
                || word::gen(w) != gen
                || word::probe_step(w) != step
                || word::probes_in_use(w) == 0
            {
                return false;
            }
            match self.word.compare_exchange_weak(
                w,
                w - word::PROBE_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => w = now,
            }
        }
    }

    /// A success of the current generation: the strategy counts it, and a
    /// probe step moves on after enough of them.
    fn succeeded(&self, s: &mut Slow, now: u64, probe_step: Option<usize>) {
        s.tally_success(now);
        let heal_steps = s.config.heal.steps().len();
        let mut next = None;
        if let Phase::Healing {
            step,
            admit: Admit::Probe(n),
            probes_ok,
            ..
        } = &mut s.phase
        {
            // Only the probe step itself counts successes toward going on.
            let probing = matches!(s.config.heal.steps().get(*step), Some(Step::Probe(_)));
            if probing && probe_step == Some(*step) {
                *probes_ok += 1;
                if *probes_ok >= *n {
                    next = Some(*step + 1);
                }
            }
        }
        debug_assert!(next.is_none_or(|n| n <= heal_steps));
        if let Some(next) = next {
            self.enter(s, next, now);
        }
    }

    /// A failure of the current generation at `now`: may blow, or re-blow a
    /// fuse that is past the first step of its heal program.
    fn failed(&self, s: &mut Slow, now: u64) {
        let over = s.tally_failure(now);
        match s.phase {
            Phase::Ok if over => self.blow(s, now),
            Phase::Ok => {}
            // The first step waits out the blow: recorded, nothing moves.
            Phase::Healing { step: 0, .. } => {}
            Phase::Healing { .. } => self.blow(s, now),
        }
    }

    /// Records a melt at the fuse's own clock; may blow.
    pub(crate) fn melt(&self) -> Answer {
        let mut s = lock(&self.slow);
        if s.removed {
            return Answer::Removed;
        }
        let now = self.env.timebase.now();
        s.melts += 1;
        if s.disabled {
            // Counted, and nothing else: disable dominates.
            return Answer::Blown;
        }
        self.catch_up(&mut s, now);
        self.failed(&mut s, now);
        let answer = match s.phase {
            Phase::Ok => Answer::Ok,
            Phase::Healing { .. } => Answer::Blown,
        };
        #[cfg(feature = "tracing")]
        crate::trace::melt(&self.name, answer == Answer::Blown);
        answer
    }

    /// Reports a success outside `run`: counts it, and during a probe step
    /// gives back a slot a plain `ask` took and counts the probe. Off the
    /// fast path it applies due steps first, as every slow operation does.
    /// `Removed` if the fuse is gone (its word says so, so the fast path
    /// never answers for a removed fuse).
    pub(crate) fn success(&self) -> Answer {
        // Ordering: a hint only; the decision is re-made under the lock.
        let w = self.word.load(Ordering::Acquire);
        // An ok fuse has nothing due and nothing to give back: a counter,
        // unless the strategy counts successes.
        if matches!(word::kind(w), word::KIND_OK | word::KIND_INJECT)
            // Ordering: a config flag; a race with a reinstall is resolved
            // under the lock below by the generation.
            && self.flags.load(Ordering::Relaxed) & COUNTS_SUCCESSES == 0
        {
            self.hot.add(Hot::Success);
            return Answer::Ok;
        }
        let mut s = lock(&self.slow);
        if s.removed {
            return Answer::Removed;
        }
        self.hot.add(Hot::Success);
        if s.disabled {
            return Answer::Blown;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        let w = self.word.load(Ordering::Acquire);
        // As in `complete`: count first, give the slot back after.
        let probe = (word::kind(w) == word::KIND_PROBE
            && self.holds_probe(word::gen(w), word::probe_step(w)))
        .then(|| word::probe_step(w));
        self.succeeded(&mut s, now, probe);
        if let Some(step) = probe {
            self.give_back_probe(word::gen(w), step);
        }
        Answer::Ok
    }

    /// ask; if ok call `f`, classify its result, report it.
    #[inline]
    pub(crate) fn run<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>> {
        let ticket = match self.admit() {
            Ok(t) => t,
            Err(Answer::Blown) => return Err(RunError::Blown),
            Err(_) => return Err(RunError::NotFound(NotFound::new(&self.name))),
        };
        /// Reports a failure if `f` unwinds: a panic is a failure, and keeps
        /// unwinding; the probe slot, if any, is given back.
        struct FailOnUnwind<'a>(&'a FuseCore, Ticket);
        impl Drop for FailOnUnwind<'_> {
            fn drop(&mut self) {
                self.0.complete(self.1, Outcome::Failure, None);
            }
        }
        let start = self.times_calls(&ticket).then(|| self.now());
        let guard = FailOnUnwind(self, ticket);
        let out = f();
        std::mem::forget(guard);
        let elapsed = start.map(|t| self.now().saturating_sub(t));
        self.complete(ticket, classify(&out), elapsed);
        out.map_err(RunError::Failed)
    }

    /// Heal now: ok, empty history, program cancelled. Keeps a disabled fuse disabled.
    pub(crate) fn reset(&self) -> Answer {
        self.mutate(|s, _| {
            s.settle();
            s.attempt = 0;
            Cause::Reset
        })
    }

    pub(crate) fn disable(&self) -> Answer {
        self.mutate(|s, _| {
            if !s.disabled {
                s.disabled = true;
                s.settle();
            }
            Cause::Disable
        })
    }

    pub(crate) fn enable(&self) -> Answer {
        self.mutate(|s, _| {
            if s.disabled {
                s.disabled = false;
                s.settle();
                s.attempt = 0;
            }
            Cause::Enable
        })
    }

    /// Releases a barrier step (anything else: nothing happens).
    pub(crate) fn unlock(&self) -> Answer {
        let mut s = lock(&self.slow);
        if s.removed {
            return Answer::Removed;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        if s.disabled {
            return Answer::Ok;
        }
        if let Phase::Healing { step, .. } = s.phase {
            if s.config.heal.steps().get(step) == Some(&Step::Barrier) {
                self.enter(&mut s, step + 1, now);
            }
        }
        Answer::Ok
    }

    /// New config, state reset to ok, history cleared, program cancelled;
    /// the disabled flag is kept. Always emits `installed`.
    pub(crate) fn reinstall(&self, config: FuseConfig) -> Answer {
        let mut s = lock(&self.slow);
        if s.removed {
            return Answer::Removed;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        let from = s.state();
        s.config = config;
        s.settle();
        s.attempt = 0;
        // Ordering: config flags order nothing (see `times_calls`).
        self.flags.store(s.flags(), Ordering::Relaxed);
        self.publish(&s);
        self.emit(Some(from), Some(s.state()), Cause::Install, now);
        Answer::Ok
    }

    /// Marks the fuse removed: handles refuse, by-name calls say not found.
    pub(crate) fn remove(&self) -> Answer {
        let mut s = lock(&self.slow);
        if s.removed {
            return Answer::Removed;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        let from = s.state();
        s.removed = true;
        s.ticket += 1;
        self.publish(&s);
        self.emit(Some(from), None, Cause::Remove, now);
        Answer::Ok
    }

    /// True if the fuse refuses some asks at `now` (blown, healing or
    /// disabled), without changing it. What the alarm monitor looks at.
    /// Whether every call is refused at `now` (blown before its deadline,
    /// or disabled), as opposed to a heal step that admits some.
    pub(crate) fn refuses_all_at(&self, now: u64) -> bool {
        // Ordering: Acquire pairs with the Release store in `publish`.
        let w = self.word.load(Ordering::Acquire);
        match word::kind(w) {
            word::KIND_BLOWN => now < word::deadline_ns(w),
            word::KIND_DISABLED => true,
            _ => false,
        }
    }

    pub(crate) fn refusing_at(&self, now: u64) -> bool {
        // Ordering: a monitor look needs no ordering with other memory.
        let w = self.word.load(Ordering::Acquire);
        match word::kind(w) {
            word::KIND_BLOWN => now < word::deadline_ns(w),
            word::KIND_DISABLED | word::KIND_GRADUAL | word::KIND_PROBE => true,
            _ => false,
        }
    }

    pub(crate) fn snapshot(&self) -> Option<FuseSnapshot> {
        self.view(true)
    }

    /// The fuse as it stands, without applying due heal steps first: a read
    /// that changes nothing, for periodic observers (the metrics tick) that
    /// a `ManualClock` may run late, after the clock has moved past steps
    /// other timers have yet to apply in order.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn peek(&self) -> Option<FuseSnapshot> {
        self.view(false)
    }

    fn view(&self, catch_up: bool) -> Option<FuseSnapshot> {
        let mut s = lock(&self.slow);
        if s.removed {
            return None;
        }
        let now = self.env.timebase.now();
        if catch_up {
            self.catch_up(&mut s, now);
        }
        let melts_in_window = match s.config.strategy {
            Strategy::Standard { window, .. } | Strategy::FaultInjection { window, .. } => {
                s.window.count(now, duration_nanos(window)) as u64
            }
            Strategy::Consecutive { .. } => u64::from(s.consecutive),
            Strategy::FailureRate { window, .. } => s.rate.totals(now, duration_nanos(window)).1,
        };
        let (next_heal, heal_step) = match (s.disabled, s.phase) {
            (false, Phase::Healing { step, until, .. }) => (
                (step == 0 && until != u64::MAX).then(|| Duration::from_nanos(until)),
                Some(step),
            ),
            _ => (None, None),
        };
        Some(FuseSnapshot {
            name: self.name.clone(),
            state: s.state(),
            melts_in_window,
            config: s.config.clone(),
            counters: FuseCounters {
                asks_ok: self.hot.get(Hot::AskOk),
                asks_blown: self.hot.get(Hot::AskBlown),
                injected: self.hot.get(Hot::Injected),
                melts: s.melts,
                successes: self.hot.get(Hot::Success),
                blows: s.blows,
                heals: s.heals,
            },
            last_blow: s.last_blow.map(Duration::from_nanos),
            next_heal,
            heal_step,
            attempt: s.attempt,
        })
    }

    /// Runs an operator mutation: lock, clock, catch up, change, publish, and
    /// an event if the state changed.
    fn mutate(&self, change: impl FnOnce(&mut Slow, u64) -> Cause) -> Answer {
        let mut s = lock(&self.slow);
        if s.removed {
            return Answer::Removed;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        let from = s.state();
        let cause = change(&mut s, now);
        if s.phase == Phase::Ok {
            s.healed_at = Some(now);
        }
        self.publish(&s);
        let to = s.state();
        if from != to {
            self.emit(Some(from), Some(to), cause, now);
        }
        Answer::Ok
    }

    /// Ends every delay step whose deadline is at or before `now`, in order.
    fn catch_up(&self, s: &mut Slow, now: u64) {
        if s.disabled || s.removed {
            return;
        }
        while let Phase::Healing { step, until, .. } = s.phase {
            if until > now {
                break;
            }
            self.enter(s, step + 1, until);
        }
    }

    /// Blows (or re-blows) at `now`: a new generation, the program restarts.
    fn blow(&self, s: &mut Slow, now: u64) {
        let from = s.state();
        if s.healed_at
            .is_some_and(|h| now.saturating_sub(h) >= s.backoff_reset_span())
        {
            s.attempt = 0;
        }
        s.attempt = s.attempt.saturating_add(1);
        s.healed_at = None;
        s.gen += 1;
        s.blows += 1;
        s.last_blow = Some(now);
        s.phase = Phase::Healing {
            step: 0,
            admit: Admit::Nothing,
            until: u64::MAX,
            probes_ok: 0,
        };
        self.emit(Some(from), Some(FuseState::Blown), Cause::Melt, now);
        self.enter(s, 0, now);
    }

    /// Enters program step `i` at `at`, running through steps that take no
    /// time (`gradual`); past the last step the fuse heals.
    fn enter(&self, s: &mut Slow, mut i: usize, at: u64) {
        s.ticket += 1;
        loop {
            let Phase::Healing {
                admit: mut admitted,
                ..
            } = s.phase
            else {
                return;
            };
            let Some(&step) = s.config.heal.steps().get(i) else {
                // The end of the program: healed.
                s.settle();
                s.heals += 1;
                s.healed_at = Some(at);
                self.publish(s);
                self.emit(Some(FuseState::Blown), Some(s.state()), Cause::Heal, at);
                return;
            };
            let mut until = u64::MAX;
            match step {
                Step::Delay(d) => {
                    let d = if i == 0 {
                        self.first_delay(s)
                    } else {
                        duration_nanos(d)
                    };
                    until = word::round_deadline(at.saturating_add(d));
                    let me: Weak<dyn Fire> = self.me.clone();
                    self.env.timers.schedule(until, s.ticket, me);
                }
                Step::Gradual(f) => admitted = Admit::Fraction(f),
                Step::Probe(n) => admitted = Admit::Probe(n),
                Step::Barrier => admitted = Admit::Nothing,
            }
            s.phase = Phase::Healing {
                step: i,
                admit: admitted,
                until,
                probes_ok: 0,
            };
            if s.config.heal.steps().len() > 1 {
                // A plain reset heal has one step; its blow event says it all.
                self.emit_step(i, step, at);
            }
            if matches!(step, Step::Gradual(_)) {
                i += 1;
                continue;
            }
            self.publish(s);
            return;
        }
    }

    /// The first delay of the current attempt, with backoff and jitter.
    fn first_delay(&self, s: &Slow) -> u64 {
        let heal = &s.config.heal;
        let d = duration_nanos(heal.delay_for_attempt(s.attempt.max(1)));
        let j = heal.jitter_fraction();
        if j > 0.0 {
            // Shorten by a uniform share of up to `j`: within [d(1-j), d].
            let u = rng::draw32() as f64 / 4_294_967_296.0;
            (d as f64 * (1.0 - j * u)) as u64
        } else {
            d
        }
    }

    fn publish(&self, s: &Slow) {
        let until = match s.phase {
            Phase::Healing {
                admit: Admit::Fraction(_) | Admit::Probe(_),
                until,
                ..
            } if !s.disabled && !s.removed => until,
            _ => u64::MAX,
        };
        // Ordering: Release, before the word's own Release store below (see
        // `step_overdue`).
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
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    fn emit(&self, from: Option<FuseState>, to: Option<FuseState>, cause: Cause, at: u64) {
        self.env.bus.publish(Event {
            name: self.name.clone(),
            kind: EventKind::Transition { from, to, cause },
            at: Duration::from_nanos(at),
        });
        // Blown or disabled: either way calls are refused; tell the valves
        // it guards so their waiters stop waiting.
        if matches!(to, Some(FuseState::Blown | FuseState::Disabled)) && from != to {
            self.tell_watchers(at);
        }
    }

    /// Registers a valve to be told when this fuse blows. Lock order: a
    /// fuse's locks before a valve's (a valve never takes a fuse lock).
    pub(crate) fn watch(&self, w: Weak<dyn Fire>) {
        let mut ws = lock(&self.watchers);
        ws.retain(|x| x.strong_count() > 0 && !x.ptr_eq(&w));
        ws.push(w);
    }

    /// Stops telling a valve that no longer has this fuse as its guard.
    pub(crate) fn unwatch(&self, w: &Weak<dyn Fire>) {
        lock(&self.watchers).retain(|x| x.strong_count() > 0 && !x.ptr_eq(w));
    }

    fn tell_watchers(&self, at: u64) {
        let ws: Vec<_> = lock(&self.watchers)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for w in ws {
            w.fire(crate::valve::engine::GUARD_BLOWN, at, at);
        }
    }

    fn emit_step(&self, index: usize, step: Step, at: u64) {
        self.env.bus.publish(Event {
            name: self.name.clone(),
            kind: EventKind::HealStep { index, step },
            at: Duration::from_nanos(at),
        });
    }
}

impl Fire for FuseCore {
    fn fire(&self, ticket: u64, _at: u64, now: u64) {
        let mut s = lock(&self.slow);
        if s.ticket == ticket {
            self.catch_up(&mut s, now);
        }
    }
}

/// A small per-thread generator for fault injection draws: xorshift64*
/// (Vigna, "An experimental exploration of Marsaglia's xorshift generators,
/// scrambled", 2016). Not for cryptography; plenty for a refusal rate.
mod rng {
    use std::cell::Cell;

    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }

    #[inline]
    pub(super) fn draw32() -> u64 {
        STATE.with(|s| {
            let mut x = s.get();
            if x == 0 {
                x = seed();
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            s.set(x);
            x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
        })
    }

    #[cold]
    fn seed() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(&h as *const _ as usize);
        h.finish() | 1
    }
}
