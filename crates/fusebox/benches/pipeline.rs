//! What a pipeline costs on top of its layers, on a healthy dependency:
//! a call through fuse and valve by hand, the same through a pipeline
//! (blocking and async), and an async call with a hedge armed (one timer
//! allocated per call) and a per-attempt timeout.
//!
//! `cargo bench -p fusebox --bench pipeline`. The async calls are polled
//! once with a no-op waker: the call is ready at its first poll.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::pipeline::{Hedge, Pipeline};
use fusebox::{FuseConfig, Fusebox, ValveConfig};

fn main() {
    divan::main();
}

const HOUR: Duration = Duration::from_secs(3600);

fn fusebox() -> Fusebox {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(u32::MAX - 1, HOUR))
        .expect("valid config");
    fb.install_valve("db", ValveConfig::new().concurrency(64))
        .expect("valid config");
    fb
}

/// A pipeline of `fb`'s fuse and valve `db`, and nothing else.
fn fuse_and_valve(fb: &Fusebox) -> Pipeline {
    Pipeline::builder("db")
        .fuse(fb.fuse("db").unwrap())
        .valve(fb.valve("db").unwrap())
        .build()
        .unwrap()
}

fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("a healthy call is ready at once"),
    }
}

#[divan::bench]
fn by_hand(b: divan::Bencher) {
    let fb = fusebox();
    let (fuse, valve) = (fb.fuse("db").unwrap(), fb.valve("db").unwrap());
    b.bench_local(|| black_box(valve.run_blocking(|| fuse.run(|| Ok::<_, ()>(black_box(1))))));
}

#[divan::bench]
fn blocking(b: divan::Bencher) {
    let fb = fusebox();
    let p = fuse_and_valve(&fb);
    b.bench_local(|| black_box(p.call_blocking(|| Ok::<_, ()>(black_box(1)))));
}

#[divan::bench]
fn async_call(b: divan::Bencher) {
    let fb = fusebox();
    let p = fuse_and_valve(&fb);
    b.bench_local(|| black_box(ready(p.call(|| async { Ok::<_, ()>(black_box(1)) }))));
}

#[divan::bench]
fn async_hedged_with_timeout(b: divan::Bencher) {
    let fb = fusebox();
    let clock = fusebox::ManualClock::new();
    let p = Pipeline::builder("db")
        .clock(clock)
        .hedge(Hedge::after(Duration::from_millis(50)))
        .timeout(Duration::from_secs(1))
        .fuse(fb.fuse("db").unwrap())
        .valve(fb.valve("db").unwrap())
        .build()
        .unwrap();
    b.bench_local(|| black_box(ready(p.call(|| async { Ok::<_, ()>(black_box(1)) }))));
}
