//! The contract's config files (`fusebox::_contract`, section 4.4): fuses and
//! valves declared in TOML, every error reported with its line and field.
//!
//! * `examples/fusebox.toml` (one of every strategy, heal step and valve
//!   discipline) loads into a Fusebox with exactly what it declares;
//! * malformed configs, one per rule or kind of mistake, each with the exact
//!   line, field and message of its error;
//! * `check` reports every error in the order of the file; `read` and
//!   `Display` name the file;
//! * a property: random bytes and random mutations of the example file never
//!   make the parser panic, every error's line exists, and whatever parses
//!   also installs.
#![cfg(feature = "toml")]

#[path = "support/watchdog.rs"]
mod watchdog;

use std::time::Duration;

use fusebox::{
    config_file::ConfigFileError,
    fuse::FuseState,
    pipeline::{Hedge, Pipeline, Reason},
    retry::{Backoff, RetryPolicy},
    valve::{Adaptive, Discipline, Rate},
    Clock, ConfigFile, FuseConfig, Fusebox, Heal, ManualClock, Step, Strategy, ValveConfig,
};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/fusebox.toml"
));

fn example_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fusebox.toml")
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------
// The example file
// ---------------------------------------------------------------------------

#[test]
fn the_example_file_declares_what_it_says() {
    let _watch = watchdog::watchdog(
        "config_file::the_example_file_declares_what_it_says",
        std::time::Duration::from_secs(60),
    );
    let file = ConfigFile::read(example_path()).unwrap_or_else(|e| panic!("{e}"));

    let fuses: Vec<_> = file.fuses().keys().map(String::as_str).collect();
    assert_eq!(
        fuses,
        ["db", "ledger", "payments", "recommendations", "search"]
    );
    let f = file.fuses();
    assert_eq!(
        f["db"],
        FuseConfig::standard(5, s(10)).heal(Heal::reset(s(60)))
    );
    assert_eq!(
        f["recommendations"],
        FuseConfig::fault_injection(0.01, 3, s(5)).heal(Heal::reset(s(15)))
    );
    assert_eq!(
        f["payments"],
        FuseConfig::new(Strategy::consecutive(3))
            .heal(Heal::program([Step::Delay(s(30)), Step::Probe(1)]))
    );
    assert_eq!(
        f["search"],
        FuseConfig::new(Strategy::failure_rate(0.5, s(30), 20).slow_call(ms(800))).heal(
            Heal::program([
                Step::Delay(s(30)),
                Step::Gradual(0.1),
                Step::Delay(s(10)),
                Step::Gradual(0.5),
                Step::Delay(s(10)),
                Step::Probe(3),
            ])
            .backoff(2.0, s(600))
            .jitter(0.2)
        )
    );
    assert_eq!(
        f["ledger"],
        FuseConfig::standard(0, s(60)).heal(Heal::program([
            Step::Delay(s(300)),
            Step::Probe(1),
            Step::Barrier
        ]))
    );

    let p = file.pipelines();
    assert_eq!(
        p.keys().map(String::as_str).collect::<Vec<_>>(),
        ["db", "search"]
    );
    let db = p["db"].retry.as_ref().unwrap();
    assert_eq!(
        (db.attempts, db.deadline, db.backoff),
        (
            3,
            Some(s(2)),
            Backoff::exponential(ms(10), 2.0, s(1)).full_jitter()
        )
    );
    assert_eq!(p["db"].hedge, Some(Hedge::quantile(0.95, ms(50))));
    let search = &p["search"];
    assert_eq!(
        search.retry.as_ref().unwrap().backoff,
        Backoff::constant(ms(25))
    );
    assert_eq!(search.hedge, Some(Hedge::after(ms(30))));
    assert_eq!((search.fuse.as_ref(), search.budget), (None, None));

    let v = file.valves();
    let valves: Vec<_> = v.keys().map(String::as_str).collect();
    assert_eq!(
        valves,
        [
            "api",
            "checkout",
            "db",
            "email",
            "partner",
            "reports",
            "search",
            "thumbnails"
        ]
    );
    assert_eq!(
        v["db"],
        ValveConfig::new()
            .limit(
                Adaptive::gradient()
                    .min(4)
                    .max(200)
                    .initial(16)
                    .interval(ms(100))
                    .tolerance(1.5)
                    .smoothing(0.2)
                    .probe_interval(s(60))
                    .probe_jitter(0.15)
                    .probe_samples(50)
            )
            .queue(64)
            .max_wait(s(1))
    );
    assert_eq!(
        v["partner"],
        ValveConfig::new()
            .limit(
                Adaptive::aimd()
                    .min(1)
                    .max(64)
                    .initial(8)
                    .backoff(0.9)
                    .timeout(s(2))
            )
            .queue(16)
    );
    assert_eq!(
        v["api"],
        ValveConfig::new()
            .concurrency(8)
            .queue(64)
            .fifo()
            .max_wait(s(2))
    );
    assert_eq!(
        v["search"],
        ValveConfig::new()
            .concurrency(16)
            .queue(256)
            .codel(ms(5), ms(100))
    );
    assert_eq!(
        v["thumbnails"],
        ValveConfig::new().concurrency(4).queue(32).lifo()
    );
    assert_eq!(
        v["reports"],
        ValveConfig::new()
            .concurrency(2)
            .queue(100)
            .adaptive_lifo(ms(50))
            .max_wait(s(30))
    );
    assert_eq!(
        v["email"],
        ValveConfig::new()
            .concurrency(10)
            .rate(100, s(1))
            .burst(20)
            .queue(50)
    );
    assert_eq!(
        v["checkout"],
        ValveConfig::new()
            .concurrency(32)
            .queue(128)
            .max_wait(s(5))
            .guard("payments")
    );
}

#[test]
fn the_example_file_installs_into_a_fusebox() {
    let _watch = watchdog::watchdog(
        "config_file::the_example_file_installs_into_a_fusebox",
        std::time::Duration::from_secs(60),
    );
    let fb = Fusebox::from_config_file(example_path()).unwrap_or_else(|e| panic!("{e}"));
    let file = ConfigFile::parse(EXAMPLE).unwrap();

    let mut names: Vec<String> = fb.names().iter().map(|n| n.to_string()).collect();
    names.sort();
    assert_eq!(names, file.fuses().keys().cloned().collect::<Vec<_>>());
    for (name, cfg) in file.fuses() {
        let state = fb.state(name).unwrap();
        assert_eq!(state.state, FuseState::Ok, "{name}");
        assert_eq!(&state.config, cfg, "{name}");
    }

    let valves = fb.valves();
    assert_eq!(
        valves.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        file.valves().keys().map(String::as_str).collect::<Vec<_>>()
    );
    for snap in &valves {
        let cfg = &file.valves()[&snap.name];
        assert_eq!(&snap.config, cfg, "{}", snap.name);
        match &cfg.limit {
            // AIMD starts at its initial limit; a gradient measures its
            // no-load latency first, at min.
            Some(Adaptive::Aimd(a)) => assert_eq!(snap.concurrency, a.initial),
            Some(limit) => assert_eq!(snap.concurrency, limit.min()),
            None => assert_eq!(snap.concurrency, cfg.concurrency),
        }
        assert_eq!(snap.queue, cfg.queue);
        assert_eq!(snap.in_flight, 0);
    }
    let email = valves.iter().find(|v| v.name == "email").unwrap();
    assert_eq!(email.tokens, Some(20), "the bucket starts full, at burst");

    // The pipelines are kept, on the file's fuse and valve.
    let db = fb.pipeline("db").expect("the db pipeline");
    assert_eq!(db.fuse().map(|f| f.name()), Some("db"));
    assert_eq!(db.valve().map(|v| v.name()), Some("db"));
    assert_eq!(db.timeout(), Some(ms(200)));
    let names: Vec<_> = fb.pipelines().iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["db", "search"]);

    // The guard is live: a blown `payments` refuses `checkout` at once.
    for _ in 0..3 {
        fb.melt("payments").unwrap();
    }
    assert_eq!(fb.state("payments").unwrap().state, FuseState::Blown);
    let refused = fb.valve("checkout").unwrap().try_acquire().unwrap_err();
    assert_eq!(refused, fusebox::Refused::Blown);
}

