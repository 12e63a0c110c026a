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
//! : keep-alive          a comment every 15 s of silence
//! ```
//!
//! The stream ends when the Fusebox is dropped.

use std::convert::Infallible;
use std::task::Poll;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use fusebox::event::RecvError;
use futures_util::stream::{self, Stream, StreamExt};

use crate::routes::AppState;

/// Silence longer than this gets a keep-alive comment, so proxies keep the
/// connection and clients notice a dead server.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(crate) async fn events(
    State(st): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let sub = st.fb.subscribe();
    let ready = stream::once(async { Ok(SseEvent::default().event("ready").data("{}")) });
    let events = stream::poll_fn(move |cx| match sub.poll_recv(cx) {
        Poll::Ready(Ok(event)) => Poll::Ready(Some(Ok(SseEvent::default()
            .json_data(&event)
            .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event"))))),
        Poll::Ready(Err(RecvError::Lagged(n))) => Poll::Ready(Some(Ok(SseEvent::default()
            .event("lagged")
            .data(format!("{{\"lost\":{n}}}"))))),
        // Closed: the Fusebox is gone. (`Empty` comes only from try_recv.)
        Poll::Ready(Err(_)) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    });
    Sse::new(ready.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
