//! Scenario files: a night of failures written down in TOML, checked before
//! a single virtual second runs.
//!
//! A simulation is only as good as the story it is told, and stories are
//! edited: a rate bumped, an episode moved, a heal program swapped. So a
//! scenario lives in a file, and the file is checked the way `fusebox.toml`
//! is ([`fusebox::ConfigFile`]): unknown keys are errors, every rule is
//! checked once, and whatever is wrong is reported with its line, column and
//! dotted field, `night.toml:41:7: episodes[2].end: must be after start
//! (start 3h, end 2h)`. A typo must not silently fall back to a default and
//! turn an eight-hour run into a lie.
//!
//! # The file
//!
//! Durations are strings with a unit (`"250ms"`, `"30s"`, `"5m"`, `"8h"`;
//! a bare number is milliseconds), as in `fusebox.toml`. Keys without a
//! default are required.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `description` | `""` | one line: what the scenario is about |
//! | `seed` | `1` | seed of every random draw; an integer from 0 to 2^63 − 1 (TOML's) |
//! | `duration` | | the simulated stretch, > 0 |
//! | `objective` | `"client_errors"` | what "best" means: `client_errors`, `wasted_calls`, `p99` |
//! | `[load]` | | who calls the service: exactly one of `open` / `closed` |
//! | `load.timeout` | | a client gives up after this long, > 0 |
//! | `load.retries` | `0` | retries of a failed, timed-out or refused request |
//! | `load.retry_after` | `"0s"` | wait before a retry |
//! | `load.retry_budget` | none | `{ ratio, min_per_sec = 10, ttl = "10s" }`: fusebox's [`RetryBudget`](fusebox::retry::RetryBudget) on the run's clock; retries at most `ratio` (0 to 1000) of first attempts plus `min_per_sec` a second, over `ttl` (10 ms to 1 h); a retry it refuses is not made |
//! | `load.hedge` | none | `{ after }` (a delay) or `{ quantile, initial = "100ms", window = 128, min_samples = 20 }` (the quantile, in (0, 1], of the last `window` (1 to 1024) successful attempts' latencies, `initial` until `min_samples` (1 to `window`) are known): an attempt still running then gets one copy, paid from `retry_budget` if there is one; the first success wins and the other is dropped |
//! | `load.pipeline` | none | a pipeline's name: in a run whose config declares `[pipelines.NAME]`, the clients call through it (its retries and backoff, budget, hedge and per-attempt timeout replace `retries`, `retry_after`, `retry_budget` and `hedge`; a refusal is never retried; its fuse and valve guard the first dependency in place of the dependency's); a run without a config keeps the scenario's fields |
//! | `load.retry_refusals` | `true` | whether a refused attempt is retried (naive clients do; fusebox's retries never do: `false`) |
//! | `[load.open]` | | open loop: Poisson arrivals |
//! | `load.open.rate` | | mean requests per second, finite and > 0 |
//! | `load.open.arrivals` | `"poisson"` | `poisson` (exponential gaps) or `periodic` (one every `1 / rate`, from 0: a ticker) |
//! | `load.open.shape` | `{ kind = "steady" }` | `steady`; `{ kind = "ramp", to }` (rate at the end, ≥ 0); `{ kind = "diurnal", amplitude, period }` (amplitude in [0, 1], period > 0) |
//! | `[[load.open.spikes]]` | none | `at`, `for` (> 0), `rate` (extra requests per second, > 0) |
//! | `[load.closed]` | | closed loop: `clients` (≥ 1), `think` (mean think time, exponential) |
//! | `[dependency]` | | what the service calls; or `[[dependencies]]`, several (each with the keys below, names unique), called in turn by every request, which fails at the first that fails; exactly one of the two |
//! | `dependency.name` | `"dependency"` | its name in reports |
//! | `dependency.connections` | | calls served at once, ≥ 1; the rest queue |
//! | `dependency.latency` | | `{ kind = "constant", value }`, `{ kind = "exponential", mean, shift = "0s", max }` (shift + exponential, cut at `max` ≥ `shift`), `{ kind = "uniform", min, max }`, `{ kind = "log_normal", median, p99 }`: `value`, `mean`, `max` and `median` > 0, `min` ≤ `max`, `p99` ≥ `median` |
//! | `dependency.stragglers` | none | `{ share, latency }`: a share (0 to 1) of calls slow for reasons of their own, their latency drawn from `latency` (any of the kinds above) |
//! | `dependency.thrash_backlog` | none | a pile-up makes it worse: with `n` calls waiting, a call costs `1 + n / thrash_backlog` times its latency; finite, > 0 |
//! | `dependency.timeout` | none | the service's own timeout on a call, > 0 |
//! | `dependency.fuse`, `dependency.valve` | none | the fuse and valve of the fusebox config guarding the calls, by name |
//! | `[[episodes]]` | none | times when the dependency misbehaves (the later-starting wins where they overlap) |
//! | `episodes[].name` | | non-empty: its row in the per-phase table |
//! | `episodes[].dependency` | the first | the dependency that misbehaves, by name |
//! | `episodes[].start`, `end` | | `start` < `end` ≤ `duration` |
//! | `episodes[].error_rate` | `0.0` | share of calls that fail fast, in [0, 1] |
//! | `episodes[].error_pattern` | `"random"` | `random` (each call fails with probability `error_rate`) or `even` (exactly that share of the calls started, spread evenly) |
//! | `episodes[].latency_multiplier` | `1.0` | healthy latency times this, finite and > 0 |
//! | `episodes[].extra_latency` | none | a latency (as `dependency.latency`) added to every successful call |
//! | `episodes[].error_latency` | a tenth of the healthy latency | how long a failing call takes (times the thrash factor) |
//! | `episodes[].connections` | unchanged | connections meanwhile, ≥ 1 |
//! | `episodes[].down` | `false` | hard down: every call fails after `down_after` |
//! | `episodes[].down_after` | `"1ms"` | how long a call to a down dependency takes to fail |
//! | `episodes[].flap` | none | `{ down_for, up_for }`, both > 0: down and up in turn from `start` |
//! | `fusebox` | none | the fusebox config: a `[fusebox]` table holding a `fusebox.toml` document, or a path |
//!
//! The fusebox config is written as in `fusebox.toml`, one level down
//! (`[fusebox.fuses.db]`, `[fusebox.valves.db]`), and is checked by
//! [`ConfigFile`]; its errors point into the scenario
//! (`scenario.toml:30:12: fusebox.fuses.db.strategy.ratio: ...`). Or
//! `fusebox = "fusebox.toml"` names a file, relative to the scenario's
//! directory (only with [`read`]; [`parse`] has no directory), whose errors
//! name that file. When there is a config, `dependency.fuse` and
//! `dependency.valve` must name a fuse and a valve of it; without one they
//! are unused (a run without fusebox ignores them). Runs given configs some
//! other way (the command line's `--config`) check the names themselves.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use fusebox_sim::file;
//!
//! let text = r#"
//! description = "the database fails for ten seconds"
//! duration = "60s"
//!
//! [load]
//! open = { rate = 100.0 }
//! timeout = "1s"
//!
//! [dependency]
//! connections = 8
//! latency = { kind = "log_normal", median = "4ms", p99 = "20ms" }
//! fuse = "db"
//!
//! [[episodes]]
//! name = "errors"
//! start = "20s"
//! end = "30s"
//! error_rate = 0.9
//!
//! [fusebox.fuses.db]
//! strategy = { kind = "consecutive", failures = 5 }
//! heal = { steps = [{ delay = "2s" }, { probe = 1 }] }
//! "#;
//! let file = file::parse(text)?;
//! assert_eq!(file.scenario.duration, Duration::from_secs(60));
//! assert_eq!(file.scenario.seed, 1);
//! assert!(file.fusebox.unwrap().fuses().contains_key("db"));
//!
//! // Every error says where.
//! let err = file::parse(&text.replace(r#"end = "30s""#, r#"end = "10s""#)).unwrap_err();
//! assert_eq!((err.line(), err.column(), err.field()), (17, 7, "episodes[0].end"));
//! assert_eq!(err.to_string(), "17:7: episodes[0].end: must be after start (start 20s, end 10s)");
//!
//! // The fusebox part's too, in the scenario's lines.
//! let err = file::parse(&text.replace("failures = 5", "failures = 0")).unwrap_err();
//! assert_eq!((err.line(), err.column()), (21, 47));
//! assert_eq!(err.field(), "fusebox.fuses.db.strategy.failures");
//! # Ok::<(), file::ScenarioError>(())
//! ```
//!
//! # Errors
//!
//! [`parse`] and [`read`] return the first error of the file: a syntax
//! error if the text is not TOML; else the first that serde finds (an
//! unknown key, a wrong type, a bad duration), placed by the span the
//! `toml` parser gives it; else the earliest, in the file's order, of the
//! rules above and the fusebox config's own errors. A rule error points at
//! the value of the key it names (at the closest enclosing table when the
//! key is not written out), like `fusebox.toml`'s errors; an unknown or
//! duplicate key at the key; a missing one at the table that should hold it.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fusebox::duration::format as show;
use fusebox::{ConfigError, ConfigFile};
use serde::Deserialize;
use toml::de::{DeString, DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::scenario::{Latency, Scenario, Shape};

/// The largest scenario file (or fusebox config it names) [`read`] accepts:
/// 16 MiB, far beyond any story worth telling, well short of a mistake such
/// as a log file passed by accident.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// A scenario file, parsed and validated: the scenario, and the fusebox
/// config it carries or names, if any.
///
/// ```
/// let file = fusebox_sim::file::parse(
///     "duration = \"1m\"\n\
///      load = { closed = { clients = 10, think = \"1s\" }, timeout = \"2s\" }\n\
///      dependency = { connections = 4, latency = { kind = \"constant\", value = \"5ms\" } }\n",
/// )?;
/// assert_eq!(file.scenario.load.closed.unwrap().clients, 10);
/// assert!(file.fusebox.is_none());
/// # Ok::<(), fusebox_sim::file::ScenarioError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// What to simulate.
    pub scenario: Scenario,
    /// The fusebox config of the `fusebox` key (inline, or the file it
    /// names); `None` if the file has none.
    pub fusebox: Option<ConfigFile>,
}

