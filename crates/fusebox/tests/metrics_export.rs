//! The `metrics` feature, end to end: a scripted scenario on a ManualClock,
//! then the exact metric names, labels, values and units a recorder saw.
//!
//! The recorder is `metrics-util`'s debugging recorder, installed (for this
//! thread) only *after* the Fusebox was built and used: the Fusebox looks
//! the recorder up at every tick, so it still receives everything.
#![cfg(all(feature = "metrics", not(loom)))]

#[path = "support/watchdog.rs"]
mod watchdog;

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
                                         // A rate-limited valve, for the tokens gauge.
    fb.install_valve("batch", ValveConfig::new().rate(10, SEC).burst(10))
        .unwrap();
    drop(fb.valve("batch").unwrap().try_acquire().unwrap());
    // A gradient valve that measured its no-load latency, for the min RTT.
    let limit = fusebox::valve::Adaptive::gradient().probe_samples(1);
    fb.install_valve("pool", ValveConfig::new().limit(limit))
        .unwrap();
    let pool = fb.valve("pool").unwrap();
    let p = pool.try_acquire().unwrap();
    clock.advance_quietly(Duration::from_millis(3));
    drop(p);
    assert_eq!(
        pool.snapshot().limit.unwrap().min_rtt,
        Some(Duration::from_millis(3))
    );
    (fb, clock, db, api, held)
}

#[test]
fn a_recorder_installed_after_the_fusebox_gets_every_metric() {
    let _watch = watchdog::watchdog(
        "metrics_export::a_recorder_installed_after_the_fusebox_gets_every_metric",
        std::time::Duration::from_secs(30),
    );
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
    assert_eq!(counter(&m, "fusebox_fuse_heals_total{fuse=db}"), 0);
    assert_eq!(gauge(&m, "fusebox_fuse_state{fuse=db}"), 1.0);
    assert_eq!(gauge(&m, "fusebox_valve_in_flight{valve=api}"), 1.0);
    assert_eq!(gauge(&m, "fusebox_valve_queued{valve=api}"), 0.0);
    assert!(!m.contains_key("gauge fusebox_valve_tokens{valve=api}"));
    let tokens = gauge(&m, "fusebox_valve_tokens{valve=batch}");
    assert!((9.0..=10.0).contains(&tokens), "{tokens}");
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
    // No service time sampled yet (one task in 64), but the series is there.
    assert_eq!(
        histogram(&m, "fusebox_valve_service_seconds{valve=api}"),
        Vec::<f64>::new()
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
fn every_metric_is_described_with_the_catalogs_unit_and_help() {
    let _watch = watchdog::watchdog(
        "metrics_export::every_metric_is_described_with_the_catalogs_unit_and_help",
        std::time::Duration::from_secs(30),
    );
    use fusebox::catalog::{self, Unit};
    let (fb, _clock, _db, _api, _held) = scenario();
    // A pipeline, for the pipeline metrics.
    let _pipeline = fusebox::pipeline::Pipeline::builder("db")
        .fusebox(&fb)
        .build()
        .unwrap();
    // A keyed fuse family with a blown key and a keyed valve family, for
    // the keyed metrics.
    let keyed = fusebox::keyed::KeyedBuilder::new(FuseConfig::standard(0, 10 * SEC));
    let hosts: fusebox::keyed::KeyedFuses<String> = keyed.build(&fb, "hosts").unwrap();
    hosts.melt("b.example");
    let keyed = fusebox::keyed::KeyedBuilder::new(ValveConfig::new());
    let _tenants: fusebox::keyed::KeyedValves<String> = keyed.build(&fb, "tenants").unwrap();
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || fb.publish_metrics());
    let described: BTreeMap<String, (MetricKind, Option<metrics::Unit>, Option<String>)> = recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, unit, desc, _)| {
            (
                key.key().name().to_string(),
                (key.kind(), unit, desc.map(|d| d.to_string())),
            )
        })
        .collect();
    for m in catalog::ALL {
        if m.name == catalog::ALARM_ACTIVE.name {
            continue; // no alarm look ran: no alarm yet
        }
        if m.name == catalog::FUSE_THROTTLE_REJECT.name {
            continue; // no throttling fuse here (the catalog's own test has one)
        }
        let (kind, unit, help) = described
            .get(m.name)
            .unwrap_or_else(|| panic!("{} missing from {:#?}", m.name, described.keys()));
        let want_kind = match m.kind {
            catalog::Kind::Counter => MetricKind::Counter,
            catalog::Kind::Gauge => MetricKind::Gauge,
            catalog::Kind::Histogram => MetricKind::Histogram,
            _ => unreachable!("a new kind"),
        };
        assert_eq!(*kind, want_kind, "{}", m.name);
        let want_unit = m.unit.map(|u| match u {
            Unit::Count => metrics::Unit::Count,
            Unit::Seconds => metrics::Unit::Seconds,
            _ => unreachable!("a new unit"),
        });
        assert_eq!(*unit, want_unit, "{}", m.name);
        assert_eq!(help.as_deref(), Some(m.help), "{}", m.name);
    }
    // The names of DESIGN.md section 6 are among them, with their units.
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
        assert!(described.contains_key(name), "{name} missing");
    }
    assert_eq!(
        described["fusebox_valve_sojourn_seconds"].1,
        Some(metrics::Unit::Seconds)
    );
    assert_eq!(
        described["fusebox_fuse_asks_total"].1,
        Some(metrics::Unit::Count)
    );
}

