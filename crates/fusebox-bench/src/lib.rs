//! # fusebox-bench
//!
//! What does a breaker cost per call, and does it scale? This crate answers
//! for fusebox and its peers (recloser, failsafe, seatbelt,
//! tower-resilience-circuitbreaker) in one run, on the same operations:
//!
//! * the closed path (ask; run of a closure returning `Ok`),
//! * the open path (refusal),
//! * failure recording with 100 and 100,000 failures in the window,
//! * ask by name with 10, 1,000 and 100,000 fuses,
//! * 1 and 2 threads asking one healthy breaker, against a bare atomic load.
//!
//! Contenders are measured in alternating rounds (see [`harness`]) and
//! reported as medians and as ratios to fusebox. `cargo run --release -p
//! fusebox-bench` prints the table and writes JSON under
//! `target/fusebox-bench/`; `--smoke` runs a few iterations of everything,
//! which the test suite does so the benchmarks cannot rot.
//!
//! `--config-check` instead times the check of a generated config file of
//! 100,000 fuses and valves (see [`config_check`]).
//!
//! This is a harness of our own rather than criterion or divan because
//! neither alternates contenders within a run nor reports ratios; the
//! per-operation divan benches are in `crates/fusebox/benches`.

pub mod adaptive;
pub mod config_check;
pub mod harness;
pub mod overload;
pub mod peers;
pub mod report;
pub mod retry;
pub mod rows;
pub mod scaling;

use harness::Settings;
use report::{Machine, Report, RowReport};

/// Runs every row whose id contains `filter` (all with `""`), and the
/// scaling rows if `"scaling"` matches, printing each row's title as it goes
/// when `progress` is set.
pub fn run(settings: &Settings, filter: &str, progress: bool) -> Report {
    let mut rows = Vec::new();
    for mut row in rows::breaker_rows()
        .into_iter()
        .chain(rows::keyed_rows(filter))
        .chain(retry::retry_rows())
    {
        if !row.id.contains(filter) {
            continue;
        }
        if progress {
            eprintln!("measuring {} ...", row.title);
        }
        let measured = harness::measure(&mut row.contenders, settings);
        rows.push(RowReport::new(row.id, row.title, row.baseline, measured));
    }
    let scaling = if "scaling".contains(filter) || filter.is_empty() {
        if progress {
            eprintln!("measuring scaling, 1 and 2 threads ...");
        }
        scaling::measure(settings)
    } else {
        Vec::new()
    };
    Report {
        machine: Machine::detect(),
        rounds: settings.rounds,
        sample_ms: settings.sample_time.as_secs_f64() * 1e3,
        rows,
        scaling,
    }
}