/// Parses and validates a scenario; the error is the first of the text (see
/// the [module documentation](self#errors)). A `fusebox` key naming a path
/// is an error here: there is no directory to resolve it against; use
/// [`read`].
///
/// ```
/// let text = r#"
/// duration = "0s"
/// load = { open = { rate = 50.0 }, timeout = "1s" }
/// dependency = { connections = 4, latency = { kind = "exponential", mean = "10ms" } }
/// "#;
/// let err = fusebox_sim::file::parse(text).unwrap_err();
/// assert_eq!(err.to_string(), "2:12: duration: must be greater than zero");
/// ```
pub fn parse(text: &str) -> Result<ScenarioFile, ScenarioError> {
    load(text, None)
}

/// Reads, parses and validates the scenario file at `path` (at most
/// [`MAX_FILE_SIZE`] bytes of UTF-8); errors name the file. A `fusebox =
/// "fusebox.toml"` path is read relative to the scenario's directory, and
/// errors in it name that file.
///
/// ```no_run
/// use std::path::Path;
///
/// match fusebox_sim::file::read(Path::new("scenarios/night.toml")) {
///     Ok(file) => println!("{}", file.scenario.description),
///     Err(e) => eprintln!("{e}"), // scenarios/night.toml:12:9: ...
/// }
/// ```
pub fn read(path: &Path) -> Result<ScenarioFile, ScenarioError> {
    let name: Arc<str> = path.display().to_string().into();
    let text = read_capped(path).map_err(|e| e.error(name.clone()))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    // An error in a config file the scenario names already names that file.
    load(&text, Some(dir)).map_err(|e| {
        if e.file().is_some() {
            e
        } else {
            e.in_file(name)
        }
    })
}

