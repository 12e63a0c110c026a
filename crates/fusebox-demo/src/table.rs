//! The comparison table, for a terminal and for the HTML report: both runs
//! and what no protection could beat ("best possible"), over the whole run
//! and phase by phase.

use fusebox::duration::human;

use crate::summary::RunSummary;
use crate::DemoReport;

/// A row: its name and one cell per column.
pub(crate) type Row = (String, Vec<String>);

/// The columns of [`rows`].
pub(crate) const COLUMNS: [&str; 3] = ["unprotected", "protected", "best possible"];

/// The whole run's rows.
pub(crate) fn rows(report: &DemoReport) -> Vec<Row> {
    let (u, p) = (&report.unprotected, &report.protected);
    let floor = report.best_possible_errors();
    let errors = |errors: u64, requests: u64| {
        let pct = if requests == 0 {
            0.0
        } else {
            100.0 * errors as f64 / requests as f64
        };
        format!("{errors} ({pct:.1}%)")
    };
    let ttr = |r: &RunSummary| match r.time_to_recover {
        Some(d) => human(d),
        None => "not in the run".to_string(),
    };
    let none = || "-".to_string();
    let row = |name: &str, f: &dyn Fn(&RunSummary) -> String, best: String| -> Row {
        (name.to_string(), vec![f(u), f(p), best])
    };
    vec![
        row(
            "requests",
            &|r| r.requests.to_string(),
            u.requests.to_string(),
        ),
        row("p50 latency", &|r| human(r.p50), none()),
        row("p99 latency", &|r| human(r.p99), none()),
        row("max latency", &|r| human(r.max), none()),
        row(
            "client errors",
            &|r| errors(r.client_errors, r.requests),
            errors(floor, u.requests),
        ),
        row("  of which timeouts", &|r| r.timeouts.to_string(), none()),
        row(
            "  of which fast refusals",
            &|r| r.refused.to_string(),
            none(),
        ),
        row("database calls", &|r| r.db_calls.to_string(), none()),
        row(
            "wasted database calls",
            &|r| r.wasted_calls.to_string(),
            "0".into(),
        ),
        row("time to recover", &ttr, human(std::time::Duration::ZERO)),
    ]
}

/// The columns of [`phase_rows`].
pub(crate) const PHASE_COLUMNS: [&str; 9] = [
    "requests",
    "errors unprot.",
    "errors prot.",
    "best possible",
    "prot. / best",
    "wasted unprot.",
    "wasted prot.",
    "p99 prot.",
    "p99 served prot.",
];

/// One row per phase.
pub(crate) fn phase_rows(report: &DemoReport) -> Vec<Row> {
    let s = &report.scenario;
    report
        .unprotected
        .phases
        .iter()
        .zip(&report.protected.phases)
        .map(|(u, p)| {
            let best = s.best_possible_errors(p.phase, p.requests);
            let ratio = if best == 0 {
                "-".to_string()
            } else {
                format!("{:.2}x", p.client_errors as f64 / best as f64)
            };
            (
                p.phase.as_str().to_string(),
                vec![
                    p.requests.to_string(),
                    u.client_errors.to_string(),
                    p.client_errors.to_string(),
                    best.to_string(),
                    ratio,
                    u.wasted_calls.to_string(),
                    p.wasted_calls.to_string(),
                    human(p.p99),
                    human(p.p99_served),
                ],
            )
        })
        .collect()
}

/// Both tables as text.
pub(crate) fn text(report: &DemoReport) -> String {
    let mut out = grid("", &COLUMNS, &rows(report));
    out.push('\n');
    out.push_str(&grid("per phase", &PHASE_COLUMNS, &phase_rows(report)));
    out
}

/// Rows under a header, the first column left-aligned, the others right.
fn grid(title: &str, columns: &[&str], rows: &[Row]) -> String {
    let first = rows
        .iter()
        .map(|r| r.0.len())
        .chain([title.len()])
        .max()
        .unwrap_or(0)
        + 2;
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].len())
                .chain([columns[i].len()])
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    let mut out = format!("{title:<first$}");
    for (c, w) in columns.iter().zip(&widths) {
        out.push_str(&format!("{c:>w$}"));
    }
    out.push('\n');
    for (name, cells) in rows {
        out.push_str(&format!("{name:<first$}"));
        for (c, w) in cells.iter().zip(&widths) {
            out.push_str(&format!("{c:>w$}"));
        }
        out.push('\n');
    }
    out
}
