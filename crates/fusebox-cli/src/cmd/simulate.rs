//! `fusebox simulate SCENARIO.toml [--config A.toml ...] [--json]`: a whole
//! night on virtual time, in seconds. Runs the scenario unprotected
//! (`none`), with the fusebox config the scenario carries (if any), and with
//! each `--config`, all on the same seed, and prints a per-phase table of
//! each run (or the JSON report, the same bytes every time). It writes the
//! HTML report too, drawn by the same module as the demo's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    let report =
        fusebox_sim::simulate(&file.scenario, &configs).map_err(|e| Failure(e.to_string()))?;
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
