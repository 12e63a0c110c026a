//! The HTML report of runs side by side: a table and inline SVG charts of
//! the clients' p99 latency and error rate over time, one line per run,
//! episodes shaded. One self-contained file: no scripts, fonts or images from
//! anywhere else. The demo's report and `fusebox simulate`'s are both drawn
//! here.

use std::fmt::Write as _;
use std::time::Duration;

use fusebox::duration::human;

use crate::{Report, Scenario};

const W: f64 = 760.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 28.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

/// Line colours for runs, in order (the first two: unprotected red,
/// protected green, as the demo has always drawn them).
pub const COLORS: [&str; 6] = [
    "#d62728", "#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Band colours for episodes, in turn.
const BANDS: [&str; 3] = ["#f8d0d0", "#fbe5c0", "#d8e8f8"];

/// The requests that arrived during one chart bucket.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Bucket {
    /// Start of the bucket, from the start of the run.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub start: Duration,
    /// Requests that arrived in it.
    pub requests: u64,
    /// Of those, how many got an error.
    pub errors: u64,
    /// Their 99th percentile latency (zero if none arrived).
    #[serde(with = "fusebox::duration::serde_duration")]
    pub p99: Duration,
}

impl Bucket {
    /// Errors over requests, 0 when empty.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

impl Bucket {
    /// A bucket from its counts.
    pub fn new(start: Duration, requests: u64, errors: u64, p99: Duration) -> Self {
        Bucket {
            start,
            requests,
            errors,
            p99,
        }
    }
}

/// One line of a chart: a run's label, colour and buckets.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The run's name, shown on hover.
    pub label: &'a str,
    /// Its colour.
    pub color: &'a str,
    /// Its buckets, in time order.
    pub buckets: &'a [Bucket],
}

/// What a chart spans: the run's length, the buckets' width, and the
/// shaded episodes `(start, end, colour)`.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The run's length.
    pub run: Duration,
    /// Every bucket's width.
    pub bucket: Duration,
    /// Shaded stretches.
    pub bands: &'a [(Duration, Duration, &'a str)],
}

