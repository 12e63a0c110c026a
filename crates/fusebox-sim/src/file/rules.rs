//! The scenario's rules: what its types do not already say (a duration
//! greater than zero, a share between 0 and 1, an episode inside the run),
//! each named by the field it is about. Where the field is in the text is
//! the core's [`Document`](fusebox::config_file::Document)'s business; the
//! rules of the fusebox config, the retry budget and the hedge are the
//! core's own, asked here and never restated.

use std::time::Duration;

use fusebox::duration::format as show;
use fusebox::error::PathSegment;
use fusebox::{ConfigError, ConfigFile};

use crate::scenario::{Latency, Scenario, Shape};

/// A step of a path: `at!` takes keys and indices alike.
pub(super) trait Step {
    fn step(self) -> PathSegment;
}

impl Step for &'static str {
    fn step(self) -> PathSegment {
        PathSegment::Key(self)
    }
}

impl Step for usize {
    fn step(self) -> PathSegment {
        PathSegment::Index(self)
    }
}

/// A path from the document's root: `at!["episodes", 1, "end"]`.
macro_rules! at {
    ($($seg:expr),* $(,)?) => { vec![$($crate::file::rules::Step::step($seg)),*] };
}

/// A broken rule: the field it names and what is wrong.
pub(super) type Broken = (Vec<PathSegment>, String);

const POSITIVE: &str = "must be greater than zero";

