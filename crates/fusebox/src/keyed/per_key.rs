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

use std::sync::Arc;

use crate::fuse::{Env, FuseConfig, FuseCore, Strategy};

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
}
