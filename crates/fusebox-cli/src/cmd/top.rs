//! `fusebox top`: the host process at a glance, refreshed like `top`: the
//! tokio runtime's workers and tasks, the process's memory, CPU, threads
//! and descriptors, and the busiest fuses and valves, from the admin's
//! `/api/runtime`.
//!
//! The server computes the rates (CPU %, busy %, calls per second) over the
//! time since its previous reading, at least half a second, so this side
//! keeps nothing between frames, and a refresh faster than that simply
//! waits for the server. `--once` prints one frame and exits, for scripts
//! and tests; `--count N` stops after N frames. On a terminal each frame clears the screen (ANSI
//! `ESC[H ESC[2J`), as `watch` does; piped, frames follow one another.
//!
//! The fields read here are the client's view of the admin crate's answer
//! (the CLI does not link the admin server); `tests/cli.rs` runs this
//! command against the real server, so the two cannot drift apart
//! unnoticed. Every field is optional: a figure the server could not read
//! prints as `-`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use crate::client::Client;
use crate::cmd::refresh;
use crate::{table, Failure, Remote};

/// What `top` ranks the fuses and valves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum By {
    /// Calls in the window.
    Calls,
    /// Calls in flight now (valves).
    InFlight,
    /// Refusals in the window.
    Refused,
}

impl By {
    fn as_str(self) -> &'static str {
        match self {
            By::Calls => "calls",
            By::InFlight => "in_flight",
            By::Refused => "refused",
        }
    }
}

/// `fusebox top`'s options besides the remote.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) interval: Duration,
    pub(crate) once: bool,
    pub(crate) count: Option<u64>,
    pub(crate) top: u8,
    pub(crate) by: By,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Report {
    window_seconds: Option<f64>,
    runtime: Runtime,
    process: Process,
    busiest: Busiest,
}