/// Every rule of the scenario that its types do not already enforce
/// (durations cannot be negative, counts are unsigned), in the order of
/// the fields. The fusebox config's rules are the core's.
pub(super) fn rules(s: &Scenario) -> Vec<Broken> {
    let mut out: Vec<Broken> = Vec::new();
    let mut positive = |path: Vec<PathSegment>, d: Duration| {
        if d.is_zero() {
            out.push((path, POSITIVE.to_owned()));
        }
    };
    positive(at!["duration"], s.duration);
    positive(at!["load", "timeout"], s.load.timeout);
    let mut latencies: Vec<(Vec<PathSegment>, Latency)> = Vec::new();
    for (i, d) in s.calls().into_iter().enumerate() {
        if let Some(t) = d.timeout {
            positive(dependency_field(s, i, "timeout"), t);
        }
        latencies.push((dependency_field(s, i, "latency"), d.latency));
        if let Some(st) = d.stragglers {
            let mut path = dependency_field(s, i, "stragglers");
            path.push(Step::step("latency"));
            latencies.push((path, st.latency));
        }
    }
    for (i, e) in s.episodes.iter().enumerate() {
        if let Some(l) = e.extra_latency {
            latencies.push((at!["episodes", i, "extra_latency"], l));
        }
    }
    for (path, l) in &latencies {
        let field = |key: &'static str| {
            let mut p = path.clone();
            p.push(Step::step(key));
            p
        };
        match *l {
            Latency::Constant { value } => positive(field("value"), value),
            Latency::Exponential { mean, .. } => positive(field("mean"), mean),
            Latency::Uniform { max, .. } => positive(field("max"), max),
            Latency::LogNormal { median, .. } => positive(field("median"), median),
        }
    }
    if let Some(open) = &s.load.open {
        if let Shape::Diurnal { period, .. } = open.shape {
            positive(at!["load", "open", "shape", "period"], period);
        }
        for (i, spike) in open.spikes.iter().enumerate() {
            positive(at!["load", "open", "spikes", i, "for"], spike.lasts);
        }
    }
    for (i, e) in s.episodes.iter().enumerate() {
        if let Some(flap) = e.flap {
            positive(at!["episodes", i, "flap", "down_for"], flap.down_for);
            positive(at!["episodes", i, "flap", "up_for"], flap.up_for);
        }
    }

    let mut rule = |ok: bool, path: Vec<PathSegment>, message: String| {
        if !ok {
            out.push((path, message));
        }
    };
    match (&s.load.open, &s.load.closed) {
        (None, None) => rule(
            false,
            at!["load"],
            "needs `open` (arrivals at a rate) or `closed` (a population of clients)".into(),
        ),
        (Some(_), Some(_)) => rule(
            false,
            at!["load", "closed"],
            "`open` and `closed` exclude each other: give one".into(),
        ),
        _ => {}
    }
    if let Some(open) = &s.load.open {
        rule(
            open.rate.is_finite() && open.rate > 0.0,
            at!["load", "open", "rate"],
            format!(
                "must be a finite number greater than zero (is {})",
                open.rate
            ),
        );
        match open.shape {
            Shape::Steady => {}
            Shape::Ramp { to } => rule(
                to.is_finite() && to >= 0.0,
                at!["load", "open", "shape", "to"],
                format!("must be a finite number, at least zero (is {to})"),
            ),
            Shape::Diurnal { amplitude, .. } => rule(
                (0.0..=1.0).contains(&amplitude),
                at!["load", "open", "shape", "amplitude"],
                format!("must be between 0 and 1 (is {amplitude})"),
            ),
        }
        for (i, spike) in open.spikes.iter().enumerate() {
            rule(
                spike.rate.is_finite() && spike.rate > 0.0,
                at!["load", "open", "spikes", i, "rate"],
                format!(
                    "must be a finite number greater than zero (is {})",
                    spike.rate
                ),
            );
        }
    }
    if let Some(b) = &s.load.retry_budget {
        // The core's own check, its rule and its field, placed in the file.
        if let Err(e) = b.budget() {
            rule(
                false,
                within(at!["load", "retry_budget"], "budget", &e),
                format!("{} (is {})", e.rule(), e.value()),
            );
        }
    }
    if let Some(h) = &s.load.hedge {
        // The core's reading of a pipeline's `hedge` table: its shape,
        // then the hedge's own rules.
        match h.hedge() {
            Err(e) => rule(
                false,
                within(at!["load", "hedge"], "hedge", &e),
                e.rule().to_owned(),
            ),
            Ok(hedge) => {
                if let Err(e) = hedge.check() {
                    rule(
                        false,
                        within(at!["load", "hedge"], "hedge", &e),
                        format!("{} (is {})", e.rule(), e.value()),
                    );
                }
            }
        }
    }
    if let Some(closed) = &s.load.closed {
        rule(
            closed.clients >= 1,
            at!["load", "closed", "clients"],
            "must be at least 1".into(),
        );
    }
    match (&s.dependency, s.dependencies.is_empty()) {
        (None, true) => rule(
            false,
            Vec::new(),
            "needs `[dependency]` (what the service calls) or `[[dependencies]]` (several, called in turn)".into(),
        ),
        (Some(_), false) => rule(
            false,
            at!["dependencies"],
            "`dependency` and `dependencies` exclude each other: give one".into(),
        ),
        _ => {}
    }
    let calls = s.calls();
    for (i, d) in calls.iter().enumerate() {
        rule(
            d.connections >= 1,
            dependency_field(s, i, "connections"),
            "must be at least 1".into(),
        );
        if let Some(st) = d.stragglers {
            let mut path = dependency_field(s, i, "stragglers");
            path.push(Step::step("share"));
            rule(
                (0.0..=1.0).contains(&st.share),
                path,
                format!("must be between 0 and 1 (is {})", st.share),
            );
        }
        if let Some(b) = d.thrash_backlog {
            rule(
                b.is_finite() && b > 0.0,
                dependency_field(s, i, "thrash_backlog"),
                format!("must be a finite number greater than zero (is {b})"),
            );
        }
        rule(
            !calls[..i].iter().any(|o| o.name == d.name),
            dependency_field(s, i, "name"),
            format!("must be unique ({:?} is an earlier dependency's)", d.name),
        );
    }
    for (path, l) in latencies {
        let field = |key: &'static str| {
            let mut p = path.clone();
            p.push(Step::step(key));
            p
        };
        match l {
            Latency::Exponential {
                shift,
                max: Some(max),
                ..
            } => rule(
                max >= shift,
                field("max"),
                format!(
                    "must be at least the shift (shift {}, max {})",
                    show(shift),
                    show(max)
                ),
            ),
            Latency::Uniform { min, max } => rule(
                min <= max,
                field("min"),
                format!("must be at most max (min {}, max {})", show(min), show(max)),
            ),
            Latency::LogNormal { median, p99 } => rule(
                p99 >= median,
                field("p99"),
                format!(
                    "must be at least the median (median {}, p99 {})",
                    show(median),
                    show(p99)
                ),
            ),
            _ => {}
        }
    }
    for (i, e) in s.episodes.iter().enumerate() {
        rule(
            !e.name.trim().is_empty(),
            at!["episodes", i, "name"],
            "must not be empty".into(),
        );
        rule(
            e.start < e.end,
            at!["episodes", i, "end"],
            format!(
                "must be after start (start {}, end {})",
                show(e.start),
                show(e.end)
            ),
        );
        rule(
            e.end <= s.duration,
            at!["episodes", i, "end"],
            format!(
                "must be at most the scenario's duration (end {}, duration {})",
                show(e.end),
                show(s.duration)
            ),
        );
        rule(
            (0.0..=1.0).contains(&e.error_rate),
            at!["episodes", i, "error_rate"],
            format!("must be between 0 and 1 (is {})", e.error_rate),
        );
        rule(
            e.latency_multiplier.is_finite() && e.latency_multiplier > 0.0,
            at!["episodes", i, "latency_multiplier"],
            format!(
                "must be a finite number greater than zero (is {})",
                e.latency_multiplier
            ),
        );
        if let Some(c) = e.connections {
            rule(
                c >= 1,
                at!["episodes", i, "connections"],
                "must be at least 1".into(),
            );
        }
        if let Some(name) = &e.dependency {
            let names: Vec<String> = calls.iter().map(|d| format!("{:?}", d.name)).collect();
            rule(
                calls.iter().any(|d| &d.name == name),
                at!["episodes", i, "dependency"],
                format!(
                    "names no dependency of the scenario ({name:?}; it has {})",
                    names.join(", ")
                ),
            );
        }
    }
    out
}

