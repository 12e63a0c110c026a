//! Admin HTTP for [`fusebox`]: look at fuses, valves and alarms, scrape
//! Prometheus metrics, follow events live, and (with a token) disable,
//! enable, reset and unlock fuses.
//!
//! An [axum](https://docs.rs/axum/0.8) 0.8
//! [`Router`](https://docs.rs/axum/0.8/axum/struct.Router.html) over a
//! [`Fusebox`](fusebox::Fusebox),
//! to mount in an application's own server ([`router`]) or to serve on a
//! socket of its own ([`serve`], loopback `127.0.0.1:9797` by default;
//! [`serve_with_shutdown`] and [`serve_router`] for a graceful shutdown and
//! for routes of the application's own beside the admin's).
//!
//! # Features
//!
//! The crate is four products; the router and the dashboard are always
//! there, the other three are features, all on by default:
//!
//! | feature | adds | links |
//! |---|---|---|
//! | `server` | [`serve`] and its siblings: the admin on a socket of its own, with its bounds | hyper's server side |
//! | `inspector` | `GET /api/runtime` and `AdminConfig::runtime`: the runtime, the process from `/proc/self`, the busiest fuses and valves | nothing more |
//! | `code-trace` | `code_trace::CodeTrace` and `/api/trace/code` | `tracing-subscriber`, `tracing-core` |
//!
//! A service that mounts only the router takes
//! `fusebox-admin = { version = "0.1", default-features = false }`: without
//! a feature its endpoints answer 404 and the dashboard leaves out the
//! process tile.
//!
//! # Endpoints
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /` | the dashboard: a live HTML page of fuses, valves and alarms |
//! | `GET /api/snapshot` | everything at one instant: `{"at", "fuses", "valves", "alarms", "pipelines", "keyed"}` |
//! | `GET /api/fuses` | JSON list of fuse snapshots, sorted by name |
//! | `GET /api/fuses/{name}` | one fuse's snapshot; 404 if unknown |
//! | `GET /api/valves` | JSON list of valve snapshots |
//! | `GET /api/alarms` | JSON list of active alarms |
//! | `GET /api/keyed` | JSON list of the keyed families, sorted by name: counts, totals, top 10 keys each ([below](#keyed-families)) |
//! | `GET /api/keyed/{family}` | one keyed family, `?top=N` (0 to 100, default 10) top keys; 404 if unknown |
//! | `GET /api/runtime` | the host process: tokio runtime, memory, CPU, threads, descriptors, busiest fuses and valves ([below](#runtime-and-process)) |
//! | `GET /metrics` | Prometheus text format 0.0.4 ([the contract's names](fusebox::_contract#45-metric-names)) |
//! | `GET /events` | server-sent events: `ready`, then every event as JSON |
//! | `POST /api/fuses/{name}/disable` | disable; answers the fuse's snapshot |
//! | `POST /api/fuses/{name}/enable` | enable |
//! | `POST /api/fuses/{name}/reset` | reset (heal now) |
//! | `POST /api/fuses/{name}/unlock` | release a `barrier` heal step |
//! | `POST /api/trace/code` | start a live trace of the service's `tracing` events, bounded; answers its event stream ([`code_trace`]) |
//! | `DELETE /api/trace/code` | stop the running code trace |
//!
//! # Dashboard
//!
//! `GET /` serves a live page for operators: a tile per fuse (state as a big
//! coloured word, ask rates ok and blown per second with a two-minute
//! sparkline, melts, time to heal, heal step), a tile per valve (in flight,
//! queued, refusals by reason, sojourn p99), a tile per keyed family (keys by
//! state, totals, its top keys in a table), the active alarms, and a process
//! tile from `/api/runtime` (RSS, CPU, threads, descriptors, tasks, workers).
//! It follows `/events` and refreshes from `/api/snapshot`, survives a
//! dropped stream (showing "reconnecting"), loads nothing from the network,
//! and works nested under a prefix. Each fuse tile carries
//! `data-fuse="<name>"` and `data-state="ok|blown|disabled"` for scripts and
//! tests.
//!
//! # Keyed families
//!
//! A keyed family (`fusebox::keyed`) built with the Fusebox is listed by
//! name while it lives, in `/api/snapshot` (`keyed`), `/api/keyed`, the
//! metrics and the dashboard, always in a bounded summary: its config, how
//! many keys it holds in each state, its totals, and its top keys (blown or
//! disabled keys of a fuse family, keys refusing tasks of a valve family,
//! most refusals first), never the keys themselves.
//!
//! ```text
//! $ curl -s 'http://127.0.0.1:9797/api/keyed/hosts?top=1'
//! {"name": "hosts", "kind": "fuses",
//!  "config": {"fuse": {...}, "idle_ttl": "5m", "sweep_every": "5m", "sweep_budget": 1024, "max_keys": 1048576},
//!  "stats": {"keys": 1200, "live": 3, "promotions": 7, "demotions": 4, "evictions": 310, "full": 0},
//!  "states": {"ok": 1198, "blown": 2, "disabled": 0, "idle": 0, "busy": 0},
//!  "totals": {"refused": 412, "melts": 19, "blows": 3, "heals": 1, "admitted": 0, ...},
//!  "top": [{"key": "b.example", "state": "blown", "refused": 400, "blows": 2,
//!           "last_blow": "12s", "next_heal": "42s", "in_flight": 0, "queued": 0}]}
//! ```
//!
//! # Control and its token
//!
//! The `POST` endpoints require `Authorization: Bearer <token>`, compared in
//! constant time with [`AdminConfig::token`]. **Without a token configured,
//! control is disabled**: every control request answers 403
//! `{"error": "control disabled"}`, whatever it carries. A missing or wrong
//! token answers 401. The token is checked before the fuse is looked up, so
//! the set of fuse names does not leak to clients without it (it is visible to
//! anyone who can `GET`, though: protect the read endpoints, if needed, by
//! where you bind or mount them).
//!
//! # Code tracing
//!
//! With [`AdminConfig::code_trace`], an operator can also trace the
//! service's own `tracing` events live, as Erlang's `recon_trace` traces
//! calls: `POST /api/trace/code` with a spec such as
//! `myapp::db[query]=debug` streams the matching events, at most `max` of
//! them, at most `rate` a second, for at most a time limit, and then the
//! trace switches itself off. The service adds
//! [`CodeTrace::layer`](code_trace::CodeTrace::layer) to its subscriber once;
//! while no trace runs, it costs a disabled call site nothing measurable.
//! See [`code_trace`].
//!
//! # Errors
//!
//! Every error is JSON, `{"error": "...", "status": N, ...}` with details such
//! as `name` or `detail`. Bad input gets a 4xx: malformed percent-encoding or
//! UTF-8 in the path and malformed control bodies 400, unknown paths, names
//! and actions 404, wrong methods 405, bodies over [`BODY_LIMIT`] (16 KiB) 413,
//! a `Host` not allowed 421. A control body may be empty or a JSON object (its
//! fields are ignored). Nothing a client sends yields a 5xx but the 503 of a
//! cap reached (`"too many event streams"`, or `"server busy"` when every
//! connection is in the middle of a request); a panic in a handler, were there
//! one, would become a JSON 500 rather than a dropped connection. (Requests
//! that are not HTTP at all, such as a garbled request line or oversized
//! headers, are refused by hyper before they reach the router, with its own
//! bodiless 4xx.)
//!
//! # Example
//!
//! Mount the admin routes under `/admin` of an application's router:
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{FuseConfig, Fusebox};
//! use fusebox_admin::AdminConfig;
//!
//! # async fn run() -> std::io::Result<()> {
//! let fb = Fusebox::new();
//! fb.install("db", FuseConfig::standard(5, Duration::from_secs(10))).unwrap();
//!
//! let admin = fusebox_admin::router(fb.clone(), AdminConfig::new().token("s3cret"));
//! let app = axum::Router::new()
//!     .route("/hello", axum::routing::get(|| async { "hello" }))
//!     // GET /admin (and /admin/): the dashboard; /admin/api/fuses, /admin/metrics, ...
//!     .nest_service("/admin", admin);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! What an operator (or the `fusebox` command) sees, tried without a socket:
//! a read needs nothing, control needs the token.
//!
//! ```
//! use std::time::Duration;
//! use axum::body::Body;
//! use axum::http::{header, Request, StatusCode};
//! use fusebox::{Ask, FuseConfig, Fusebox};
//! use fusebox_admin::AdminConfig;
//! use http_body_util::BodyExt;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fb = Fusebox::new();
//! fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))?;
//! let admin = fusebox_admin::router(fb.clone(), AdminConfig::new().token("s3cret"));
//! let app = axum::Router::new().nest_service("/admin", admin);
//!
//! // `fusebox status` reads this:
//! let res = app.clone().oneshot(Request::get("/admin/api/fuses").body(Body::empty())?).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! let json = res.into_body().collect().await?.to_bytes();
//! assert!(std::str::from_utf8(&json)?.contains(r#""name":"db""#));
//!
//! // `fusebox disable db --token s3cret` sends this; without the token it is refused.
//! let disable = || Request::post("/admin/api/fuses/db/disable");
//! let res = app.clone().oneshot(disable().body(Body::empty())?).await?;
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! let with_token = disable().header(header::AUTHORIZATION, "Bearer s3cret");
//! let res = app.clone().oneshot(with_token.body(Body::empty())?).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(fb.ask("db")?, Ask::Blown);                 // disabled until enabled
//! # Ok(()) }
//! ```
//!
//! Or serve it alone on `127.0.0.1:9797`:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let fb = fusebox::Fusebox::new();
//! fusebox_admin::serve(fb, fusebox_admin::AdminConfig::new().token("s3cret")).await
//! # }
//! ```
//!
//! # Bounds
//!
//! Nothing a client does grows the host process without bound. The server
//! ([`serve`] and its siblings) closes a connection whose head (or body) has
//! not arrived within [`AdminConfig::header_read_timeout`] (10 s) or that has
//! moved no byte for [`AdminConfig::idle_timeout`] (60 s); holds at most
//! [`AdminConfig::max_connections`] (256) open, closing the one that has
//! waited longest for a request when a new one comes, so idle connections
//! never lock an operator out; and shuts down gracefully on a signal,
//! answering requests in flight and ending event streams. The router, where
//! it is mounted too, allows [`AdminConfig::max_event_streams`] (64) `/events`
//! streams at once (then 503), and answers only the `Host` names it is known
//! by: the loopback names unless configured otherwise
//! ([`AdminConfig::allow_host`]), so a page elsewhere cannot read it through
//! DNS rebinding (421). A stream that ends frees its subscription at once:
//! memory does not grow with the number of streams ever opened.
//!
//! ```
//! use std::time::Duration;
//! use fusebox_admin::AdminConfig;
//!
//! // Behind a proxy that answers for admin.example.com, for an operator or two:
//! let config = AdminConfig::new()
//!     .token("s3cret")
//!     .allow_host("admin.example.com")
//!     .max_connections(32)
//!     .max_event_streams(8)
//!     .idle_timeout(Duration::from_secs(30));
//! # let _ = config;
//! ```
//!
//! # Runtime and process
//!
//! `GET /api/runtime` answers what recon's `node_stats` and `proc_count`
//! tell of an Erlang node, as JSON (no token needed, as for every `GET`):
//!
//! * `runtime`: the tokio runtime's `workers`, `alive_tasks`,
//!   `global_queue_depth`, and the workers' `busy_percent` over the window
//!   (with `busy_seconds` and `parks`, their totals), from the metrics stable
//!   tokio exposes. The runtime is the one serving the request (the admin
//!   server's, or the application's server where the router is mounted),
//!   unless another is registered with [`AdminConfig::runtime`];
//! * `process`: `rss_bytes`, `rss_peak_bytes`, `cpu_user_seconds`,
//!   `cpu_system_seconds`, `cpu_percent` over the window (100 is one core),
//!   `threads` and `open_fds`, read from `/proc/self` on Linux; elsewhere
//!   (or if a file cannot be read) those figures are `null` and `note` says
//!   why;
//! * `busiest`: the `top` fuses and valves (5 by default, `?top=` up to 50)
//!   by calls in the window, or `?by=in_flight` or `?by=refused`, each with
//!   its rates per second.
//!
//! The rates are over `window_seconds`, the time since the previous reading
//! (one per router, shared by every client), at least half a second: a
//! request that comes sooner, or the first one, waits for the rest of it. The
//! reading kept is a few numbers and two counters per fuse and valve.
//!
//! ```text
//! $ curl -s 'http://127.0.0.1:9797/api/runtime?top=1'
//! {"busiest": {"by": "calls",
//!              "fuses": [{"name": "db", "state": "ok", "calls_per_second": 916.7,
//!                         "refused_per_second": 0.0, "calls": 465, "refused": 0}],
//!              "valves": [{"name": "api", "in_flight": 3, "concurrency": 4, "queued": 0,
//!                          "calls_per_second": 10.0, "refused_per_second": 0.0,
//!                          "calls": 120, "refused": 0}]},
//!  "process": {"rss_bytes": 5787648, "rss_peak_bytes": 5787648, "cpu_percent": 2.0,
//!              "cpu_user_seconds": 0.4, "cpu_system_seconds": 0.02, "threads": 5,
//!              "open_fds": 12, "note": null},
//!  "runtime": {"source": "server", "id": "1", "flavor": "multi_thread", "workers": 2,
//!              "alive_tasks": 3, "global_queue_depth": 0, "busy_percent": 0.03,
//!              "busy_seconds": 0.0006, "parks": 12},
//!  "window_seconds": 0.5009}
//! ```
//!
//! # Metrics
//!
//! `/metrics` renders the text format itself from
//! [`Fusebox::snapshot`](fusebox::Fusebox::snapshot), with no exporter: every
//! metric of the core's [`catalog`](fusebox::catalog), under the same names,
//! types, units and help as the core's `metrics` feature. The valve sojourn
//! and service times are Prometheus histograms (`_bucket{le=...}`, `_sum`,
//! `_count`) with the catalog's buckets, counted exactly. `promtool check
//! metrics` accepts the output (a test runs it when promtool is installed).

mod auth;
#[cfg(feature = "code-trace")]
pub mod code_trace;
mod config;
mod dashboard;
mod error;
mod events;
mod guard;
mod host;
mod keyed;
mod prometheus;
mod router;
mod routes;
#[cfg(feature = "inspector")]
mod runtime;
#[cfg(feature = "server")]
mod server;

pub use config::{AdminConfig, DEFAULT_BIND};
pub use host::AllowedHosts;
pub use router::{router, BODY_LIMIT};
#[cfg(feature = "server")]
pub use server::{serve, serve_listener, serve_router, serve_with_shutdown};