#[derive(Debug, Deserialize)]
struct Runtime {
    source: Option<String>,
    flavor: Option<String>,
    workers: Option<u64>,
    alive_tasks: Option<u64>,
    global_queue_depth: Option<u64>,
    busy_percent: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Process {
    rss_bytes: Option<u64>,
    rss_peak_bytes: Option<u64>,
    cpu_user_seconds: Option<f64>,
    cpu_system_seconds: Option<f64>,
    cpu_percent: Option<f64>,
    threads: Option<u64>,
    open_fds: Option<u64>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Busiest {
    #[serde(default)]
    fuses: Vec<BusyFuse>,
    #[serde(default)]
    valves: Vec<BusyValve>,
}

#[derive(Debug, Deserialize)]
struct BusyFuse {
    name: String,
    state: String,
    calls_per_second: Option<f64>,
    refused_per_second: Option<f64>,
    calls: u64,
    refused: u64,
}

#[derive(Debug, Deserialize)]
struct BusyValve {
    name: String,
    in_flight: u64,
    concurrency: u64,
    queued: u64,
    calls_per_second: Option<f64>,
    refused_per_second: Option<f64>,
    calls: u64,
    refused: u64,
}

pub(crate) async fn run(remote: &Remote, opts: Options) -> Result<ExitCode, Failure> {
    let client = remote.client()?;
    let terminal = std::io::stdout().is_terminal();
    let path = format!("/api/runtime?top={}&by={}", opts.top, opts.by.as_str());
    let mut ticks = tokio::time::interval(opts.interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown = 0u64;
    loop {
        ticks.tick().await;
        let report = fetch(&client, &path).await?;
        let mut out = String::new();
        refresh::begin(&mut out, terminal && !opts.once, shown);
        let _ = write!(out, "fusebox top  {}", client.base());
        if !opts.once {
            let every = fusebox::duration::human(opts.interval);
            let _ = write!(out, "  every {every}  (Ctrl-C to quit)");
        }
        out.push_str("\n\n");
        out.push_str(&render(&report, opts.by));
        if !refresh::show(&out) {
            break;
        }
        shown += 1;
        if opts.once || opts.count.is_some_and(|n| shown >= n) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn fetch(client: &Client, path: &str) -> Result<Report, Failure> {
    client.get_json(path).await.map_err(|Failure(e)| {
        if e.contains("HTTP 404") {
            Failure(format!(
                "{e} (this admin server has no /api/runtime: it predates `fusebox top`)"
            ))
        } else {
            Failure(e)
        }
    })
}

/// A figure, or `-`.
fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn seconds(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}s"))
}

/// Bytes in MiB with one decimal (`12.3 MiB`).
fn mib(v: Option<u64>) -> String {
    v.map_or_else(
        || "-".to_owned(),
        |b| format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
    )
}

/// One frame.
pub(crate) fn render(r: &Report, by: By) -> String {
    let mut out = String::new();
    let rt = &r.runtime;
    let _ = writeln!(
        out,
        "RUNTIME  {} ({} runtime), over the last {}",
        rt.flavor.as_deref().unwrap_or("-"),
        rt.source.as_deref().unwrap_or("-"),
        seconds(r.window_seconds)
    );
    let _ = writeln!(
        out,
        "  workers {}  alive tasks {}  global queue {}  busy {}",
        or_dash(rt.workers),
        or_dash(rt.alive_tasks),
        or_dash(rt.global_queue_depth),
        percent(rt.busy_percent)
    );
    let p = &r.process;
    let _ = writeln!(out, "PROCESS");
    let _ = writeln!(
        out,
        "  rss {} (peak {})  cpu {} (user {}, system {})  threads {}  fds {}",
        mib(p.rss_bytes),
        mib(p.rss_peak_bytes),
        percent(p.cpu_percent),
        seconds(p.cpu_user_seconds),
        seconds(p.cpu_system_seconds),
        or_dash(p.threads),
        or_dash(p.open_fds)
    );
    if let Some(note) = &p.note {
        // The server's words, kept to one short line.
        let note: String = note.chars().filter(|c| !c.is_control()).take(200).collect();
        let _ = writeln!(out, "  note: {note}");
    }

    let by = by.as_str().replace('_', " ");
    let _ = writeln!(out, "\nBUSIEST FUSES (by {by})");
    let rows: Vec<Vec<String>> = r
        .busiest
        .fuses
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                f.state.clone(),
                rate(f.calls_per_second),
                rate(f.refused_per_second),
                f.calls.to_string(),
                f.refused.to_string(),
            ]
        })
        .collect();
    let header = ["name", "state", "calls/s", "refused/s", "calls", "refused"];
    out.push_str(&table::render(&header, &rows));

    let _ = writeln!(out, "\nBUSIEST VALVES (by {by})");
    let rows: Vec<Vec<String>> = r
        .busiest
        .valves
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                format!("{}/{}", v.in_flight, v.concurrency),
                v.queued.to_string(),
                rate(v.calls_per_second),
                rate(v.refused_per_second),
                v.calls.to_string(),
                v.refused.to_string(),
            ]
        })
        .collect();
    let header = [
        "name",
        "in flight",
        "queued",
        "calls/s",
        "refused/s",
        "calls",
        "refused",
    ];
    out.push_str(&table::render(&header, &rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_figures_print_as_dashes() {
        let r: Report = serde_json::from_str(
            r#"{"window_seconds": 0.5,
                "runtime": {"flavor": "current_thread", "workers": 1, "alive_tasks": 4},
                "process": {"rss_bytes": null, "note": "process figures are read from /proc/self, on Linux only"},
                "busiest": {"fuses": [], "valves": []}}"#,
        )
        .unwrap();
        let text = render(&r, By::Calls);
        assert!(
            text.contains("workers 1  alive tasks 4  global queue -  busy -"),
            "{text}"
        );
        assert!(
            text.contains("rss - (peak -)  cpu - (user -, system -)  threads -  fds -"),
            "{text}"
        );
        assert!(text.contains("note: process figures are read"), "{text}");
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(mib(Some(5 << 20)), "5.0 MiB");
        assert_eq!(mib(Some(1_572_864)), "1.5 MiB");
        assert_eq!(percent(Some(12.345)), "12.3%");
        assert_eq!(rate(None), "-");
    }
}
