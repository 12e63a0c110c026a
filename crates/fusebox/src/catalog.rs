//! Every metric fusebox exports, once: name, kind, unit, help and labels,
//! and the samples a [`Snapshot`](crate::Snapshot) holds for each.
//! (Over 400 lines on purpose: the whole catalog is read in one place, and
//! most of the file is the list itself and its help texts.)
//!
//! There are two ways to feed a dashboard: the admin server's `/metrics`
//! (`fusebox-admin`, the Prometheus text format rendered from a snapshot,
//! no exporter) and the `metrics` feature (the [`metrics`] facade, fed on a
//! periodic tick, for whatever recorder the application installs). They
//! used to keep a list each, and the lists drifted: one had
//! `fusebox_fuse_heals_total`, the other `fusebox_valve_service_seconds`,
//! and the sojourn time was a histogram in one and a gauge with a
//! `quantile` label in the other, which Prometheus rejects. So both now
//! iterate [`ALL`] and export [`Snapshot::samples`](crate::Snapshot::samples): the same names, types, units,
//! help and labels, whichever way they are fed.
//!
//! | metric | kind | unit | labels |
//! |---|---|---|---|
//! | `fusebox_fuse_asks_total` | counter | count | `fuse`, `result` = `ok` \| `blown` \| `injected` \| `throttled` |
//! | `fusebox_fuse_melts_total` | counter | count | `fuse` |
//! | `fusebox_fuse_blows_total` | counter | count | `fuse` |
//! | `fusebox_fuse_successes_total` | counter | count | `fuse` |
//! | `fusebox_fuse_heals_total` | counter | count | `fuse` |
//! | `fusebox_fuse_state` | gauge: 0 ok, 1 blown, 2 disabled | | `fuse` |
//! | `fusebox_fuse_throttle_reject_ratio` | gauge in [0, 1) (throttling fuses only) | | `fuse` |
//! | `fusebox_chaos_injected_total` | counter | count | `fuse`, `kind` = `latency` \| `error` |
//! | `fusebox_valve_in_flight` | gauge | count | `valve` |
//! | `fusebox_valve_queued` | gauge | count | `valve` |
//! | `fusebox_valve_tokens` | gauge (rate-limited valves only) | count | `valve` |
//! | `fusebox_valve_limit` | gauge: the concurrency limit in force (fixed or learned) | count | `valve` |
//! | `fusebox_valve_min_rtt_seconds` | gauge (gradient valves, once measured) | seconds | `valve` |
//! | `fusebox_valve_admitted_total` | counter | count | `valve` |
//! | `fusebox_valve_refused_total` | counter | count | `valve`, `reason` |
//! | `fusebox_valve_sojourn_seconds` | histogram | seconds | `valve` |
//! | `fusebox_valve_service_seconds` | histogram (one task in 64; every task of an adaptive valve) | seconds | `valve` |
//! | `fusebox_alarm_active` | gauge: 1 while set | | `alarm`, `fuse` |
//! | `fusebox_retries_total` | counter | count | `pipeline` |
//! | `fusebox_hedges_total` | counter | count | `pipeline` |
//! | `fusebox_retry_budget_exhausted_total` | counter | count | `pipeline`, `kind` = `retry` \| `hedge` |
//! | `fusebox_fallbacks_total` | counter | count | `pipeline`, `reason` = `blown` \| `refused` \| `timeout` \| `failed` |
//! | `fusebox_keyed_keys` | gauge | count | `family`, `state` = `ok` \| `blown` \| `disabled` (fuse families) or `idle` \| `busy` (valve families) |
//! | `fusebox_keyed_engines` | gauge | count | `family` |
//! | `fusebox_keyed_promotions_total` | counter | count | `family` |
//! | `fusebox_keyed_demotions_total` | counter | count | `family` |
//! | `fusebox_keyed_evictions_total` | counter | count | `family` |
//! | `fusebox_keyed_full_total` | counter | count | `family` |
//! | `fusebox_keyed_fuse_refused_total` | counter (fuse families) | count | `family` |
//! | `fusebox_keyed_fuse_melts_total` | counter (fuse families) | count | `family` |
//! | `fusebox_keyed_fuse_blows_total` | counter (fuse families) | count | `family` |
//! | `fusebox_keyed_fuse_heals_total` | counter (fuse families) | count | `family` |
//! | `fusebox_keyed_valve_admitted_total` | counter (valve families) | count | `family` |
//! | `fusebox_keyed_valve_refused_total` | counter (valve families) | count | `family`, `reason` (a valve's, but `removed`) |
//! | `fusebox_keyed_valve_in_flight` | gauge (valve families) | count | `family` |
//! | `fusebox_keyed_valve_queued` | gauge (valve families) | count | `family` |
//! | `fusebox_keyed_top_key_refused` | gauge: at most 10 keys per family | count | `family`, `key` |
//!
//! `reason` is one of [`Refused::as_str`](crate::Refused::as_str) for a
//! valve, one of [`ReasonKind::as_str`](crate::pipeline::ReasonKind::as_str)
//! for a fallback; `alarm` one of
//! [`AlarmKind::as_str`](crate::event::AlarmKind::as_str). The pipeline
//! metrics have samples for the pipelines built with the Fusebox
//! ([`PipelineBuilder::fusebox`](crate::pipeline::PipelineBuilder::fusebox)),
//! the keyed metrics for the live keyed families
//! ([`Fusebox::keyed`](crate::Fusebox::keyed)): a fixed number of series
//! per family and at most [`TOP_KEYS`] top keys,
//! never a series per key.
//!
//! # Histograms
//!
//! Both histograms have the buckets [`DURATION_BUCKETS`], 1-2-5 from 1 µs
//! to 10 s, and the valves count into exactly those buckets, so the admin's
//! `_bucket` lines are exact. The `metrics` facade cannot carry buckets: a
//! recorder picks its own, and `metrics-exporter-prometheus` renders a
//! histogram as a summary unless told the buckets. Give it these, and its
//! text matches the admin's:
//!
//! ```ignore
//! use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
//! use fusebox::catalog;
//!
//! let mut builder = PrometheusBuilder::new();
//! for m in catalog::ALL.iter().filter(|m| m.kind == catalog::Kind::Histogram) {
//!     builder = builder.set_buckets_for_metric(Matcher::Full(m.name.into()), m.buckets)?;
//! }
//! ```
//!
//! # Example
//!
//! ```
//! use fusebox::catalog::{self, Value};
//! use fusebox::Fusebox;
//!
//! let fb = Fusebox::new();
//! fb.install("db", fusebox::FuseConfig::standard(5, std::time::Duration::from_secs(10)))?;
//! let snap = fb.snapshot();
//! let state: Vec<_> = snap.samples()
//!     .into_iter()
//!     .filter(|s| s.metric.name == catalog::FUSE_STATE.name)
//!     .collect();
//! assert_eq!(state[0].labels, [("fuse", "db")]);
//! assert!(matches!(state[0].value, Value::Gauge(v) if v == 0.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::event::Alarm;
use crate::fuse::{FuseSnapshot, FuseState};
use crate::keyed_snapshot::{KeyState, KeyedKind, KeyedSnapshot, TOP_KEYS};
use crate::pipeline::{PipelineSnapshot, ReasonKind};
use crate::stats::histogram::{HistogramSnapshot, BOUNDS_SECS};
use crate::valve::engine::REASONS;
use crate::valve::ValveSnapshot;

