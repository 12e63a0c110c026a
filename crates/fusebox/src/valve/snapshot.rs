//! What an operator sees of one valve: limits, occupancy, admissions,
//! refusals by reason, waiting and service times. Plain data,
//! serde-serialisable both ways.

use std::time::Duration;

use super::engine::{self, ValveCore, REASONS};
use super::{LimitSnapshot, Refused, ValveConfig};
use crate::stats::histogram::HistogramSnapshot;

/// Refusals of a valve, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Refusals {
    /// The queue was full.
    pub queue_full: u64,
    /// Shed by CoDel.
    pub overload: u64,
    /// Waited longer than `max_wait`.
    pub timeout: u64,
    /// The guarding fuse was blown.
    pub blown: u64,
    /// `try_acquire` found nothing free.
    pub busy: u64,
    /// The valve was removed.
    pub removed: u64,
}

impl Refusals {
    /// The count for one reason.
    pub fn get(&self, r: Refused) -> u64 {
        match r {
            Refused::QueueFull => self.queue_full,
            Refused::Overload => self.overload,
            Refused::Timeout => self.timeout,
            Refused::Blown => self.blown,
            Refused::Busy => self.busy,
            Refused::Removed => self.removed,
            // A family's refusal, never a valve's.
            Refused::TooManyKeys => 0,
        }
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        REASONS.iter().map(|&r| self.get(r)).sum()
    }
}

/// A valve as it is now.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ValveSnapshot {
    /// The valve's name.
    pub name: String,
    /// Its config.
    #[cfg_attr(feature = "serde", serde(skip, default))]
    pub config: ValveConfig,
    /// The concurrency limit in force: the config's `concurrency`, or what
    /// an adaptive limit has learned.
    pub concurrency: usize,
    /// The adaptive limit's state, if the valve has one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub limit: Option<LimitSnapshot>,
    /// The queue size.
    pub queue: usize,
    /// Tasks running.
    pub in_flight: usize,
    /// Tasks waiting.
    pub queued: usize,
    /// Tokens in the bucket, if rate-limited.
    pub tokens: Option<u64>,
    /// Tasks admitted since install.
    pub admitted: u64,
    /// Tasks refused since install, by reason.
    pub refused: Refusals,
    /// Median waiting time of admitted tasks (interpolated within its
    /// histogram bucket; never above the longest wait).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub sojourn_p50: Option<Duration>,
    /// 99th percentile waiting time of admitted tasks (likewise).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub sojourn_p99: Option<Duration>,
    /// Median service time (interpolated likewise; sampled, one task in 64
    /// per thread, so that most tasks read no clock).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub service_p50: Option<Duration>,
    /// 99th percentile service time (interpolated and sampled likewise).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub service_p99: Option<Duration>,
    /// Waiting times of admitted tasks, a task admitted at once counted as
    /// a wait of zero: the histogram `fusebox_valve_sojourn_seconds`.
    pub sojourn: HistogramSnapshot,
    /// Service times of the sampled tasks: the histogram
    /// `fusebox_valve_service_seconds`.
    pub service: HistogramSnapshot,
}

impl ValveSnapshot {
    pub(crate) fn of(core: &ValveCore) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let (config, tokens) = core.view();
        let limit = core.limit_view();
        let st = &core.stats;
        // Ordering: statistics.
        let count = |r: Refused| st.refused[engine::reason_index(r)].load(Relaxed);
        let admitted = st.admitted.load(Relaxed);
        // Tasks that never waited are not in the sojourn histogram.
        let immediate = admitted.saturating_sub(st.sojourn.count());
        let sojourn = st.sojourn.snapshot_with_zeros(immediate);
        let service = st.service.snapshot();
        ValveSnapshot {
            name: core.name.to_string(),
            concurrency: limit.as_ref().map_or(core.limit(), |l| l.limit),
            limit,
            queue: config.queue,
            in_flight: core.in_flight(),
            queued: core.queued(),
            tokens,
            admitted,
            refused: Refusals {
                queue_full: count(Refused::QueueFull),
                overload: count(Refused::Overload),
                timeout: count(Refused::Timeout),
                blown: count(Refused::Blown),
                busy: count(Refused::Busy),
                removed: count(Refused::Removed),
            },
            sojourn_p50: sojourn.p50(),
            sojourn_p99: sojourn.p99(),
            service_p50: service.p50(),
            service_p99: service.p99(),
            sojourn,
            service,
            config,
        }
    }
}
