//! `fusebox status` and the control commands on a fleet: two live admin
//! servers on 127.0.0.1, a port that refuses connections (bound, then
//! closed) and a listener that accepts connections at the kernel level but
//! never answers, so only the per-target deadline ends its request.
//!
//! Timing is checked with wide margins: the command must take at least the
//! `--timeout` (the silent target is waited for) and end well before the
//! single-server deadline of 10 s would (so the per-target one was used).

mod support;

use std::net::TcpListener;
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox};
use fusebox_admin::AdminConfig;

use support::{fusebox, server, Invocation, Run, Server, TOKEN};

/// The per-target deadline the tests give.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Longer than the command may take: the deadline and generous slack for a
/// loaded machine, and still short of the 10 s a single server gets.
const SLACK: Duration = Duration::from_secs(7);

/// Two live servers (`db` blown on the first), a refusing port, a silent
/// listener (kept open as long as the fleet lives).
struct Fleet {
    up: [Server; 2],
    refused: String,
    silent: String,
    _silent: TcpListener,
}

fn fleet() -> Fleet {
    let up = [server(), server()];
    up[0].fb.melt("db").unwrap();
    let refused = {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    };
    // Never accepted: the kernel completes the handshake (the backlog), the
    // request is written, and nothing ever comes back.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    Fleet {
        up,
        refused,
        silent,
        _silent: listener,
    }
}

impl Fleet {
    fn urls(&self) -> [&str; 4] {
        [
            &self.up[0].url,
            &self.up[1].url,
            &self.refused,
            &self.silent,
        ]
    }

    /// `--url` for every target, in the fleet's order.
    fn url_args(&self) -> Vec<&str> {
        self.urls().iter().flat_map(|u| ["--url", *u]).collect()
    }