/// What kind of metric, as the Prometheus text format's `# TYPE` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// Only goes up (until the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Counts of observations by bucket, with their sum.
    Histogram,
}

impl Kind {
    /// `counter`, `gauge` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The unit of a metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// A number of things (asks, tasks, tokens).
    Count,
    /// Seconds (the name ends in `_seconds`).
    Seconds,
}

/// One metric: what both exports say of it.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub struct Metric {
    /// The Prometheus name (`fusebox_fuse_asks_total`).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The unit, if it has one (a state code has none).
    pub unit: Option<Unit>,
    /// The help text: one line, no backslash.
    pub help: &'static str,
    /// The label names, in the order every sample gives them.
    pub labels: &'static [&'static str],
    /// A histogram's bucket bounds in seconds, ascending, without `+Inf`
    /// (empty for the others).
    pub buckets: &'static [f64],
}

/// The bucket bounds of the duration histograms, in seconds: 1-2-5 from
/// 1 µs to 10 s.
pub const DURATION_BUCKETS: &[f64] = &BOUNDS_SECS;

const fn counter(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        unit: Some(Unit::Count),
        help,
        labels,
        buckets: &[],
    }
}

const fn gauge(
    name: &'static str,
    unit: Option<Unit>,
    help: &'static str,
    labels: &'static [&'static str],
) -> Metric {
    Metric {
        name,
        kind: Kind::Gauge,
        unit,
        help,
        labels,
        buckets: &[],
    }
}

