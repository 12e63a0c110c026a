//! The synchronous form: one attempt at a time on the calling thread.
//!
//! The layers are the async form's, in the same order, with two
//! differences forced by having one thread: no hedges (a hedge is a second
//! attempt *while* the first runs), and a timeout that cannot interrupt a
//! call. A call that answers after the timeout has its answer dropped and
//! counts as a timeout (a failure), so a slow dependency melts the fuse and
//! is retried exactly as in the async form; only the caller waits longer.

use super::attempt::Done;
use super::run::After;
use super::{Core, PipelineError, Reason};
use crate::clock::duration_nanos;
use crate::fuse::{Outcome, Pending};
use crate::retry::{Attempts, Class};

impl Core {
    /// The blocking call without its fallback.
    pub(crate) fn run_blocking<T, E>(
        &self,
        mut f: impl FnMut() -> Result<T, E>,
        classify: impl Fn(&Result<T, E>) -> Outcome,
    ) -> Result<T, PipelineError<E>> {
        let mut attempts = Attempts::begin(&self.retry.inner);
        loop {
            let done = self.attempt_blocking(&mut f, &classify);
            match self.after_round(&mut attempts, done, 0) {
                After::Answer(answer) => return answer,
                After::Wait(d) => self.retry.sleeper().sleep(d),
            }
        }
    }

    fn attempt_blocking<T, E>(
        &self,
        f: &mut impl FnMut() -> Result<T, E>,
        classify: &impl Fn(&Result<T, E>) -> Outcome,
    ) -> Done<T, E> {
        let mut pending = match &self.fuse {
            Some(fuse) => match Pending::admit(fuse.core()) {
                Ok(p) => Some(p),
                Err(_) => return Done::refused(Reason::Blown),
            },
            None => None,
        };
        if pending.as_mut().is_some_and(Pending::inject_blocking) {
            return Done::injected();
        }
        // The clock is read only if a timeout or a latency estimate needs
        // the call's duration: skipping the two readings took a healthy
        // blocking call from about 124 to 92 ns in `benches/pipeline.rs`.
        let timing = self.timeout.is_some() || self.latency.is_some();
        let mut timed = || {
            let start = timing.then(|| self.clock.now());
            let out = f();
            (out, start.map_or(0, |s| self.clock.now().saturating_sub(s)))
        };
        let (out, took) = match &self.valve {
            Some(v) => match v.run_blocking(timed) {
                Ok(x) => x,
                Err(r) => {
                    if let Some(p) = pending {
                        p.finish(Outcome::Ignored);
                    }
                    return Done::refused(Reason::Refused(r));
                }
            },
            None => timed(),
        };
        let late = self.timeout.is_some_and(|d| took > duration_nanos(d));
        let (result, outcome) = if late {
            (Err(Reason::Timeout), Outcome::Failure)
        } else {
            let o = classify(&out);
            (out.map_err(Reason::Failed), o)
        };
        if let Some(p) = pending {
            p.finish(outcome);
        }
        if outcome == Outcome::Success {
            if let Some(l) = &self.latency {
                l.record_ns(took);
            }
        }
        Done {
            result,
            class: Class::of_outcome(outcome),
        }
    }
}
