//! A scenario's size is known before it runs: the estimate is what the run
//! then simulates, a scenario past the limit is refused at once with both
//! numbers, and the progress a run reports changes nothing in it.

use std::time::{Duration, Instant};

use fusebox_sim::{estimate, simulate, simulate_observed, Scenario, MAX_REQUESTS};

fn scenario(text: &str) -> Scenario {
    toml::from_str(text).expect("a valid scenario")
}

const DEPENDENCY: &str = r#"
    [dependency]
    connections = 64
    latency = { kind = "exponential", mean = "5ms" }
"#;

#[test]
fn the_estimate_is_what_the_run_offers() {
    let loads = [
        r#"open = { rate = 200.0 }"#,
        r#"open = { rate = 200.0, arrivals = "periodic" }"#,
        r#"open = { rate = 100.0, shape = { kind = "ramp", to = 400.0 } }"#,
        r#"open = { rate = 200.0, shape = { kind = "diurnal", amplitude = 0.8, period = "7m" } }"#,
        r#"open = { rate = 100.0, spikes = [{ at = "100s", for = "30s", rate = 900.0 }, { at = "590s", for = "60s", rate = 500.0 }] }"#,
        r#"closed = { clients = 20, think = "95ms" }"#,
    ];
    for load in loads {
        let s = scenario(&format!(
            "duration = \"600s\"\n[load]\n{load}\ntimeout = \"1s\"\n{DEPENDENCY}"
        ));
        let want = estimate(&s) as f64;
        let got = simulate(&s, &[]).expect("runs").runs[0].total.offered as f64;
        eprintln!("{load}: estimated {want}, offered {got}");
        // Poisson noise on about 100,000 arrivals is 0.3 %; a closed
        // loop's cycle is estimated from the healthy latency, not queues.
        assert!(
            (got - want).abs() <= 0.02 * want,
            "{load}: estimated {want}, offered {got}"
        );
    }
}

#[test]
fn a_scenario_past_the_limit_is_refused_before_it_runs_naming_its_estimate() {
    // The issue's: 10,000 hours at a billion requests a second.
    let s = scenario(&format!(
        "duration = \"10000h\"\n[load]\nopen = {{ rate = 1e9 }}\ntimeout = \"1s\"\n{DEPENDENCY}"
    ));
    let started = Instant::now();
    let e = simulate(&s, &[]).expect_err("too large");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );
    let t = e.too_large().expect("refused for its size");
    assert_eq!(t.estimated, 36_000_000_000_000_000);
    assert_eq!(t.limit, MAX_REQUESTS);
    assert_eq!(
        e.to_string(),
        "the scenario is too large to simulate: about 36,000,000,000,000,000 client requests \
         estimated, over the limit of 10,000,000,000 a run (shorten `duration` or lower the load)"
    );
    // Just past the limit, and just under it (estimated, not run).
    let over = scenario(&format!(
        "duration = \"10000001s\"\n[load]\nopen = {{ rate = 1000.0 }}\ntimeout = \"1s\"\n{DEPENDENCY}"
    ));
    assert_eq!(estimate(&over), MAX_REQUESTS + 1_000);
    assert!(simulate(&over, &[]).unwrap_err().too_large().is_some());
    let under = scenario(&format!(
        "duration = \"10000000s\"\n[load]\nopen = {{ rate = 1000.0 }}\ntimeout = \"1s\"\n{DEPENDENCY}"
    ));
    assert_eq!(estimate(&under), MAX_REQUESTS);
    // The logged and regulated runs are refused too.
    assert!(fusebox_sim::run_logged(&s, "none", None)
        .unwrap_err()
        .too_large()
        .is_some());
    // A closed loop whose clients never wait would never end.
    let spin = scenario(
        "duration = \"1s\"\n[load]\nclosed = { clients = 1, think = \"0s\" }\ntimeout = \"1s\"\n\
         [dependency]\nconnections = 1\nlatency = { kind = \"constant\", value = \"0s\" }\n",
    );
    assert_eq!(estimate(&spin), u64::MAX);
    assert!(simulate(&spin, &[]).unwrap_err().too_large().is_some());
}

#[test]
fn progress_is_told_in_order_and_changes_nothing() {
    let s = scenario(&format!(
        "duration = \"300s\"\n[load]\nopen = {{ rate = 1000.0 }}\ntimeout = \"1s\"\n{DEPENDENCY}"
    ));
    let cfg = fusebox::ConfigFile::parse(
        "[fuses.db]\nstrategy = { kind = \"consecutive\", failures = 5 }\nheal = { steps = [{ delay = \"10s\" }] }\n",
    )
    .expect("a valid config");
    let configs = [("fused".to_owned(), cfg)];
    let mut seen: Vec<(usize, Duration, u64)> = Vec::new();
    let observed = simulate_observed(&s, &configs, |p| {
        assert_eq!(p.runs, 2);
        assert_eq!(p.estimated, 300_000);
        assert_eq!(p.duration, s.duration);
        assert_eq!(p.config, ["none", "fused"][p.run]);
        assert!((0.0..=1.0).contains(&p.done()));
        seen.push((p.run, p.simulated, p.requests));
    })
    .expect("runs");
    assert_eq!(observed, simulate(&s, &configs).expect("runs"));
    assert!(seen.len() >= 4, "{} reports", seen.len());
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "in order: run, virtual time, requests"
    );
    assert!(seen.iter().any(|p| p.0 == 1), "both runs report");
}