const fn histogram(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Histogram,
        unit: Some(Unit::Seconds),
        help,
        labels: &["valve"],
        buckets: DURATION_BUCKETS,
    }
}

/// Asks of a fuse, by result: `ok`, `blown`, `injected` (refused by
/// fault injection) or `throttled` (refused by a throttle strategy).
pub static FUSE_ASKS: Metric = counter(
    "fusebox_fuse_asks_total",
    "Asks of a fuse, by result.",
    &["fuse", "result"],
);
/// Melts (failures) reported to a fuse.
pub static FUSE_MELTS: Metric = counter(
    "fusebox_fuse_melts_total",
    "Melts (failures) reported to a fuse.",
    &["fuse"],
);
/// Times a fuse blew.
pub static FUSE_BLOWS: Metric =
    counter("fusebox_fuse_blows_total", "Times a fuse blew.", &["fuse"]);
/// Successes reported to a fuse.
pub static FUSE_SUCCESSES: Metric = counter(
    "fusebox_fuse_successes_total",
    "Successes reported to a fuse.",
    &["fuse"],
);
/// Times a fuse healed on its own.
pub static FUSE_HEALS: Metric = counter(
    "fusebox_fuse_heals_total",
    "Times a fuse healed on its own.",
    &["fuse"],
);
/// A fuse's state as a number: 0 ok, 1 blown, 2 disabled.
pub static FUSE_STATE: Metric = gauge(
    "fusebox_fuse_state",
    None,
    "A fuse's state: 0 ok, 1 blown, 2 disabled.",
    &["fuse"],
);
/// The probability that a throttling fuse refuses its next ask (no sample
/// for fuses of other strategies).
pub static FUSE_THROTTLE_REJECT: Metric = gauge(
    "fusebox_fuse_throttle_reject_ratio",
    None,
    "The probability a throttling fuse refuses its next ask.",
    &["fuse"],
);
/// Tasks running under a valve.
pub static VALVE_IN_FLIGHT: Metric = gauge(
    "fusebox_valve_in_flight",
    Some(Unit::Count),
    "Tasks running under a valve.",
    &["valve"],
);
/// Tasks waiting at a valve.
pub static VALVE_QUEUED: Metric = gauge(
    "fusebox_valve_queued",
    Some(Unit::Count),
    "Tasks waiting at a valve.",
    &["valve"],
);
/// Tokens in a rate-limited valve's bucket (no sample for other valves).
pub static VALVE_TOKENS: Metric = gauge(
    "fusebox_valve_tokens",
    Some(Unit::Count),
    "Tokens in a rate-limited valve's bucket.",
    &["valve"],
);
/// The concurrency limit a valve enforces now: its `concurrency`, or what
/// its adaptive limit has learned.
pub static VALVE_LIMIT: Metric = gauge(
    "fusebox_valve_limit",
    Some(Unit::Count),
    "The concurrency limit a valve enforces now (fixed or learned).",
    &["valve"],
);
/// The no-load latency a gradient valve measured last (no sample for other
/// valves, nor before the first measurement).
pub static VALVE_MIN_RTT: Metric = gauge(
    "fusebox_valve_min_rtt_seconds",
    Some(Unit::Seconds),
    "The no-load latency a gradient valve measured last.",
    &["valve"],
);
/// Tasks a valve let start.
pub static VALVE_ADMITTED: Metric = counter(
    "fusebox_valve_admitted_total",
    "Tasks a valve let start.",
    &["valve"],
);
/// Tasks a valve refused, by reason.
pub static VALVE_REFUSED: Metric = counter(
    "fusebox_valve_refused_total",
    "Tasks a valve refused, by reason.",
    &["valve", "reason"],
);
/// Waiting times of the tasks a valve admitted (zero for one admitted at once).
pub static VALVE_SOJOURN: Metric = histogram(
    "fusebox_valve_sojourn_seconds",
    "Time from arrival at a valve to start, of the tasks it admitted.",
);
/// Time a task held its valve slot, one task in 64 sampled per thread.
pub static VALVE_SERVICE: Metric = histogram(
    "fusebox_valve_service_seconds",
    "Time a task held its valve slot (one task in 64 sampled).",
);
/// Faults [chaos](crate::fuse::Chaos) injected into a fuse's admitted
/// calls, by kind: `latency` (waited) or `error` (also counted as melts).
pub static FUSE_CHAOS: Metric = counter(
    "fusebox_chaos_injected_total",
    "Faults chaos injected into a fuse's calls, by kind.",
    &["fuse", "kind"],
);
/// 1 while an alarm is set; the `metrics` feature sets 0 once it clears,
/// the admin's `/metrics` drops the line.
pub static ALARM_ACTIVE: Metric = gauge(
    "fusebox_alarm_active",
    None,
    "1 while an alarm is set (0 or absent once cleared).",
    &["alarm", "fuse"],
);

