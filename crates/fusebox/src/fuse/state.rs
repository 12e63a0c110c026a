//! The words of a fuse's life: the [`FuseState`] it is in and the
//! [`Cause`] of each change. Plain data, shared by events, snapshots,
//! metrics and the wire.

use std::fmt;

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

impl fmt::Display for FuseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a fuse changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Cause {
    /// `install`, new or replacing a config.
    Install,
    /// A melt (or a failed `run`) blew the fuse.
    Melt,
    /// The heal deadline passed.
    Heal,
    /// An operator's `reset`.
    Reset,
    /// An operator's `disable`.
    Disable,
    /// An operator's `enable`.
    Enable,
    /// `remove`.
    Remove,
}

impl Cause {
    /// The lower-case name used in JSON, logs and metrics (`melt`, `heal`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Install => "install",
            Cause::Melt => "melt",
            Cause::Heal => "heal",
            Cause::Reset => "reset",
            Cause::Disable => "disable",
            Cause::Enable => "enable",
            Cause::Remove => "remove",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
