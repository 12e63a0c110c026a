//! The HTML report: the comparison table and two inline SVG charts (p99
//! latency and error rate per bucket, both runs, episode bands shaded),
//! drawn by the report module `fusebox simulate` uses too
//! (`fusebox_sim::report`).

use std::fmt::Write as _;
use std::time::Duration;

use fusebox::duration::human;
use fusebox_sim::report::{self, Bucket};

use crate::scenario::Scenario;
use crate::{table, DemoReport};

const ERROR_BAND: &str = "#f8d0d0";
const SLOW_BAND: &str = "#fbe5c0";

pub(crate) fn html(report: &DemoReport) -> String {
    let s = &report.scenario;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<h1>fusebox demo</h1>
<p>A service calls a database that fails in episodes, under a steady load of {rate} requests/s,
run twice with the same script: <b>unprotected</b> (each call with a {timeout} client timeout) and
<b>protected</b> by a fuse and a valve (same timeout). Each run lasts {run}{clock}.</p>
"#,
        clock = if report.virtual_time {
            ", simulated on virtual time by the real fusebox code"
        } else {
            ", on the real clock"
        },
        rate = s.rate,
        timeout = human(s.timeout),
        run = human(s.run),
    );
    out.push_str("<h2>Results</h2>\n");
    out.push_str(&table_html(report));
    out.push_str(&legend(report));
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
<tr><td>fuse <code>db</code></td><td>throttle(K = {k}, window {window}, max_reject {maxr}): admits up to K times
the calls the database accepts, refuses the rest at once, never more than {maxr} of them</td></tr>
<tr><td>valve <code>db</code></td><td>concurrency {vc}, queue {vq}, max_wait {mw}, behind the fuse (the pool size, known, not a guess)</td></tr>
<tr><td>wasted calls</td><td>database calls made during the episodes that failed or timed out</td></tr>
<tr><td>time to recover</td><td>from the end of the slow episode until the success rate of arriving requests
stays ≥ 99% for {rw}</td></tr>
</table>
"#,
        bucket = human(s.bucket),
        es = human(s.errors_start),
        ss = human(s.slow_start),
        se = human(s.slow_end),
        share = s.error_share * 100.0,
        slow = human(s.slow_latency),
        cap = s.capacity,
        thrash = s.thrash_backlog,
        k = s.throttle_k,
        window = human(s.throttle_window),
        maxr = s.throttle_max_reject,
        vc = s.valve_concurrency,
        vq = s.valve_queue,
        mw = human(s.valve_max_wait),
        rw = human(s.recovery_window),
    );
    report::page("fusebox demo report", &out)
}

fn table_html(report: &DemoReport) -> String {
    let mut out = grid("", &table::COLUMNS, &table::rows(report));
    out.push_str("<h2>Per phase</h2>\n");
    out.push_str(&grid(
        "phase",
        &table::PHASE_COLUMNS,
        &table::phase_rows(report),
    ));
    out
}

fn grid(title: &str, columns: &[&str], rows: &[table::Row]) -> String {
    let mut out = format!("<table>\n<tr><th>{title}</th>");
    for c in columns {
        let _ = write!(out, "<th>{c}</th>");
    }
    out.push_str("</tr>\n");
    for (name, cells) in rows {
        let _ = write!(out, "<tr><td>{name}</td>");
        for c in cells {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A chart of both runs, the two episodes shaded.
fn chart(
    s: &Scenario,
    report: &DemoReport,
    value: impl Fn(&Bucket) -> f64,
    unit: &str,
    fixed_max: Option<f64>,
) -> String {
    let bands = bands(s);
    let frame = report::Frame {
        run: s.run,
        bucket: s.bucket,
        bands: &bands,
    };
    report::chart(frame, &series(report), value, unit, fixed_max)
}

fn bands(s: &Scenario) -> [(Duration, Duration, &'static str); 2] {
    [
        (s.errors_start, s.slow_start, ERROR_BAND),
        (s.slow_start, s.slow_end, SLOW_BAND),
    ]
}

fn series(report: &DemoReport) -> [report::Series<'_>; 2] {
    [
        report::Series {
            label: report.unprotected.label,
            color: report::COLORS[0],
            buckets: &report.unprotected.buckets,
        },
        report::Series {
            label: report.protected.label,
            color: report::COLORS[1],
            buckets: &report.protected.buckets,
        },
    ]
}

fn legend(report: &DemoReport) -> String {
    report::legend(
        &series(report),
        &[("error episode", ERROR_BAND), ("slow episode", SLOW_BAND)],
    )
}
