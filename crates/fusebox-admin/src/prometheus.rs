//! The Prometheus text exposition format (version 0.0.4), rendered from a
//! [`Snapshot`] with no exporter dependency.
//!
//! The names are those of the contract's section 4.5 (`fusebox::_contract`)
//! and of the core's `metrics` feature, so a dashboard works the same
//! whichever way it is fed:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `fusebox_fuse_asks_total` | counter | `fuse`, `result` = `ok` \| `blown` \| `injected` |
//! | `fusebox_fuse_melts_total` | counter | `fuse` |
//! | `fusebox_fuse_blows_total` | counter | `fuse` |
//! | `fusebox_fuse_successes_total` | counter | `fuse` |
//! | `fusebox_fuse_heals_total` | counter | `fuse` |
//! | `fusebox_fuse_state` | gauge: 0 ok, 1 blown, 2 disabled | `fuse` |
//! | `fusebox_valve_in_flight` | gauge | `valve` |
//! | `fusebox_valve_queued` | gauge | `valve` |
//! | `fusebox_valve_admitted_total` | counter | `valve` |
//! | `fusebox_valve_refused_total` | counter | `valve`, `reason` |
//! | `fusebox_valve_sojourn_seconds` | gauge | `valve`, `quantile` = `0.5` \| `0.99` |
//! | `fusebox_alarm_active` | gauge: 1 while set | `alarm`, `fuse` |
//!
//! The valve sojourn is a **gauge per quantile**, not the histogram the core
//! publishes through `metrics`: a snapshot carries only the p50 and p99 (upper
//! bounds, the core's buckets span 2x), not buckets, sum or count, and a
//! `summary` without `_sum` and `_count` would mislead. A valve whose tasks
//! have not waited yet has no sojourn sample and no line.

use std::fmt::Write;

use fusebox::{
    fuse::{FuseCounters, FuseState},
    Snapshot,
};

/// A per-fuse counter: its name, its help text, and how to read it.
type CounterFamily = (&'static str, &'static str, fn(&FuseCounters) -> u64);

/// The `Content-Type` of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric of `snap`.
pub(crate) fn render(snap: &Snapshot) -> String {
    let mut out = String::with_capacity(256 + 512 * (snap.fuses.len() + snap.valves.len()));
    let fuses = &snap.fuses;

    family(
        &mut out,
        "fusebox_fuse_asks_total",
        "counter",
        "Asks of a fuse, by result.",
    );
    for f in fuses {
        for (result, v) in [
            ("ok", f.counters.asks_ok),
            ("blown", f.counters.asks_blown),
            ("injected", f.counters.injected),
        ] {
            sample(
                &mut out,
                "fusebox_fuse_asks_total",
                &[("fuse", &f.name), ("result", result)],
                v,
            );
        }
    }
    let per_fuse: [CounterFamily; 4] = [
        (
            "fusebox_fuse_melts_total",
            "Melts (failures) reported to a fuse.",
            |c| c.melts,
        ),
        ("fusebox_fuse_blows_total", "Times a fuse blew.", |c| {
            c.blows
        }),
        (
            "fusebox_fuse_successes_total",
            "Successes reported to a fuse.",
            |c| c.successes,
        ),
        (
            "fusebox_fuse_heals_total",
            "Times a fuse healed on its own.",
            |c| c.heals,
        ),
    ];
    for (name, help, get) in per_fuse {
        family(&mut out, name, "counter", help);
        for f in fuses {
            sample(&mut out, name, &[("fuse", &f.name)], get(&f.counters));
        }
    }
    family(
        &mut out,
        "fusebox_fuse_state",
        "gauge",
        "A fuse's state: 0 ok, 1 blown, 2 disabled.",
    );
    for f in fuses {
        let v = match f.state {
            FuseState::Ok => 0,
            FuseState::Blown => 1,
            FuseState::Disabled => 2,
            // A state added to the core later: report it as refusing calls.
            _ => 1,
        };
        sample(&mut out, "fusebox_fuse_state", &[("fuse", &f.name)], v);
    }

    let valves = &snap.valves;
    family(
        &mut out,
        "fusebox_valve_in_flight",
        "gauge",
        "Tasks running under a valve.",
    );
    for v in valves {
        sample(
            &mut out,
            "fusebox_valve_in_flight",
            &[("valve", &v.name)],
            v.in_flight as u64,
        );
    }
    family(
        &mut out,
        "fusebox_valve_queued",
        "gauge",
        "Tasks waiting at a valve.",
    );
    for v in valves {
        sample(
            &mut out,
            "fusebox_valve_queued",
            &[("valve", &v.name)],
            v.queued as u64,
        );
    }
    family(
        &mut out,
        "fusebox_valve_admitted_total",
        "counter",
        "Tasks a valve let start.",
    );
    for v in valves {
        sample(
            &mut out,
            "fusebox_valve_admitted_total",
            &[("valve", &v.name)],
            v.admitted,
        );
    }
    family(
        &mut out,
        "fusebox_valve_refused_total",
        "counter",
        "Tasks a valve refused, by reason.",
    );
    for v in valves {
        let r = &v.refused;
        for (reason, n) in [
            ("queue_full", r.queue_full),
            ("overload", r.overload),
            ("timeout", r.timeout),
            ("blown", r.blown),
            ("busy", r.busy),
            ("removed", r.removed),
        ] {
            sample(
                &mut out,
                "fusebox_valve_refused_total",
                &[("valve", &v.name), ("reason", reason)],
                n,
            );
        }
    }
    family(
        &mut out,
        "fusebox_valve_sojourn_seconds",
        "gauge",
        "Waiting time of admitted tasks at a quantile (an upper bound).",
    );
    for v in valves {
        for (q, d) in [("0.5", v.sojourn_p50), ("0.99", v.sojourn_p99)] {
            if let Some(d) = d {
                sample_f64(
                    &mut out,
                    "fusebox_valve_sojourn_seconds",
                    &[("valve", &v.name), ("quantile", q)],
                    d.as_secs_f64(),
                );
            }
        }
    }

    family(
        &mut out,
        "fusebox_alarm_active",
        "gauge",
        "1 while an alarm is set.",
    );
    for a in &snap.alarms {
        sample(
            &mut out,
            "fusebox_alarm_active",
            &[("alarm", a.kind.as_str()), ("fuse", &a.name)],
            1,
        );
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // HELP texts are ours: no backslash or newline to escape.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn labels(out: &mut String, name: &str, labels: &[(&str, &str)]) {
    out.push_str(name);
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label(out, v);
        out.push('"');
    }
    out.push('}');
}

fn sample(out: &mut String, name: &str, l: &[(&str, &str)], v: u64) {
    labels(out, name, l);
    let _ = writeln!(out, " {v}");
}

fn sample_f64(out: &mut String, name: &str, l: &[(&str, &str)], v: f64) {
    labels(out, name, l);
    let _ = writeln!(out, " {v}");
}

/// Label values escape backslash, double quote and line feed (the format's
/// only three escapes); fuse names may hold any of them.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut s = String::new();
        escape_label(&mut s, "a\\b\"c\nd");
        assert_eq!(s, r#"a\\b\"c\nd"#);
    }

    #[test]
    fn renders_every_family_for_an_empty_fusebox() {
        let text = render(&fusebox::Fusebox::new().snapshot());
        for name in [
            "fusebox_fuse_asks_total",
            "fusebox_fuse_state",
            "fusebox_valve_sojourn_seconds",
            "fusebox_alarm_active",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