/// Retries a pipeline made (attempts after a call's first; hedges apart).
pub static PIPELINE_RETRIES: Metric = counter(
    "fusebox_retries_total",
    "Retries a pipeline made.",
    &["pipeline"],
);
/// Hedges a pipeline started.
pub static PIPELINE_HEDGES: Metric = counter(
    "fusebox_hedges_total",
    "Hedges a pipeline started.",
    &["pipeline"],
);
/// Retries and hedges a pipeline's retry budget refused, by `kind`
/// (`retry` or `hedge`).
pub static PIPELINE_BUDGET_EXHAUSTED: Metric = counter(
    "fusebox_retry_budget_exhausted_total",
    "Retries and hedges a pipeline's retry budget refused, by kind.",
    &["pipeline", "kind"],
);
/// Calls a pipeline answered from its fallback, by the reason the call had
/// no value.
pub static PIPELINE_FALLBACKS: Metric = counter(
    "fusebox_fallbacks_total",
    "Calls a pipeline answered from its fallback, by reason.",
    &["pipeline", "reason"],
);

/// Keys a keyed family holds, by state: `ok`, `blown`, `disabled` for a
/// fuse family, `idle`, `busy` for a valve family.
pub static KEYED_KEYS: Metric = gauge(
    "fusebox_keyed_keys",
    Some(Unit::Count),
    "Keys a keyed family holds, by state.",
    &["family", "state"],
);
/// Keys of a keyed family holding an engine (every key of a valve family).
pub static KEYED_ENGINES: Metric = gauge(
    "fusebox_keyed_engines",
    Some(Unit::Count),
    "Keys of a keyed family holding an engine.",
    &["family"],
);
/// Keys a keyed family gave an engine.
pub static KEYED_PROMOTIONS: Metric = counter(
    "fusebox_keyed_promotions_total",
    "Keys a keyed family gave an engine.",
    &["family"],
);
/// Engines a keyed family's sweep gave back while their key stayed.
pub static KEYED_DEMOTIONS: Metric = counter(
    "fusebox_keyed_demotions_total",
    "Engines a keyed family gave back while their key stayed.",
    &["family"],
);
/// Keys a keyed family forgot after their idle TTL.
pub static KEYED_EVICTIONS: Metric = counter(
    "fusebox_keyed_evictions_total",
    "Keys a keyed family forgot after their idle TTL.",
    &["family"],
);
/// New keys a keyed family turned away, holding its `max_keys`.
pub static KEYED_FULL: Metric = counter(
    "fusebox_keyed_full_total",
    "New keys a keyed family turned away, holding its max_keys.",
    &["family"],
);
/// Asks a keyed fuse family refused (its key blown or disabled).
pub static KEYED_FUSE_REFUSED: Metric = counter(
    "fusebox_keyed_fuse_refused_total",
    "Asks a keyed fuse family refused (key blown or disabled).",
    &["family"],
);
/// Melts recorded by a keyed fuse family's keys.
pub static KEYED_FUSE_MELTS: Metric = counter(
    "fusebox_keyed_fuse_melts_total",
    "Melts recorded by a keyed fuse family's keys.",
    &["family"],
);
/// Times a key of a keyed fuse family blew.
pub static KEYED_FUSE_BLOWS: Metric = counter(
    "fusebox_keyed_fuse_blows_total",
    "Times a key of a keyed fuse family blew.",
    &["family"],
);
/// Times a key of a keyed fuse family healed on its own.
pub static KEYED_FUSE_HEALS: Metric = counter(
    "fusebox_keyed_fuse_heals_total",
    "Times a key of a keyed fuse family healed on its own.",
    &["family"],
);
/// Tasks a keyed valve family admitted.
pub static KEYED_VALVE_ADMITTED: Metric = counter(
    "fusebox_keyed_valve_admitted_total",
    "Tasks a keyed valve family admitted.",
    &["family"],
);
/// Tasks a keyed valve family refused, by reason (a valve's reasons but
/// `removed`; a new key turned away is `fusebox_keyed_full_total`).
pub static KEYED_VALVE_REFUSED: Metric = counter(
    "fusebox_keyed_valve_refused_total",
    "Tasks a keyed valve family refused, by reason.",
    &["family", "reason"],
);
/// Tasks running under a keyed valve family, over every key.
pub static KEYED_VALVE_IN_FLIGHT: Metric = gauge(
    "fusebox_keyed_valve_in_flight",
    Some(Unit::Count),
    "Tasks running under a keyed valve family.",
    &["family"],
);
/// Tasks waiting at a keyed valve family, over every key.
pub static KEYED_VALVE_QUEUED: Metric = gauge(
    "fusebox_keyed_valve_queued",
    Some(Unit::Count),
    "Tasks waiting at a keyed valve family.",
    &["family"],
);
/// Refusals by one of a family's top keys, at most
/// [`TOP_KEYS`] per family: a fuse family's blown
/// or disabled keys, a valve family's refusing keys (never a series per
/// key). The `metrics` feature sets a key's gauge to 0 when it leaves the
/// top, the admin's `/metrics` drops the line.
pub static KEYED_TOP_KEY_REFUSED: Metric = gauge(
    "fusebox_keyed_top_key_refused",
    Some(Unit::Count),
    "Refusals by one of a keyed family's top keys (at most 10 per family).",
    &["family", "key"],
);

