//! Runs the loom tests (`tests/loom_fuse.rs`, `tests/loom_valve.rs`) as part of a plain `cargo test`.
//!
//! Loom needs the whole crate graph built with `--cfg loom`, which a normal
//! test build is not, so this test starts a second cargo with that flag and
//! its own target directory (`target/loom`, so the two builds never fight over
//! one lock or invalidate each other's artifacts). The first run compiles for
//! a minute or two; later runs reuse the build.
//!
//! Set `FUSEBOX_SKIP_LOOM=1` to skip it on purpose; the skip is printed.
#![cfg(not(loom))]

#[path = "support/watchdog.rs"]
mod watchdog;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn loom_models_pass() {
    let _watch = watchdog::watchdog(
        "loom_runner::loom_models_pass",
        std::time::Duration::from_secs(1800),
    );
    if std::env::var_os("FUSEBOX_SKIP_LOOM").is_some() {
        eprintln!("\n*** SKIPPED: loom tests (FUSEBOX_SKIP_LOOM is set) ***\n");
        return;
    }
    // Cargo sets CARGO for the tests it runs; fall back to the one on PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = workspace.join("target/loom");
    let out = Command::new(cargo)
        .current_dir(&workspace)
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", &target)
        // The outer test run's own flags must not leak into the inner build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .args([
            "test",
            "--release",
            "-p",
            "fusebox",
            "--test",
            "loom_fuse",
            "--test",
            "loom_valve",
        ])
        .output()
        .expect("cargo can be started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "loom tests failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // A loom build that silently compiled the tests away would pass with
    // nothing run; demand that the loom tests actually ran.
    let ran: u32 = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next())
        .filter_map(|n| n.parse::<u32>().ok())
        .sum();
    assert!(
        ran >= 10,
        "expected at least 10 loom tests (fuse and valve), saw {ran}:\n{stdout}"
    );
    println!("{ran} loom tests passed");
}
