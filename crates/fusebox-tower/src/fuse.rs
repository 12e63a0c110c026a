//! The fuse layer: a circuit breaker in front of a service.
//!
//! Each request is *admitted* by the fuse before the inner service is
//! called. A blown fuse answers at once with [`FuseboxError::Blown`] and the
//! inner service never sees the request; an ok fuse lets it through and hears
//! how it went, as the classifier says.
//!
//! Admission goes through [`Fuse::call_classified`], the fuse's async
//! admission, because a plain `ask` then `melt` loses track of *which* call
//! holds a probe slot while a heal program probes the dependency. With
//! `call_classified` the admission ticket lives inside the response future:
//!
//! ```text
//! call(req) ──▶ ResponseFuture ──first poll──▶ admitted? ──no──▶ Err(Blown)
//!                                                  │yes
//!                                                  ▼
//!                                      inner.call(req).await ──▶ classify ──▶ report
//!                      dropped before the end ──▶ reported as Ignored, probe slot freed
//! ```
//!
//! so a caller that gives up (a client hanging up, a timeout layer outside)
//! neither melts the fuse nor strands a probe slot.
//!
//! [`FuseboxError::Blown`]: crate::FuseboxError::Blown
//! [`Fuse::call_classified`]: fusebox::Fuse::call_classified

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::FuseLayer;
pub use service::FuseService;