/// Every metric, in the order both exports give them.
pub static ALL: [&Metric; 37] = [
    &FUSE_ASKS,
    &FUSE_MELTS,
    &FUSE_BLOWS,
    &FUSE_SUCCESSES,
    &FUSE_HEALS,
    &FUSE_STATE,
    &FUSE_THROTTLE_REJECT,
    &FUSE_CHAOS,
    &VALVE_IN_FLIGHT,
    &VALVE_QUEUED,
    &VALVE_TOKENS,
    &VALVE_LIMIT,
    &VALVE_MIN_RTT,
    &VALVE_ADMITTED,
    &VALVE_REFUSED,
    &VALVE_SOJOURN,
    &VALVE_SERVICE,
    &ALARM_ACTIVE,
    &PIPELINE_RETRIES,
    &PIPELINE_HEDGES,
    &PIPELINE_BUDGET_EXHAUSTED,
    &PIPELINE_FALLBACKS,
    &KEYED_KEYS,
    &KEYED_ENGINES,
    &KEYED_PROMOTIONS,
    &KEYED_DEMOTIONS,
    &KEYED_EVICTIONS,
    &KEYED_FULL,
    &KEYED_FUSE_REFUSED,
    &KEYED_FUSE_MELTS,
    &KEYED_FUSE_BLOWS,
    &KEYED_FUSE_HEALS,
    &KEYED_VALVE_ADMITTED,
    &KEYED_VALVE_REFUSED,
    &KEYED_VALVE_IN_FLIGHT,
    &KEYED_VALVE_QUEUED,
    &KEYED_TOP_KEY_REFUSED,
];

/// The value of one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A counter's total.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
    /// A histogram as it is now.
    Histogram(&'a HistogramSnapshot),
}

/// One sample of a metric: its labels (named as in [`Metric::labels`], in
/// that order) and its value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample<'a> {
    /// The metric.
    pub metric: &'static Metric,
    /// `(label name, value)`.
    pub labels: Vec<(&'static str, &'a str)>,
    /// The value.
    pub value: Value<'a>,
}

