//! Fuses, valves and pipelines declared in a TOML file, as Erlang fuse's
//! were declared in `sys.config`.
//!
//! A service's breakers are operations' business as much as code's: how many
//! melts a dependency may have, how long to wait before trying it again, how
//! many requests to queue. A [`ConfigFile`] lets those numbers live in a file
//! that is reviewed and changed without a rebuild, and checks it the way
//! [`Fusebox::install`](crate::Fusebox::install) checks a config, once,
//! before anything is installed: every rule of [`FuseConfig::validate`] and
//! [`ValveConfig::validate`], the pipeline builder's checks, no unknown
//! keys, and every valve's `guard` naming a fuse of the same file.
//! Whatever is wrong is reported with its line, column and dotted field, as a
//! compiler would: a config that fails at 3 a.m. should say where.
//!
//! # The file
//!
//! Three tables, `fuses`, `valves` and `pipelines`, each holding one table
//! per name. A
//! fuse has a `strategy` (a table with a `kind`) and a `heal` (a list of
//! steps, with optional `backoff` and `jitter`); a valve has the fields of
//! [`ValveConfig`], all optional; a pipeline ([`PipelineSpec`]) a `retry`,
//! a `budget`, a `hedge`, a `timeout` and the names of a `fuse` and a
//! `valve` (of the same file, or installed before the load: the one thing
//! only [`Fusebox::load_config`](crate::Fusebox::load_config) can check),
//! all optional. Durations are strings with a unit
//! (`"250ms"`, `"10s"`, `"5m"`, `"1h"`; a bare number is milliseconds).
//! `examples/fusebox.toml` in the repository declares one of everything.
//!
//! ```toml
//! [fuses.db]
//! strategy = { kind = "standard", max_melts = 5, window = "10s" }
//! heal = { steps = [{ delay = "60s" }] }
//!
//! [fuses.search.strategy]           # the same, one key a line
//! kind = "failure_rate"
//! ratio = 0.5
//! window = "30s"
//! min_calls = 20
//! slow_call = "800ms"
//!
//! [fuses.search.heal]
//! steps = [{ delay = "30s" }, { gradual = 0.1 }, { delay = "10s" }, { probe = 3 }]
//! backoff = { factor = 2.0, max = "10m" }
//! jitter = 0.2
//!
//! [valves.api]
//! concurrency = 8
//! rate = { count = 100, period = "1s" }
//! burst = 20
//! queue = 64
//! discipline = { kind = "codel", target = "5ms", interval = "100ms" }
//! max_wait = "2s"
//! guard = "db"
//!
//! [pipelines.db]                    # fallback ─► retry/hedge ─► fuse ─► valve ─► timeout
//! retry = { attempts = 3, deadline = "2s", backoff = { kind = "exponential", base = "10ms", max = "1s", jitter = "full" } }
//! budget = { ratio = 0.2, min_per_sec = 10, ttl = "10s" }
//! hedge = { quantile = 0.95, initial = "50ms" }
//! fuse = "db"
//! valve = "api"
//! timeout = "200ms"
//! ```
//!
//! Strategy kinds: `standard`, `fault_injection` (adds `rate`),
//! `consecutive` (`failures`), `failure_rate` (`ratio`, `window`,
//! `min_calls`, optional `slow_call`), `throttle` (`k`, `window`, optional
//! `min_requests`, `blow_at`, `max_reject`, `slow_call`). Heal steps: `{ delay = "10s" }`,
//! `{ gradual = 0.25 }`, `{ probe = 2 }`, `"barrier"`. Disciplines:
//! `{ kind = "fifo" }` (the default), `{ kind = "lifo" }`,
//! `{ kind = "codel", target, interval }`,
//! `{ kind = "adaptive_lifo", standing }`. Backoff kinds: `constant`
//! (`base`), `exponential` (`base`, `max`, `factor` = 2); jitter `none`,
//! `full` or `decorrelated`. Hedges: `{ after }` or `{ quantile, initial,
//! window, min_samples }`, either with `max`.
//!
//! # Example
//!
//! ```
//! use fusebox::{ConfigFile, Fusebox, fuse::FuseState};
//!
//! let text = r#"
//! [fuses.db]
//! strategy = { kind = "consecutive", failures = 3 }
//! heal = { steps = [{ delay = "30s" }, { probe = 1 }] }
//!
//! [valves.api]
//! concurrency = 8
//! queue = 64
//! guard = "db"
//! "#;
//! let file = ConfigFile::parse(text)?;
//! let fb = Fusebox::new();
//! fb.load_config(&file)?;                       // fuses first, then valves
//! assert_eq!(fb.state("db")?.state, FuseState::Ok);
//! assert_eq!(fb.valve("api").unwrap().snapshot().concurrency, 8);
//!
//! // Every error says where, and which rule.
//! let bad = text.replace("failures = 3", "failures = 0");
//! let err = ConfigFile::parse(&bad).unwrap_err().in_file("fusebox.toml");
//! assert_eq!(err.line(), 3);
//! assert_eq!(err.field(), "fuses.db.strategy.failures");
//! assert_eq!(
//!     err.to_string(),
//!     "fusebox.toml:3:47: fuses.db.strategy.failures: must be at least 1",
//! );
//!
//! // `check` reports them all, in the order of the file.
//! let bad = bad.replace("concurrency = 8", "concurrency = 0");
//! let lines: Vec<_> = ConfigFile::check(&bad).unwrap_err().iter().map(|e| e.line()).collect();
//! assert_eq!(lines, [3, 7]);                    // one error per fuse or valve
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! [`ConfigFile::parse`] returns the first error in the file's order;
//! [`ConfigFile::check`] returns every error it can find: every TOML syntax
//! error, or, if the text is TOML, the first error of each fuse and valve
//! and every unknown top-level key. Serde stops at the first error of a
//! value, and one wrong field often explains the next, so more than one
//! error per fuse would mostly be noise.

