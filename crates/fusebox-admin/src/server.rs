//! Building the router and serving it on a socket of its own.

use std::io;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::Router;
use fusebox::Fusebox;
use tokio::net::TcpListener;

use crate::routes::{self, AppState};
use crate::{dashboard, events, guard, AdminConfig};

/// The largest request body accepted, in bytes; larger ones get 413.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The admin router over `fb`: every endpoint, the body limit, JSON errors
/// and the panic guard. Mount it with
/// [`Router::merge`](https://docs.rs/axum/0.8/axum/struct.Router.html#method.merge) or
/// [`Router::nest`](https://docs.rs/axum/0.8/axum/struct.Router.html#method.nest),
/// or serve it alone with [`serve`].
///
/// `config.bind` is not used here; `config.token` enables control.
///
/// # Example
///
/// ```
/// use fusebox::Fusebox;
/// use fusebox_admin::AdminConfig;
///
/// let fb = Fusebox::new();
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my service" }))
///     .nest_service("/admin", fusebox_admin::router(fb, AdminConfig::new().token("s3cret")));
/// # let _ = app;
/// ```
pub fn router(fb: Fusebox, config: AdminConfig) -> Router {
    let state = AppState {
        fb,
        token: config.token.map(Arc::from),
    };
    Router::new()
        .route("/", get(dashboard::page))
        .route("/api/snapshot", get(routes::snapshot))
        .route("/api/fuses", get(routes::fuses))
        .route("/api/fuses/{name}", get(routes::fuse))
        .route(
            "/api/fuses/{name}/{action}",
            post(routes::control).fallback(routes::control_other_method),
        )
        .route("/api/valves", get(routes::valves))
        .route("/api/alarms", get(routes::alarms))
        .route("/metrics", get(routes::metrics))
        .route("/events", get(events::events))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn(guard::check_percent_encoding))
        .layer(from_fn(guard::json_errors))
        .layer(from_fn(guard::catch_panic))
}

/// Serves [`router`] on `config.bind` until the future is dropped or the
/// listener fails.
///
/// # Cancel safety
///
/// Dropping the future stops accepting connections and drops the ones open.
///
/// # Errors
///
/// The bind's error (address in use, permission denied), or an I/O error of
/// the listener.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let fb = fusebox::Fusebox::new();
/// tokio::spawn(fusebox_admin::serve(fb, fusebox_admin::AdminConfig::new()));
/// # Ok(()) }
/// ```
pub async fn serve(fb: Fusebox, config: AdminConfig) -> io::Result<()> {
    let listener = TcpListener::bind(config.bind).await?;
    serve_listener(listener, fb, config).await
}

/// Serves [`router`] on a listener bound already (port 0 in tests; one of a
/// socket-activated service), ignoring `config.bind`.
///
/// # Cancel safety
///
/// As [`serve`].
///
/// # Errors
///
/// An I/O error of the listener.
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
) -> io::Result<()> {
    axum::serve(listener, router(fb, config)).await
}
