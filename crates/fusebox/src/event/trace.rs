//! The `tracing` feature: what happens to fuses and valves, as `tracing`
//! events under the target `fusebox`, at levels an operator would choose:
//!
//! | what | level |
//! |---|---|
//! | a fuse blows, or is disabled; an alarm is set | `warn` |
//! | a fuse heals, is reset, enabled, installed or removed; a heal step; an alarm clears; a valve changes | `info` |
//! | a melt | `debug` |
//!
//! Nothing is emitted per ask or per successful call. Every event carries
//! the fuse (or valve) name as a field; the library installs no subscriber.

use super::{Event, EventKind};
use crate::fuse::FuseState;

/// Emits one Fusebox event.
pub(crate) fn event(e: &Event) {
    let name: &str = &e.name;
    let at = e.at.as_secs_f64();
    match &e.kind {
        EventKind::Transition { from, to, cause } => {
            let (from, to) = (state(*from), state(*to));
            let cause = cause.as_str();
            match to {
                "blown" | "disabled" => tracing::warn!(
                    target: "fusebox", fuse = name, from, to, cause, at,
                    "fuse {name} is {to} ({cause})"
                ),
                _ => tracing::info!(
                    target: "fusebox", fuse = name, from, to, cause, at,
                    "fuse {name}: {from} -> {to} ({cause})"
                ),
            }
        }
        EventKind::HealStep { index, step } => tracing::info!(
            target: "fusebox", fuse = name, index, step = ?step, at,
            "fuse {name} entered heal step {index}: {step:?}"
        ),
        EventKind::AlarmSet { alarm } => tracing::warn!(
            target: "fusebox", fuse = name, alarm = alarm.as_str(), at,
            "alarm {} set for fuse {name}", alarm.as_str()
        ),
        EventKind::AlarmCleared { alarm } => tracing::info!(
            target: "fusebox", fuse = name, alarm = alarm.as_str(), at,
            "alarm {} cleared for fuse {name}", alarm.as_str()
        ),
        EventKind::Pipeline { change } => tracing::warn!(
            target: "fusebox", pipeline = name, change = ?change, at,
            "pipeline {name}: {change:?}"
        ),
        EventKind::Valve { change } => tracing::info!(
            target: "fusebox", valve = name, change = ?change, at,
            "valve {name}: {change:?}"
        ),
    }
}

/// A melt was reported.
pub(crate) fn melt(name: &str, blown: bool) {
    tracing::debug!(target: "fusebox", fuse = name, blown, "melt on fuse {name}");
}

fn state(s: Option<FuseState>) -> &'static str {
    s.map_or("absent", FuseState::as_str)
}
