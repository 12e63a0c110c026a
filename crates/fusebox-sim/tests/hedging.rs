//! Hedging against a long tail (issue 16), on the simulator: a dependency
//! whose p99 is about ten times its median (`scenarios/long_tail.toml`)
//! and the same clients hedging at the p95 of their recent latencies
//! (`long_tail_hedged.toml`, the core's `RecentLatency`, hedges paid from
//! the core's `RetryBudget`).
//!
//! The bounds are the issue's: the client p99 cut by at least 2x, at most
//! 10 % more calls. The dependency's own tail is measured on the unhedged
//! run, whose client latency is the dependency's latency.

use std::path::{Path, PathBuf};

use fusebox_sim::{file, simulate, PhaseRow, Scenario};

fn scenario(name: &str) -> Scenario {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    file::read(&dir.join(name))
        .expect("a valid shipped scenario")
        .scenario
}

fn total(s: &Scenario) -> PhaseRow {
    simulate(s, &[])
        .expect("runs")
        .run("none")
        .expect("the unprotected run")
        .total
        .clone()
}

#[test]
fn the_tail_is_long_without_hedging() {
    let plain = total(&scenario("long_tail.toml"));
    assert_eq!(plain.hedges, 0);
    assert_eq!(plain.dependency_calls, plain.offered, "one call a request");
    let tail = plain.p99.as_secs_f64() / plain.p50.as_secs_f64();
    eprintln!("p50 {:?}, p99 {:?}: {tail:.1}x", plain.p50, plain.p99);
    assert!(
        (8.0..=13.0).contains(&tail),
        "p99 about 10x p50: {tail:.1}x"
    );
}

#[test]
fn hedging_at_the_p95_cuts_the_p99_at_least_twice_for_at_most_a_tenth_more_calls() {
    let plain = total(&scenario("long_tail.toml"));
    let hedged = total(&scenario("long_tail_hedged.toml"));
    assert_eq!(plain.offered, hedged.offered, "the same arrivals");
    let cut = plain.p99.as_secs_f64() / hedged.p99.as_secs_f64();
    let extra = hedged.dependency_calls as f64 / plain.dependency_calls as f64 - 1.0;
    eprintln!(
        "p99 {:?} -> {:?} ({cut:.2}x), calls {} -> {} (+{:.1}%), hedges {}",
        plain.p99,
        hedged.p99,
        plain.dependency_calls,
        hedged.dependency_calls,
        extra * 100.0,
        hedged.hedges
    );
    assert!(cut >= 2.0, "p99 cut {cut:.2}x");
    assert!(extra <= 0.10, "{:.1}% more calls", extra * 100.0);
    assert_eq!(
        hedged.dependency_calls,
        hedged.offered + hedged.hedges,
        "every hedge is one more call, and only hedges are"
    );
    assert!(hedged.succeeded == hedged.offered, "nothing lost");
    assert!(hedged.p50 <= plain.p50, "the median does not move up");
}

#[test]
fn an_empty_budget_stops_hedges() {
    let mut s = scenario("long_tail_hedged.toml");
    let free = total(&s);
    // A budget of the floor alone: one hedge a second, over 10 s.
    s.load.retry_budget.as_mut().expect("a budget").ratio = 0.0;
    let tight = total(&s);
    eprintln!(
        "hedges: {} with the budget, {} on its floor",
        free.hedges, tight.hedges
    );
    assert!(free.hedges > 3 * tight.hedges);
    // The floor: 1 a second (plus what the window holds at the start).
    assert!(tight.hedges <= 60 + 10, "{} hedges", tight.hedges);
}

#[test]
fn a_fixed_delay_past_every_latency_never_hedges() {
    let mut s = scenario("long_tail_hedged.toml");
    let h = s.load.hedge.as_mut().expect("hedging");
    // A fixed hedge, as the core's `hedge` table writes one: `after`
    // alone (a quantile's keys would be refused).
    (h.quantile, h.initial) = (None, None);
    h.after = Some(std::time::Duration::from_millis(500));
    let r = total(&s);
    assert_eq!(r.hedges, 0);
    assert_eq!(r.dependency_calls, r.offered);
}

/// The hedges of a call are counted across its retries, as a pipeline
/// counts them: the core's retry engine (`Attempts::hedge`) decides for
/// both. Against a dependency that is down, with an immediate hedge and
/// three retries, every call makes exactly `max` hedges, not one per
/// attempt.
#[test]
fn a_call_hedges_at_most_max_times_across_its_retries() {
    let text = |max: u32| {
        format!(
            r#"
duration = "10s"
[load]
open = {{ rate = 100.0 }}
timeout = "1s"
retries = 3
hedge = {{ after = "0ms", max = {max} }}
[dependency]
connections = 64
latency = {{ kind = "constant", value = "5ms" }}
[[episodes]]
name = "down"
start = "0s"
end = "10s"
down = true
"#
        )
    };
    for max in [0, 1, 2] {
        let s = file::parse(&text(max)).expect("a valid scenario").scenario;
        let r = total(&s);
        assert!(r.offered > 500, "{} offered", r.offered);
        assert_eq!(r.attempts, 4 * r.offered, "every call retried 3 times");
        // At most one hedge runs beside an attempt: `max` of the four
        // attempts are hedged.
        assert_eq!(r.hedges, u64::from(max) * r.offered, "max {max}");
    }
}
