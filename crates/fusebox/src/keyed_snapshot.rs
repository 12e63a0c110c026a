//! What an operator sees of one keyed family (`keyed.rs`), as plain data
//! below the registry, so the registry, the catalog and the exporters read
//! it without knowing the families themselves: its name and config, how many
//! keys it holds and in which states, its totals, and its top keys. Plain
//! data, serde-serialisable both ways, in the Fusebox's
//! [`Snapshot`](crate::Snapshot) and the admin's `/api/keyed`.
//!
//! A family may hold a million keys, so a snapshot never lists them all:
//! it counts them, and names at most [`TOP_KEYS`] (in the Fusebox's
//! snapshot and metrics) or [`MAX_TOP_KEYS`] (asked for one family) of the
//! keys that matter most now. For a fuse family those are the blown and
//! disabled keys, the ones refusing most asks first; for a valve family the
//! keys that refused tasks, most refusals first. Ties go to the longer
//! history (more blows), then to the key's name, so the order is the same
//! on every read of the same state.
//!
//! The totals are the family's since it was built: the counts of the
//! engines its keys hold now, plus those of every engine the sweep retired
//! (folded in as it retires them, under the same lock a snapshot reads
//! under), so each only goes up, as a Prometheus counter must. A key with
//! no engine (a healthy keyed fuse with nothing in its window) counts
//! nothing: its asks are not counted anywhere, which is what makes it cheap.
//! So a fuse family's totals are of what only an engine sees: refused asks,
//! melts, blows and heals.

use std::sync::Arc;
use std::time::Duration;

use crate::fuse::FuseConfig;
use crate::valve::{Refusals, Refused, ValveConfig};

/// The most top keys in [`Fusebox::snapshot`](crate::Fusebox::snapshot)
/// and the metrics, per family.
pub const TOP_KEYS: usize = 10;

/// The most top keys [`Fusebox::keyed_family`](crate::Fusebox::keyed_family)
/// answers, whatever it is asked for.
pub const MAX_TOP_KEYS: usize = 100;

/// The longest key a snapshot names, in bytes: a longer one is cut (at a
/// character boundary) and ends in `…`.
pub const MAX_KEY_LEN: usize = 256;

/// Whether a family holds fuses or valves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum KeyedKind {
    /// A [`KeyedFuses`](crate::keyed::KeyedFuses).
    Fuses,
    /// A [`KeyedValves`](crate::keyed::KeyedValves).
    Valves,
}

impl KeyedKind {
    /// `"fuses"` or `"valves"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyedKind::Fuses => "fuses",
            KeyedKind::Valves => "valves",
        }
    }
}

/// The state of one key: `ok`, `blown` or `disabled` for a keyed fuse,
/// `idle` or `busy` (a task running or waiting) for a keyed valve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum KeyState {
    /// A keyed fuse that answers ok (with or without an engine).
    Ok,
    /// A keyed fuse that is blown (healing included).
    Blown,
    /// A keyed fuse that is disabled.
    Disabled,
    /// A keyed valve with no task running or waiting.
    Idle,
    /// A keyed valve with a task running or waiting.
    Busy,
}

impl KeyState {
    /// The states of a kind's keys, in the order the metrics give them.
    pub fn of(kind: KeyedKind) -> &'static [KeyState] {
        match kind {
            KeyedKind::Fuses => &[KeyState::Ok, KeyState::Blown, KeyState::Disabled],
            KeyedKind::Valves => &[KeyState::Idle, KeyState::Busy],
        }
    }

    /// `"ok"`, `"blown"`, `"disabled"`, `"idle"` or `"busy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Ok => "ok",
            KeyState::Blown => "blown",
            KeyState::Disabled => "disabled",
            KeyState::Idle => "idle",
            KeyState::Busy => "busy",
        }
    }
}

/// How many keys a family holds in each state; the states of the other
/// kind are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KeyStates {
    /// Keyed fuses answering ok, those without an engine included.
    pub ok: usize,
    /// Keyed fuses blown.
    pub blown: usize,
    /// Keyed fuses disabled.
    pub disabled: usize,
    /// Keyed valves with nothing running or waiting.
    pub idle: usize,
    /// Keyed valves with a task running or waiting.
    pub busy: usize,
}

impl KeyStates {
    /// The count for one state.
    pub fn get(&self, state: KeyState) -> usize {
        match state {
            KeyState::Ok => self.ok,
            KeyState::Blown => self.blown,
            KeyState::Disabled => self.disabled,
            KeyState::Idle => self.idle,
            KeyState::Busy => self.busy,
        }
    }

    pub(super) fn add(&mut self, state: KeyState) {
        let n = match state {
            KeyState::Ok => &mut self.ok,
            KeyState::Blown => &mut self.blown,
            KeyState::Disabled => &mut self.disabled,
            KeyState::Idle => &mut self.idle,
            KeyState::Busy => &mut self.busy,
        };
        *n += 1;
    }
}

