//! A fuse protecting a flaky dependency, on the real clock, in about 5 s.
//!
//! `cargo run -p fusebox --example flaky`
//!
//! A simulated database answers in 2 ms when up and times out after 50 ms
//! when down. It is up for 1 s, down for 2 s, then up again. A client calls
//! it every 10 ms through a fuse (`standard(3, 1 s)`, heal after 500 ms) and
//! the program prints what every call cost, the fuse's events, and a summary:
//! how many calls reached a dead database, and how many the fuse refused in
//! microseconds instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusebox::{event::EventKind, FuseConfig, Fusebox, Heal, RunError};

/// The dependency: up, then down between `down_from` and `down_until`.
struct FlakyDb {
    start: Instant,
    down_from: Duration,
    down_until: Duration,
}

impl FlakyDb {
    fn is_down(&self) -> bool {
        let t = self.start.elapsed();
        t >= self.down_from && t < self.down_until
    }

    /// A query: 2 ms when up; a 50 ms timeout when down.
    fn query(&self) -> Result<u32, &'static str> {
        if self.is_down() {
            std::thread::sleep(Duration::from_millis(50));
            Err("timeout")
        } else {
            std::thread::sleep(Duration::from_millis(2));
            Ok(42)
        }
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    wasted: AtomicU64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fb = Fusebox::new();
    fb.install(
        "db",
        FuseConfig::standard(3, Duration::from_secs(1))
            .heal(Heal::reset(Duration::from_millis(500))),
    )?;
    let db_fuse = fb.fuse("db").expect("just installed");

    let start = Instant::now();
    let db = FlakyDb {
        start,
        down_from: Duration::from_secs(1),
        down_until: Duration::from_secs(3),
    };

    // Print every state change as it happens, from the subscriber's thread.
    let _events = fb.subscribe_fn(move |event| {
        if let Ok(e) = event {
            if let EventKind::Transition { from, to, cause } = e.kind {
                let show = |s: Option<fusebox::fuse::FuseState>| s.map_or("-", |s| s.as_str());
                println!(
                    "{:>7.3}s  event   fuse {:?}: {} -> {} ({cause})",
                    start.elapsed().as_secs_f64(),
                    &*e.name,
                    show(from),
                    show(to),
                );
            }
        }
    })?;

    println!("database up 0-1 s, down 1-3 s, up again after; one call every 10 ms\n");
    let tally = Arc::new(Tally::default());
    let mut next_report = Duration::from_millis(500);
    while start.elapsed() < Duration::from_secs(5) {
        let t0 = Instant::now();
        let outcome = db_fuse.run(|| db.query());
        let took = t0.elapsed();
        match outcome {
            Ok(_) => tally.ok.fetch_add(1, Ordering::Relaxed),
            Err(RunError::Failed(_)) => {
                // The call went through and the database was dead: wasted.
                tally.wasted.fetch_add(1, Ordering::Relaxed);
                tally.failed.fetch_add(1, Ordering::Relaxed)
            }
            Err(_) => tally.refused.fetch_add(1, Ordering::Relaxed),
        };
        if start.elapsed() >= next_report {
            println!(
                "{:>7.3}s  calls   ok {:>4}  failed {:>3}  refused {:>4}  (db {}; last call {:?})",
                start.elapsed().as_secs_f64(),
                tally.ok.load(Ordering::Relaxed),
                tally.failed.load(Ordering::Relaxed),
                tally.refused.load(Ordering::Relaxed),
                if db.is_down() { "down" } else { "up" },
                took,
            );
            next_report += Duration::from_millis(500);
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let snap = db_fuse.snapshot().expect("not removed");
    println!(
        "\nsummary: {} calls ok, {} reached the dead database, {} refused at once by the fuse",
        tally.ok.load(Ordering::Relaxed),
        tally.wasted.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
    );
    println!(
        "fuse counters: {} asks ok, {} refused, {} melts; state now {}",
        snap.counters.asks_ok,
        snap.counters.asks_blown,
        snap.counters.melts,
        snap.state.as_str(),
    );
    println!(
        "without the fuse every call in the 2 s outage would have waited 50 ms for a timeout."
    );
    Ok(())
}
