//! Alarms with hysteresis, as fuse_monitor raised them in Erlang's SASL
//! alarm handler.
//!
//! A monitor looks at every fuse once per `period` (60 s by default, as
//! fuse). A fuse found blown raises the alarm `(name, fuse_blown)`. The alarm
//! clears only after `clear_after` consecutive looks (3 by default) that found
//! the fuse not blown: a fuse that flaps between blown and healed keeps one
//! alarm up instead of paging an operator on every flap. Removing a fuse
//! clears its alarm at once.
//!
//! ```text
//!  look:     1      2      3      4      5      6
//!  fuse:   blown   ok    blown   ok     ok     ok
//!  alarm:   SET    on     on     on     on    CLEAR   (3 clean looks: 4, 5, 6)
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Bus, Event, EventKind};
use crate::sync::{self, Mutex};

/// Which condition an alarm reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum AlarmKind {
    /// The fuse was found blown (or disabled).
    FuseBlown,
}

impl AlarmKind {
    /// The name used in JSON and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::FuseBlown => "fuse_blown",
        }
    }
}

/// An active alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Alarm {
    /// The fuse it is about.
    pub name: Arc<str>,
    /// What it reports.
    pub kind: AlarmKind,
    /// When it was set, on the Fusebox's clock.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub since: Duration,
}

#[derive(Debug)]
struct Track {
    since: u64,
    clean_looks: u32,
}

/// The alarm monitor of one Fusebox.
#[derive(Debug)]
pub(crate) struct Monitor {
    pub(crate) period: Duration,
    clear_after: u32,
    active: Mutex<HashMap<Arc<str>, Track>>,
}

impl Monitor {
    pub(crate) fn new(period: Duration, clear_after: u32) -> Self {
        Monitor {
            period,
            clear_after: clear_after.max(1),
            active: Mutex::new(HashMap::new()),
        }
    }

    /// One look at every fuse: `(name, blown)` pairs, at time `now` (ns).
    pub(crate) fn look(&self, now: u64, fuses: impl Iterator<Item = (Arc<str>, bool)>, bus: &Bus) {
        let mut active = sync::lock(&self.active);
        for (name, blown) in fuses {
            match (active.get_mut(&name), blown) {
                (None, true) => {
                    active.insert(
                        name.clone(),
                        Track {
                            since: now,
                            clean_looks: 0,
                        },
                    );
                    publish(bus, name, now, true);
                }
                (Some(track), true) => track.clean_looks = 0,
                (Some(track), false) => {
                    track.clean_looks += 1;
                    if track.clean_looks >= self.clear_after {
                        active.remove(&name);
                        publish(bus, name, now, false);
                    }
                }
                (None, false) => {}
            }
        }
    }

    /// Clears the alarm of a removed fuse.
    pub(crate) fn forget(&self, name: &str, now: u64, bus: &Bus) {
        let mut active = sync::lock(&self.active);
        if let Some((name, _)) = active.remove_entry(name) {
            publish(bus, name, now, false);
        }
    }

    /// The active alarms, sorted by name.
    pub(crate) fn alarms(&self) -> Vec<Alarm> {
        let active = sync::lock(&self.active);
        let mut out: Vec<Alarm> = active
            .iter()
            .map(|(name, t)| Alarm {
                name: name.clone(),
                kind: AlarmKind::FuseBlown,
                since: Duration::from_nanos(t.since),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

fn publish(bus: &Bus, name: Arc<str>, now: u64, set: bool) {
    let alarm = AlarmKind::FuseBlown;
    let kind = if set {
        EventKind::AlarmSet { alarm }
    } else {
        EventKind::AlarmCleared { alarm }
    };
    bus.publish(Event {
        name,
        kind,
        at: Duration::from_nanos(now),
    });
}
