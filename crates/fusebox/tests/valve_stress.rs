//! The contract's "nothing leaks" (`fusebox::_contract`, section 3) under
//! real concurrency: many tasks against one valve on the real clock, with
//! random cancellations (a timeout around `acquire`, which drops the waiting
//! future) and random panics inside running tasks. At the end no slot and no
//! waiter is left, running tasks never exceeded the limit, and every task is
//! accounted for exactly once: admitted, refused with a reason, or cancelled;
//! the valve's own counters agree with ours.

#[path = "support/watchdog.rs"]
mod watchdog;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use fusebox::{Fusebox, Refused, Valve, ValveConfig};

const REASONS: [Refused; 6] = [
    Refused::QueueFull,
    Refused::Overload,
    Refused::Timeout,
    Refused::Blown,
    Refused::Busy,
    Refused::Removed,
];

/// Our side of the accounting.
#[derive(Default)]
struct Tally {
    admitted: AtomicU64,
    cancelled: AtomicU64,
    refused: [AtomicU64; 6],
    panicked: AtomicU64,
    too_many: AtomicU64,
}

impl Tally {
    fn refuse(&self, r: Refused) {
        let i = REASONS.iter().position(|&x| x == r).expect("a reason");
        self.refused[i].fetch_add(1, SeqCst);
    }

    fn refused(&self, r: Refused) -> u64 {
        self.refused[REASONS.iter().position(|&x| x == r).expect("a reason")].load(SeqCst)
    }

    fn refused_total(&self) -> u64 {
        self.refused.iter().map(|c| c.load(SeqCst)).sum()
    }

    /// A task started: check the limit from inside.
    fn start(&self, v: &Valve, limit: usize) {
        self.admitted.fetch_add(1, SeqCst);
        if v.in_flight() > limit {
            self.too_many.fetch_add(1, SeqCst);
        }
    }

    /// Compares with the valve and checks nothing leaked.
    fn check(&self, v: &Valve, total: u64) {
        let s = v.snapshot();
        eprintln!(
            "admitted {} cancelled {} panicked {} refused {:?}",
            self.admitted.load(SeqCst),
            self.cancelled.load(SeqCst),
            self.panicked.load(SeqCst),
            s.refused
        );
        assert_eq!(v.in_flight(), 0, "slots leaked");
        assert_eq!(v.queued(), 0, "waiters leaked");
        assert_eq!(self.too_many.load(SeqCst), 0, "more than the limit ran");
        assert_eq!(s.admitted, self.admitted.load(SeqCst), "admitted");
        for r in REASONS {
            assert_eq!(s.refused.get(r), self.refused(r), "refused {r:?}");
        }
        assert_eq!(
            self.admitted.load(SeqCst) + self.refused_total() + self.cancelled.load(SeqCst),
            total,
            "every task accounted for exactly once"
        );
    }
}

/// The `x`-th draw of a fixed stream (the project's SplitMix64).
fn mix(x: u64) -> u64 {
    fusebox::rng::SplitMix64::new(x).next_u64()
}

/// The panics of this test are expected; keep them off the output.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|s| *s == "a panicking task");
            if !expected {
                default(info);
            }
        }));
    });
}

const CONCURRENCY: usize = 8;

