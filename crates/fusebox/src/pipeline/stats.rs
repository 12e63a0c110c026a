//! What a pipeline counts, and the events it sends when it starts
//! degrading.
//!
//! Counters are relaxed atomics, statistics only. Events are state
//! changes, not a log of calls: a pipeline whose budget is empty would
//! otherwise send one event per call for the whole outage. So each kind of
//! event marks the start of an *episode*: `BudgetExhausted` when the budget
//! refuses a retry or hedge after the last one it paid for (or since the
//! pipeline was built), `Fallback` when a call falls back after the last
//! call that succeeded. The counters carry the totals.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::ReasonKind;
use crate::event::{Bus, Event, EventKind, PipelineChange};
use crate::retry::RetryStats;

/// What a [`Pipeline`](super::Pipeline) and its clones have counted.
///
/// `retries` is what `fusebox_retries_total` exports, `hedges`
/// `fusebox_hedges_total`, the two `budget_exhausted_*`
/// `fusebox_retry_budget_exhausted_total{kind}`, and `fallbacks`
/// `fusebox_fallbacks_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PipelineStats {
    /// Calls made (each one's first attempt).
    pub calls: u64,
    /// Calls that ended with the call's own value (not a fallback's).
    pub successes: u64,
    /// Retries made.
    pub retries: u64,
    /// Hedges started.
    pub hedges: u64,
    /// Calls whose value came from a hedge.
    pub hedge_wins: u64,
    /// Retries the budget refused.
    pub budget_exhausted_retries: u64,
    /// Hedges the budget refused.
    pub budget_exhausted_hedges: u64,
    /// Fallbacks, by reason.
    pub fallbacks: FallbackCounts,
}

/// Fallbacks by the [`ReasonKind`] that caused them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FallbackCounts {
    /// The fuse refused.
    pub blown: u64,
    /// The valve refused.
    pub refused: u64,
    /// The attempt timed out.
    pub timeout: u64,
    /// The call failed.
    pub failed: u64,
}

impl FallbackCounts {
    /// The count for `kind`.
    pub fn get(&self, kind: ReasonKind) -> u64 {
        match kind {
            ReasonKind::Blown => self.blown,
            ReasonKind::Refused => self.refused,
            ReasonKind::Timeout => self.timeout,
            ReasonKind::Failed => self.failed,
        }
    }

    /// Every fallback.
    pub fn total(&self) -> u64 {
        self.blown + self.refused + self.timeout + self.failed
    }
}

/// A pipeline's name and counters, as a [`Snapshot`](crate::Snapshot)
/// holds them.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PipelineSnapshot {
    /// The pipeline's name (the `pipeline` label).
    pub name: Arc<str>,
    /// Its counters.
    pub stats: PipelineStats,
}

pub(crate) const CALLS: usize = 0;
pub(crate) const SUCCESSES: usize = 1;
pub(crate) const HEDGES: usize = 2;
pub(crate) const HEDGE_WINS: usize = 3;
pub(crate) const DRY_RETRIES: usize = 4;
pub(crate) const DRY_HEDGES: usize = 5;
const FALLBACKS: usize = 6;

/// The counters and episode flags of one pipeline.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    counts: [AtomicU64; 10],
    /// In a budget-exhausted episode.
    dry: AtomicBool,
    /// In a fallback episode.
    falling_back: AtomicBool,
}

impl Counters {
    pub(crate) fn add(&self, i: usize) {
        // Ordering: statistics; nothing is published through them.
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, i: usize) -> u64 {
        // Ordering: as in `add`.
        self.counts[i].load(Ordering::Relaxed)
    }

    pub(crate) fn stats(&self, retry: RetryStats) -> PipelineStats {
        let f = |k: ReasonKind| self.get(FALLBACKS + k.index());
        PipelineStats {
            calls: self.get(CALLS),
            successes: self.get(SUCCESSES),
            retries: retry.retries,
            hedges: self.get(HEDGES),
            hedge_wins: self.get(HEDGE_WINS),
            budget_exhausted_retries: self.get(DRY_RETRIES),
            budget_exhausted_hedges: self.get(DRY_HEDGES),
            fallbacks: FallbackCounts {
                blown: f(ReasonKind::Blown),
                refused: f(ReasonKind::Refused),
                timeout: f(ReasonKind::Timeout),
                failed: f(ReasonKind::Failed),
            },
        }
    }

    /// The budget paid for a retry or a hedge: an episode ends.
    pub(crate) fn budget_paid(&self) {
        // Ordering: the flag only decides whether an event is sent; a race
        // sends one event too many or too few, never a wrong one.
        if self.dry.load(Ordering::Relaxed) {
            self.dry.store(false, Ordering::Relaxed);
        }
    }

    /// The budget refused (`i` is `DRY_RETRIES` or `DRY_HEDGES`): counted,
    /// and an event if an episode begins.
    pub(crate) fn budget_refused(&self, i: usize, events: &Events<'_>) {
        self.add(i);
        // Ordering: as in `budget_paid`; `swap` makes one caller the first.
        if !self.dry.swap(true, Ordering::Relaxed) {
            events.send(PipelineChange::BudgetExhausted);
        }
    }

    /// A call succeeded on its own: a fallback episode ends.
    pub(crate) fn succeeded(&self) {
        self.add(SUCCESSES);
        // Ordering: as in `budget_paid`.
        if self.falling_back.load(Ordering::Relaxed) {
            self.falling_back.store(false, Ordering::Relaxed);
        }
    }

    /// A call fell back for `kind`: counted, and an event if an episode
    /// begins.
    pub(crate) fn fell_back(&self, kind: ReasonKind, events: &Events<'_>) {
        self.add(FALLBACKS + kind.index());
        // Ordering: as in `budget_refused`.
        if !self.falling_back.swap(true, Ordering::Relaxed) {
            events.send(PipelineChange::Fallback { reason: kind });
        }
    }
}

/// Where a pipeline's events go: its Fusebox's bus, if it has one.
#[derive(Debug)]
pub(crate) struct Events<'a> {
    pub(crate) bus: Option<&'a Bus>,
    pub(crate) name: &'a Arc<str>,
    pub(crate) now: u64,
}

impl Events<'_> {
    fn send(&self, change: PipelineChange) {
        if let Some(bus) = self.bus {
            bus.publish(Event {
                name: self.name.clone(),
                kind: EventKind::Pipeline { change },
                at: std::time::Duration::from_nanos(self.now),
            });
        }
    }
}
