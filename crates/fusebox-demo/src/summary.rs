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

/// The first instant from the end of the slow episode on where the requests
/// arriving during the next recovery window (that window inside the run)
/// succeeded at 99% or more, as a time since the end of the episode.
///
/// The instants tried are the end of the episode and the arrival of every
/// request after it that succeeded (a streak starts with a success), so
/// the figure is as fine as the arrivals (5 ms at 200 requests a second),
/// not rounded up to a grid: on a grid of a tenth of a window (100 ms), a
/// recovery 2 ms later reads 100 ms later, and a real clock's few
/// milliseconds of timer lateness flip the verdict.
pub(crate) fn time_to_recover(scenario: &Scenario, samples: &[Sample]) -> Option<Duration> {
    let end = scenario.slow_end;
    let window = scenario.recovery_window;
    let mut after: Vec<(Duration, bool)> = samples
        .iter()
        .filter(|x| x.at >= end)
        .map(|x| (x.at, x.ok))
        .collect();
    after.sort_unstable_by_key(|x| x.0);
    // good[i]: successes among the first i arrivals after the episode.
    let mut good = Vec::with_capacity(after.len() + 1);
    good.push(0u64);
    for &(_, ok) in &after {
        good.push(good[good.len() - 1] + u64::from(ok));
    }
    std::iter::once(end)
        .chain(after.iter().filter(|x| x.1).map(|x| x.0))
        .take_while(|&t| t + window <= scenario.run)
        .find(|&t| {
            let from = after.partition_point(|x| x.0 < t);
            let to = after.partition_point(|x| x.0 < t + window);
            let total = (to - from) as u64;
            let ok = good[to] - good[from];
            total > 0 && ok as f64 >= 0.99 * total as f64
        })
        .map(|t| t - end)
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

    /// Requests every `every` from the start of the run; those arriving in
    /// `failing` fail.
    fn arrivals(s: &Scenario, every: Duration, failing: &[(Duration, Duration)]) -> Vec<Sample> {
        let n = (s.run.as_nanos() / every.as_nanos()) as u32;
        (0..n)
            .map(|i| {
                let at = every * i;
                Sample {
                    at,
                    latency: Duration::from_millis(5),
                    ok: !failing.iter().any(|&(a, b)| a <= at && at < b),
                    wasted: false,
                }
            })
            .collect()
    }

    #[test]
    fn recovery_is_as_fine_as_the_arrivals() {
        let s = Scenario::for_run(Duration::from_secs(30));
        let ms = Duration::from_millis;
        // The last failure arrives 100 ms after the end (on a 5 ms grid of
        // arrivals): recovered from the next arrival, 105 ms, not 200 ms.
        let failing = [(s.errors_start, s.slow_end + ms(101))];
        let samples = arrivals(&s, ms(5), &failing);
        assert_eq!(time_to_recover(&s, &samples), Some(ms(105)));
        // 2 failures in the next window are 1% of 200: still recovered.
        let failing = [
            (s.errors_start, s.slow_end + ms(33)),
            (s.slow_end + ms(500), s.slow_end + ms(510)),
        ];
        let samples = arrivals(&s, ms(5), &failing);
        assert_eq!(time_to_recover(&s, &samples), Some(ms(35)));
        // 3 are not: recovered from the first success after them.
        let failing = [
            (s.errors_start, s.slow_end + ms(33)),
            (s.slow_end + ms(500), s.slow_end + ms(515)),
        ];
        let samples = arrivals(&s, ms(5), &failing);
        assert_eq!(time_to_recover(&s, &samples), Some(ms(515)));
        // Healthy at once.
        let samples = arrivals(&s, ms(5), &[(s.errors_start, s.slow_end)]);
        assert_eq!(time_to_recover(&s, &samples), Some(Duration::ZERO));
        // Failing until no full window is left in the run.
        let samples = arrivals(&s, ms(5), &[(s.errors_start, s.run - ms(900))]);
        assert_eq!(time_to_recover(&s, &samples), None);
    }

    /// The definition, read literally: every instant tried (the end of the
    /// episode, then each success after it, in order), the window's
    /// requests counted one by one.
    fn naive(s: &Scenario, samples: &[Sample]) -> Option<Duration> {
        let mut tried: Vec<Duration> = samples
            .iter()
            .filter(|x| x.ok && x.at >= s.slow_end)
            .map(|x| x.at)
            .collect();
        tried.push(s.slow_end);
        tried.sort_unstable();
        tried.into_iter().find_map(|t| {
            if t + s.recovery_window > s.run {
                return None;
            }
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|x| x.at >= t && x.at < t + s.recovery_window)
                .collect();
            let ok = inside.iter().filter(|x| x.ok).count();
            (!inside.is_empty() && ok as f64 >= 0.99 * inside.len() as f64).then(|| t - s.slow_end)
        })
    }

    proptest::proptest! {
        #[test]
        fn recovery_agrees_with_the_definition(
            run_ms in 1_000u64..4_000,
            raw in proptest::collection::vec((0u64..4_000, 0u8..100), 0..400),
            fail_percent in 0u8..100,
        ) {
            let s = Scenario::for_run(Duration::from_millis(run_ms));
            // Arrivals in any order, some at one instant, some failing.
            let samples: Vec<Sample> = raw
                .iter()
                .map(|&(at, die)| Sample {
                    at: Duration::from_millis(at % run_ms),
                    latency: Duration::from_millis(1),
                    ok: die >= fail_percent,
                    wasted: false,
                })
                .collect();
            proptest::prop_assert_eq!(time_to_recover(&s, &samples), naive(&s, &samples));
        }
    }
}
