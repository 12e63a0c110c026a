//! What an operator sees of one fuse: its state, melts, config, counters and
//! timing. Plain data, serde-serialisable both ways (the CLI reads what the
//! admin server writes).

use std::sync::Arc;
use std::time::Duration;

use super::config::FuseConfig;
use super::state::FuseState;

/// Cumulative counts of one fuse since it was first installed (a reinstall
/// keeps them, as a Prometheus counter must).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// Asks refused by a [`Throttle`](crate::Strategy::Throttle) strategy
    /// (counted apart from refusals of a blown fuse, as `injected` is).
    #[cfg_attr(feature = "serde", serde(default))]
    pub throttled: u64,
    /// Admitted calls that waited an injected latency
    /// ([`Chaos`](super::Chaos)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub chaos_latency: u64,
    /// Admitted calls replaced by an injected error: failures, included in
    /// `melts` (so the real failures are `melts − chaos_errors`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub chaos_errors: u64,
}

/// What a [`Throttle`](crate::Strategy::Throttle) strategy sees now.
///
/// While the fuse is blown the window is idle (the heal program decides,
/// and the heal empties it); disabling, resetting or reinstalling empty it
/// at once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ThrottleSnapshot {
    /// The probability that the next ask of the ok fuse is refused:
    /// `min(max_reject, max(0, (requests − k·accepts) / (requests + 1)))`,
    /// or 0 below `min_requests`.
    pub reject_probability: f64,
    /// Asks in the window, refused ones included (an ignored outcome takes
    /// its request back).
    pub requests: u64,
    /// Successes in the window.
    pub accepts: u64,
}

/// A fuse at one instant.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox, fuse::FuseState};
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FuseSnapshot {
    /// The fuse's name.
    pub name: Arc<str>,
    /// Its state now.
    pub state: FuseState,
    /// Melts inside the window now (at most `max_melts + 1`: older ones
    /// cannot matter and are not kept). For a throttle, the requests in the
    /// window without an accept (`requests − accepts`, at least 0).
    pub melts_in_window: u64,
    /// Its configuration.
    pub config: FuseConfig,
    /// Its counters.
    pub counters: FuseCounters,
    /// When it last blew, on the Fusebox's clock.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub last_blow: Option<Duration>,
    /// When it will heal, if it is blown and will heal on its own.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub next_heal: Option<Duration>,
    /// The heal program step running, if the fuse is blown (0 is the first).
    pub heal_step: Option<usize>,
    /// Consecutive blows (the backoff attempt); 0 before the first blow.
    pub attempt: u32,
    /// The throttle's window and reject probability, for a
    /// [`Throttle`](crate::Strategy::Throttle) strategy.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub throttle: Option<ThrottleSnapshot>,
}
