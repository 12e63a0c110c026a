//! Reads of a fuse that change nothing but may apply due heal steps:
//! snapshots for operators, and the word-only checks the alarm monitor and
//! valve guards make.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::engine::FuseCore;
use super::slow::Phase;
use super::snapshot::{FuseCounters, FuseSnapshot, ThrottleSnapshot};
use super::strategy::Strategy;
use super::word;
use crate::clock::duration_nanos;
use crate::stats::counters::Hot;
use crate::sync::lock;

impl FuseCore {
    /// Whether the word says disabled.
    pub(crate) fn is_disabled(&self) -> bool {
        // Ordering: Acquire pairs with the Release store in `publish`.
        word::kind(self.word.load(Ordering::Acquire)) == word::KIND_DISABLED
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
            Strategy::Throttle { window, .. } => {
                let (requests, accepts) = s.throttle.totals(now, duration_nanos(window));
                requests.saturating_sub(accepts)
            }
        };
        let throttle = match s.config.strategy {
            Strategy::Throttle { window, .. } => {
                let (requests, accepts) = s.throttle.totals(now, duration_nanos(window));
                Some(ThrottleSnapshot {
                    reject_probability: s.reject_probability(now),
                    requests,
                    accepts,
                })
            }
            _ => None,
        };
        let (next_heal, heal_step) = match (s.disabled, s.phase) {
            (false, Phase::Healing { step, until, .. }) => (
                (step == 0 && until != u64::MAX).then(|| Duration::from_nanos(until)),
                Some(step),
            ),
            _ => (None, None),
        };
        let (chaos_latency, chaos_errors) = self.chaos.counts();
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
                throttled: s.throttled,
                chaos_latency,
                chaos_errors,
            },
            last_blow: s.last_blow.map(Duration::from_nanos),
            next_heal,
            heal_step,
            attempt: s.attempt,
            throttle,
        })
    }
}
