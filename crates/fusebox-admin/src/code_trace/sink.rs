//! The layer behind the filter: for each event the filter let through, the
//! last checks (enclosing spans, field values), the budget, and a formatted
//! line into the running trace's buffer.
//!
//! Why nothing here can hurt the service: it runs on the thread that called
//! `tracing::debug!`, so it never blocks (the budget is two compare-and-swaps,
//! the buffer a `try_send`), never allocates before an event has matched
//! and passed the rate (a `Vec` of span names aside), and never lets a panic
//! out: a field whose `Debug` panics loses its event, which is counted, and
//! the call that emitted it goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::budget::Take;
use super::line::{level_str, rfc3339, Fields, TraceLine};
use super::session::{End, Session};
use super::Shared;

#[derive(Debug)]
pub(crate) struct TraceSink {
    pub(crate) shared: Arc<Shared>,
}

impl<S> Layer<S> for TraceSink
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, _: &tracing_core::Dispatch) {
        self.shared.count_install();
    }

    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        if !self.shared.is_on() {
            return;
        }
        // A clone, not the slot's lock: a field's `Debug` may itself emit an
        // event, which must not find this thread holding the lock.
        let Some(session) = self.shared.running() else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| offer(&session, event, &cx))) {
            Ok(Some(Take::Last(_))) => {
                session.finish(End::Max);
            }
            Ok(_) => {}
            Err(_) => {
                session.count_failed();
                // The panic may have come after the last slot was taken.
                if session.budget.spent() {
                    session.finish(End::Max);
                }
            }
        }
    }
}

/// Matches, budgets, formats and offers one event; the budget's verdict,
/// `None` if the event did not match.
fn offer<S>(session: &Session, event: &Event<'_>, cx: &Context<'_, S>) -> Option<Take>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    let spans: Vec<&'static str> = cx
        .event_scope(event)
        .map(|scope| scope.from_root().map(|span| span.name()).collect())
        .unwrap_or_default();
    let in_scope = |name: &Option<String>| name.as_deref().is_none_or(|n| spans.contains(&n));
    let mut candidates = session
        .spec
        .directives()
        .iter()
        .filter(|d| d.matches_callsite(meta) && in_scope(&d.span))
        .peekable();
    candidates.peek()?;
    let mut fields = None;
    let matched = candidates.any(|d| {
        if d.fields.iter().all(|f| f.value.is_none()) {
            return true;
        }
        let printed = fields.get_or_insert_with(|| {
            let mut f = Fields::new();
            event.record(&mut f);
            f
        });
        d.fields.iter().all(|f| {
            f.value
                .as_deref()
                .is_none_or(|want| printed.get(&f.name) == Some(want))
        })
    });
    if !matched {
        return None;
    }
    let take = session.budget.take(session.elapsed_ns(Instant::now()));
    if let Take::Send(seq) | Take::Last(seq) = take {
        let fields = fields.unwrap_or_else(|| {
            let mut f = Fields::new();
            event.record(&mut f);
            f
        });
        session.offer(TraceLine {
            seq,
            time: rfc3339(SystemTime::now()),
            level: level_str(meta.level()),
            target: meta.target(),
            spans,
            message: fields.message,
            fields: fields.fields,
        });
    }
    Some(take)
}
