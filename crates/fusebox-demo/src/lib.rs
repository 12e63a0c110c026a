//! The fusebox demo: a flaky database under steady load, with and without
//! fusebox, compared side by side. `fusebox demo` runs it.
//!
//! # The scenario
//!
//! An in-process service answers requests by calling a simulated database.
//! An open-loop load generator sends it 200 requests a second, whatever the
//! service's latency (a late tick fires at once: clients do not wait for each
//! other, as on the internet). The database has 16 connections and a FIFO
//! queue in front of them; a healthy query takes 2 to 17 ms. During a run it
//! goes through one script of episodes (times for a 30 s run; everything
//! scales with the run's length, see [`Scenario`]):
//!
//! ```text
//! 0 s        6 s           12 s          18 s                          30 s
//! | healthy  |   errors    |    slow     |  recovered                   |
//!              90% of queries  every query
//!              fail in 1 ms    takes 800 ms
//! ```
//!
//! Two things make the slow episode dangerous, as with a real database:
//! at 800 ms a query, 16 connections serve 20 queries a second against 200
//! arriving, so queries pile up in the queue; and a client that gives up does
//! not take its query back: the database still runs it when its turn comes.
//! With many queries waiting the database also thrashes (each query's healthy
//! cost is multiplied by `1 + waiting / 128`), so a pile-up outlives the
//! episode that caused it.
//!
//! The demo runs this script twice, each run half of
//! [`DemoOptions::duration`], with the same seed:
//!
//! * **unprotected**: the service calls the database directly, each call with
//!   a client-side timeout of 1 s, as a real service would;
//! * **protected**: each call goes through a fuse that *throttles* (the
//!   SRE book's client-side adaptive throttling, `K = 2` over a 250 ms
//!   window, never refusing more than 80%: Envoy admission control's cap)
//!   and then a valve (concurrency 16, the pool's size; queue 16,
//!   `max_wait(20 ms)`, longer than a healthy query), with the same 1 s
//!   timeout. The throttle admits in proportion to what the database
//!   accepts and refuses the rest at once (a refusal by the valve is not the
//!   database's answer: the fuse hears nothing of it, as in the simulator);
//!   the valve never lets more queries at the database than it has
//!   connections, and turns a queue into a fast refusal. Nothing is told
//!   the database's capacity but the pool's size.
//!
//! At the end it compares what the clients saw ([`DemoReport::table`]):
//! latency p50 and p99, errors, *wasted calls* (database calls made during
//! the episodes that failed or timed out: work spent on a dependency that was
//! down), and *time to recover* (from the end of the slow episode until the
//! clients' success rate stays at 99% or more for a second), against the
//! *best possible* (the errors no protection could avoid: the queries the
//! database fails, the requests beyond its capacity when it is slow), over
//! the run and phase by phase, and checks the protected run against its
//! promises ([`DemoReport::checks`]). On the real clock three of them are
//! held to wider bounds than on virtual time, each derived from the
//! mechanism and printed with its reason: the slow episode's last queries
//! hold their connections past its end, for as long as the seed's luck (or
//! a real clock's timer lateness) has them. It writes an HTML report with inline
//! SVG charts of p99 latency and error rate over time for both runs, the
//! episodes shaded.
//!
//! What to expect: some errors are unavoidable (the database is down; no
//! protection makes it work). Unprotected, the slow episode costs every
//! client the full 1 s timeout, thousands of calls pile onto the database
//! for nothing, and the backlog keeps it slow after the episode ends.
//! Protected, the error episode sends the database a fifth of its traffic
//! and refuses the rest at once; the slow episode serves as many queries as
//! the 16 connections can, at the slow latency, and refuses the rest at
//! once; and traffic returns within a window or two of the episode's end.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use fusebox_demo::DemoOptions;
//!
//! let report = fusebox_demo::run(DemoOptions {
//!     duration: Duration::from_secs(10),
//!     dashboard: None,
//!     ..DemoOptions::default()
//! })
//! .await?;
//! println!("{}", report.table());
//! assert!(report.protected.wasted_calls < report.unprotected.wasted_calls);
//! # Ok(()) }
//! ```
//!
//! The demo uses the real clock (tokio's timer): it is meant to be watched.
//! [`run`] needs a multi-thread tokio runtime.
//!
//! # On virtual time
//!
//! [`run_virtual`] (`fusebox demo --virtual`) tells the same story through
//! the simulator (`fusebox-sim`): the same scenario, the same database, the
//! same fuse and valve code, on virtual time, in a second or two. Its table
//! means row for row what the real run's means, and agrees with it within
//! the noise of a real clock (a test runs both and compares).
//!
//! ```
//! use std::time::Duration;
//! use fusebox_demo::DemoOptions;
//!
//! let dir = std::env::temp_dir().join(format!("fusebox-demo-doc-{}", std::process::id()));
//! let report = fusebox_demo::run_virtual(DemoOptions {
//!     duration: Duration::from_secs(60),
//!     report: dir.join("report.html"),
//!     ..DemoOptions::default()
//! })?;
//! assert!(report.virtual_time);
//! assert_eq!(report.unprotected.requests, 6_000); // 200/s for 30 s
//! assert!(report.protected.client_errors < report.unprotected.client_errors);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), std::io::Error>(())
//! ```

