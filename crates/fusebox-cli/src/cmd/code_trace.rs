//! `fusebox trace --code SPEC [--max N] [--rate R] [--for 30s]`: a live
//! trace of the service's own `tracing` events, started on the server
//! (`POST /api/trace/code`, with the token) and printed as it streams.
//!
//! Why the server holds the bounds this time: the events are made inside the
//! service, so a cap applied here would only hide a flood that the service
//! still pays for. The server clamps what is asked to its ceilings, spaces
//! the events by the rate, and ends the trace by itself when the count or
//! the time limit is reached; this command prints what arrives and stops
//! when the server says the trace ended, with the reason. If the command is
//! interrupted, its connection closes and the server ends the trace.
//!
//! Events go to stdout, one line each, as a fmt layer would print them:
//! `time LEVEL span:span: target: message field=value ...`. Notices (the
//! start, losses, the end) go to stderr.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Failure, Remote};

/// What the operator asked for; `None` leaves it to the server.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) spec: String,
    pub(crate) max: Option<u64>,
    pub(crate) rate: Option<u64>,
    pub(crate) time: Option<Duration>,
}

impl Args {
    /// The request body.
    fn body(&self) -> Value {
        let mut body = json!({ "spec": self.spec });
        if let Some(max) = self.max {
            body["max"] = json!(max);
        }
        if let Some(rate) = self.rate {
            body["rate"] = json!(rate);
        }
        if let Some(time) = self.time {
            body["for"] = json!(format!("{}ms", time.as_millis()));
        }
        body
    }
}

pub(crate) async fn run(
    remote: &Remote,
    args: &Args,
    token: Option<&str>,
) -> Result<ExitCode, Failure> {
    let client = remote.client()?;
    let mut sse = client
        .post_events("/api/trace/code", token, &args.body())
        .await
        .map_err(|Failure(e)| {
            if e.contains("HTTP 401") || e.contains("HTTP 403") {
                Failure(format!(
                    "{e}; pass the admin token with --token or FUSEBOX_TOKEN"
                ))
            } else {
                Failure(e)
            }
        })?;
    let mut printed = 0u64;
    loop {
        let Some(msg) = sse.next().await? else {
            return Err(Failure(format!(
                "the trace's stream ended after {printed} events without saying why (server stopped?)"
            )));
        };
        let data: Value = serde_json::from_str(&msg.data).unwrap_or_default();
        match msg.event.as_str() {
            "started" => eprintln!("{}", started(&data, client.base())),
            "trace" => {
                println!("{}", line(&data));
                printed += 1;
            }
            "lagged" => eprintln!(
                "(the server dropped {} events: this trace read too slowly)",
                data["lost"]
            ),
            "ended" => {
                eprintln!("{}", ended(&data, printed));
                return Ok(ExitCode::SUCCESS);
            }
            _ => {}
        }
    }
}

fn started(data: &Value, base: &str) -> String {
    let time = data["for_ms"].as_u64().map_or_else(
        || "?".to_owned(),
        |ms| fusebox::duration::human(Duration::from_millis(ms)),
    );
    let mut text = format!(
        "tracing {} on {base}: at most {} events, {}/s, for {time}",
        data["spec"].as_str().unwrap_or("?"),
        data["max"],
        data["rate"],
    );
    if let Some(clamped) = data["clamped"].as_array().filter(|c| !c.is_empty()) {
        let names: Vec<&str> = clamped.iter().filter_map(Value::as_str).collect();
        text.push_str(&format!(
            " ({} lowered to the server's ceiling)",
            names.join(", ")
        ));
    }
    text
}

fn ended(data: &Value, printed: u64) -> String {
    let why = match data["reason"].as_str() {
        Some("max") => "the count was reached".to_owned(),
        Some("time") => "the time limit was reached".to_owned(),
        Some("stopped") => "an operator stopped it".to_owned(),
        Some(other) => other.to_owned(),
        None => "?".to_owned(),
    };
    let n = |key: &str| data[key].as_u64().unwrap_or(0);
    let mut text = format!("trace ended: {why}; {printed} events printed");
    for (key, what) in [
        ("over_rate", "dropped over the rate"),
        ("lost", "lost (read too slowly)"),
        ("failed", "failed to format"),
    ] {
        if n(key) > 0 {
            text.push_str(&format!(", {} {what}", n(key)));
        }
    }
    text
}

/// One event: `time LEVEL span:span: target: message field=value ...`.
fn line(event: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut out = format!("{} {:>5} ", s(&event["time"]), s(&event["level"]));
    if let Some(spans) = event["spans"].as_array().filter(|s| !s.is_empty()) {
        for span in spans {
            out.push_str(span.as_str().unwrap_or("?"));
            out.push(':');
        }
        out.push(' ');
    }
    out.push_str(&s(&event["target"]));
    out.push_str(": ");
    out.push_str(&s(&event["message"]));
    if let Some(fields) = event["fields"].as_array() {
        for pair in fields {
            out.push_str(&format!(" {}={}", s(&pair[0]), s(&pair[1])));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_like_fmt() {
        let event = json!({
            "seq": 1, "time": "2026-12-01T14:00:00.000Z", "level": "DEBUG",
            "target": "myapp::db", "spans": ["request", "query"],
            "message": "rows read", "fields": [["rows", "3"], ["table", "users"]]
        });
        assert_eq!(
            line(&event),
            "2026-12-01T14:00:00.000Z DEBUG request:query: myapp::db: rows read rows=3 table=users"
        );
    }

    #[test]
    fn the_body_leaves_defaults_to_the_server() {
        let args = Args {
            spec: "a=debug".into(),
            max: None,
            rate: Some(5),
            time: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            args.body(),
            json!({"spec": "a=debug", "rate": 5, "for": "30000ms"})
        );
    }

    #[test]
    fn the_end_says_why() {
        let data = json!({"reason": "max", "sent": 20, "over_rate": 7, "lost": 0, "failed": 0});
        assert_eq!(
            ended(&data, 20),
            "trace ended: the count was reached; 20 events printed, 7 dropped over the rate"
        );
    }
}
