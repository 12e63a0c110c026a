//! `fusebox`: the operator's command line for fusebox.
//!
//! Most commands talk to a service's admin HTTP surface (the
//! `fusebox-admin` crate, `http://127.0.0.1:9797` by default, or
//! `$FUSEBOX_URL`): `status` prints a table of fuses, valves and alarms once,
//! `watch` refreshes it like `top`, `trace` follows the event stream the way
//! Erlang's `recon_trace` follows calls (bounded in count and in rate, so it
//! is safe to point at a busy production node), and `disable`, `enable`,
//! `reset` and `unlock` act on one fuse with the admin token. `check`
//! validates a TOML config file offline, reporting every error with its line.
//!
//! Exit codes: 0 success, 1 failure (an invalid config, an HTTP or network
//! error, a refused token), 2 a usage error (from clap).

mod client;
mod cmd;
mod table;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The admin URL used when neither `--url` nor `$FUSEBOX_URL` is given.
const DEFAULT_URL: &str = "http://127.0.0.1:9797";

/// Look at and operate the fuses and valves of a running service.
#[derive(Debug, Parser)]
#[command(name = "fusebox", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the admin server is (every command that talks to one).
#[derive(Debug, clap::Args)]
struct Remote {
    /// The admin server's base URL (http only).
    #[arg(long, env = "FUSEBOX_URL", default_value = DEFAULT_URL)]
    url: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a table of fuses, valves and alarms.
    Status {
        #[command(flatten)]
        remote: Remote,
        /// Print the raw JSON instead: {"fuses": [...], "valves": [...], "alarms": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the status table with rates, like top, until Ctrl-C.
    Watch {
        #[command(flatten)]
        remote: Remote,
        /// Time between refreshes ("1s", "250ms").
        #[arg(long, default_value = "1s", value_parser = fusebox::duration::parse)]
        interval: Duration,
        /// Stop after this many refreshes.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Print the events of one fuse or valve ('*' for all), bounded in count and rate.
    Trace {
        /// The fuse or valve to follow, or '*' for every one.
        name: String,
        #[command(flatten)]
        remote: Remote,
        /// Stop after printing this many events.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        max: u64,
        /// Print at most this many events per second; the rest are dropped and counted.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        rate: u64,
    },
    /// Disable a fuse: it refuses every ask until enabled.
    Disable(Control),
    /// Enable a disabled fuse.
    Enable(Control),
    /// Reset a blown fuse: heal it now.
    Reset(Control),
    /// Release a fuse waiting at a `barrier` heal step.
    Unlock(Control),
    /// Validate a TOML config file; print every error with its line.
    Check {
        /// The config file.
        config: std::path::PathBuf,
    },
    /// Run the self-contained demo: a simulated service with fuses and valves.
    Demo(cmd::demo::DemoArgs),
}

/// The arguments of `disable`, `enable`, `reset` and `unlock`.
#[derive(Debug, clap::Args)]
struct Control {
    /// The fuse's name.
    name: String,
    #[command(flatten)]
    remote: Remote,
    /// The admin bearer token.
    #[arg(long, env = "FUSEBOX_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// A failure to report: printed as `error: ...` on stderr, exit code 1.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl<T: std::fmt::Display> From<T> for Failure {
    fn from(e: T) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config } => cmd::check::run(&config),
        Command::Demo(args) => cmd::demo::run(args),
        remote => on_runtime(remote),
    };
    match result {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The commands that talk HTTP run on a current-thread runtime: one
/// connection at a time needs no more.
fn on_runtime(command: Command) -> Result<ExitCode, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        match command {
            Command::Status { remote, json } => cmd::status::run(&remote.url, json).await,
            Command::Watch {
                remote,
                interval,
                count,
            } => cmd::watch::run(&remote.url, interval, count).await,
            Command::Trace {
                name,
                remote,
                max,
                rate,
            } => cmd::trace::run(&remote.url, &name, max, rate).await,
            Command::Disable(c) => cmd::control::run("disable", c).await,
            Command::Enable(c) => cmd::control::run("enable", c).await,
            Command::Reset(c) => cmd::control::run("reset", c).await,
            Command::Unlock(c) => cmd::control::run("unlock", c).await,
            Command::Check { .. } | Command::Demo(_) => unreachable!("run off the runtime"),
        }
    })
}
