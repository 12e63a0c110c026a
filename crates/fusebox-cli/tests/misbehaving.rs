//! The `fusebox` binary against servers and files that are not what it
//! expects: endless bodies and streams, `/dev/zero`, a 200 from something
//! else, a page that is not an event stream. Each run must end by itself,
//! exit 1 and say what was wrong; the endless ones run under a 256 MB
//! address-space cap, so reading without a limit would abort them.

mod support;

use std::time::Duration;

use fusebox::{FuseConfig, Fusebox};

use support::{churn, fake, fusebox, server, Invocation, Reply, Run, TOKEN};

/// The address-space cap of the runs that read something endless.
const CAP: u64 = 256 << 20;

fn capped(args: &[&str]) -> Run {
    Invocation::new(args).memory_cap(CAP).run()
}

/// A failure that says `what`, on one `error:` line, and nothing on stdout.
fn fails_saying(run: &Run, what: &[&str]) {
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
    for w in what {
        assert!(run.stderr.contains(w), "{w:?} not in {:?}", run.stderr);
    }
    assert_eq!(run.stdout, "", "{run:?}");
}

/// The cap leaves room for the binary's real work: a status against a real
/// server and a check of a real file pass under it. (Otherwise the tests
/// below would pass for the wrong reason.)
#[test]
fn the_binary_works_under_the_memory_cap() {
    let s = server();
    let run = capped(&["status", "--url", &s.url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains("FUSES (2)"), "{run:?}");
    let _churn = churn(&s.fb, &["db"]);
    let run = capped(&["trace", "db", "--max", "3", "--url", &s.url]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 3, "{run:?}");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/fusebox.toml");
    let run = capped(&["check", example]);
    assert_eq!(run.code(), Some(0), "{run:?}");
}

#[test]
fn an_endless_body_is_cut_at_the_limit() {
    let f = fake(Reply::Endless {
        content_type: "application/json",
        fill: b' ',
    });
    let snapshot = format!("{}/api/snapshot", f.url);
    for args in [
        &["status", "--url", &f.url][..],
        &["status", "--json", "--url", &f.url],
        &["watch", "--count", "1", "--url", &f.url],
    ] {
        let run = capped(args);
        fails_saying(
            &run,
            &[
                &snapshot,
                "the answer is larger than 16 MiB, the limit",
                "--max-body",
            ],
        );
    }
    let run = capped(&["disable", "db", "--url", &f.url, "--token", TOKEN]);
    fails_saying(&run, &["/api/fuses/db/disable", "larger than 16 MiB"]);
    // The limit is the flag's, or the environment's.
    let run = capped(&["status", "--url", &f.url, "--max-body", "1KiB"]);
    fails_saying(&run, &["larger than 1 KiB"]);
    let run = Invocation::new(&["status", "--url", &f.url])
        .env("FUSEBOX_MAX_BODY", "2MiB")
        .memory_cap(CAP)
        .run();
    fails_saying(&run, &["larger than 2 MiB"]);
}

#[test]
fn a_declared_length_over_the_limit_is_refused() {
    let f = fake(Reply::Fixed {
        content_type: "application/json",
        body: format!("[{}0]", "0,".repeat(1000)),
    });
    let run = fusebox(&["status", "--url", &f.url, "--max-body", "1KiB"]);
    fails_saying(&run, &["larger than 1 KiB"]);
    // Under the limit, the same body is read, and found not to be a snapshot.
    let run = fusebox(&["status", "--url", &f.url, "--max-body", "4KiB"]);
    fails_saying(&run, &["unexpected JSON"]);
}

#[test]
fn an_endless_event_is_cut_at_the_limit() {
    let f = fake(Reply::Endless {
        content_type: "text/event-stream",
        fill: b'x',
    });
    let run = capped(&["trace", "*", "--url", &f.url]);
    fails_saying(
        &run,
        &[
            &format!("{}/events", f.url),
            "an event is larger than 16 MiB",
        ],
    );
}

#[test]
fn check_stops_reading_at_the_limit() {
    let run = capped(&["check", "/dev/zero"]);
    fails_saying(
        &run,
        &["/dev/zero: larger than 64 MiB, the limit", "--max-size"],
    );
    let run = capped(&["check", "/dev/zero", "--max-size", "1MiB"]);
    fails_saying(&run, &["larger than 1 MiB"]);

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/fusebox.toml");
    let size = std::fs::metadata(example).unwrap().len();
    let run = fusebox(&["check", example, "--max-size", &size.to_string()]);
    assert_eq!(run.code(), Some(0), "a file of exactly the limit: {run:?}");
    let run = fusebox(&["check", example, "--max-size", &(size - 1).to_string()]);
    fails_saying(&run, &[&format!("larger than {} bytes", size - 1)]);
}

/// A 200 answer with the snapshot of a real fuse `name`, in `state`.
fn snapshot_of(name: &str, state: &str) -> String {
    let fb = Fusebox::new();
    fb.install(name, FuseConfig::standard(0, Duration::from_secs(60)))
        .unwrap();
    let mut v = serde_json::to_value(fb.state(name).unwrap()).unwrap();
    v["state"] = state.into();
    v.to_string()
}

#[test]
fn control_believes_only_an_answer_about_its_fuse_in_the_state_asked() {
    let control = |body: String, action: &str| {
        let f = fake(Reply::Fixed {
            content_type: "application/json",
            body,
        });
        fusebox(&[action, "db", "--url", &f.url, "--token", TOKEN])
    };
    let run = control(r#"{"hello":"world"}"#.to_owned(), "disable");
    fails_saying(
        &run,
        &[
            "disable db: ",
            "not with a fuse",
            r#"it sent: {"hello":"world"}"#,
        ],
    );
    let run = control(snapshot_of("other", "disabled"), "disable");
    fails_saying(
        &run,
        &["disable db: the server answered with fuse \"other\" (disabled), not \"db\""],
    );
    let run = control(snapshot_of("other", "ok"), "unlock");
    fails_saying(&run, &["unlock db: ", "fuse \"other\""]);
    let run = control(snapshot_of("db", "ok"), "disable");
    fails_saying(
        &run,
        &["disable db: the server answered 200 but db is ok, not disabled"],
    );
    let run = control(snapshot_of("db", "disabled"), "enable");
    fails_saying(
        &run,
        &["enable db: ", "db is disabled, not enabled (ok or blown)"],
    );
    let run = control(snapshot_of("db", "blown"), "reset");
    fails_saying(&run, &["reset db: ", "db is blown, not ok"]);

    // The answers the actions lead to are believed.
    for (action, state) in [
        ("disable", "disabled"),
        ("enable", "ok"),
        ("enable", "blown"),
        ("reset", "ok"),
        ("reset", "disabled"),
        ("unlock", "blown"),
    ] {
        let run = control(snapshot_of("db", state), action);
        assert_eq!(
            (run.code(), run.stdout.trim()),
            (Some(0), format!("db: {state}").as_str()),
            "{action} -> {state}: {run:?}"
        );
    }
}

#[test]
fn trace_says_a_page_that_is_not_an_event_stream_is_not_one() {
    let f = fake(Reply::Fixed {
        content_type: "application/json",
        body: r#"{"fuses":[]}"#.to_owned(),
    });
    let run = fusebox(&["trace", "db", "--url", &f.url]);
    fails_saying(
        &run,
        &[
            &format!("{}/events did not answer with an event stream", f.url),
            "Content-Type \"application/json\"",
        ],
    );
    assert!(!run.stderr.contains("ended"), "{run:?}");
}

#[test]
fn an_empty_fusebox_url_is_the_default() {
    let run = Invocation::new(&["status"]).env("FUSEBOX_URL", "").run();
    assert!(!run.stderr.contains("bad --url"), "{run:?}");
    // Whatever is (or is not) at the default address, it is what was asked.
    if run.code() != Some(0) {
        assert!(
            run.stderr.contains("http://127.0.0.1:9797/api/snapshot"),
            "{run:?}"
        );
    }
    // And a set one is used.
    let s = server();
    let run = Invocation::new(&["status"])
        .env("FUSEBOX_URL", &s.url)
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
}
