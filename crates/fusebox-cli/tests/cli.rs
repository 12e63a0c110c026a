//! The `fusebox` binary against a live admin server on 127.0.0.1, port 0,
//! over a real Fusebox (see `support` for how it is run).

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox};
use fusebox_admin::AdminConfig;

use support::{churn, fusebox, serve, server, TOKEN};

#[test]
fn status_lists_fuses_valves_and_alarms() {
    let s = server();
    s.fb.melt("other").unwrap();
    let run = fusebox(&["status", "--url", &s.url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {}", run.stdout))
            .to_owned()
    };
    assert!(run.stdout.contains("FUSES (2)"), "{}", run.stdout);
    assert!(run.stdout.contains("VALVES (1)"), "{}", run.stdout);
    assert!(run.stdout.contains("ALARMS"), "{}", run.stdout);
    assert_eq!(line("db").split_whitespace().nth(1), Some("ok"));
    let other = line("other");
    assert_eq!(other.split_whitespace().nth(1), Some("blown"));
    assert!(other.contains("at 1m"), "the heal deadline: {other}");
    assert!(line("api").contains("0/4"), "in flight of concurrency");
    assert!(line("api").contains("fixed"), "the limit column");

    assert!(line("db").ends_with(" -"), "no throttle: {}", line("db"));

    // A throttling fuse shows its reject probability and what it is from.
    s.fb.install(
        "partner",
        FuseConfig::new(fusebox::Strategy::throttle(
            2.0,
            std::time::Duration::from_secs(60),
        )),
    )
    .unwrap();
    for _ in 0..9 {
        let _ = s.fb.run("partner", || Err::<(), _>("down"));
    }
    let run = fusebox(&["status", "--url", &s.url]);
    let partner = run
        .stdout
        .lines()
        .find(|l| l.starts_with("partner"))
        .unwrap_or_else(|| panic!("no partner: {}", run.stdout))
        .to_owned();
    // Nine asks, no accepts: (9 - 0) / 10.
    assert!(
        partner.contains("reject 90% (0 accepted of 9;"),
        "{partner}"
    );
    s.fb.remove("partner").unwrap();

    let run = fusebox(&["status", "--url", &s.url, "--json"]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["fuses"][0]["name"], "db");
    assert_eq!(v["fuses"][1]["state"], "blown");
    assert_eq!(v["valves"][0]["name"], "api");
}

#[test]
fn disable_needs_the_token_and_shows_in_status() {
    let s = server();
    let run = fusebox(&["disable", "db", "--url", &s.url]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("unauthorized"), "{}", run.stderr);
    assert!(run.stderr.contains("FUSEBOX_TOKEN"), "{}", run.stderr);

    let run = fusebox(&["disable", "db", "--url", &s.url, "--token", "wrong"]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("refused the token"), "{}", run.stderr);
    assert_eq!(s.fb.state("db").unwrap().state.as_str(), "ok");

    let run = fusebox(&["disable", "nosuch", "--url", &s.url, "--token", TOKEN]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("no fuse named \"nosuch\""),
        "{}",
        run.stderr
    );

    let run = fusebox(&["disable", "db", "--url", &s.url, "--token", TOKEN]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(run.stdout.trim(), "db: disabled");

    let run = fusebox(&["status", "--url", &s.url]);
    let row = run.stdout.lines().find(|l| l.starts_with("db ")).unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some("disabled"), "{row}");

    let run = fusebox(&["enable", "db", "--url", &s.url, "--token", TOKEN]);
    assert_eq!((run.code(), run.stdout.trim()), (Some(0), "db: ok"));
    s.fb.melt("db").unwrap();
    let run = fusebox(&["reset", "db", "--url", &s.url, "--token", TOKEN]);
    assert_eq!((run.code(), run.stdout.trim()), (Some(0), "db: ok"));
    let run = fusebox(&["unlock", "db", "--url", &s.url, "--token", TOKEN]);
    assert_eq!((run.code(), run.stdout.trim()), (Some(0), "db: ok"));
}

#[test]
fn control_is_forbidden_without_a_server_token() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(1, Duration::from_secs(1)))
        .unwrap();
    let (url, _rt) = serve(fb, AdminConfig::new());
    let run = fusebox(&["reset", "db", "--url", &url, "--token", "t"]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("control is disabled"), "{}", run.stderr);
}

#[test]
fn unreachable_server_fails_cleanly() {
    // A port that was free a moment ago: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = fusebox(&["status", "--url", &url]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
}

