//! The private engine behind a [`Fuse`](crate::Fuse) handle.
//!
//! # Implementation details
//!
//! Reads go straight to one atomic word (the *state word*, see `word.rs`);
//! everything that changes state goes one at a time through a mutex, the way
//! Erlang fuse sent melts through `fuse_server` while asks read an ETS table.
//!
//! * `ask` loads the word. A healthy fuse is the single value `word::OK`, so
//!   the common case is one load, one compare and a bump of this thread's own
//!   counter slot: no lock, no clock read, no shared write.
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

use super::config::{FuseConfig, Strategy};
use super::window::MeltWindow;
use super::word;
use crate::clock::{duration_nanos, Timebase};
use crate::error::{NotFound, RunError};
use crate::event::{Bus, Cause, Event, EventKind};
use crate::snapshot::{FuseCounters, FuseSnapshot, FuseState};
use crate::stats::counters::{Hot, HotCounters};
use crate::sync::{lock, AtomicU64, Mutex};
use crate::timer::{Fire, Timers};

use std::sync::atomic::Ordering;

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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Ok,
    Blown { heal_at: u64 },
}

#[derive(Debug)]
struct Slow {
    config: FuseConfig,
    phase: Phase,
    disabled: bool,
    removed: bool,
    window: MeltWindow,
    /// Bumped by every change that makes a scheduled heal stale.
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
                Phase::Blown { .. } => FuseState::Blown,
            }
        }
    }

    /// The state word that answers asks for this state.
    fn word(&self) -> u64 {
        if self.removed {
            word::REMOVED
        } else if self.disabled {
            word::DISABLED
        } else {
            match self.phase {
                Phase::Blown { heal_at } => word::blown_until(Some(heal_at)),
                Phase::Ok => match self.config.strategy {
                    Strategy::FaultInjection { rate, .. } => word::injecting(rate),
                    Strategy::Standard { .. } => word::OK,
                },
            }
        }
    }

    /// Clears history and cancels any pending heal.
    fn settle(&mut self) {
        self.phase = Phase::Ok;
        self.window.clear();
        self.ticket += 1;
    }
}

