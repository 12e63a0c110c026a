//! Serving the [`router`] on a socket of its own within the bounds of
//! [`AdminConfig`]: a header-read and an idle timeout, a cap on connections,
//! the `Host` allow-list, and a graceful shutdown (feature `server`; a
//! service that mounts the router in its own server needs none of this).
//!
//! Why not `axum::serve`: it has no timeouts and no cap, so a client could
//! hold connections (and descriptors) for ever, and it cannot end an event
//! stream at shutdown. This module drives hyper's HTTP/1.1 connections
//! itself; `server/table.rs` keeps the cap, `server/connection.rs` a
//! connection's watchdog, `server/io.rs` and `server/body.rs` what the
//! watchdog learns from.

mod body;
mod connection;
mod io;
mod table;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use fusebox::Fusebox;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::router::router;
use crate::AdminConfig;

/// Serves [`router`] on `config.bind`, within the bounds of `config`, until
/// the future is dropped.
///
/// # Cancel safety
///
/// Dropping the future stops accepting connections and drops the ones open.
/// For a shutdown that lets requests finish, bind a listener and use
/// [`serve_with_shutdown`].
///
/// # Errors
///
/// The bind's error (address in use, permission denied). Once bound, it does
/// not fail: an accept error (out of descriptors, say) is retried after a
/// short pause.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let fb = fusebox::Fusebox::new();
/// tokio::spawn(fusebox_admin::serve(fb, fusebox_admin::AdminConfig::new()));
/// # Ok(()) }
/// ```
pub async fn serve(fb: Fusebox, config: AdminConfig) -> std::io::Result<()> {
    let listener = TcpListener::bind(config.bind).await?;
    serve_listener(listener, fb, config).await
}

/// Serves [`router`] on a listener bound already (port 0 in tests; one of a
/// socket-activated service), ignoring `config.bind`, until the future is
/// dropped.
///
/// # Cancel safety
///
/// As [`serve`].
///
/// # Errors
///
/// None once running; the `Result` is [`serve`]'s.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let fb = fusebox::Fusebox::new();
/// tokio::spawn(fusebox_admin::serve_listener(listener, fb, Default::default()));
/// println!("admin on http://{addr}");
/// # Ok(()) }
/// ```
pub async fn serve_listener(
    listener: TcpListener,
    fb: Fusebox,
    config: AdminConfig,
) -> std::io::Result<()> {
    serve_with_shutdown(listener, fb, config, std::future::pending()).await
}

/// Serves [`router`] on `listener` until `signal` completes, then shuts down
/// gracefully: see [`serve_router`].
///
/// # Cancel safety
///
/// As [`serve`]: dropping the future drops every connection at once.
///
/// # Errors
///
/// None; the `Result` is [`serve`]'s.
///
/// # Example
///
/// Stop on Ctrl-C, or here on a channel:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(fusebox_admin::serve_with_shutdown(
///     listener,
///     fusebox::Fusebox::new(),
///     fusebox_admin::AdminConfig::new(),
///     async { let _ = stopped.await; },
/// ));
/// stop.send(()).unwrap();
/// server.await.unwrap()?; // returns once every connection is done
/// # Ok(()) }
/// ```
pub async fn serve_with_shutdown(
    listener: TcpListener,
    fb: Fusebox,
    config: AdminConfig,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = router(fb, config.clone());
    serve_router(listener, app, config, signal).await
}

/// Serves any router, typically [`router`] merged with routes of the
/// application's own, on `listener` within the bounds of `config`, until
/// `signal` completes; then shuts down gracefully.
///
/// The bounds, each a setting of [`AdminConfig`]:
///
/// * a request's head must arrive within `header_read_timeout` (10 s), and
///   its body within that again, else the connection is closed (a body
///   answered 400);
/// * a connection with no byte read or written for `idle_timeout` (60 s) is
///   closed;
/// * at most `max_connections` (256) are open; at the cap the one that has
///   waited longest for a request is closed for the newcomer, or, if every
///   one is in the middle of a request, the newcomer gets a 503 JSON error
///   and is closed at once (see [`AdminConfig::max_connections`]);
/// * a `Host` not in `config.hosts` gets 421, on every route, the merged
///   ones too;
/// * heads (and the read buffer) are limited to 64 KiB (431 beyond).
///
/// The shutdown: once `signal` completes the listener is closed (new
/// connections are refused by the system), idle connections close, each
/// request in flight is answered and its connection then closed, and every
/// event stream (a `text/event-stream` response, the admin's `/events` or
/// one of the application's) ends cleanly. The future returns when every
/// connection is done, or after `shutdown_grace` (10 s), dropping those
/// still open.
///
/// Only HTTP/1.1 (and 1.0) is spoken, as [`serve`] always did; there is no
/// TLS: put a proxy in front for either.
///
/// # Cancel safety
///
/// Dropping the future stops accepting and drops every connection at once;
/// nothing is left running.
///
/// # Errors
///
/// None; the `Result` is [`serve`]'s.
///
/// # Example
///
/// The admin beside a route of the application's, stopped on a signal:
///
/// ```
/// use fusebox::Fusebox;
/// use fusebox_admin::AdminConfig;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let fb = Fusebox::new();
/// let config = AdminConfig::new().token("s3cret");
/// let app = fusebox_admin::router(fb, config.clone())
///     .route("/healthz", axum::routing::get(|| async { "ok" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(fusebox_admin::serve_router(listener, app, config, async {
///     let _ = stopped.await;
/// }));
/// // ... serve until the application stops:
/// stop.send(()).unwrap();
/// server.await.unwrap()?;
/// # Ok(()) }
/// ```
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    config: AdminConfig,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let table = table::Table::new(config.max_connections);
    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(connection::Shared {
        router,
        hosts: config.hosts,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        shutdown,
    });
    // Dropped with this future: every connection task is aborted.
    let mut tasks = JoinSet::new();
    let mut signal = pin!(signal);
    loop {
        tokio::select! {
            biased;
            () = &mut signal => break,
            // Reap finished connections, so the set holds only live ones.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match table.admit() {
                    Some(slot) => {
                        tasks.spawn(connection::run(slot, stream, shared.clone()));
                    }
                    None => refuse(stream),
                },
                Err(e) if is_per_connection(&e) => {}
                // Out of descriptors or memory: give the connections a
                // moment to close rather than spin.
                Err(_) => tokio::time::sleep(ACCEPT_PAUSE).await,
            },
        }
    }
    drop(listener);
    stop.send_replace(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.shutdown().await;
    }
    Ok(())
}

/// The pause after an accept error that is not about one connection.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Errors that concern only the connection being accepted.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    )
}

/// Every connection is busy: a 503 in one write, best effort, and close.
fn refuse(stream: TcpStream) {
    // The JSON error of every other refusal, written by hand: there is no
    // connection to answer through.
    let body = r#"{"detail":"every connection is in use; retry shortly","error":"server busy","status":503}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // Nonblocking: a fresh socket's send buffer takes it whole.
    let _ = stream.try_write(head.as_bytes());
    // Closing a socket with unread bytes makes the system reset it, which
    // can discard the answer before it leaves: read what has arrived of the
    // request first (a few reads at most; nothing waits).
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        match stream.try_read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}