mod database;
mod protection;
mod report;
mod run;
mod scenario;
mod simulated;
mod summary;
mod table;
mod verdict;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use fusebox::duration::human;
use fusebox::Fusebox;
use fusebox_admin::AdminConfig;

pub use scenario::{Phase, Scenario, REFERENCE_RUN};
pub use summary::{Bucket, PhaseFigures, RunSummary};
pub use verdict::Check;

/// What [`run`] is asked to do.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox_demo::DemoOptions;
///
/// let opts = DemoOptions { duration: Duration::from_secs(6), quiet: true, ..DemoOptions::default() };
/// assert_eq!(opts.dashboard.unwrap().ip().to_string(), "127.0.0.1");
/// assert!(opts.report.ends_with("fusebox-demo/report.html"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Total length of both runs (each gets half). Default 60 s.
    pub duration: Duration,
    /// Where to serve the admin router and dashboard while the demo runs
    /// (its URL is printed); `None` for no server. Default `127.0.0.1:0`
    /// (a free port).
    pub dashboard: Option<SocketAddr>,
    /// Where to write the HTML report (its directory is created). Default
    /// `target/fusebox-demo/report.html`.
    pub report: PathBuf,
    /// No progress lines and no dashboard URL.
    pub quiet: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            duration: Duration::from_secs(60),
            dashboard: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            report: PathBuf::from("target/fusebox-demo/report.html"),
            quiet: false,
        }
    }
}

/// What the demo measured.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DemoReport {
    /// The run without fusebox.
    pub unprotected: RunSummary,
    /// The run with the fuse and the valve.
    pub protected: RunSummary,
    /// Where the HTML report was written.
    pub report_path: PathBuf,
    /// The parameters both runs used.
    pub scenario: Scenario,
    /// The dashboard's URL, if one was served.
    pub dashboard_url: Option<String>,
    /// The runs were simulated on virtual time ([`run_virtual`]).
    pub virtual_time: bool,
}

impl DemoReport {
    /// The comparison table, as printed at the end of the demo.
    ///
    /// ```text
    ///                              unprotected       protected   best possible
    /// requests                            6000            6000            6000
    /// p50 latency                        5.3ms           4.8ms               -
    /// ...
    /// ```
    ///
    /// then the same phase by phase. "Best possible" is what no protection
    /// could do better than ([`Scenario::best_possible_errors`]).
    pub fn table(&self) -> String {
        let mut out = table::text(self);
        out.push('\n');
        out.push_str(&verdict::text(&self.checks()));
        if let Some(note) = verdict::real_clock_note(self) {
            out.push_str(&note);
        }
        out
    }

    /// What the protected run promises (near the best possible, the slow
    /// episode's capacity served, the throttling formula's successes in
    /// the error episode, few wasted calls, the healthy latency kept, a
    /// quick recovery), each against what it did.
    pub fn checks(&self) -> Vec<Check> {
        verdict::checks(self)
    }

