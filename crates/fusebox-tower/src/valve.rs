//! The valve layer: load regulation in front of a service.
//!
//! A [`Valve`](fusebox::Valve) lets at most `concurrency` tasks run (and, if
//! configured, at most `rate` start per period). The layer takes one permit
//! per request and holds it until the response future completes (or is
//! dropped). It works in one of two modes:
//!
//! * **reject** ([`ValveLayer::reject`]): `poll_ready` is the inner
//!   service's; `call` takes a permit with `try_acquire` and, if none is free
//!   now, answers at once with [`FuseboxError::Refused`] (reason `Busy`).
//!   Never waits: the choice for a server that would rather say 503 than let
//!   requests pile up. The valve's queue is not used.
//! * **wait** ([`ValveLayer::wait`]): `poll_ready` waits for a permit in the
//!   valve's queue (bounded, with its discipline, `max_wait` and CoDel), and
//!   is ready only once it holds one; `call` moves the permit into the
//!   response future. This is backpressure, as tower's `ConcurrencyLimit`
//!   does it, but with a bounded wait: when the valve refuses (`QueueFull`,
//!   `Overload`, `Timeout`, `Blown`), `poll_ready` answers
//!   [`FuseboxError::Refused`] with that reason. An error from `poll_ready`
//!   means *this request* is refused, not that the service is broken: in
//!   axum, where each request is served by a fresh clone, that is what
//!   happens.
//!
//! ```text
//!            reject                                wait
//! poll_ready  inner.poll_ready                      acquire().await  (queue) ──▶ inner.poll_ready
//! call        try_acquire ── busy ──▶ Err(Refused)  permit moved into the future
//!                 │ ok
//!                 ▼
//! future      inner.call(req) holds the permit until it completes or is dropped
//! ```
//!
//! Clones never share a permit: a clone starts without one and waits for
//! its own (a permit held by one clone is that clone's request's slot).
//!
//! [`FuseboxError::Refused`]: crate::FuseboxError::Refused

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::ValveLayer;
pub use service::ValveService;

/// How a valve service treats a request when no slot is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Refuse it at once (`try_acquire` in `call`).
    Reject,
    /// Wait for a slot in `poll_ready` (backpressure, bounded by the valve).
    Wait,
}