/// Every sample of a snapshot's parts, metric by metric in the order of
/// [`ALL`] (the samples of one metric are consecutive), fuses and valves in
/// the order given. [`Snapshot::samples`](crate::Snapshot::samples) is the
/// same for a whole snapshot.
pub fn samples_of<'a>(
    fuses: &'a [FuseSnapshot],
    valves: &'a [ValveSnapshot],
    alarms: &'a [Alarm],
) -> Vec<Sample<'a>> {
    let mut out = Vec::with_capacity(13 * fuses.len() + 12 * valves.len() + alarms.len());
    let mut push = |metric: &'static Metric, labels: Vec<(&'static str, &'a str)>, value| {
        debug_assert_eq!(labels.len(), metric.labels.len());
        out.push(Sample {
            metric,
            labels,
            value,
        });
    };
    for f in fuses {
        let c = &f.counters;
        for (result, n) in [
            ("ok", c.asks_ok),
            ("blown", c.asks_blown),
            ("injected", c.injected),
            ("throttled", c.throttled),
        ] {
            push(
                &FUSE_ASKS,
                vec![("fuse", &*f.name), ("result", result)],
                Value::Counter(n),
            );
        }
    }
    type PerFuse = (&'static Metric, fn(&FuseSnapshot) -> Value<'_>);
    let per_fuse: [PerFuse; 5] = [
        (&FUSE_MELTS, |f| Value::Counter(f.counters.melts)),
        (&FUSE_BLOWS, |f| Value::Counter(f.counters.blows)),
        (&FUSE_SUCCESSES, |f| Value::Counter(f.counters.successes)),
        (&FUSE_HEALS, |f| Value::Counter(f.counters.heals)),
        (&FUSE_STATE, |f| Value::Gauge(state_code(f.state))),
    ];
    for (metric, get) in per_fuse {
        for f in fuses {
            push(metric, vec![("fuse", &*f.name)], get(f));
        }
    }
    for f in fuses {
        if let Some(t) = &f.throttle {
            push(
                &FUSE_THROTTLE_REJECT,
                vec![("fuse", &*f.name)],
                Value::Gauge(t.reject_probability),
            );
        }
    }
    for f in fuses {
        let c = &f.counters;
        for (kind, n) in [("latency", c.chaos_latency), ("error", c.chaos_errors)] {
            push(
                &FUSE_CHAOS,
                vec![("fuse", &*f.name), ("kind", kind)],
                Value::Counter(n),
            );
        }
    }
    type PerValve = (&'static Metric, fn(&ValveSnapshot) -> Option<Value<'_>>);
    let per_valve: [PerValve; 6] = [
        (&VALVE_IN_FLIGHT, |v| Some(Value::Gauge(v.in_flight as f64))),
        (&VALVE_QUEUED, |v| Some(Value::Gauge(v.queued as f64))),
        (&VALVE_TOKENS, |v| v.tokens.map(|t| Value::Gauge(t as f64))),
        (&VALVE_LIMIT, |v| Some(Value::Gauge(v.concurrency as f64))),
        (&VALVE_MIN_RTT, |v| {
            let rtt = v.limit.as_ref()?.min_rtt?;
            Some(Value::Gauge(rtt.as_secs_f64()))
        }),
        (&VALVE_ADMITTED, |v| Some(Value::Counter(v.admitted))),
    ];
    for (metric, get) in per_valve {
        for v in valves {
            if let Some(value) = get(v) {
                push(metric, vec![("valve", v.name.as_str())], value);
            }
        }
    }
    for v in valves {
        for r in REASONS {
            push(
                &VALVE_REFUSED,
                vec![("valve", v.name.as_str()), ("reason", r.as_str())],
                Value::Counter(v.refused.get(r)),
            );
        }
    }
    for v in valves {
        push(
            &VALVE_SOJOURN,
            vec![("valve", v.name.as_str())],
            Value::Histogram(&v.sojourn),
        );
    }
    for v in valves {
        push(
            &VALVE_SERVICE,
            vec![("valve", v.name.as_str())],
            Value::Histogram(&v.service),
        );
    }
    for a in alarms {
        push(
            &ALARM_ACTIVE,
            vec![("alarm", a.kind.as_str()), ("fuse", &*a.name)],
            Value::Gauge(1.0),
        );
    }
    out
}

/// Every sample of the pipeline metrics, metric by metric in the order of
/// [`ALL`] (they come after every metric of [`samples_of`]), pipelines in
/// the order given.
pub fn pipeline_samples(pipelines: &[PipelineSnapshot]) -> Vec<Sample<'_>> {
    let mut out = Vec::with_capacity(8 * pipelines.len());
    for p in pipelines {
        out.push(Sample {
            metric: &PIPELINE_RETRIES,
            labels: vec![("pipeline", &*p.name)],
            value: Value::Counter(p.stats.retries),
        });
    }
    for p in pipelines {
        out.push(Sample {
            metric: &PIPELINE_HEDGES,
            labels: vec![("pipeline", &*p.name)],
            value: Value::Counter(p.stats.hedges),
        });
    }
    for p in pipelines {
        for (kind, n) in [
            ("retry", p.stats.budget_exhausted_retries),
            ("hedge", p.stats.budget_exhausted_hedges),
        ] {
            out.push(Sample {
                metric: &PIPELINE_BUDGET_EXHAUSTED,
                labels: vec![("pipeline", &*p.name), ("kind", kind)],
                value: Value::Counter(n),
            });
        }
    }
    for p in pipelines {
        for r in ReasonKind::ALL {
            out.push(Sample {
                metric: &PIPELINE_FALLBACKS,
                labels: vec![("pipeline", &*p.name), ("reason", r.as_str())],
                value: Value::Counter(p.stats.fallbacks.get(r)),
            });
        }
    }
    out
}

