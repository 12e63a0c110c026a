//! Both exports, the admin's `/metrics` and the core's `metrics` feature
//! (rendered by `metrics-exporter-prometheus` with the catalog's buckets),
//! after a scenario with blows and valve traffic, must pass
//! `promtool check metrics` and agree on every family's name, type and help.
//!
//! promtool comes with Debian's `prometheus` package (`.ci/run` installs
//! it). Without it the promtool checks say `SKIPPED: promtool not installed`
//! on stderr and return: they never pass in its place. The comparison of the
//! two exports needs no promtool and always runs.

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::catalog::{self, Kind};
use fusebox::keyed::{KeyedBuilder, KeyedFuses, KeyedValves};
use fusebox::pipeline::{FallbackValue, Pipeline};
use fusebox::retry::{RetryBudget, RetryPolicy};
use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, Refused, ValveConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// Polls a future once; the valve's futures need no waker here (the
/// ManualClock fires the valve's timers itself, and we poll again).
fn poll_once<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    match Pin::new(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// A fuse melted until it blew (and its alarm set), a healthy one, a fuse
/// with a name that needs escaping; a valve with waits, busy, queue-full and
/// timeout refusals and sampled service times; a rate-limited valve.
fn scenario() -> (Fusebox, ManualClock, Scenario) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(SEC)
        // No tick of its own: the test publishes once, to its recorder
        // (a tick would hand the histograms' samples to no recorder).
        .metrics_interval(3600 * SEC)
        .build();
    fb.install(
        "db",
        FuseConfig::standard(2, 10 * SEC).heal(Heal::reset(60 * SEC)),
    )
    .unwrap();
    let db = fb.fuse("db").unwrap();
    let mut melts = 0;
    while db.ask() == Ask::Ok {
        db.melt();
        melts += 1;
    }
    assert_eq!(melts, 3);
    fb.install("cache", FuseConfig::standard(5, 10 * SEC))
        .unwrap();
    assert!(fb.ask("cache").unwrap().is_ok());
    fb.success("cache").unwrap();
    fb.install("we\"ird\\name", FuseConfig::standard(5, 10 * SEC))
        .unwrap();
    // A throttling fuse: one ask that failed, so its reject ratio is 1/2.
    let throttle = fusebox::Strategy::throttle(2.0, 10 * SEC);
    fb.install("search", FuseConfig::new(throttle)).unwrap();
    assert!(fb.ask("search").unwrap().is_ok());
    fb.melt("search").unwrap();

    fb.install_valve(
        "api",
        ValveConfig::new()
            .concurrency(1)
            .queue(1)
            .max_wait(100 * MS),
    )
    .unwrap();
    let api = fb.valve("api").unwrap();
    // Service times: one task in 64 is timed, so run a few hundred.
    for _ in 0..200 {
        api.run_blocking(|| clock.advance(2 * MS)).unwrap();
    }
    let held = api.try_acquire().unwrap();
    assert_eq!(api.try_acquire().unwrap_err(), Refused::Busy);
    let mut waiting = Box::pin(api.acquire());
    assert!(poll_once(&mut waiting).is_none(), "queued");
    let mut full = Box::pin(api.acquire());
    assert_eq!(
        poll_once(&mut full).unwrap().unwrap_err(),
        Refused::QueueFull
    );
    clock.advance(30 * MS);
    drop(held); // the waiter starts after 30 ms
    let second = poll_once(&mut waiting).expect("granted").unwrap();
    let mut late = Box::pin(api.acquire());
    assert!(poll_once(&mut late).is_none(), "queued");
    clock.advance(150 * MS); // past max_wait
    assert_eq!(poll_once(&mut late).unwrap().unwrap_err(), Refused::Timeout);
    drop(second);

    fb.install_valve("batch", ValveConfig::new().rate(10, SEC).burst(10))
        .unwrap();
    drop(fb.valve("batch").unwrap().try_acquire().unwrap());

    // An adaptive valve that measured its no-load latency: a limit and a
    // min RTT to export.
    let limit = fusebox::valve::Adaptive::gradient().probe_samples(3);
    fb.install_valve("db", ValveConfig::new().limit(limit).queue(8))
        .unwrap();
    let dbv = fb.valve("db").unwrap();
    for _ in 0..3 {
        dbv.run_blocking(|| clock.advance(4 * MS)).unwrap();
    }
    assert_eq!(dbv.snapshot().limit.unwrap().min_rtt, Some(4 * MS));

    clock.advance(SEC); // an alarm look: db is blown
    assert_eq!(fb.alarms().len(), 1);
    let s = fb.valve("api").unwrap().snapshot();
    assert!(s.sojourn.count > 0 && s.service.count > 0, "{s:?}");
    assert_eq!(s.refused.total(), 3);

    // A pipeline whose budget pays for one retry: a call that fails twice
    // retries once, then finds the budget empty and falls back.
    let budget = RetryBudget::new(10 * SEC, 0, 1.0).unwrap();
    let p = Pipeline::builder("db")
        .fusebox(&fb)
        .retry(RetryPolicy::new(3))
        .budget(budget)
        .fallback_value(0u8)
        .build()
        .unwrap();
    assert_eq!(p.call_blocking(|| Err::<u8, _>("down")), Ok(0));
    assert_eq!(p.call_blocking(|| Err::<u8, _>("down")), Ok(0));
    let st = p.stats();
    assert_eq!(
        (st.retries, st.budget_exhausted_retries, st.fallbacks.failed),
        (2, 2, 2)
    );
    // Keyed families: a fuse family with blown keys (one named with a
    // quote, a backslash and a line feed), a valve family refusing.
    let hosts: KeyedFuses<String> = KeyedBuilder::new(FuseConfig::standard(0, 10 * SEC))
        .build(&fb, "hosts")
        .unwrap();
    for key in ["a.example", "we\"ird\\key\n", "b.example"] {
        hosts.melt(key);
    }
    assert_eq!(hosts.ask("b.example"), Ask::Blown);
    assert_eq!(hosts.ask("ok.example"), Ask::Ok);
    let tenants: KeyedValves<String> =
        KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
            .build(&fb, "tenants")
            .unwrap();
    let permit = tenants.try_acquire("acme").unwrap();
    assert_eq!(tenants.try_acquire("acme").unwrap_err(), Refused::Busy);
    (
        fb,
        clock,
        Scenario {
            _pipeline: p,
            _hosts: hosts,
            _tenants: tenants,
            _permit: permit,
        },
    )
}

