//! One run: the open-loop load generator, the service (unprotected or
//! protected) and the progress lines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fusebox::{Fuse, Fusebox, Outcome, RunError, Valve};
use tokio::time::{Instant, MissedTickBehavior};

use crate::database::{Database, DbError};
use crate::protection::DB;
use crate::scenario::Scenario;
use crate::summary::{self, Counts, RunSummary, Sample};

/// How the service calls the database.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// Straight to the database, with a client-side timeout.
    Unprotected,
    /// Through the fuse, then the valve, with the same timeout.
    Protected { fuse: Fuse, valve: Valve },
}

impl Mode {
    fn label(&self) -> &'static str {
        match self {
            Mode::Unprotected => "unprotected",
            Mode::Protected { .. } => "protected",
        }
    }
}

/// Installs the fuse and the valve of the protected run.
pub(crate) fn install(fb: &Fusebox, s: &Scenario) -> std::io::Result<Mode> {
    fb.load_config(&crate::protection::config(s)?)
        .map_err(std::io::Error::other)?;
    let fuse = fb
        .fuse(DB)
        .ok_or_else(|| std::io::Error::other("fuse missing"))?;
    let valve = fb
        .valve(DB)
        .ok_or_else(|| std::io::Error::other("valve missing"))?;
    Ok(Mode::Protected { fuse, valve })
}

#[derive(Debug, Default)]
struct Record {
    samples: Vec<Sample>,
    counts: Counts,
}

/// Why a protected call did not succeed.
#[derive(Debug)]
enum Fail {
    /// The valve refused: the database was not called.
    Refused,
    /// The database answered with an error.
    Db,
    /// No answer within the client-side timeout.
    Timeout,
}

/// What the fuse hears of a protected call: a success, a failure of the
/// database (an error or no answer in time), or nothing (the valve refused,
/// the database was not called).
fn classify(out: &Result<(), Fail>) -> Outcome {
    match out {
        Ok(()) => Outcome::Success,
        Err(Fail::Db | Fail::Timeout) => Outcome::Failure,
        Err(Fail::Refused) => Outcome::Ignored,
    }
}

