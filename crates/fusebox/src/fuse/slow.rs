//! The state of a fuse behind its lock: where it is in its heal program,
//! its melt history for the strategy, and its slow counters. Everything
//! here changes only under the fuse's mutex; the state word is derived from
//! it (`Slow::word`) and published after each change.

use super::config::FuseConfig;
use super::rate::RateWindow;
use super::state::FuseState;
use super::strategy::Strategy;
use super::throttle::{reject_probability, ThrottleWindow};
use super::ticket::{COUNTS_SUCCESSES, TIMES_CALLS};
use super::window::MeltWindow;
use super::word;
use crate::clock::duration_nanos;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Admit {
    Nothing,
    Fraction(f64),
    Probe(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Phase {
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

#[derive(Debug)]
pub(super) struct Slow {
    pub(super) config: FuseConfig,
    pub(super) phase: Phase,
    pub(super) disabled: bool,
    pub(super) removed: bool,
    pub(super) window: MeltWindow,
    pub(super) consecutive: u32,
    pub(super) rate: RateWindow,
    /// The throttle strategy's requests and accepts.
    pub(super) throttle: ThrottleWindow,
    /// Asks the throttle refused.
    pub(super) throttled: u64,
    /// Blows and heals so far (see `word::gen`).
    pub(super) gen: u64,
    /// Consecutive blows, for backoff.
    pub(super) attempt: u32,
    pub(super) healed_at: Option<u64>,
    /// Bumped by every change that makes a scheduled timer stale.
    pub(super) ticket: u64,
    pub(super) melts: u64,
    pub(super) blows: u64,
    pub(super) heals: u64,
    pub(super) last_blow: Option<u64>,
}

impl Slow {
    pub(super) fn state(&self) -> FuseState {
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
    pub(super) fn word(&self, probes_in_use: u32) -> u64 {
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
                    Strategy::Throttle { .. } => word::throttle(self.gen, self.flags()),
                    _ => word::ok(self.gen, self.flags()),
                },
            }
        }
    }

    /// Clears history, cancels any program and pending timer: a new generation.
    pub(super) fn settle(&mut self) {
        self.phase = Phase::Ok;
        self.window.clear();
        self.consecutive = 0;
        self.rate.clear();
        self.throttle.clear();
        self.ticket += 1;
        self.gen += 1;
    }

    pub(super) fn flags(&self) -> u8 {
        let mut f = 0;
        if self.config.strategy.counts_successes() {
            f |= COUNTS_SUCCESSES;
        }
        if self.config.strategy.slow_call_threshold().is_some() {
            f |= TIMES_CALLS;
        }
        f
    }

    /// Counts a failure at `now` against the strategy; true if it trips.
    pub(super) fn tally_failure(&mut self, now: u64) -> bool {
        match self.config.strategy {
            Strategy::Standard { max_melts, window }
            | Strategy::FaultInjection {
                max_melts, window, ..
            } => self.window.record(now, duration_nanos(window), max_melts),
            Strategy::Consecutive { failures } => {
                self.consecutive = self.consecutive.saturating_add(1);
                self.consecutive >= failures
            }
            Strategy::FailureRate { .. } => self.tally_rate(now, true),
            // A failure is a request with no accept: the request was counted
            // when it was asked. It blows only past `blow_at`.
            Strategy::Throttle {
                min_requests,
                blow_at: Some(at),
                window,
                ..
            } => {
                let (requests, _) = self.throttle.totals(now, duration_nanos(window));
                requests >= u64::from(min_requests) && self.reject_probability(now) >= at
            }
            Strategy::Throttle { .. } => false,
        }
    }

    /// The throttle's reject probability at `now` (0 for other strategies).
    pub(super) fn reject_probability(&self, now: u64) -> f64 {
        match self.config.strategy {
            Strategy::Throttle {
                k,
                window,
                min_requests,
                max_reject,
                ..
            } => {
                let (requests, accepts) = self.throttle.totals(now, duration_nanos(window));
                reject_probability(requests, accepts, k, min_requests, max_reject)
            }
            _ => 0.0,
        }
    }

    /// Counts a success at `now`; true if the strategy trips all the same
    /// (a failure rate is judged after every recorded call: a success that
    /// brings the calls up to `min_calls` while the ratio holds trips it).
    pub(super) fn tally_success(&mut self, now: u64) -> bool {
        match self.config.strategy {
            Strategy::Consecutive { .. } => {
                self.consecutive = 0;
                false
            }
            Strategy::FailureRate { .. } => self.tally_rate(now, false),
            Strategy::Throttle { window, .. } => {
                self.throttle.accept(now, duration_nanos(window));
                false
            }
            Strategy::Standard { .. } | Strategy::FaultInjection { .. } => false,
        }
    }

    /// A failure rate records one outcome and judges the window after it,
    /// whichever the outcome was. (Only called for that strategy.)
    fn tally_rate(&mut self, now: u64, failed: bool) -> bool {
        let Strategy::FailureRate {
            ratio,
            window,
            min_calls,
            ..
        } = self.config.strategy
        else {
            return false;
        };
        let w = duration_nanos(window);
        self.rate.record(now, w, failed);
        self.rate.tripped(now, w, ratio, min_calls)
    }

    /// How long a fuse must stay healed for backoff to start over.
    pub(super) fn backoff_reset_span(&self) -> u64 {
        duration_nanos(
            self.config
                .strategy
                .window()
                .unwrap_or_else(|| self.config.heal.base_delay()),
        )
    }
}
