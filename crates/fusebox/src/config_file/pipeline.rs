//! Reading one `[pipelines.NAME]` entry: the spec it declares, checked by
//! the pipeline builder's own rules.
//!
//! A pipeline in a file is data, not a live pipeline: its fuse and valve are
//! names (of the same file, or installed in the Fusebox it is loaded into),
//! and its budget is three numbers, because a budget is shared state that
//! only [`Fusebox::load_config`](crate::Fusebox::load_config) should create.
//! So the file gives a [`PipelineSpec`], which a tool may read without a
//! Fusebox (the simulator models its clients' retries and hedges from one),
//! and the load builds the [`Pipeline`](crate::pipeline::Pipeline).
//!
//! No rule is written twice: the spec is checked by building it once with
//! [`PipelineBuilder::build`] on a throwaway manual clock (the retry
//! policy's, the budget's, the hedge's and the timeout's rules), and the
//! fields those rules name are translated to the keys the file spells
//! (`max_attempts` is `retry.attempts`, `backoff.cap` is
//! `retry.backoff.max`). Only what the core has no rule for, because it is
//! the file's shape (a hedge is `after` *or* `quantile`), is checked here.

use std::time::Duration;

use serde::Deserialize;

use super::entry::{check_name, deserialize, entry_name, error_at, rule_error};
use super::error::{ConfigFileError, Kind};
use super::lines::LineIndex;
use super::locate::{Locator, Seg};
use crate::clock::ManualClock;
use crate::duration::serde_duration;
use crate::error::{ConfigError, PathSegment, Subject};
use crate::pipeline::{
    Hedge, Pipeline, PipelineBuilder, DEFAULT_LATENCY_WINDOW, DEFAULT_MIN_SAMPLES,
};
use crate::retry::{Backoff, RetryBudget, RetryPolicy};

/// A pipeline as a config file declares it: `[pipelines.NAME]`.
///
/// ```toml
/// [pipelines.db]
/// retry = { attempts = 3, deadline = "2s", backoff = { kind = "exponential", base = "10ms", max = "1s", jitter = "full" } }
/// budget = { ratio = 0.2, min_per_sec = 10, ttl = "10s" }
/// hedge = { quantile = 0.95, initial = "50ms", window = 128, min_samples = 20, max = 1 }
/// fuse = "db"
/// valve = "db"
/// timeout = "200ms"
/// ```
///
/// Every key is optional. `backoff.kind` is `constant` (`base`) or
/// `exponential` (`base`, `max`, optional `factor`, 2 by default); `jitter`
/// is `none` (the default), `full` or `decorrelated`. A hedge is
/// `{ after = "50ms" }` or `{ quantile, initial }` with optional `window`
/// and `min_samples`; both take an optional `max` (hedges per call, 1 by
/// default). `fuse` and `valve` name a fuse and a valve of the same file or
/// already installed in the Fusebox the file is loaded into.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::ConfigFile;
/// use fusebox::pipeline::{Hedge, HedgeDelay};
///
/// let file = ConfigFile::parse(r#"
///     [pipelines.search]
///     retry = { attempts = 3, backoff = { kind = "constant", base = "20ms" } }
///     budget = { ratio = 0.1, min_per_sec = 5, ttl = "10s" }
///     hedge = { after = "40ms" }
/// "#)?;
/// let spec = &file.pipelines()["search"];
/// let retry = spec.retry.as_ref().unwrap();
/// assert_eq!(retry.attempts, 3);
/// assert_eq!(retry.backoff.base(), Duration::from_millis(20));
/// assert_eq!(spec.budget.as_ref().unwrap().ratio, 0.1);
/// assert_eq!(spec.hedge.as_ref().unwrap().delay(), HedgeDelay::Fixed(Duration::from_millis(40)));
/// assert_eq!(spec.fuse, None);
/// # Ok::<(), fusebox::config_file::ConfigFileError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PipelineSpec {
    /// `retry`: attempts, backoff, deadline (one attempt without it).
    pub retry: Option<RetrySpec>,
    /// `budget`: what pays for retries and hedges (unbounded without it).
    pub budget: Option<BudgetSpec>,
    /// `hedge`: when to send a second attempt.
    pub hedge: Option<Hedge>,
    /// `fuse`: the name of the fuse every attempt asks.
    pub fuse: Option<String>,
    /// `valve`: the name of the valve every attempt runs under.
    pub valve: Option<String>,
    /// `timeout`: how long each attempt's call may take.
    pub timeout: Option<Duration>,
}

/// A pipeline's `retry` table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetrySpec {
    /// `attempts`: the most attempts, the first included.
    pub attempts: u32,
    /// `backoff`: the wait before each retry ([`Backoff::none`] without it).
    pub backoff: Backoff,
    /// `deadline`: no retry starts this long or later after the call began.
    pub deadline: Option<Duration>,
}