#[test]
fn loading_again_reconfigures_and_keeps_what_the_file_does_not_name() {
    let _watch = watchdog::watchdog(
        "config_file::loading_again_reconfigures_and_keeps_what_the_file_does_not_name",
        std::time::Duration::from_secs(60),
    );
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock).build();
    fb.install("other", FuseConfig::standard(1, s(1))).unwrap();
    fb.load_config_str(EXAMPLE).unwrap();
    fb.disable("db").unwrap();
    fb.load_config_str(
        "[fuses.db]\nstrategy = { kind = \"standard\", max_melts = 1, window = \"1s\" }\n\
         heal = { steps = [{ delay = \"1s\" }] }\n\
         [valves.api]\nconcurrency = 2\n",
    )
    .unwrap();
    let db = fb.state("db").unwrap();
    assert_eq!(
        db.config,
        FuseConfig::standard(1, s(1)).heal(Heal::reset(s(1)))
    );
    assert_eq!(db.state, FuseState::Disabled, "a reinstall keeps disabled");
    assert_eq!(fb.valve("api").unwrap().snapshot().concurrency, 2);
    assert!(fb.state("other").is_ok());
    assert_eq!(fb.valves().len(), 8);
}

#[test]
fn an_error_in_the_text_installs_nothing() {
    let _watch = watchdog::watchdog(
        "config_file::an_error_in_the_text_installs_nothing",
        std::time::Duration::from_secs(60),
    );
    let fb = Fusebox::new();
    let bad = EXAMPLE.replace("failures = 3", "failures = 0");
    let err = fb.load_config_str(&bad).unwrap_err();
    assert_eq!(err.field(), "fuses.payments.strategy.failures");
    assert!(fb.names().is_empty());
    assert!(fb.valves().is_empty());
}

#[test]
fn every_key_is_optional_in_a_valve_and_an_empty_file_is_empty() {
    let _watch = watchdog::watchdog(
        "config_file::every_key_is_optional_in_a_valve_and_an_empty_file_is_empty",
        std::time::Duration::from_secs(60),
    );
    let file = ConfigFile::parse("[valves.v]\n").unwrap();
    assert_eq!(file.valves()["v"], ValveConfig::new());
    let file = ConfigFile::parse("").unwrap();
    assert!(file.fuses().is_empty() && file.valves().is_empty());
    let file = ConfigFile::parse("# nothing\n[fuses]\n[valves]\n").unwrap();
    assert!(file.fuses().is_empty() && file.valves().is_empty());
}

#[test]
fn other_spellings_parse_to_the_same_config() {
    let _watch = watchdog::watchdog(
        "config_file::other_spellings_parse_to_the_same_config",
        std::time::Duration::from_secs(60),
    );
    // Header tables, inline tables, dotted keys, integer for a float, a bare
    // number of milliseconds.
    let a = ConfigFile::parse(
        "[fuses.db.strategy]\nkind = \"fault_injection\"\nrate = 1\nmax_melts = 2\nwindow = 1500\n\
         [fuses.db.heal]\nsteps = [{ delay = \"1.5s\" }]\n\
         [valves.v]\nrate.count = 5\nrate.period = \"1s\"\ndiscipline.kind = \"lifo\"\n",
    )
    .unwrap();
    let b = ConfigFile::parse(
        "fuses.db = { strategy = { kind = \"fault_injection\", rate = 1.0, max_melts = 2, \
         window = \"1500ms\" }, heal = { steps = [{ delay = \"1500ms\" }] } }\n\
         valves.v = { rate = { count = 5, period = \"1000ms\" }, discipline = { kind = \"lifo\" } }\n",
    )
    .unwrap();
    assert_eq!(a.fuses(), b.fuses());
    assert_eq!(a.valves(), b.valves());
    assert_eq!(
        a.valves()["v"].rate,
        Some(Rate {
            count: 5,
            period: s(1)
        })
    );
    assert_eq!(a.valves()["v"].discipline, Discipline::Lifo);
}

// ---------------------------------------------------------------------------
// Malformed configs: the exact line and field of each error
// ---------------------------------------------------------------------------

/// A valid fuse, to break one line of.
const FUSE: &str = r#"[fuses.db]
strategy = { kind = "standard", max_melts = 5, window = "10s" }
heal = { steps = [{ delay = "60s" }] }
"#;

/// A valid heal program written one key a line, to break one line of.
const PROGRAM: &str = r#"[fuses.db]
strategy = { kind = "consecutive", failures = 3 }

[fuses.db.heal]
steps = [{ delay = "30s" }, { gradual = 0.5 }, { delay = "10s" }, { probe = 2 }]
backoff = { factor = 2.0, max = "10m" }
jitter = 0.2
"#;

/// A valid failure-rate strategy written one key a line.
const RATE: &str = r#"[fuses.db.strategy]
kind = "failure_rate"
ratio = 0.5
window = "30s"
min_calls = 20
slow_call = "800ms"

[fuses.db.heal]
steps = [{ delay = "30s" }]
"#;

/// A valid throttle strategy written one key a line.
const THROTTLE: &str = r#"[fuses.db.strategy]
kind = "throttle"
k = 2.0
window = "2s"
min_requests = 10
blow_at = 0.95
max_reject = 0.98

[fuses.db.heal]
steps = [{ delay = "5s" }, { probe = 1 }]
"#;

#[test]
fn a_throttle_strategy_parses_inline_and_in_full() {
    let inline = ConfigFile::parse(
        "[fuses.db]\nstrategy = { kind = \"throttle\", k = 2, window = \"2s\" }\n\
         heal = { steps = [{ delay = \"5s\" }] }\n",
    )
    .unwrap();
    assert_eq!(inline.fuses()["db"].strategy, Strategy::throttle(2.0, s(2)));
    let full = ConfigFile::parse(THROTTLE).unwrap();
    assert_eq!(
        full.fuses()["db"].strategy,
        Strategy::throttle(2.0, s(2))
            .min_requests(10)
            .blow_at(0.95)
            .max_reject(0.98)
    );
    // Without the key there is no cap.
    assert!(matches!(
        inline.fuses()["db"].strategy,
        Strategy::Throttle { max_reject, .. } if max_reject == 1.0
    ));
}

