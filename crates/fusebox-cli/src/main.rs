//! `fusebox`: the operator's command line for fusebox.
//!
//! Most commands talk to a service's admin HTTP surface (the
//! `fusebox-admin` crate, `http://127.0.0.1:9797` by default, or
//! `$FUSEBOX_URL`): `status` prints a table of fuses, valves and alarms once,
//! `watch` refreshes it like `top`, `top` shows the process itself (the
//! tokio runtime, memory, CPU, threads, descriptors, the busiest fuses and
//! valves) the way recon's `node_stats` and `proc_count` do, `trace` follows the event stream the way
//! Erlang's `recon_trace` follows calls (bounded in count and in rate, so it
//! is safe to point at a busy production node), and `disable`, `enable`,
//! `reset` and `unlock` act on one fuse with the admin token. `check`
//! validates a TOML config file offline, reporting every error with its line.
//! `status` and the control commands also take a fleet (`--url` repeated,
//! `--fleet FILE`): see [`fleet`].
//!
//! Every read is bounded (see [`limit`]): an HTTP answer, or one event of a
//! stream, by `--max-body` (16 MiB), a config file by `--max-size` (64 MiB).
//!
//! Exit codes: 0 success, 1 failure (an invalid config, an HTTP or network
//! error, a refused token), 2 a usage error (from clap).

mod client;
mod cmd;
mod fleet;
mod limit;
mod table;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::client::Client;
use crate::cmd::control::Action;
use crate::fleet::targets::Targets;
use crate::limit::ByteSize;

/// The admin URL used when neither `--url` nor `$FUSEBOX_URL` is given.
const DEFAULT_URL: &str = "http://127.0.0.1:9797";

/// Look at and operate the fuses and valves of a running service.
#[derive(Debug, Parser)]
#[command(name = "fusebox", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the admin server is, and how much of its answers to read (every
/// command that talks to one).
#[derive(Debug, clap::Args)]
struct Remote {
    /// The admin server's base URL (http only); empty means the default.
    #[arg(long, env = "FUSEBOX_URL", default_value = DEFAULT_URL)]
    url: String,
    /// The largest answer to read, or event of a stream ("16MiB", "512KiB",
    /// bytes); larger ones are an error.
    #[arg(
        long,
        env = "FUSEBOX_MAX_BODY",
        value_name = "SIZE",
        default_value_t = limit::DEFAULT_MAX_BODY,
        value_parser = limit::parse_max_body,
    )]
    max_body: ByteSize,
}

impl Remote {
    /// The URL to use: an empty `--url` or `FUSEBOX_URL` (as `FUSEBOX_URL=`
    /// in a script that means to unset it) is the default, not an error.
    fn url(&self) -> &str {
        if self.url.trim().is_empty() {
            DEFAULT_URL
        } else {
            &self.url
        }
    }

    /// A client for the admin server.
    pub(crate) fn client(&self) -> Result<Client, Failure> {
        Client::new(self.url(), self.max_body)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a table of fuses, valves and alarms, of one server or a fleet.
    Status {
        #[command(flatten)]
        targets: Targets,
        /// Print the raw JSON instead: {"fuses": [...], "valves": [...], "alarms": [...]};
        /// for a fleet {"targets": [{"target", "snapshot" or "error"}, ...]}.
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
    /// Show the service's runtime, memory, CPU, threads and busiest fuses and valves, like top.
    Top {
        #[command(flatten)]
        remote: Remote,
        /// Time between refreshes ("1s", "2s"); the server's rates are over at least 500ms.
        #[arg(long, default_value = "1s", value_parser = fusebox::duration::parse)]
        interval: Duration,
        /// Print one frame and exit.
        #[arg(long)]
        once: bool,
        /// Stop after this many frames.
        #[arg(long, conflicts_with = "once")]
        count: Option<u64>,
        /// How many of the busiest fuses and valves to show.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=50))]
        top: u8,
        /// What the busiest are ranked by.
        #[arg(long, value_enum, default_value_t = cmd::top::By::Calls)]
        by: cmd::top::By,
    },
    /// Print the events of one fuse or valve ('*' for all), or with --code the
    /// service's own tracing events, bounded in count and rate.
    Trace {
        /// The fuse or valve to follow, or '*' for every one.
        #[arg(required_unless_present = "code", conflicts_with = "code")]
        name: Option<String>,
        /// Trace the service's code instead: a spec 'target[span]{field=value}=level'
        /// (e.g. 'myapp::db[query]=debug'), sent to the server, which stops by itself.
        #[arg(long, value_name = "SPEC")]
        code: Option<String>,
        #[command(flatten)]
        remote: Remote,
        /// Stop after printing this many events [default: 100].
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        max: Option<u64>,
        /// Print at most this many events per second; the rest are dropped and
        /// counted [default: 100; with --code the server's, 10].
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        rate: Option<u64>,
        /// With --code: the trace's time limit ("30s") [default: the server's, 60s].
        #[arg(long = "for", value_name = "DURATION", value_parser = fusebox::duration::parse)]
        time: Option<Duration>,
        /// With --code: the admin bearer token.
        #[arg(long, env = "FUSEBOX_TOKEN", hide_env_values = true)]
        token: Option<String>,
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
        /// The largest file to read ("64MiB", "1GiB", bytes); a larger one
        /// is an error.
        #[arg(
            long,
            value_name = "SIZE",
            default_value_t = limit::DEFAULT_MAX_FILE,
            value_parser = limit::parse_max_file,
        )]
        max_size: ByteSize,
    },
    /// Run the self-contained demo: a simulated service with fuses and valves.
    Demo(cmd::demo::DemoArgs),
    /// Simulate a scenario file on virtual time: a whole night in seconds.
    Simulate(cmd::simulate::SimulateArgs),
}