/// A pipeline's `budget` table, the arguments of [`RetryBudget::new`]:
/// `{ ratio, min_per_sec, ttl }`, every key required. Also what a tool's
/// own file reads as a budget (the simulator's `load.retry_budget`), so the
/// table has one shape wherever it is written.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BudgetSpec {
    /// `ratio`: retries (and hedges) earned per first attempt.
    pub ratio: f64,
    /// `min_per_sec`: retries a second always available.
    pub min_per_sec: u32,
    /// `ttl`: the window deposits count in.
    #[serde(with = "serde_duration")]
    pub ttl: Duration,
}

/// A pipeline's `hedge` table as written: `{ after }` (a fixed delay) or
/// `{ quantile, initial }` with optional `window` and `min_samples`, either
/// with an optional `max` (hedges per call). [`hedge`](Self::hedge) gives
/// the [`Hedge`] it declares. Also what a tool's own file reads as a hedge
/// (the simulator's `load.hedge`).
///
/// ```
/// use std::time::Duration;
/// use fusebox::config_file::HedgeSpec;
/// use fusebox::pipeline::HedgeDelay;
///
/// let spec: HedgeSpec = toml::from_str("after = \"40ms\"")?;
/// assert_eq!(spec.hedge()?.delay(), HedgeDelay::Fixed(Duration::from_millis(40)));
/// let both: HedgeSpec = toml::from_str("after = \"40ms\"\nquantile = 0.9")?;
/// assert_eq!(both.hedge().unwrap_err().field(), "hedge.quantile");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HedgeSpec {
    /// `after`: a fixed delay.
    #[serde(default, with = "serde_duration::option")]
    pub after: Option<Duration>,
    /// `quantile`: in (0, 1], of recent successful attempts' latencies.
    #[serde(default)]
    pub quantile: Option<f64>,
    /// `initial`: the delay until enough latencies are known (a quantile
    /// hedge's, required).
    #[serde(default, with = "serde_duration::option")]
    pub initial: Option<Duration>,
    /// `window`: how many recent latencies a quantile is taken over.
    #[serde(default)]
    pub window: Option<usize>,
    /// `min_samples`: how many are needed before the quantile is used.
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// `max`: hedges per call (1 without it).
    #[serde(default)]
    pub max: Option<u32>,
}

impl HedgeSpec {
    /// The hedge this table declares, or the rule of the table's shape it
    /// breaks (`after` or `quantile`, not both; a quantile's `initial`;
    /// keys only a quantile has), its field under `hedge`. The hedge's own
    /// rules are [`Hedge::check`]'s.
    pub fn hedge(&self) -> Result<Hedge, ConfigError> {
        let h = match (self.after, self.quantile) {
            (Some(_), Some(q)) => {
                return Err(ConfigError::pipeline(
                    "hedge.quantile",
                    q,
                    "a hedge is `after` or `quantile`, not both",
                ))
            }
            (None, None) => {
                return Err(ConfigError::pipeline(
                    "hedge.after",
                    "none",
                    "missing field `after` (a fixed delay) or `quantile`",
                ))
            }
            (Some(after), None) => {
                for (key, given) in [
                    ("hedge.initial", self.initial.is_some()),
                    ("hedge.window", self.window.is_some()),
                    ("hedge.min_samples", self.min_samples.is_some()),
                ] {
                    if given {
                        return Err(ConfigError::pipeline(
                            key,
                            "given",
                            "only a quantile hedge has this key",
                        ));
                    }
                }
                Hedge::after(after)
            }
            (None, Some(q)) => {
                let Some(initial) = self.initial else {
                    return Err(ConfigError::pipeline(
                        "hedge.initial",
                        "none",
                        "missing field `initial` (the delay until enough latencies are known)",
                    ));
                };
                Hedge::quantile(q, initial).samples(
                    self.window.unwrap_or(DEFAULT_LATENCY_WINDOW),
                    self.min_samples.unwrap_or(DEFAULT_MIN_SAMPLES),
                )
            }
        };
        Ok(match self.max {
            Some(n) => h.max(n),
            None => h,
        })
    }
}

impl RetrySpec {
    /// The retry policy this table declares.
    pub fn policy(&self) -> RetryPolicy {
        let policy = RetryPolicy::new(self.attempts).backoff(self.backoff);
        match self.deadline {
            Some(d) => policy.deadline(d),
            None => policy,
        }
    }
}

impl BudgetSpec {
    /// A new budget with these parameters (each call makes a budget of its
    /// own: share the one you make).
    pub fn budget(&self) -> Result<RetryBudget, ConfigError> {
        RetryBudget::new(self.ttl, self.min_per_sec, self.ratio)
    }
}