/// What is wrong in a scenario file, and where: the line and column (from
/// 1, the column in characters), the dotted field (`load.open.rate`,
/// `episodes[1].end`, `fusebox.fuses.db.heal.steps[0].delay`) and a
/// message.
///
/// `Display` writes it as compilers do, `scenario.toml:12:9:
/// episodes[1].end: must be after start (start 30s, end 20s)`, the file
/// name first when the text was [`read`] from a file. An error in a fusebox
/// config the scenario names by path names that file, with its line.
///
/// ```
/// let err = fusebox_sim::file::parse("duration = \"30s\"\nlod = 1\n").unwrap_err();
/// assert_eq!((err.line(), err.column(), err.field()), (2, 1, "lod"));
/// assert!(err.message().starts_with("unknown field `lod`"));
/// assert!(err.file().is_none());
/// ```
pub type ScenarioError = fusebox::config_file::ConfigFileError;

/// What a scenario error is about, before it becomes the core's error.
enum Kind {
    /// Not TOML.
    Syntax,
    /// TOML, but not the shape of a scenario (serde refused it).
    Shape,
    /// The right shape, breaking a rule.
    Rule,
    /// The fusebox config refused it, with the core's rule if it was one.
    Config(Option<ConfigError>),
    /// A file could not be read.
    Io(Option<io::Error>),
}

