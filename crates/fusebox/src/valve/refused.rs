//! Why a valve refused a task: a type apart from the task's own error, so a
//! caller can tell "the valve said no" from "the work failed".

use std::fmt;

/// Why a valve refused a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Refused {
    /// The queue was full.
    QueueFull,
    /// CoDel shed the task: waiting times had stayed above target too long.
    Overload,
    /// The task waited longer than `max_wait`.
    Timeout,
    /// The fuse guarding the valve is blown.
    Blown,
    /// `try_acquire` found no free slot (or no token) and does not wait.
    Busy,
    /// The valve was removed.
    Removed,
    /// A keyed family ([`KeyedValves`](crate::keyed::KeyedValves)) holds
    /// its `max_keys` and had no room for a new key. Counted by the family
    /// ([`KeyedStats::full`](crate::keyed::KeyedStats::full)), never by a
    /// valve.
    TooManyKeys,
}

impl Refused {
    /// The reason as a metric label: `queue_full`, `overload`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::QueueFull => "queue_full",
            Refused::Overload => "overload",
            Refused::Timeout => "timeout",
            Refused::Blown => "blown",
            Refused::Busy => "busy",
            Refused::Removed => "removed",
            Refused::TooManyKeys => "too_many_keys",
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by the valve: {}", self.as_str())
    }
}

impl std::error::Error for Refused {}