impl PipelineSpec {
    /// A builder for the pipeline `name` with this spec's retry, budget (a
    /// new one), hedge and timeout. The fuse and valve are names: look them
    /// up and give them to the builder ([`Fusebox::load_config`](crate::Fusebox::load_config)
    /// does). Fails only if the budget's parameters are invalid, which a
    /// spec read from a file never has.
    pub fn builder(&self, name: &str) -> Result<PipelineBuilder, ConfigError> {
        let mut b = Pipeline::builder(name);
        if let Some(r) = &self.retry {
            b = b.retry(r.policy());
        }
        if let Some(budget) = &self.budget {
            b = b.budget(budget.budget()?);
        }
        if let Some(h) = &self.hedge {
            b = b.hedge(h.clone());
        }
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        Ok(b)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    retry: Option<RawRetry>,
    #[serde(default)]
    budget: Option<BudgetSpec>,
    #[serde(default)]
    hedge: Option<HedgeSpec>,
    #[serde(default)]
    fuse: Option<String>,
    #[serde(default)]
    valve: Option<String>,
    #[serde(default, with = "serde_duration::option")]
    timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: u32,
    #[serde(default)]
    backoff: Option<RawBackoff>,
    #[serde(default, with = "serde_duration::option")]
    deadline: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawBackoff {
    Constant {
        #[serde(with = "serde_duration")]
        base: Duration,
        #[serde(default)]
        jitter: RawJitter,
    },
    Exponential {
        #[serde(with = "serde_duration")]
        base: Duration,
        #[serde(with = "serde_duration")]
        max: Duration,
        #[serde(default = "two")]
        factor: f64,
        #[serde(default)]
        jitter: RawJitter,
    },
}

fn two() -> f64 {
    2.0
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawJitter {
    #[default]
    None,
    Full,
    Decorrelated,
}

impl RawBackoff {
    fn backoff(&self) -> Backoff {
        let (b, jitter) = match *self {
            RawBackoff::Constant { base, jitter } => (Backoff::constant(base), jitter),
            RawBackoff::Exponential {
                base,
                max,
                factor,
                jitter,
            } => (Backoff::exponential(base, factor, max), jitter),
        };
        match jitter {
            RawJitter::None => b,
            RawJitter::Full => b.full_jitter(),
            RawJitter::Decorrelated => b.decorrelated_jitter(),
        }
    }
}

/// Where a pipeline's declaration and its `fuse` and `valve` names are, for
/// the errors found when it is loaded.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Places {
    pub(super) entry: (usize, usize),
    pub(super) fuse: (usize, usize),
    pub(super) valve: (usize, usize),
}

pub(super) fn read_pipeline(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, '_>,
) -> Result<(PipelineSpec, Places), ConfigFileError> {
    check_name(lines, entry)?;
    let raw = deserialize::<RawPipeline>(lines, entry)?;
    let hedge = match &raw.hedge {
        Some(h) => Some(hedge(lines, entry, h)?),
        None => None,
    };
    let spec = PipelineSpec {
        retry: raw.retry.as_ref().map(|r| RetrySpec {
            attempts: r.attempts,
            backoff: r
                .backoff
                .as_ref()
                .map_or(Backoff::none(), RawBackoff::backoff),
            deadline: r.deadline,
        }),
        budget: raw.budget,
        hedge,
        fuse: raw.fuse,
        valve: raw.valve,
        timeout: raw.timeout,
    };
    // The builder's own checks, on a clock that needs no runtime.
    spec.builder(&entry_name(entry))
        .and_then(|b| b.clock(ManualClock::new()).build())
        .map_err(|e| rule_error(lines, entry, &file_field(&e), e))?;
    let at = |key: &str| {
        let spot = entry.follow(&[Seg::Key(key.into())]);
        lines.position(spot.span.start)
    };
    let places = Places {
        entry: lines.position(entry.value.span().start),
        fuse: at("fuse"),
        valve: at("valve"),
    };
    Ok((spec, places))
}

/// A hedge is a fixed delay (`after`) or a quantile (`quantile` and
/// `initial`): the file's shape, [`HedgeSpec::hedge`]'s rules, reported as
/// shape errors at the key they name.
fn hedge(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, '_>,
    raw: &HedgeSpec,
) -> Result<Hedge, ConfigFileError> {
    raw.hedge().map_err(|e| {
        let field = super::locate::segments(e.path());
        let mut spot = entry.follow(&field);
        spot.path = entry.path.clone();
        spot.path.0.extend(field);
        error_at(lines, spot, e.rule(), Kind::Shape)
    })
}

/// The keys of the file a rule of the pipeline builder names: the retry
/// policy's fields sit under `retry`, and two of them are spelt otherwise
/// in the file (`max_attempts` is `attempts`, the backoff's `cap` its
/// `max`); the budget's, the hedge's and the timeout's are the file's own.
pub(super) fn file_field(err: &ConfigError) -> Vec<Seg> {
    let keys: Vec<&str> = err
        .path()
        .iter()
        .filter_map(|s| match s {
            PathSegment::Key(k) => Some(*k),
            _ => None,
        })
        .collect();
    let spelt: Vec<&str> = match (err.subject(), keys.as_slice()) {
        (Subject::Retry, ["budget", ..]) => keys.clone(),
        (Subject::Retry, ["max_attempts"]) => vec!["retry", "attempts"],
        (Subject::Retry, ["backoff", "cap"]) => vec!["retry", "backoff", "max"],
        (Subject::Retry, rest) => std::iter::once("retry")
            .chain(rest.iter().copied())
            .collect(),
        _ => keys.clone(),
    };
    spelt.into_iter().map(|k| Seg::Key(k.into())).collect()
}
