//! `fusebox trace NAME --max N --rate R`: the events of one fuse or valve
//! (or `'*'`, all), one line each, from the admin's `/events` stream.
//!
//! Why bounded, twice: this is `recon_trace`'s lesson. An unbounded trace on
//! a busy production node floods the operator's terminal and, worse, the
//! link; so the trace stops by itself after `--max` printed events, and it
//! never prints more than `--rate` a second, dropping the rest and saying
//! how many. The server side is bounded already (a slow subscriber loses its
//! oldest events, reported as `lagged`), so nothing here can slow a fuse.
//!
//! Events go to stdout, one line each; notices (dropped, lagged, the end)
//! go to stderr, so `fusebox trace db --max 50 > db.log` keeps only events.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Failure, Remote};

pub(crate) async fn run(
    remote: &Remote,
    name: &str,
    max: u64,
    rate: u64,
) -> Result<ExitCode, Failure> {
    let client = remote.client()?;
    let mut sse = client.events("/events").await?;
    let mut cap = RateCap::new(rate, Instant::now());
    let mut printed = 0u64;
    while printed < max {
        let Some(msg) = sse.next().await? else {
            return Err(Failure(format!(
                "the event stream ended after {printed} events (server stopped?)"
            )));
        };
        match msg.event.as_str() {
            "ready" => eprintln!(
                "tracing {} on {} (at most {max} events, {rate}/s)",
                if name == "*" {
                    "every fuse and valve"
                } else {
                    name
                },
                client.base()
            ),
            "lagged" => {
                let lost: Value = serde_json::from_str(&msg.data).unwrap_or_default();
                eprintln!(
                    "(the server dropped {} events: this trace read too slowly)",
                    lost["lost"]
                        .as_u64()
                        .map_or_else(|| "some".to_owned(), |n| n.to_string())
                );
            }
            "message" => {
                let Ok(event) = serde_json::from_str::<Value>(&msg.data) else {
                    eprintln!("(unreadable event: {})", msg.data);
                    continue;
                };
                if name != "*" && event["name"].as_str() != Some(name) {
                    continue;
                }
                let now = Instant::now();
                if let Some(dropped) = cap.roll(now) {
                    eprintln!("(dropped {dropped} events over the rate cap of {rate}/s)");
                }
                if cap.admit() {
                    println!("{}", line(&event));
                    printed += 1;
                }
            }
            _ => {}
        }
    }
    let dropped = cap.total_dropped();
    if dropped > 0 {
        eprintln!("trace done: {printed} events printed, {dropped} dropped over the rate cap");
    } else {
        eprintln!("trace done: {printed} events printed");
    }
    Ok(ExitCode::SUCCESS)
}

/// At most `rate` events in each one-second window.
#[derive(Debug)]
struct RateCap {
    rate: u64,
    window: Instant,
    taken: u64,
    dropped: u64,
    dropped_before: u64,
}

impl RateCap {
    fn new(rate: u64, now: Instant) -> Self {
        RateCap {
            rate,
            window: now,
            taken: 0,
            dropped: 0,
            dropped_before: 0,
        }
    }

    /// Starts a new window if a second has passed; the count dropped in the
    /// window that ended, if any.
    fn roll(&mut self, now: Instant) -> Option<u64> {
        if now.duration_since(self.window) < Duration::from_secs(1) {
            return None;
        }
        self.window = now;
        self.taken = 0;
        let dropped = std::mem::take(&mut self.dropped);
        self.dropped_before += dropped;
        (dropped > 0).then_some(dropped)
    }

    /// True if one more event fits the window; else counts it dropped.
    fn admit(&mut self) -> bool {
        if self.taken < self.rate {
            self.taken += 1;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    fn total_dropped(&self) -> u64 {
        self.dropped_before + self.dropped
    }
}

/// One event as a line: `at  name  what`.
fn line(event: &Value) -> String {
    let at = event["at"].as_str().unwrap_or("?");
    let at = fusebox::duration::parse(at).map_or_else(|_| at.to_owned(), fusebox::duration::human);
    let name = event["name"].as_str().unwrap_or("?");
    let kind = &event["kind"];
    let s = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let what = match kind["type"].as_str() {
        Some("transition") => {
            let from = kind["from"].as_str().unwrap_or("(new)");
            let to = kind["to"].as_str().unwrap_or("(removed)");
            format!("{from} -> {to} ({})", s(&kind["cause"]))
        }
        Some("heal_step") => format!("heal step {}: {}", kind["index"], kind["step"]),
        Some("valve") => format!("valve {}", s(&kind["change"])),
        Some("alarm_set") => format!("alarm set: {}", s(&kind["alarm"])),
        Some("alarm_cleared") => format!("alarm cleared: {}", s(&kind["alarm"])),
        _ => kind.to_string(),
    };
    format!("{at:>9}  {name}  {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_cap_drops_over_the_rate_and_reports_per_window() {
        let t0 = Instant::now();
        let mut cap = RateCap::new(2, t0);
        assert!(cap.admit());
        assert!(cap.admit());
        assert!(!cap.admit());
        assert!(!cap.admit());
        assert_eq!(cap.roll(t0 + Duration::from_millis(500)), None);
        assert_eq!(cap.roll(t0 + Duration::from_millis(1000)), Some(2));
        assert!(cap.admit());
        assert_eq!(cap.roll(t0 + Duration::from_millis(2500)), None);
        assert_eq!(cap.total_dropped(), 2);
    }

    #[test]
    fn lines_describe_events() {
        let e: Value = serde_json::from_str(
            r#"{"name":"db","kind":{"type":"transition","from":"ok","to":"blown","cause":"melt"},"at":"1500ms"}"#,
        )
        .unwrap();
        assert_eq!(line(&e), "     1.5s  db  ok -> blown (melt)");
        let e: Value = serde_json::from_str(
            r#"{"name":"db","kind":{"type":"transition","from":null,"to":"ok","cause":"install"},"at":"0s"}"#,
        )
        .unwrap();
        assert_eq!(line(&e), "       0s  db  (new) -> ok (install)");
    }
}
