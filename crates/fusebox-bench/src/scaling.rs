//! Scaling: 1 and 2 threads asking the same healthy breaker at once.
//!
//! The machine this suite was written on has 2 cores, so 2 threads is all
//! that can be measured honestly. The yardstick is a bare shared atomic load
//! measured in the same run: nothing that reads shared state scales better.
//! A breaker that writes a shared cache line on every ask (a counter, a
//! lock) makes the two cores fight over that line and scales far worse.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::harness::{median, Settings};
use crate::peers;

/// Runs `n` iterations on the calling thread.
type Batch = Arc<dyn Fn(u64) + Send + Sync>;

struct Runner {
    name: &'static str,
    call: &'static str,
    batch: Batch,
}

/// One contender's throughput at 1 and 2 threads.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scaled {
    /// Who.
    pub name: &'static str,
    /// What was called.
    pub call: &'static str,
    /// Median ns per call on one thread alone.
    pub one_thread_ns: f64,
    /// Median ns per call on each of two threads running at once.
    pub two_threads_ns: f64,
    /// Throughput with 2 threads / throughput with 1.
    pub scaling: f64,
}

fn runners() -> Vec<Runner> {
    let word = Arc::new(AtomicU64::new(0));
    let (fb, fuse) = peers::fusebox(false);
    let fuse = Arc::new((fb, fuse));
    let rc = Arc::new(peers::recloser(false));
    let fs = Arc::new(peers::failsafe(false, 5));
    vec![
        Runner {
            name: "bare atomic load",
            call: "AtomicU64::load(Acquire) of one shared word",
            batch: Arc::new(move |n| {
                for _ in 0..n {
                    // Ordering: Acquire, as the fuse's own load.
                    black_box(black_box(&*word).load(Ordering::Acquire));
                }
            }),
        },
        Runner {
            name: "fusebox",
            call: "Fuse::ask",
            batch: Arc::new(move |n| {
                for _ in 0..n {
                    let _ = black_box(black_box(&fuse.1).ask());
                }
            }),
        },
        Runner {
            name: "failsafe",
            call: "is_call_permitted",
            batch: Arc::new(move |n| {
                for _ in 0..n {
                    black_box(failsafe::CircuitBreaker::is_call_permitted(black_box(&*fs)));
                }
            }),
        },
        Runner {
            name: "recloser",
            call: "Recloser::call(Ok)",
            batch: Arc::new(move |n| {
                for _ in 0..n {
                    let _ = black_box(black_box(&*rc).call(|| peers::op(black_box(1))));
                }
            }),
        },
    ]
}

/// Wall time of `threads` threads each running `n` iterations together.
fn run_together(batch: &Batch, threads: usize, n: u64) -> Duration {
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (start, done, batch) = (&start, &done, batch.clone());
            s.spawn(move || {
                start.wait();
                batch(n);
                done.wait();
            });
        }
        start.wait();
        let t0 = Instant::now();
        done.wait();
        t0.elapsed()
    })
}

/// Measures every contender at 1 and 2 threads, alternating.
pub fn measure(settings: &Settings) -> Vec<Scaled> {
    let runners = runners();
    // Size batches on one thread so each sample takes about `sample_time`.
    let sizes: Vec<u64> = runners
        .iter()
        .map(|r| {
            let mut n = 1_000u64;
            loop {
                let took = run_together(&r.batch, 1, n);
                if took >= settings.sample_time || n >= 1 << 36 {
                    break n;
                }
                n *= 2;
            }
        })
        .collect();
    let k = runners.len();
    let mut one = vec![Vec::new(); k];
    let mut two = vec![Vec::new(); k];
    for round in 0..settings.rounds {
        for step in 0..k {
            let i = (round + step) % k;
            let n = sizes[i];
            let t1 = run_together(&runners[i].batch, 1, n);
            let t2 = run_together(&runners[i].batch, 2, n);
            one[i].push(t1.as_nanos() as f64 / n as f64);
            two[i].push(t2.as_nanos() as f64 / n as f64);
        }
    }
    runners
        .iter()
        .enumerate()
        .map(|(i, r)| {
            one[i].sort_by(f64::total_cmp);
            two[i].sort_by(f64::total_cmp);
            let (a, b) = (median(&one[i]), median(&two[i]));
            Scaled {
                name: r.name,
                call: r.call,
                one_thread_ns: a,
                two_threads_ns: b,
                // Two threads did 2n calls in the time one did n: 2a/b.
                scaling: 2.0 * a / b,
            }
        })
        .collect()
}
