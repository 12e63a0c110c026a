//! Scenario files from outside: every malformed scenario is refused with the
//! line, column and field of its mistake; no text makes the parser panic;
//! a config error inside `[fusebox]` is placed as the same config standing
//! alone in `fusebox.toml` would be, in the scenario's lines; the shipped
//! scenarios all parse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fusebox::ConfigFile;
use fusebox_sim::file::{self, ScenarioError};
use fusebox_sim::scenario::{Latency, Shape};
use fusebox_sim::Scenario;
use proptest::prelude::*;

/// A valid scenario using most keys; the malformed ones change one line.
/// Lines 36 to 43 are the fusebox config.
const BASE: &str = r#"description = "base"
seed = 7
duration = "60s"
objective = "client_errors"

[load]
timeout = "1s"
retries = 1
retry_after = "100ms"

[load.open]
rate = 100.0
shape = { kind = "diurnal", amplitude = 0.5, period = "30s" }
spikes = [{ at = "10s", for = "5s", rate = 50.0 }]

[dependency]
name = "db"
connections = 8
latency = { kind = "log_normal", median = "4ms", p99 = "16ms" }
timeout = "500ms"
fuse = "db"
valve = "db"

[[episodes]]
name = "errors"
start = "10s"
end = "20s"
error_rate = 0.9

[[episodes]]
name = "flap"
start = "30s"
end = "50s"
flap = { down_for = "2s", up_for = "3s" }

[fusebox.fuses.db]
strategy = { kind = "failure_rate", ratio = 0.5, window = "1s", min_calls = 20 }
heal = { steps = [{ delay = "1s" }, { probe = 1 }] }

[fusebox.valves.db]
concurrency = 8
queue = 16
guard = "db"
"#;

/// The first line of the fusebox config in `BASE`.
const FUSEBOX_LINE: usize = 36;

/// `BASE` with line `n` (from 1) replaced by `new` (which may hold several
/// lines, or none).
fn with(n: usize, new: &str) -> String {
    edit(BASE, n, n, new)
}