/// One fuse: its state word, counters and the slow state behind its lock.
pub(crate) struct FuseCore {
    word: CachePadded<AtomicU64>,
    hot: HotCounters,
    slow: Mutex<Slow>,
    name: Arc<str>,
    env: Arc<Env>,
    me: Weak<FuseCore>,
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
            ticket: 0,
            melts: 0,
            blows: 0,
            heals: 0,
            last_blow: None,
        };
        let word = slow.word();
        Arc::new_cyclic(|me| FuseCore {
            word: CachePadded::new(AtomicU64::new(word)),
            hot: HotCounters::default(),
            slow: Mutex::new(slow),
            name,
            env,
            me: me.clone(),
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
        if w == word::OK {
            self.hot.add(Hot::AskOk);
            return Answer::Ok;
        }
        self.ask_not_ok(w)
    }

    /// A blown fuse whose deadline is still ahead: the common refusal, kept
    /// small so it saves few registers; everything else goes to `ask_slow`.
    #[inline(never)]
    fn ask_not_ok(&self, w: u64) -> Answer {
        if word::kind(w) == word::KIND_BLOWN
            && self.env.timebase.now_coarse() < word::deadline_ns(w)
        {
            self.hot.add(Hot::AskBlown);
            return Answer::Blown;
        }
        self.ask_slow(w)
    }

    #[cold]
    #[inline(never)]
    fn ask_slow(&self, mut w: u64) -> Answer {
        loop {
            match word::kind(w) {
                word::KIND_OK => {
                    self.hot.add(Hot::AskOk);
                    return Answer::Ok;
                }
                word::KIND_BLOWN => {
                    if self.env.timebase.now_coarse() >= word::deadline_ns(w) {
                        // The deadline passed and the timer has not healed us
                        // yet: heal now, under the lock, and answer anew.
                        let after = self.catch_up_now();
                        if word::kind(after) != word::KIND_BLOWN {
                            w = after;
                            continue;
                        }
                    }
                    self.hot.add(Hot::AskBlown);
                    return Answer::Blown;
                }
                word::KIND_INJECT => {
                    if rng::draw32() < word::payload(w) {
                        self.hot.add(Hot::Injected);
                        return Answer::Blown;
                    }
                    self.hot.add(Hot::AskOk);
                    return Answer::Ok;
                }
                word::KIND_DISABLED => {
                    self.hot.add(Hot::AskBlown);
                    return Answer::Blown;
                }
                _ => return Answer::Removed,
            }
        }
    }

    /// Applies due heals now; returns the word after.
    fn catch_up_now(&self) -> u64 {
        let mut s = lock(&self.slow);
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        // Ordering: we hold the lock, and every store happens under it.
        self.word.load(Ordering::Relaxed)
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
        let (window, max_melts) = match s.config.strategy {
            Strategy::Standard { max_melts, window }
            | Strategy::FaultInjection {
                max_melts, window, ..
            } => (duration_nanos(window), max_melts),
        };
        let over = s.window.record(now, window, max_melts);
        match s.phase {
            Phase::Ok if over => {
                self.blow(&mut s, now);
                Answer::Blown
            }
            Phase::Ok => Answer::Ok,
            // Recorded, but neither extends nor restarts the wait.
            Phase::Blown { .. } => Answer::Blown,
        }
    }

    /// Counts a success reported outside `run`.
    pub(crate) fn success(&self) {
        self.hot.add(Hot::Success);
    }

    /// ask; if ok call `f`, melt on `Err` or panic.
    #[inline]
    pub(crate) fn run<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, RunError<E>> {
        match self.ask() {
            Answer::Ok => {}
            Answer::Blown => return Err(RunError::Blown),
            Answer::Removed => return Err(RunError::NotFound(NotFound::new(&self.name))),
        }
        /// Melts if `f` unwinds: a panic is a failure, and keeps unwinding.
        struct MeltOnUnwind<'a>(&'a FuseCore);
        impl Drop for MeltOnUnwind<'_> {
            fn drop(&mut self) {
                self.0.melt();
            }
        }
        let guard = MeltOnUnwind(self);
        let out = f();
        std::mem::forget(guard);
        match out {
            Ok(v) => {
                self.hot.add(Hot::Success);
                Ok(v)
            }
            Err(e) => {
                self.melt();
                Err(RunError::Failed(e))
            }
        }
    }

    /// Heal now: ok, empty history, heal cancelled. Keeps a disabled fuse disabled.
    pub(crate) fn reset(&self) -> Answer {
        self.mutate(|s, _| {
            s.settle();
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
            }
            Cause::Enable
        })
    }

    /// Releases a barrier step. Fuses with a `reset` heal have none, so this
    /// only confirms the fuse exists.
    pub(crate) fn unlock(&self) -> Answer {
        self.mutate(|_, _| Cause::Reset)
    }

    /// New config, state reset to ok, history cleared, heal cancelled;
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

    /// True if the fuse refuses asks at `now` (blown or disabled), without
    /// changing it. What the alarm monitor looks at.
    pub(crate) fn refusing_at(&self, now: u64) -> bool {
        // Ordering: a monitor look needs no ordering with other memory.
        let w = self.word.load(Ordering::Acquire);
        match word::kind(w) {
            word::KIND_BLOWN => now < word::deadline_ns(w),
            word::KIND_DISABLED => true,
            _ => false,
        }
    }

    pub(crate) fn snapshot(&self) -> Option<FuseSnapshot> {
        let mut s = lock(&self.slow);
        if s.removed {
            return None;
        }
        let now = self.env.timebase.now();
        self.catch_up(&mut s, now);
        let melts_in_window = match s.config.strategy.window() {
            Some(w) => s.window.count(now, duration_nanos(w)) as u64,
            None => 0,
        };
        let next_heal = match (s.disabled, s.phase) {
            (false, Phase::Blown { heal_at }) if heal_at != u64::MAX => {
                Some(Duration::from_nanos(heal_at))
            }
            _ => None,
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
        self.publish(&s);
        let to = s.state();
        if from != to {
            self.emit(Some(from), Some(to), cause, now);
        }
        Answer::Ok
    }

    /// Applies the heal if its deadline is at or before `now`.
    fn catch_up(&self, s: &mut Slow, now: u64) {
        if s.disabled || s.removed {
            return;
        }
        if let Phase::Blown { heal_at } = s.phase {
            if heal_at <= now {
                s.settle();
                s.heals += 1;
                self.publish(s);
                self.emit(
                    Some(FuseState::Blown),
                    Some(s.state()),
                    Cause::Heal,
                    heal_at,
                );
            }
        }
    }

    fn blow(&self, s: &mut Slow, now: u64) {
        let after = duration_nanos(s.config.heal.base_delay());
        let heal_at = word::round_deadline(now.saturating_add(after));
        let from = s.state();
        s.phase = Phase::Blown { heal_at };
        s.ticket += 1;
        s.blows += 1;
        s.last_blow = Some(now);
        let me: Weak<dyn Fire> = self.me.clone();
        self.env.timers.schedule(heal_at, s.ticket, me);
        self.publish(s);
        self.emit(Some(from), Some(s.state()), Cause::Melt, now);
    }

    fn publish(&self, s: &Slow) {
        // Ordering: Release pairs with the Acquire load in `ask` (see the
        // module docs); all stores happen under the lock.
        self.word.store(s.word(), Ordering::Release);
    }

    fn emit(&self, from: Option<FuseState>, to: Option<FuseState>, cause: Cause, at: u64) {
        self.env.bus.publish(Event {
            name: self.name.clone(),
            kind: EventKind::Transition { from, to, cause },
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