/// The path of `key` in the `i`th dependency a request calls:
/// `dependency.key` or `dependencies[i].key`.
fn dependency_field(s: &Scenario, i: usize, key: &'static str) -> Vec<PathSegment> {
    match (&s.dependency, i) {
        (Some(_), 0) => at!["dependency", key],
        (Some(_), i) => at!["dependencies", i - 1, key],
        (None, i) => at!["dependencies", i, key],
    }
}

/// Each dependency's `fuse` and `valve` must name a fuse and a valve of the
/// scenario's own fusebox config.
pub(super) fn names(s: &Scenario, config: &ConfigFile) -> Vec<Broken> {
    let list = |names: Vec<&String>| -> String {
        if names.is_empty() {
            "it declares none".to_owned()
        } else {
            let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!("it declares {}", names.join(", "))
        }
    };
    let mut out = Vec::new();
    for (i, d) in s.calls().into_iter().enumerate() {
        if let Some(fuse) = &d.fuse {
            if !config.fuses().contains_key(fuse) {
                out.push((
                    dependency_field(s, i, "fuse"),
                    format!(
                        "names no fuse of the fusebox config ({fuse:?}; {})",
                        list(config.fuses().keys().collect())
                    ),
                ));
            }
        }
        if let Some(valve) = &d.valve {
            if !config.valves().contains_key(valve) {
                out.push((
                    dependency_field(s, i, "valve"),
                    format!(
                        "names no valve of the fusebox config ({valve:?}; {})",
                        list(config.valves().keys().collect())
                    ),
                ));
            }
        }
    }
    out
}

/// The path in the file of the field a core error names: its path, its
/// first key (`budget`, `hedge`: the core's name for the table) replaced by
/// `table`, the table's place in the scenario.
fn within(mut table: Vec<PathSegment>, core_name: &str, e: &ConfigError) -> Vec<PathSegment> {
    let rest = match e.path().split_first() {
        Some((PathSegment::Key(k), rest)) if *k == core_name => rest,
        _ => e.path(),
    };
    table.extend_from_slice(rest);
    table
}
