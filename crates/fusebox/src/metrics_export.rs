//! The `metrics` feature: every metric of the [catalog](crate::catalog),
//! published through the [`metrics`] facade.
//!
//! Nothing is recorded per call. Fuses and valves keep their own counters
//! (per-thread striped for fuses), and a periodic tick of the Fusebox's
//! timer copies them to the facade: counters with `absolute`, gauges with
//! `set`, histograms as the durations recorded since the last tick
//! ([`HistogramSnapshot::since`]: each value in the bucket it was counted
//! in, the values adding up to the durations' sum). The facade's recorder
//! is looked up at every tick, so a recorder the application installs
//! *after* building the Fusebox receives everything from its first tick
//! on; the library never installs one.
//!
//! The names, kinds, units, help and labels are the catalog's, the same as
//! the admin server's `/metrics`; a cleared alarm's gauge, and that of a key
//! that left its keyed family's top keys, goes to 0 here (the series stays
//! in the recorder), where the admin drops the line.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Label,
};

use crate::catalog::{self, Kind, Metric, Unit, Value};
use crate::event::Alarm;
use crate::fuse::FuseSnapshot;
use crate::keyed::KeyedSnapshot;
use crate::pipeline::PipelineSnapshot;
use crate::stats::histogram::HistogramSnapshot;
use crate::valve::engine::ValveCore;
use crate::valve::ValveSnapshot;

/// How often the Fusebox publishes its metrics unless told otherwise.
pub const DEFAULT_METRICS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// One series: a metric and its label values.
type Series = (&'static str, Vec<(&'static str, String)>);

/// What was published last, so histograms get only new samples and cleared
/// alarms go to 0.
#[derive(Debug, Default)]
pub(crate) struct Exporter {
    last: Mutex<Last>,
}

#[derive(Debug, Default)]
struct Last {
    histograms: HashMap<Series, HistogramSnapshot>,
    alarms: BTreeSet<Vec<(&'static str, String)>>,
    /// The keyed families' top keys published last.
    top_keys: BTreeSet<Vec<(&'static str, String)>>,
}

fn unit(u: Unit) -> metrics::Unit {
    match u {
        Unit::Count => metrics::Unit::Count,
        Unit::Seconds => metrics::Unit::Seconds,
    }
}

fn describe(m: &'static Metric) {
    match (m.kind, m.unit) {
        (Kind::Counter, Some(u)) => describe_counter!(m.name, unit(u), m.help),
        (Kind::Counter, None) => describe_counter!(m.name, m.help),
        (Kind::Gauge, Some(u)) => describe_gauge!(m.name, unit(u), m.help),
        (Kind::Gauge, None) => describe_gauge!(m.name, m.help),
        (Kind::Histogram, Some(u)) => describe_histogram!(m.name, unit(u), m.help),
        (Kind::Histogram, None) => describe_histogram!(m.name, m.help),
    }
}

fn labels(l: &[(&'static str, String)]) -> Vec<Label> {
    l.iter().map(|(k, v)| Label::new(*k, v.clone())).collect()
}

impl Exporter {
    /// Publishes everything once.
    pub(crate) fn publish(
        &self,
        fuses: &[FuseSnapshot],
        valves: &[Arc<ValveCore>],
        alarms: &[Alarm],
        pipelines: &[PipelineSnapshot],
        keyed: &[KeyedSnapshot],
    ) {
        for m in catalog::ALL {
            describe(m);
        }
        let valves: Vec<ValveSnapshot> = valves.iter().map(|v| ValveSnapshot::of(v)).collect();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut histograms = HashMap::new();
        let mut active = BTreeSet::new();
        let mut top_keys = BTreeSet::new();
        let samples = catalog::samples_of(fuses, &valves, alarms)
            .into_iter()
            .chain(catalog::pipeline_samples(pipelines))
            .chain(catalog::keyed_samples(keyed));
        for s in samples {
            let name = s.metric.name;
            let owned: Vec<(&'static str, String)> =
                s.labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
            match s.value {
                Value::Counter(v) => counter!(name, labels(&owned)).absolute(v),
                Value::Gauge(v) => gauge!(name, labels(&owned)).set(v),
                Value::Histogram(h) => {
                    let series = (name, owned);
                    let out = histogram!(name, labels(&series.1));
                    for (v, n) in h.since(last.histograms.get(&series)) {
                        out.record_many(v, usize::try_from(n).unwrap_or(usize::MAX));
                    }
                    histograms.insert(series, h.clone());
                    continue;
                }
            }
            if std::ptr::eq(s.metric, &catalog::ALARM_ACTIVE) {
                active.insert(owned);
            } else if std::ptr::eq(s.metric, &catalog::KEYED_TOP_KEY_REFUSED) {
                top_keys.insert(owned);
            }
        }
        // A removed valve's history goes; a reinstalled one starts over.
        last.histograms = histograms;
        for cleared in last.alarms.difference(&active) {
            gauge!(catalog::ALARM_ACTIVE.name, labels(cleared)).set(0.0);
        }
        last.alarms = active;
        // A key that left its family's top goes to 0 once and is forgotten
        // here: the series a recorder holds are the recorder's to expire
        // (metrics-exporter-prometheus: `idle_timeout`).
        for gone in last.top_keys.difference(&top_keys) {
            gauge!(catalog::KEYED_TOP_KEY_REFUSED.name, labels(gone)).set(0.0);
        }
        last.top_keys = top_keys;
    }
}
