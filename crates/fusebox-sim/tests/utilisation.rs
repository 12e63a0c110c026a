//! Utilisation is the offered load, whatever the clients' timeout.
//!
//! An M/M/c queue (Poisson arrivals at λ, exponential service of mean S,
//! c connections, nothing lost: a call whose client gave up goes on at the
//! dependency) keeps its connections busy `ρ = λ·S / c` of the time, the
//! offered erlangs over the connections (Little's law on the servers;
//! Kleinrock, Queueing Systems I, 1975, §3.5). The report's utilisation
//! must be that within 1 % (relative) for any client timeout: shorter than
//! the service (every client gives up, the work goes on), ordinary, or an
//! hour (the loop then runs an hour past the end, firing stale timeouts,
//! and that drain once counted as idle capacity: 7 % busy at ρ = 0.5).
//!
//! The statistical error of the measured utilisation is that of the work
//! offered: with N calls, a relative standard deviation of √(2/N) (a
//! compound Poisson sum of exponentials). 400,000 calls make it 0.22 %, so
//! 1 % is more than four of them; the seeds are fixed, so each case is the
//! same run every time.

use std::time::Duration;

use fusebox_sim::{simulate, Scenario};

fn mmc(c: u32, rho: f64, service: Duration, calls: f64, timeout: &str, seed: u64) -> Scenario {
    let lambda = rho * f64::from(c) / service.as_secs_f64();
    let secs = (calls / lambda).ceil();
    toml::from_str(&format!(
        r#"
        seed = {seed}
        duration = "{secs}s"
        [load]
        open = {{ rate = {lambda} }}
        timeout = "{timeout}"
        [dependency]
        connections = {c}
        latency = {{ kind = "exponential", mean = "{}us" }}
        "#,
        service.as_micros(),
    ))
    .expect("a valid scenario")
}

#[test]
fn utilisation_is_offered_erlangs_over_connections_for_any_timeout() {
    let service = Duration::from_millis(10);
    for (c, rho) in [(4, 0.5), (2, 0.8)] {
        for timeout in ["5ms", "2s", "1h"] {
            for seed in [11, 12] {
                let s = mmc(c, rho, service, 400_000.0, timeout, seed);
                let report = simulate(&s, &[]).expect("runs");
                let t = &report.runs[0].total;
                let got = t.utilisation;
                eprintln!(
                    "c {c}, rho {rho}, timeout {timeout}, seed {seed}: {} calls, utilisation {got:.4}",
                    t.dependency_calls
                );
                assert!(
                    (got - rho).abs() <= 0.01 * rho,
                    "c {c}, rho {rho}, timeout {timeout}, seed {seed}: utilisation {got} vs offered {rho}"
                );
                // One phase: its row is the total's.
                assert_eq!(report.runs[0].phases[0].utilisation, got);
            }
        }
    }
}

/// Per phase too: a capacity drop halves the connections for a stretch,
/// and each phase's utilisation is the load over the connections it had,
/// the last phase (which the drain after the run once diluted) included.
#[test]
fn each_phase_is_busy_by_its_own_connections() {
    let s: Scenario = toml::from_str(
        r#"
        seed = 5
        duration = "3000s"
        [load]
        open = { rate = 150.0 }
        timeout = "1h"
        [dependency]
        connections = 8
        latency = { kind = "exponential", mean = "10ms" }
        [[episodes]]
        name = "drop"
        start = "1000s"
        end = "2000s"
        connections = 4
        "#,
    )
    .expect("a valid scenario");
    let report = simulate(&s, &[]).expect("runs");
    let run = &report.runs[0];
    let names: Vec<&str> = run.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(names, ["healthy", "drop", "recovered"]);
    // 150/s x 10 ms = 1.5 erlangs: over 8 connections, then 4, then 8.
    for (phase, want) in run.phases.iter().zip([1.5 / 8.0, 1.5 / 4.0, 1.5 / 8.0]) {
        eprintln!("{}: {:.4} vs {want:.4}", phase.phase, phase.utilisation);
        // 150,000 calls a phase: sd 0.37 %, so 2 % is over five of them.
        assert!(
            (phase.utilisation - want).abs() <= 0.02 * want,
            "{}: {} vs {want}",
            phase.phase,
            phase.utilisation
        );
    }
}