/// Runs one half of the demo and summarizes it.
pub(crate) async fn run(s: &Scenario, mode: Mode, fb: &Fusebox, quiet: bool) -> RunSummary {
    let start = Instant::now();
    let db = Database::new(s.clone(), start);
    let record = Arc::new(Mutex::new(Record::default()));
    let progress = (!quiet).then(|| {
        tokio::spawn(progress(
            s.clone(),
            mode.label(),
            start,
            record.clone(),
            fb.clone(),
            matches!(mode, Mode::Protected { .. }),
            db.clone(),
        ))
    });

    let period = Duration::from_secs(1) / s.rate;
    let mut tick = tokio::time::interval_at(start, period);
    // Open loop: a late tick fires at once, so the offered rate holds even
    // when the service is slow.
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity((s.rate as f64 * s.run.as_secs_f64()) as usize + 1);
    loop {
        let now = tick.tick().await;
        let at = now - start;
        if at >= s.run {
            break;
        }
        let (s, mode, db, record) = (s.clone(), mode.clone(), db.clone(), record.clone());
        tasks.push(tokio::spawn(async move {
            request(&s, &mode, &db, &record, at).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    if let Some(p) = progress {
        p.abort();
    }
    let record = std::mem::take(&mut *record.lock().unwrap_or_else(|e| e.into_inner()));
    let mut samples = record.samples;
    samples.sort_by_key(|x| x.at);
    summary::summarize(mode.label(), s, &samples, record.counts)
}

/// One request to the service, arriving at `at` from the start of the run.
async fn request(s: &Scenario, mode: &Mode, db: &Database, record: &Mutex<Record>, at: Duration) {
    let begin = Instant::now();
    let episode = s.in_episode(at);
    let (ok, called, wasted, refused, timeout) = match mode {
        Mode::Unprotected => match tokio::time::timeout(s.timeout, db.query()).await {
            Ok(Ok(())) => (true, true, false, false, false),
            Ok(Err(DbError)) => (false, true, episode, false, false),
            Err(_) => (false, true, episode, false, true),
        },
        Mode::Protected { fuse, valve } => {
            let called = AtomicBool::new(false);
            let attempt = async {
                let permit = valve.acquire().await.map_err(|_| Fail::Refused)?;
                called.store(true, Ordering::Relaxed);
                let out = db.query().await.map_err(|DbError| Fail::Db);
                drop(permit);
                out
            };
            // As `Fuse::call_timeout`, but a refusal by the valve is counted
            // nowhere: the database was not called, so the throttle, which
            // admits in proportion to what the database accepts, hears
            // nothing of it (as in the simulator, where a regulator's refusal
            // is reported `Ignored`). Counted as a failure, every refusal
            // the valve makes in the slow episode would push the throttle's
            // reject probability up, and hold it up after the episode ends.
            let out = fuse
                .call_classified(
                    async {
                        tokio::time::timeout(s.timeout, attempt)
                            .await
                            .unwrap_or(Err(Fail::Timeout))
                    },
                    classify,
                )
                .await;
            let called = called.load(Ordering::Relaxed);
            match out {
                Ok(()) => (true, called, false, false, false),
                Err(RunError::Failed(Fail::Timeout)) => {
                    (false, called, episode && called, false, true)
                }
                Err(RunError::Failed(Fail::Db)) => (false, called, episode, false, false),
                Err(_) => (false, called, false, true, false),
            }
        }
    };
    let latency = begin.elapsed();
    let mut r = record.lock().unwrap_or_else(|e| e.into_inner());
    r.samples.push(Sample {
        at,
        latency,
        ok,
        wasted,
    });
    r.counts.db_calls += u64::from(called);
    r.counts.wasted_calls += u64::from(wasted);
    r.counts.refused += u64::from(refused);
    r.counts.timeouts += u64::from(timeout);
}

/// Prints one line a second: phase, requests completed and errors in that
/// second, p99 so far, fuse state.
async fn progress(
    s: Scenario,
    label: &'static str,
    start: Instant,
    record: Arc<Mutex<Record>>,
    fb: Fusebox,
    protected: bool,
    db: Database,
) {
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = 0;
    loop {
        let now = tick.tick().await;
        let at = now - start;
        let (done, errors, p99) = {
            let r = record.lock().unwrap_or_else(|e| e.into_inner());
            let new = &r.samples[seen.min(r.samples.len())..];
            let errors = new.iter().filter(|x| !x.ok).count();
            let done = new.len();
            seen = r.samples.len();
            let mut lat: Vec<Duration> = r.samples.iter().map(|x| x.latency).collect();
            lat.sort_unstable();
            (done, errors, summary::quantile(&lat, 0.99))
        };
        let fuse = if protected {
            fb.state(DB)
                .map(|f| f.state.as_str().to_string())
                .unwrap_or_else(|_| "-".into())
        } else {
            format!("- (db queue {})", db.waiting())
        };
        let pct = if done == 0 {
            0.0
        } else {
            100.0 * errors as f64 / done as f64
        };
        println!(
            "{label:<11} t={:>5.1}s  phase={:<9}  rps={done:>4}  errors={errors:>4} ({pct:>3.0}%)  p99 so far={:>7}  fuse={fuse}",
            at.as_secs_f64(),
            // The phase in the middle of the second the counts cover.
            s.phase(at.saturating_sub(Duration::from_millis(500)).min(s.run)).as_str(),
            fusebox::duration::human(p99),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuse hears what the simulator's fuse hears: the database's
    /// answers, never the valve's refusals.
    #[test]
    fn a_refusal_by_the_valve_is_not_the_databases_answer() {
        assert_eq!(classify(&Ok(())), Outcome::Success);
        assert_eq!(classify(&Err(Fail::Db)), Outcome::Failure);
        assert_eq!(classify(&Err(Fail::Timeout)), Outcome::Failure);
        assert_eq!(classify(&Err(Fail::Refused)), Outcome::Ignored);
    }
}
