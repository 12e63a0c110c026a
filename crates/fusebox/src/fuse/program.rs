//! The heal program as it runs: blowing starts it at its first step, the
//! timer (or the lazy check) ends each delay, `gradual` steps take no time,
//! a failure after the first step re-blows, and the end of the list heals.
//! Backoff and jitter shape the first delay of each attempt.

use std::sync::Weak;

use super::engine::FuseCore;
use super::heal::Step;
use super::slow::{Admit, Phase, Slow};
use super::state::{Cause, FuseState};
use super::word;
use crate::clock::duration_nanos;
use crate::sync::lock;
use crate::timer::Due;

impl FuseCore {
    /// Ends every delay step whose deadline is at or before `now`, in order.
    pub(super) fn catch_up(&self, s: &mut Slow, now: u64) {
        if s.disabled || s.removed {
            return;
        }
        let mut moved = false;
        while let Phase::Healing { step, until, .. } = s.phase {
            if until > now {
                break;
            }
            self.step_to(s, step + 1, until);
            moved = true;
        }
        // One word for the whole catch-up: the steps passed on the way were
        // over by `now`, and a word published for one of them would be a
        // state no sequential history has at `now` (a racing ask that read
        // it would refuse a fuse the clock has healed; loom found it).
        if moved {
            self.publish(s);
        }
    }

    /// Blows (or re-blows) at `now`: a new generation, the program restarts.
    pub(super) fn blow(&self, s: &mut Slow, now: u64) {
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
    /// time (`gradual`); past the last step the fuse heals. Publishes the
    /// word of where it ends up.
    pub(super) fn enter(&self, s: &mut Slow, i: usize, at: u64) {
        self.step_to(s, i, at);
        self.publish(s);
    }

    /// [`enter`](Self::enter) without publishing the word: the caller
    /// publishes once it is done moving.
    fn step_to(&self, s: &mut Slow, mut i: usize, at: u64) {
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
                    let me: Weak<FuseCore> = self.me.clone();
                    let ticket = s.ticket;
                    self.env.timers.schedule(until, move |due| {
                        if let Some(core) = me.upgrade() {
                            core.step_due(ticket, due);
                        }
                    });
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
            let u = self.env.draws.draw32() as f64 / 4_294_967_296.0;
            (d as f64 * (1.0 - j * u)) as u64
        } else {
            d
        }
    }

    /// A delay step's timer: ends the step, unless the fuse moved on since
    /// it was scheduled (`ticket` is stale).
    fn step_due(&self, ticket: u64, due: Due) {
        let mut s = lock(&self.slow);
        if s.ticket == ticket {
            self.catch_up(&mut s, due.now);
        }
    }
}
