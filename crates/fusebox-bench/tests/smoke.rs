//! The suite in smoke mode: every row runs, every contender of every row
//! reports a finite positive time, ratios are present, and the JSON the
//! binary writes parses back. Figures from a smoke run mean nothing; this
//! only keeps the benchmarks from rotting.

use fusebox_bench::harness::Settings;

#[test]
fn every_row_runs_and_reports() {
    let report = fusebox_bench::run(&Settings::smoke(), "", false);
    let ids: Vec<&str> = report.rows.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        [
            "ask_ok",
            "run_ok",
            "ask_blown",
            "refusal",
            "melt_100",
            "melt_100000",
            "ask_by_name_10",
            "ask_by_name_1000",
            "ask_by_name_100000",
            "valve_acquire",
            "valve_acquire_async",
            "valve_rate",
            "keyed_ask_1000",
            "retry_ok"
        ]
    );
    for row in &report.rows {
        let fb = row.get("fusebox").expect("every row measures fusebox");
        assert_eq!(fb.ratio_vs_fusebox, Some(1.0), "{}", row.id);
        for e in &row.results {
            let m = &e.measured;
            assert!(
                m.median_ns.is_finite() && m.median_ns > 0.0,
                "{}/{}: {m:?}",
                row.id,
                m.name
            );
            assert!(m.min_ns <= m.median_ns && m.median_ns <= m.max_ns);
            if Some(m.name) != row.baseline {
                assert!(
                    e.ratio_vs_fusebox.is_some_and(|r| r > 0.0),
                    "{}/{}",
                    row.id,
                    m.name
                );
            }
        }
    }
    let peers: Vec<&str> = report.rows[1]
        .results
        .iter()
        .map(|e| e.measured.name)
        .collect();
    assert_eq!(
        peers,
        [
            "bare call",
            "fusebox",
            "recloser",
            "failsafe",
            "seatbelt",
            "tower-resilience"
        ]
    );
    let scaled: Vec<&str> = report.scaling.iter().map(|s| s.name).collect();
    assert_eq!(
        scaled,
        ["bare atomic load", "fusebox", "failsafe", "recloser"]
    );
    for s in &report.scaling {
        assert!(s.scaling.is_finite() && s.scaling > 0.0, "{s:?}");
    }
    let table = report.table();
    assert!(table.contains("tower-resilience") && table.contains("scaling"));
}

#[test]
fn the_binary_writes_json() {
    let dir = std::env::temp_dir().join(format!("fusebox-bench-{}", std::process::id()));
    let path = dir.join("report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fusebox-bench"))
        .args(["--smoke", "--filter", "ask_ok", "--json"])
        .arg(&path)
        .output()
        .expect("the bench binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ask, closed (healthy) breaker"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("JSON written"))
            .expect("valid JSON");
    assert_eq!(json["rows"][0]["id"], "ask_ok");
    assert!(json["rows"][0]["results"][0]["median_ns"]
        .as_f64()
        .is_some());
    let _ = std::fs::remove_dir_all(dir);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_fusebox-bench"))
        .arg("--rounds")
        .arg("zero")
        .output()
        .expect("the bench binary runs");
    assert_eq!(bad.status.code(), Some(2));
}

/// The overload benchmark, a fraction of a second per regulator: every
/// regulator serves something and accounts for every offered task.
#[test]
fn overload_runs_and_accounts_for_every_task() {
    let outcomes = fusebox_bench::overload::run(0.3, false);
    let names: Vec<&str> = outcomes.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "fusebox fifo",
            "fusebox codel",
            "codel+max_wait",
            "tower limit+buffer"
        ]
    );
    for o in &outcomes {
        assert!(o.offered > 0 && o.served > 0, "{o:?}");
        assert_eq!(o.served + o.refused, o.offered, "{o:?}");
        assert!(o.p50_ms <= o.p99_ms, "{o:?}");
    }
    let table = fusebox_bench::overload::table(&outcomes, 0.3);
    assert!(table.contains("fusebox codel"), "{table}");
}

/// The config check benchmark on a few hundred entries: the generated file
/// checks, every contender reports a finite time, and the binary writes its
/// JSON (timing `/bin/true` as the `--cli`, which exercises that path
/// without needing the `fusebox` binary of another crate).
#[test]
fn config_check_runs_and_reports() {
    use fusebox_bench::config_check;
    let outcome = config_check::run(&config_check::Settings::smoke(), false);
    assert_eq!((outcome.fuses, outcome.valves), (270, 30));
    assert!(outcome.bytes > 300 * 150, "{}", outcome.bytes);
    let t = &outcome.timed[0];
    assert!(t.median_s.is_finite() && t.median_s > 0.0, "{t:?}");
    assert!(config_check::table(&outcome).contains("ConfigFile::check"));

    let dir = std::env::temp_dir().join(format!("fusebox-bench-cc-{}", std::process::id()));
    let path = dir.join("config-check.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fusebox-bench"));
    cmd.args(["--config-check", "--smoke", "--runs", "2", "--json"])
        .arg(&path);
    let true_bin = std::path::Path::new("/bin/true");
    if true_bin.exists() {
        cmd.arg("--cli").arg(true_bin);
    }
    let out = cmd.output().expect("the bench binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("JSON written"))
            .expect("valid JSON");
    assert_eq!(json["entries"], 300);
    assert_eq!(json["runs"], 2);
    let timed = json["timed"].as_array().unwrap();
    assert_eq!(timed.len(), if true_bin.exists() { 2 } else { 1 });
    let _ = std::fs::remove_dir_all(dir);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_fusebox-bench"))
        .args(["--entries", "10"])
        .output()
        .expect("the bench binary runs");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "--entries without --config-check"
    );
}

/// `--adaptive` is virtual time, so its figures are exact and repeatable:
/// the learned gradient limit keeps goodput and the queueing delay where a
/// limit set by hand for one phase cannot keep both.
#[test]
fn adaptive_learns_what_fixed_limits_cannot() {
    let outcomes = fusebox_bench::adaptive::run().expect("runs");
    let by = |prefix: &str| {
        outcomes
            .iter()
            .find(|o| o.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}"))
    };
    let learned = by("gradient (learned), max_wait 50ms");
    assert_eq!(learned.buckets_ok, learned.buckets, "{learned:?}");
    assert!(learned.min_goodput >= 0.9, "{learned:?}");
    assert!(learned.p99_delay_degraded_ms <= 105.0, "{learned:?}");
    let degraded = by("fixed 8");
    assert!(degraded.buckets_ok * 2 < degraded.buckets, "{degraded:?}");
    let unbounded = by("fixed 16, unbounded");
    assert!(unbounded.p99_delay_degraded_ms > 500.0, "{unbounded:?}");
    // tower's own ConcurrencyLimit, polled by the simulator, does what a
    // valve of 16 with no bound on the wait does, request for request.
    let tower = by("tower ConcurrencyLimit");
    assert_eq!(
        (
            tower.client_errors,
            tower.buckets_ok,
            tower.p99_delay_degraded_ms
        ),
        (
            unbounded.client_errors,
            unbounded.buckets_ok,
            unbounded.p99_delay_degraded_ms
        )
    );
    assert!(fusebox_bench::adaptive::table(&outcomes).contains("min goodput"));
}
