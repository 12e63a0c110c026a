//! `fusebox simulate SCENARIO.toml [--config A.toml ...] [--json]`: a whole
//! night on virtual time, in seconds. Runs the scenario unprotected
//! (`none`), with the fusebox config the scenario carries (if any), and with
//! each `--config`, all on the same seed, and prints a per-phase table of
//! each run (or the JSON report, the same bytes every time). It writes the
//! HTML report too, drawn by the same module as the demo's.
//!
//! A scenario past the simulator's limit (`fusebox_sim::MAX_REQUESTS`
//! client requests a run) is refused before it starts, with its estimate.
//! A run that takes longer than a few seconds draws a progress line on
//! standard error, when that is a terminal (never into a pipe or a file):
//! the run, the virtual time reached, the requests simulated against the
//! estimate. The line is wiped when the run ends, so what is printed after
//! is the same as without it.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fusebox::ConfigFile;

use crate::Failure;

/// The arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// A fusebox config to run the scenario with (repeatable; each is named
    /// after its file).
    #[arg(long = "config")]
    configs: Vec<PathBuf>,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Where to write the HTML report (default target/fusebox-sim/report.html).
    #[arg(long)]
    report: Option<PathBuf>,
}

pub(crate) fn run(args: SimulateArgs) -> Result<ExitCode, Failure> {
    let file = fusebox_sim::file::read(&args.scenario).map_err(|e| Failure(e.to_string()))?;
    let mut configs: Vec<(String, ConfigFile)> = Vec::new();
    if let Some(inline) = file.fusebox {
        configs.push((stem(&args.scenario), inline));
    }
    for path in &args.configs {
        let cfg = ConfigFile::read(path).map_err(|e| Failure(e.to_string()))?;
        configs.push((stem(path), cfg));
    }
    let mut line = ProgressLine::new(std::io::stderr().is_terminal());
    let report = fusebox_sim::simulate_observed(&file.scenario, &configs, |p| line.show(p));
    line.wipe();
    let report = report.map_err(|e| Failure(e.to_string()))?;
    let path = args
        .report
        .unwrap_or_else(|| PathBuf::from("target/fusebox-sim/report.html"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&path, report.html(&file.scenario))
        .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
    if args.json {
        println!("{}", report.json());
    } else {
        if !report.description.is_empty() {
            println!("{}\n", report.description);
        }
        print!("{}", report.table());
        println!("report: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// The progress line: drawn on a terminal from [`QUIET_FOR`] after the
/// start, at most every [`REDRAW`].
struct ProgressLine {
    on: bool,
    start: Instant,
    drawn: Option<Instant>,
}

/// How long a run goes without a progress line.
const QUIET_FOR: Duration = Duration::from_secs(3);

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

impl ProgressLine {
    fn new(on: bool) -> Self {
        ProgressLine {
            on,
            start: Instant::now(),
            drawn: None,
        }
    }

    fn show(&mut self, p: &fusebox_sim::Progress<'_>) {
        if !self.on || self.start.elapsed() < QUIET_FOR {
            return;
        }
        if self.drawn.is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        self.drawn = Some(Instant::now());
        let text = format!(
            "simulating {} (run {} of {}): {} of {} virtual, {} of ~{} requests, {:.0}% in {:.0}s",
            p.config,
            p.run + 1,
            p.runs,
            fusebox::duration::human(p.simulated.min(p.duration)),
            fusebox::duration::human(p.duration),
            millions(p.requests),
            millions(p.estimated),
            p.done() * 100.0,
            self.start.elapsed().as_secs_f64(),
        );
        let mut err = std::io::stderr().lock();
        // \r and "erase to the end of the line": the line redraws in place.
        let _ = write!(err, "\r{text}\x1b[K");
        let _ = err.flush();
    }

    /// Erases the line, if one was drawn.
    fn wipe(&mut self) {
        if self.drawn.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

/// A count for the progress line: `950`, `12.3k`, `605.0M`.
fn millions(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}
