//! Chaos (injected latency and errors, `fuse/chaos.rs`) on a manual clock:
//!
//! * C1 off by default: no draw, no wait, no injected error over many calls;
//! * C2 under a fixed seed the injections are exactly those the seeded
//!   stream gives (latency drawn first, then error), and over many
//!   unseeded calls the rate stays within a few standard deviations;
//! * C3 injected faults are counted apart from real outcomes, in the
//!   snapshot and in the catalog's samples;
//! * C4 a runtime change takes effect at the next call, by handle or name;
//!   an invalid one is refused and changes nothing;
//! * C5 an injected error is a failure for the fuse (it can blow it) but
//!   answers `Injected`, and the call is not made;
//! * C6 the async form waits the latency (on the manual clock) and injects
//!   errors the same way;
//! * C7 a pipeline through the fuse meets the same chaos, sync and async:
//!   the latency waited, an error answered `Reason::Injected` and retried
//!   as a failure, the call never made.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use fusebox::catalog::{self, Value};
use fusebox::fuse::{Chaos, FuseState};
use fusebox::rng::SplitMix64;
use fusebox::{Clock, FuseConfig, Fusebox, ManualClock, RunError};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn manual(seed: Option<u64>) -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let mut b = Fusebox::builder().clock(clock.clone());
    if let Some(s) = seed {
        b = b.seed(s);
    }
    (b.build(), clock)
}

