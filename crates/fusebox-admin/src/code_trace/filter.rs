//! The per-layer filter of the code-trace layer: which call sites it wants,
//! decided once per call site, so that with no trace running it wants none
//! and costs nothing.
//!
//! Why a per-layer [`Filter`] and not a `Layer`'s own `register_callsite`:
//! in `tracing-subscriber` a plain layer that answers `Interest::never()`
//! disables the call site for the whole subscriber, the user's fmt layer
//! included. A per-layer filter's `never` is ours alone: the `Registry`
//! combines the filters' interests, and a call site is off only when every
//! layer's filter says so.
//!
//! What each answer costs, with no trace running:
//!
//! * `callsite_enabled` says `never` for everything, so a call site nobody
//!   else wants stays `never` and is skipped at its own cached interest;
//! * `max_level_hint` says `OFF`, so it does not raise the global
//!   `LevelFilter::current()`: a `debug!` under the user's `info` level is
//!   refused by the static level check before its call site is even looked
//!   at, exactly as without this layer;
//! * `enabled` is called only for call sites other layers want (the
//!   `Registry` asks every filter when their interests differ): one relaxed
//!   load of the "on" flag.
//!
//! When a trace starts or stops, the handle rebuilds the interest cache
//! (`tracing_core::callsite::rebuild_interest_cache`), which asks these
//! functions again for every call site and recomputes the global level.
//! While a trace runs, the call sites its spec can match are `always` if
//! their metadata decides (target, level, field names), `sometimes` if a
//! span or a field value must be checked per event, and spans at or below
//! the spec's level are `always`, so that the span path of a traced event
//! (and a `[span]` condition) sees the spans created since the trace began.

use std::sync::Arc;

use tracing_core::subscriber::Interest;
use tracing_core::Metadata;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};

use super::spec::TraceSpec;
use super::Shared;

#[derive(Debug)]
pub(crate) struct TraceFilter {
    pub(crate) shared: Arc<Shared>,
}

/// The interest of a running trace's spec in a call site.
pub(crate) fn interest(spec: &TraceSpec, meta: &Metadata<'_>) -> Interest {
    if meta.is_span() {
        return if *meta.level() <= spec.max_level() {
            Interest::always()
        } else {
            Interest::never()
        };
    }
    let mut sometimes = false;
    for d in spec.directives() {
        if d.matches_callsite(meta) {
            if d.callsite_decides() {
                return Interest::always();
            }
            sometimes = true;
        }
    }
    if sometimes {
        Interest::sometimes()
    } else {
        Interest::never()
    }
}

/// Whether a running trace's spec wants this span or event, before its span
/// and field values are looked at.
fn wants(spec: &TraceSpec, meta: &Metadata<'_>) -> bool {
    if meta.is_span() {
        return *meta.level() <= spec.max_level();
    }
    spec.directives().iter().any(|d| d.matches_callsite(meta))
}

impl<S> Filter<S> for TraceFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        if !self.shared.is_on() {
            return false;
        }
        self.shared
            .with_running(|session| wants(&session.spec, meta))
            .unwrap_or(false)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        self.shared
            .with_running(|session| interest(&session.spec, meta))
            .unwrap_or_else(Interest::never)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(
            self.shared
                .with_running(|session| session.spec.max_level())
                .unwrap_or(LevelFilter::OFF),
        )
    }
}
