//! Every example, run once as a test: they must keep compiling, keep passing
//! their own assertions and keep ending by themselves. Each example file is
//! compiled in as a module, so no `cargo run` is needed; its `main` is
//! `pub(crate)` for this.

#[path = "../examples/admin_mount.rs"]
mod admin_mount;
#[path = "../examples/config_file.rs"]
mod config_file;
#[path = "../examples/manual_clock.rs"]
mod manual_clock;
#[path = "../examples/metrics_prometheus.rs"]
mod metrics_prometheus;
#[path = "../examples/tracing.rs"]
mod tracing_example;

#[test]
fn manual_clock() {
    manual_clock::main();
}

#[test]
fn config_file() {
    config_file::main();
}

#[test]
fn tracing() {
    tracing_example::main();
}

/// The only test of this binary that installs a global metrics recorder.
#[test]
fn metrics_prometheus() {
    metrics_prometheus::main();
}

#[test]
fn admin_mount() {
    admin_mount::main();
}
