//! Runnable examples of fusebox with real backends, and the README's Rust
//! snippets as doc tests. Not published.
//!
//! ```sh
//! cargo run -p fusebox-examples --example NAME
//! ```
//!
//! | example | what it shows |
//! |---|---|
//! | `metrics_prometheus` | the `metrics` feature into `metrics-exporter-prometheus`: a fuse melted until it blows, valve traffic, the rendered Prometheus text |
//! | `tracing` | the `tracing` feature into a `tracing-subscriber` fmt subscriber: the events of a blow, a heal program and a heal, on a manual clock |
//! | `admin_mount` | `fusebox_admin::router` mounted under `/admin` of an axum app on `127.0.0.1:0`, and one `GET /admin/api/fuses` |
//! | `config_file` | the repository's `examples/fusebox.toml` loaded with `ConfigFile`, every fuse and valve listed, and a broken file's errors |
//! | `manual_clock` | testing with a `ManualClock`: exact heal timing asserted without sleeping |
//!
//! Each ends by itself within a second or two. `cargo test` builds them and
//! runs each once (`tests/examples.rs`), and runs every `rust` snippet of the
//! workspace's `README.md` as a doc test of this crate, so the README cannot
//! drift from the code.
//!
//! Why a crate of its own: the README's snippets use the core with every
//! feature, the tower layers and the admin router at once, and the examples
//! need an exporter and a subscriber that the core must never depend on. Here
//! they are all dev-dependencies of a crate nobody depends on.

/// The workspace's `README.md`: each of its `rust` snippets is a doc test of
/// this crate (only under `cargo test`).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