/// A valid valve, to break one line of.
const VALVE: &str = r#"[fuses.db]
strategy = { kind = "standard", max_melts = 5, window = "10s" }
heal = { steps = [{ delay = "60s" }] }

[valves.api]
concurrency = 8
rate = { count = 100, period = "1s" }
burst = 20
queue = 64
discipline = { kind = "codel", target = "5ms", interval = "100ms" }
max_wait = "2s"
guard = "db"
"#;

#[track_caller]
fn error_of(text: &str) -> ConfigFileError {
    match ConfigFile::parse(text) {
        Ok(file) => panic!("parsed:\n{text}\n{file:?}"),
        Err(e) => e,
    }
}

/// Replaces exactly one occurrence of `from`.
#[track_caller]
fn edit(base: &str, from: &str, to: &str) -> String {
    assert_eq!(base.matches(from).count(), 1, "{from:?} in\n{base}");
    base.replace(from, to)
}

/// (what, text, line, where on that line the error points (the first
/// occurrence of this text; "" for anywhere), field, message contains)
type Case = (
    &'static str,
    String,
    usize,
    &'static str,
    &'static str,
    &'static str,
);

fn cases() -> Vec<Case> {
    let o = |s: &str| s.to_owned();
    vec![
        // --- not TOML ---
        (
            "syntax: unclosed header",
            o("[fuses.db\nstrategy = 1\n"),
            1,
            "",
            "",
            "unclosed table",
        ),
        (
            "syntax: unclosed string",
            edit(FUSE, r#"window = "10s" }"#, r#"window = "10s }"#),
            2,
            "",
            "fuses.db.strategy",
            "invalid basic string",
        ),
        (
            "syntax: value missing",
            edit(PROGRAM, "jitter = 0.2", "jitter ="),
            7,
            "",
            "fuses.db.heal",
            "string values must be quoted",
        ),
        (
            "syntax: duplicate table",
            format!("{FUSE}\n[valves.api]\n\n[fuses.db]\n"),
            7,
            "db",
            "fuses.db",
            "duplicate key",
        ),
        (
            "syntax: duplicate key",
            edit(VALVE, "queue = 64", "queue = 64\nqueue = 65"),
            10,
            "queue",
            "valves.api.queue",
            "duplicate key",
        ),
        // --- TOML, but not the right shape ---
        (
            "unknown top-level table",
            edit(FUSE, "[fuses.db]", "[fusez.db]"),
            1,
            "fusez",
            "fusez",
            "unknown field `fusez`",
        ),
        (
            "`fuses` is not a table",
            o("fuses = 3\n"),
            1,
            "3",
            "fuses",
            "expected a table of fuses",
        ),
        (
            "unknown key in a fuse",
            format!("{FUSE}healz = 1\n"),
            4,
            "healz",
            "fuses.db.healz",
            "unknown field `healz`",
        ),
        (
            "unknown key in a strategy",
            edit(FUSE, "window", "windw"),
            2,
            "windw",
            "fuses.db.strategy.windw",
            "unknown field `windw`",
        ),
        (
            "unknown key in a heal",
            edit(PROGRAM, "jitter", "jiter"),
            7,
            "jiter",
            "fuses.db.heal.jiter",
            "unknown field `jiter`",
        ),
        (
            "unknown key in a valve",
            edit(VALVE, "queue", "queu"),
            9,
            "queu",
            "valves.api.queu",
            "unknown field `queu`",
        ),
        (
            "unknown key in a discipline",
            edit(VALVE, "interval", "intervall"),
            10,
            "intervall",
            "valves.api.discipline.intervall",
            "unknown field `intervall`",
        ),
        (
            "unknown strategy kind",
            edit(FUSE, "\"standard\"", "\"standrad\""),
            2,
            "\"standrad\"",
            "fuses.db.strategy.kind",
            "unknown variant `standrad`",
        ),
        (
            "unknown heal step",
            edit(PROGRAM, "{ probe = 2 }", "{ prob = 2 }"),
            5,
            "prob",
            "fuses.db.heal.steps[3].prob",
            "unknown variant `prob`",
        ),
        (
            "unknown discipline",
            edit(VALVE, "\"codel\"", "\"fq_codel\""),
            10,
            "\"fq_codel\"",
            "valves.api.discipline.kind",
            "unknown variant `fq_codel`",
        ),
        (
            "strategy kind missing",
            edit(FUSE, "kind = \"standard\", ", ""),
            2,
            "{",
            "fuses.db.strategy.kind",
            "missing field `kind`",
        ),
        (
            "heal missing",
            edit(FUSE, "heal = { steps = [{ delay = \"60s\" }] }\n", ""),
            1,
            "[fuses.db]",
            "fuses.db.heal",
            "missing field `heal`",
        ),
        (
            "wrong type in a strategy",
            edit(FUSE, "max_melts = 5", "max_melts = \"five\""),
            2,
            "\"five\"",
            "fuses.db.strategy.max_melts",
            "invalid type: string \"five\"",
        ),
        (
            "wrong type in a valve",
            edit(VALVE, "concurrency = 8", "concurrency = \"8\""),
            6,
            "\"8\"",
            "valves.api.concurrency",
            "invalid type: string \"8\"",
        ),
        (
            "wrong type: a table where a list goes",
            edit(PROGRAM, "steps = [", "steps = { d = 1 }\nsteps2 = ["),
            5,
            "{ d = 1 }",
            "fuses.db.heal.steps",
            "invalid type: map, expected a sequence",
        ),
        (
            "wrong type: a float for a count",
            edit(VALVE, "burst = 20", "burst = 2.5"),
            8,
            "2.5",
            "valves.api.burst",
            "invalid type: floating point `2.5`",
        ),
        (
            "a discipline written as a bare string",
            edit(
                VALVE,
                r#"{ kind = "codel", target = "5ms", interval = "100ms" }"#,
                "\"lifo\"",
            ),
            10,
            "\"lifo\"",
            "valves.api.discipline",
            "invalid type: string \"lifo\"",
        ),
        (
            "negative number in a strategy",
            edit(FUSE, "max_melts = 5", "max_melts = -1"),
            2,
            "-1",
            "fuses.db.strategy.max_melts",
            "invalid value: integer `-1`",
        ),
        (
            "negative number in a valve",
            edit(VALVE, "queue = 64", "queue = -64"),
            9,
            "-64",
            "valves.api.queue",
            "invalid value: integer `-64`",
        ),
        (
            "bad duration in a strategy",
            edit(FUSE, "\"10s\"", "\"10 parsecs\""),
            2,
            "\"10 parsecs\"",
            "fuses.db.strategy.window",
            "unknown unit \" parsecs\"",
        ),
        (
            "bad duration in a valve",
            edit(VALVE, "max_wait = \"2s\"", "max_wait = \"2 fortnights\""),
            11,
            "\"2 fortnights\"",
            "valves.api.max_wait",
            "unknown unit",
        ),
        (
            "bad duration in a heal step",
            edit(PROGRAM, "{ delay = \"10s\" }", "{ delay = \"soon\" }"),
            5,
            "\"soon\"",
            "fuses.db.heal.steps[2].delay",
            "unknown unit \"soon\"",
        ),
        (
            "negative duration",
            edit(VALVE, "max_wait = \"2s\"", "max_wait = -2000"),
            11,
            "-2000",
            "valves.api.max_wait",
            "negative",
        ),
        (
            "a step with two kinds",
            edit(PROGRAM, "{ gradual = 0.5 }", "{ gradual = 0.5, probe = 1 }"),
            5,
            "{ gradual",
            "fuses.db.heal.steps[1]",
            "more than 1 element",
        ),
        // --- the right shape, breaking a rule ---
        (
            "zero window",
            edit(FUSE, "\"10s\"", "\"0s\""),
            2,
            "\"0s\"",
            "fuses.db.strategy.window",
            "must be greater than zero",
        ),
        (
            "fault injection rate above 1",
            edit(
                FUSE,
                "kind = \"standard\",",
                "kind = \"fault_injection\", rate = 1.5,",
            ),
            2,
            "1.5",
            "fuses.db.strategy.rate",
            "must be in (0, 1]",
        ),
        (
            "fault injection rate 0",
            edit(
                FUSE,
                "kind = \"standard\",",
                "kind = \"fault_injection\", rate = 0,",
            ),
            2,
            "0,",
            "fuses.db.strategy.rate",
            "must be in (0, 1]",
        ),
        (
            "fault injection max_melts 0",
            edit(
                FUSE,
                "kind = \"standard\", max_melts = 5",
                "kind = \"fault_injection\", rate = 0.1, max_melts = 0",
            ),
            2,
            "0,",
            "fuses.db.strategy.max_melts",
            "must be at least 1 with fault injection",
        ),
        (
            "consecutive 0",
            edit(PROGRAM, "failures = 3", "failures = 0"),
            2,
            "0 }",
            "fuses.db.strategy.failures",
            "must be at least 1",
        ),
        (
            "failure_rate ratio 0",
            edit(RATE, "ratio = 0.5", "ratio = 0.0"),
            3,
            "0.0",
            "fuses.db.strategy.ratio",
            "must be in (0, 1]",
        ),
        (
            "failure_rate ratio above 1",
            edit(RATE, "ratio = 0.5", "ratio = 1.01"),
            3,
            "1.01",
            "fuses.db.strategy.ratio",
            "must be in (0, 1]",
        ),
        (
            "min_calls 0",
            edit(RATE, "min_calls = 20", "min_calls = 0"),
            5,
            "0",
            "fuses.db.strategy.min_calls",
            "must be at least 1",
        ),
        (
            "slow_call 0",
            edit(RATE, "\"800ms\"", "\"0ms\""),
            6,
            "\"0ms\"",
            "fuses.db.strategy.slow_call",
            "must be greater than zero",
        ),
        (
            "throttle k below 1",
            edit(THROTTLE, "k = 2.0", "k = 0.5"),
            3,
            "0.5",
            "fuses.db.strategy.k",
            "must be finite and at least 1",
        ),
        (
            "throttle blow_at 1",
            edit(THROTTLE, "blow_at = 0.95", "blow_at = 1.0"),
            6,
            "1.0",
            "fuses.db.strategy.blow_at",
            "must be in (0, 1)",
        ),
        (
            "throttle max_reject 0",
            edit(THROTTLE, "max_reject = 0.98", "max_reject = 0.0"),
            7,
            "0.0",
            "fuses.db.strategy.max_reject",
            "must be finite and in (0, 1]",
        ),
        (
            "throttle max_reject above 1",
            edit(THROTTLE, "max_reject = 0.98", "max_reject = 1.5"),
            7,
            "1.5",
            "fuses.db.strategy.max_reject",
            "must be finite and in (0, 1]",
        ),
        (
            "throttle blow_at above max_reject",
            edit(THROTTLE, "max_reject = 0.98", "max_reject = 0.9"),
            6,
            "0.95",
            "fuses.db.strategy.blow_at",
            "must be at most strategy.max_reject",
        ),
        (
            "throttle zero window",
            edit(THROTTLE, "\"2s\"", "\"0s\""),
            4,
            "\"0s\"",
            "fuses.db.strategy.window",
            "must be greater than zero",
        ),
        (
            "throttle unknown key",
            edit(THROTTLE, "min_requests = 10", "min_request = 10"),
            5,
            "min_request",
            "fuses.db.strategy.min_request",
            "unknown field `min_request`",
        ),
        (
            "empty heal program",
            edit(FUSE, "[{ delay = \"60s\" }]", "[]"),
            3,
            "[]",
            "fuses.db.heal.steps",
            "must have at least one step",
        ),
        (
            "a program that never waits",
            edit(
                PROGRAM,
                r#"[{ delay = "30s" }, { gradual = 0.5 }, { delay = "10s" }, { probe = 2 }]"#,
                "[{ gradual = 0.5 }]",
            ),
            5,
            "[",
            "fuses.db.heal.steps",
            "must wait somewhere",
        ),
        (
            "delay 0",
            edit(PROGRAM, "\"10s\"", "\"0s\""),
            5,
            "\"0s\"",
            "fuses.db.heal.steps[2].delay",
            "must be greater than zero",
        ),
        (
            "gradual 0",
            edit(PROGRAM, "gradual = 0.5", "gradual = 0"),
            5,
            "0 }",
            "fuses.db.heal.steps[1].gradual",
            "must be in (0, 1]",
        ),
        (
            "probe 0",
            edit(PROGRAM, "probe = 2", "probe = 0"),
            5,
            "0 }",
            "fuses.db.heal.steps[3].probe",
            "must be in 1..=1023",
        ),
        (
            "probe too many",
            edit(PROGRAM, "probe = 2", "probe = 5000"),
            5,
            "5000",
            "fuses.db.heal.steps[3].probe",
            "must be in 1..=1023",
        ),
        (
            "jitter 1.0",
            edit(PROGRAM, "jitter = 0.2", "jitter = 1.0"),
            7,
            "1.0",
            "fuses.db.heal.jitter",
            "must be in [0, 1)",
        ),
        (
            "backoff factor below 1",
            edit(PROGRAM, "factor = 2.0", "factor = 0.5"),
            6,
            "0.5",
            "fuses.db.heal.backoff.factor",
            "must be a finite number of at least 1",
        ),
        (
            "backoff max 0",
            edit(PROGRAM, "\"10m\"", "\"0s\""),
            6,
            "\"0s\"",
            "fuses.db.heal.backoff.max",
            "must be greater than zero",
        ),
        (
            "valve concurrency 0",
            edit(VALVE, "concurrency = 8", "concurrency = 0"),
            6,
            "0",
            "valves.api.concurrency",
            "must be at least 1",
        ),
        (
            "adaptive limit: max below min",
            edit(
                VALVE,
                "concurrency = 8",
                "limit = { kind = \"gradient\", min = 8, max = 4 }",
            ),
            6,
            "4",
            "valves.api.limit.max",
            "must be at least limit.min",
        ),
        (
            "adaptive limit: an unknown key",
            edit(
                VALVE,
                "concurrency = 8",
                "limit = { kind = \"aimd\", minimum = 8 }",
            ),
            6,
            "minimum",
            "valves.api.limit.minimum",
            "unknown field `minimum`",
        ),
        (
            "adaptive limit: an unknown kind",
            edit(VALVE, "concurrency = 8", "limit = { kind = \"vegas\" }"),
            6,
            "\"vegas\"",
            "valves.api.limit.kind",
            "unknown variant `vegas`",
        ),
        (
            "adaptive limit: with a concurrency",
            edit(
                VALVE,
                "concurrency = 8",
                "concurrency = 8\nlimit = { kind = \"aimd\" }",
            ),
            6,
            "8",
            "valves.api.concurrency",
            "cannot be set with an adaptive `limit`",
        ),
        (
            "rate 0",
            edit(VALVE, "count = 100", "count = 0"),
            7,
            "0,",
            "valves.api.rate.count",
            "must be at least 1",
        ),
        (
            "rate period 0",
            edit(VALVE, "\"1s\" }", "\"0s\" }"),
            7,
            "\"0s\"",
            "valves.api.rate.period",
            "must be greater than zero",
        ),
        (
            "burst without rate",
            edit(VALVE, "rate = { count = 100, period = \"1s\" }\n", ""),
            7,
            "20",
            "valves.api.burst",
            "needs a rate",
        ),
        (
            "codel target 0",
            edit(VALVE, "\"5ms\"", "\"0ms\""),
            10,
            "\"0ms\"",
            "valves.api.discipline.target",
            "must be greater than zero",
        ),
        (
            "codel interval 0",
            edit(VALVE, "\"100ms\"", "\"0ms\""),
            10,
            "\"0ms\" }",
            "valves.api.discipline.interval",
            "must be greater than zero",
        ),
        (
            "adaptive lifo standing 0",
            edit(
                VALVE,
                r#"{ kind = "codel", target = "5ms", interval = "100ms" }"#,
                r#"{ kind = "adaptive_lifo", standing = "0s" }"#,
            ),
            10,
            "\"0s\"",
            "valves.api.discipline.standing",
            "must be greater than zero",
        ),
        (
            "max_wait 0",
            edit(VALVE, "max_wait = \"2s\"", "max_wait = \"0s\""),
            11,
            "\"0s\"",
            "valves.api.max_wait",
            "must be greater than zero",
        ),
        (
            "guard naming an undeclared fuse",
            edit(VALVE, "guard = \"db\"", "guard = \"dbx\""),
            12,
            "\"dbx\"",
            "valves.api.guard",
            "names no fuse declared in this file (\"dbx\")",
        ),
        (
            "empty guard",
            edit(VALVE, "guard = \"db\"", "guard = \"\""),
            12,
            "\"\"",
            "valves.api.guard",
            "must name a fuse",
        ),
        (
            "empty name",
            edit(VALVE, "[valves.api]", "[valves.\"\"]"),
            5,
            "\"\"",
            "valves.\"\"",
            "a name must not be empty",
        ),
        (
            "control character in a name",
            edit(FUSE, "[fuses.db]", "[fuses.\"d\\tb\"]"),
            1,
            "\"d",
            "fuses.\"d\\tb\"",
            "control characters",
        ),
    ]
    .into_iter()
    .chain(pipeline_cases())
    .collect()
}

/// A valid pipeline, to break one line of (the lines are numbered from 1).
const PIPE: &str = r#"[pipelines.db]
budget = { ratio = 0.2, min_per_sec = 10, ttl = "10s" }
hedge = { quantile = 0.95, initial = "50ms", window = 64, min_samples = 8 }
fuse = "db"
valve = "db"
timeout = "200ms"

[pipelines.db.retry]
attempts = 3
deadline = "2s"

[pipelines.db.retry.backoff]
kind = "exponential"
base = "10ms"
max = "1s"
jitter = "full"
"#;

#[track_caller]
fn pipe(from: &str, to: &str) -> String {
    edit(PIPE, from, to)
}

fn pipeline_cases() -> Vec<Case> {
    // Line numbers: 2 budget, 3 hedge, 4 fuse, 5 valve, 6 timeout, 9
    // attempts, 10 deadline, 13 kind, 14 base, 15 max, 16 jitter.
    vec![
        (
            "pipeline: unknown key",
            pipe("fuse = \"db\"", "fuse = \"db\"\nretries = 3"),
            5,
            "retries",
            "pipelines.db.retries",
            "unknown field `retries`",
        ),
        (
            "pipeline: unknown key in retry",
            pipe("deadline", "dedline"),
            10,
            "dedline",
            "pipelines.db.retry.dedline",
            "unknown field `dedline`",
        ),
        (
            "pipeline: attempts is the core's max_attempts",
            pipe("attempts = 3", "attempts = 0"),
            9,
            "0",
            "pipelines.db.retry.attempts",
            "must be at least 1",
        ),
        (
            "pipeline: attempts of the wrong type",
            pipe("attempts = 3", "attempts = \"3\""),
            9,
            "\"3\"",
            "pipelines.db.retry.attempts",
            "invalid type",
        ),
        (
            "pipeline: zero deadline",
            pipe("\"2s\"", "\"0s\""),
            10,
            "\"0s\"",
            "pipelines.db.retry.deadline",
            "must be greater than zero",
        ),
        (
            "pipeline: backoff max below its base is the core's cap rule",
            pipe("max = \"1s\"", "max = \"1ms\""),
            15,
            "\"1ms\"",
            "pipelines.db.retry.backoff.max",
            "must be at least the base delay",
        ),
        (
            "pipeline: backoff factor below 1",
            pipe("max = \"1s\"", "max = \"1s\"\nfactor = 0.5"),
            16,
            "0.5",
            "pipelines.db.retry.backoff.factor",
            "must be finite and at least 1",
        ),
        (
            "pipeline: unknown backoff kind",
            pipe("\"exponential\"", "\"exponentail\""),
            13,
            "\"exponentail\"",
            "pipelines.db.retry.backoff.kind",
            "unknown variant `exponentail`",
        ),
        (
            "pipeline: unknown jitter",
            pipe("\"full\"", "\"ful\""),
            16,
            "\"ful\"",
            "pipelines.db.retry.backoff.jitter",
            "unknown variant `ful`",
        ),
        (
            "pipeline: unknown key in a backoff",
            pipe("base = ", "bse = "),
            14,
            "bse",
            "pipelines.db.retry.backoff.bse",
            "unknown field `bse`",
        ),
        (
            "pipeline: a constant backoff has no max",
            pipe("\"exponential\"", "\"constant\""),
            15,
            "max",
            "pipelines.db.retry.backoff.max",
            "unknown field `max`",
        ),
        (
            "pipeline: budget ttl out of range",
            pipe("ttl = \"10s\"", "ttl = \"1ms\""),
            2,
            "\"1ms\"",
            "pipelines.db.budget.ttl",
            "must be between 10 ms and 1 hour",
        ),
        (
            "pipeline: negative budget ratio",
            pipe("ratio = 0.2", "ratio = -0.5"),
            2,
            "-0.5",
            "pipelines.db.budget.ratio",
            "must be between 0 and 1000",
        ),
        (
            "pipeline: budget without a ttl",
            pipe(", ttl = \"10s\"", ""),
            2,
            "{",
            "pipelines.db.budget.ttl",
            "missing field `ttl`",
        ),
        (
            "pipeline: hedge quantile above 1",
            pipe("0.95", "1.5"),
            3,
            "1.5",
            "pipelines.db.hedge.quantile",
            "must be in (0, 1]",
        ),
        (
            "pipeline: hedge window of 0",
            pipe("window = 64", "window = 0"),
            3,
            "0,",
            "pipelines.db.hedge.window",
            "must be between 1 and 1024",
        ),
        (
            "pipeline: more samples needed than the window holds",
            pipe("min_samples = 8", "min_samples = 65"),
            3,
            "65",
            "pipelines.db.hedge.min_samples",
            "must be between 1 and the window",
        ),
        (
            "pipeline: a hedge both fixed and adaptive",
            pipe("hedge = { quantile", "hedge = { after = \"5ms\", quantile"),
            3,
            "0.95",
            "pipelines.db.hedge.quantile",
            "not both",
        ),
        (
            "pipeline: a hedge with no delay",
            pipe("quantile = 0.95, initial = \"50ms\", ", ""),
            3,
            "{",
            "pipelines.db.hedge.after",
            "missing field `after`",
        ),
        (
            "pipeline: a quantile hedge without its initial delay",
            pipe("initial = \"50ms\", ", ""),
            3,
            "{",
            "pipelines.db.hedge.initial",
            "missing field `initial`",
        ),
        (
            "pipeline: a fixed hedge with a window",
            pipe("quantile = 0.95, initial = \"50ms\"", "after = \"50ms\""),
            3,
            "64",
            "pipelines.db.hedge.window",
            "only a quantile hedge",
        ),
        (
            "pipeline: unknown key in a hedge",
            pipe("min_samples", "min_sample"),
            3,
            "min_sample",
            "pipelines.db.hedge.min_sample",
            "unknown field `min_sample`",
        ),
        (
            "pipeline: zero timeout",
            pipe("\"200ms\"", "\"0ms\""),
            6,
            "\"0ms\"",
            "pipelines.db.timeout",
            "must be greater than zero",
        ),
        (
            "pipeline: timeout without a unit",
            pipe("\"200ms\"", "\"200\""),
            6,
            "\"200\"",
            "pipelines.db.timeout",
            "has no unit",
        ),
        (
            "pipeline: a fuse name that is not a string",
            pipe("fuse = \"db\"", "fuse = 1"),
            4,
            "1",
            "pipelines.db.fuse",
            "invalid type",
        ),
    ]
}

#[test]
fn every_malformed_config_is_reported_at_its_line_and_field() {
    let _watch = watchdog::watchdog(
        "config_file::every_malformed_config_is_reported_at_its_line_and_field",
        std::time::Duration::from_secs(60),
    );
    let cases = cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (what, text, line, at, field, message) in &cases {
        let err = error_of(text);
        let column = match text.lines().nth(line - 1).and_then(|l| l.find(at)) {
            Some(byte) if !at.is_empty() => {
                text.lines().nth(line - 1).unwrap()[..byte].chars().count() + 1
            }
            _ => 0,
        };
        assert!(
            at.is_empty() || column > 0,
            "{what}: {at:?} is not on line {line}"
        );
        let ok = err.line() == *line
            && (column == 0 || err.column() == column)
            && err.field() == *field
            && err.message().contains(message);
        if !ok {
            failures.push(format!(
                "{what}: want {line}:{column} {field:?} ~ {message:?}\n      got {}:{} {:?} {:?}",
                err.line(),
                err.column(),
                err.field(),
                err.message()
            ));
        }
        // The line is one of the text's, and Display carries all of it.
        assert!(
            err.line() >= 1 && err.line() <= text.lines().count().max(1),
            "{what}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:{}: ", err.line(), err.column())),
            "{shown}"
        );
        assert!(shown.ends_with(err.message()), "{shown}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn syntax_errors_are_syntax_errors_and_rule_errors_carry_the_rule() {
    let _watch = watchdog::watchdog(
        "config_file::syntax_errors_are_syntax_errors_and_rule_errors_carry_the_rule",
        std::time::Duration::from_secs(60),
    );
    assert!(error_of("[fuses.db\n").is_syntax());
    let err = error_of(&edit(FUSE, "\"10s\"", "\"0s\""));
    assert!(!err.is_syntax());
    let rule = err.config_error().expect("a rule of FuseConfig::validate");
    assert_eq!(rule.field(), "strategy.window");
    assert!(std::error::Error::source(&err).is_some());
    assert!(error_of(&edit(FUSE, "window", "windw"))
        .config_error()
        .is_none());
}

// ---------------------------------------------------------------------------
// Every error, file names, Display
// ---------------------------------------------------------------------------

#[test]
fn check_reports_every_error_in_the_order_of_the_file() {
    let _watch = watchdog::watchdog(
        "config_file::check_reports_every_error_in_the_order_of_the_file",
        std::time::Duration::from_secs(60),
    );
    let text = r#"[valves.z]
concurrency = 0

[fuses.b]
strategy = { kind = "consecutive", failures = 0 }
heal = { steps = [{ delay = "1s" }] }

[fuses.a]
strategy = { kind = "standard", max_melts = 1, window = "1s" }
heal = { steps = [] }

[valves.y]
guard = "nope"

[extra]
"#;
    let errors = ConfigFile::check(text).unwrap_err();
    let got: Vec<_> = errors.iter().map(|e| (e.line(), e.field())).collect();
    assert_eq!(
        got,
        [
            (2, "valves.z.concurrency"),
            (5, "fuses.b.strategy.failures"),
            (10, "fuses.a.heal.steps"),
            (13, "valves.y.guard"),
            (15, "extra"),
        ]
    );
    // parse returns the first of them.
    assert_eq!(error_of(text).field(), "valves.z.concurrency");

    // Several syntax errors are all reported, and nothing else.
    let errors = ConfigFile::check("[a\nb = \n[valves.v]\nconcurrency = 0\nc = \"x\n").unwrap_err();
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(errors.iter().all(ConfigFileError::is_syntax), "{errors:?}");
    assert!(errors.windows(2).all(|w| w[0].line() <= w[1].line()));
}

#[test]
fn errors_name_the_file_they_come_from() {
    let _watch = watchdog::watchdog(
        "config_file::errors_name_the_file_they_come_from",
        std::time::Duration::from_secs(60),
    );
    let dir = std::env::temp_dir().join(format!("fusebox-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fusebox.toml");
    std::fs::write(&path, edit(VALVE, "\"5ms\"", "\"0ms\"")).unwrap();
    let err = ConfigFile::read(&path).unwrap_err();
    let shown = path.display().to_string();
    assert_eq!(err.file(), Some(shown.as_str()));
    assert_eq!(
        err.to_string(),
        format!("{shown}:10:41: valves.api.discipline.target: must be greater than zero")
    );
    let err = Fusebox::from_config_file(&path).unwrap_err();
    assert_eq!(err.line(), 10);

    let missing = dir.join("nope.toml");
    let err = ConfigFile::read(&missing).unwrap_err();
    assert_eq!((err.line(), err.column(), err.field()), (0, 0, ""));
    assert!(err
        .to_string()
        .starts_with(&format!("{}: cannot read: ", missing.display())));
    assert!(std::error::Error::source(&err).is_some());
    std::fs::remove_dir_all(&dir).unwrap();

    // A name attached by hand.
    let err = error_of("[valves.api]\nconcurrency = 0\n").in_file("fusebox.toml");
    assert_eq!(
        err.to_string(),
        "fusebox.toml:2:15: valves.api.concurrency: must be at least 1"
    );
}

// ---------------------------------------------------------------------------
// Pipelines
// ---------------------------------------------------------------------------

/// A fuse and a valve for PIPE to name.
const DB: &str = r#"[fuses.db]
strategy = { kind = "standard", max_melts = 10, window = "10s" }
heal = { steps = [{ delay = "60s" }] }

[valves.db]
concurrency = 4
"#;

/// Polls `fut` to the end on this thread, advancing `clock` by `step`
/// whenever it is pending (the pipeline's timer is the manual clock).
fn run_on<F: std::future::Future>(clock: &ManualClock, step: Duration, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..10_000 {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        clock.advance(step);
    }
    panic!("the call never ended");
}

#[test]
fn a_pipeline_is_read_whole_and_works_on_a_manual_clock() {
    let _watch = watchdog::watchdog(
        "config_file::a_pipeline_is_read_whole_and_works_on_a_manual_clock",
        std::time::Duration::from_secs(60),
    );
    let text = format!("{DB}\n{PIPE}");
    let file = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let spec = &file.pipelines()["db"];
    let retry = spec.retry.as_ref().unwrap();
    assert_eq!((retry.attempts, retry.deadline), (3, Some(s(2))));
    assert_eq!(
        retry.backoff,
        Backoff::exponential(ms(10), 2.0, s(1)).full_jitter()
    );
    assert_eq!(
        retry.policy(),
        RetryPolicy::new(3).backoff(retry.backoff).deadline(s(2))
    );
    let budget = spec.budget.unwrap();
    assert_eq!(
        (budget.ratio, budget.min_per_sec, budget.ttl),
        (0.2, 10, s(10))
    );
    assert_eq!(
        spec.hedge,
        Some(Hedge::quantile(0.95, ms(50)).samples(64, 8))
    );
    assert_eq!(spec.fuse.as_deref(), Some("db"));
    assert_eq!(spec.valve.as_deref(), Some("db"));
    assert_eq!(spec.timeout, Some(ms(200)));

    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.load_config(&file).unwrap_or_else(|e| panic!("{e}"));
    let db = fb.pipeline("db").expect("kept by the Fusebox");
    assert_eq!(
        db.budget().map(|b| (b.ratio(), b.ttl())),
        Some((0.2, s(10)))
    );

    // Two failures then a success: retried through the file's fuse, which
    // counted both melts, and its backoff waited on the manual clock.
    let mut calls = 0;
    let r = db.call_blocking(|| {
        calls += 1;
        if calls < 3 {
            Err("flaky")
        } else {
            Ok(calls)
        }
    });
    assert_eq!(r, Ok(3));
    assert_eq!(fb.state("db").unwrap().counters.melts, 2);
    assert!(clock.now() > Duration::ZERO, "the backoff waited");

    // The timeout: an attempt still running at 200 ms is cut and retried;
    // the hedge (50 ms, before any latency is known) starts beside it.
    let start = clock.now();
    let slow = run_on(
        &clock,
        ms(10),
        db.call(std::future::pending::<Result<(), ()>>),
    );
    let err = slow.unwrap_err();
    assert_eq!(err.reason(), &Reason::Timeout);
    assert_eq!((err.attempts(), err.hedges()), (3, 1));
    assert!(clock.now() - start >= ms(600), "three attempts of 200 ms");
    assert_eq!(fb.valve("db").unwrap().snapshot().in_flight, 0);

    // Kept: dropping every handle leaves it in the snapshot, counters and all.
    drop(db);
    let listed = fb.pipelines();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].stats.calls, 2);
    assert_eq!(listed[0].stats.hedges, 1);
}