/// What the scenario's snapshot needs alive: a pipeline and keyed families
/// are listed while they live.
struct Scenario {
    _pipeline: Pipeline<FallbackValue<u8>>,
    _hosts: KeyedFuses<String>,
    _tenants: KeyedValves<String>,
    _permit: fusebox::Permit,
}

/// The admin's `/metrics` body, over HTTP.
fn admin_text(fb: &Fusebox) -> String {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = support::start(fb.clone()).await;
        let r = s.get("/metrics").await;
        assert_eq!(r.status, hyper::StatusCode::OK);
        r.text().to_owned()
    })
}

/// What the `metrics` feature publishes, rendered by the Prometheus exporter
/// configured with the catalog's buckets.
fn metrics_feature_text(fb: &Fusebox) -> String {
    let mut builder = PrometheusBuilder::new();
    for m in catalog::ALL.iter().filter(|m| m.kind == Kind::Histogram) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(m.name.to_owned()), m.buckets)
            .unwrap();
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || fb.publish_metrics());
    handle.render()
}

fn find_promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
}

/// Runs `promtool check metrics` on `text`; `None` if promtool is missing
/// (after saying so loudly). Any output at all is a failure: promtool
/// prints its lint problems, and exits non-zero for errors.
fn promtool_check(what: &str, text: &str) -> Option<()> {
    let Some(promtool) = find_promtool() else {
        // Straight to the process's stderr, past libtest's capture, so that
        // a skip is seen even when the test "passes".
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: promtool not installed; `promtool check metrics` did not run on \
             {what} (Debian: apt-get install prometheus) ***\n"
        );
        return None;
    };
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics rejects {what} ({}):\n{said}\n--- the text:\n{text}",
        out.status
    );
    Some(())
}

