//! The results: a table for people, JSON for tools.

use std::fmt::Write as _;

use crate::harness::Measured;
use crate::scaling::Scaled;

/// Everything one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// Rounds per row.
    pub rounds: usize,
    /// Target wall time of one sample, in ms.
    pub sample_ms: f64,
    /// The breaker rows.
    pub rows: Vec<RowReport>,
    /// 1 vs 2 threads.
    pub scaling: Vec<Scaled>,
}

/// The machine, as far as the process can tell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// CPU model (Linux: /proc/cpuinfo).
    pub cpu: String,
    /// OS and kernel release.
    pub os: String,
}

impl Machine {
    /// Reads what it can; unknown parts say so.
    pub fn detect() -> Self {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpus,
            cpu,
            os: format!("{} {kernel}", std::env::consts::OS)
                .trim()
                .to_string(),
        }
    }
}

/// One row's results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RowReport {
    /// Stable id.
    pub id: &'static str,
    /// What it measures.
    pub title: String,
    /// The contender subtracted before ratios, if any.
    pub baseline: Option<&'static str>,
    /// Every contender.
    pub results: Vec<Entry>,
}

/// One contender in one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// The raw measurement.
    #[serde(flatten)]
    pub measured: Measured,
    /// Median minus the baseline's median (the breaker's own cost), if the
    /// row has a baseline; floored at 0.01 ns so ratios stay finite.
    pub overhead_ns: Option<f64>,
    /// This contender's cost / fusebox's cost: how many times fusebox is
    /// faster. `None` for the baseline itself.
    pub ratio_vs_fusebox: Option<f64>,
}

const FLOOR_NS: f64 = 0.01;

impl RowReport {
    /// Computes overheads and ratios from raw measurements.
    pub fn new(
        id: &'static str,
        title: String,
        baseline: Option<&'static str>,
        measured: Vec<Measured>,
    ) -> Self {
        let base =
            baseline.and_then(|b| measured.iter().find(|m| m.name == b).map(|m| m.median_ns));
        let cost = |m: &Measured| match base {
            Some(b) => (m.median_ns - b).max(FLOOR_NS),
            None => m.median_ns,
        };
        let ours = measured.iter().find(|m| m.name == "fusebox").map(cost);
        let results = measured
            .into_iter()
            .map(|m| {
                let is_base = Some(m.name) == baseline;
                Entry {
                    overhead_ns: base.filter(|_| !is_base).map(|_| cost(&m)),
                    ratio_vs_fusebox: match (is_base, ours) {
                        (false, Some(o)) => Some(cost(&m) / o),
                        _ => None,
                    },
                    measured: m,
                }
            })
            .collect();
        RowReport {
            id,
            title,
            baseline,
            results,
        }
    }

    /// The entry of one contender.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.results.iter().find(|e| e.measured.name == name)
    }
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "fusebox-bench on {} ({} logical CPUs), {}; {} rounds per row, medians in ns.\n\
             ratio = contender / fusebox: how many times fusebox is faster.",
            m.cpu, m.cpus, m.os, self.rounds
        );
        for row in &self.rows {
            let _ = writeln!(out, "\n{}", row.title);
            if let Some(b) = row.baseline {
                let _ = writeln!(
                    out,
                    "  (overhead = median - median of \"{b}\"; ratios on overhead)"
                );
            }
            let _ = writeln!(
                out,
                "  {:<18} {:>10} {:>10} {:>9}   call",
                "contender", "median", "overhead", "ratio"
            );
            for e in &row.results {
                let _ = writeln!(
                    out,
                    "  {:<18} {:>10} {:>10} {:>9}   {}",
                    e.measured.name,
                    ns(e.measured.median_ns),
                    e.overhead_ns.map_or("-".into(), ns),
                    e.ratio_vs_fusebox
                        .map_or("-".into(), |r| format!("{r:.2}x")),
                    e.measured.call
                );
            }
        }
        if !self.scaling.is_empty() {
            let _ = writeln!(
                out,
                "\nscaling: 1 vs 2 threads calling one healthy breaker ({} logical CPUs here)",
                m.cpus
            );
            let _ = writeln!(
                out,
                "  {:<18} {:>10} {:>14} {:>8} {:>14}   call",
                "contender", "1 thread", "2 thr (each)", "scaling", "vs bare load"
            );
            let bare = self
                .scaling
                .iter()
                .find(|s| s.name == "bare atomic load")
                .map(|s| s.scaling);
            for s in &self.scaling {
                let _ = writeln!(
                    out,
                    "  {:<18} {:>10} {:>14} {:>7.2}x {:>14}   {}",
                    s.name,
                    ns(s.one_thread_ns),
                    ns(s.two_threads_ns),
                    s.scaling,
                    bare.map_or("-".into(), |b| format!("{:.0}%", 100.0 * s.scaling / b)),
                    s.call
                );
            }
        }
        out
    }
}

fn ns(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}
