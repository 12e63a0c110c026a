//! The demo's promises (issue 15), held as a test: the demo at its default
//! length, on virtual time and its own seed, passes every check it prints
//! after a run (`DemoReport::checks`): client errors within 1.06x the best
//! possible, the slow episode's capacity served at the slow latency, the
//! error episode's successes as the throttling formula predicts and few
//! wasted calls, the healthy latency kept outside the slow episode, a
//! recovery within 100 ms. Virtual time makes it exact: the same figures on
//! every machine.

use fusebox_demo::DemoOptions;

#[test]
fn the_demo_on_virtual_time_keeps_every_promise() {
    let dir = std::env::temp_dir().join(format!("fusebox-promises-{}", std::process::id()));
    let report = fusebox_demo::run_virtual(DemoOptions {
        report: dir.join("report.html"),
        quiet: true,
        ..DemoOptions::default()
    })
    .expect("the virtual demo runs");
    let checks = report.checks();
    for c in &checks {
        eprintln!(
            "{} {:?} {}: {} (bound {})",
            if c.holds { "ok  " } else { "MISS" },
            c.phase,
            c.what,
            c.figure,
            c.bound
        );
    }
    assert!(
        checks.len() >= 9,
        "every promise is checked: {}",
        checks.len()
    );
    let missed: Vec<_> = checks
        .iter()
        .filter(|c| !c.holds)
        .map(|c| &c.what)
        .collect();
    assert!(missed.is_empty(), "promises missed: {missed:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
