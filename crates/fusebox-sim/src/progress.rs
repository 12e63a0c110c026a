//! How far a simulation has come, told while it runs.
//!
//! A night takes seconds, but a week at a thousand requests a second takes
//! minutes, and a silent terminal for minutes looks like a hang. So the
//! event loop reports, every [`EVERY`] events, how much virtual time it has
//! covered and how many requests it has simulated, beside the estimate made
//! before it started ([`estimate`](crate::estimate)); the caller decides what
//! to do with it (the command line draws a progress line on a terminal).
//! Reporting is a counter test in the loop: it changes no draw and no event,
//! so a run with an observer is the run without one.

use std::time::Duration;

/// Events the loop handles between two reports.
pub(crate) const EVERY: u64 = 1 << 16;

/// One report of a running simulation (see
/// [`simulate_observed`](crate::simulate_observed)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// The configuration being run (`none` first).
    pub config: &'a str,
    /// Its place among the runs, from 0.
    pub run: usize,
    /// How many runs there are.
    pub runs: usize,
    /// The virtual time reached (past `duration` while the last timeouts
    /// fire).
    pub simulated: Duration,
    /// The scenario's duration.
    pub duration: Duration,
    /// Requests simulated so far in this run (attempts, retries included).
    pub requests: u64,
    /// The client requests the run was estimated to simulate.
    pub estimated: u64,
}

impl Progress<'_> {
    /// The share of all the runs done, from 0 to 1, by virtual time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn show(p: &fusebox_sim::Progress<'_>) {
    /// eprint!("\r{:.0} %", p.done() * 100.0);
    /// # }
    /// ```
    pub fn done(&self) -> f64 {
        let this = if self.duration.is_zero() {
            1.0
        } else {
            (self.simulated.as_secs_f64() / self.duration.as_secs_f64()).min(1.0)
        };
        ((self.run as f64 + this) / self.runs.max(1) as f64).min(1.0)
    }
}
