//! A shortened demo (4 s a run) must show the effect clearly: the protected
//! run's p99 several times lower and far fewer wasted calls.

use std::time::Duration;

use fusebox_demo::DemoOptions;

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
    // The effect is large, not marginal.
    assert!(
        p.p99 * 3 < u.p99,
        "p99: protected {:?}, unprotected {:?}",
        p.p99,
        u.p99
    );
    assert!(
        p.wasted_calls * 5 < u.wasted_calls,
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
    let _ = std::fs::remove_dir_all(&dir);
}
