//! The Prometheus text exposition format (version 0.0.4), rendered from a
//! [`Snapshot`] with no exporter dependency.
//!
//! Every line comes from the core's [`catalog`]: the metrics, their help,
//! type and labels, and the samples of the snapshot, so `/metrics` and the
//! core's `metrics` feature export the same names, types, units and help.
//! A family with no sample still gets its `# HELP` and `# TYPE`, so a
//! dashboard finds every name from the first scrape on.
//!
//! The valve histograms are Prometheus histograms: a `_bucket` line per
//! bound of [`catalog::DURATION_BUCKETS`] and `+Inf`, cumulative, then
//! `_sum` and `_count`. The valve counted each duration into exactly these
//! buckets, so the counts are exact.

use std::fmt::Write;

use fusebox::catalog::{self, Value};
use fusebox::{valve::HistogramSnapshot, Snapshot};

/// The `Content-Type` of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric of `snap`.
pub(crate) fn render(snap: &Snapshot) -> String {
    let samples = snap.samples();
    let mut out = String::with_capacity(1024 + 96 * samples.len());
    let mut rest = samples.as_slice();
    for m in catalog::ALL {
        // HELP texts are the catalog's: no backslash or newline to escape.
        let _ = writeln!(
            out,
            "# HELP {0} {1}\n# TYPE {0} {2}",
            m.name,
            m.help,
            m.kind.as_str()
        );
        // The samples come metric by metric, in the order of `ALL`.
        let n = rest.iter().take_while(|s| s.metric.name == m.name).count();
        let (these, later) = rest.split_at(n);
        rest = later;
        for s in these {
            match s.value {
                Value::Counter(v) => line(&mut out, m.name, "", &s.labels, None, v),
                Value::Gauge(v) => line(&mut out, m.name, "", &s.labels, None, v),
                Value::Histogram(h) => histogram(&mut out, m.name, &s.labels, h),
                // A kind of value added to the catalog later.
                _ => {}
            }
        }
    }
    debug_assert!(rest.is_empty(), "samples out of the catalog's order");
    out
}

fn histogram(out: &mut String, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
    for &(bound, n) in &h.buckets {
        line(out, name, "_bucket", labels, Some(&bound.to_string()), n);
    }
    line(out, name, "_bucket", labels, Some("+Inf"), h.count);
    line(out, name, "_sum", labels, None, h.sum_seconds);
    line(out, name, "_count", labels, None, h.count);
}

/// `name{labels} value`, with `le` last if given.
fn line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    le: Option<&str>,
    value: impl std::fmt::Display,
) {
    out.push_str(name);
    out.push_str(suffix);
    out.push('{');
    let le = le.map(|v| ("le", v));
    for (i, (k, v)) in labels.iter().chain(le.as_ref()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label(out, v);
        out.push('"');
    }
    let _ = writeln!(out, "}} {value}");
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
        for m in catalog::ALL {
            let head = format!(
                "# HELP {0} {1}\n# TYPE {0} {2}\n",
                m.name,
                m.help,
                m.kind.as_str()
            );
            assert!(text.contains(&head), "{} missing:\n{text}", m.name);
        }
        assert!(text.contains("# TYPE fusebox_valve_sojourn_seconds histogram\n"));
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_sum_and_count() {
        let fb = fusebox::Fusebox::new();
        fb.install_valve("api", fusebox::ValveConfig::new())
            .unwrap();
        let api = fb.valve("api").unwrap();
        api.run_blocking(|| ()).unwrap();
        let text = render(&fb.snapshot());
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("fusebox_valve_sojourn_seconds"))
            .collect();
        assert_eq!(
            lines.len(),
            catalog::DURATION_BUCKETS.len() + 3,
            "{lines:#?}"
        );
        assert_eq!(
            lines[0],
            "fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"0.000001\"} 1"
        );
        assert!(lines.contains(&"fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"0.2\"} 1"));
        assert!(
            lines.contains(&"fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"+Inf\"} 1")
        );
        assert!(lines.contains(&"fusebox_valve_sojourn_seconds_sum{valve=\"api\"} 0"));
        assert!(lines.contains(&"fusebox_valve_sojourn_seconds_count{valve=\"api\"} 1"));
    }
}
