//! An independent oracle: an M/M/c queue (Poisson arrivals, exponential
//! service, `c` connections, no fusebox, no timeout) simulated on virtual
//! time must match the Erlang C formula's probability of waiting and mean
//! wait (Erlang 1917; e.g. Kleinrock, Queueing Systems I, 1975, §3.5) within
//! 5 % at three loads.

use std::time::Duration;

use fusebox_sim::{simulate, Scenario};

/// Erlang C: the probability that an arrival waits, for `c` servers and
/// offered load `a = λ/μ` (in erlangs, `a < c`).
fn erlang_c(c: u32, a: f64) -> f64 {
    // Terms a^k / k! summed for k < c, then the a^c / c! term.
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let top = term * f64::from(c) / (f64::from(c) - a);
    top / (sum + top)
}

fn scenario(c: u32, rho: f64, mean_service: Duration, duration: Duration, seed: u64) -> Scenario {
    let mu = 1.0 / mean_service.as_secs_f64();
    let lambda = rho * f64::from(c) * mu;
    toml::from_str(&format!(
        r#"
        seed = {seed}
        duration = "{}s"
        [load]
        open = {{ rate = {lambda} }}
        timeout = "1h"
        [dependency]
        connections = {c}
        latency = {{ kind = "exponential", mean = "{}us" }}
        "#,
        duration.as_secs(),
        mean_service.as_micros(),
    ))
    .expect("a valid scenario")
}

#[test]
fn mmc_matches_erlang_c_at_three_loads() {
    let c = 4;
    let service = Duration::from_millis(10);
    // Enough requests for 5%: the wait's autocorrelation grows as the load
    // nears 1, so the busiest load runs longest.
    for (rho, secs) in [(0.5, 2_000u64), (0.8, 3_000), (0.95, 12_000)] {
        let s = scenario(c, rho, service, Duration::from_secs(secs), 11);
        let report = simulate(&s, &[]).expect("runs");
        let t = &report.runs[0].total;
        let served = t.dependency_calls as f64;
        let a = rho * f64::from(c);
        let pw = erlang_c(c, a);
        let mu = 1.0 / service.as_secs_f64();
        let wq = pw / (f64::from(c) * mu - a * mu);
        let got_pw = t.dependency_queued as f64 / served;
        let got_wq = t.dependency_wait.as_secs_f64();
        eprintln!(
            "rho {rho}: {served} calls, P(wait) {got_pw:.4} vs {pw:.4}, Wq {:.3} ms vs {:.3} ms",
            got_wq * 1e3,
            wq * 1e3
        );
        assert!(
            (got_pw - pw).abs() / pw < 0.05,
            "rho {rho}: P(wait) {got_pw} vs Erlang C {pw}"
        );
        assert!(
            (got_wq - wq).abs() / wq < 0.05,
            "rho {rho}: Wq {got_wq} vs Erlang C {wq}"
        );
    }
}

#[test]
fn the_formula_itself() {
    // One server: Erlang C is the utilisation (M/M/1 waits with probability rho).
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    // A textbook value: c = 2, a = 1 (rho 0.5): C = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
}
