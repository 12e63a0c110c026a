//! The report's streamed quantiles against the exact ones.
//!
//! A run keeps no latencies (its memory must not grow with its requests):
//! p50, p99 and each chart bucket's p99 come from histograms, within the
//! stated relative error `QUANTILE_ERROR`. Here the oracle keeps them all:
//! `run_logged` hands back every client request, the exact nearest-rank
//! quantiles of their latencies (in whole microseconds, rounded up, as the
//! report counts them) are computed by sorting, and every quantile of the
//! report, phase by phase, the whole run and bucket by bucket, must be at
//! least the exact one and less than `QUANTILE_ERROR` of it above (equal
//! below 2,048 µs); the mean and the max must be exact.

use std::time::Duration;

use fusebox_sim::{run_logged, ClientRequest, Scenario, QUANTILE_ERROR};

/// Whole microseconds, rounded up, as the report counts a latency.
fn us(r: &ClientRequest) -> u64 {
    r.latency.as_nanos().div_ceil(1_000) as u64
}

/// The exact nearest-rank quantile of `sorted`.
fn exact(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn within(what: &str, got: Duration, want: u64) {
    let got = got.as_micros() as u64;
    assert!(got >= want, "{what}: {got} µs below the exact {want} µs");
    if want < 2_048 {
        assert_eq!(got, want, "{what}: exact below 2,048 µs");
    } else {
        assert!(
            ((got - want) as f64) < want as f64 * QUANTILE_ERROR,
            "{what}: {got} µs vs the exact {want} µs, past {QUANTILE_ERROR}"
        );
    }
}

fn check(s: &Scenario) {
    let (run, log) = run_logged(s, "none", None).expect("runs");
    assert_eq!(log.len() as u64, run.total.offered);
    let phases = run.phases.iter().map(|p| (p, p.start, p.end));
    let whole = std::iter::once((&run.total, Duration::ZERO, s.duration));
    let mut checked = 0;
    for (row, start, end) in phases.chain(whole) {
        let mut lat: Vec<u64> = log
            .iter()
            .filter(|r| start <= r.at && r.at < end)
            .map(us)
            .collect();
        lat.sort_unstable();
        assert_eq!(
            lat.len() as u64,
            row.succeeded + row.failed + row.refused.values().sum::<u64>()
        );
        within(&format!("{} p50", row.phase), row.p50, exact(&lat, 0.5));
        within(&format!("{} p99", row.phase), row.p99, exact(&lat, 0.99));
        let sum: u128 = lat.iter().map(|&v| u128::from(v)).sum();
        let mean = if lat.is_empty() {
            0
        } else {
            (sum / lat.len() as u128) as u64
        };
        assert_eq!(row.mean, Duration::from_micros(mean), "{} mean", row.phase);
        assert_eq!(
            row.max,
            Duration::from_micros(lat.last().copied().unwrap_or(0)),
            "{} max",
            row.phase
        );
        checked += usize::from(lat.last().is_some_and(|&m| m >= 2_048));
    }
    for (i, b) in run.buckets.iter().enumerate() {
        let from = run.bucket * i as u32;
        let mut lat: Vec<u64> = log
            .iter()
            .filter(|r| from <= r.at && r.at < from + run.bucket)
            .map(us)
            .collect();
        lat.sort_unstable();
        assert_eq!(lat.len() as u64, b.requests, "bucket {i}");
        within(&format!("bucket {i} p99"), b.p99, exact(&lat, 0.99));
    }
    assert!(
        checked > 0,
        "some latencies past 2,048 µs, where the error is"
    );
}

#[test]
fn streamed_quantiles_are_within_the_stated_error_of_the_exact_ones() {
    // A long tail (log-normal, p99 ten times the median) through a slow
    // spell and an outage: latencies from microseconds to the timeout.
    let s: Scenario = toml::from_str(
        r#"
        seed = 3
        duration = "20m"
        [load]
        open = { rate = 150.0, shape = { kind = "diurnal", amplitude = 0.5, period = "10m" } }
        timeout = "2s"
        retries = 1
        [dependency]
        connections = 16
        latency = { kind = "log_normal", median = "8ms", p99 = "80ms" }
        [[episodes]]
        name = "slow"
        start = "5m"
        end = "8m"
        latency_multiplier = 6.0
        [[episodes]]
        name = "down"
        start = "12m"
        end = "13m"
        down = true
        "#,
    )
    .expect("a valid scenario");
    check(&s);
}

#[test]
fn sub_millisecond_latencies_are_exact() {
    let s: Scenario = toml::from_str(
        r#"
        seed = 9
        duration = "5m"
        [load]
        open = { rate = 400.0 }
        timeout = "1s"
        [dependency]
        connections = 4
        latency = { kind = "exponential", mean = "400us", shift = "50us" }
        "#,
    )
    .expect("a valid scenario");
    check(&s);
}
