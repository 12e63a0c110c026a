//! `POST /api/trace/code` and `DELETE /api/trace/code`: an operator starts a
//! code trace and reads it as server-sent events, or stops it.
//!
//! Why the trace lives in its response: the stream that sends the events
//! owns the trace's guard, so the trace cannot outlive its reader. When the
//! client goes away, the connection closes or the server shuts down, the
//! response is dropped and the trace ends with it; when the trace ends by
//! itself (count or time) the stream says why and ends. No trace is ever
//! left running with nobody to read it.
//!
//! A start is refused at the first check it fails: body over the limit
//! (413); control disabled (403) or a wrong token (401); code tracing not
//! enabled (404); a body that is not `{"spec": .., "max"?, "rate"?,
//! "for"?}` (400, naming the field); zero `max`, `rate` or `for` (400); a
//! spec that does not parse (400 `"bad trace spec"` with `at` and `kind`);
//! the layer never installed, or a trace running already (409).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::line::TraceLine;
use super::{
    Bounds, CodeTrace, End, Refusal, Session, TraceGuard, TraceSpec, DEFAULT_FOR, DEFAULT_MAX,
    DEFAULT_RATE, MAX_FOR, MAX_MAX, MAX_RATE,
};
use crate::auth;
use crate::error::ApiError;
use crate::routes::{body_bytes, AppState};

/// The body of a start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    spec: String,
    max: Option<u64>,
    rate: Option<u64>,
    /// A duration such as `30s` or `2m`.
    #[serde(rename = "for")]
    time: Option<String>,
}

/// The bounds asked for, clamped to the ceilings, and the names of those
/// clamped; a zero is refused.
fn bounds(start: &Start) -> Result<(Bounds, Vec<&'static str>), ApiError> {
    let zero = |field: &str| {
        ApiError::bad_request(format!("`{field}` must be greater than zero")).with("field", field)
    };
    let time = match &start.time {
        None => DEFAULT_FOR,
        Some(text) => fusebox::duration::parse(text)
            .map_err(|e| ApiError::bad_request(format!("`for`: {e}")).with("field", "for"))?,
    };
    let max = start.max.unwrap_or(DEFAULT_MAX);
    let rate = start.rate.unwrap_or(DEFAULT_RATE);
    if max == 0 {
        return Err(zero("max"));
    }
    if rate == 0 {
        return Err(zero("rate"));
    }
    if time.is_zero() {
        return Err(zero("for"));
    }
    let mut clamped = Vec::new();
    let mut clamp = |name: &'static str, over: bool| {
        if over {
            clamped.push(name);
        }
    };
    clamp("max", max > MAX_MAX);
    clamp("rate", rate > MAX_RATE);
    clamp("for", time > MAX_FOR);
    let bounds = Bounds {
        max: max.min(MAX_MAX),
        rate: rate.min(MAX_RATE),
        time: time.min(MAX_FOR),
    };
    Ok((bounds, clamped))
}

fn not_enabled() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "code tracing not enabled").with(
        "detail",
        "the service gave the admin router no CodeTrace (AdminConfig::code_trace)",
    )
}

fn tracer(st: &AppState) -> Result<&CodeTrace, ApiError> {
    st.code_trace.as_ref().ok_or_else(not_enabled)
}

/// `POST /api/trace/code`: starts a trace, answers its event stream.
pub(crate) async fn start(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    auth::check(st.token.as_deref(), &headers)?;
    let tracer = tracer(&st)?;
    let start: Start = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"spec\": \"target[span]{{field=value}}=level\", \"max\"?: n, \"rate\"?: n, \"for\"?: \"30s\"}}: {e}"
        ))
    })?;
    let (bounds, clamped) = bounds(&start)?;
    let spec = TraceSpec::parse(&start.spec).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad trace spec")
            .with("detail", e.to_string())
            .with("at", e.at())
            .with("kind", e.kind())
            .with("spec", start.spec.as_str())
    })?;
    let (session, rx, guard) = tracer.start(spec, bounds).map_err(|r| match r {
        Refusal::NotInstalled => {
            ApiError::new(StatusCode::CONFLICT, "code-trace layer not installed").with(
                "detail",
                "the service must add CodeTrace::layer() to its tracing subscriber",
            )
        }
        Refusal::Busy(left) => ApiError::new(StatusCode::CONFLICT, "a code trace is running").with(
            "ends_in_ms",
            u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        ),
    })?;
    let started = SseEvent::default().event("started").data(
        json!({
            "spec": session.spec.to_string(),
            "max": bounds.max,
            "rate": bounds.rate,
            "for_ms": u64::try_from(bounds.time.as_millis()).unwrap_or(u64::MAX),
            "clamped": clamped,
        })
        .to_string(),
    );
    let deadline = Box::pin(tokio::time::sleep(bounds.time));
    let run = Run {
        started: Some(started),
        session,
        rx,
        deadline,
        lost_told: 0,
        done: false,
        _guard: guard,
    };
    Ok(Sse::new(stream::unfold(run, Run::next))
        .keep_alive(KeepAlive::new().interval(st.keep_alive))
        .into_response())
}

