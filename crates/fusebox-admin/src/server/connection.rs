//! One connection: hyper's HTTP/1.1 state machine over the tracked socket,
//! the service that marks each request's start and end, and the watchdog
//! that closes the connection when it is idle or slow to send a head.
//!
//! ```text
//!  accept ──head──> busy (handler, then body) ──body dropped──> waiting ──first byte──> head ...
//!    |<- header_read_timeout ->|                                  |<- idle ->|<- header_read_timeout ->|
//!  any phase: no byte read or written for idle_timeout closes the connection
//! ```
//!
//! hyper's own header timer is left off: it starts whenever the connection
//! waits for a head, between keep-alive requests too, which would make the
//! idle timeout and the header timeout one setting. The watchdog is one
//! `Sleep` per connection, reset only when it fires: it wakes once per
//! timeout, re-reads the connection's times, and closes the connection or
//! sleeps on.

use std::convert::Infallible;
use std::future::{ready, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::body::{RequestBody, ResponseBody};
use super::io::TrackedIo;
use super::table::{Conn, Slot};
use crate::error::ApiError;
use crate::host::AllowedHosts;

/// The largest head, and read buffer, a connection may hold (64 KiB; hyper
/// answers a larger head 431). With `max_connections` it bounds what
/// clients can make the server buffer.
const MAX_BUF: usize = 64 * 1024;

/// What every connection of one server shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) router: Router,
    pub(crate) hosts: AllowedHosts,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    /// `true` once the server shuts down.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Serves one connection until it ends, is closed by its watchdog, is
/// evicted, or has drained after a shutdown. Its slot is given back when
/// this returns (or the task is aborted).
pub(crate) async fn run(slot: Slot, stream: TcpStream, shared: Arc<Shared>) {
    let conn = slot.conn.clone();
    // Small answers and event frames should leave at once.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(TrackedIo {
        inner: stream,
        conn: conn.clone(),
    });
    let service = ConnService {
        conn: conn.clone(),
        shared: shared.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(MAX_BUF);
    let mut http = pin!(builder.serve_connection(io, service));
    let (idle, header) = (shared.idle_timeout, shared.header_read_timeout);
    let mut watchdog = pin!(tokio::time::sleep_until(conn.deadline(idle, header)));
    let mut shutdown = shared.shutdown.clone();
    let mut draining = false;
    loop {
        tokio::select! {
            _ = http.as_mut() => break,
            () = watchdog.as_mut() => {
                let due = conn.deadline(idle, header);
                if Instant::now() >= due {
                    break; // idle, or a head too slow: drop it
                }
                watchdog.as_mut().reset(due);
            }
            () = conn.evicted.notified() => break,
            _ = shutdown.wait_for(|&stop| stop), if !draining => {
                // Finish the request in flight (event streams end by
                // themselves, see ResponseBody), take no other.
                draining = true;
                http.as_mut().graceful_shutdown();
            }
        }
    }
    drop(slot);
}

/// The hyper service of one connection: marks the request busy, checks the
/// `Host`, bounds the body's arrival, and calls the router.
#[derive(Debug)]
struct ConnService {
    conn: Arc<Conn>,
    shared: Arc<Shared>,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

impl Service<Request<Incoming>> for ConnService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: Request<Incoming>) -> ServiceFuture {
        let Some(busy) = self.conn.begin_request() else {
            // Evicted just as this head arrived: the connection is closing.
            let mut res = busy_response("this connection was closed to make room");
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Box::pin(ready(Ok(res.map(|b| ResponseBody::new(b, None, None)))));
        };
        if let Err(refusal) = self.shared.hosts.check(req.headers(), req.uri()) {
            let res = refusal.into_response();
            return Box::pin(ready(Ok(
                res.map(|b| ResponseBody::new(b, Some(busy), None))
            )));
        }
        let within = self.shared.header_read_timeout;
        let req = req.map(|b| Body::new(RequestBody::new(b, within)));
        let router = TowerToHyperService::new(self.shared.router.clone());
        let mut shutdown = self.shared.shutdown.clone();
        Box::pin(async move {
            let res = router.call(req).await.unwrap_or_else(|e| match e {});
            let stream = res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            let until = stream.then(|| -> Pin<Box<dyn Future<Output = ()> + Send>> {
                Box::pin(async move {
                    let _ = shutdown.wait_for(|&stop| stop).await;
                })
            });
            Ok(res.map(|b| ResponseBody::new(b, Some(busy), until)))
        })
    }
}

/// 503 with a JSON error body: the server has no room.
pub(crate) fn busy_response(detail: &str) -> Response<Body> {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server busy")
        .with("detail", detail)
        .into_response()
}
