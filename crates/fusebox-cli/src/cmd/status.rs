//! `fusebox status`: fuses, valves and alarms, once.
//!
//! One request for `/api/snapshot`: every fuse, valve and alarm as of one
//! instant, read into the core's own snapshot types (the wire vocabulary
//! lives once, in `fusebox`).
//!
//! "next heal" is the heal deadline on the Fusebox's own clock (time since
//! the Fusebox was created): the admin API reports deadlines, not the
//! server's present time, so a countdown cannot be computed on this side.
//!
//! With several targets, [`fleet`] asks them all and prints one table.

mod fleet;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use fusebox::duration;
use serde_json::Value;

use fusebox::fuse::FuseSnapshot;
use fusebox::valve::ValveSnapshot;
use fusebox::Snapshot;

use crate::client::Client;
use crate::fleet::targets::{Plan, Targets};
use crate::{table, Failure};

/// What `status` shows: the server's snapshot.
pub(crate) type Status = Snapshot;

pub(crate) async fn run(targets: &Targets, json: bool) -> Result<ExitCode, Failure> {
    let client = match targets.plan()? {
        Plan::One(client) => client,
        Plan::Fleet(fleet) => return fleet::run(&fleet, json).await,
    };
    if json {
        // The server's own JSON, untouched (every field, durations as it
        // writes them): `{"at": .., "fuses": [...], "valves": [...],
        // "alarms": [...]}`.
        let raw: Value = client.get_json(PATH).await?;
        println!("{}", serde_json::to_string_pretty(&raw)?);
    } else {
        print!("{}", render(&fetch(&client).await?, None));
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the snapshot is.
pub(crate) const PATH: &str = "/api/snapshot";

/// Reads the snapshot, straight from the body into the core's types (no
/// `serde_json::Value` in between, which costs many times the text).
pub(crate) async fn fetch(client: &Client) -> Result<Status, Failure> {
    client.get_json(PATH).await
}

/// The tables; with `before` (the previous status and the time since),
/// per-second rates from the counters' deltas too.
pub(crate) fn render(now: &Status, before: Option<(&Status, Duration)>) -> String {
    let secs = before.map(|(_, dt)| dt.as_secs_f64().max(1e-3));
    // The rate of a counter, "-" for a new row or a counter that went back
    // (a reinstall keeps counters, a restart of the service does not).
    let rate = |now: u64, then: Option<u64>| match (then, secs) {
        (Some(then), Some(secs)) if now >= then => format!("{:.1}", (now - then) as f64 / secs),
        _ => "-".to_owned(),
    };
    let mut out = String::new();

    let _ = writeln!(out, "FUSES ({})", now.fuses.len());
    let mut header = vec!["name", "state", "melts in window", "asks ok", "asks blown"];
    if before.is_some() {
        header.extend(["ok/s", "blown/s", "melts/s"]);
    }
    header.extend(["heal step", "next heal", "throttle"]);
    let rows: Vec<Vec<String>> = now
        .fuses
        .iter()
        .map(|f| {
            let old = before.and_then(|(b, _)| b.fuses.iter().find(|o| o.name == f.name));
            let mut row = vec![
                f.name.to_string(),
                f.state.to_string(),
                f.melts_in_window.to_string(),
                f.counters.asks_ok.to_string(),
                f.counters.asks_blown.to_string(),
            ];
            if before.is_some() {
                let c = old.map(|o| o.counters);
                row.push(rate(f.counters.asks_ok, c.map(|c| c.asks_ok)));
                row.push(rate(f.counters.asks_blown, c.map(|c| c.asks_blown)));
                row.push(rate(f.counters.melts, c.map(|c| c.melts)));
            }
            row.push(
                f.heal_step
                    .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            );
            row.push(
                f.next_heal
                    .map_or_else(|| "-".to_owned(), |t| format!("at {}", duration::human(t))),
            );
            row.push(throttle(f));
            row
        })
        .collect();
    out.push_str(&table::render(&header, &rows));

    let _ = writeln!(out, "\nVALVES ({})", now.valves.len());
    let mut header = vec![
        "name",
        "in flight",
        "limit",
        "queued",
        "admitted",
        "refused",
    ];
    if before.is_some() {
        header.extend(["admitted/s", "refused/s"]);
    }
    let rows: Vec<Vec<String>> = now
        .valves
        .iter()
        .map(|v| {
            let old: Option<&ValveSnapshot> =
                before.and_then(|(b, _)| b.valves.iter().find(|o| o.name == v.name));
            let mut row = vec![
                v.name.clone(),
                format!("{}/{}", v.in_flight, v.concurrency),
                limit(v),
                format!("{}/{}", v.queued, v.queue),
                v.admitted.to_string(),
                v.refused.total().to_string(),
            ];
            if before.is_some() {
                row.push(rate(v.admitted, old.map(|o| o.admitted)));
                row.push(rate(v.refused.total(), old.map(|o| o.refused.total())));
            }
            row
        })
        .collect();
    out.push_str(&table::render(&header, &rows));

    let _ = writeln!(out, "\nALARMS ({})", now.alarms.len());
    let rows: Vec<Vec<String>> = now
        .alarms
        .iter()
        .map(|a| {
            vec![
                a.name.to_string(),
                a.kind.as_str().to_owned(),
                format!("at {}", duration::human(a.since)),
            ]
        })
        .collect();
    out.push_str(&table::render(&["name", "kind", "since"], &rows));
    out
}

/// A throttling fuse's reject probability, what it is computed from, and
/// the asks it refused; `-` for other strategies.
fn throttle(f: &FuseSnapshot) -> String {
    match &f.throttle {
        None => "-".to_owned(),
        Some(t) => format!(
            "reject {:.0}% ({} accepted of {}; {} refused)",
            t.reject_probability * 100.0,
            t.accepts,
            t.requests,
            f.counters.throttled
        ),
    }
}

/// The valve's limit: `fixed`, or the controller, its bounds, and what it
/// measured (`gradient 4..200 min rtt 12ms`, `probing` while it measures).
fn limit(v: &ValveSnapshot) -> String {
    let Some(l) = &v.limit else {
        return "fixed".to_owned();
    };
    let mut s = format!("{} {}..{}", l.kind, l.min, l.max);
    if let Some(rtt) = l.min_rtt {
        let _ = write!(s, " min rtt {}", duration::human(rtt));
    }
    if l.probing {
        s.push_str(" probing");
    }
    s
}
