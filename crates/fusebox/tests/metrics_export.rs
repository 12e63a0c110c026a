//! The `metrics` feature, end to end: a scripted scenario on a ManualClock,
//! then the exact metric names, labels, values and units a recorder saw.
//!
//! The recorder is `metrics-util`'s debugging recorder, installed (for this
//! thread) only *after* the Fusebox was built and used: the Fusebox looks
//! the recorder up at every tick, so it still receives everything.
#![cfg(all(feature = "metrics", not(loom)))]

use std::collections::BTreeMap;
use std::time::Duration;

use fusebox::{Fuse, FuseConfig, Fusebox, Heal, ManualClock, ValveConfig};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;

const SEC: Duration = Duration::from_secs(1);

/// Every metric seen, as "name{label=value,...}" → value.
fn seen(recorder: &DebuggingRecorder) -> BTreeMap<String, DebugValue> {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _unit, _desc, value)| {
            let k = key.key();
            let mut labels: Vec<String> = k
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let kind = match key.kind() {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            (
                format!("{kind} {}{{{}}}", k.name(), labels.join(",")),
                value,
            )
        })
        .collect()
}

fn counter(m: &BTreeMap<String, DebugValue>, key: &str) -> u64 {
    match m.get(&format!("counter {key}")) {
        Some(DebugValue::Counter(v)) => *v,
        other => panic!("counter {key}: {other:?}\nall: {:#?}", m.keys()),
    }
}

fn gauge(m: &BTreeMap<String, DebugValue>, key: &str) -> f64 {
    match m.get(&format!("gauge {key}")) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("gauge {key}: {other:?}\nall: {:#?}", m.keys()),
    }
}

fn histogram(m: &BTreeMap<String, DebugValue>, key: &str) -> Vec<f64> {
    match m.get(&format!("histogram {key}")) {
        Some(DebugValue::Histogram(v)) => v.iter().map(|x| x.into_inner()).collect(),
        other => panic!("histogram {key}: {other:?}\nall: {:#?}", m.keys()),
    }
}

fn scenario() -> (Fusebox, ManualClock, Fuse, fusebox::Valve, fusebox::Permit) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(SEC)
        .metrics_interval(SEC)
        .build();
    fb.install(
        "db",
        FuseConfig::standard(1, 10 * SEC).heal(Heal::reset(60 * SEC)),
    )
    .unwrap();
    let db = fb.fuse("db").unwrap();
    let _ = db.ask();
    let _ = db.ask();
    db.melt();
    db.success();
    db.melt(); // 2 > 1: blown
    let _ = db.ask();
    fb.install_valve("api", ValveConfig::new().concurrency(1).queue(0))
        .unwrap();
    let api = fb.valve("api").unwrap();
    let held = api.try_acquire().unwrap();
    assert!(api.try_acquire().is_err()); // busy
    (fb, clock, db, api, held)
}

#[test]
fn a_recorder_installed_after_the_fusebox_gets_every_metric() {
    let (fb, clock, db, api, held) = scenario();
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        clock.advance(SEC); // one metrics tick, one alarm look
    });
    let m = seen(&recorder);
    assert_eq!(counter(&m, "fusebox_fuse_asks_total{fuse=db,result=ok}"), 2);
    assert_eq!(
        counter(&m, "fusebox_fuse_asks_total{fuse=db,result=blown}"),
        1
    );
    assert_eq!(
        counter(&m, "fusebox_fuse_asks_total{fuse=db,result=injected}"),
        0
    );
    assert_eq!(counter(&m, "fusebox_fuse_melts_total{fuse=db}"), 2);
    assert_eq!(counter(&m, "fusebox_fuse_blows_total{fuse=db}"), 1);
    assert_eq!(counter(&m, "fusebox_fuse_successes_total{fuse=db}"), 1);
    assert_eq!(gauge(&m, "fusebox_fuse_state{fuse=db}"), 1.0);
    assert_eq!(gauge(&m, "fusebox_valve_in_flight{valve=api}"), 1.0);
    assert_eq!(gauge(&m, "fusebox_valve_queued{valve=api}"), 0.0);
    assert_eq!(counter(&m, "fusebox_valve_admitted_total{valve=api}"), 1);
    assert_eq!(
        counter(&m, "fusebox_valve_refused_total{reason=busy,valve=api}"),
        1
    );
    assert_eq!(
        counter(
            &m,
            "fusebox_valve_refused_total{reason=queue_full,valve=api}"
        ),
        0
    );
    // The one admitted task never waited: one sample of zero seconds.
    assert_eq!(
        histogram(&m, "fusebox_valve_sojourn_seconds{valve=api}"),
        [0.0]
    );
    assert_eq!(
        gauge(&m, "fusebox_alarm_active{alarm=fuse_blown,fuse=db}"),
        1.0
    );

    // The next tick: counters move on, histograms get only new samples,
    // the cleared alarm goes to 0.
    drop(held);
    db.reset();
    let _p = api.try_acquire().unwrap();
    metrics::with_local_recorder(&recorder, || {
        clock.advance(3 * SEC); // three clean looks clear the alarm
    });
    let m = seen(&recorder);
    assert_eq!(gauge(&m, "fusebox_fuse_state{fuse=db}"), 0.0);
    assert_eq!(counter(&m, "fusebox_valve_admitted_total{valve=api}"), 2);
    assert_eq!(
        histogram(&m, "fusebox_valve_sojourn_seconds{valve=api}"),
        [0.0]
    );
    assert_eq!(
        gauge(&m, "fusebox_alarm_active{alarm=fuse_blown,fuse=db}"),
        0.0
    );
    drop(fb);
}

#[test]
fn every_metric_is_described_with_its_unit() {
    let (fb, _clock, _db, _api, _held) = scenario();
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || fb.publish_metrics());
    let described: BTreeMap<String, (Option<metrics::Unit>, bool)> = recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, unit, desc, _)| (key.key().name().to_string(), (unit, desc.is_some())))
        .collect();
    for name in [
        "fusebox_fuse_asks_total",
        "fusebox_fuse_melts_total",
        "fusebox_fuse_blows_total",
        "fusebox_fuse_state",
        "fusebox_valve_in_flight",
        "fusebox_valve_queued",
        "fusebox_valve_refused_total",
        "fusebox_valve_sojourn_seconds",
    ] {
        let (_, has_desc) = described
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(has_desc, "{name} has no description");
    }
    assert_eq!(
        described["fusebox_valve_sojourn_seconds"].0,
        Some(metrics::Unit::Seconds)
    );
    assert_eq!(
        described["fusebox_fuse_asks_total"].0,
        Some(metrics::Unit::Count)
    );
}
