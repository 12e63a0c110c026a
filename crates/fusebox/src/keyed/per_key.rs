//! What a keyed family needs of the thing it keeps per key, so that one
//! table, one sweep and one builder serve fuses and valves alike.
//!
//! A family does three things with a key's engine: makes it from the
//! template (named `"{family}/{key}"`), asks whether a healthy key may do
//! without one (a *compact* record, see `slot.rs`), and retires it when
//! nothing about it matters any more, in one step under the engine's own
//! lock, so nothing can slip in between the decision and the retirement.
//! A caller that reaches a retired engine sees it removed and goes back to
//! the family, which makes a fresh one.
//!
//! For the Fusebox's snapshot and metrics (`keyed/survey.rs`) a family also
//! reads each engine's *view* (`None` once retired), and from it the
//! engine's cumulative counts, the state its key is in, and whether and how
//! high the key ranks among the family's top keys.

use std::sync::Arc;

use super::counts::{Counts, COUNTS};
use crate::fuse::{Env, FuseConfig, FuseCore, FuseSnapshot, FuseState, Strategy};
use crate::keyed_snapshot::{KeyState, KeyedKey, KeyedKind};

/// An engine a family keeps per key.
pub(crate) trait PerKey: Send + Sync + 'static {
    /// What every key's engine is made from.
    type Template: Send + Sync;

    /// The family's type name, for `Debug`.
    const FAMILY: &'static str;

    /// A key's engine, made from the template.
    fn make(name: Arc<str>, template: &Self::Template, env: &Arc<Env>) -> Arc<Self>;

    /// Whether a healthy key may hold no engine under this template.
    fn compact(template: &Self::Template) -> bool;

    /// Retires the engine if nothing about it matters any more and it has
    /// been healthy for `ttl` ns; true if it did.
    fn retire_if_idle(&self, ttl: u64) -> bool;

    /// True once retired.
    fn is_removed(&self) -> bool;

    /// Fuses or valves.
    const KIND: KeyedKind;

    /// What a snapshot reads of one engine.
    type View: Send;

    /// The engine as it stands (nothing applied, nothing emitted); `None`
    /// once retired.
    fn view(&self) -> Option<Self::View>;

    /// The view with due heal steps applied first, as the retirement's
    /// own check applies them: what the sweep adds to the totals.
    fn settled_view(&self) -> Option<Self::View>;

    /// The engine's cumulative counts, in the kind's order (see `survey.rs`).
    fn counts(view: &Self::View) -> Counts;

    /// The state its key is in.
    fn state(view: &Self::View) -> KeyState;

    /// How high the key ranks among the family's top keys (higher first);
    /// `None` if it is not one of the kind's candidates.
    fn rank(view: &Self::View) -> Option<(u64, u64)>;

    /// What the snapshot says of a top key.
    fn top_key(key: String, view: &Self::View) -> KeyedKey;

    /// The template, for the snapshot's config.
    fn template(
        template: &Self::Template,
    ) -> (Option<FuseConfig>, Option<crate::valve::ValveConfig>);
}

impl PerKey for FuseCore {
    type Template = FuseConfig;
    const FAMILY: &'static str = "KeyedFuses";

    fn make(name: Arc<str>, template: &FuseConfig, env: &Arc<Env>) -> Arc<Self> {
        FuseCore::new(name, template.clone(), env.clone())
    }

    /// A strategy whose healthy, empty fuse answers every ask `Ok` without
    /// side effects and is left as it was by a success: its keys can stay
    /// compact until their first failure. Fault injection draws on each ask,
    /// a failure rate and the throttle count successes and calls.
    fn compact(config: &FuseConfig) -> bool {
        matches!(
            config.strategy,
            Strategy::Standard { .. } | Strategy::Consecutive { .. }
        )
    }

    fn retire_if_idle(&self, ttl: u64) -> bool {
        // `0`: the engine's heal time alone decides; the family's own idle
        // test decides between eviction and demotion.
        FuseCore::retire_if_idle(self, 0, ttl)
    }

    fn is_removed(&self) -> bool {
        FuseCore::is_removed(self)
    }

    const KIND: KeyedKind = KeyedKind::Fuses;
    type View = FuseSnapshot;

    fn view(&self) -> Option<FuseSnapshot> {
        // `peek`: a survey holds the shard's lock, and applying a due heal
        // step there would publish an event under it.
        self.peek()
    }

    fn settled_view(&self) -> Option<FuseSnapshot> {
        self.snapshot()
    }

    /// Asks refused, melts, blows, heals.
    fn counts(s: &FuseSnapshot) -> Counts {
        let c = &s.counters;
        let mut out = [0; COUNTS];
        out[..4].copy_from_slice(&[c.asks_blown, c.melts, c.blows, c.heals]);
        out
    }

    fn state(s: &FuseSnapshot) -> KeyState {
        match s.state {
            FuseState::Ok => KeyState::Ok,
            FuseState::Blown => KeyState::Blown,
            FuseState::Disabled => KeyState::Disabled,
        }
    }

    /// Blown or disabled keys, by asks refused, then blows.
    fn rank(s: &FuseSnapshot) -> Option<(u64, u64)> {
        (s.state != FuseState::Ok).then_some((s.counters.asks_blown, s.counters.blows))
    }

    fn top_key(key: String, s: &FuseSnapshot) -> KeyedKey {
        KeyedKey {
            key,
            state: Self::state(s),
            refused: s.counters.asks_blown,
            blows: s.counters.blows,
            last_blow: s.last_blow,
            next_heal: s.next_heal,
            in_flight: 0,
            queued: 0,
        }
    }

    fn template(t: &FuseConfig) -> (Option<FuseConfig>, Option<crate::valve::ValveConfig>) {
        (Some(t.clone()), None)
    }
}
