//! How a call's outcome reaches its fuse: `complete` for an admitted call
//! (with its ticket), `melt` and `success` for reports outside `run`, and
//! `run` itself. A success or failure counts only for the generation that
//! admitted it; a probe slot is given back only after the outcome took
//! effect.

use std::sync::atomic::Ordering;

use super::engine::{Answer, FuseCore};
use super::heal::Step;
use super::outcome::Outcome;
use super::slow::{Admit, Phase, Slow};
use super::strategy::Strategy;
use super::ticket::{Ticket, COUNTS_SUCCESSES};
use super::word;
use crate::clock::duration_nanos;
use crate::error::{NotFound, RunError};
use crate::stats::counters::Hot;
use crate::sync::lock;

impl FuseCore {
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
        let slow = match (s.config.strategy.slow_call_threshold(), elapsed) {
            (Some(limit), Some(took)) => took > duration_nanos(limit),
            _ => false,
        };
        match outcome {
            Outcome::Ignored => {
                // Counted nowhere: a throttle takes its request back.
                if let (true, Some(tag), Strategy::Throttle { window, .. }) =
                    (current, ticket.throttle_tag(), &s.config.strategy)
                {
                    let window = duration_nanos(*window);
                    s.throttle.unrequest(tag, now, window);
                }
            }
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

    /// A success of the current generation: the strategy counts it (a
    /// failure rate is judged on it too, and may blow an ok fuse), and a
    /// probe step moves on after enough of them.
    fn succeeded(&self, s: &mut Slow, now: u64, probe_step: Option<usize>) {
        if s.tally_success(now) && s.phase == Phase::Ok {
            self.blow(s, now);
            return;
        }
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
        self.env.notify.melted(&self.name, answer == Answer::Blown);
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

    /// ask; if ok call `f`, classify its result, report it. The async
    /// forms' `Pending` (`fuse.rs`) does the same; this blocking copy is
    /// kept because going through `Pending` measured 7.4 ns -> 16 ns for a
    /// healthy `Fuse::run` (`benches/fuse.rs` `standard_run`, 2-core AMD
    /// EPYC), see issue 22.
    #[inline]
    pub(crate) fn run<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, RunError<E>> {
        let ticket = match self.admit() {
            Ok(t) => t,
            Err(Answer::Blown) => return Err(RunError::Blown),
            Err(_) => return Err(RunError::NotFound(NotFound::fuse(&self.name))),
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
        if self
            .chaos
            .apply_blocking(&self.env.draws, &self.env.timebase)
        {
            std::mem::forget(guard);
            let elapsed = start.map(|t| self.now().saturating_sub(t));
            self.complete(ticket, Outcome::Failure, elapsed);
            return Err(RunError::Injected);
        }
        let out = f();
        // Classified before the guard goes: a classifier that panics
        // unwinds through it, a failure that gives the probe slot back.
        let outcome = classify(&out);
        std::mem::forget(guard);
        let elapsed = start.map(|t| self.now().saturating_sub(t));
        self.complete(ticket, outcome, elapsed);
        out.map_err(RunError::Failed)
    }
}