/// `text` with lines `from..=to` replaced by `new`.
fn edit(text: &str, from: usize, to: usize, new: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if n == from && !new.is_empty() {
            out.push_str(new);
            out.push('\n');
        }
        if n < from || n > to {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `BASE` without its fusebox config.
fn base_without_fusebox() -> String {
    BASE.lines()
        .take(FUSEBOX_LINE - 2)
        .map(|l| format!("{l}\n"))
        .collect()
}

fn refused(text: &str) -> ScenarioError {
    match file::parse(text) {
        Ok(f) => panic!("accepted:\n{text}\nas {:?}", f.scenario),
        Err(e) => e,
    }
}

/// The error's line, column and field, and that its message contains
/// `message`.
#[track_caller]
fn check(text: &str, (line, column, field): (usize, usize, &str), message: &str) {
    let e = refused(text);
    assert_eq!(
        (e.line(), e.column(), e.field()),
        (line, column, field),
        "for {e}"
    );
    assert!(
        e.message().contains(message),
        "{:?} lacks {message:?}",
        e.message()
    );
    assert!(e.file().is_none());
    assert_eq!(
        e.to_string(),
        format!("{line}:{column}: {field}: {}", e.message())
    );
}

#[test]
fn the_base_scenario_is_valid() {
    let f = file::parse(BASE).unwrap();
    let s = &f.scenario;
    assert_eq!(s.seed, 7);
    assert_eq!(s.duration, Duration::from_secs(60));
    assert_eq!(
        s.load.open.as_ref().unwrap().shape,
        Shape::Diurnal {
            amplitude: 0.5,
            period: Duration::from_secs(30)
        }
    );
    assert_eq!(
        s.calls()[0].latency,
        Latency::LogNormal {
            median: Duration::from_millis(4),
            p99: Duration::from_millis(16)
        }
    );
    assert_eq!(s.episodes.len(), 2);
    let fb = f.fusebox.unwrap();
    assert!(fb.fuses().contains_key("db") && fb.valves().contains_key("db"));
}

#[test]
fn defaults() {
    let f = file::parse(
        "duration = \"1s\"\n\
         load = { open = { rate = 1.0 }, timeout = \"1s\" }\n\
         dependency = { connections = 1, latency = { kind = \"constant\", value = \"1ms\" } }\n\
         [[episodes]]\nname = \"e\"\nstart = \"0s\"\nend = \"1s\"\n",
    )
    .unwrap();
    let s: Scenario = f.scenario;
    assert_eq!((s.seed, s.description.as_str()), (1, ""));
    assert_eq!(s.load.retries, 0);
    assert_eq!(s.load.retry_budget, None);
    assert!(s.load.retry_refusals, "naive clients retry refusals");
    assert_eq!(s.load.open.as_ref().unwrap().shape, Shape::Steady);
    assert_eq!(s.calls()[0].name, "dependency");
    assert_eq!(s.calls()[0].timeout, None);
    let e = &s.episodes[0];
    assert_eq!(
        (e.error_rate, e.latency_multiplier, e.down),
        (0.0, 1.0, false)
    );
    assert_eq!(e.down_after, Duration::from_millis(1));
    assert!(f.fusebox.is_none());
}

#[test]
fn a_retry_budget_is_a_pipelines_budget_table() {
    let f = file::parse(&with(
        9,
        "retry_budget = { ratio = 0.2, min_per_sec = 10, ttl = \"10s\" }\nretry_refusals = false",
    ))
    .unwrap();
    let b = f.scenario.load.retry_budget.unwrap();
    assert_eq!(
        (b.ratio, b.min_per_sec, b.ttl),
        (0.2, 10, Duration::from_secs(10))
    );
    assert!(!f.scenario.load.retry_refusals);
    let budget = b.budget().unwrap();
    assert_eq!(budget.ttl(), Duration::from_secs(10));
}

#[test]
fn a_seed_is_any_integer_toml_can_write() {
    for (seed, want) in [
        ("0", 0),
        ("0x5eed_f05e_b0c5", 0x5eed_f05e_b0c5),
        ("9223372036854775807", i64::MAX as u64),
    ] {
        let f = file::parse(&with(2, &format!("seed = {seed}"))).unwrap();
        assert_eq!(f.scenario.seed, want);
    }
}

// ---------------------------------------------------------------------------
// One malformed scenario each: the line, column and field of its mistake.
// ---------------------------------------------------------------------------

macro_rules! malformed {
    ($($name:ident: line $n:literal = $new:expr => ($l:literal, $c:literal, $f:literal), $m:literal;)*) => {
        $(
            #[test]
            fn $name() {
                check(&with($n, $new), ($l, $c, $f), $m);
            }
        )*
    };
}

malformed! {
    duration_zero: line 3 = r#"duration = "0s""# => (3, 12, "duration"), "must be greater than zero";
    duration_without_unit: line 3 = r#"duration = "ten""# => (3, 12, "duration"), "unknown unit \"ten\"";
    duration_negative: line 3 = "duration = -5" => (3, 12, "duration"), "-5 ms is negative";
    seed_negative: line 2 = "seed = -1" => (2, 8, "seed"), "expected u64";
    objective_unknown: line 4 = r#"objective = "p98""# => (4, 13, "objective"), "unknown variant `p98`";
    unknown_top_level_key: line 1 = r#"descripton = "x""# => (1, 1, "descripton"), "unknown field `descripton`";
    load_timeout_zero: line 7 = r#"timeout = "0ms""# => (7, 11, "load.timeout"), "must be greater than zero";
    retries_negative: line 8 = "retries = -1" => (8, 11, "load.retries"), "expected u32";
    retry_budget_ratio_negative: line 9 = r#"retry_budget = { ratio = -0.2, min_per_sec = 10, ttl = "10s" }"# => (9, 26, "load.retry_budget.ratio"), "must be between 0 and 1000 (is -0.2)";
    retry_budget_ratio_nan: line 9 = r#"retry_budget = { ratio = nan, min_per_sec = 1, ttl = "5s" }"# => (9, 26, "load.retry_budget.ratio"), "(is NaN)";
    retry_budget_ttl_too_short: line 9 = r#"retry_budget = { ratio = 0.2, min_per_sec = 1, ttl = "5ms" }"# => (9, 54, "load.retry_budget.ttl"), "must be between 10 ms and 1 hour";
    retry_budget_ttl_bad_unit: line 9 = r#"retry_budget = { ratio = 0.2, min_per_sec = 1, ttl = "ten" }"# => (9, 54, "load.retry_budget.ttl"), "unknown unit \"ten\"";
    retry_budget_min_per_sec_fractional: line 9 = r#"retry_budget = { ratio = 0.2, min_per_sec = 1.5, ttl = "10s" }"# => (9, 45, "load.retry_budget.min_per_sec"), "expected u32";
    retry_budget_without_ratio: line 9 = r#"retry_budget = { min_per_sec = 1, ttl = "10s" }"# => (9, 16, "load.retry_budget.ratio"), "missing field `ratio`";
    retry_budget_without_ttl: line 9 = r#"retry_budget = { ratio = 0.2, min_per_sec = 1 }"# => (9, 16, "load.retry_budget.ttl"), "missing field `ttl`";
    hedge_with_both_rules: line 9 = r#"hedge = { after = "10ms", quantile = 0.9 }"# => (9, 38, "load.hedge.quantile"), "a hedge is `after` or `quantile`, not both";
    hedge_with_no_rule: line 9 = r#"hedge = { initial = "10ms" }"# => (9, 9, "load.hedge.after"), "missing field `after` (a fixed delay) or `quantile`";
    hedge_quantile_without_initial: line 9 = r#"hedge = { quantile = 0.9 }"# => (9, 9, "load.hedge.initial"), "missing field `initial`";
    hedge_after_with_a_window: line 9 = r#"hedge = { after = "10ms", window = 8 }"# => (9, 36, "load.hedge.window"), "only a quantile hedge has this key";
    hedge_quantile_above_one: line 9 = r#"hedge = { quantile = 1.5, initial = "10ms" }"# => (9, 22, "load.hedge.quantile"), "must be in (0, 1] (is 1.5)";
    hedge_window_zero: line 9 = r#"hedge = { quantile = 0.9, initial = "10ms", window = 0 }"# => (9, 54, "load.hedge.window"), "must be between 1 and 1024";
    hedge_min_samples_above_the_window: line 9 = r#"hedge = { quantile = 0.9, initial = "10ms", window = 10, min_samples = 11 }"# => (9, 72, "load.hedge.min_samples"), "between 1 and the window";
    hedge_unknown_key: line 9 = r#"hedge = { after = "10ms", delay = 2 }"# => (9, 27, "load.hedge.delay"), "unknown field `delay`";
    retry_budget_unknown_key: line 9 = r#"retry_budget = { ratio = 0.2, min_per_sec = 1, ttl = "10s", percent = 20 }"# => (9, 61, "load.retry_budget.percent"), "unknown field `percent`";
    stragglers_share_above_one: line 20 = r#"stragglers = { share = 1.5, latency = { kind = "constant", value = "1s" } }"# => (20, 24, "dependency.stragglers.share"), "between 0 and 1 (is 1.5)";
    stragglers_latency_zero: line 20 = r#"stragglers = { share = 0.1, latency = { kind = "constant", value = "0s" } }"# => (20, 68, "dependency.stragglers.latency.value"), "must be greater than zero";
    error_pattern_unknown: line 28 = r#"error_pattern = "burst""# => (28, 17, "episodes[0].error_pattern"), "unknown variant `burst`";
    retry_refusals_not_a_bool: line 9 = r#"retry_refusals = "no""# => (9, 18, "load.retry_refusals"), "invalid type: string \"no\"";
    open_rate_zero: line 12 = "rate = 0.0" => (12, 8, "load.open.rate"), "must be a finite number greater than zero";
    open_rate_nan: line 12 = "rate = nan" => (12, 8, "load.open.rate"), "(is NaN)";
    open_rate_infinite: line 12 = "rate = inf" => (12, 8, "load.open.rate"), "(is inf)";
    open_rate_a_string: line 12 = r#"rate = "fast""# => (12, 8, "load.open.rate"), "invalid type: string \"fast\"";
    ramp_to_negative: line 13 = r#"shape = { kind = "ramp", to = -1.0 }"# => (13, 31, "load.open.shape.to"), "at least zero";
    ramp_without_to: line 13 = r#"shape = { kind = "ramp" }"# => (13, 9, "load.open.shape.to"), "missing field `to`";
    ramp_with_an_unknown_key: line 13 = r#"shape = { kind = "ramp", to = 5.0, from = 1.0 }"# => (13, 36, "load.open.shape.from"), "unknown field `from`";
    shape_kind_unknown: line 13 = r#"shape = { kind = "sine" }"# => (13, 18, "load.open.shape.kind"), "unknown variant `sine`";
    steady_with_a_key_it_ignores: line 13 = r#"shape = { kind = "steady", to = 5.0 }"# => (13, 28, "load.open.shape.to"), "a steady shape has only `kind`";
    diurnal_amplitude_above_one: line 13 = r#"shape = { kind = "diurnal", amplitude = 1.5, period = "30s" }"# => (13, 41, "load.open.shape.amplitude"), "between 0 and 1";
    diurnal_amplitude_negative: line 13 = r#"shape = { kind = "diurnal", amplitude = -0.1, period = "30s" }"# => (13, 41, "load.open.shape.amplitude"), "between 0 and 1";
    diurnal_period_zero: line 13 = r#"shape = { kind = "diurnal", amplitude = 0.5, period = "0s" }"# => (13, 55, "load.open.shape.period"), "must be greater than zero";
    spike_for_zero: line 14 = r#"spikes = [{ at = "10s", for = "0s", rate = 50.0 }]"# => (14, 31, "load.open.spikes[0].for"), "must be greater than zero";
    spike_rate_zero: line 14 = r#"spikes = [{ at = "10s", for = "5s", rate = 0.0 }]"# => (14, 44, "load.open.spikes[0].rate"), "greater than zero";
    second_spike_rate_negative: line 14 = r#"spikes = [{ at = "1s", for = "1s", rate = 5.0 }, { at = "9s", for = "1s", rate = -5.0 }]"# => (14, 82, "load.open.spikes[1].rate"), "greater than zero";
    spike_with_an_unknown_key: line 14 = r#"spikes = [{ at = "10s", for = "5s", rate = 50.0, extra = 1 }]"# => (14, 50, "load.open.spikes[0].extra"), "unknown field `extra`";
    open_load_with_a_closed_key: line 11 = "[load.closed]" => (12, 1, "load.closed.rate"), "unknown field `rate`";
    connections_zero: line 18 = "connections = 0" => (18, 15, "dependency.connections"), "must be at least 1";
    connections_negative: line 18 = "connections = -2" => (18, 15, "dependency.connections"), "expected u32";
    connections_missing: line 18 = "" => (16, 1, "dependency.connections"), "missing field `connections`";
    log_normal_p99_below_median: line 19 = r#"latency = { kind = "log_normal", median = "4ms", p99 = "2ms" }"# => (19, 56, "dependency.latency.p99"), "must be at least the median (median 4ms, p99 2ms)";
    log_normal_median_zero: line 19 = r#"latency = { kind = "log_normal", median = "0ms", p99 = "2ms" }"# => (19, 43, "dependency.latency.median"), "must be greater than zero";
    uniform_min_above_max: line 19 = r#"latency = { kind = "uniform", min = "5ms", max = "2ms" }"# => (19, 37, "dependency.latency.min"), "must be at most max (min 5ms, max 2ms)";
    uniform_max_zero: line 19 = r#"latency = { kind = "uniform", min = "0ms", max = "0ms" }"# => (19, 50, "dependency.latency.max"), "must be greater than zero";
    constant_zero: line 19 = r#"latency = { kind = "constant", value = "0s" }"# => (19, 40, "dependency.latency.value"), "must be greater than zero";
    exponential_mean_zero: line 19 = r#"latency = { kind = "exponential", mean = "0s" }"# => (19, 42, "dependency.latency.mean"), "must be greater than zero";
    exponential_mean_misspelt: line 19 = r#"latency = { kind = "exponential", mena = "3ms" }"# => (19, 35, "dependency.latency.mena"), "unknown field `mena`";
    exponential_mean_bad_unit: line 19 = r#"latency = { kind = "exponential", mean = "3 parsecs" }"# => (19, 42, "dependency.latency.mean"), "unknown unit";
    exponential_max_below_shift: line 19 = r#"latency = { kind = "exponential", mean = "3ms", shift = "2ms", max = "1ms" }"# => (19, 70, "dependency.latency.max"), "must be at least the shift (shift 2ms, max 1ms)";
    thrash_backlog_zero: line 20 = r#"thrash_backlog = 0.0"# => (20, 18, "dependency.thrash_backlog"), "must be a finite number greater than zero";
    arrivals_unknown: line 13 = r#"arrivals = "bursty""# => (13, 12, "load.open.arrivals"), "unknown variant `bursty`";
    extra_latency_zero: line 28 = r#"extra_latency = { kind = "constant", value = "0s" }"# => (28, 46, "episodes[0].extra_latency.value"), "must be greater than zero";
    error_latency_bad: line 28 = r#"error_latency = "fast""# => (28, 17, "episodes[0].error_latency"), "unknown unit";
    episode_names_no_dependency: line 28 = r#"dependency = "cache""# => (28, 14, "episodes[0].dependency"), "names no dependency of the scenario (\"cache\"; it has \"db\")";
    latency_not_a_table: line 19 = r#"latency = "fast""# => (19, 11, "dependency.latency"), "invalid type";
    dependency_timeout_zero: line 20 = r#"timeout = "0s""# => (20, 11, "dependency.timeout"), "must be greater than zero";
    dependency_timeout_bad: line 20 = r#"timeout = "soon""# => (20, 11, "dependency.timeout"), "unknown unit \"soon\"";
    fuse_not_in_the_config: line 21 = r#"fuse = "dB""# => (21, 8, "dependency.fuse"), "names no fuse of the fusebox config (\"dB\"; it declares \"db\")";
    valve_not_in_the_config: line 22 = r#"valve = "api""# => (22, 9, "dependency.valve"), "names no valve of the fusebox config (\"api\"";
    episode_name_empty: line 25 = r#"name = """# => (25, 8, "episodes[0].name"), "must not be empty";
    episode_name_missing: line 25 = "" => (24, 1, "episodes[0].name"), "missing field `name`";
    episode_end_before_start: line 27 = r#"end = "5s""# => (27, 7, "episodes[0].end"), "must be after start (start 10s, end 5s)";
    episode_end_equal_to_start: line 27 = r#"end = "10s""# => (27, 7, "episodes[0].end"), "must be after start";
    episode_end_after_the_run: line 27 = r#"end = "90s""# => (27, 7, "episodes[0].end"), "must be at most the scenario's duration (end 90s, duration 1m)";
    second_episode_start_after_end: line 32 = r#"start = "55s""# => (33, 7, "episodes[1].end"), "must be after start (start 55s, end 50s)";
    error_rate_above_one: line 28 = "error_rate = 1.5" => (28, 14, "episodes[0].error_rate"), "between 0 and 1";
    error_rate_negative: line 28 = "error_rate = -0.5" => (28, 14, "episodes[0].error_rate"), "between 0 and 1";
    latency_multiplier_zero: line 28 = "latency_multiplier = 0.0" => (28, 22, "episodes[0].latency_multiplier"), "greater than zero";
    latency_multiplier_infinite: line 28 = "latency_multiplier = inf" => (28, 22, "episodes[0].latency_multiplier"), "finite";
    episode_connections_zero: line 28 = "connections = 0" => (28, 15, "episodes[0].connections"), "must be at least 1";
    episode_unknown_key: line 28 = r#"colour = "red""# => (28, 1, "episodes[0].colour"), "unknown field `colour`";
    episode_down_not_a_bool: line 28 = r#"down = "yes""# => (28, 8, "episodes[0].down"), "invalid type: string \"yes\"";
    flap_down_for_zero: line 34 = r#"flap = { down_for = "0s", up_for = "3s" }"# => (34, 21, "episodes[1].flap.down_for"), "must be greater than zero";
    flap_up_for_zero: line 34 = r#"flap = { down_for = "2s", up_for = "0s" }"# => (34, 36, "episodes[1].flap.up_for"), "must be greater than zero";
    flap_up_for_missing: line 34 = r#"flap = { down_for = "2s" }"# => (34, 8, "episodes[1].flap.up_for"), "missing field `up_for`";
    fusebox_ratio_above_one: line 37 = r#"strategy = { kind = "failure_rate", ratio = 1.5, window = "1s", min_calls = 20 }"# => (37, 45, "fusebox.fuses.db.strategy.ratio"), "must be in (0, 1]";
    fusebox_strategy_unknown_key: line 37 = r#"strategy = { kind = "failure_rate", ratio = 0.5, window = "1s", min_cals = 20 }"# => (37, 65, "fusebox.fuses.db.strategy.min_cals"), "unknown field `min_cals`";
    fusebox_heal_probe_zero: line 38 = r#"heal = { steps = [{ delay = "1s" }, { probe = 0 }] }"# => (38, 47, "fusebox.fuses.db.heal.steps[1].probe"), "must be in 1..=1023";
    fusebox_heal_bad_delay: line 38 = r#"heal = { steps = [{ delay = "1 fortnight" }] }"# => (38, 29, "fusebox.fuses.db.heal.steps[0].delay"), "unknown unit";
    fusebox_valve_concurrency_zero: line 41 = "concurrency = 0" => (41, 15, "fusebox.valves.db.concurrency"), "must be at least 1";
    fusebox_valve_guard_unknown: line 43 = r#"guard = "nope""# => (43, 9, "fusebox.valves.db.guard"), "names no fuse declared in this file";
    fusebox_unknown_section: line 36 = "[fusebox.fusess.db]" => (36, 10, "fusebox.fusess"), "unknown field `fusess`";
    fusebox_fuse_without_strategy: line 37 = "" => (36, 1, "fusebox.fuses.db.strategy"), "missing field `strategy`";
}

// ---------------------------------------------------------------------------
// The malformed scenarios a line replacement cannot make.
// ---------------------------------------------------------------------------

#[test]
fn load_needs_open_or_closed() {
    check(&edit(BASE, 11, 14, ""), (6, 1, "load"), "needs `open`");
}

#[test]
fn a_scenario_needs_a_dependency() {
    // Lines 16 to 22 are `[dependency]` and its keys.
    let e = refused(&edit(BASE, 16, 22, ""));
    assert_eq!((e.line(), e.column(), e.field()), (1, 1, ""));
    assert!(e
        .to_string()
        .starts_with("1:1: needs `[dependency]` (what the service calls) or `[[dependencies]]`"));
}

#[test]
fn dependency_and_dependencies_exclude_each_other() {
    let text = edit(
        BASE,
        23,
        23,
        "[[dependencies]]\nname = \"cache\"\nconnections = 4\nlatency = { kind = \"constant\", value = \"1ms\" }\n",
    );
    check(&text, (23, 1, "dependencies"), "exclude each other");
}

#[test]
fn dependency_names_are_unique() {
    let dep = "[[dependencies]]\nname = \"db\"\nconnections = 4\nlatency = { kind = \"constant\", value = \"1ms\" }";
    let text = edit(BASE, 16, 22, &format!("{dep}\n{dep}\n"));
    check(&text, (21, 8, "dependencies[1].name"), "must be unique");
}

#[test]
fn load_open_and_closed_exclude_each_other() {
    let text = with(
        9,
        "retry_after = \"100ms\"\nclosed = { clients = 5, think = \"1s\" }",
    );
    check(&text, (10, 10, "load.closed"), "exclude each other");
}

#[test]
fn closed_load_needs_a_client() {
    let text = edit(BASE, 11, 14, "[load.closed]\nclients = 0\nthink = \"1s\"");
    check(&text, (12, 11, "load.closed.clients"), "must be at least 1");
}

#[test]
fn closed_load_think_cannot_be_negative() {
    let text = edit(BASE, 11, 14, "[load.closed]\nclients = 3\nthink = -1");
    check(&text, (13, 9, "load.closed.think"), "-1 ms is negative");
}

#[test]
fn a_misspelt_table_is_reported() {
    // serde meets `load` (missing, since `[lod]` holds the timeout) first.
    check(
        &with(6, "[lod]"),
        (11, 2, "load.timeout"),
        "missing field `timeout`",
    );
}

#[test]
fn syntax_errors_point_into_the_broken_line() {
    let e = refused(&with(12, "rate = "));
    assert!(e.is_syntax());
    assert_eq!((e.line(), e.field()), (12, "load.open"), "{e}");

    let e = refused(&with(25, "name = \"errors"));
    assert!(e.is_syntax());
    assert_eq!(
        (e.line(), e.column(), e.field()),
        (25, 15, "episodes[0]"),
        "{e}"
    );
}

#[test]
fn a_duplicate_key_is_named() {
    let e = refused(&with(17, "name = \"db\"\nname = \"x\""));
    assert!(e.is_syntax());
    assert_eq!(
        (e.line(), e.column(), e.field()),
        (18, 1, "dependency.name"),
        "{e}"
    );
}

#[test]
fn a_fusebox_path_needs_read() {
    let text = format!("fusebox = \"fusebox.toml\"\n{}", base_without_fusebox());
    check(
        &text,
        (1, 11, "fusebox"),
        "read the scenario with `file::read`",
    );
}

#[test]
fn fusebox_must_be_a_table_or_a_path() {
    let text = format!("fusebox = 3\n{}", base_without_fusebox());
    check(
        &text,
        (1, 11, "fusebox"),
        "invalid type: integer, expected a table",
    );
}

#[test]
fn a_path_and_a_table_conflict() {
    let e = refused(&format!("fusebox = \"fb.toml\"\n{BASE}"));
    assert!(e.is_syntax());
    assert_eq!(e.line(), FUSEBOX_LINE + 1, "{e}");
}

#[test]
fn without_a_config_the_names_are_unused() {
    let f = file::parse(&base_without_fusebox()).unwrap();
    assert_eq!(f.scenario.calls()[0].fuse.as_deref(), Some("db"));
    assert!(f.fusebox.is_none());
}

#[test]
fn the_earliest_error_in_the_file_is_reported() {
    // Two rule errors and a config error: the first in the file wins,
    // whatever order they are checked in.
    let text = edit(&with(43, "guard = \"nope\""), 28, 28, "error_rate = 2.0");
    let text = edit(&text, 18, 18, "connections = 0");
    assert_eq!(refused(&text).field(), "dependency.connections");
    let text = edit(&with(43, "guard = \"nope\""), 28, 28, "error_rate = 2.0");
    assert_eq!(refused(&text).field(), "episodes[0].error_rate");
}

#[test]
fn every_form_of_the_fusebox_table_is_read() {
    let scenario = base_without_fusebox();
    let forms = [
        // Inline (before the first table).
        "fusebox = { fuses = { db = { strategy = { kind = \"consecutive\", failures = 2 }, heal = { steps = [{ delay = \"1s\" }] } } }, valves = { db = { concurrency = 2 } } }\n".to_owned(),
        // One header, dotted keys.
        "[fusebox]\nfuses.db.strategy.kind = \"consecutive\"\nfuses.db.strategy.failures = 2\nfuses.db.heal.steps = [{ delay = \"1s\" }]\nvalves.db.concurrency = 2\n".to_owned(),
        // Headers all the way down, arrays of tables.
        "[fusebox.fuses.db.strategy]\nkind = \"consecutive\"\nfailures = 2\n[[fusebox.fuses.db.heal.steps]]\ndelay = \"1s\"\n[fusebox.valves.db]\nconcurrency = 2\n".to_owned(),
    ];
    let want = ConfigFile::parse(
        "[fuses.db]\nstrategy = { kind = \"consecutive\", failures = 2 }\nheal = { steps = [{ delay = \"1s\" }] }\n[valves.db]\nconcurrency = 2\n",
    )
    .unwrap();
    for form in forms {
        let text = match form.starts_with("fusebox =") {
            true => format!("{form}{scenario}"),
            false => format!("{scenario}{form}"),
        };
        let got = file::parse(&text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
            .fusebox
            .unwrap();
        assert_eq!(got.fuses(), want.fuses(), "{form}");
        assert_eq!(got.valves(), want.valves(), "{form}");

        // And an error in it is found on its line.
        let broken = text.replace("failures = 2", "failures = 0");
        let e = refused(&broken);
        let line = broken
            .lines()
            .position(|l| l.contains("failures = 0"))
            .unwrap()
            + 1;
        assert_eq!(
            (e.line(), e.field()),
            (line, "fusebox.fuses.db.strategy.failures"),
            "{e}"
        );
        let written = broken.lines().nth(line - 1).unwrap();
        let column = written.find("failures = 0").unwrap() + "failures = ".len() + 1;
        assert_eq!(e.column(), column, "{e}");
    }
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// A fresh directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fusebox-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn errors_of_a_read_file_name_it() {
    let dir = scratch("named");
    let path = dir.join("night.toml");
    std::fs::write(&path, with(3, "duration = \"0s\"")).unwrap();
    let e = file::read(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.display().to_string().as_str()));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:12: duration: must be greater than zero",
            path.display()
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_referenced_config_is_read_beside_the_scenario() {
    let dir = scratch("referenced");
    std::fs::create_dir_all(dir.join("configs")).unwrap();
    let config = "[fuses.db]\nstrategy = { kind = \"consecutive\", failures = 3 }\nheal = { steps = [{ delay = \"1s\" }] }\n[valves.db]\nconcurrency = 4\n";
    std::fs::write(dir.join("configs/fb.toml"), config).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!("fusebox = \"configs/fb.toml\"\n{}", base_without_fusebox()),
    )
    .unwrap();
    let f = file::read(&path).unwrap();
    assert_eq!(
        f.fusebox.unwrap().fuses(),
        ConfigFile::parse(config).unwrap().fuses()
    );

    // An error in it names it, with its own line.
    std::fs::write(
        dir.join("configs/fb.toml"),
        config.replace("failures = 3", "failures = 0"),
    )
    .unwrap();
    let e = file::read(&path).unwrap_err();
    let fb = dir.join("configs").join("fb.toml");
    assert_eq!(e.file(), Some(fb.display().to_string().as_str()));
    assert_eq!(
        (e.line(), e.column(), e.field()),
        (2, 47, "fuses.db.strategy.failures")
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:47: fuses.db.strategy.failures: must be at least 1",
            fb.display()
        )
    );

    // The scenario's names are checked against it.
    std::fs::write(
        dir.join("configs/fb.toml"),
        config.replace("[valves.db]", "[valves.api]"),
    )
    .unwrap();
    let e = file::read(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.display().to_string().as_str()));
    assert_eq!(
        (e.line(), e.column(), e.field()),
        (23, 9, "dependency.valve"),
        "{e}"
    );

    // A config that is not there is the scenario's error.
    std::fs::remove_file(dir.join("configs/fb.toml")).unwrap();
    let e = file::read(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.display().to_string().as_str()));
    assert_eq!((e.line(), e.column(), e.field()), (1, 11, "fusebox"), "{e}");
    assert!(e.message().contains("cannot read"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_file_that_cannot_be_read() {
    let dir = scratch("unreadable");
    let missing = dir.join("nope.toml");
    let e = file::read(&missing).unwrap_err();
    assert_eq!((e.line(), e.column(), e.field()), (0, 0, ""));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );

    let big = dir.join("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(file::MAX_FILE_SIZE + 1).unwrap();
    let e = file::read(&big).unwrap_err();
    assert!(e.message().contains("larger than 16 MiB"), "{e}");

    let binary = dir.join("binary.toml");
    std::fs::write(&binary, [0xff, 0xfe, b'a']).unwrap();
    assert!(file::read(&binary)
        .unwrap_err()
        .message()
        .contains("not UTF-8"));
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------
// The shipped scenarios
// ---------------------------------------------------------------------------

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// A fusebox config (top-level `fuses` / `valves` / `pipelines` only),
/// not a scenario.
fn is_config(text: &str) -> bool {
    let table: toml::Table = toml::from_str(text).unwrap();
    table
        .keys()
        .all(|k| k == "fuses" || k == "valves" || k == "pipelines")
}

#[test]
fn every_shipped_scenario_parses_and_says_what_it_is() {
    let mut scenarios = Vec::new();
    for entry in std::fs::read_dir(shipped()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with('#'),
            "{} opens with no comment",
            path.display()
        );
        if is_config(&text) {
            ConfigFile::read(&path).unwrap_or_else(|e| panic!("{e}"));
            continue;
        }
        let f = file::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!f.scenario.description.is_empty(), "{}", path.display());
        scenarios.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    scenarios.sort();
    assert_eq!(
        scenarios,
        [
            "capacity_drop.toml",
            "demo.toml",
            "flapping.toml",
            "long_tail.toml",
            "long_tail_hedged.toml",
            "night.toml",
            "retry_outage.toml",
            "retry_outage_budget.toml",
            "retry_storm.toml",
            "slow.toml"
        ]
    );
}

#[test]
fn the_flapping_configs_declare_the_scenarios_fuse() {
    let f = file::read(&shipped().join("flapping.toml")).unwrap();
    assert!(
        f.fusebox.is_none(),
        "the configs come from the command line"
    );
    let fuse = f.scenario.calls()[0].fuse.clone().unwrap();
    let mut heals = Vec::new();
    for name in ["flapping-reset.toml", "flapping-program.toml"] {
        let config = ConfigFile::read(shipped().join(name)).unwrap();
        heals.push(config.fuses()[&fuse].heal.steps().len());
    }
    assert_eq!(heals[0], 1, "reset: a single delay");
    assert!(heals[1] > 1, "a program");
}

#[test]
fn the_demo_scenario_is_the_demos() {
    let f = file::read(&shipped().join("demo.toml")).unwrap();
    let s = f.scenario;
    let demo = fusebox_demo_reference();
    assert_eq!(s.duration, demo.run);
    assert_eq!(s.seed, demo.seed);
    assert_eq!(s.load.open.as_ref().unwrap().rate, demo.rate);
    assert_eq!(s.load.timeout, demo.timeout);
    assert_eq!(s.calls()[0].connections, demo.capacity);
    let [errors, slow] = [&s.episodes[0], &s.episodes[1]];
    assert_eq!(
        (errors.start, errors.end, errors.error_rate),
        (demo.errors_start, demo.slow_start, 0.9)
    );
    assert_eq!((slow.start, slow.end), (demo.slow_start, demo.slow_end));
    // The fuse and valve are the demo's protection (crates/fusebox-demo
    // checks they are its config, byte for byte in meaning).
    let fb = f.fusebox.unwrap();
    assert_eq!(
        fb.fuses()["db"].strategy,
        fusebox::Strategy::throttle(2.0, Duration::from_millis(250)).max_reject(0.8)
    );
    assert_eq!(
        &fb.valves()["db"],
        &fusebox::ValveConfig::new()
            .concurrency(16)
            .queue(16)
            .max_wait(Duration::from_millis(20))
    );
}

/// The figures of `fusebox_demo::Scenario::for_run(30 s)` (this crate does
/// not depend on the demo).
struct Demo {
    run: Duration,
    seed: u64,
    rate: f64,
    timeout: Duration,
    capacity: u32,
    errors_start: Duration,
    slow_start: Duration,
    slow_end: Duration,
}

fn fusebox_demo_reference() -> Demo {
    Demo {
        run: Duration::from_secs(30),
        seed: 0x5eed_f05e_b0c5,
        rate: 200.0,
        timeout: Duration::from_secs(1),
        capacity: 16,
        errors_start: Duration::from_secs(6),
        slow_start: Duration::from_secs(12),
        slow_end: Duration::from_secs(18),
    }
}

// ---------------------------------------------------------------------------
// No text makes it panic
// ---------------------------------------------------------------------------

/// The error's position exists in the text: a line of it, a column of that
/// line or just past its end.
fn placed_in(e: &ScenarioError, text: &str) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    e.line() >= 1
        && e.line() <= lines.len()
        && e.column() >= 1
        && e.column() <= lines[e.line() - 1].trim_end_matches('\r').chars().count() + 1
}

/// What the rules promise of every scenario `parse` accepts: a naive
/// restatement, as an oracle.
fn obeys_the_rules(s: &Scenario) -> bool {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let load = s.load.open.is_some() != s.load.closed.is_some()
        && !s.load.timeout.is_zero()
        && s.load.open.as_ref().is_none_or(|o| {
            positive(o.rate)
                && o.spikes
                    .iter()
                    .all(|sp| positive(sp.rate) && !sp.lasts.is_zero())
                && match o.shape {
                    Shape::Steady => true,
                    Shape::Ramp { to } => to.is_finite() && to >= 0.0,
                    Shape::Diurnal { amplitude, period } => {
                        (0.0..=1.0).contains(&amplitude) && !period.is_zero()
                    }
                }
        })
        && s.load.closed.as_ref().is_none_or(|c| c.clients >= 1)
        && s.load.retry_budget.is_none_or(|b| {
            (0.0..=1000.0).contains(&b.ratio)
                && b.ttl >= Duration::from_millis(10)
                && b.ttl <= Duration::from_secs(3600)
        });
    let good = |l: Latency| match l {
        Latency::Constant { value } => !value.is_zero(),
        Latency::Exponential { mean, shift, max } => {
            !mean.is_zero() && max.is_none_or(|m| m >= shift)
        }
        Latency::Uniform { min, max } => min <= max && !max.is_zero(),
        Latency::LogNormal { median, p99 } => !median.is_zero() && p99 >= median,
    };
    let latency = good(s.calls()[0].latency)
        && s.calls()[0].thrash_backlog.is_none_or(positive)
        && s.episodes.iter().all(|e| e.extra_latency.is_none_or(good));
    let episodes = s.episodes.iter().all(|e| {
        !e.name.trim().is_empty()
            && e.start < e.end
            && e.end <= s.duration
            && (0.0..=1.0).contains(&e.error_rate)
            && positive(e.latency_multiplier)
            && e.connections.is_none_or(|c| c >= 1)
            && e.flap
                .is_none_or(|f| !f.down_for.is_zero() && !f.up_for.is_zero())
    });
    !s.duration.is_zero()
        && load
        && s.calls()[0].connections >= 1
        && s.calls()[0].timeout.is_none_or(|t| !t.is_zero())
        && latency
        && episodes
}

/// Text an edit may insert: TOML's punctuation, values good and bad, keys.
fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "=",
            "[",
            "]",
            "[[",
            "]]",
            "{",
            "}",
            ",",
            ".",
            "\"",
            "'",
            "\n",
            "#",
            " ",
            "0",
            "-1",
            "1e400",
            "nan",
            "inf",
            "-inf",
            "0.0",
            "1.5",
            "\"0s\"",
            "\"-1s\"",
            "\"1h\"",
            "\"\"",
            "\"x\"",
            "true",
            "{}",
            "[]",
            "\"\"\"",
            "fusebox",
            "fusebox.",
            "[fusebox]",
            "[fusebox.fuses.x]",
            "kind",
            "\"steady\"",
            "\"ramp\"",
            "episodes",
            "[[episodes]]",
            "load",
            "open",
            "closed",
            "rate",
            "1979-05-27",
            "é",
            "\u{0}",
            "\r\n",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,12}",
    ]
}

