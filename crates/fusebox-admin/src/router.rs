//! The admin router: every endpoint, over one [`Fusebox`], to mount in an
//! application's own server or to serve with the `server` feature.
//!
//! This is the product every user of the crate takes: the JSON API, the
//! dashboard, `/metrics` and `/events`, with the router's own bounds (the
//! body limit, the `Host` allow-list, the cap on event streams) and its
//! guards (JSON errors, percent-encoding, a panic turned into a 500). The
//! process inspector (`/api/runtime`, feature `inspector`) and the code
//! tracer (`/api/trace/code`, feature `code-trace`) are added to it only when
//! their features are on, so a service that mounts the router alone links
//! neither `tracing-subscriber` nor the `/proc` reader.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use fusebox::Fusebox;
use tokio::sync::Semaphore;

use crate::routes::{self, AppState};
use crate::{dashboard, events, guard, host, keyed, AdminConfig};

/// The largest request body accepted, in bytes; larger ones get 413.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The admin router over `fb`: every endpoint, the body limit, JSON errors
/// and the panic guard. Mount it with
/// [`Router::merge`](https://docs.rs/axum/0.8/axum/struct.Router.html#method.merge) or
/// [`Router::nest`](https://docs.rs/axum/0.8/axum/struct.Router.html#method.nest),
/// or serve it alone with [`serve`](crate::serve).
///
/// `config.token` enables control. The router applies
/// [`config.hosts`](AdminConfig::allow_host) (loopback names only by default:
/// another `Host` gets 421) and
/// [`config.max_event_streams`](AdminConfig::max_event_streams) (64 `/events`
/// streams at once, then 503) wherever it is mounted, and times its event
/// streams' keep-alive comments by `config.idle_timeout`. The connection
/// bounds (`header_read_timeout`, `idle_timeout`, `max_connections`,
/// `shutdown_grace`) are the server's: [`serve_router`](crate::serve_router) and its siblings
/// apply them; an application's own server brings its own. `config.bind` is
/// used by [`serve`](crate::serve) only.
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
        streams: Arc::new(Semaphore::new(
            config.max_event_streams.min(Semaphore::MAX_PERMITS),
        )),
        max_streams: config.max_event_streams,
        keep_alive: events::keep_alive_for(config.idle_timeout),
        #[cfg(feature = "inspector")]
        inspector: Arc::new(crate::runtime::Inspector::new(config.runtime)),
        #[cfg(feature = "code-trace")]
        code_trace: config.code_trace,
    };
    let router = Router::new()
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
        .route("/api/keyed", get(keyed::families))
        .route("/api/keyed/{family}", get(keyed::family))
        .route("/metrics", get(routes::metrics))
        .route("/events", get(events::events));
    #[cfg(feature = "inspector")]
    let router = router.route("/api/runtime", get(crate::runtime::runtime));
    #[cfg(feature = "code-trace")]
    let router = router.route(
        "/api/trace/code",
        post(crate::code_trace::route::start).delete(crate::code_trace::route::stop),
    );
    let router = router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn(guard::check_percent_encoding))
        .layer(from_fn(guard::json_errors));
    let router = if config.hosts.is_any() {
        router
    } else {
        router.layer(from_fn_with_state(Arc::new(config.hosts), host::check))
    };
    router.layer(from_fn(guard::catch_panic))
}