/// Every sample of the keyed family metrics, metric by metric in the order
/// of [`ALL`] (they come after the pipelines'), families in the order
/// given. A family has a fixed number of samples and at most
/// [`TOP_KEYS`] more, one per top key: bounded, however many keys it holds.
pub fn keyed_samples<'a>(families: &'a [KeyedSnapshot]) -> Vec<Sample<'a>> {
    let mut out = Vec::with_capacity(24 * families.len());
    let mut push = |metric: &'static Metric, labels: Vec<(&'static str, &'a str)>, value| {
        debug_assert_eq!(labels.len(), metric.labels.len());
        out.push(Sample {
            metric,
            labels,
            value,
        });
    };
    for k in families {
        for &state in KeyState::of(k.kind) {
            push(
                &KEYED_KEYS,
                vec![("family", &*k.name), ("state", state.as_str())],
                Value::Gauge(k.states.get(state) as f64),
            );
        }
    }
    type PerFamily = (&'static Metric, fn(&KeyedSnapshot) -> Option<Value<'_>>);
    let per_family: [PerFamily; 9] = [
        (&KEYED_ENGINES, |k| Some(Value::Gauge(k.stats.live as f64))),
        (&KEYED_PROMOTIONS, |k| {
            Some(Value::Counter(k.stats.promotions))
        }),
        (&KEYED_DEMOTIONS, |k| {
            Some(Value::Counter(k.stats.demotions))
        }),
        (&KEYED_EVICTIONS, |k| {
            Some(Value::Counter(k.stats.evictions))
        }),
        (&KEYED_FULL, |k| Some(Value::Counter(k.stats.full))),
        (&KEYED_FUSE_REFUSED, |k| fuse_only(k, k.totals.refused)),
        (&KEYED_FUSE_MELTS, |k| fuse_only(k, k.totals.melts)),
        (&KEYED_FUSE_BLOWS, |k| fuse_only(k, k.totals.blows)),
        (&KEYED_FUSE_HEALS, |k| fuse_only(k, k.totals.heals)),
    ];
    for (metric, get) in per_family {
        for k in families {
            if let Some(value) = get(k) {
                push(metric, vec![("family", &*k.name)], value);
            }
        }
    }
    let valves = || families.iter().filter(|k| k.kind == KeyedKind::Valves);
    for k in valves() {
        push(
            &KEYED_VALVE_ADMITTED,
            vec![("family", &*k.name)],
            Value::Counter(k.totals.admitted),
        );
    }
    for k in valves() {
        for r in crate::keyed_snapshot::KEYED_REASONS {
            push(
                &KEYED_VALVE_REFUSED,
                vec![("family", &*k.name), ("reason", r.as_str())],
                Value::Counter(k.totals.refusals.get(r)),
            );
        }
    }
    for k in valves() {
        push(
            &KEYED_VALVE_IN_FLIGHT,
            vec![("family", &*k.name)],
            Value::Gauge(k.totals.in_flight as f64),
        );
    }
    for k in valves() {
        push(
            &KEYED_VALVE_QUEUED,
            vec![("family", &*k.name)],
            Value::Gauge(k.totals.queued as f64),
        );
    }
    for k in families {
        for key in k.top.iter().take(TOP_KEYS) {
            push(
                &KEYED_TOP_KEY_REFUSED,
                vec![("family", &*k.name), ("key", key.key.as_str())],
                Value::Gauge(key.refused as f64),
            );
        }
    }
    out
}

fn fuse_only(k: &KeyedSnapshot, n: u64) -> Option<Value<'static>> {
    (k.kind == KeyedKind::Fuses).then_some(Value::Counter(n))
}

