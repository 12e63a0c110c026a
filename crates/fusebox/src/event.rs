//! Events: every state change of every fuse, and every alarm set and cleared.
//!
//! Observability must never break the breaker (fuse's stats plugins were best
//! effort for the same reason). So each subscriber gets a bounded buffer of
//! its own; publishing never blocks and never waits for a subscriber. A slow
//! subscriber whose buffer is full loses its *oldest* events and is told how
//! many at its next receive ([`RecvError::Lagged`]). A callback subscriber
//! ([`Fusebox::subscribe_fn`](crate::Fusebox::subscribe_fn)) runs on a thread of
//! its own; if it panics it is dropped, and the fuses never notice.
//!
//! Events are published while the fuse that changed holds its lock, so the
//! events of one fuse arrive in the order its state changed.

//!
//! This file holds the events themselves, plain data; `bus.rs` delivers
//! them, `subscription.rs` is the subscriber's end, `alarm.rs` the monitor,
//! `pipeline.rs` what a pipeline reports.

pub(crate) mod alarm;
mod bus;
mod pipeline;
mod queue;
mod subscription;
#[cfg(feature = "tracing")]
mod trace;

use std::sync::Arc;
use std::time::Duration;

pub use crate::fuse::Cause;
use crate::fuse::{FuseState, Step};

pub use alarm::{Alarm, AlarmKind};
pub(crate) use bus::Bus;
pub use pipeline::{PipelineChange, ReasonKind};
pub use subscription::{CallbackSubscriber, RecvError, Subscription};

/// One thing that happened to a fuse.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Event {
    /// The fuse's name.
    pub name: Arc<str>,
    /// What happened.
    pub kind: EventKind,
    /// When, on the Fusebox's clock (for a heal: its deadline).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub at: Duration,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum EventKind {
    /// The fuse changed state. `from` is `None` for a new install, `to` is
    /// `None` for a removal.
    Transition {
        /// The state before.
        from: Option<FuseState>,
        /// The state after.
        to: Option<FuseState>,
        /// What caused it.
        cause: Cause,
    },
    /// A blown fuse entered a step of its heal program (only for programs of
    /// more than one step).
    HealStep {
        /// The step's position in the program, from 0.
        index: usize,
        /// The step.
        step: Step,
    },
    /// A valve was installed, reconfigured or removed (the event's name is
    /// the valve's).
    Valve {
        /// What happened.
        change: ValveChange,
    },
    /// A pipeline began to degrade (the event's name is the pipeline's):
    /// sent once per episode, see [`PipelineChange`].
    Pipeline {
        /// What began.
        change: PipelineChange,
    },
    /// The alarm monitor raised an alarm.
    AlarmSet {
        /// Which alarm.
        alarm: AlarmKind,
    },
    /// The alarm monitor cleared an alarm (after its hysteresis, or removal).
    AlarmCleared {
        /// Which alarm.
        alarm: AlarmKind,
    },
}

/// What happened to a valve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ValveChange {
    /// Installed anew.
    Installed,
    /// Its config was replaced, live.
    Reconfigured,
    /// Removed; its waiters were refused.
    Removed,
    /// Its adaptive limit moved from `from` to `to`: reported when it moved
    /// by a tenth (at least 1) since the last report, at most once a second.
    Limit {
        /// The limit last reported.
        from: usize,
        /// The limit now.
        to: usize,
    },
}
