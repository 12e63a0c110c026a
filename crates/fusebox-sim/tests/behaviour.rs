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

/// A request calls every dependency in turn, each behind its own fuse, and
/// fails at the first that fails; an episode names the dependency it is
/// about.
#[test]
fn a_request_calls_each_dependency_in_turn() {
    let f = file::parse(
        r#"
        duration = "60s"
        [load]
        open = { rate = 100.0 }
        timeout = "1s"

        [[dependencies]]
        name = "cache"
        connections = 32
        latency = { kind = "constant", value = "1ms" }
        fuse = "cache"

        [[dependencies]]
        name = "db"
        connections = 8
        latency = { kind = "exponential", mean = "10ms" }
        fuse = "db"

        [[episodes]]
        name = "db down"
        dependency = "db"
        start = "20s"
        end = "30s"
        down = true

        [[episodes]]
        name = "cache errors"
        dependency = "cache"
        start = "40s"
        end = "45s"
        error_rate = 1.0

        [fusebox.fuses.cache]
        strategy = { kind = "consecutive", failures = 5 }
        heal = { steps = [{ delay = "1s" }, { probe = 1 }] }
        [fusebox.fuses.db]
        strategy = { kind = "consecutive", failures = 5 }
        heal = { steps = [{ delay = "1s" }, { probe = 1 }] }
        "#,
    )
    .expect("scenario");
    let configs = [("fused".to_owned(), f.fusebox.clone().expect("config"))];
    let report = simulate(&f.scenario, &configs).expect("runs");
    let phase = |run: &fusebox_sim::RunResult, name: &str| {
        run.phases
            .iter()
            .find(|p| p.phase == name)
            .cloned()
            .expect("phase")
    };
    let dep = |row: &fusebox_sim::PhaseRow, name: &str| {
        row.dependencies
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .expect("dependency row")
    };
    let none = report.run("none").expect("none");
    let fused = report.run("fused").expect("fused");
    // Healthy: every request calls the cache, then the database.
    let healthy = phase(none, "healthy");
    assert_eq!(dep(&healthy, "cache").calls, healthy.offered);
    assert_eq!(dep(&healthy, "db").calls, healthy.offered);
    assert_eq!(healthy.dependency_calls, 2 * healthy.offered);
    assert_eq!(healthy.succeeded, healthy.offered);
    // The database is down: unprotected, every request still calls both
    // and fails; fused, the cache is still called, the database's fuse
    // refuses, and the cache's fuse never hears a failure.
    let down = phase(none, "db down");
    assert_eq!(down.succeeded, 0);
    assert_eq!(dep(&down, "db").wasted_calls, down.offered);
    assert_eq!(dep(&down, "cache").wasted_calls, 0);
    let down = phase(fused, "db down");
    assert_eq!(dep(&down, "cache").calls, down.offered);
    assert!(dep(&down, "db").calls * 20 < down.offered, "{down:?}");
    assert_eq!(dep(&down, "cache").wasted_calls, 0);
    // The cache fails: nobody reaches the database.
    let cache = phase(none, "cache errors");
    assert_eq!(dep(&cache, "db").calls, 0);
    assert_eq!(dep(&cache, "cache").wasted_calls, cache.offered);
    // The text table says each dependency's part.
    assert!(report.table().contains("db: "), "{}", report.table());
}
