//! The demo on virtual time: the same story told by the simulator
//! (`fusebox-sim`) in a second or two instead of a minute.
//!
//! The real-time demo is what a person watches (the dashboard moves); this
//! is what a machine checks and what a protection algorithm is tuned on.
//! Both must tell the same story, so nothing here is a second model of the
//! demo: the simulator's scenario is built from the same [`Scenario`], with
//! the database as `database.rs` describes it (2 ms plus an exponential tail
//! of mean 3 ms cut at 17 ms in all, a thrash factor `1 + waiting / backlog`,
//! errors after 1 ms, the slow episode adding 800 ms ±10 %), arrivals on a
//! 5 ms ticker as the load generator's, and the protected run's fuse and
//! valve written as the `fusebox.toml` the real run installs in code. Each
//! simulated client request becomes the same [`Sample`] the real run
//! records, and the same [`summarize`](crate::summary::summarize) makes the
//! table, so every row means the same thing in both.

use std::io;
use std::time::Duration;

use fusebox::ConfigFile;
use fusebox_sim::scenario::{
    Arrivals, Dependency, Episode, ErrorPattern, Latency, Load, Objective, OpenLoad, Shape,
};
use fusebox_sim::{ClientRequest, End};

use crate::protection::DB;
use crate::scenario::Scenario;
use crate::summary::{summarize, Counts, RunSummary, Sample};

/// The simulator's scenario of a demo run.
pub(crate) fn scenario(s: &Scenario) -> fusebox_sim::Scenario {
    let episode = |name: &str, start, end| Episode {
        name: name.to_owned(),
        dependency: None,
        start,
        end,
        error_rate: 0.0,
        latency_multiplier: 1.0,
        extra_latency: None,
        error_latency: None,
        connections: None,
        down: false,
        down_after: Duration::from_millis(1),
        flap: None,
        error_pattern: ErrorPattern::Random,
    };
    fusebox_sim::Scenario {
        description: "fusebox demo, on virtual time".to_owned(),
        seed: s.seed,
        duration: s.run,
        load: Load {
            open: Some(OpenLoad {
                rate: f64::from(s.rate),
                shape: Shape::Steady,
                arrivals: Arrivals::Periodic,
                spikes: Vec::new(),
            }),
            closed: None,
            timeout: s.timeout,
            retries: 0,
            retry_after: Duration::ZERO,
            retry_budget: None,
            retry_refusals: true,
            hedge: None,
            pipeline: None,
        },
        dependency: Some(Dependency {
            name: "database".to_owned(),
            connections: s.capacity as u32,
            latency: Latency::Exponential {
                mean: Duration::from_millis(3),
                shift: Duration::from_millis(2),
                max: Some(crate::scenario::LONGEST_HEALTHY_QUERY),
            },
            timeout: Some(s.timeout),
            fuse: Some(DB.to_owned()),
            valve: Some(DB.to_owned()),
            thrash_backlog: Some(s.thrash_backlog),
            stragglers: None,
        }),
        dependencies: Vec::new(),
        episodes: vec![
            Episode {
                error_rate: s.error_share,
                error_pattern: ErrorPattern::Even,
                error_latency: Some(Duration::from_millis(1)),
                ..episode("errors", s.errors_start, s.slow_start)
            },
            Episode {
                extra_latency: Some(Latency::Uniform {
                    min: s.slow_latency.mul_f64(0.9),
                    max: s.slow_latency.mul_f64(1.1),
                }),
                ..episode("slow", s.slow_start, s.slow_end)
            },
        ],
        objective: Objective::ClientErrors,
    }
}

/// Both halves of the demo on virtual time: unprotected, then protected.
pub(crate) fn runs(s: &Scenario) -> io::Result<(RunSummary, RunSummary)> {
    let sim = scenario(s);
    let config = crate::protection::config(s)?;
    let one = |label: &'static str, config: Option<&ConfigFile>| -> io::Result<RunSummary> {
        let (_, log) = fusebox_sim::run_logged(&sim, label, config).map_err(io::Error::other)?;
        Ok(summary(label, s, &log))
    };
    Ok((one("unprotected", None)?, one("protected", Some(&config))?))
}

/// The real run's summary of the simulated requests.
fn summary(label: &'static str, s: &Scenario, log: &[ClientRequest]) -> RunSummary {
    let mut counts = Counts::default();
    let mut samples: Vec<Sample> = Vec::with_capacity(log.len());
    for r in log {
        let failed = matches!(r.end, End::Failed | End::TimedOut);
        counts.db_calls += u64::from(r.called);
        // As `run::request` counts them: a failed or timed-out database
        // call of a request that arrived during an episode.
        let wasted = r.called && failed && s.in_episode(r.at);
        counts.wasted_calls += u64::from(wasted);
        counts.refused += u64::from(matches!(r.end, End::Refused(_)));
        counts.timeouts += u64::from(r.end == End::TimedOut);
        samples.push(Sample {
            at: r.at,
            latency: r.latency,
            ok: r.end == End::Succeeded,
            wasted,
        });
    }
    samples.sort_by_key(|x| x.at);
    summarize(label, s, &samples, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_is_the_demos() {
        let s = Scenario::for_run(Duration::from_secs(30));
        let sim = scenario(&s);
        let phases: Vec<_> = sim.phases().into_iter().map(|p| p.0).collect();
        assert_eq!(phases, ["healthy", "errors", "slow", "recovered"]);
        assert_eq!(sim.episodes[1].start, s.slow_start);
        assert_eq!(sim.duration, s.run);
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// `fusebox-sim`'s `scenarios/demo.toml` is this scenario, written down.
    #[test]
    fn the_shipped_demo_scenario_is_this_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fusebox-sim/scenarios/demo.toml");
        let file = fusebox_sim::file::read(&path).expect("demo.toml reads");
        let s = Scenario::for_run(crate::REFERENCE_RUN);
        let mut ours = scenario(&s);
        ours.description = file.scenario.description.clone();
        assert_eq!(file.scenario, ours);
        let cfg = crate::protection::config(&s).unwrap();
        let shipped = file.fusebox.expect("demo.toml has a fusebox config");
        assert_eq!(shipped.fuses(), cfg.fuses());
        assert_eq!(shipped.valves(), cfg.valves());
    }
}
