//! What an operator sees of a fuse: its state, melts, config, counters and
//! timing. Plain data, serde-serialisable.

use std::sync::Arc;
use std::time::Duration;

use crate::event::Alarm;
use crate::fuse::FuseConfig;

/// The state of a fuse, as reported in snapshots and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum FuseState {
    /// Calls go through.
    Ok,
    /// Calls are refused until the heal.
    Blown,
    /// Calls are refused until an operator enables the fuse.
    Disabled,
}

impl FuseState {
    /// The lower-case name used in JSON and metrics (`ok`, `blown`, `disabled`).
    pub fn as_str(self) -> &'static str {
        match self {
            FuseState::Ok => "ok",
            FuseState::Blown => "blown",
            FuseState::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for FuseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Cumulative counts of one fuse since it was first installed (a reinstall
/// keeps them, as a Prometheus counter must).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FuseCounters {
    /// Asks answered ok.
    pub asks_ok: u64,
    /// Asks refused because the fuse was blown or disabled.
    pub asks_blown: u64,
    /// Asks refused by fault injection (counted apart from real refusals).
    pub injected: u64,
    /// Melts reported (including those while blown or disabled).
    pub melts: u64,
    /// Successful calls through `run`.
    pub successes: u64,
    /// Times the fuse blew.
    pub blows: u64,
    /// Times the fuse healed on its own (not by reset or enable).
    pub heals: u64,
}

/// A fuse at one instant.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, FuseState, Fusebox};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(2, Duration::from_secs(10))).unwrap();
/// fb.melt("db").unwrap();
/// let s = fb.state("db").unwrap();
/// assert_eq!(s.state, FuseState::Ok);
/// assert_eq!(s.melts_in_window, 1);
/// assert_eq!(s.counters.melts, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FuseSnapshot {
    /// The fuse's name.
    pub name: Arc<str>,
    /// Its state now.
    pub state: FuseState,
    /// Melts inside the window now (at most `max_melts + 1`: older ones
    /// cannot matter and are not kept).
    pub melts_in_window: u64,
    /// Its configuration.
    pub config: FuseConfig,
    /// Its counters.
    pub counters: FuseCounters,
    /// When it last blew, on the Fusebox's clock.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde::option"))]
    pub last_blow: Option<Duration>,
    /// When it will heal, if it is blown and will heal on its own.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde::option"))]
    pub next_heal: Option<Duration>,
    /// The heal program step running, if the fuse is blown (0 is the first).
    pub heal_step: Option<usize>,
    /// Consecutive blows (the backoff attempt); 0 before the first blow.
    pub attempt: u32,
}

/// Every fuse and alarm of a Fusebox.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Snapshot {
    /// The time of the snapshot, on the Fusebox's clock.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
    pub at: Duration,
    /// Every fuse, sorted by name.
    pub fuses: Vec<FuseSnapshot>,
    /// Every valve, sorted by name.
    pub valves: Vec<crate::valve::ValveSnapshot>,
    /// Active alarms, sorted by name.
    pub alarms: Vec<Alarm>,
}