#[test]
fn histograms_get_each_duration_in_its_bucket_and_the_exact_sum() {
    let _watch = watchdog::watchdog(
        "metrics_export::histograms_get_each_duration_in_its_bucket_and_the_exact_sum",
        std::time::Duration::from_secs(30),
    );
    // Two tasks wait 3 ms and 7 ms at a valve of one slot.
    let (fb, clock, _db, _api, _held) = scenario();
    fb.install_valve("one", ValveConfig::new().concurrency(1).queue(4))
        .unwrap();
    let one = fb.valve("one").unwrap();
    let recorder = DebuggingRecorder::new();
    let first = one.try_acquire().unwrap();
    let mut a = Box::pin(one.acquire());
    assert!(poll_once(&mut a).is_none()); // queued
    clock.advance(Duration::from_millis(3));
    drop(first);
    let second = poll_once(&mut a).expect("granted").unwrap();
    let mut b = Box::pin(one.acquire());
    assert!(poll_once(&mut b).is_none());
    clock.advance(Duration::from_millis(7));
    drop(second);
    let third = poll_once(&mut b).expect("granted").unwrap();
    metrics::with_local_recorder(&recorder, || fb.publish_metrics());
    let m = seen(&recorder);
    let mut values = histogram(&m, "fusebox_valve_sojourn_seconds{valve=one}");
    values.sort_by(f64::total_cmp);
    // One value per duration, in its bucket: the one admitted at once
    // waited zero, in [0, 1 µs]; 3 ms in (2 ms, 5 ms]; 7 ms in (5 ms, 10 ms].
    // Within their buckets they are placed so that they add up to the
    // 10 ms waited, so a recorder's sum is exact.
    assert_eq!(values.len(), 3, "{values:?}");
    assert!((0.0..=0.000001).contains(&values[0]), "{values:?}");
    assert!(values[1] > 0.002 && values[1] <= 0.005, "{values:?}");
    assert!(values[2] > 0.005 && values[2] <= 0.010, "{values:?}");
    assert!(
        (values.iter().sum::<f64>() - 0.010).abs() < 1e-9,
        "{values:?}"
    );
    // The snapshot's quantiles never exceed the longest wait.
    let s = one.snapshot();
    assert!(s.sojourn_p99.unwrap() <= Duration::from_millis(7));
    assert_eq!(s.sojourn.count, 3);
    drop(third);
}

/// Polls a future once, without a runtime's waker (the ManualClock and the
/// valve wake nothing we wait on here).
fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
    use std::task::{Context, Poll, Waker};
    match std::pin::Pin::new(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[test]
fn keyed_families_are_published_and_a_key_leaving_the_top_goes_to_zero() {
    let _watch = watchdog::watchdog(
        "metrics_export::keyed_families_are_published_and_a_key_leaving_the_top_goes_to_zero",
        std::time::Duration::from_secs(30),
    );
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let hosts: fusebox::keyed::KeyedFuses<String> = fusebox::keyed::KeyedBuilder::new(
        FuseConfig::standard(0, 10 * SEC).heal(Heal::reset(2 * SEC)),
    )
    .build(&fb, "hosts")
    .unwrap();
    hosts.melt("b.example"); // blown until 2 s
    assert_eq!(hosts.ask("b.example"), fusebox::Ask::Blown);
    // The debugging recorder's snapshot swaps values out (to 0): one
    // snapshot, after both ticks, sees what the last write left.
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        clock.advance(SEC); // a metrics tick: the key is in the top
    });
    let snap = fb.snapshot();
    assert_eq!(snap.keyed[0].top[0].key, "b.example");
    metrics::with_local_recorder(&recorder, || {
        clock.advance(2 * SEC); // healed at 2 s: out of the top
    });
    assert!(fb.snapshot().keyed[0].top.is_empty());
    let m = seen(&recorder);
    let top = "fusebox_keyed_top_key_refused{family=hosts,key=b.example}";
    assert_eq!(gauge(&m, top), 0.0, "set to 0 when it left the top");
    assert_eq!(
        counter(&m, "fusebox_keyed_fuse_blows_total{family=hosts}"),
        1
    );
    assert_eq!(
        counter(&m, "fusebox_keyed_fuse_heals_total{family=hosts}"),
        1
    );
    assert_eq!(gauge(&m, "fusebox_keyed_keys{family=hosts,state=ok}"), 1.0);
}
