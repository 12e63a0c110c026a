//! Supervision trees for a service's own tokio tasks, with Erlang/OTP's
//! rules, where restart intensity is a [fusebox] fuse.
//!
//! A consumer loop that panics, a cache refresher that returns an error, a
//! connection manager that dies at 3 am: a supervisor starts them again.
//! The rules are OTP's `supervisor`'s:
//!
//! - **Strategies** ([`Strategy`]): `OneForOne` restarts the child that
//!   crashed; `OneForAll` stops the others (in reverse order) and restarts
//!   all; `RestForOne` restarts it and the children started after it.
//! - **Restart types** ([`Restart`]): permanent (always), transient (after a
//!   crash only), temporary (never; removed).
//! - **Order**: children start in order and stop in reverse order.
//! - **Shutdown** ([`Shutdown`]): cancel the child's token, wait up to a
//!   timeout, then abort; abort at once; or wait without limit (a child
//!   supervisor).
//! - **Crashes**: a panic (its message kept), an `Err`, or a panicking start
//!   is a crash; `Ok(())` is a normal exit.
//! - **Intensity**: more than MaxR restarts within MaxT and the supervisor
//!   gives up: it stops its children in reverse order and ends with
//!   [`GaveUp`], which its parent sees as a child's crash. Here that rule is
//!   the fuse `FuseConfig::standard(MaxR, MaxT)`, melted once per restart.
//!
//! and two that OTP lacks:
//!
//! - **Restart pacing** ([`ChildSpec::fuse`]): a child's own fuse, melted
//!   by its crashes; while it is blown the child stays down and its heal
//!   program (backoff, jitter, barrier) says when it starts again.
//! - **Dependency gating** ([`ChildSpec::needs`]): while a fuse the child
//!   needs is blown it is not restarted and no restart is counted.
//!
//! # Why a crate of its own
//!
//! The `fusebox` core has no runtime: its fuses take the time as a
//! parameter and its pipelines sleep on a timer they are given. A
//! supervisor spawns, joins and aborts tasks, so it needs one (tokio); it
//! lives here so the core stays runtime-free.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use fusebox::Fusebox;
//! use fusebox_supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
//!
//! let fusebox = Fusebox::new();
//! let spec = SupervisorSpec::new("service")
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::new("consumer", |token| async move {
//!         token.cancelled().await; // a real consumer loops until cancelled
//!         Ok::<(), std::io::Error>(())
//!     }));
//! let tree = Supervisor::start(spec, &fusebox).unwrap();
//! // ... on ctrl-c or SIGTERM:
//! let report = tree.shutdown().await.unwrap();
//! assert_eq!(report.stopped.len(), 1);
//! # }
//! ```

mod child;
mod engine;
mod error;
mod exit;
mod gate;
mod restart;
mod shutdown;
mod spec;
mod strategy;
mod supervisor;

pub use child::{ChildState, ChildStatus, Record, HISTORY};
pub use error::{GaveUp, SpecError, StartError};
pub use exit::Exit;
pub use restart::Restart;
pub use shutdown::{Shutdown, ShutdownReport, StopRecord, Stopped};
pub use spec::{ChildSpec, SupervisorSpec};
pub use strategy::Strategy;
pub use supervisor::Supervisor;
pub use tokio_util::sync::CancellationToken;