/// An SVG chart of `value` per bucket, one step line per series; `fixed_max`
/// fixes the y axis (100 for a percentage), otherwise it fits the data.
pub fn chart(
    frame: Frame<'_>,
    series: &[Series<'_>],
    value: impl Fn(&Bucket) -> f64,
    unit: &str,
    fixed_max: Option<f64>,
) -> String {
    let max = fixed_max.unwrap_or_else(|| {
        nice_ceiling(
            series
                .iter()
                .flat_map(|s| s.buckets.iter().map(&value))
                .fold(1.0, f64::max)
                * 1.05,
        )
    });
    let run = frame.run.as_secs_f64().max(1e-9);
    let x = |t: Duration| LEFT + (W - LEFT - RIGHT) * t.as_secs_f64() / run;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-size="11" font-family="sans-serif">"#
    );
    // Episode bands.
    for &(from, to, color) in frame.bands {
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
            x(from),
            x(to) - x(from),
            H - TOP - BOTTOM
        );
    }
    // Axes, grid and labels.
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0} {unit}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            y = y(v),
        );
    }
    for i in 0..=6 {
        let t = frame.run.mul_f64(i as f64 / 6.0);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(t),
            H - BOTTOM + 16.0,
            if run >= 6.0 * 3600.0 {
                format!("{:.1} h", t.as_secs_f64() / 3600.0)
            } else if run >= 600.0 {
                format!("{:.0} min", t.as_secs_f64() / 60.0)
            } else if run >= 6.0 {
                format!("{:.0} s", t.as_secs_f64())
            } else {
                format!("{:.1} s", t.as_secs_f64())
            }
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#888"/><line x1="{LEFT}" x2="{:.1}" y1="{b:.1}" y2="{b:.1}" stroke="#888"/>"##,
        H - BOTTOM,
        W - RIGHT,
        b = H - BOTTOM,
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since the start of the run</text>"#,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 4.0
    );
    for s in series {
        let points: Vec<String> = s
            .buckets
            .iter()
            .flat_map(|b| {
                // A step per bucket: the value holds from its start to its end.
                let v = y(value(b).min(max));
                let end = (b.start + frame.bucket).min(frame.run);
                [
                    format!("{:.1},{v:.1}", x(b.start)),
                    format!("{:.1},{v:.1}", x(end)),
                ]
            })
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            s.color,
            points.join(" "),
            escape(s.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A round number (1, 1.2, 1.5, 2, ... times a power of ten) at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A legend: each run's colour and the episodes' bands.
pub fn legend(series: &[Series<'_>], bands: &[(&str, &str)]) -> String {
    let mut out = String::from("<p class=\"legend\">");
    for s in series {
        let _ = write!(
            out,
            r#"<span><i class="swatch" style="background:{}"></i>{}</span>"#,
            s.color,
            escape(s.label)
        );
    }
    for (name, color) in bands {
        let _ = write!(
            out,
            r#"<span><i class="swatch" style="background:{color}"></i>{}</span>"#,
            escape(name)
        );
    }
    out.push_str("</p>\n");
    out
}

/// The page around the parts: title, style, body.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 820px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.legend span {{ display: inline-block; margin-right: 1.5em; }}
.swatch {{ display: inline-block; width: 14px; height: 10px; margin-right: 4px; }}
code {{ background: #f4f4f4; padding: 1px 4px; }}
</style></head><body>
{body}</body></html>
"#,
        title = escape(title)
    )
}

/// The report of a simulation: per-run totals, the charts, and each run's
/// per-phase table.
pub fn html(report: &Report, scenario: &Scenario) -> String {
    let series: Vec<Series<'_>> = report
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| Series {
            label: &r.config,
            color: COLORS[i % COLORS.len()],
            buckets: &r.buckets,
        })
        .collect();
    let bands: Vec<(Duration, Duration, &str)> = scenario
        .episodes
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                e.start,
                e.end.min(scenario.duration),
                BANDS[i % BANDS.len()],
            )
        })
        .collect();
    let named: Vec<(&str, &str)> = scenario
        .episodes
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), BANDS[i % BANDS.len()]))
        .collect();
    let frame = Frame {
        run: scenario.duration,
        bucket: report
            .runs
            .first()
            .map_or(Duration::from_secs(1), |r| r.bucket),
        bands: &bands,
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>fusebox simulate</h1>\n<p>{}</p>\n<p>{} simulated, seed {}, judged on <code>{}</code> (lower is better).</p>",
        escape(&report.description),
        human(scenario.duration),
        report.seed,
        report.objective
    );
    body.push_str("<h2>Results</h2>\n<table>\n<tr><th>config</th><th>offered</th><th>ok</th><th>failed</th><th>refused</th><th>wasted calls</th><th>p50</th><th>p99</th><th>objective</th></tr>\n");
    for r in &report.runs {
        let t = &r.total;
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.config),
            t.offered,
            t.succeeded,
            t.failed,
            t.refused.values().sum::<u64>(),
            t.wasted_calls,
            human(t.p50),
            human(t.p99),
            r.objective
        );
    }
    body.push_str("</table>\n");
    body.push_str(&legend(&series, &named));
    body.push_str("<h2>Latency p99 per bucket (clients)</h2>\n");
    body.push_str(&chart(
        frame,
        &series,
        |b| b.p99.as_secs_f64() * 1000.0,
        "ms",
        None,
    ));
    body.push_str("<h2>Error rate per bucket (clients)</h2>\n");
    body.push_str(&chart(
        frame,
        &series,
        |b| b.error_rate() * 100.0,
        "%",
        Some(100.0),
    ));
    let _ = writeln!(
        body,
        "<p>Buckets of {} by first arrival; an error is any request that did not succeed. Quantiles are streamed: at most {:.2}% above the exact ones, never below.</p>",
        human(frame.bucket),
        report.quantile_error * 100.0
    );
    for r in &report.runs {
        let _ = writeln!(body, "<h2>{}: per phase</h2>", escape(&r.config));
        body.push_str("<table>\n<tr><th>phase</th><th>offered</th><th>ok</th><th>failed</th><th>refused</th><th>dependency calls</th><th>wasted</th><th>p99</th><th>dependency busy</th></tr>\n");
        for p in r.phases.iter().chain(std::iter::once(&r.total)) {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td></tr>",
                escape(&p.phase),
                p.offered,
                p.succeeded,
                p.failed,
                p.refused.values().sum::<u64>(),
                p.dependency_calls,
                p.wasted_calls,
                human(p.p99),
                p.utilisation * 100.0
            );
        }
        body.push_str("</table>\n");
        for d in &r.total.dependencies {
            let _ = writeln!(
                body,
                "<p>{}: {} calls, {} wasted, {:.0}% busy over the run.</p>",
                escape(&d.name),
                d.calls,
                d.wasted_calls,
                d.utilisation * 100.0
            );
        }
    }
    page("fusebox simulate report", &body)
}