mod document;
mod entry;
mod error;
mod lines;
mod load;
mod locate;
mod pipeline;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path as FsPath;
use std::sync::Arc;

use toml::de::DeValue;
use toml::Spanned;

pub use self::document::Document;
use self::entry::{entry_name, read_fuse, read_valve, segments, sorted};
pub use self::error::ConfigFileError;
use self::error::Kind;
pub use self::lines::LineIndex;
use self::locate::{Locator, Path};
use self::pipeline::{read_pipeline, Places};
pub use self::pipeline::{BudgetSpec, HedgeSpec, PipelineSpec, RetrySpec};
use crate::error::ConfigError;
use crate::fuse::FuseConfig;
use crate::valve::ValveConfig;

/// The fuses, valves and pipelines of a TOML config file, parsed and
/// validated; install them with [`Fusebox::load_config`](crate::Fusebox::load_config).
///
/// See the [module documentation](self) for the file's shape.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{ConfigFile, Strategy};
///
/// let file = ConfigFile::parse(r#"
///     [fuses.db]
///     strategy = { kind = "standard", max_melts = 5, window = "10s" }
///     heal = { steps = [{ delay = "1m" }] }
/// "#)?;
/// let db = &file.fuses()["db"];
/// assert_eq!(db.strategy, Strategy::Standard { max_melts: 5, window: Duration::from_secs(10) });
/// assert!(file.valves().is_empty());
/// # Ok::<(), fusebox::config_file::ConfigFileError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    fuses: BTreeMap<String, FuseConfig>,
    valves: BTreeMap<String, ValveConfig>,
    pipelines: BTreeMap<String, PipelineSpec>,
    /// Where each fuse, valve and pipeline is declared, for errors found at
    /// install.
    fuse_places: BTreeMap<String, (usize, usize)>,
    valve_places: BTreeMap<String, (usize, usize)>,
    pipeline_places: BTreeMap<String, Places>,
    /// Where the config's table is in its document (the root, or a
    /// scenario's `fusebox`): install errors name fields from there.
    prefix: Path,
    file: Option<Arc<str>>,
}