/// A fuse that never blows in these tests' call counts.
fn lenient(fb: &Fusebox) -> fusebox::Fuse {
    fb.install("db", FuseConfig::standard(u32::MAX - 1, SEC))
        .unwrap();
    fb.fuse("db").unwrap()
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The draw rule of the engine, from the public stream: a draw of the top
/// 32 bits below `ceil(p · 2^32)`.
fn hit(g: &mut SplitMix64, p: f64) -> bool {
    let threshold = ((p * 4_294_967_296.0).ceil() as u64).min(1 << 32);
    (g.next_u64() >> 32) < threshold
}

#[test]
fn c1_off_by_default() {
    let (fb, clock) = manual(Some(3));
    let db = lenient(&fb);
    assert_eq!(db.chaos(), Chaos::new());
    let made = Cell::new(0u32);
    for _ in 0..10_000 {
        let out = db.run(|| {
            made.set(made.get() + 1);
            Ok::<_, ()>(())
        });
        assert_eq!(out, Ok(()));
        assert_eq!(block_on(db.call(async { Ok::<_, ()>(()) })), Ok(()));
    }
    assert_eq!(made.get(), 10_000);
    assert_eq!(clock.now(), Duration::ZERO, "no latency waited");
    let c = db.snapshot().unwrap().counters;
    assert_eq!((c.chaos_latency, c.chaos_errors, c.melts), (0, 0, 0));
    // A probability with a zero delay injects nothing either.
    db.set_chaos(Chaos::new().latency(1.0, Duration::ZERO))
        .unwrap();
    assert_eq!(db.run(|| Ok::<_, ()>(())), Ok(()));
    assert_eq!(db.snapshot().unwrap().counters.chaos_latency, 0);
}

#[test]
fn c2_exact_counts_under_a_fixed_seed() {
    const SEED: u64 = 0x5EED;
    const N: u64 = 5_000;
    let (fb, clock) = manual(Some(SEED));
    let db = lenient(&fb);
    db.set_chaos(Chaos::new().latency(0.3, 2 * MS).error(0.2))
        .unwrap();
    let mut g = SplitMix64::new(SEED);
    let (mut want_latency, mut want_errors) = (0u64, 0u64);
    let made = Cell::new(0u64);
    for i in 0..N {
        let late = hit(&mut g, 0.3);
        let err = hit(&mut g, 0.2);
        want_latency += u64::from(late);
        want_errors += u64::from(err);
        let before = clock.now();
        let out = db.run(|| {
            made.set(made.get() + 1);
            Ok::<_, ()>(i)
        });
        assert_eq!(
            out,
            if err { Err(RunError::Injected) } else { Ok(i) },
            "call {i}"
        );
        let waited = if late { 2 * MS } else { Duration::ZERO };
        assert_eq!(clock.now() - before, waited, "call {i}");
    }
    let c = db.snapshot().unwrap().counters;
    assert_eq!(
        (c.chaos_latency, c.chaos_errors),
        (want_latency, want_errors)
    );
    assert_eq!(
        made.get(),
        N - want_errors,
        "an injected error makes no call"
    );
    // The seed's stream is no degenerate one: both kinds happened, at
    // about their rates.
    assert!((1_300..1_700).contains(&want_latency), "{want_latency}");
    assert!((850..1_150).contains(&want_errors), "{want_errors}");
}

#[test]
fn c2_the_rate_holds_unseeded() {
    const N: u64 = 100_000;
    let (fb, _clock) = manual(None);
    let db = lenient(&fb);
    db.set_chaos(Chaos::new().error(0.25)).unwrap();
    let mut injected = 0u64;
    for _ in 0..N {
        if db.run(|| Ok::<_, ()>(())) == Err(RunError::Injected) {
            injected += 1;
        }
    }
    // Binomial(N, 0.25): sd = sqrt(N · 0.25 · 0.75) ≈ 137; 6 sd either side.
    let mean = N / 4;
    assert!(
        injected.abs_diff(mean) < 6 * 137,
        "{injected} injected of {N}, expected about {mean}"
    );
    assert_eq!(db.snapshot().unwrap().counters.chaos_errors, injected);
}

#[test]
fn c3_counted_apart_from_real_outcomes() {
    let (fb, clock) = manual(Some(11));
    let db = lenient(&fb);
    // Every call waits; every other call fails for real.
    db.set_chaos(Chaos::new().latency(1.0, 5 * MS)).unwrap();
    for i in 0..10 {
        let _ = db.run(|| if i % 2 == 0 { Err("down") } else { Ok(()) });
    }
    assert_eq!(clock.now(), 50 * MS);
    db.set_chaos(Chaos::new().error(1.0)).unwrap();
    for _ in 0..3 {
        assert_eq!(db.run(|| Ok::<_, &str>(())), Err(RunError::Injected));
    }
    let c = db.snapshot().unwrap().counters;
    assert_eq!(c.melts, 5 + 3, "real and injected failures both melt");
    assert_eq!(c.chaos_errors, 3);
    assert_eq!(c.melts - c.chaos_errors, 5, "the real failures");
    assert_eq!(c.successes, 5);
    assert_eq!(c.chaos_latency, 10);
    assert_eq!(c.injected, 0, "no fault-injection refusal");

    let snap = fb.snapshot();
    let chaos: Vec<_> = snap
        .samples()
        .into_iter()
        .filter(|s| s.metric.name == catalog::FUSE_CHAOS.name)
        .map(|s| (s.labels.clone(), s.value))
        .collect();
    assert_eq!(
        chaos,
        [
            (
                vec![("fuse", "db"), ("kind", "latency")],
                Value::Counter(10)
            ),
            (vec![("fuse", "db"), ("kind", "error")], Value::Counter(3)),
        ]
    );
}

#[test]
fn c4_runtime_reconfiguration() {
    let (fb, clock) = manual(Some(5));
    let db = lenient(&fb);
    assert_eq!(db.run(|| Ok::<_, ()>(1)), Ok(1));
    fb.set_chaos("db", Chaos::new().error(1.0)).unwrap();
    assert_eq!(db.chaos(), Chaos::new().error(1.0));
    assert_eq!(db.run(|| Ok::<_, ()>(1)), Err(RunError::Injected));
    fb.set_chaos("db", Chaos::new().latency(1.0, 3 * MS))
        .unwrap();
    assert_eq!(db.run(|| Ok::<_, ()>(1)), Ok(1));
    assert_eq!(clock.now(), 3 * MS);
    // Invalid: refused, the chaos in force unchanged.
    let e = db.set_chaos(Chaos::new().error(f64::NAN)).unwrap_err();
    assert!(e.to_string().contains("chaos.error_rate"), "{e}");
    assert!(fb.set_chaos("db", Chaos::new().latency(-0.1, MS)).is_err());
    assert!(fb.set_chaos("nope", Chaos::new()).is_err());
    assert_eq!(db.chaos(), Chaos::new().latency(1.0, 3 * MS));
    // A reinstall keeps it; turning it off ends it.
    fb.install("db", FuseConfig::standard(100, SEC)).unwrap();
    assert_eq!(db.chaos(), Chaos::new().latency(1.0, 3 * MS));
    db.set_chaos(Chaos::new()).unwrap();
    assert_eq!(db.run(|| Ok::<_, ()>(1)), Ok(1));
    assert_eq!(clock.now(), 3 * MS);
    assert_eq!(db.snapshot().unwrap().counters.chaos_latency, 1);
}

#[test]
fn c5_injected_errors_blow_the_fuse() {
    let (fb, _clock) = manual(Some(9));
    fb.install("db", FuseConfig::standard(2, 10 * SEC)).unwrap();
    let db = fb.fuse("db").unwrap();
    db.set_chaos(Chaos::new().error(1.0)).unwrap();
    let made = Cell::new(0);
    let call = || {
        db.run(|| {
            made.set(made.get() + 1);
            Ok::<_, ()>(())
        })
    };
    for _ in 0..3 {
        assert_eq!(call(), Err(RunError::Injected));
    }
    assert_eq!(call(), Err(RunError::Blown), "3 > 2 melts: blown");
    assert_eq!(made.get(), 0);
    let s = db.snapshot().unwrap();
    assert_eq!(s.state, FuseState::Blown);
    assert_eq!((s.counters.blows, s.counters.chaos_errors), (1, 3));
    // A blown fuse draws nothing: chaos acts on admitted calls only.
    assert_eq!(call(), Err(RunError::Blown));
    assert_eq!(db.snapshot().unwrap().counters.chaos_errors, 3);
}

#[test]
fn c6_async_calls_wait_and_fail_alike() {
    let (fb, clock) = manual(Some(13));
    fb.install("db", FuseConfig::standard(0, 10 * SEC)).unwrap();
    let db = fb.fuse("db").unwrap();
    db.set_chaos(Chaos::new().latency(1.0, 7 * MS)).unwrap();
    assert_eq!(block_on(db.call(async { Ok::<_, ()>(1) })), Ok(1));
    assert_eq!(clock.now(), 7 * MS);
    db.set_chaos(Chaos::new().error(1.0)).unwrap();
    let made = Cell::new(false);
    let out = block_on(db.call(async {
        made.set(true);
        Ok::<_, ()>(1)
    }));
    assert_eq!(out, Err(RunError::Injected));
    assert!(!made.get(), "the future is not polled");
    assert_eq!(db.snapshot().unwrap().state, FuseState::Blown);
    let c = db.snapshot().unwrap().counters;
    assert_eq!((c.chaos_latency, c.chaos_errors, c.melts), (1, 1, 1));
}

#[test]
fn c7_a_pipeline_meets_its_fuses_chaos() {
    use fusebox::pipeline::{Pipeline, Reason};
    use fusebox::retry::{Backoff, RetryPolicy, Stop};
    let (fb, clock) = manual(Some(7));
    let db = lenient(&fb);
    let p = Pipeline::builder("db")
        .fusebox(&fb)
        .retry(RetryPolicy::new(3).backoff(Backoff::constant(Duration::ZERO)))
        .fuse(db.clone())
        .build()
        .unwrap();
    // Every call fails by chaos: three attempts, none made, each a melt
    // counted as injected.
    db.set_chaos(Chaos::new().error(1.0)).unwrap();
    let made = Cell::new(0);
    let err = p
        .call_blocking(|| {
            made.set(made.get() + 1);
            Ok::<_, ()>(1)
        })
        .unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts(), err.stop()),
        (&Reason::Injected, 3, Stop::Exhausted)
    );
    let err = block_on(p.call(|| async {
        made.set(made.get() + 1);
        Ok::<_, ()>(1)
    }))
    .unwrap_err();
    assert_eq!(err.reason(), &Reason::Injected);
    assert_eq!(made.get(), 0, "an injected error replaces the call");
    let c = db.snapshot().unwrap().counters;
    assert_eq!((c.chaos_errors, c.melts), (6, 6));
    // Latency alone: the call is made, after the injected wait.
    db.set_chaos(Chaos::new().latency(1.0, 40 * MS)).unwrap();
    let t0 = clock.now();
    assert_eq!(p.call_blocking(|| Ok::<_, ()>(2)), Ok(2));
    assert_eq!(
        block_on(p.call(|| std::future::ready(Ok::<_, ()>(3)))),
        Ok(3)
    );
    assert_eq!(clock.now() - t0, 80 * MS);
    assert_eq!(db.snapshot().unwrap().counters.chaos_latency, 2);
}
