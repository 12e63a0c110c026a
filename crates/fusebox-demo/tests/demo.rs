//! A shortened demo (4 s a run) must show the effect clearly: the protected
//! run's p99 several times lower and far fewer wasted calls; and the same
//! demo on virtual time (`run_virtual`) must tell the same story, row by
//! row, within the noise of a real clock on a shared machine.

use std::time::Duration;

use fusebox_demo::{DemoOptions, DemoReport, RunSummary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_run_beats_unprotected() {
    let dir = std::env::temp_dir().join(format!("fusebox-demo-test-{}", std::process::id()));
    let path = dir.join("nested").join("report.html");
    let report = fusebox_demo::run(DemoOptions {
        duration: Duration::from_secs(8),
        dashboard: Some(([127, 0, 0, 1], 0).into()),
        report: path.clone(),
        quiet: true,
    })
    .await
    .expect("demo runs");
    let (u, p) = (&report.unprotected, &report.protected);
    eprintln!("{}", report.table());

    // Same offered load in both runs (open loop: 200/s for 4 s).
    assert!(
        u.requests >= 700 && p.requests >= 700,
        "{} {}",
        u.requests,
        p.requests
    );
    // The effect is large, not marginal: fewer errors, failed at once
    // instead of after the timeout, and a fraction of the wasted calls.
    assert!(
        p.client_errors < u.client_errors,
        "client errors: protected {}, unprotected {}",
        p.client_errors,
        u.client_errors
    );
    assert!(
        p.wasted_calls * 3 < u.wasted_calls,
        "wasted: protected {}, unprotected {}",
        p.wasted_calls,
        u.wasted_calls
    );
    assert!(u.timeouts > 0 && p.refused > 0);
    assert!(report
        .dashboard_url
        .as_deref()
        .unwrap()
        .starts_with("http://127.0.0.1:"));

    assert_eq!(report.report_path, path);
    let html = std::fs::read_to_string(&path).expect("report written");
    assert_eq!(html.matches("<svg").count(), 2, "two charts");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );

    // The same demo on virtual time agrees with this real-time run.
    let simulated = fusebox_demo::run_virtual(DemoOptions {
        duration: Duration::from_secs(8),
        report: dir.join("virtual.html"),
        quiet: true,
        ..DemoOptions::default()
    })
    .expect("virtual demo runs");
    eprintln!("on virtual time:\n{}", simulated.table());
    agree(&report, &simulated);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every row of the table, real against virtual, within noise bands written
/// down here: counts within 15 % or 3 % of the requests (whichever is
/// larger: a real timer fires late, a query sleeps a little longer);
/// latencies within 35 % or 4 ms (tokio's timer wheel rounds every sleep up
/// to its millisecond tick, a busy machine adds its own); the time to
/// recover within a slow query plus a few throttle windows and a bucket:
/// whether the last slow queries still hold the connections when the
/// episode ends, and how fast the throttle sees it, is luck of a few
/// milliseconds, and one missed window is that long.
fn agree(real: &DemoReport, sim: &DemoReport) {
    let s = &real.scenario;
    let mut wrong = Vec::new();
    for (r, v) in [
        (&real.unprotected, &sim.unprotected),
        (&real.protected, &sim.protected),
    ] {
        let slack = (r.requests as f64 * 0.03).max(1.0);
        let mut count = |row: &str, a: u64, b: u64| {
            let (a, b) = (a as f64, b as f64);
            if (a - b).abs() > (0.15 * a.max(b)).max(slack) {
                wrong.push(format!("{} {row}: real {a}, virtual {b}", r.label));
            }
        };
        count("requests", r.requests, v.requests);
        count("client errors", r.client_errors, v.client_errors);
        count("timeouts", r.timeouts, v.timeouts);
        count("refusals", r.refused, v.refused);
        count("database calls", r.db_calls, v.db_calls);
        count("wasted calls", r.wasted_calls, v.wasted_calls);
        let mut latency = |row: &str, a: Duration, b: Duration| {
            let band = a.max(b).mul_f64(0.35).max(Duration::from_millis(4));
            if a.abs_diff(b) > band {
                wrong.push(format!("{} {row}: real {a:?}, virtual {b:?}", r.label));
            }
        };
        latency("p50", r.p50, v.p50);
        latency("p99", r.p99, v.p99);
        latency("max", r.max, v.max);
        let cycle = s.slow_latency.mul_f64(1.1) + s.throttle_window * 4 + s.bucket;
        let ttr = |x: &RunSummary| x.time_to_recover.unwrap_or(s.run);
        if ttr(r).abs_diff(ttr(v)) > cycle {
            wrong.push(format!(
                "{} time to recover: real {:?}, virtual {:?}",
                r.label, r.time_to_recover, v.time_to_recover
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "real and virtual disagree:\n{}",
        wrong.join("\n")
    );
}
