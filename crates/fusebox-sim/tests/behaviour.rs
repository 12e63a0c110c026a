//! The simulator on the shipped scenarios: it repeats itself byte for byte,
//! in this build and against a committed release build's output, and it
//! ranks configs the way the scenarios were written to show.

use std::path::{Path, PathBuf};

use fusebox::ConfigFile;
use fusebox_sim::{file, simulate, Report};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// A shipped scenario with the given extra configs (files in `scenarios/`).
fn run(scenario: &str, configs: &[&str]) -> Report {
    let f = file::read(&dir().join(scenario)).expect("a valid shipped scenario");
    let mut cs: Vec<(String, ConfigFile)> = Vec::new();
    if let Some(inline) = f.fusebox {
        cs.push(("inline".to_owned(), inline));
    }
    for c in configs {
        let name = c.trim_end_matches(".toml").to_owned();
        cs.push((
            name,
            ConfigFile::read(dir().join(c)).expect("a valid shipped config"),
        ));
    }
    simulate(&f.scenario, &cs).expect("runs")
}

#[test]
fn the_same_scenario_and_seed_give_the_same_json_twice() {
    for s in ["flapping.toml", "retry_storm.toml", "capacity_drop.toml"] {
        let a = run(s, &[]).json();
        let b = run(s, &[]).json();
        assert_eq!(a, b, "{s} differs between two runs");
    }
}

/// `tests/golden/flapping.json` is the output of a release build:
/// `cargo run --release -p fusebox-cli -- simulate crates/fusebox-sim/scenarios/flapping.toml
/// --config crates/fusebox-sim/scenarios/flapping-reset.toml
/// --config crates/fusebox-sim/scenarios/flapping-program.toml --json`.
/// This test runs in whatever build `cargo test` makes (debug by default),
/// so it compares the two. Regenerate the file with that command when the
/// engine or the scenario changes on purpose.
#[test]
fn a_debug_build_repeats_the_release_builds_report() {
    let got = run(
        "flapping.toml",
        &["flapping-reset.toml", "flapping-program.toml"],
    )
    .json();
    let want = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/flapping.json"),
    )
    .expect("the golden report");
    assert!(
        got.trim_end() == want.trim_end(),
        "the report differs from the release build's (tests/golden/flapping.json); got:\n{got}"
    );
}

#[test]
fn on_the_flapping_dependency_a_heal_program_beats_reset_and_none_loses_to_both() {
    let r = run(
        "flapping.toml",
        &["flapping-reset.toml", "flapping-program.toml"],
    );
    assert_eq!(r.objective, "wasted_calls");
    let score = |n: &str| r.run(n).expect(n).objective;
    let (none, reset, program) = (
        score("none"),
        score("flapping-reset"),
        score("flapping-program"),
    );
    eprintln!("wasted calls: none {none}, reset {reset}, program {program}");
    assert!(program < reset, "program {program} vs reset {reset}");
    assert!(reset < none, "reset {reset} vs none {none}");
}

/// A call that waited in the dependency's queue answers the attempt that
/// made it, even after its caller gave up and the request's slot went to a
/// newer request. One connection, first come first served, 100 ms a call:
/// the clients that succeed are answered in the order they arrived, each
/// after 100 ms at least.
#[test]
fn an_abandoned_queued_call_never_answers_a_newer_request() {
    let scenario: fusebox_sim::Scenario = toml::from_str(
        r#"
        duration = "30s"
        [load]
        open = { rate = 5.0, spikes = [{ at = "5s", for = "4s", rate = 20.0 }] }
        timeout = "300ms"
        [dependency]
        connections = 1
        latency = { kind = "constant", value = "100ms" }
        "#,
    )
    .expect("scenario");
    let (run, mut log) = fusebox_sim::run_logged(&scenario, "none", None).expect("runs");
    // The spike overloads it: the queue outgrows the timeout, calls are
    // abandoned in it (and still served), request slots are reused.
    assert!(run.total.timed_out > 30, "{:?}", run.total);
    log.retain(|r| r.end == fusebox_sim::End::Succeeded);
    log.sort_by_key(|r| r.at);
    assert!(log.len() > 50, "{}", log.len());
    for w in log.windows(2) {
        assert!(w[1].latency >= std::time::Duration::from_millis(100));
        assert!(
            w[0].at + w[0].latency < w[1].at + w[1].latency,
            "arrived at {:?} and {:?}, answered in the other order",
            w[0].at,
            w[1].at
        );
    }
}
