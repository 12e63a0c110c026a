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
//! | `load.retry_budget` | none | `{ ratio, min_per_sec, ttl }`, a pipeline's `budget` table as `fusebox.toml` writes it (the core's [`BudgetSpec`](fusebox::config_file::BudgetSpec), every key required): fusebox's [`RetryBudget`](fusebox::retry::RetryBudget) on the run's clock; retries at most `ratio` (0 to 1000) of first attempts plus `min_per_sec` a second, over `ttl` (10 ms to 1 h); a retry it refuses is not made |
//! | `load.hedge` | none | a pipeline's `hedge` table as `fusebox.toml` writes it (the core's [`HedgeSpec`](fusebox::config_file::HedgeSpec)): `{ after }` (a delay) or `{ quantile, initial, window = 128, min_samples = 20 }` (the quantile, in (0, 1], of the last `window` (1 to 1024) successful attempts' latencies, `initial` until `min_samples` (1 to `window`) are known), either with `max` (0 turns hedging off; the simulator makes at most one hedge per attempt): an attempt still running then gets one copy, paid from `retry_budget` if there is one; the first success wins and the other is dropped |
//! | `load.pipeline` | none | a pipeline's name: in a run whose config declares `[pipelines.NAME]`, the clients call through it (its retries, backoff and deadline, budget, hedge and per-attempt timeout replace `retries`, `retry_after`, `retry_budget` and `hedge`; a refusal is never retried; its fuse and valve guard the first dependency in place of the dependency's); a run without a config keeps the scenario's fields |
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
//! unknown key, a wrong type, a bad duration); else the earliest, in the
//! file's order, of the rules above and the fusebox config's own errors.
//! Every error is placed by the core's
//! [`Document`], the locator `fusebox.toml`'s
//! errors come from, and the `[fusebox]` table is read by the core in
//! place ([`Document::config_file`](fusebox::config_file::Document::config_file)):
//! a rule error points at the value of the key it names (at the closest
//! enclosing table when the key is not written out), like `fusebox.toml`'s
//! errors; an unknown or duplicate key at the key; a missing one at the
//! table that should hold it.
//!
//! Files, one concept each: this one (the file and its check), `rules.rs`
//! (the scenario's rules), `read.rs` (reading a file, capped).
use std::path::Path;
use std::sync::Arc;

use fusebox::config_file::Document;
use fusebox::error::PathSegment;
use fusebox::ConfigFile;

use crate::scenario::Scenario;

#[macro_use]
mod rules;
mod read;

use self::read::read_capped;

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

/// The whole check: syntax, shape, then rules and the fusebox config.
/// `dir` is the scenario file's directory (`None` from [`parse`]).
fn load(text: &str, dir: Option<&Path>) -> Result<ScenarioFile, ScenarioError> {
    let doc = Document::parse(text)?;
    // The fusebox config is the core's business: serde reads the
    // scenario's part without it.
    let scenario: Scenario = doc.deserialize(&["fusebox"])?;
    steady_alone(&doc, &scenario)?;

    // Every error from here on is a candidate; the earliest in the file
    // wins. Each carries the position it sorts by (an error in a
    // referenced file sorts at the `fusebox` value naming it).
    let mut found: Vec<Placed> = Vec::new();
    let config = match fusebox_config(&doc, dir) {
        Ok(config) => config,
        Err(errors) => {
            found.extend(errors);
            None
        }
    };
    let mut broken = rules::rules(&scenario);
    if let Some(config) = &config {
        broken.extend(rules::names(&scenario, config));
    }
    for (path, message) in broken {
        let e = doc.error_at(&path, message);
        found.push(((e.line(), e.column()), e));
    }
    match found.into_iter().min_by_key(|(at, _)| *at) {
        Some((_, e)) => Err(e),
        None => Ok(ScenarioFile {
            scenario,
            fusebox: config,
        }),
    }
}

/// An error with the position (line, column) it sorts by.
type Placed = ((usize, usize), ScenarioError);

/// serde reads a unit variant of an internally tagged enum without looking
/// at the rest of its table, so `shape = { kind = "steady", to = 50.0 }`
/// would pass, the `to` silently ignored: refuse it as serde refuses
/// unknown keys elsewhere.
fn steady_alone(doc: &Document<'_>, scenario: &Scenario) -> Result<(), ScenarioError> {
    if scenario.load.open.as_ref().map(|o| &o.shape) != Some(&crate::scenario::Shape::Steady) {
        return Ok(());
    }
    doc.only_keys(
        &[
            PathSegment::Key("load"),
            PathSegment::Key("open"),
            PathSegment::Key("shape"),
        ],
        &["kind"],
        "a steady shape has only `kind`",
    )
}

/// The `fusebox` key's config: the file it names, or the table it holds
/// (read by the core in place). Errors come with the position they sort by.
fn fusebox_config(
    doc: &Document<'_>,
    dir: Option<&Path>,
) -> Result<Option<ConfigFile>, Vec<Placed>> {
    const FUSEBOX: &[PathSegment] = &[PathSegment::Key("fusebox")];
    let placed = |e: ScenarioError| ((e.line(), e.column()), e);
    let at_value = |message: String| {
        let e = doc.error_at(FUSEBOX, message);
        ((e.line(), e.column()), e)
    };
    match doc.type_at(FUSEBOX) {
        None => Ok(None),
        Some("string") => {
            let rel = doc.str_at(FUSEBOX).unwrap_or_default();
            let Some(dir) = dir else {
                return Err(vec![at_value(format!(
                    "a path ({rel:?}) is read relative to the scenario file, and this text \
                     has none: read the scenario with `file::read`, or give the config inline \
                     as a [fusebox] table"
                ))]);
            };
            let path = dir.join(rel);
            let name: Arc<str> = path.display().to_string().into();
            let config_text = read_capped(&path).map_err(|e| {
                let message = format!("{}: {}", name, e.message());
                let (at, err) = at_value(message);
                let err = match e.into_source() {
                    Some(io) => err.with_io(io),
                    None => err,
                };
                vec![(at, err)]
            })?;
            let at = at_value(String::new()).0;
            ConfigFile::parse(&config_text)
                .map(Some)
                .map_err(|e| vec![(at, e.in_file(name))])
        }
        Some("table") => match doc.config_file(FUSEBOX) {
            None => Ok(None),
            Some(Ok(config)) => Ok(Some(config)),
            Some(Err(errors)) => Err(errors.into_iter().map(placed).collect()),
        },
        Some(other) => Err(vec![at_value(format!(
            "invalid type: {other}, expected a table (a fusebox config) or a string (its path)"
        ))]),
    }
}