/// An edit of a text: at a fraction of its length, delete some characters
/// and insert a snippet.
fn mutate(text: &str, at: f64, delete: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let i = ((chars.len() as f64) * at) as usize;
    let i = i.min(chars.len());
    let j = (i + delete).min(chars.len());
    let mut out: String = chars[..i].iter().collect();
    out.push_str(insert);
    out.extend(&chars[j..]);
    out
}

/// One line of the fusebox config in `BASE`, its value replaced: the
/// scenario and the same config alone in `fusebox.toml` must agree.
fn fusebox_value() -> impl Strategy<Value = (usize, String)> {
    let lines: Vec<usize> = BASE
        .lines()
        .enumerate()
        .skip(FUSEBOX_LINE - 1)
        .filter(|(_, l)| l.contains(" = "))
        .map(|(i, _)| i + 1)
        .collect();
    (prop::sample::select(lines), snippet())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = file::parse(&text) {
            prop_assert!(placed_in(&e, &text), "{} for {:?}", e, text);
        }
    }

    #[test]
    fn toml_like_text_never_panics(parts in prop::collection::vec(snippet(), 0..40)) {
        let text = parts.concat();
        if let Err(e) = file::parse(&text) {
            prop_assert!(placed_in(&e, &text), "{} for {:?}", e, text);
        }
    }

    #[test]
    fn mutations_of_a_valid_scenario_never_panic(
        edits in prop::collection::vec((0.0..1.0f64, 0..6usize, snippet()), 1..4),
    ) {
        let mut text = BASE.to_owned();
        for (at, delete, insert) in &edits {
            text = mutate(&text, *at, *delete, insert);
        }
        match file::parse(&text) {
            Ok(f) => prop_assert!(obeys_the_rules(&f.scenario), "accepted {:?}", f.scenario),
            Err(e) => prop_assert!(placed_in(&e, &text), "{} for {:?}", e, text),
        }
    }

    #[test]
    fn a_config_error_is_placed_as_in_fusebox_toml((line, value) in fusebox_value()) {
        let original = BASE.lines().nth(line - 1).unwrap();
        let key = original.split(" = ").next().unwrap();
        let text = with(line, &format!("{key} = {value}"));
        let alone: String = text
            .lines()
            .skip(FUSEBOX_LINE - 1)
            .map(|l| format!("{}\n", l.replacen("[fusebox.", "[", 1)))
            .collect();
        match (file::parse(&text), ConfigFile::parse(&alone)) {
            (Ok(f), Ok(c)) => {
                let fb = f.fusebox.unwrap();
                prop_assert_eq!(fb.fuses(), c.fuses());
                prop_assert_eq!(fb.valves(), c.valves());
            }
            (Err(e), Err(c)) => {
                prop_assert_eq!(e.line(), c.line() + FUSEBOX_LINE - 1, "{} vs {}", e, c);
                prop_assert_eq!(e.is_syntax(), c.is_syntax(), "{} vs {}", e, c);
                let header = text.lines().nth(e.line() - 1).unwrap().starts_with('[');
                if !header {
                    prop_assert_eq!(e.column(), c.column(), "{} vs {}", e, c);
                }
                if !e.is_syntax() {
                    prop_assert_eq!(e.field(), format!("fusebox.{}", c.field()), "{} vs {}", e, c);
                    prop_assert_eq!(e.message(), c.message());
                }
            }
            (Ok(_), Err(c)) => prop_assert!(false, "accepted; alone: {}", c),
            // A config the core accepts can still break a scenario rule
            // (a fuse renamed away from `dependency.fuse`).
            (Err(e), Ok(_)) => prop_assert!(e.field().starts_with("dependency."), "{}", e),
        }
    }
}
