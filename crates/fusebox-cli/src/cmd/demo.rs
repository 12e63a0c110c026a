//! `fusebox demo`: the self-contained demo of the `fusebox-demo` crate (a
//! flaky database under load, without and then with a fuse and a valve), on
//! a multi-thread runtime of its own, as the demo requires.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fusebox_demo::DemoOptions;

use crate::Failure;

/// The arguments of `fusebox demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// How long to run, both runs together ("60s", "2m").
    #[arg(long, default_value = "60s", value_parser = fusebox::duration::parse)]
    duration: Duration,
    /// Do not serve the admin API and dashboard while the demo runs.
    #[arg(long, conflicts_with = "dashboard")]
    no_dashboard: bool,
    /// Where to serve the dashboard (default 127.0.0.1, a free port).
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// Where to write the HTML report (default target/fusebox-demo/report.html).
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// No progress lines: only the final table and the report's path.
    #[arg(long)]
    quiet: bool,
    /// Run the same scenario through the simulator, on virtual time: the
    /// same table and report in a second or two, no dashboard.
    #[arg(long = "virtual", conflicts_with = "dashboard")]
    virtual_time: bool,
}

pub(crate) fn run(args: DemoArgs) -> Result<ExitCode, Failure> {
    let defaults = DemoOptions::default();
    let opts = DemoOptions {
        duration: args.duration,
        dashboard: if args.no_dashboard {
            None
        } else {
            args.dashboard.or(defaults.dashboard)
        },
        report: args.report.unwrap_or(defaults.report),
        quiet: args.quiet,
    };
    let quiet = args.quiet;
    if args.virtual_time {
        let report = fusebox_demo::run_virtual(opts).map_err(|e| Failure(format!("demo: {e}")))?;
        print!("{}", report.table());
        if quiet {
            println!("report: {}", report.report_path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}")))?;
    let report = rt
        .block_on(fusebox_demo::run(opts))
        .map_err(|e| Failure(format!("demo: {e}")))?;
    print!("{}", report.table());
    // Without --quiet the demo has printed the report's path already.
    if quiet {
        println!("report: {}", report.report_path.display());
    }
    Ok(ExitCode::SUCCESS)
}
