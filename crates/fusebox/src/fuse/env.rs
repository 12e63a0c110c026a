//! What a Fusebox shares with all its fuses: its clock, its timer, and where
//! a fuse reports what happened to it.
//!
//! A fuse does not know the event bus, the registry or the valves: it tells
//! a [`Notify`] of its transitions, an interface it owns, and the Fusebox
//! wires that to its bus (and to `tracing`). So the breaker depends on
//! nothing above it.

use std::fmt;
use std::sync::Arc;

use super::heal::Step;
use super::state::{Cause, FuseState};
use crate::clock::Timebase;
use crate::rng::Draws;
use crate::timer::Timers;

/// Where a fuse reports its transitions. Called under the fuse's lock, so
/// the reports of one fuse arrive in the order its state changed; an
/// implementation must never block or call back into the fuse.
pub(crate) trait Notify: Send + Sync + fmt::Debug {
    /// The fuse changed state (`from` is `None` for an install, `to` for a
    /// removal), at `at` ns on the Fusebox's clock.
    fn transition(
        &self,
        name: &Arc<str>,
        from: Option<FuseState>,
        to: Option<FuseState>,
        cause: Cause,
        at: u64,
    );

    /// A blown fuse entered step `index` of its heal program.
    fn heal_step(&self, name: &Arc<str>, index: usize, step: Step, at: u64);

    /// A melt was recorded; `blown` if the fuse is blown after it.
    fn melted(&self, name: &Arc<str>, blown: bool) {
        let _ = (name, blown);
    }
}

/// The clock, timer and reporting of one Fusebox, shared by its fuses.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) timebase: Timebase,
    pub(crate) timers: Arc<Timers>,
    pub(crate) notify: Arc<dyn Notify>,
    /// Fault-injection and gradual-admission draws, heal jitter.
    pub(crate) draws: Draws,
}
