//! The HTML report: the comparison table and two inline SVG charts (p99
//! latency and error rate per bucket, both runs, episode bands shaded). One
//! self-contained file: no scripts, fonts or images from anywhere else.

use std::fmt::Write as _;
use std::time::Duration;

use fusebox::duration::human;

use crate::scenario::Scenario;
use crate::DemoReport;

const W: f64 = 760.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 28.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;
const UNPROTECTED: &str = "#d62728";
const PROTECTED: &str = "#2ca02c";

pub(crate) fn html(report: &DemoReport) -> String {
    let s = &report.scenario;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fusebox demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 820px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.legend span {{ display: inline-block; margin-right: 1.5em; }}
.swatch {{ display: inline-block; width: 14px; height: 10px; margin-right: 4px; }}
code {{ background: #f4f4f4; padding: 1px 4px; }}
</style></head><body>
<h1>fusebox demo</h1>
<p>A service calls a database that fails in episodes, under a steady load of {rate} requests/s,
run twice with the same script: <b>unprotected</b> (each call with a {timeout} client timeout) and
<b>protected</b> by a fuse and a valve (same timeout). Each run lasts {run}.</p>
"#,
        rate = s.rate,
        timeout = human(s.timeout),
        run = human(s.run),
    );
    out.push_str("<h2>Results</h2>\n");
    out.push_str(&table_html(report));
    out.push_str(&legend());
    out.push_str("<h2>Latency p99 per bucket (clients)</h2>\n");
    out.push_str(&chart(
        s,
        report,
        |b| b.p99.as_secs_f64() * 1000.0,
        "ms",
        None,
    ));
    out.push_str("<h2>Error rate per bucket (clients)</h2>\n");
    out.push_str(&chart(
        s,
        report,
        |b| b.error_rate() * 100.0,
        "%",
        Some(100.0),
    ));
    let _ = write!(
        out,
        r#"<p>Buckets of {bucket} by arrival time. Shaded: the error episode ({es}–{ss}: {share:.0}% of
queries fail fast) and the slow episode ({ss}–{se}: each query takes {slow}).</p>
<h2>Scenario</h2>
<table>
<tr><td>database</td><td>{cap} connections, FIFO queue, healthy latency 2–17 ms, abandoned queries still run,
healthy cost × (1 + waiting / {thrash:.0})</td></tr>
<tr><td>fuse <code>db</code></td><td>failure_rate({ratio}, {window}, min {min}) + slow_call({slowcall});
heal [delay({delay}), probe(1), probe(1), probe(1)]</td></tr>
<tr><td>valve <code>db</code></td><td>concurrency {vc}, queue {vq}, max_wait {mw}, behind the fuse</td></tr>
<tr><td>wasted calls</td><td>database calls made during the episodes that failed or timed out</td></tr>
<tr><td>time to recover</td><td>from the end of the slow episode until the success rate of arriving requests
stays ≥ 99% for {rw}</td></tr>
</table>
</body></html>
"#,
        bucket = human(s.bucket),
        es = human(s.errors_start),
        ss = human(s.slow_start),
        se = human(s.slow_end),
        share = s.error_share * 100.0,
        slow = human(s.slow_latency),
        cap = s.capacity,
        thrash = s.thrash_backlog,
        ratio = s.fuse_ratio,
        window = human(s.fuse_window),
        min = s.fuse_min_calls,
        slowcall = human(s.slow_call),
        delay = human(s.heal_delay),
        vc = s.valve_concurrency,
        vq = s.valve_queue,
        mw = human(s.valve_max_wait),
        rw = human(s.recovery_window),
    );
    out
}

fn table_html(report: &DemoReport) -> String {
    let mut out =
        String::from("<table>\n<tr><th></th><th>unprotected</th><th>protected</th></tr>\n");
    for (name, u, p) in crate::rows(&report.unprotected, &report.protected) {
        let _ = writeln!(out, "<tr><td>{name}</td><td>{u}</td><td>{p}</td></tr>");
    }
    out.push_str("</table>\n");
    out
}

fn legend() -> String {
    format!(
        r#"<p class="legend"><span><i class="swatch" style="background:{UNPROTECTED}"></i>unprotected</span>
<span><i class="swatch" style="background:{PROTECTED}"></i>protected</span>
<span><i class="swatch" style="background:#f8d0d0"></i>error episode</span>
<span><i class="swatch" style="background:#fbe5c0"></i>slow episode</span></p>
"#
    )
}

fn chart(
    s: &Scenario,
    report: &DemoReport,
    value: impl Fn(&crate::Bucket) -> f64,
    unit: &str,
    fixed_max: Option<f64>,
) -> String {
    let series = [
        (&report.unprotected, UNPROTECTED),
        (&report.protected, PROTECTED),
    ];
    let max = fixed_max.unwrap_or_else(|| {
        nice_ceiling(
            series
                .iter()
                .flat_map(|(r, _)| r.buckets.iter().map(&value))
                .fold(1.0, f64::max)
                * 1.05,
        )
    });
    let run = s.run.as_secs_f64();
    let x = |t: Duration| LEFT + (W - LEFT - RIGHT) * t.as_secs_f64() / run;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-size="11" font-family="sans-serif">"#
    );
    // Episode bands.
    for (from, to, color) in [
        (s.errors_start, s.slow_start, "#f8d0d0"),
        (s.slow_start, s.slow_end, "#fbe5c0"),
    ] {
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
        let t = s.run.mul_f64(i as f64 / 6.0);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(t),
            H - BOTTOM + 16.0,
            if run >= 6.0 {
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
    for (r, color) in series {
        let points: Vec<String> = r
            .buckets
            .iter()
            .flat_map(|b| {
                // A step per bucket: the value holds from its start to its end.
                let v = y(value(b).min(max));
                let end = (b.start + s.bucket).min(s.run);
                [
                    format!("{:.1},{v:.1}", x(b.start)),
                    format!("{:.1},{v:.1}", x(end)),
                ]
            })
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            r.label
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