/// The number `fusebox_fuse_state` gives a state.
fn state_code(state: FuseState) -> f64 {
    match state {
        FuseState::Ok => 0.0,
        FuseState::Blown => 1.0,
        FuseState::Disabled => 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FuseConfig, Fusebox, ValveConfig};

    const SEC: std::time::Duration = std::time::Duration::from_secs(1);

    #[test]
    fn names_are_unique_and_follow_prometheus_conventions() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for m in ALL {
            assert!(m.name.starts_with("fusebox_"), "{}", m.name);
            assert!(m.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            assert_eq!(
                m.unit == Some(Unit::Seconds),
                m.name.ends_with("_seconds"),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == Kind::Histogram,
                !m.buckets.is_empty(),
                "{}",
                m.name
            );
            assert!(!m.help.contains(['\\', '\n']), "{}", m.name);
        }
        assert!(DURATION_BUCKETS.len() <= 23);
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn samples_come_metric_by_metric_with_their_labels() {
        let fb = Fusebox::new();
        let config = FuseConfig::standard(5, std::time::Duration::from_secs(10));
        fb.install("db", config.clone()).unwrap();
        fb.install("cache", config).unwrap();
        fb.install_valve("api", ValveConfig::new()).unwrap();
        fb.melt("db").unwrap();
        let _p = crate::pipeline::Pipeline::builder("db")
            .fusebox(&fb)
            .build()
            .unwrap();
        let keyed = crate::keyed::KeyedBuilder::new(FuseConfig::standard(0, SEC));
        let hosts: crate::keyed::KeyedFuses<String> = keyed.build(&fb, "hosts").unwrap();
        hosts.melt("a");
        let keyed = crate::keyed::KeyedBuilder::new(ValveConfig::new().concurrency(1));
        let tenants: crate::keyed::KeyedValves<u64> = keyed.build(&fb, "tenants").unwrap();
        let _held = tenants.try_acquire(&1).unwrap();
        assert!(tenants.try_acquire(&1).is_err());
        let snap = fb.snapshot();
        let s = snap.samples();
        let index = |m: &Metric| ALL.iter().position(|a| a.name == m.name).unwrap();
        assert!(s
            .windows(2)
            .all(|w| index(w[0].metric) <= index(w[1].metric)));
        for x in &s {
            let names: Vec<_> = x.labels.iter().map(|l| l.0).collect();
            assert_eq!(names, x.metric.labels, "{}", x.metric.name);
        }
        // Every metric but the tokens (no rate limit), the throttle (none),
        // the min RTT (no gradient) and alarms (none) has samples.
        for m in ALL {
            let n = s.iter().filter(|x| x.metric.name == m.name).count();
            match m.name {
                n_ if n_ == VALVE_TOKENS.name
                    || n_ == VALVE_MIN_RTT.name
                    || n_ == ALARM_ACTIVE.name
                    || n_ == FUSE_THROTTLE_REJECT.name =>
                {
                    assert_eq!(n, 0)
                }
                _ => assert!(n > 0, "{}", m.name),
            }
        }
        let refused = s
            .iter()
            .filter(|x| x.metric.name == VALVE_REFUSED.name)
            .count();
        assert_eq!(refused, REASONS.len());
        let fallbacks = s
            .iter()
            .filter(|x| x.metric.name == PIPELINE_FALLBACKS.name)
            .count();
        assert_eq!(fallbacks, ReasonKind::ALL.len());
        let count = |m: &Metric| s.iter().filter(|x| x.metric.name == m.name).count();
        assert_eq!(count(&KEYED_KEYS), 3 + 2, "the states of each kind");
        assert_eq!(count(&KEYED_FUSE_BLOWS), 1, "fuse families only");
        assert_eq!(count(&KEYED_VALVE_ADMITTED), 1, "valve families only");
        assert_eq!(
            count(&KEYED_VALVE_REFUSED),
            5,
            "a valve's reasons but removed"
        );
        assert_eq!(
            count(&KEYED_TOP_KEY_REFUSED),
            2,
            "a blown key, a refusing key"
        );
    }

    #[test]
    fn a_throttling_fuse_has_its_reject_ratio() {
        let fb = Fusebox::new();
        let throttle = crate::Strategy::throttle(2.0, std::time::Duration::from_secs(10));
        fb.install("db", FuseConfig::new(throttle)).unwrap();
        assert!(fb.ask("db").unwrap().is_ok());
        fb.melt("db").unwrap();
        let snap = fb.snapshot();
        let s = snap.samples();
        let ratio: Vec<_> = s
            .iter()
            .filter(|x| x.metric.name == FUSE_THROTTLE_REJECT.name)
            .collect();
        assert_eq!(ratio.len(), 1);
        assert_eq!(ratio[0].labels, [("fuse", "db")]);
        assert!(matches!(ratio[0].value, Value::Gauge(v) if v == 0.5));
        let throttled = s.iter().find(|x| {
            x.metric.name == FUSE_ASKS.name && x.labels.contains(&("result", "throttled"))
        });
        assert!(matches!(
            throttled.map(|x| x.value),
            Some(Value::Counter(0))
        ));
    }
}
