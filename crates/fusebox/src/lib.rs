//! # fusebox
//!
//! Circuit breakers that keep a service answering when what it depends on
//! breaks: the Rust heir of Erlang's [fuse](https://github.com/jlouis/fuse),
//! with its semantics, its vocabulary (install, ask, melt, run, reset,
//! remove, disable, enable) and its manifesto: no code without a model.
//!
//! A **fuse** guards one dependency. While it is *ok*, calls go through and
//! failures are reported to it as *melts*. When more than `max_melts` melts
//! fall within a time `window`, the fuse *blows*: calls are refused at once,
//! without waiting on a dependency that is down, until the fuse *heals*.
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{Ask, FuseConfig, Fusebox, Heal, RunError};
//!
//! let fb = Fusebox::new();
//! fb.install("db", FuseConfig::standard(5, Duration::from_secs(10))
//!     .heal(Heal::reset(Duration::from_secs(60))))?;
//! let db = fb.fuse("db").expect("installed");      // a cheap handle
//!
//! let row: Result<u32, RunError<&str>> = db.run(|| Ok(42)); // melts on Err
//! assert_eq!(row, Ok(42));
//! match db.ask() {
//!     Ask::Ok => { /* call the database, db.melt() if it fails */ }
//!     Ask::Blown => { /* answer from a cache, or refuse fast */ }
//! }
//! fb.disable("db")?;                                 // before maintenance
//! assert_eq!(fb.ask("db")?, Ask::Blown);
//! fb.enable("db")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Where to read on
//!
//! * [The guide](crate::_guide): a tutorial from the first fuse to heal
//!   programs, valves, events, config files and metrics; every snippet in it
//!   is a doc test.
//! * [The contract](crate::_contract): the semantics of fuses and valves and
//!   the operator surface, rule by rule, as the tests prove them.
//! * [`fusebox-tower`](https://docs.rs/fusebox-tower) for tower and axum
//!   stacks, [`fusebox-admin`](https://docs.rs/fusebox-admin) for the admin
//!   HTTP router and dashboard.
//!
//! ## Why this crate
//!
//! * **Fast.** `ask` on a healthy fuse is one atomic load and a bump of a
//!   counter only this thread writes: no lock, no clock read, no shared
//!   write. A blown fuse refuses without a lock, checking its heal deadline
//!   against a coarse clock. A melt is O(1) whatever the window holds.
//! * **Exact.** Every operation is linearizable on the fast path (Erlang fuse
//!   needed its slow `sync` context for that). The semantics are checked by a
//!   proptest state-machine model, a linearizability checker over parallel
//!   histories, and loom.
//! * **On time.** One timer per [`Fusebox`] heals blown fuses at their
//!   deadline even if nobody asks; a fuse whose deadline passed answers as
//!   healed even if that timer is late.
//! * **Observable.** Every state change is an [`Event`]; subscribers have
//!   bounded buffers and can never slow or break a fuse. An alarm monitor
//!   raises `fuse_blown` alarms with hysteresis.
//! * **Testable.** Time is injected: a [`ManualClock`] makes exact timing
//!   testable without sleeping.
//!
//! ## Semantics in brief
//!
//! The full rules are in [the contract](crate::_contract); in short:
//!
//! * `standard(max_melts, window)`: after a melt at `now`, the melts with
//!   `now - t < window` count (one exactly `window` old does not); more than
//!   `max_melts` blows. `max_melts = 0` blows on the first melt.
//! * `fault_injection(rate, max_melts, window)`: as standard, and an ok fuse
//!   refuses each ask with probability `rate` (counted apart).
//! * `Heal::reset(after)`: heal fully `after` the blow; melts while blown are
//!   recorded but do not move the deadline.
//! * `disable` dominates everything but `remove`; a reinstall keeps a fuse
//!   disabled; `reset` does not enable it.
//!
//! ## Beyond Erlang fuse
//!
//! * **Heal programs** ([`Heal::program`]): steps run in order from the
//!   blow: [`Step::Delay`], [`Step::Gradual`] (let a fraction of asks
//!   through), [`Step::Probe`] (at most `n` trial calls at once, lock-free,
//!   a cancelled one frees its slot), [`Step::Barrier`] (wait for
//!   [`Fusebox::unlock`]); the end of the list heals, and a failure during
//!   the program re-blows and restarts it. [`Heal::backoff`] and
//!   [`Heal::jitter`] spread repeated blows.
//! * **Strategies that hear of successes**: [`Strategy::consecutive`] and
//!   [`Strategy::failure_rate`] (sliding window in 10 buckets, with
//!   `min_calls` and [`Strategy::slow_call`]).
//! * **Outcome classification**: [`Fuse::run_classified`] with your own
//!   classifier; [`Outcome::Ignored`] counts toward nothing.
//! * **Async**: [`Fuse::call`] runs a future on any runtime; a future
//!   dropped before it finishes counts as ignored and frees its probe slot.
//! * **Retries that respect the fuse** ([`retry`]): backoff with jitter, a
//!   deadline and a retry budget; a refusal is never retried.
//! * **Keyed families** ([`keyed`]): one fuse or one valve per host or
//!   tenant, made from a template on first use, forgotten when idle, bounded.
//! * **Chaos** ([`fuse::Chaos`]): injected latency and errors in admitted
//!   calls, set at runtime, counted apart, replayable under a seed.
//! * **Pipelines** ([`pipeline`]): fallback, retry and hedging, fuse,
//!   valve and a per-attempt timeout, stacked in one documented order; a
//!   hedge's loser is dropped and frees its slots; hedges and retries
//!   share one budget.
//! * **Generations**: an outcome from a call admitted before the latest blow
//!   or heal counts toward nothing.
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, Step, Strategy, fuse::FuseState};
//!
//! let clock = ManualClock::new();
//! let fb = Fusebox::builder().clock(clock.clone()).build();
//! // Three failures in a row blow it; after 30 s, two trial calls; then healed.
//! let heal = Heal::program([Step::Delay(Duration::from_secs(30)), Step::Probe(2)]);
//! fb.install("db", FuseConfig::new(Strategy::consecutive(3)).heal(heal))?;
//! let db = fb.fuse("db").unwrap();
//! for _ in 0..3 {
//!     let _ = db.run(|| Err::<(), _>("timeout"));
//! }
//! assert_eq!(db.ask(), Ask::Blown);
//! clock.advance(Duration::from_secs(30));          // probing now
//! assert_eq!(db.run(|| Ok::<_, ()>(1)), Ok(1));      // one probe succeeded
//! assert_eq!(fb.state("db")?.state, FuseState::Blown);
//! assert_eq!(db.run(|| Ok::<_, ()>(2)), Ok(2));      // the second heals it
//! assert_eq!(fb.state("db")?.state, FuseState::Ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! * `serde` (default): `Serialize` for snapshots and events,
//!   `Serialize`/`Deserialize` for configs (durations as `"10s"`).
//! * `tokio`: [`Fuse::call_timeout`], a per-call deadline that counts as a
//!   failure when it passes.
//! * `toml`: [`ConfigFile`], fuses, valves and pipelines declared in a TOML file and
//!   loaded with [`Fusebox::load_config`]; every error is reported with its
//!   line, column and dotted field (`fusebox.toml:12:9:
//!   fuses.db.strategy.window: must be greater than zero`).
//! * `metrics`: every counter, gauge and histogram published through the
//!   [`metrics`](https://docs.rs/metrics) facade on a periodic tick, read
//!   from the fuses' own counters (nothing is added to the ask path; the
//!   library never installs a recorder). See [`Fusebox::publish_metrics`].
//! * `tracing`: [`tracing`](https://docs.rs/tracing) events under the target
//!   `fusebox`: a blow or disable at `warn`, a heal, reset, enable, heal step
//!   or alarm change at `info`, a melt at `debug`; nothing per ask.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod catalog;
pub mod clock;
#[cfg(feature = "toml")]
#[cfg_attr(docsrs, doc(cfg(feature = "toml")))]
pub mod config_file;
pub mod duration;
pub mod error;
pub mod event;
pub mod fuse;
pub mod keyed;
mod keyed_snapshot;
#[cfg(feature = "metrics")]
mod metrics_export;
pub mod pipeline;
pub mod registry;
pub mod retry;
pub mod rng;
mod stats;
mod sync;
mod timer;
pub mod valve;

#[doc = include_str!("../docs/guide.md")]
pub mod _guide {}

#[doc = include_str!("../docs/contract.md")]
pub mod _contract {}

pub use clock::{Clock, ManualClock};
#[cfg(feature = "toml")]
#[cfg_attr(docsrs, doc(cfg(feature = "toml")))]
pub use config_file::ConfigFile;
pub use error::{ConfigError, NotFound};
pub use event::Event;
pub use fuse::{Ask, Fuse, FuseConfig, Heal, Outcome, RunError, Step, Strategy};
pub use registry::{Fusebox, Snapshot};
pub use valve::{Permit, Refused, Valve, ValveConfig};