/// `DELETE /api/trace/code`: stops the running trace; its stream sends
/// `ended` with reason `stopped`.
pub(crate) async fn stop(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(st.token.as_deref(), &headers)?;
    if tracer(&st)?.stop() {
        Ok(Json(json!({ "stopped": true })))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no code trace running",
        ))
    }
}

/// A trace's stream: `started`, the lines, `lagged` after losses, `ended`.
struct Run {
    started: Option<SseEvent>,
    session: Arc<Session>,
    rx: mpsc::Receiver<TraceLine>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// Losses already reported.
    lost_told: u64,
    done: bool,
    /// Ends the trace when the stream is dropped.
    _guard: TraceGuard,
}

type Item = Result<SseEvent, Infallible>;

impl Run {
    async fn next(mut self) -> Option<(Item, Run)> {
        if let Some(started) = self.started.take() {
            return Some((Ok(started), self));
        }
        if self.done {
            return None;
        }
        let lost = self.session.lost();
        if lost > self.lost_told {
            let n = lost - self.lost_told;
            self.lost_told = lost;
            let lagged = SseEvent::default()
                .event("lagged")
                .data(format!("{{\"lost\":{n}}}"));
            return Some((Ok(lagged), self));
        }
        if self.session.end().is_none() {
            tokio::select! {
                // Lines first: the end waits until those offered before it
                // are sent.
                biased;
                line = self.rx.recv() => {
                    if let Some(line) = line {
                        return Some((Ok(trace_event(&line)), self));
                    }
                }
                () = self.session.ended.notified() => {}
                () = &mut self.deadline => {
                    self.session.finish(End::Time);
                }
            }
        }
        // Ended: what is buffered still goes, then the verdict.
        if let Ok(line) = self.rx.try_recv() {
            return Some((Ok(trace_event(&line)), self));
        }
        self.done = true;
        let s = &self.session;
        let ended = json!({
            "reason": s.end().unwrap_or(End::Gone).as_str(),
            "sent": s.budget.sent(),
            "over_rate": s.budget.over_rate(),
            "lost": s.lost(),
            "failed": s.failed(),
            "took_ms": u64::try_from(s.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        Some((
            Ok(SseEvent::default().event("ended").data(ended.to_string())),
            self,
        ))
    }
}

fn trace_event(line: &TraceLine) -> SseEvent {
    SseEvent::default()
        .event("trace")
        .json_data(line)
        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable line"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn start(max: Option<u64>, rate: Option<u64>, time: Option<&str>) -> Start {
        Start {
            spec: "x".into(),
            max,
            rate,
            time: time.map(str::to_owned),
        }
    }

    #[test]
    fn bounds_default_clamp_and_refuse_zero() {
        let (b, clamped) = bounds(&start(None, None, None)).unwrap();
        assert_eq!(
            (b.max, b.rate, b.time),
            (DEFAULT_MAX, DEFAULT_RATE, DEFAULT_FOR)
        );
        assert!(clamped.is_empty());
        let (b, clamped) = bounds(&start(Some(u64::MAX), Some(1 << 40), Some("1000h"))).unwrap();
        assert_eq!((b.max, b.rate, b.time), (MAX_MAX, MAX_RATE, MAX_FOR));
        assert_eq!(clamped, ["max", "rate", "for"]);
        let (b, _) = bounds(&start(Some(3), Some(2), Some("1500ms"))).unwrap();
        assert_eq!((b.max, b.rate, b.time), (3, 2, Duration::from_millis(1500)));
        for bad in [
            start(Some(0), None, None),
            start(None, Some(0), None),
            start(None, None, Some("0s")),
            start(None, None, Some("soon")),
        ] {
            assert!(bounds(&bad).is_err(), "{bad:?}");
        }
    }
}
