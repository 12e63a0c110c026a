//! The per-phase tables of a report, as text for a terminal.

use std::fmt::Write as _;

use fusebox::duration::human;

use crate::Report;

/// One table per run, then a line per run with the objective.
pub(crate) fn render(r: &Report) -> String {
    let mut out = String::new();
    for run in &r.runs {
        let _ = writeln!(out, "{} ({} requests simulated)", run.config, run.requests);
        let header = [
            "phase",
            "offered",
            "ok",
            "failed",
            "timed out",
            "refused",
            "dep calls",
            "dep load",
            "wasted",
            "p50",
            "p99",
            "max",
            "dep busy",
        ];
        let mut rows: Vec<Vec<String>> = Vec::new();
        for p in run.phases.iter().chain(std::iter::once(&run.total)) {
            let refused: u64 = p.refused.values().sum();
            rows.push(vec![
                p.phase.clone(),
                p.offered.to_string(),
                p.succeeded.to_string(),
                p.failed.to_string(),
                p.timed_out.to_string(),
                refused.to_string(),
                p.dependency_calls.to_string(),
                format!("{:.2}x", p.load_factor()),
                p.wasted_calls.to_string(),
                human(p.p50),
                human(p.p99),
                human(p.max),
                format!("{:.0}%", p.utilisation * 100.0),
            ]);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].len())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>, out: &mut String| {
            let mut l = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i == 0 {
                    let _ = write!(l, "  {c:<w$}", w = widths[i]);
                } else {
                    let _ = write!(l, "  {c:>w$}", w = widths[i]);
                }
            }
            let _ = writeln!(out, "{}", l.trim_end());
        };
        line(header.to_vec(), &mut out);
        for row in &rows {
            line(row.iter().map(String::as_str).collect(), &mut out);
        }
        // Several dependencies: each one's part of the whole run.
        for d in &run.total.dependencies {
            let _ = writeln!(
                out,
                "  {}: {} calls, {} wasted, {:.0}% busy",
                d.name,
                d.calls,
                d.wasted_calls,
                d.utilisation * 100.0
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "p50, p99: streamed, at most {:.2}% above the exact (never below); mean, max: exact",
        r.quantile_error * 100.0
    );
    let _ = writeln!(out, "objective: {} (lower is better)", r.objective);
    for run in &r.runs {
        let _ = writeln!(out, "  {:<20} {}", run.config, run.objective);
    }
    out
}