/// An error at `pos` in `field`, of `kind`.
fn error(
    pos: (usize, usize),
    field: String,
    message: impl Into<String>,
    kind: Kind,
) -> ScenarioError {
    let e = match kind {
        Kind::Syntax => ScenarioError::syntax_at(pos, field, message),
        _ => ScenarioError::at(pos, field, message),
    };
    match kind {
        Kind::Config(Some(rule)) => e.with_rule(rule),
        Kind::Io(Some(io)) => e.with_io(io),
        _ => e,
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Why a file could not be read.
enum Unreadable {
    Io(io::Error),
    TooLarge,
    NotUtf8,
}

impl Unreadable {
    fn message(&self) -> String {
        match self {
            Unreadable::Io(e) => format!("cannot read: {e}"),
            Unreadable::TooLarge => format!(
                "cannot read: larger than {} MiB",
                MAX_FILE_SIZE / (1024 * 1024)
            ),
            Unreadable::NotUtf8 => "cannot read: not UTF-8 text".to_owned(),
        }
    }

    fn into_source(self) -> Option<io::Error> {
        match self {
            Unreadable::Io(e) => Some(e),
            _ => None,
        }
    }

    /// The error of a scenario file that could not be read: no line.
    fn error(self, file: Arc<str>) -> ScenarioError {
        let message = self.message();
        let e = ScenarioError::at((0, 0), String::new(), message);
        match self.into_source() {
            Some(io) => e.with_io(io),
            None => e,
        }
        .in_file(file)
    }
}

/// Reads at most [`MAX_FILE_SIZE`] bytes (a device or a growing file cannot
/// make it read more).
fn read_capped(path: &Path) -> Result<String, Unreadable> {
    let file = File::open(path).map_err(Unreadable::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Unreadable::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| Unreadable::NotUtf8)
}

/// The whole check: syntax, shape, then rules and the fusebox config.
/// `dir` is the scenario file's directory (`None` from [`parse`]).
fn load(text: &str, dir: Option<&Path>) -> Result<ScenarioFile, ScenarioError> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    let mut root = Spanned::new(root.span(), DeValue::Table(root.into_inner()));
    if let Some(e) = syntax
        .iter()
        .min_by_key(|e| e.span().map_or(0, |s| s.start))
    {
        let span = e.span().unwrap_or(0..0);
        let field = near(&root, text, span.clone(), e.message());
        return Err(error(
            line_column(text, span.start),
            dotted(&field),
            e.message(),
            Kind::Syntax,
        ));
    }

    // The fusebox config is the core's business: take it out of the tree
    // before serde sees the scenario's part.
    let fusebox = match root.get_mut() {
        DeValue::Table(t) => {
            let key = t.keys().find(|k| k.get_ref() == "fusebox").cloned();
            key.and_then(|k| t.remove_entry(&k))
        }
        _ => None, // a document is always a table
    };

    let scenario = Scenario::deserialize(ValueDeserializer::from(root.clone())).map_err(|e| {
        let (path, offset) = match e.span() {
            Some(span) => at_span(&root, span, e.message()),
            None => (Vec::new(), 0),
        };
        error(
            line_column(text, offset),
            dotted(&path),
            e.message(),
            Kind::Shape,
        )
    })?;
    steady_alone(text, &root, &scenario)?;

    // Every error from here on is a candidate; the earliest in the file
    // wins. Each carries the scenario offset it sorts by (an error in a
    // referenced file sorts at the `fusebox` key naming it).
    let mut found: Vec<(usize, ScenarioError)> = Vec::new();
    let config = match &fusebox {
        None => None,
        Some((key, value)) => match fusebox_config(text, key, value, dir) {
            Ok(config) => Some(config),
            Err((offset, e)) => {
                found.push((offset, e));
                None
            }
        },
    };
    let mut broken = rules(&scenario);
    if let Some(config) = &config {
        broken.extend(names(&scenario, config));
    }
    for (path, message) in broken {
        let offset = follow(&root, &path);
        let e = error(
            line_column(text, offset),
            dotted(&path),
            message,
            Kind::Rule,
        );
        found.push((offset, e));
    }
    match found
        .into_iter()
        .min_by_key(|(offset, e)| (*offset, (e.line(), e.column())))
    {
        Some((_, e)) => Err(e),
        None => Ok(ScenarioFile {
            scenario,
            fusebox: config,
        }),
    }
}

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

/// One step of a dotted path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(k: &str) -> Seg {
        Seg::Key(k.to_owned())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// A path from the document's root: `at!["episodes", 1, "end"]`.
macro_rules! at {
    ($($seg:expr),* $(,)?) => { vec![$(Seg::from($seg)),*] };
}

/// A broken rule: the field it names and what is wrong.
type Broken = (Vec<Seg>, String);

const POSITIVE: &str = "must be greater than zero";

/// Every rule of the scenario that its types do not already enforce
/// (durations cannot be negative, counts are unsigned), in the order of
/// the fields. The fusebox config's rules are the core's.
fn rules(s: &Scenario) -> Vec<Broken> {
    let mut out: Vec<Broken> = Vec::new();
    let mut positive = |path: Vec<Seg>, d: Duration| {
        if d.is_zero() {
            out.push((path, POSITIVE.to_owned()));
        }
    };
    positive(at!["duration"], s.duration);
    positive(at!["load", "timeout"], s.load.timeout);
    let mut latencies: Vec<(Vec<Seg>, Latency)> = Vec::new();
    for (i, d) in s.calls().into_iter().enumerate() {
        if let Some(t) = d.timeout {
            positive(dependency_field(s, i, "timeout"), t);
        }
        latencies.push((dependency_field(s, i, "latency"), d.latency));
        if let Some(st) = d.stragglers {
            let mut path = dependency_field(s, i, "stragglers");
            path.push(Seg::from("latency"));
            latencies.push((path, st.latency));
        }
    }
    for (i, e) in s.episodes.iter().enumerate() {
        if let Some(l) = e.extra_latency {
            latencies.push((at!["episodes", i, "extra_latency"], l));
        }
    }
    for (path, l) in &latencies {
        let field = |key: &str| {
            let mut p = path.clone();
            p.push(Seg::from(key));
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

    let mut rule = |ok: bool, path: Vec<Seg>, message: String| {
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
        if let Err(e) = b.build() {
            let field = e.field();
            let key = field.strip_prefix("budget.").unwrap_or(&field);
            rule(
                false,
                at!["load", "retry_budget", key],
                format!("{} (is {})", e.rule(), e.value()),
            );
        }
    }
    if let Some(h) = &s.load.hedge {
        match (h.after, h.quantile) {
            (Some(_), Some(_)) | (None, None) => rule(
                false,
                at!["load", "hedge"],
                "needs exactly one of `after` (a delay) and `quantile` (of recent latencies)"
                    .into(),
            ),
            (None, Some(_)) => {
                // The core's own check, its rule and its field.
                if let Err(e) = h.hedge().check() {
                    let field = e.field();
                    let key = field.strip_prefix("hedge.").unwrap_or(&field);
                    rule(
                        false,
                        at!["load", "hedge", key],
                        format!("{} (is {})", e.rule(), e.value()),
                    );
                }
            }
            (Some(_), None) => {}
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
            path.push(Seg::from("share"));
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
        let field = |key: &str| {
            let mut p = path.clone();
            p.push(Seg::from(key));
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
fn dependency_field(s: &Scenario, i: usize, key: &str) -> Vec<Seg> {
    match (&s.dependency, i) {
        (Some(_), 0) => at!["dependency", key],
        (Some(_), i) => at!["dependencies", i - 1, key],
        (None, i) => at!["dependencies", i, key],
    }
}

/// Each dependency's `fuse` and `valve` must name a fuse and a valve of the
/// scenario's own fusebox config.
fn names(s: &Scenario, config: &ConfigFile) -> Vec<Broken> {
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

// ---------------------------------------------------------------------------
// The fusebox config
// ---------------------------------------------------------------------------

/// The `fusebox` key's config: the file it names, or the table it holds.
/// An error comes with the scenario offset it sorts by.
fn fusebox_config(
    text: &str,
    key: &Spanned<DeString<'_>>,
    value: &Spanned<DeValue<'_>>,
    dir: Option<&Path>,
) -> Result<ConfigFile, (usize, ScenarioError)> {
    let at_value = |message: String, kind: Kind| {
        let offset = value.span().start;
        let e = error(line_column(text, offset), "fusebox".into(), message, kind);
        (offset, e)
    };
    match value.get_ref() {
        DeValue::String(rel) => {
            let Some(dir) = dir else {
                return Err(at_value(
                    format!(
                        "a path ({rel:?}) is read relative to the scenario file, and this text \
                         has none: read the scenario with `file::read`, or give the config inline \
                         as a [fusebox] table"
                    ),
                    Kind::Rule,
                ));
            };
            let path = dir.join(rel.as_ref());
            let name: Arc<str> = path.display().to_string().into();
            let config_text = read_capped(&path).map_err(|e| {
                let message = format!("{}: {}", name, e.message());
                at_value(message, Kind::Io(e.into_source()))
            })?;
            ConfigFile::parse(&config_text).map_err(|e| {
                let error = error(
                    (e.line(), e.column()),
                    e.field().to_owned(),
                    e.message(),
                    Kind::Config(e.config_error().cloned()),
                )
                .in_file(name);
                (key.span().start, error)
            })
        }
        DeValue::Table(_) => {
            let mut emitter = Emitter {
                text,
                out: String::new(),
                map: Vec::new(),
            };
            emitter.table(&mut Vec::new(), value, false);
            let Emitter { out, map, .. } = emitter;
            ConfigFile::check(&out).map_err(|errors| {
                errors
                    .into_iter()
                    .map(|e| {
                        let offset = back(&out, &map, e.line(), e.column());
                        let field = match e.field() {
                            "" => "fusebox".to_owned(),
                            f => format!("fusebox.{f}"),
                        };
                        let kind = Kind::Config(e.config_error().cloned());
                        let error = error(line_column(text, offset), field, e.message(), kind);
                        (offset, error)
                    })
                    .min_by_key(|(offset, _)| *offset)
                    .expect("check never returns an empty list")
            })
        }
        other => Err(at_value(
            format!(
                "invalid type: {}, expected a table (a fusebox config) or a string (its path)",
                other.type_str()
            ),
            Kind::Shape,
        )),
    }
}

/// Writes the `[fusebox]` subtree out as a `fusebox.toml` document for
/// [`ConfigFile::check`], remembering where each piece came from so that
/// the core's errors can be placed in the scenario.
///
/// Values (inline tables and arrays included) are copied byte for byte, so
/// a position inside one maps back exactly; keys and table headers are
/// rewritten one level up (`[fusebox.fuses.db]` becomes `[fuses.db]`) and
/// map back to the key or header they came from. Every table that a header
/// or a dotted key made becomes a header of its own, each written once, so
/// the document is valid TOML whenever the scenario was.
#[derive(Debug)]
struct Emitter<'t> {
    text: &'t str,
    out: String,
    map: Vec<Piece>,
}

/// From byte `gen` of the emitted text on: the scenario's byte `orig`,
/// advancing with it if the piece is a verbatim copy.
#[derive(Debug, Clone, Copy)]
struct Piece {
    gen: usize,
    orig: usize,
    verbatim: bool,
}

/// How a value of the subtree is written out.
enum Form<'a, 'i> {
    /// Copied as it is: a scalar, an inline table, an inline array.
    Value,
    /// A table opened by a header or dotted keys: a header of its own.
    Table,
    /// `[[...]]` elements.
    Tables(&'a [Spanned<DeValue<'i>>]),
}

impl<'t> Emitter<'t> {
    fn mark(&mut self, orig: usize, verbatim: bool) {
        self.map.push(Piece {
            gen: self.out.len(),
            orig,
            verbatim,
        });
    }

    fn form<'a, 'i>(&self, v: &'a Spanned<DeValue<'i>>) -> Form<'a, 'i> {
        let written = self.text.get(v.span()).unwrap_or("");
        match v.get_ref() {
            DeValue::Table(_) if !written.starts_with('{') => Form::Table,
            // An array of tables has the span of its first element's header.
            DeValue::Array(a)
                if a.first().is_some_and(|first| {
                    first.span() == v.span() && matches!(first.get_ref(), DeValue::Table(_))
                }) =>
            {
                Form::Tables(a.as_ref())
            }
            _ => Form::Value,
        }
    }

    fn key(&mut self, key: &str, orig: usize) {
        self.mark(orig, false);
        self.out.push_str(&quote(key));
    }

    /// A table's header (unless it is the root), its values, then its
    /// subtables. `keys` is the path from the root, each key with the
    /// scenario offset of its name.
    fn table(
        &mut self,
        keys: &mut Vec<(String, usize)>,
        node: &Spanned<DeValue<'_>>,
        element: bool,
    ) {
        let DeValue::Table(table) = node.get_ref() else {
            return;
        };
        let start = node.span().start;
        if !keys.is_empty() {
            self.mark(start, false);
            self.out.push_str(if element { "[[" } else { "[" });
            for (i, (k, orig)) in keys.iter().enumerate() {
                if i > 0 {
                    self.mark(start, false);
                    self.out.push('.');
                }
                self.key(k, *orig);
            }
            self.mark(start, false);
            self.out.push_str(if element { "]]\n" } else { "]\n" });
        }
        for (k, v) in table.iter() {
            if let Form::Value = self.form(v) {
                let span = v.span();
                self.key(k.get_ref(), k.span().start);
                self.mark(span.start, false);
                self.out.push_str(" = ");
                self.mark(span.start, true);
                let written = self.text.get(span.clone()).unwrap_or("\"\"");
                self.out.push_str(written);
                self.mark(span.end, false);
                self.out.push('\n');
            }
        }
        for (k, v) in table.iter() {
            keys.push((k.get_ref().to_string(), k.span().start));
            match self.form(v) {
                Form::Value => {}
                Form::Table => self.table(keys, v, false),
                Form::Tables(elements) => {
                    for e in elements {
                        self.table(keys, e, true);
                    }
                }
            }
            keys.pop();
        }
    }
}

/// The scenario offset of a line and column of the emitted text.
fn back(out: &str, map: &[Piece], line: usize, column: usize) -> usize {
    let line_start: usize = out
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &out[line_start.min(out.len())..];
    let gen = line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i);
    let i = map.partition_point(|p| p.gen <= gen);
    match i.checked_sub(1).map(|i| map[i]) {
        Some(p) if p.verbatim => p.orig + (gen - p.gen),
        Some(p) => p.orig,
        None => map.first().map_or(0, |p| p.orig),
    }
}

/// A key as TOML writes it: bare if it can be, else a basic string.
fn quote(key: &str) -> String {
    if is_bare(key) {
        return key.to_owned();
    }
    let mut out = String::from("\"");
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

// ---------------------------------------------------------------------------
// Where things are
// ---------------------------------------------------------------------------
//
// serde says what is wrong; to say where, the document is also kept as a
// tree of spanned values (byte offsets into the text). A table opened by a
// header (`[load]`) has the header as its span, not its contents, and a
// table may be split over several headers, so lookups compare spans node
// by node rather than descend by containment.

/// A dotted path as the errors write it: `episodes[1].flap.down_for`, keys
/// quoted where TOML would quote them.
fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if is_bare(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
        }
    }
    out
}

/// Visits every node below `node` (itself included) with its path and the
/// span of the key naming it (none for the root and array elements).
fn walk<'a, 'i>(
    node: &'a Spanned<DeValue<'i>>,
    path: &mut Vec<Seg>,
    key_span: Option<Range<usize>>,
    visit: &mut impl FnMut(&[Seg], Option<&Range<usize>>, &'a Spanned<DeValue<'i>>),
) {
    visit(path, key_span.as_ref(), node);
    match node.get_ref() {
        DeValue::Table(t) => {
            for (k, v) in t.iter() {
                path.push(Seg::Key(k.get_ref().to_string()));
                walk(v, path, Some(k.span()), visit);
                path.pop();
            }
        }
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(v, path, None, visit);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The node a deserializer error's span designates, and the offset to
/// point at: the deepest node whose value span is exactly `span` (narrowed
/// to the key the message is about, see [`narrow`]), else the key whose
/// span is, else the smallest node containing it, else the root.
fn at_span(root: &Spanned<DeValue<'_>>, span: Range<usize>, message: &str) -> (Vec<Seg>, usize) {
    let mut exact: Option<(Vec<Seg>, &Spanned<DeValue<'_>>)> = None;
    let mut key: Option<Vec<Seg>> = None;
    let mut containing: Option<(Vec<Seg>, Range<usize>)> = None;
    walk(root, &mut Vec::new(), None, &mut |path, key_span, node| {
        let vs = node.span();
        if vs == span && exact.as_ref().is_none_or(|(p, _)| p.len() <= path.len()) {
            exact = Some((path.to_vec(), node));
        }
        if key_span == Some(&span) {
            key = Some(path.to_vec());
        }
        if vs.start <= span.start
            && span.end <= vs.end
            && containing.as_ref().is_none_or(|(_, c)| vs.len() <= c.len())
        {
            containing = Some((path.to_vec(), vs));
        }
    });
    if let Some((path, node)) = exact {
        return narrow(path, node, message);
    }
    if let Some(path) = key {
        return (path, span.start);
    }
    match containing {
        Some((path, vs)) => (path, vs.start),
        None => (Vec::new(), span.start),
    }
}

/// An error reported against a whole table: point at the key it is about.
///
/// serde reads an internally tagged enum (`latency = { kind = ... }`) from a
/// buffer, so the `toml` deserializer can only give the table's span to
/// what goes wrong inside; serde's messages quote the culprit, though
/// (`unknown field `mena``, `unknown variant `gamma``, `invalid type:
/// string "x"`, and the duration parser quotes the text it refused). The
/// first key whose name or value is quoted is the one; a `missing field`
/// stays on the table, naming the field.
fn narrow(path: Vec<Seg>, node: &Spanned<DeValue<'_>>, message: &str) -> (Vec<Seg>, usize) {
    let here = node.span().start;
    let DeValue::Table(table) = node.get_ref() else {
        return (path, here);
    };
    let with = |k: &str| {
        let mut p = path.clone();
        p.push(Seg::Key(k.to_owned()));
        p
    };
    if let Some(name) = quoted_after(message, "missing field `") {
        return (with(name), here);
    }
    if let Some(name) = quoted_after(message, "unknown field `") {
        if let Some((k, _)) = table.iter().find(|(k, _)| k.get_ref() == name) {
            return (with(name), k.span().start);
        }
    }
    let variant = quoted_after(message, "unknown variant `");
    for (k, v) in table.iter() {
        let hit = match v.get_ref() {
            DeValue::String(s) => {
                variant == Some(s.as_ref()) || message.contains(&format!("{:?}", s.as_ref()))
            }
            DeValue::Integer(i) => message.contains(&format!("`{}`", i.as_str())),
            DeValue::Float(x) => message.contains(&format!("`{}`", x.as_str())),
            DeValue::Boolean(b) => message.contains(&format!("`{b}`")),
            _ => false,
        };
        if hit {
            return (with(k.get_ref()), v.span().start);
        }
    }
    (path, here)
}

/// The text between `prefix` and the next backtick.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.find('`').map(|end| &rest[..end])
}

/// serde reads a unit variant of an internally tagged enum without looking
/// at the rest of its table, so `shape = { kind = "steady", to = 50.0 }`
/// would pass, the `to` silently ignored: refuse it as serde refuses
/// unknown keys elsewhere.
fn steady_alone(
    text: &str,
    root: &Spanned<DeValue<'_>>,
    scenario: &Scenario,
) -> Result<(), ScenarioError> {
    if scenario.load.open.as_ref().map(|o| &o.shape) != Some(&Shape::Steady) {
        return Ok(());
    }
    let path = at!["load", "open", "shape"];
    let Some(DeValue::Table(shape)) = node(root, &path).map(Spanned::get_ref) else {
        return Ok(());
    };
    let extra = shape
        .iter()
        .filter(|(k, _)| k.get_ref() != "kind")
        .min_by_key(|(k, _)| k.span().start);
    match extra {
        None => Ok(()),
        Some((k, _)) => {
            let mut path = path;
            path.push(Seg::Key(k.get_ref().to_string()));
            Err(error(
                line_column(text, k.span().start),
                dotted(&path),
                format!(
                    "unknown field `{}`: a steady shape has only `kind`",
                    k.get_ref()
                ),
                Kind::Shape,
            ))
        }
    }
}

/// The node at `path`, if it is written out.
fn node<'a, 'i>(root: &'a Spanned<DeValue<'i>>, path: &[Seg]) -> Option<&'a Spanned<DeValue<'i>>> {
    let mut node = root;
    for seg in path {
        node = match (seg, node.get_ref()) {
            (Seg::Key(k), DeValue::Table(t)) => t
                .iter()
                .find(|(key, _)| key.get_ref() == k.as_str())
                .map(|(_, v)| v)?,
            (Seg::Index(i), DeValue::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The offset of the value at `path`, or of the closest ancestor written
/// out (a rule about a defaulted key points at its table).
fn follow(root: &Spanned<DeValue<'_>>, path: &[Seg]) -> usize {
    let mut node = root;
    for seg in path {
        let next = match (seg, node.get_ref()) {
            (Seg::Key(k), DeValue::Table(t)) => t
                .iter()
                .find(|(key, _)| key.get_ref() == k.as_str())
                .map(|(_, v)| v),
            (Seg::Index(i), DeValue::Array(a)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(v) => node = v,
            None => break,
        }
    }
    node.span().start
}

/// For a syntax error at `span`: the table it is in, as far as the tree
/// recovered from the broken text tells. A key whose span is exactly the
/// error's (a duplicate key) is the one; else the table holding the error
/// (an inline table), or the last header before it (a header's span is the
/// header alone), the deepest if several start at the same place; else the
/// root. A table rather than a key: the key being written when the text
/// went wrong is often not in the recovered tree.
fn near(root: &Spanned<DeValue<'_>>, text: &str, span: Range<usize>, message: &str) -> Vec<Seg> {
    let duplicate = message
        .starts_with("duplicate key")
        .then(|| text.get(span.clone()))
        .flatten()
        .map(|k| k.trim_matches(|c| c == '"' || c == '\''))
        .filter(|k| !k.is_empty());
    let mut exact: Option<Vec<Seg>> = None;
    let mut best: Option<(usize, Vec<Seg>)> = None;
    walk(root, &mut Vec::new(), None, &mut |path, key_span, node| {
        if key_span == Some(&span) {
            exact = Some(path.to_vec());
        }
        if path.is_empty() || !matches!(node.get_ref(), DeValue::Table(_)) {
            return;
        }
        // Recovery can leave a table whose key comes after the error.
        if key_span.is_some_and(|k| k.start > span.start) {
            return;
        }
        let vs = node.span();
        let holds = vs.start <= span.start && span.start < vs.end;
        let header_before =
            vs.start <= span.start && text.get(vs.clone()).is_some_and(|h| h.starts_with('['));
        if (holds || header_before)
            && best.as_ref().is_none_or(|(start, p)| {
                vs.start > *start || (vs.start == *start && path.len() > p.len())
            })
        {
            best = Some((vs.start, path.to_vec()));
        }
    });
    let mut path = exact.or(best.map(|(_, p)| p)).unwrap_or_default();
    if let Some(key) = duplicate {
        if path.last() != Some(&Seg::Key(key.to_owned())) {
            path.push(Seg::Key(key.to_owned()));
        }
    }
    path
}

/// The 1-based line and column (in characters) of byte `offset`: the core's
/// line index, so scenario files and config files place errors alike.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    fusebox::config_file::LineIndex::new(text).position(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_on_a_line() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 8), (2, 2)); // inside é: its start
        assert_eq!(line_column(text, 1_000), (2, 7));
        assert_eq!(line_column("", 0), (1, 1));
    }

    #[test]
    fn paths_quote_what_toml_would_quote() {
        let p = at![
            "fusebox",
            "fuses",
            "db.primary",
            "heal",
            "steps",
            2,
            "delay"
        ];
        assert_eq!(
            dotted(&p),
            r#"fusebox.fuses."db.primary".heal.steps[2].delay"#
        );
        assert_eq!(quote("db.primary"), r#""db.primary""#);
        assert_eq!(quote("a\"b\n"), r#""a\"b\u000A""#);
    }

    /// The emitted config parses back to the same fuses and valves, in
    /// every form a TOML table can take.
    #[test]
    fn the_emitted_config_is_the_same_config() {
        let text = r#"
[fusebox]
[fusebox.fuses.db]
strategy.kind = "consecutive"
strategy.failures = 3
heal = { steps = [
    { delay = "1s" },   # a comment inside an array
    { probe = 1 },
] }
[fusebox.fuses."odd name"]
strategy = { kind = "standard", max_melts = 1, window = "1s" }
heal = { steps = ["barrier"] }
[[fusebox.fuses.aot.heal.steps]]
delay = "2s"
[[fusebox.fuses.aot.heal.steps]]
probe = 2
[fusebox.fuses.aot.strategy]
kind = "consecutive"
failures = 1
[fusebox.valves.db]
"#;
        let root = DeTable::parse(text).unwrap();
        let root = Spanned::new(root.span(), DeValue::Table(root.into_inner()));
        let DeValue::Table(top) = root.get_ref() else {
            unreachable!()
        };
        let (_, fb) = top.iter().find(|(k, _)| k.get_ref() == "fusebox").unwrap();
        let mut emitter = Emitter {
            text,
            out: String::new(),
            map: Vec::new(),
        };
        emitter.table(&mut Vec::new(), fb, false);
        let emitted =
            ConfigFile::parse(&emitter.out).unwrap_or_else(|e| panic!("{e}\n{}", emitter.out));
        let standalone =
            ConfigFile::parse(&text.replace("fusebox.", "").replace("[fusebox]", "")).unwrap();
        assert_eq!(emitted.fuses().len(), 3);
        assert_eq!(emitted.fuses(), standalone.fuses());
        assert_eq!(emitted.valves(), standalone.valves());
    }
}