/// `name -> (type, help)` of every family in a text exposition.
fn families(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.entry(name.to_owned()).or_default().1 = help.to_owned();
        } else if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.entry(name.to_owned()).or_default().0 = kind.to_owned();
        }
    }
    out
}

#[test]
fn admin_metrics_pass_promtool_check_metrics() {
    let (fb, _clock, _held) = scenario();
    let text = admin_text(&fb);
    // The scenario reached what it is for.
    for line in [
        "fusebox_fuse_blows_total{fuse=\"db\"} 1",
        "fusebox_alarm_active{alarm=\"fuse_blown\",fuse=\"db\"} 1",
        "fusebox_valve_refused_total{valve=\"api\",reason=\"timeout\"} 1",
        "fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"0.05\"} 202",
        "fusebox_retries_total{pipeline=\"db\"} 2",
        "fusebox_retry_budget_exhausted_total{pipeline=\"db\",kind=\"retry\"} 2",
        "fusebox_fallbacks_total{pipeline=\"db\",reason=\"failed\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing:\n{text}");
    }
    if promtool_check("the admin's /metrics", &text).is_some() {
        eprintln!("promtool check metrics: the admin's /metrics passes");
    }
}

#[test]
fn metrics_feature_text_passes_promtool_check_metrics() {
    let (fb, _clock, _held) = scenario();
    let text = metrics_feature_text(&fb);
    assert!(
        text.contains("fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"0.05\"} 202"),
        "{text}"
    );
    if promtool_check("the metrics feature's text", &text).is_some() {
        eprintln!("promtool check metrics: the metrics feature's text passes");
    }
}

/// Every sample line, sorted; a `_sum`'s value parsed (the two print floats
/// differently), the rest as text.
fn samples(text: &str) -> (Vec<&str>, BTreeMap<&str, f64>) {
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    lines.sort_unstable();
    let (sums, rest): (Vec<&str>, Vec<&str>) = lines
        .into_iter()
        .partition(|l| l.split('{').next().unwrap().ends_with("_sum"));
    let sums = sums
        .into_iter()
        .map(|l| {
            let (series, v) = l.rsplit_once(' ').unwrap();
            (series, v.parse().unwrap())
        })
        .collect();
    (rest, sums)
}

#[test]
fn both_exports_have_the_catalogs_families_and_the_same_samples() {
    let (fb, _clock, _held) = scenario();
    let admin_text = admin_text(&fb);
    let feature_text = metrics_feature_text(&fb);
    let catalog: BTreeMap<String, (String, String)> = catalog::ALL
        .iter()
        .map(|m| {
            (
                m.name.to_owned(),
                (m.kind.as_str().to_owned(), m.help.to_owned()),
            )
        })
        .collect();
    assert_eq!(families(&admin_text), catalog);
    assert_eq!(families(&feature_text), catalog);
    // Line for line the same, histogram buckets included.
    let (admin, admin_sums) = samples(&admin_text);
    let (feature, feature_sums) = samples(&feature_text);
    assert_eq!(admin, feature);
    assert_eq!(
        admin_sums.keys().collect::<Vec<_>>(),
        feature_sums.keys().collect::<Vec<_>>()
    );
    for (series, a) in &admin_sums {
        let f = feature_sums[series];
        assert!((a - f).abs() <= 1e-9, "{series}: {a} vs {f}");
    }
}
