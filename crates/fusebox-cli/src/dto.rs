//! What the admin API answers, as far as the command reads it.
//!
//! The core's snapshot types serialise only (they carry `Arc<str>` and
//! configs the command does not need), so these mirror the fields used here.
//! Every field has a default, so that a newer server with more or fewer
//! fields still reads.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `GET /api/fuses`, one element.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Fuse {
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) melts_in_window: u64,
    pub(crate) counters: FuseCounters,
    #[serde(deserialize_with = "duration")]
    pub(crate) next_heal: Option<Duration>,
    pub(crate) heal_step: Option<usize>,
}

/// A fuse's counters.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FuseCounters {
    pub(crate) asks_ok: u64,
    pub(crate) asks_blown: u64,
    pub(crate) melts: u64,
    pub(crate) blows: u64,
}

/// `GET /api/valves`, one element.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Valve {
    pub(crate) name: String,
    pub(crate) concurrency: u64,
    pub(crate) queue: u64,
    pub(crate) in_flight: u64,
    pub(crate) queued: u64,
    pub(crate) admitted: u64,
    pub(crate) refused: Refusals,
}

/// A valve's refusals by reason.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Refusals {
    pub(crate) queue_full: u64,
    pub(crate) overload: u64,
    pub(crate) timeout: u64,
    pub(crate) blown: u64,
    pub(crate) busy: u64,
    pub(crate) removed: u64,
}

impl Refusals {
    pub(crate) fn total(&self) -> u64 {
        self.queue_full + self.overload + self.timeout + self.blown + self.busy + self.removed
    }
}

/// `GET /api/alarms`, one element.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Alarm {
    pub(crate) name: String,
    pub(crate) kind: String,
    #[serde(deserialize_with = "duration")]
    pub(crate) since: Option<Duration>,
}

/// Everything `status` shows, read in one go.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Status {
    pub(crate) fuses: Vec<Fuse>,
    pub(crate) valves: Vec<Valve>,
    pub(crate) alarms: Vec<Alarm>,
}

/// A duration as the admin writes it (`"60s"`, `"1500ms"`), or null.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| fusebox::duration::parse(&t).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fuse() {
        let f: Fuse = serde_json::from_str(
            r#"{"name":"db","state":"blown","melts_in_window":6,"config":{},
                "counters":{"asks_ok":3,"asks_blown":1,"injected":0,"melts":6,"successes":0,"blows":1,"heals":0},
                "last_blow":"1500ms","next_heal":"61500ms","heal_step":0,"attempt":1}"#,
        )
        .unwrap();
        assert_eq!(f.state, "blown");
        assert_eq!(f.next_heal, Some(Duration::from_millis(61_500)));
        assert_eq!(f.heal_step, Some(0));
        assert_eq!(f.counters.melts, 6);
    }
}
