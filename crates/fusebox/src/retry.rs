//! Retries: another attempt after a failure, spaced by a backoff, bounded by
//! attempts, a deadline and a budget, and never of a refusal.
//!
//! A fuse and a retry loop that do not know of each other work against
//! each other. The fuse blows to take load off a dependency that is down;
//! a naive retry loop retries the fuse's refusal (a slow way to get the
//! same answer) or, before the fuse blows, multiplies the load on the
//! failing dependency by its attempt count: a retry storm, the very
//! overload the fuse is there to stop. This module retries so that the two
//! cooperate:
//!
//! * **a refusal is final**: a blown or disabled fuse, a valve's
//!   [`Refused`](crate::Refused), is never retried ([`Class::Refusal`]), nor
//!   an ignored result; only a failure is;
//! * **a budget bounds the extra load**: [`RetryBudget`] (Finagle's
//!   `RetryBudget`, tower's `TpsBudget`) lets retries be at most a ratio of
//!   first attempts plus a small floor per second;
//! * **backoff with jitter** ([`Backoff`], after AWS's "Exponential Backoff
//!   and Jitter") keeps a fleet from retrying in step;
//! * **a deadline** ends the retries when the caller no longer cares, as
//!   Polly's and resilience4j's retries do with an overall timeout.
//!
//! ```text
//!  run ─► attempt ─► success ─────────────────────────────► Ok
//!            │
//!            ├─ refusal / ignored ────────────────────────► Err(Refused / NotRetryable)
//!            └─ failure ─► attempts left? ─► wait within deadline? ─► budget pays? ─► wait, attempt
//!                             │ no                │ no                    │ no
//!                             ▼                   ▼                       ▼
//!                          Exhausted           Deadline             BudgetExhausted
//! ```
//!
//! Files, one concept each: `backoff.rs` (the waits), `policy.rs` (the
//! rules and the classes), `budget.rs` (the budget), `error.rs` (what a
//! failed run answers), `attempts.rs` (the decision engine, no I/O:
//! [`Attempts`], which the pipeline and the simulator drive too), `run.rs`
//! (the handle and the sync form), `call.rs` (the async forms).
//!
//! Counters: [`Retry::stats`] and [`RetryBudget::stats`]. A bare `Retry`
//! is in no [`Snapshot`](crate::Snapshot); a
//! [`Pipeline`](crate::pipeline::Pipeline) built with a Fusebox retries
//! with this engine and exports its retries, hedges, budget refusals and
//! fallbacks (the `fusebox_retries_total` family of the
//! [`catalog`](crate::catalog)).

mod attempts;
mod backoff;
mod budget;
mod call;
mod error;
mod policy;
mod run;
mod sleep;

pub use attempts::{Attempts, Next};
pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetStats, RetryBudget};
pub use error::{RetryError, Stop};
pub use policy::{Class, RetryPolicy};
pub use run::{Retry, RetryBuilder, RetryStats};
pub use sleep::{Sleep, ThreadSleep};