    /// A fleet file of the four, with comments and blank lines.
    fn file(&self, name: &str) -> String {
        let [a, b, c, d] = self.urls();
        let path =
            std::env::temp_dir().join(format!("fusebox-fleet-{}-{name}.txt", std::process::id()));
        std::fs::write(
            &path,
            format!("# checkout\n{a}\n\n{b}   # the second\n{c}\n# the silent one\n{d}\n"),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    }
}

fn label(url: &str) -> &str {
    url.strip_prefix("http://").unwrap()
}

/// The command waited for the silent target's deadline, and no longer than
/// the deadline and the slack.
fn within_the_deadline(run: &Run) {
    assert!(
        run.took >= TIMEOUT,
        "{:?}: the silent target was not waited for",
        run.took
    );
    assert!(
        run.took < TIMEOUT + SLACK,
        "{:?}: past the deadline",
        run.took
    );
}

#[test]
fn status_shows_the_fleet_in_one_table_and_who_did_not_answer() {
    let f = fleet();
    let timeout = fusebox::duration::format(TIMEOUT);
    let mut args = vec!["status", "--timeout", &timeout];
    args.extend(f.url_args());
    let run = fusebox(&args);
    assert_eq!(run.code(), Some(1), "{run:?}");
    within_the_deadline(&run);
    assert!(
        run.stderr.contains("error: 2 of 4 targets did not answer"),
        "{}",
        run.stderr
    );
    let out = &run.stdout;
    let (a, b) = (label(&f.up[0].url), label(&f.up[1].url));
    assert!(
        out.starts_with("FLEET: 4 targets, 2 answered, 2 unreachable\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("\ndb blown on 1 of 2: {a}\n")),
        "{out}"
    );
    // One table, a row per fuse and target, sorted by fuse then target.
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip_while(|l| !l.starts_with("FUSES (4 on 2 targets)"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["db", a, "blown"],
            ["db", b, "ok"],
            ["other", a, "ok"],
            ["other", b, "ok"]
        ],
        "{out}"
    );
    assert!(out.contains("VALVES (2 on 2 targets)"), "{out}");
    let unreachable: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("UNREACHABLE (2)"))
        .skip(1)
        .collect();
    assert_eq!(unreachable.len(), 2, "{out}");
    assert!(
        unreachable[0].starts_with(&format!("{}: cannot reach", label(&f.refused))),
        "{out}"
    );
    assert!(unreachable[0].contains("refused"), "why: {out}");
    assert!(
        unreachable[1].starts_with(label(&f.silent))
            && unreachable[1].ends_with("no answer within 1s"),
        "{out}"
    );

    // The same fleet from a file; and as JSON.
    let file = f.file("status");
    let run = fusebox(&["status", "--fleet", &file, "--timeout", &timeout]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    within_the_deadline(&run);
    assert!(
        run.stdout.contains(&format!("\ndb blown on 1 of 2: {a}\n")),
        "{run:?}"
    );
    assert!(run.stdout.contains("UNREACHABLE (2)"), "{run:?}");
    let run = fusebox(&["status", "--json", "--fleet", &file, "--timeout", &timeout]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4);
    assert_eq!(targets[0]["target"], f.up[0].url.as_str());
    assert_eq!(targets[0]["snapshot"]["fuses"][0]["state"], "blown");
    assert_eq!(targets[1]["snapshot"]["fuses"][0]["state"], "ok");
    assert!(targets[2]["error"]
        .as_str()
        .unwrap()
        .contains("cannot reach"));
    assert!(targets[3]["error"]
        .as_str()
        .unwrap()
        .contains("no answer within 1s"));
    let _ = std::fs::remove_file(&file);

    // Every target up: exit 0, no UNREACHABLE section.
    let run = fusebox(&["status", "--url", &f.up[0].url, "--url", &f.up[1].url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run
        .stdout
        .starts_with("FLEET: 2 targets, 2 answered, 0 unreachable\n"));
    assert!(!run.stdout.contains("UNREACHABLE"), "{}", run.stdout);
}

#[test]
fn one_url_prints_what_it_always_has() {
    let f = fleet();
    let run = fusebox(&["status", "--url", &f.up[0].url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.starts_with("FUSES (2)\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("FLEET"), "{}", run.stdout);
    // One server takes --timeout too (its default stays 10 s).
    let timeout = fusebox::duration::format(TIMEOUT);
    let run = fusebox(&["status", "--url", &f.silent, "--timeout", &timeout]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    within_the_deadline(&run);
    assert!(
        run.stderr.ends_with("no answer within 1s\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn control_reports_per_target_and_fails_if_any_did() {
    let f = fleet();
    let file = f.file("control");
    let timeout = fusebox::duration::format(TIMEOUT);
    let run = fusebox(&[
        "disable",
        "db",
        "--fleet",
        &file,
        "--token",
        TOKEN,
        "--timeout",
        &timeout,
    ]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    within_the_deadline(&run);
    let lines: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(run.stdout.lines().next(), Some("disable db on 4 targets"));
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0], [label(&f.up[0].url), "ok", "disabled"]);
    assert_eq!(lines[1], [label(&f.up[1].url), "ok", "disabled"]);
    assert_eq!(lines[2][..3], [label(&f.refused), "error", "cannot"]);
    assert_eq!(lines[3][..2], [label(&f.silent), "error"]);
    assert!(run.stdout.contains("no answer within 1s"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("error: disable db failed on 2 of 4 targets"),
        "{}",
        run.stderr
    );
    // The servers that said ok did it.
    for s in &f.up {
        assert_eq!(s.fb.state("db").unwrap().state.as_str(), "disabled");
    }

    // A failure the server gives is a failure of that target alone.
    let run = fusebox(&[
        "enable",
        "db",
        "--url",
        &f.up[0].url,
        "--url",
        &f.up[1].url,
        "--token",
        "wrong",
    ]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert_eq!(
        run.stdout.matches("refused the token").count(),
        2,
        "{}",
        run.stdout
    );
    let run = fusebox(&[
        "enable",
        "db",
        "--url",
        &f.up[0].url,
        "--url",
        &f.up[1].url,
        "--token",
        TOKEN,
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let results: Vec<&str> = run
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(results, ["ok", "ok"], "{}", run.stdout);
    assert_eq!(run.stderr, "", "{run:?}");
    for s in &f.up {
        assert_ne!(s.fb.state("db").unwrap().state.as_str(), "disabled");
    }
    let _ = std::fs::remove_file(&file);
}

/// A fleet larger than the descriptors the command may open: 300 admin
/// servers (300 listeners over one Fusebox) asked under `RLIMIT_NOFILE`
/// 64. Connections must be closed as answers arrive, not kept to the end
/// of the command, one per target; and the `--parallel` default (16) keeps
/// those open at once under the cap.
#[test]
fn a_large_fleet_holds_no_connection_per_target() {
    const TARGETS: usize = 300;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    let mut list = String::new();
    for _ in 0..TARGETS {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        list.push_str(&format!("http://{}\n", listener.local_addr().unwrap()));
        rt.spawn(fusebox_admin::serve_listener(
            listener,
            fb.clone(),
            AdminConfig::new(),
        ));
    }
    let path = std::env::temp_dir().join(format!("fusebox-fleet-{}-large.txt", std::process::id()));
    std::fs::write(&path, list).unwrap();
    let run = Invocation::new(&["status", "--fleet", path.to_str().unwrap()])
        .open_files_cap(64)
        .run();
    let _ = std::fs::remove_file(&path);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("FLEET: 300 targets, 300 answered, 0 unreachable\n"),
        "{}",
        &run.stdout[..run.stdout.len().min(2000)]
    );
    assert!(run.stdout.contains("FUSES (300 on 300 targets)"));
}
