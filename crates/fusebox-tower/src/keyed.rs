//! The keyed fuse layer: one circuit breaker per key of the request (the
//! URI's host, a tenant header), from a [`KeyedFuses`](fusebox::keyed::KeyedFuses) family.
//!
//! A client that talks to many hosts through one service stack should not
//! stop calling every host because one of them is down: with a single
//! [`FuseLayer`](crate::FuseLayer) one bad host blows the breaker for all.
//! This layer computes a key from each request with a function you give
//! and admits the request through that key's fuse, created from the
//! family's template on first use and forgotten when idle (see
//! [`fusebox::keyed`]). Admission and reporting are as in the fuse layer:
//!
//! ```text
//! call(req) ──key_of(&req)──▶ ResponseFuture ──first poll──▶ key admitted? ──no──▶ Err(Blown)
//!                                                                 │yes
//!                                                                 ▼
//!                                           inner.call(req).await ──▶ classify ──▶ report to the key
//! ```
//!
//! A refusal is [`FuseboxError::Blown`](crate::FuseboxError::Blown) naming
//! the key's fuse, `"{family}/{key}"`.
//!
//! [`KeyedValveLayer`] does the same with a [`KeyedValves`](fusebox::keyed::KeyedValves)
//! family: each request holds a permit of its key's valve, waited for in
//! the response future (the key is known only in `call`), and a refusal is
//! [`FuseboxError::Refused`](crate::FuseboxError::Refused) naming the key's
//! valve. Both services need the same of the service they wrap as the
//! fuse and pipeline services do ([`OwnedInner`](crate::OwnedInner)).

mod layer;
mod service;
mod valve_layer;
mod valve_service;

pub use layer::KeyedFuseLayer;
pub use service::KeyedFuseService;
pub use valve_layer::KeyedValveLayer;
pub use valve_service::KeyedValveService;