/// The arguments of `disable`, `enable`, `reset` and `unlock` (on a fleet,
/// a result line per target, exit code 1 if any failed).
#[derive(Debug, clap::Args)]
struct Control {
    /// The fuse's name.
    name: String,
    #[command(flatten)]
    targets: Targets,
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
        Command::Check { config, max_size } => cmd::check::run(&config, max_size),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Simulate(args) => cmd::simulate::run(args),
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

/// The commands that talk HTTP run on a current-thread runtime: a fleet's
/// requests wait together, and waiting needs no more threads.
fn on_runtime(command: Command) -> Result<ExitCode, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(async move {
        match command {
            Command::Status { targets, json } => cmd::status::run(&targets, json).await,
            Command::Watch {
                remote,
                interval,
                count,
            } => cmd::watch::run(&remote, interval, count).await,
            Command::Top {
                remote,
                interval,
                once,
                count,
                top,
                by,
            } => {
                let opts = cmd::top::Options {
                    interval,
                    once,
                    count,
                    top,
                    by,
                };
                cmd::top::run(&remote, opts).await
            }
            Command::Trace {
                code: Some(spec),
                remote,
                max,
                rate,
                time,
                token,
                ..
            } => {
                let args = cmd::code_trace::Args {
                    spec,
                    max,
                    rate,
                    time,
                };
                cmd::code_trace::run(&remote, &args, token.as_deref()).await
            }
            Command::Trace {
                name,
                remote,
                max,
                rate,
                time,
                ..
            } => {
                if time.is_some() {
                    return Err(Failure("--for is for code traces (--code)".to_owned()));
                }
                let name = name.unwrap_or_else(|| "*".to_owned());
                let (max, rate) = (max.unwrap_or(100), rate.unwrap_or(100));
                cmd::trace::run(&remote, &name, max, rate).await
            }
            Command::Disable(c) => cmd::control::run(Action::Disable, c).await,
            Command::Enable(c) => cmd::control::run(Action::Enable, c).await,
            Command::Reset(c) => cmd::control::run(Action::Reset, c).await,
            Command::Unlock(c) => cmd::control::run(Action::Unlock, c).await,
            Command::Check { .. } | Command::Demo(_) | Command::Simulate(_) => {
                unreachable!("run off the runtime")
            }
        }
    });
    // A name lookup past its deadline still holds a blocking thread, which
    // dropping the runtime would wait for.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(args: &[&str]) -> Remote {
        let cli = Cli::try_parse_from([&["fusebox", "watch"], args].concat()).unwrap();
        match cli.command {
            Command::Watch { remote, .. } => remote,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_empty_url_is_the_default() {
        assert_eq!(remote(&["--url", ""]).url(), DEFAULT_URL);
        assert_eq!(remote(&["--url", " "]).url(), DEFAULT_URL);
        assert_eq!(remote(&["--url", "http://h:1"]).url(), "http://h:1");
    }

    #[test]
    fn max_body_parses_and_defaults() {
        assert_eq!(
            remote(&["--max-body", ""]).max_body,
            limit::DEFAULT_MAX_BODY
        );
        assert_eq!(remote(&["--max-body", "1KiB"]).max_body.bytes(), 1024);
        assert!(Cli::try_parse_from(["fusebox", "status", "--max-body", "0"]).is_err());
    }
}