impl ConfigFile {
    /// Parses and validates a config; the error is the first in the file.
    ///
    /// ```
    /// use fusebox::ConfigFile;
    ///
    /// let err = ConfigFile::parse("[fuses.db]\nstrategy = { kind = \"standrad\" }\n").unwrap_err();
    /// assert_eq!((err.line(), err.field()), (2, "fuses.db.strategy.kind"));
    /// assert!(err.message().starts_with("unknown variant `standrad`"));
    /// ```
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigFileError> {
        Self::check(text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Parses and validates a config, reporting every error found, in the
    /// order of the file (never an empty list). See the
    /// [module documentation](self#errors) for what "every" covers.
    ///
    /// ```
    /// use fusebox::ConfigFile;
    ///
    /// let text = "[valves.a]\nconcurrency = 0\n[valves.b]\nqueue = -1\n[valvs]\n";
    /// let errors = ConfigFile::check(text).unwrap_err();
    /// let found: Vec<_> = errors.iter().map(|e| (e.line(), e.field())).collect();
    /// assert_eq!(found, [(2, "valves.a.concurrency"), (4, "valves.b.queue"), (5, "valvs")]);
    /// ```
    pub fn check(text: &str) -> Result<ConfigFile, Vec<ConfigFileError>> {
        let doc = Document::parse_all(text)?;
        Self::read_table(&doc, Path::default(), doc.root())
    }

    /// The config written as the table `value` of `doc`, at `prefix` (the
    /// root for a `fusebox.toml`, `fusebox` for a scenario's table): every
    /// error placed in `doc`, its field starting with `prefix`.
    pub(crate) fn read_table(
        doc: &Document<'_>,
        prefix: Path,
        root: &Spanned<DeValue<'_>>,
    ) -> Result<ConfigFile, Vec<ConfigFileError>> {
        let lines = doc.lines();
        let mut errors: Vec<ConfigFileError> = Vec::new();
        let mut file = ConfigFile {
            prefix: prefix.clone(),
            ..ConfigFile::default()
        };
        let mut fuse_entries = Vec::new();
        let mut valve_entries = Vec::new();
        let mut pipeline_entries = Vec::new();
        let top = match root.get_ref() {
            DeValue::Table(top) => top.iter().collect(),
            _ => Vec::new(), // a document is always a table, and `Document::config_file` checks
        };
        for (key, value) in top {
            let name = key.get_ref().as_ref();
            let entries = match name {
                "fuses" => &mut fuse_entries,
                "valves" => &mut valve_entries,
                "pipelines" => &mut pipeline_entries,
                _ => {
                    errors.push(ConfigFileError::new(
                        lines.position(key.span().start),
                        prefix.clone().key(name).to_string(),
                        format!(
                            "unknown field `{name}`, expected `fuses`, `valves` or `pipelines`"
                        ),
                        Kind::Shape,
                    ));
                    continue;
                }
            };
            let DeValue::Table(table) = value.get_ref() else {
                errors.push(ConfigFileError::new(
                    lines.position(value.span().start),
                    prefix.clone().key(name).to_string(),
                    format!(
                        "invalid type: {}, expected a table of {name}",
                        value.get_ref().type_str()
                    ),
                    Kind::Shape,
                ));
                continue;
            };
            for (k, v) in table.iter() {
                entries.push(Locator {
                    path: prefix.clone().key(name).key(k.get_ref()),
                    key_span: k.span(),
                    value: v,
                });
            }
        }

        for entry in &fuse_entries {
            match read_fuse(lines, entry) {
                Ok(cfg) => {
                    let name = entry_name(entry);
                    file.fuse_places
                        .insert(name.clone(), lines.position(entry.value.span().start));
                    file.fuses.insert(name, cfg);
                }
                Err(e) => errors.push(e),
            }
        }
        // A set: a list searched once per valve was quadratic too.
        let declared: BTreeSet<String> = fuse_entries.iter().map(entry_name).collect();
        for entry in &valve_entries {
            match read_valve(lines, entry, &declared) {
                Ok(cfg) => {
                    let name = entry_name(entry);
                    file.valve_places
                        .insert(name.clone(), lines.position(entry.value.span().start));
                    file.valves.insert(name, cfg);
                }
                Err(e) => errors.push(e),
            }
        }
        for entry in &pipeline_entries {
            match read_pipeline(lines, entry) {
                Ok((spec, places)) => {
                    let name = entry_name(entry);
                    file.pipeline_places.insert(name.clone(), places);
                    file.pipelines.insert(name, spec);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(file)
        } else {
            Err(sorted(errors))
        }
    }

    /// Reads and parses the file at `path`; errors name it.
    ///
    /// ```no_run
    /// use fusebox::{ConfigFile, Fusebox};
    ///
    /// let fb = Fusebox::new();
    /// match ConfigFile::read("/etc/myservice/fusebox.toml") {
    ///     Ok(file) => fb.load_config(&file).unwrap(),
    ///     Err(e) => eprintln!("{e}"),   // /etc/myservice/fusebox.toml:12:9: ...
    /// }
    /// ```
    pub fn read(path: impl AsRef<FsPath>) -> Result<ConfigFile, ConfigFileError> {
        let path = path.as_ref();
        let name: Arc<str> = path.display().to_string().into();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError::io(&name, e))?;
        let mut file = Self::parse(&text).map_err(|e| e.in_file(name.clone()))?;
        file.file = Some(name);
        Ok(file)
    }

    /// The fuses, by name.
    pub fn fuses(&self) -> &BTreeMap<String, FuseConfig> {
        &self.fuses
    }

    /// The valves, by name.
    pub fn valves(&self) -> &BTreeMap<String, ValveConfig> {
        &self.valves
    }

    /// The pipelines, by name: what each declares, its fuse and valve by
    /// name ([`Fusebox::load_config`](crate::Fusebox::load_config) builds
    /// them).
    pub fn pipelines(&self) -> &BTreeMap<String, PipelineSpec> {
        &self.pipelines
    }

    /// An error found when installing a fuse, valve or pipeline of this
    /// file, placed at its declaration.
    fn install_error(&self, section: &str, name: &str, err: ConfigError) -> ConfigFileError {
        let (place, field) = match section {
            "fuses" => (self.fuse_places.get(name).copied(), segments(&err)),
            "valves" => (self.valve_places.get(name).copied(), segments(&err)),
            _ => (
                self.pipeline_places.get(name).map(|p| p.entry),
                pipeline::file_field(&err),
            ),
        };
        let mut path = self.prefix.clone().key(section).key(name);
        if err.field() != "name" {
            path.0.extend(field);
        }
        let e = ConfigFileError::new(
            place.unwrap_or((1, 1)),
            path.to_string(),
            err.rule(),
            Kind::Rule(Some(err)),
        );
        self.named(e)
    }

    /// A pipeline's `fuse` or `valve` (the `key`) names neither one of this
    /// file nor one installed in the Fusebox it was loaded into.
    fn missing(&self, name: &str, key: &str, target: &str) -> ConfigFileError {
        let places = self.pipeline_places.get(name).copied().unwrap_or_default();
        let place = if key == "fuse" {
            places.fuse
        } else {
            places.valve
        };
        let e = ConfigFileError::new(
            place,
            self.prefix
                .clone()
                .key("pipelines")
                .key(name)
                .key(key)
                .to_string(),
            format!("names no {key} of this file or of the Fusebox ({target:?})"),
            Kind::Rule(None),
        );
        self.named(e)
    }

    fn named(&self, e: ConfigFileError) -> ConfigFileError {
        match &self.file {
            Some(f) => e.in_file(f.clone()),
            None => e,
        }
    }
}
