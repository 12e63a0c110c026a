//! The pipeline layer: every policy of a [`Pipeline`](fusebox::pipeline::Pipeline)
//! (fallback, retry and hedge, fuse, valve, timeout) in front of a service.
//!
//! Stacking a fuse layer, a valve layer, a retry layer and a timeout layer
//! by hand is easy to get wrong (a retry outside the valve retries its
//! refusals; a timeout around the queue blows the fuse for our own
//! congestion). A pipeline has the one order fusebox argues for in
//! [`fusebox::pipeline`], and this layer hands it each request:
//!
//! ```text
//! call(req) ──▶ ResponseFuture ──▶ pipeline.call ──▶ attempt: clone svc, clone req,
//!                                       │                    ready it, call it
//!                                       │  failure/timeout ──▶ retry (budget, backoff)
//!                                       │  slow            ──▶ hedge (a second attempt)
//!                                       ▼
//!                          first success, or the fallback, or the error
//! ```
//!
//! * **Requests are cloned**: a retry or a hedge sends the request again,
//!   so `Req: Clone` (every attempt gets a clone; for `http::Request`,
//!   whose body is not `Clone`, clone it into a `Request<Bytes>` first).
//! * **Readiness**: `poll_ready` is the inner service's, and the first
//!   attempt uses the service it readied. Every other attempt (a retry, a
//!   hedge) calls a clone of the inner service, readied inside the response
//!   future (`poll_ready` then `call`, as tower's `oneshot`), so `S: Clone`;
//!   a `poll_ready` error is that attempt's error, classified like any.
//! * **Classification**: each attempt's result goes through a
//!   [`Classify`](crate::Classify), as in the fuse layer: a success ends
//!   the call, a failure melts the fuse and is retried, an ignored result
//!   (a 4xx with [`PipelineLayer::http`]) is neither.
//! * **Errors**, boxed as every layer's: the last attempt's own error as
//!   the inner service gave it; a refusal as a [`FuseboxError`] (`Blown`,
//!   `Disabled` or `Refused`, never retried); a cut by the pipeline's
//!   timeout as [`FuseboxError::TimedOut`]; an error its fuse's chaos
//!   injected as [`FuseboxError::Injected`]. With a fallback, its answer.
//!
//! [`FuseboxError`]: crate::FuseboxError
//! [`FuseboxError::TimedOut`]: crate::FuseboxError::TimedOut
//! [`FuseboxError::Injected`]: crate::FuseboxError::Injected

mod layer;
mod service;

pub use layer::PipelineLayer;
pub use service::PipelineService;