#[test]
fn trace_stops_by_itself_after_max_events() {
    let s = server();
    let _churn = churn(&s.fb, &["db", "other"]);
    let run = fusebox(&["trace", "db", "--max", "5", "--url", &s.url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    for l in &lines {
        assert_eq!(
            l.split_whitespace().nth(1),
            Some("db"),
            "only db's events: {l}"
        );
        assert!(l.contains("->"), "{l}");
    }
    assert!(run.stderr.contains("5 events printed"), "{}", run.stderr);
}

#[test]
fn trace_caps_the_rate_and_counts_drops() {
    let s = server();
    let _churn = churn(&s.fb, &["db", "other"]);
    // Four events at two a second take at least one window change.
    let run = fusebox(&["trace", "*", "--max", "4", "--rate", "2", "--url", &s.url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    assert!(run.took >= Duration::from_secs(1), "{:?}", run.took);
    assert!(run.stderr.contains("dropped"), "{}", run.stderr);
}

#[test]
fn watch_count_prints_that_many_tables() {
    let s = server();
    let _churn = churn(&s.fb, &["db"]);
    let run = fusebox(&[
        "watch",
        "--count",
        "2",
        "--interval",
        "100ms",
        "--url",
        &s.url,
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(run.stdout.matches("FUSES (2)").count(), 2, "{}", run.stdout);
    assert_eq!(run.stdout.matches("fusebox watch").count(), 2);
    // The second table has rates.
    assert!(run.stdout.contains("melts/s"), "{}", run.stdout);
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes `text` to a file of its own under the temp dir.
fn temp_config(text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "fusebox-cli-{}-{}.toml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

const VALID: &str = r#"
[fuses.db]
strategy = { kind = "standard", max_melts = 5, window = "10s" }
heal = { steps = [{ delay = "60s" }] }

[valves.api]
concurrency = 8
queue = 64
guard = "db"
"#;

#[test]
fn check_accepts_a_valid_config() {
    let example = workspace_root().join("examples/fusebox.toml");
    let path = if example.exists() {
        example
    } else {
        temp_config(VALID)
    };
    let run = fusebox(&["check", path.to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains(": ok: "), "{}", run.stdout);

    let path = temp_config(VALID);
    let run = fusebox(&["check", path.to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(
        run.stdout.ends_with(": ok: 1 fuse, 1 valve\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_reports_every_error_with_its_line() {
    // (config, lines that must be reported)
    let cases: [(String, &[usize]); 5] = [
        // TOML syntax: an unterminated string.
        (VALID.replace("\"10s\" }", "\"10s }"), &[3]),
        // A rule: failures must be at least 1.
        (
            VALID.replace(
                "{ kind = \"standard\", max_melts = 5, window = \"10s\" }",
                "{ kind = \"consecutive\", failures = 0 }",
            ),
            &[3],
        ),
        // An unknown key in a valve.
        (VALID.replace("queue = 64", "queue = 64\nqeueu = 3"), &[9]),
        // A guard naming no fuse of the file.
        (VALID.replace("guard = \"db\"", "guard = \"nope\""), &[9]),
        // Two errors, one per table: both reported.
        (
            VALID
                .replace("window = \"10s\"", "window = \"0s\"")
                .replace("concurrency = 8", "concurrency = 0"),
            &[3, 7],
        ),
    ];
    for (text, lines) in cases {
        let path = temp_config(&text);
        let shown = path.to_str().unwrap();
        let run = fusebox(&["check", shown]);
        assert_eq!(run.code(), Some(1), "{text}\n{run:?}");
        for line in lines {
            assert!(
                run.stderr.contains(&format!("{shown}:{line}:")),
                "line {line} of\n{text}\nnot in\n{}",
                run.stderr
            );
        }
        // (A syntax error may cascade into more: TOML's parser goes on.)
        let errors = run
            .stderr
            .lines()
            .filter(|l| {
                l.strip_prefix(&format!("{shown}:"))
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        assert!(errors >= lines.len(), "one line per error:\n{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{shown}: {errors} error")),
            "and a total:\n{}",
            run.stderr
        );
        let _ = std::fs::remove_file(&path);
    }

    let run = fusebox(&["check", "/nonexistent/fusebox.toml"]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(fusebox(&["status", "--bogus"]).code(), Some(2));
    assert_eq!(fusebox(&["trace"]).code(), Some(2));
    assert_eq!(fusebox(&["trace", "db", "--max", "0"]).code(), Some(2));
    assert_eq!(fusebox(&["watch", "--interval", "1parsec"]).code(), Some(2));
    assert_eq!(fusebox(&["--help"]).code(), Some(0));
}

#[test]
fn demo_runs_and_prints_the_table_and_report_path() {
    let report = std::env::temp_dir().join(format!("fusebox-cli-demo-{}.html", std::process::id()));
    let run = fusebox(&[
        "demo",
        "--duration",
        "2s",
        "--no-dashboard",
        "--quiet",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains("unprotected"), "{}", run.stdout);
    assert!(run.stdout.contains("protected"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("report: {}", report.display())),
        "{}",
        run.stdout
    );
    assert!(report.exists());
    let _ = std::fs::remove_file(&report);
}

#[test]
fn demo_on_virtual_time_prints_the_same_table_at_once() {
    let report =
        std::env::temp_dir().join(format!("fusebox-cli-vdemo-{}.html", std::process::id()));
    let started = std::time::Instant::now();
    let run = fusebox(&[
        "demo",
        "--virtual",
        "--quiet",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    // A 60 s demo (two runs of 30 s): 6,000 requests each, in far less
    // than the real minute.
    assert!(
        run.stdout.lines().any(|l| l.starts_with("requests")
            && l.split_whitespace().skip(1).eq(["6000", "6000", "6000"])),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("time to recover"), "{}", run.stdout);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(html.contains("virtual time"));
    let _ = std::fs::remove_file(&report);
    // Virtual time has no dashboard to serve.
    assert_eq!(
        fusebox(&["demo", "--virtual", "--dashboard", "127.0.0.1:0"]).code(),
        Some(2)
    );
}

#[test]
fn simulate_runs_a_scenario_with_configs_side_by_side() {
    let dir = workspace_root().join("crates/fusebox-sim/scenarios");
    let arg = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let (s, reset, program) = (
        arg("flapping.toml"),
        arg("flapping-reset.toml"),
        arg("flapping-program.toml"),
    );
    let html = std::env::temp_dir().join(format!("fusebox-sim-report-{}.html", std::process::id()));
    let html_arg = html.to_str().unwrap().to_owned();
    let run = fusebox(&[
        "simulate", &s, "--config", &reset, "--config", &program, "--report", &html_arg,
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    let _ = std::fs::remove_file(&html);
    assert!(page.starts_with("<!DOCTYPE html>"), "{page:.200}");
    assert_eq!(
        page.matches("<polyline").count(),
        6,
        "two charts of three runs"
    );
    assert!(page.contains("flapping-program"));
    for line in [
        "none (",
        "flapping-reset (",
        "flapping-program (",
        "objective: wasted_calls",
    ] {
        assert!(run.stdout.contains(line), "no {line:?} in\n{}", run.stdout);
    }
    let json = fusebox(&[
        "simulate", &s, "--config", &reset, "--json", "--report", &html_arg,
    ]);
    assert_eq!(json.code(), Some(0), "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(2));
    let again = fusebox(&[
        "simulate", &s, "--config", &reset, "--json", "--report", &html_arg,
    ]);
    let _ = std::fs::remove_file(&html);
    assert_eq!(
        json.stdout, again.stdout,
        "the same scenario, the same bytes"
    );
}

#[test]
fn simulate_reports_a_broken_scenario_with_its_line() {
    let dir = std::env::temp_dir().join(format!("fusebox-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(
        &path,
        "duration = \"60s\"\n[load]\nopen = { rate = -1.0 }\ntimeout = \"1s\"\n\
         [dependency]\nconnections = 4\nlatency = { kind = \"constant\", value = \"1ms\" }\n",
    )
    .unwrap();
    let run = fusebox(&[
        "simulate",
        path.to_str().unwrap(),
        "--report",
        "/nonexistent/never.html",
    ]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("broken.toml:3:"), "{}", run.stderr);
    assert!(run.stderr.contains("load.open.rate"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_refuses_a_scenario_past_the_limit_naming_its_estimate() {
    let dir = std::env::temp_dir().join(format!("fusebox-sim-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.toml");
    std::fs::write(
        &path,
        "duration = \"10000h\"\n[load]\nopen = { rate = 1e9 }\ntimeout = \"1s\"\n\
         [dependency]\nconnections = 4\nlatency = { kind = \"constant\", value = \"1ms\" }\n",
    )
    .unwrap();
    let report = dir.join("never.html");
    let started = std::time::Instant::now();
    let run = fusebox(&[
        "simulate",
        path.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "refused at once"
    );
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("about 36,000,000,000,000,000 client requests estimated, over the limit of 10,000,000,000"),
        "{}",
        run.stderr
    );
    // Standard error is a pipe here: no progress line, ever.
    assert!(!run.stderr.contains("simulating"), "{}", run.stderr);
    assert!(!report.exists(), "nothing ran, nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}