    /// The client errors no protection could avoid over the whole run, phase
    /// by phase ([`Scenario::best_possible_errors`]) on the requests that
    /// arrived (the same in both runs: the load is open).
    pub fn best_possible_errors(&self) -> u64 {
        self.protected
            .phases
            .iter()
            .map(|f| self.scenario.best_possible_errors(f.phase, f.requests))
            .sum()
    }
}

/// Runs the demo: the unprotected run, then the protected one, each half of
/// `opts.duration`; serves the dashboard meanwhile if asked; writes the HTML
/// report. Prints the dashboard URL and one progress line a second unless
/// `opts.quiet`; the caller prints [`DemoReport::table`].
///
/// Needs a multi-thread tokio runtime with time and I/O enabled.
///
/// # Errors
///
/// Binding the dashboard's address, or writing the report.
///
/// # Cancel safety
///
/// Dropping the future stops the demo; database queries already sent finish
/// on their own tasks, the dashboard stops with the runtime.
pub async fn run(opts: DemoOptions) -> std::io::Result<DemoReport> {
    let scenario = Scenario::for_run(opts.duration / 2);
    // The fuse's draws (which requests the throttle refuses) come from the
    // stream the simulator gives the same scenario, not from each thread's
    // own generator: as the database fails an even share of queries, so
    // that the count of refusals measures the protection, not the dice.
    // Unseeded, the error episode's sent calls vary by ±14 (one standard
    // deviation of 1,150 draws at the throttle's 20%) from run to run.
    let fb = Fusebox::builder()
        .seed(fusebox_sim::fusebox_seed(scenario.seed))
        .build();
    let mut dashboard_url = None;
    let server = match opts.dashboard {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let url = format!("http://{}/", listener.local_addr()?);
            if !opts.quiet {
                println!(
                    "dashboard: {url}  (the fuse and valve `db` appear with the protected run)"
                );
            }
            dashboard_url = Some(url);
            Some(tokio::spawn(fusebox_admin::serve_listener(
                listener,
                fb.clone(),
                AdminConfig::new(),
            )))
        }
        None => None,
    };
    struct AbortOnDrop(Option<tokio::task::JoinHandle<std::io::Result<()>>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(h) = &self.0 {
                h.abort();
            }
        }
    }
    let _server = AbortOnDrop(server);

    if !opts.quiet {
        println!(
            "two runs of {} each at {} requests/s; episodes: errors {}–{}, slow {}–{}",
            human(scenario.run),
            scenario.rate,
            human(scenario.errors_start),
            human(scenario.slow_start),
            human(scenario.slow_start),
            human(scenario.slow_end),
        );
        println!(
            "-- run 1: unprotected (database called directly, timeout {})",
            human(scenario.timeout)
        );
    }
    let unprotected = run::run(&scenario, run::Mode::Unprotected, &fb, opts.quiet).await;
    let mode = run::install(&fb, &scenario)?;
    if !opts.quiet {
        println!("-- run 2: protected (fuse + valve `db`, same timeout)");
    }
    let protected = run::run(&scenario, mode, &fb, opts.quiet).await;

    let report = DemoReport {
        unprotected,
        protected,
        report_path: opts.report.clone(),
        scenario,
        dashboard_url,
        virtual_time: false,
    };
    write_report(&report, opts.quiet)?;
    Ok(report)
}

/// Runs the demo's two runs through the simulator, on virtual time: the
/// same scenario for runs of half of `opts.duration` each, the same table,
/// and the same HTML report, in a second or two. No dashboard (there is
/// nothing to watch) and no progress lines; `opts.dashboard` is unused.
///
/// # Errors
///
/// Writing the report.
pub fn run_virtual(opts: DemoOptions) -> std::io::Result<DemoReport> {
    let scenario = Scenario::for_run(opts.duration / 2);
    let (unprotected, protected) = simulated::runs(&scenario)?;
    let report = DemoReport {
        unprotected,
        protected,
        report_path: opts.report.clone(),
        scenario,
        dashboard_url: None,
        virtual_time: true,
    };
    write_report(&report, opts.quiet)?;
    Ok(report)
}

fn write_report(report: &DemoReport, quiet: bool) -> std::io::Result<()> {
    let path = &report.report_path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, report::html(report))?;
    if !quiet {
        println!("report: {}", path.display());
    }
    Ok(())
}