/// A family's totals since it was built (module docs: what they count).
/// The fields of the other kind are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KeyedTotals {
    /// Keyed fuses: asks refused because the key was blown or disabled.
    pub refused: u64,
    /// Keyed fuses: melts recorded.
    pub melts: u64,
    /// Keyed fuses: times a key blew.
    pub blows: u64,
    /// Keyed fuses: times a key healed on its own.
    pub heals: u64,
    /// Keyed valves: tasks admitted.
    pub admitted: u64,
    /// Keyed valves: tasks refused, by reason (`removed` is always 0: a
    /// family retries on a fresh valve; `too_many_keys` is
    /// [`KeyedStats::full`]).
    pub refusals: Refusals,
    /// Keyed valves: tasks running now, over every key.
    pub in_flight: usize,
    /// Keyed valves: tasks waiting now, over every key.
    pub queued: usize,
}

/// One of a family's top keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KeyedKey {
    /// The key, as its `Display` writes it (at most [`MAX_KEY_LEN`] bytes).
    pub key: String,
    /// Its state.
    pub state: KeyState,
    /// Asks (a fuse) or tasks (a valve) its engine refused.
    pub refused: u64,
    /// Times it blew (fuses).
    pub blows: u64,
    /// When it last blew, on the Fusebox's clock (fuses).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub last_blow: Option<Duration>,
    /// When it will heal, if it will on its own (fuses).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::duration::serde_duration::option")
    )]
    pub next_heal: Option<Duration>,
    /// Tasks running (valves).
    pub in_flight: usize,
    /// Tasks waiting (valves).
    pub queued: usize,
}

/// How a family was built: its template and its
/// [`KeyedBuilder`](crate::keyed::KeyedBuilder) settings.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KeyedConfig {
    /// A fuse family's template.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub fuse: Option<FuseConfig>,
    /// A valve family's template.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub valve: Option<ValveConfig>,
    /// How long an unused, healthy key is kept.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub idle_ttl: Duration,
    /// How often the sweep runs.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub sweep_every: Duration,
    /// The most keys one sweep looks at.
    pub sweep_budget: usize,
    /// The most keys the family holds.
    pub max_keys: usize,
}

/// A keyed family at one instant.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox};
/// use fusebox::keyed::{KeyState, KeyedBuilder, KeyedFuses, KeyedKind};
///
/// let fb = Fusebox::new();
/// let hosts: KeyedFuses<String> =
///     KeyedBuilder::new(FuseConfig::standard(0, Duration::from_secs(10))).build(&fb, "hosts")?;
/// hosts.ask("a.example");
/// hosts.melt("b.example");                     // blows b.example
/// let snap = fb.snapshot();
/// let family = &snap.keyed[0];
/// assert_eq!((&*family.name, family.kind), ("hosts", KeyedKind::Fuses));
/// assert_eq!((family.states.ok, family.states.blown), (1, 1));
/// assert_eq!(family.totals.blows, 1);
/// assert_eq!(family.top[0].key, "b.example");
/// assert_eq!(family.top[0].state, KeyState::Blown);
/// # Ok::<(), fusebox::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KeyedSnapshot {
    /// The family's name.
    pub name: Arc<str>,
    /// Fuses or valves.
    pub kind: KeyedKind,
    /// Its template and settings.
    pub config: KeyedConfig,
    /// Its key counts (held, with an engine, promoted, demoted, evicted,
    /// turned away).
    pub stats: KeyedStats,
    /// Its keys by state (they add up to `stats.keys`, give or take keys
    /// made or forgotten while it was read).
    pub states: KeyStates,
    /// Its totals.
    pub totals: KeyedTotals,
    /// Its top keys, best first, at most as many as asked for.
    pub top: Vec<KeyedKey>,
}

/// `key` cut to [`MAX_KEY_LEN`] bytes.
pub(crate) fn bounded(mut key: String) -> String {
    if key.len() > MAX_KEY_LEN {
        let mut end = MAX_KEY_LEN - '…'.len_utf8();
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
        key.push('…');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("a".repeat(MAX_KEY_LEN)), "a".repeat(MAX_KEY_LEN));
        let cut = bounded("é".repeat(MAX_KEY_LEN));
        assert!(cut.len() <= MAX_KEY_LEN && cut.ends_with('…'), "{cut}");
        let cut = bounded("b".repeat(MAX_KEY_LEN + 1));
        assert_eq!(cut.len(), MAX_KEY_LEN);
    }
}

/// Counts of a family, from [`KeyedFuses::stats`](crate::keyed::KeyedFuses::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KeyedStats {
    /// Keys held, compact or promoted.
    pub keys: usize,
    /// Keys holding a fuse engine.
    pub live: usize,
    /// Keys given an engine so far.
    pub promotions: u64,
    /// Engines given back while their key stayed (pristine, still in use).
    pub demotions: u64,
    /// Keys forgotten after their idle TTL.
    pub evictions: u64,
    /// New keys turned away because the family held its
    /// [`max_keys`](crate::keyed::KeyedBuilder::max_keys).
    pub full: u64,
}

/// The refusals a keyed valve family counts: a valve's, but `removed`,
/// which a family never answers (a caller that reaches a retired valve goes
/// back for a fresh one; `too_many_keys` is the family's `full`).
pub(crate) const KEYED_REASONS: [Refused; 5] = [
    Refused::QueueFull,
    Refused::Overload,
    Refused::Timeout,
    Refused::Blown,
    Refused::Busy,
];
