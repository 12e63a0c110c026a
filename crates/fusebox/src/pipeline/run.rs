//! The async engine: rounds of attempts, hedged, retried by the policy.
//!
//! A call is a sequence of *rounds*. A round starts one attempt; while no
//! attempt of the round has succeeded and one is still running, each hedge
//! delay that passes starts another (a hedge), if the call has hedges left,
//! the retry deadline has not passed and the budget pays. The round ends:
//!
//! * at the first success, which is the call's value; every other attempt
//!   of the round is dropped at once (ignored by the fuse, its valve slot
//!   freed);
//! * when no attempt is running any more. Its result is then the last
//!   failure to finish, or, if none failed, the last refusal or ignored
//!   result: a hedge the valve refused says nothing about a primary that
//!   failed. A round with a failure is retried by the policy's rules
//!   (`retry/policy.rs`), a refusal or an ignored result never.
//!
//! The attempts of a round live in one vector polled by hand: no task is
//! spawned, nothing needs a runtime but the [`Timer`](super::Timer).

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Duration;

use super::attempt::{attempt, Done};
use super::stats::{DRY_HEDGES, DRY_RETRIES, HEDGES, HEDGE_WINS};
use super::{Core, PipelineError, Sleeping};
use crate::fuse::Outcome;
use crate::retry::{Attempts, Next};
use crate::retry::{Class, Stop};

/// How a finished attempt ranks when no attempt succeeded: the higher
/// replaces the lower, and among equals the later wins.
fn rank(c: Class) -> u8 {
    match c {
        Class::Failure => 2,
        Class::Ignored => 1,
        _ => 0,
    }
}

/// What follows a round: the call's answer, or a wait before the next.
pub(crate) enum After<T, E> {
    Answer(Result<T, PipelineError<E>>),
    Wait(Duration),
}

impl Core {
    /// The call without its fallback.
    pub(crate) async fn run<T, E, M, Fut, C>(
        &self,
        mut make: M,
        classify: C,
    ) -> Result<T, PipelineError<E>>
    where
        M: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Fn(&Result<T, E>) -> Outcome,
    {
        let mut attempts =
            Attempts::begin(&self.retry.inner).hedges(self.hedge.as_ref().map_or(0, |h| h.max));
        loop {
            let done = self.round(&mut make, &classify, &mut attempts).await;
            let hedges = attempts.hedges_made();
            match self.after_round(&mut attempts, done, hedges) {
                After::Answer(answer) => return answer,
                After::Wait(d) => {
                    if !d.is_zero() {
                        self.timer.sleep(d).await;
                    }
                }
            }
        }
    }

    /// What follows a finished round (an attempt, in the blocking form)
    /// by the retry policy: a failure's decision counted, and either the
    /// call's answer (a success counted) or the wait before the next round.
    /// `hedges` is how many hedges the call made, for its error.
    pub(crate) fn after_round<T, E>(
        &self,
        attempts: &mut Attempts<'_>,
        done: Done<T, E>,
        hedges: u32,
    ) -> After<T, E> {
        let next = attempts.after_with(done.class, || self.clock.now());
        if done.class == Class::Failure {
            self.after_failure(next);
        }
        match (next, done.result) {
            (_, Ok(v)) if done.class == Class::Success => {
                self.counters.succeeded();
                After::Answer(Ok(v))
            }
            (Next::Again(d), _) => After::Wait(d),
            (Next::Done(_), Ok(v)) => After::Answer(Ok(v)),
            (Next::Done(stop), Err(reason)) => After::Answer(Err(PipelineError::new(
                reason,
                attempts.made(),
                hedges,
                stop,
            ))),
        }
    }

    /// Counts what the retry engine decided about a failure.
    pub(crate) fn after_failure(&self, next: Next) {
        match next {
            Next::Again(_) if self.retry.budget().is_some() => self.counters.budget_paid(),
            Next::Done(Stop::BudgetExhausted) => {
                self.counters.budget_refused(DRY_RETRIES, &self.events())
            }
            _ => {}
        }
    }

    /// One round: an attempt and its hedges, until a success or until none
    /// is running.
    async fn round<T, E, M, Fut, C>(
        &self,
        make: &mut M,
        classify: &C,
        attempts: &mut Attempts<'_>,
    ) -> Done<T, E>
    where
        M: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Fn(&Result<T, E>) -> Outcome,
    {
        if !attempts.may_hedge() {
            // Nothing to race it against: the round is its one attempt,
            // awaited in place (no vector, no box).
            return attempt(self, make(), classify).await;
        }
        let mut flights = vec![Some(Box::pin(attempt(self, make(), classify)))];
        let mut timer = self.hedge_timer(attempts);
        let mut best: Option<Done<T, E>> = None;
        poll_fn(|cx| loop {
            for (i, slot) in flights.iter_mut().enumerate() {
                let Some(f) = slot else { continue };
                let Poll::Ready(done) = f.as_mut().poll(cx) else {
                    continue;
                };
                *slot = None;
                if done.class == Class::Success {
                    if i > 0 {
                        self.counters.add(HEDGE_WINS);
                    }
                    return Poll::Ready(done);
                }
                if best
                    .as_ref()
                    .is_none_or(|b| rank(done.class) >= rank(b.class))
                {
                    best = Some(done);
                }
            }
            let running = flights.iter().any(Option::is_some);
            if !running {
                return Poll::Ready(best.take().expect("a round has an attempt"));
            }
            let Some(t) = timer.as_mut() else {
                return Poll::Pending;
            };
            if t.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            timer = None;
            if self.hedge_now(attempts) {
                flights.push(Some(Box::pin(attempt(self, make(), classify))));
                timer = self.hedge_timer(attempts);
            }
            // Poll the new hedge (and its timer) at once.
        })
        .await
    }

    /// The timer of the next hedge, if the call has one left.
    fn hedge_timer(&self, attempts: &Attempts<'_>) -> Option<Sleeping> {
        let h = self.hedge.as_ref()?;
        if !attempts.may_hedge() {
            return None;
        }
        Some(self.timer.sleep(h.delay_now(self.latency.as_ref())))
    }

    /// Whether a hedge whose delay has passed may start, as the retry
    /// engine decides ([`Attempts::hedge`]: a hedge left, the deadline, the
    /// budget), counted.
    fn hedge_now(&self, attempts: &mut Attempts<'_>) -> bool {
        match attempts.hedge_at(self.clock.now()) {
            Ok(()) => {
                if self.retry.budget().is_some() {
                    self.counters.budget_paid();
                }
                self.counters.add(HEDGES);
                true
            }
            Err(Stop::BudgetExhausted) => {
                self.counters.budget_refused(DRY_HEDGES, &self.events());
                false
            }
            Err(_) => false,
        }
    }
}
