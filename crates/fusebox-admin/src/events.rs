//! `GET /events`: the Fusebox's events as server-sent events.
//!
//! Each connection takes a [`Subscription`](fusebox::event::Subscription) of its
//! own, made before the response starts, and reads it with
//! [`poll_recv`](fusebox::event::Subscription::poll_recv): the core wakes the
//! connection's task when it publishes, so an event reaches the socket as soon
//! as the runtime polls, with no thread and no polling interval in between.
//! The subscription's buffer is bounded, as every subscriber's is: a client
//! that reads too slowly loses events, never slows a fuse, and is told how many
//! it lost.
//!
//! The stream:
//!
//! ```text
//! event: ready          once, when the subscription exists: data {}
//! data: {...}           each fusebox::Event as JSON (the default "message" type)
//! event: lagged         after a loss: data {"lost": n}
//! : keep-alive          a comment every 15 s of silence (or half the idle timeout)
//! ```
//!
//! The stream ends when the Fusebox is dropped, and when the admin server
//! shuts down gracefully.
//!
//! A stream costs a subscription and a connection for as long as the client
//! keeps it, so the router caps how many are open at once
//! ([`AdminConfig::max_event_streams`](crate::AdminConfig::max_event_streams));
//! beyond the cap `/events` answers 503 with `Retry-After`. The permit is
//! held by the stream itself: it is given back, and the subscription freed,
//! the moment the server drops the response (the client went away, the
//! connection closed), not at the next event.

use std::convert::Infallible;
use std::task::Poll;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use fusebox::event::RecvError;
use futures_util::stream::{self, StreamExt};

use crate::error::ApiError;
use crate::routes::AppState;

/// Silence longer than this gets a keep-alive comment, so proxies keep the
/// connection and clients notice a dead server.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The keep-alive interval under an idle timeout: 15 s, or half the timeout
/// if that is shorter (so a stream is never idle), but not below 100 ms.
pub(crate) fn keep_alive_for(idle_timeout: Duration) -> Duration {
    KEEP_ALIVE
        .min(idle_timeout / 2)
        .max(Duration::from_millis(100))
}

pub(crate) async fn events(State(st): State<AppState>) -> Response {
    let Ok(permit) = st.streams.clone().try_acquire_owned() else {
        let mut res = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many event streams")
            .with("limit", st.max_streams)
            .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return res;
    };
    let sub = st.fb.subscribe();
    let ready = stream::once(async { Ok(SseEvent::default().event("ready").data("{}")) });
    let events = stream::poll_fn(move |cx| {
        // The stream owns the permit: dropped with it.
        let _permit = &permit;
        next(&sub, cx)
    });
    Sse::new(ready.chain(events))
        .keep_alive(KeepAlive::new().interval(st.keep_alive))
        .into_response()
}

fn next(
    sub: &fusebox::event::Subscription,
    cx: &mut std::task::Context<'_>,
) -> Poll<Option<Result<SseEvent, Infallible>>> {
    match sub.poll_recv(cx) {
        Poll::Ready(Ok(event)) => Poll::Ready(Some(Ok(SseEvent::default()
            .json_data(&event)
            .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event"))))),
        Poll::Ready(Err(RecvError::Lagged(n))) => Poll::Ready(Some(Ok(SseEvent::default()
            .event("lagged")
            .data(format!("{{\"lost\":{n}}}"))))),
        // Closed: the Fusebox is gone. (`Empty` comes only from try_recv.)
        Poll::Ready(Err(_)) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_stays_under_the_idle_timeout() {
        assert_eq!(keep_alive_for(Duration::from_secs(60)), KEEP_ALIVE);
        assert_eq!(
            keep_alive_for(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
        assert_eq!(keep_alive_for(Duration::ZERO), Duration::from_millis(100));
    }
}
