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
use std::sync::Arc;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Label,
};

use crate::catalog::{self, Kind, Metric, Unit, Value};
use crate::event::Alarm;
use crate::fuse::FuseSnapshot;
use crate::keyed_snapshot::KeyedSnapshot;
use crate::pipeline::PipelineSnapshot;
use crate::stats::histogram::HistogramSnapshot;
use crate::sync::{lock, Mutex};
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
        // The recorder is the user's code: it is called after the lock that
        // keeps `last` is released (what to record is decided under it).
        let mut record = Vec::new();
        {
            let mut last = lock(&self.last);
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
                if std::ptr::eq(s.metric, &catalog::ALARM_ACTIVE) {
                    active.insert(owned.clone());
                } else if std::ptr::eq(s.metric, &catalog::KEYED_TOP_KEY_REFUSED) {
                    top_keys.insert(owned.clone());
                }
                let op = match s.value {
                    Value::Counter(v) => Record::Counter(v),
                    Value::Gauge(v) => Record::Gauge(v),
                    Value::Histogram(h) => {
                        let series = (name, owned);
                        let new = h.since(last.histograms.get(&series));
                        let owned = series.1.clone();
                        histograms.insert(series, h.clone());
                        record.push((name, owned, Record::Histogram(new)));
                        continue;
                    }
                };
                record.push((name, owned, op));
            }
            // A removed valve's history goes; a reinstalled one starts over.
            last.histograms = histograms;
            for cleared in last.alarms.difference(&active) {
                record.push((ALARM_ACTIVE, cleared.clone(), Record::Gauge(0.0)));
            }
            last.alarms = active;
            // A key that left its family's top goes to 0 once and is
            // forgotten here: the series a recorder holds are the recorder's
            // to expire (metrics-exporter-prometheus: `idle_timeout`).
            for gone in last.top_keys.difference(&top_keys) {
                record.push((TOP_KEY, gone.clone(), Record::Gauge(0.0)));
            }
            last.top_keys = top_keys;
        }
        for (name, owned, op) in record {
            match op {
                Record::Counter(v) => counter!(name, labels(&owned)).absolute(v),
                Record::Gauge(v) => gauge!(name, labels(&owned)).set(v),
                Record::Histogram(new) => {
                    let out = histogram!(name, labels(&owned));
                    for (v, n) in new {
                        out.record_many(v, usize::try_from(n).unwrap_or(usize::MAX));
                    }
                }
            }
        }
    }
}

const ALARM_ACTIVE: &str = catalog::ALARM_ACTIVE.name;
const TOP_KEY: &str = catalog::KEYED_TOP_KEY_REFUSED.name;

/// One value for the recorder, decided under the exporter's lock.
enum Record {
    Counter(u64),
    Gauge(f64),
    /// The samples recorded since the last publish.
    Histogram(Vec<(f64, u64)>),
}