#[test]
fn a_pipeline_naming_a_missing_fuse_or_valve_is_refused_at_load() {
    let _watch = watchdog::watchdog(
        "config_file::a_pipeline_naming_a_missing_fuse_or_valve_is_refused_at_load",
        std::time::Duration::from_secs(60),
    );
    // The file alone cannot tell: the fuse may be installed already.
    let file = ConfigFile::parse(PIPE).unwrap_or_else(|e| panic!("{e}"));
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    let err = fb.load_config(&file).unwrap_err();
    assert_eq!(
        (err.line(), err.column(), err.field()),
        (4, 8, "pipelines.db.fuse")
    );
    assert_eq!(
        err.message(),
        "names no fuse of this file or of the Fusebox (\"db\")"
    );
    assert!(fb.pipeline("db").is_none());

    fb.install("db", FuseConfig::standard(1, s(1))).unwrap();
    let err = fb.load_config(&file).unwrap_err();
    assert_eq!(
        (err.line(), err.column(), err.field()),
        (5, 9, "pipelines.db.valve")
    );

    // Installed beforehand is as good as declared in the file.
    fb.install_valve("db", ValveConfig::new().concurrency(1))
        .unwrap();
    fb.load_config(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fb.pipeline("db").unwrap().name(), "db");
}

