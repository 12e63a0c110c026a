//! What a pipeline reports on the event bus: plain data, as the rest of
//! the events, so the event module knows no pipeline.

/// What began to go wrong in a [`Pipeline`](crate::pipeline::Pipeline).
/// Each is sent once per episode, not once per call: see
/// `pipeline/stats.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PipelineChange {
    /// The retry budget refused a retry or a hedge, the first time since
    /// it last paid for one.
    BudgetExhausted,
    /// A call fell back, the first time since a call last succeeded.
    Fallback {
        /// Why that call had no value.
        reason: ReasonKind,
    },
}

/// A pipeline's [`Reason`](crate::pipeline::Reason) without its error,
/// for labels and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ReasonKind {
    /// The fuse refused.
    Blown,
    /// The valve refused.
    Refused,
    /// The attempt timed out.
    Timeout,
    /// The call failed.
    Failed,
}

impl ReasonKind {
    /// Every kind, in the order of the `reason` label's samples.
    pub const ALL: [ReasonKind; 4] = [
        ReasonKind::Blown,
        ReasonKind::Refused,
        ReasonKind::Timeout,
        ReasonKind::Failed,
    ];

    /// `blown`, `refused`, `timeout` or `failed`: the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Blown => "blown",
            ReasonKind::Refused => "refused",
            ReasonKind::Timeout => "timeout",
            ReasonKind::Failed => "failed",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            ReasonKind::Blown => 0,
            ReasonKind::Refused => 1,
            ReasonKind::Timeout => 2,
            ReasonKind::Failed => 3,
        }
    }
}
