//! From the requests of one run to the figures of the comparison: latency
//! percentiles, errors, wasted calls, time to recover, and the per-bucket
//! series the charts draw.

use std::time::Duration;

use crate::scenario::{Phase, Scenario};

/// One request as its client saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When it arrived, from the start of the run.
    pub(crate) at: Duration,
    /// How long the client waited for the answer.
    pub(crate) latency: Duration,
    /// Whether the answer was a success.
    pub(crate) ok: bool,
    /// Whether its database call was wasted (failed or timed out during an
    /// episode).
    pub(crate) wasted: bool,
}

/// Counts kept by the service while a run goes on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) db_calls: u64,
    pub(crate) wasted_calls: u64,
    pub(crate) refused: u64,
    pub(crate) timeouts: u64,
}

/// The figures of one run, as seen by the service's clients.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RunSummary {
    /// `"unprotected"` or `"protected"`.
    pub label: &'static str,
    /// Requests sent by the load generator.
    pub requests: u64,
    /// Median latency seen by clients (successes and errors alike).
    pub p50: Duration,
    /// 99th percentile latency seen by clients.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// Requests answered with an error (database error, timeout or refusal).
    pub client_errors: u64,
    /// Calls made to the database during the error and slow episodes that
    /// failed or timed out: work spent on a dependency that was down.
    pub wasted_calls: u64,
    /// Every call that reached the database.
    pub db_calls: u64,
    /// Requests refused at once by the fuse or the valve (0 unprotected).
    pub refused: u64,
    /// Requests whose database call hit the client-side timeout.
    pub timeouts: u64,
    /// From the end of the slow episode until the clients' success rate stayed
    /// at 99% or more for a (scaled) second; `None` if it never did in the run.
    pub time_to_recover: Option<Duration>,
    /// Per chart bucket (1 s scaled), by arrival time.
    pub buckets: Vec<Bucket>,
    /// Phase by phase, by arrival time.
    pub phases: Vec<PhaseFigures>,
}

/// What the clients saw of the requests that arrived in one phase.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PhaseFigures {
    /// The phase.
    pub phase: Phase,
    /// Requests that arrived in it.
    pub requests: u64,
    /// Of those, the ones answered with success.
    pub succeeded: u64,
    /// The others.
    pub client_errors: u64,
    /// Their wasted database calls.
    pub wasted_calls: u64,
    /// 99th percentile latency of all of them.
    pub p99: Duration,
    /// 99th percentile latency of the ones that succeeded.
    pub p99_served: Duration,
}

pub use fusebox_sim::report::Bucket;

/// The `q` quantile of sorted values (nearest rank).
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn summarize(
    label: &'static str,
    scenario: &Scenario,
    samples: &[Sample],
    counts: Counts,
) -> RunSummary {
    let mut lat: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    lat.sort_unstable();
    RunSummary {
        label,
        requests: samples.len() as u64,
        p50: quantile(&lat, 0.50),
        p99: quantile(&lat, 0.99),
        max: lat.last().copied().unwrap_or_default(),
        client_errors: samples.iter().filter(|s| !s.ok).count() as u64,
        wasted_calls: counts.wasted_calls,
        db_calls: counts.db_calls,
        refused: counts.refused,
        timeouts: counts.timeouts,
        time_to_recover: time_to_recover(scenario, samples),
        buckets: buckets(scenario, samples),
        phases: Phase::ALL
            .iter()
            .map(|&phase| phase_figures(phase, scenario, samples))
            .collect(),
    }
}

fn phase_figures(phase: Phase, scenario: &Scenario, samples: &[Sample]) -> PhaseFigures {
    let mine: Vec<&Sample> = samples
        .iter()
        .filter(|x| scenario.phase(x.at) == phase)
        .collect();
    let mut all: Vec<Duration> = mine.iter().map(|x| x.latency).collect();
    let mut served: Vec<Duration> = mine.iter().filter(|x| x.ok).map(|x| x.latency).collect();
    all.sort_unstable();
    served.sort_unstable();
    PhaseFigures {
        phase,
        requests: mine.len() as u64,
        succeeded: served.len() as u64,
        client_errors: (mine.len() - served.len()) as u64,
        wasted_calls: mine.iter().filter(|x| x.wasted).count() as u64,
        p99: quantile(&all, 0.99),
        p99_served: quantile(&served, 0.99),
    }
}

fn buckets(scenario: &Scenario, samples: &[Sample]) -> Vec<Bucket> {
    let width = scenario.bucket.max(Duration::from_millis(1));
    let n = (scenario.run.as_nanos().div_ceil(width.as_nanos())) as usize;
    let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); n];
    let mut errors = vec![0u64; n];
    for s in samples {
        let i = ((s.at.as_nanos() / width.as_nanos()) as usize).min(n - 1);
        lat[i].push(s.latency);
        errors[i] += u64::from(!s.ok);
    }
    lat.into_iter()
        .zip(errors)
        .enumerate()
        .map(|(i, (mut l, errors))| {
            l.sort_unstable();
            Bucket::new(width * i as u32, l.len() as u64, errors, quantile(&l, 0.99))
        })
        .collect()
}

/// The first instant from the end of the slow episode on (in steps of a
/// tenth of the recovery window) where the requests arriving during the next
/// recovery window succeeded at 99% or more.
fn time_to_recover(scenario: &Scenario, samples: &[Sample]) -> Option<Duration> {
    let step = (scenario.recovery_window / 10).max(Duration::from_micros(100));
    let n = (scenario.run.as_nanos() / step.as_nanos()) as usize;
    let mut ok = vec![0u64; n + 1];
    let mut all = vec![0u64; n + 1];
    for s in samples {
        let i = ((s.at.as_nanos() / step.as_nanos()) as usize).min(n);
        all[i] += 1;
        ok[i] += u64::from(s.ok);
    }
    let first = scenario.slow_end.as_nanos().div_ceil(step.as_nanos()) as usize;
    (first..n.saturating_sub(9)).find_map(|k| {
        let total: u64 = all[k..k + 10].iter().sum();
        let good: u64 = ok[k..k + 10].iter().sum();
        (total > 0 && good as f64 >= 0.99 * total as f64)
            .then(|| (step * k as u32).saturating_sub(scenario.slow_end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn recovery_is_measured_from_the_end_of_the_episode() {
        let s = Scenario::for_run(Duration::from_secs(30));
        // One request per 10 ms; failures until 2 s after the slow episode.
        let samples: Vec<Sample> = (0..3000)
            .map(|i| {
                let at = Duration::from_millis(10 * i);
                let ok = at < s.errors_start || at >= s.slow_end + Duration::from_secs(2);
                Sample {
                    at,
                    latency: Duration::from_millis(5),
                    ok,
                    wasted: false,
                }
            })
            .collect();
        let ttr = time_to_recover(&s, &samples).unwrap();
        assert_eq!(ttr, Duration::from_secs(2));
        let sum = summarize("x", &s, &samples, Counts::default());
        assert_eq!(sum.buckets.len(), 30);
        assert_eq!(sum.buckets[10].error_rate(), 1.0);
    }
}