#[test]
fn async_tasks_with_cancellations_and_panics_leak_nothing() {
    let _watch = watchdog::watchdog(
        "valve_stress::async_tasks_with_cancellations_and_panics_leak_nothing",
        std::time::Duration::from_secs(60),
    );
    quiet_panics();
    const TASKS: u64 = 100_000;
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let fb = Fusebox::new();
    fb.install_valve(
        "api",
        ValveConfig::new()
            .concurrency(CONCURRENCY)
            .queue(256)
            .max_wait(Duration::from_millis(50))
            .fifo(),
    )
    .unwrap();
    let valve = fb.valve("api").unwrap();
    let tally = Arc::new(Tally::default());
    rt.block_on(async {
        let mut handles = Vec::with_capacity(TASKS as usize);
        for i in 0..TASKS {
            let v = valve.clone();
            let t = tally.clone();
            let r = mix(i);
            handles.push(tokio::spawn(async move {
                // What the task does once it runs.
                let hold = match r % 1000 {
                    // Now and then a burst of slow tasks that outlast
                    // max_wait, so that waiters behind them time out.
                    _ if i % 5_000 < 8 => Duration::from_millis(80),
                    5..=60 => Duration::from_micros(200),
                    _ => Duration::ZERO,
                };
                let panics = (r >> 10) % 100 < 5;
                let work = |t: Arc<Tally>, v: Valve| async move {
                    t.start(&v, CONCURRENCY);
                    if hold.is_zero() {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(hold).await;
                    }
                    if panics {
                        t.panicked.fetch_add(1, SeqCst);
                        panic!("a panicking task");
                    }
                };
                match (r >> 20) % 100 {
                    // Cancelled if it waits too long: the timeout drops
                    // the acquire future.
                    0..=19 => {
                        let patience = Duration::from_micros((r >> 30) % 3_000);
                        match tokio::time::timeout(patience, v.acquire()).await {
                            Ok(Ok(permit)) => {
                                work(t.clone(), v.clone()).await;
                                drop(permit);
                            }
                            Ok(Err(reason)) => t.refuse(reason),
                            Err(_) => {
                                t.cancelled.fetch_add(1, SeqCst);
                            }
                        }
                    }
                    // Never waits.
                    20..=29 => match v.try_acquire() {
                        Ok(permit) => {
                            work(t.clone(), v.clone()).await;
                            drop(permit);
                        }
                        Err(reason) => t.refuse(reason),
                    },
                    // acquire, run, release (also when the task panics).
                    _ => {
                        if let Err(reason) = v.run(work(t.clone(), v.clone())).await {
                            t.refuse(reason);
                        }
                    }
                }
            }));
            // Let the workers keep up now and then, so that the queue
            // fills and drains instead of staying full.
            if i % 128 == 127 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let mut panics = 0;
        for h in handles {
            if let Err(e) = h.await {
                assert!(e.is_panic(), "{e}");
                panics += 1;
            }
        }
        assert_eq!(panics, tally.panicked.load(SeqCst));
    });
    drop(rt);
    tally.check(&valve, TASKS);
    assert!(tally.cancelled.load(SeqCst) > 0, "no cancellation happened");
    assert!(tally.panicked.load(SeqCst) > 0);
    assert!(tally.refused(Refused::Busy) > 0);
    assert!(tally.refused(Refused::QueueFull) > 0);
    assert!(tally.refused(Refused::Timeout) > 0);
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn blocking_threads_with_panics_leak_nothing() {
    let _watch = watchdog::watchdog(
        "valve_stress::blocking_threads_with_panics_leak_nothing",
        std::time::Duration::from_secs(60),
    );
    quiet_panics();
    const THREADS: u64 = 8;
    const CALLS: u64 = 2_000;
    let started = Instant::now();
    let fb = Fusebox::new();
    let limit = 3;
    fb.install_valve(
        "db",
        ValveConfig::new()
            .concurrency(limit)
            .queue(4)
            .max_wait(Duration::from_millis(2)),
    )
    .unwrap();
    let valve = fb.valve("db").unwrap();
    let tally = Arc::new(Tally::default());
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let v = valve.clone();
            let t = tally.clone();
            s.spawn(move || {
                for i in 0..CALLS {
                    let r = mix(th * 1_000_003 + i);
                    let spin = match r % 100 {
                        0..=2 => Duration::from_millis(3), // outlasts max_wait
                        3..=30 => Duration::from_micros(50),
                        _ => Duration::ZERO,
                    };
                    let panics = (r >> 8) % 100 < 5;
                    let body = || {
                        t.start(&v, limit);
                        if spin.is_zero() {
                            std::thread::yield_now();
                        } else {
                            std::thread::sleep(spin);
                        }
                        if panics {
                            t.panicked.fetch_add(1, SeqCst);
                            panic!("a panicking task");
                        }
                    };
                    let out = if (r >> 16) % 10 == 0 {
                        // Never waits.
                        match v.try_acquire() {
                            Ok(permit) => {
                                let caught = std::panic::catch_unwind(AssertUnwindSafe(body));
                                drop(permit);
                                caught.map(Ok)
                            }
                            Err(reason) => Ok(Err(reason)),
                        }
                    } else {
                        std::panic::catch_unwind(AssertUnwindSafe(|| v.run_blocking(body)))
                    };
                    match out {
                        Ok(Ok(())) | Err(_) => {}
                        Ok(Err(reason)) => t.refuse(reason),
                    }
                }
            });
        }
    });
    tally.check(&valve, THREADS * CALLS);
    assert!(tally.refused(Refused::QueueFull) > 0);
    assert!(tally.panicked.load(SeqCst) > 0);
    eprintln!("took {:?}", started.elapsed());
}
