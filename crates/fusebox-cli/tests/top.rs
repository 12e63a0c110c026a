//! `fusebox top` against a live admin server, which runs in this test's
//! process: the memory it prints is this process's, which the test reads
//! itself.

mod support;

use std::time::Duration;

use support::{fake, fusebox, looping, server, Looping, Reply};

/// This process's resident set in bytes (`VmRSS` of `/proc/self/status`).
fn own_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line[6..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// The number after `label ` in `text` (`"threads 7"`, `"rss 12.5 MiB"`).
fn after(text: &str, label: &str) -> f64 {
    let at = text
        .find(&format!("{label} "))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    let rest = &text[at + label.len() + 1..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("{label:?} is not followed by a number in:\n{text}"))
}

/// Asks `name` every millisecond until dropped.
fn traffic(fb: &fusebox::Fusebox, name: &'static str) -> Looping {
    let fb = fb.clone();
    looping(move || {
        let _ = fb.ask(name);
        std::thread::sleep(Duration::from_millis(1));
    })
}

#[cfg(target_os = "linux")]
#[test]
fn once_prints_one_frame_of_plausible_figures() {
    let s = server();
    let _traffic = traffic(&s.fb, "other");
    let before = own_rss();
    let run = fusebox(&["top", "--once", "--url", &s.url]);
    let after_rss = own_rss();
    assert_eq!(run.code(), Some(0), "{run:?}");
    let out = &run.stdout;
    eprintln!("{out}");
    assert_eq!(out.matches("fusebox top").count(), 1, "one frame: {out}");
    assert!(!out.contains('\x1b'), "no screen clearing when piped");

    // The support server runs on a runtime of one worker.
    assert_eq!(after(out, "workers"), 1.0);
    assert!(after(out, "alive tasks") >= 1.0, "{out}");
    let rss = after(out, "rss") * f64::from(1u32 << 20);
    let (low, high) = (before.min(after_rss) as f64, before.max(after_rss) as f64);
    assert!(
        rss >= low * 0.9 && rss <= high * 1.1,
        "top's rss {rss} vs this process's {before}..{after_rss}"
    );
    assert!(after(out, "cpu") >= 0.0);
    assert!(after(out, "threads") >= 1.0, "{out}");
    assert!(after(out, "fds") >= 3.0, "{out}");

    // `other` is asked all through the window: the busiest fuse.
    let fuses = out.split("BUSIEST FUSES").nth(1).unwrap();
    let first = fuses.lines().nth(2).unwrap();
    assert_eq!(first.split_whitespace().next(), Some("other"), "{out}");
    let calls_per_second: f64 = first.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(calls_per_second > 0.0, "{first}");
}

#[test]
fn ranks_valves_by_in_flight_and_shows_as_many_as_asked() {
    let s = server();
    let api = s.fb.valve("api").unwrap();
    let _held = (api.try_acquire().unwrap(), api.try_acquire().unwrap());
    let run = fusebox(&[
        "top",
        "--once",
        "--url",
        &s.url,
        "--top",
        "1",
        "--by",
        "in-flight",
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let out = &run.stdout;
    assert!(out.contains("BUSIEST VALVES (by in flight)"), "{out}");
    let valves = out.split("BUSIEST VALVES").nth(1).unwrap();
    let row = valves.lines().nth(2).unwrap();
    assert_eq!(
        &row.split_whitespace().take(2).collect::<Vec<_>>(),
        &["api", "2/4"],
        "{out}"
    );
    // One fuse only, of two.
    let fuses = out.split("BUSIEST FUSES").nth(1).unwrap();
    let fuses = fuses.split("BUSIEST VALVES").next().unwrap();
    assert_eq!(
        fuses.trim().lines().count(),
        3,
        "the title, a header and one row: {out}"
    );

    let run = fusebox(&["top", "--once", "--url", &s.url, "--top", "51"]);
    assert_eq!(run.code(), Some(2), "{run:?}");
}

#[test]
fn an_endless_answer_is_cut_at_max_body() {
    let f = fake(Reply::Endless {
        content_type: "application/json",
        fill: b' ',
    });
    let run = fusebox(&["top", "--once", "--url", &f.url, "--max-body", "64KiB"]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("larger than 64 KiB"), "{}", run.stderr);
}

#[test]
fn count_refreshes_that_many_frames_with_fresh_windows() {
    let s = server();
    let run = fusebox(&["top", "--url", &s.url, "--interval", "1s", "--count", "2"]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    let out = &run.stdout;
    let frames: Vec<&str> = out.split("fusebox top").skip(1).collect();
    assert_eq!(frames.len(), 2, "{out}");
    assert!(frames[0].contains("every 1s"), "{out}");
    // Frames a second apart; the second's rates are over the time since
    // the server's reading for the first (which itself took half a second).
    let window = after(frames[1], "over the last");
    assert!((0.49..1.5).contains(&window), "window {window} s: {out}");
    assert!(run.took >= Duration::from_millis(950), "{run:?}");
}
