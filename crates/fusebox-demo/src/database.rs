//! The simulated database: a fixed number of connections, a FIFO queue in
//! front of them, and a latency that follows the episode script.
//!
//! Three properties of real databases matter for the story and are modelled:
//!
//! * **Limited capacity.** At most `capacity` queries run at once; the others
//!   wait in a first-in, first-out queue (the server's backlog).
//! * **Abandoned work still runs.** A client that gives up (its timeout fired)
//!   does not take its query back: the server runs it when its turn comes,
//!   as PostgreSQL does until it next writes to the dead socket. Each query is
//!   therefore a task of its own that outlives its caller.
//! * **A pile-up makes it worse.** With many queries waiting, each one costs
//!   more (context switches, lock contention, memory pressure: the reason
//!   PostgreSQL is run behind a pooler). The healthy part of a query's cost is
//!   multiplied by `1 + waiting / thrash_backlog`, drawn when the query starts
//!   running.
//!
//! The phase, and so the cost, is decided when a query gets a connection, from
//! the time since the start of the run.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fusebox::rng::SplitMix64;
use tokio::sync::{oneshot, Semaphore};
use tokio::time::Instant;

use fusebox_sim::scenario::ErrorPattern;

use crate::scenario::{Phase, Scenario};

/// The error a query answers with during the error episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbError;

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("database error")
    }
}

impl std::error::Error for DbError {}

/// A handle to the simulated database of one run.
#[derive(Clone, Debug)]
pub(crate) struct Database {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    scenario: Scenario,
    start: Instant,
    connections: Arc<Semaphore>,
    waiting: AtomicUsize,
    draws: AtomicU64,
}

impl Database {
    /// A database whose script starts at `start`.
    pub(crate) fn new(scenario: Scenario, start: Instant) -> Database {
        let connections = Arc::new(Semaphore::new(scenario.capacity));
        Database {
            inner: Arc::new(Inner {
                scenario,
                start,
                connections,
                waiting: AtomicUsize::new(0),
                draws: AtomicU64::new(0),
            }),
        }
    }

    /// Sends a query. The query runs on the server whether or not the caller
    /// still waits for the answer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the answer, not the query.
    pub(crate) async fn query(&self) -> Result<(), DbError> {
        let (tx, rx) = oneshot::channel();
        let inner = self.inner.clone();
        inner.waiting.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let permit = inner.connections.clone().acquire_owned().await;
            let waiting = inner.waiting.fetch_sub(1, Ordering::Relaxed) - 1;
            let (cost, out) = inner.draw(waiting);
            tokio::time::sleep(cost).await;
            drop(permit);
            let _ = tx.send(out);
        });
        rx.await.unwrap_or(Err(DbError))
    }

    /// Queries waiting for a connection now.
    pub(crate) fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// The cost and answer of a query that starts running now.
    fn draw(&self, waiting: usize) -> (Duration, Result<(), DbError>) {
        let s = &self.scenario;
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut rng = SplitMix64::new(s.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // Healthy cost: 2 ms plus an exponential tail of mean 3 ms (cut at 15 ms).
        let tail = (-(1.0 - rng.unit()).ln()).min(5.0);
        let healthy = Duration::from_micros(2000 + (tail * 3000.0) as u64);
        let thrash = 1.0 + waiting as f64 / s.thrash_backlog;
        let healthy = healthy.mul_f64(thrash);
        match s.phase(self.start.elapsed()) {
            Phase::Healthy | Phase::Recovered => (healthy, Ok(())),
            Phase::Errors => {
                // Exactly the share `error_share` of the queries, evenly: the
                // count of successes measures the protection, not the dice.
                if ErrorPattern::Even.fails(s.error_share, n + 1, || rng.unit()) {
                    (Duration::from_millis(1).mul_f64(thrash), Err(DbError))
                } else {
                    (healthy, Ok(()))
                }
            }
            Phase::Slow => {
                let jitter = 0.9 + 0.2 * rng.unit();
                (s.slow_latency.mul_f64(jitter) + healthy, Ok(()))
            }
        }
    }
}
