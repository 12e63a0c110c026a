//! # fusebox-tower
//!
//! [tower] middleware for [fusebox]: put a **fuse** (circuit breaker) or a
//! **valve** (load regulator) in front of any `tower::Service`, an axum
//! router, a hyper client, a gRPC channel.
//!
//! | layer | what it does to a request | refusal |
//! |---|---|---|
//! | [`FuseLayer`] | asks the fuse; if ok, calls the inner service and reports the outcome (success, failure, ignored) | [`FuseboxError::Blown`], at once, inner service not called |
//! | [`ValveLayer::reject`] | takes a free slot or refuses; holds it until the response is ready | [`FuseboxError::Refused`] (`Busy`), at once |
//! | [`ValveLayer::wait`] | waits in the valve's bounded queue for a slot (backpressure in `poll_ready`) | [`FuseboxError::Refused`] (`QueueFull`, `Overload`, `Timeout`, `Blown`) |
//! | [`PipelineLayer`] | a [`Pipeline`](fusebox::pipeline::Pipeline): fallback, retries and hedges (each on a clone of the request and of the inner service), fuse, valve, timeout | the fuse's or valve's, never retried; [`FuseboxError::TimedOut`] for the timeout |
//!
//! Both layers' services answer with [`BoxError`], as tower's own
//! `load_shed` and `timeout` do: a refusal is a [`FuseboxError`], any other
//! error is the inner service's. With the `axum` feature a `FuseboxError` is
//! a `503 Service Unavailable` with a JSON body (see [`axum`]).
//!
//! ## The fuse layer
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{Ask, FuseConfig, Fusebox};
//! use fusebox_tower::{FuseLayer, FuseboxError};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fusebox_tower::BoxError> {
//! let fb = Fusebox::new();
//! fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))?; // first failure blows
//! let mut svc = ServiceBuilder::new()
//!     .layer(FuseLayer::new(fb.fuse("db").unwrap()))
//!     .service(service_fn(|q: &'static str| async move {
//!         if q == "bad" { Err("connection reset") } else { Ok(q.len()) }
//!     }));
//!
//! assert_eq!(svc.ready().await?.call("select").await?, 6);
//! let err = svc.ready().await?.call("bad").await.unwrap_err();
//! assert_eq!(err.to_string(), "connection reset");      // the inner error, boxed
//! assert_eq!(fb.ask("db")?, Ask::Blown);                 // ...and a melt
//! let err = svc.ready().await?.call("select").await.unwrap_err();
//! assert!(matches!(err.downcast_ref(), Some(FuseboxError::Blown { .. })));
//! # Ok(()) }
//! ```
//!
//! Each request is admitted through [`Fuse::call_classified`], so heal
//! programs work as in the core: a `Probe(n)` step lets at most `n` requests
//! in at once, and a response future dropped before it completes (a client
//! that hung up) counts as ignored and frees its probe slot. All clones of a
//! [`FuseService`] share the one fuse.
//!
//! ## What counts as a failure
//!
//! By default `Ok` is a success and `Err` a failure ([`DefaultClassifier`]).
//! Give [`FuseLayer::classifier`] any [`Classify`], such as a closure
//! `Fn(&Result<Response, Error>) -> Outcome`; [`Outcome::Ignored`] counts
//! toward nothing. For HTTP (feature `http`), [`FuseLayer::http`] uses
//! [`HttpClassifier`]:
//!
//! | result | outcome |
//! |---|---|
//! | `Err` (connection refused, timeout from an inner `TimeoutLayer`, ...) | failure |
//! | 5xx | failure |
//! | 4xx | ignored: a bad request says nothing about the dependency |
//! | 1xx, 2xx, 3xx | success |
//!
//! and `HttpClassifier::new().failure_on(|status| ...)` chooses which
//! statuses are failures (say, 429 too).
//!
//! ```
//! use fusebox::{FuseConfig, Fusebox, Outcome};
//! use fusebox_tower::{FuseLayer, HttpClassifier};
//! use http::StatusCode;
//! # let fb = Fusebox::new();
//! # fb.install("search", FuseConfig::standard(5, std::time::Duration::from_secs(10))).unwrap();
//!
//! let search = fb.fuse("search").unwrap();
//! let layer = FuseLayer::new(search.clone()).classifier(
//!     HttpClassifier::new()
//!         .failure_on(|s: StatusCode| s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS),
//! );
//! // Or a closure of your own:
//! let layer = FuseLayer::new(search).classifier(|r: &Result<http::Response<()>, std::io::Error>| {
//!     match r {
//!         Ok(resp) if resp.status().is_server_error() => Outcome::Failure,
//!         Ok(_) => Outcome::Success,
//!         Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Outcome::Ignored,
//!         Err(_) => Outcome::Failure,
//!     }
//! });
//! # let _ = layer;
//! ```
//!
//! ## The valve layer, and its two modes
//!
//! A [`ValveService`] takes one permit of its valve per request and frees it
//! when the response future completes or is dropped. What happens when no
//! slot is free is the mode's choice:
//!
//! * **reject** ([`ValveLayer::reject`]): `call` refuses at once with
//!   `Refused { reason: Busy }`. Nothing waits; overload becomes fast 503s.
//! * **wait** ([`ValveLayer::wait`]): `poll_ready` waits in the valve's queue
//!   and is ready only once it holds a permit; the valve's queue size,
//!   `max_wait` and CoDel bound the wait, and a refusal comes out of
//!   `poll_ready` with its reason.
//!
//! ```
//! use fusebox::{Fusebox, Refused, ValveConfig};
//! use fusebox_tower::{FuseboxError, ValveLayer};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fusebox_tower::BoxError> {
//! let fb = Fusebox::new();
//! fb.install_valve("api", ValveConfig::new().concurrency(1))?;
//! let api = fb.valve("api").unwrap();
//! let mut svc = ServiceBuilder::new()
//!     .layer(ValveLayer::reject(api.clone()))
//!     .service(service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) }));
//!
//! let held = api.try_acquire()?;                          // someone holds the only slot
//! let err = svc.ready().await?.call(1).await.unwrap_err();
//! assert_eq!(
//!     err.downcast_ref::<FuseboxError>(),
//!     Some(&FuseboxError::Refused { valve: "api".into(), reason: Refused::Busy }),
//! );
//! drop(held);
//! assert_eq!(svc.ready().await?.call(2).await?, 2);
//! # Ok(()) }
//! ```
//!
//! Clones of a [`ValveService`] never share a permit: in wait mode each
//! clone acquires its own in `poll_ready`, and a clone made while the
//! original holds one starts without.
//!
//! ## Both, in axum
//!
//! Put the valve outside the fuse. A fuse outside the valve would count the
//! valve's refusals (errors like any other to its classifier) as failures
//! of the dependency; with the valve outside, a request the fuse refuses
//! holds its slot only for the instant of the refusal. axum's
//! `Router::layer` needs services that never fail, so a `HandleErrorLayer`
//! with [`axum::handle_error`] goes on top and turns refusals into 503s with
//! a JSON body:
//!
//! ```
//! use std::time::Duration;
//! use axum::body::Body;
//! use axum::error_handling::HandleErrorLayer;
//! use axum::http::{Request, StatusCode};
//! use axum::{routing::get, Router};
//! use fusebox::{FuseConfig, Fusebox, ValveConfig};
//! use fusebox_tower::{FuseLayer, ValveLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fb = Fusebox::new();
//! fb.install("orders-db", FuseConfig::standard(5, Duration::from_secs(10)))?;
//! fb.install_valve("api", ValveConfig::new().concurrency(64).queue(256)
//!     .max_wait(Duration::from_millis(200)))?;
//!
//! let app = Router::new()
//!     .route("/orders", get(|| async { "[]" }))
//!     .layer(ServiceBuilder::new()
//!         .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error)) // refusals -> 503 JSON
//!         .layer(ValveLayer::wait(fb.valve("api").unwrap()))     // queue for a slot (backpressure)
//!         .layer(FuseLayer::http(fb.fuse("orders-db").unwrap()))); // 5xx and errors melt, 4xx do not
//!
//! let get_orders = || Request::get("/orders").body(Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(get_orders()).await?.status(), StatusCode::OK);
//!
//! fb.disable("orders-db")?;             // maintenance: refused at once, the handler is not called
//! let refused = app.clone().oneshot(get_orders()).await?;
//! assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
//! # Ok(()) }
//! ```
//!
//! Clones of a layered service share one fuse, and a response future
//! dropped before it completes (a client that hung up) counts as ignored
//! and frees its probe or valve slot. See [`axum`] for the response body,
//! and `examples/axum_service.rs` for a service with a flaky downstream
//! under load:
//!
//! ```sh
//! cargo run -p fusebox-tower --example axum_service --features axum,http
//! ```
//!
//! ## Every policy at once: the pipeline layer
//!
//! [`PipelineLayer`] hands each request to a
//! [`Pipeline`](fusebox::pipeline::Pipeline), which stacks the policies in
//! one fixed order (see [`pipeline`] and [`fusebox::pipeline`]). A retry or
//! a hedge sends the request again, so requests must be `Clone`:
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{FuseConfig, Fusebox};
//! use fusebox::pipeline::{Pipeline, PipelineError};
//! use fusebox::retry::RetryPolicy;
//! use fusebox_tower::PipelineLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fusebox_tower::BoxError> {
//! let fb = Fusebox::new();
//! fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))?;
//! let db = Pipeline::builder("db")
//!     .fusebox(&fb)
//!     .retry(RetryPolicy::new(3))
//!     .fuse(fb.fuse("db").unwrap())
//!     .fallback(|_: PipelineError<&str>| 0)
//!     .build()?;
//! let svc = ServiceBuilder::new()
//!     .layer(PipelineLayer::new(db))
//!     .service(service_fn(|q: String| async move { Ok::<_, &str>(q.len()) }));
//! assert_eq!(svc.clone().oneshot("select".to_owned()).await?, 6);
//! fb.disable("db")?;
//! assert_eq!(svc.oneshot("select".to_owned()).await?, 0);   // the fallback
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! * `http`: [`HttpClassifier`] and [`FuseLayer::http`] (dependency `http` 1).
//! * `axum`: `IntoResponse` for [`FuseboxError`] and
//!   [`axum::handle_error`] (dependency `axum` 0.8).
//!
//! [tower]: https://docs.rs/tower
//! [`Fuse::call_classified`]: fusebox::Fuse::call_classified
//! [`Outcome::Ignored`]: fusebox::Outcome::Ignored

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The overview links to items of the `http` and `axum` features.
#![cfg_attr(
    not(all(feature = "http", feature = "axum")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod bounds;
mod classify;
mod error;
pub mod fuse;
pub mod keyed;
pub mod pipeline;
pub mod valve;

pub use bounds::OwnedInner;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use classify::HttpClassifier;
pub use classify::{Classify, DefaultClassifier};
pub use error::{BoxError, FuseboxError};
pub use fuse::{FuseLayer, FuseService};
pub use pipeline::{PipelineLayer, PipelineService};
pub use valve::{Mode, ValveLayer, ValveService};