#[test]
fn loading_again_replaces_a_kept_pipeline_but_not_one_built_by_hand() {
    let _watch = watchdog::watchdog(
        "config_file::loading_again_replaces_a_kept_pipeline_but_not_one_built_by_hand",
        std::time::Duration::from_secs(60),
    );
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    fb.load_config_str("[pipelines.api]\nretry = { attempts = 2 }\n")
        .unwrap();
    let old = fb.pipeline("api").unwrap();
    let _ = old.call_blocking(|| Err::<(), _>("down"));
    fb.load_config_str("[pipelines.api]\nretry = { attempts = 5 }\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let new = fb.pipeline("api").unwrap();
    let mut calls = 0;
    let _ = new.call_blocking(|| {
        calls += 1;
        Err::<(), _>("down")
    });
    assert_eq!(calls, 5, "the new policy");
    // One pipeline under the name, the new one; the old clone still works.
    assert_eq!(fb.pipelines().len(), 1);
    assert_eq!(fb.pipelines()[0].stats.retries, 4);
    assert_eq!(old.call_blocking(|| Ok::<_, ()>(1)), Ok(1));

    // A live pipeline someone built holds its name against the file.
    let mine = Pipeline::builder("mine").fusebox(&fb).build().unwrap();
    let err = fb
        .load_config_str("[fuses.x]\nstrategy = { kind = \"consecutive\", failures = 1 }\nheal = { steps = [{ delay = \"1s\" }] }\n\n[pipelines.mine]\ntimeout = \"1s\"\n")
        .unwrap_err();
    assert_eq!((err.line(), err.field()), (5, "pipelines.mine"));
    assert_eq!(
        err.message(),
        "is the name of a live pipeline of this Fusebox"
    );
    assert!(err.config_error().is_some());
    drop(mine);
}

// ---------------------------------------------------------------------------
// Property: no input makes the parser panic or point outside the text
// ---------------------------------------------------------------------------

/// One edit of the example file, by lines.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    /// Swap the values (the text after `=`) of two lines.
    SwapValues(usize, usize),
    /// Move a line elsewhere.
    Move(usize, usize),
    /// Insert these characters at this byte (clamped to a char boundary).
    Insert(usize, String),
    /// Cut the text at this byte.
    Truncate(usize),
}

fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    let i = 0..200usize;
    prop_oneof![
        i.clone().prop_map(Mutation::Delete),
        i.clone().prop_map(Mutation::Duplicate),
        (i.clone(), i.clone()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        (i.clone(), i).prop_map(|(a, b)| Mutation::Move(a, b)),
        (0..6000usize, "[\\[\\]{}=\",.#'\\n a-z0-9\"-]{1,4}")
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
        (0..6000usize).prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len().max(1);
    match m {
        Mutation::Delete(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::Duplicate(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapValues(a, b) if !lines.is_empty() => {
            let (a, b) = (a % n, b % n);
            if let (Some(x), Some(y)) = (lines[a].find('='), lines[b].find('=')) {
                let va = lines[a][x..].to_owned();
                let vb = lines[b][y..].to_owned();
                lines[a].replace_range(x.., &vb);
                lines[b].replace_range(y.., &va);
            }
        }
        Mutation::Move(a, b) if !lines.is_empty() => {
            let l = lines.remove(a % n);
            lines.insert(b % lines.len().max(1), l);
        }
        Mutation::Insert(at, s) => {
            let mut t = lines.join("\n");
            let mut at = (*at).min(t.len());
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            t.insert_str(at, s);
            return t;
        }
        Mutation::Truncate(at) => {
            let t = lines.join("\n");
            let mut at = (*at).min(t.len());
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            return t[..at].to_owned();
        }
        _ => {}
    }
    let mut t = lines.join("\n");
    t.push('\n');
    t
}

fn check_any(text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    match ConfigFile::check(text) {
        Ok(file) => {
            // What parses installs, but for a pipeline naming a fuse or
            // valve that is neither in the file nor installed (the file
            // alone cannot tell).
            let fb = Fusebox::builder().clock(ManualClock::new()).build();
            if let Err(e) = fb.load_config(&file) {
                let missing = e.field().starts_with("pipelines.")
                    && (e.field().ends_with(".fuse") || e.field().ends_with(".valve"))
                    && e.message().starts_with("names no ");
                prop_assert!(missing, "{e}\n{text}");
            }
            prop_assert!(ConfigFile::parse(text).is_ok());
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(
                    (1..=lines).contains(&e.line()) && e.column() >= 1,
                    "{e} outside {lines} lines:\n{text}"
                );
                let _ = e.to_string();
            }
            prop_assert!(errors.windows(2).all(|w| w[0].line() <= w[1].line()));
            let first = ConfigFile::parse(text).unwrap_err();
            prop_assert_eq!(first.to_string(), errors[0].to_string());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_any(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_toml_ish_text_never_panics(text in "([\\[\\]{}=\",.#\\n a-z0-9_]|fuses|valves|kind|\"10s\"){0,80}") {
        check_any(&text)?;
    }

    #[test]
    fn mutations_of_the_example_never_panic(ms in proptest::collection::vec(mutation(), 1..5)) {
        let mut text = EXAMPLE.to_owned();
        for m in &ms {
            text = apply(&text, m);
        }
        check_any(&text)?;
    }
}

/// The config written one level down in a larger document (`title`, then
/// `[fusebox]`), every header `[x]` as `[fusebox.x]`: a scenario file's
/// shape.
fn embedded(text: &str) -> String {
    let mut out = String::from("title = \"night\"\n[fusebox]\n");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("[[") {
            out.push_str(&format!("[[fusebox.{rest}\n"));
        } else if let Some(rest) = line.strip_prefix('[') {
            out.push_str(&format!("[fusebox.{rest}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A config read from a table of a larger document
/// (`Document::config_file`) is the config the same text gives alone, and
/// each of its errors is the lone text's, placed in the larger document:
/// two lines down, eight columns right on a header (`fusebox.`), its field
/// under `fusebox`. One locator serves both.
#[test]
fn a_config_read_from_a_sub_table_is_the_lone_config_placed_in_the_document() {
    use fusebox::config_file::Document;
    use fusebox::error::PathSegment::Key;

    let read = |text: &str| {
        let whole = embedded(text);
        let doc = Document::parse(&whole).unwrap_or_else(|e| panic!("{e}\n{whole}"));
        doc.config_file(&[Key("fusebox")]).expect("written")
    };
    let alone = ConfigFile::parse(EXAMPLE).expect("the example parses");
    let inside = read(EXAMPLE).expect("the example parses inside");
    assert_eq!(inside.fuses(), alone.fuses());
    assert_eq!(inside.valves(), alone.valves());
    assert_eq!(inside.pipelines(), alone.pipelines());

    let mut checked = 0;
    for (what, text, ..) in cases().into_iter().chain(pipeline_cases()) {
        let Err(want) = ConfigFile::check(&text) else {
            panic!("{what}: parses")
        };
        if want[0].is_syntax() {
            continue; // a syntax error is the document's, not the table's
        }
        let got = read(&text).expect_err(what);
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(&want) {
            let header = text
                .lines()
                .nth(w.line() - 1)
                .is_some_and(|l| l.starts_with('['));
            let column = if header && w.column() > 1 {
                w.column() + "fusebox.".len()
            } else {
                w.column()
            };
            let field = match w.field() {
                "" => "fusebox".to_owned(),
                f => format!("fusebox.{f}"),
            };
            assert_eq!(
                (g.line(), g.column(), g.field(), g.message()),
                (w.line() + 2, column, field.as_str(), w.message()),
                "{what}"
            );
            assert_eq!(g.config_error(), w.config_error(), "{what}");
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} cases");

    // What is there must be a table.
    let doc = Document::parse("fusebox = 3\n").unwrap();
    let e = &doc.config_file(&[Key("fusebox")]).unwrap().unwrap_err()[0];
    assert_eq!((e.line(), e.column(), e.field()), (1, 11, "fusebox"));
    assert!(e
        .message()
        .starts_with("invalid type: integer, expected a table"));
    assert!(doc.config_file(&[Key("nothing")]).is_none());
}
