//! Micro-benchmarks of the fuse hot paths, with recloser and failsafe on the
//! comparable operations.
//!
//! `cargo bench -p fusebox --bench fuse`. The side-by-side suite with every
//! peer, alternating runs and ratios is `fusebox-bench` (see the README);
//! this file is the quick per-operation view divan gives.

use std::hint::black_box;
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox, Heal};

fn main() {
    divan::main();
}

const HOUR: Duration = Duration::from_secs(3600);

/// A fusebox with one healthy fuse `"db"` that never blows by accident.
fn healthy() -> (Fusebox, fusebox::Fuse) {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(u32::MAX - 1, HOUR))
        .expect("valid config");
    let fuse = fb.fuse("db").expect("installed");
    (fb, fuse)
}

/// A fusebox with one fuse `"db"` blown for an hour.
fn blown() -> (Fusebox, fusebox::Fuse) {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, HOUR).heal(Heal::reset(HOUR)))
        .expect("valid config");
    let fuse = fb.fuse("db").expect("installed");
    fuse.melt();
    assert!(!fuse.ask().is_ok());
    (fb, fuse)
}

mod ask_ok {
    use super::*;

    #[divan::bench]
    fn fusebox(b: divan::Bencher) {
        let (_fb, fuse) = healthy();
        b.bench_local(|| black_box(&fuse).ask());
    }

    #[divan::bench]
    fn failsafe(b: divan::Bencher) {
        let cb = failsafe::Config::new().build();
        b.bench_local(|| black_box(&cb).is_call_permitted());
    }
}

/// A fusebox with one throttling fuse `"db"` whose dependency always
/// answers: the reject probability stays 0, every ask takes the throttle's
/// lock.
mod ask_throttle {
    use super::*;

    #[divan::bench]
    fn fusebox_p0(b: divan::Bencher) {
        let fb = Fusebox::new();
        fb.install(
            "db",
            FuseConfig::new(fusebox::Strategy::throttle(2.0, HOUR)),
        )
        .expect("valid config");
        let fuse = fb.fuse("db").expect("installed");
        b.bench_local(|| black_box(&fuse).run(|| Ok::<_, ()>(())));
    }

    /// The dependency never answers: the probability is near 1, each ask
    /// draws, nearly all are refused.
    #[divan::bench]
    fn fusebox_refusing(b: divan::Bencher) {
        let fb = Fusebox::new();
        fb.install(
            "db",
            FuseConfig::new(fusebox::Strategy::throttle(2.0, HOUR)),
        )
        .expect("valid config");
        let fuse = fb.fuse("db").expect("installed");
        for _ in 0..1_000 {
            let _ = fuse.run(|| Err::<(), _>(()));
        }
        b.bench_local(|| black_box(&fuse).ask());
    }

    /// The same `run` on a standard fuse, for comparison.
    #[divan::bench]
    fn standard_run(b: divan::Bencher) {
        let (_fb, fuse) = healthy();
        b.bench_local(|| black_box(&fuse).run(|| Ok::<_, ()>(())));
    }
}

mod ask_blown {
    use super::*;

    #[divan::bench]
    fn fusebox(b: divan::Bencher) {
        let (_fb, fuse) = blown();
        b.bench_local(|| black_box(&fuse).ask());
    }

    #[divan::bench]
    fn failsafe(b: divan::Bencher) {
        use failsafe::{backoff, failure_policy, CircuitBreaker};
        let cb = failsafe::Config::new()
            .failure_policy(failure_policy::consecutive_failures(
                1,
                backoff::constant(HOUR),
            ))
            .build();
        let _ = cb.call(|| Err::<(), ()>(()));
        assert!(!cb.is_call_permitted());
        b.bench_local(|| black_box(&cb).is_call_permitted());
    }

    #[divan::bench]
    fn recloser(b: divan::Bencher) {
        let r = recloser::Recloser::custom()
            .closed_len(1)
            .open_wait(HOUR)
            .build();
        let _ = r.call(|| Err::<(), ()>(()));
        let _ = r.call(|| Err::<(), ()>(()));
        assert!(matches!(
            r.call(|| Ok::<(), ()>(())),
            Err(recloser::Error::Rejected)
        ));
        b.bench_local(|| black_box(&r).call(|| Ok::<(), ()>(())));
    }
}

mod run_ok {
    use super::*;

    #[divan::bench]
    fn bare_closure(b: divan::Bencher) {
        b.bench_local(|| black_box(|| Ok::<u64, ()>(1))());
    }

    #[divan::bench]
    fn fusebox(b: divan::Bencher) {
        let (_fb, fuse) = healthy();
        b.bench_local(|| black_box(&fuse).run(|| Ok::<u64, ()>(1)));
    }

    #[divan::bench]
    fn recloser(b: divan::Bencher) {
        let r = recloser::Recloser::default();
        b.bench_local(|| black_box(&r).call(|| Ok::<u64, ()>(1)));
    }

    #[divan::bench]
    fn failsafe(b: divan::Bencher) {
        use failsafe::CircuitBreaker;
        let cb = failsafe::Config::new().build();
        b.bench_local(|| black_box(&cb).call(|| Ok::<u64, ()>(1)));
    }
}

/// One melt into a window holding `n` melts: `standard(n, 1 h)` melted
/// `n + 1` times is blown and keeps exactly `n + 1` timestamps, so every
/// further melt pushes one and drops one (the steady state of a busy window).
mod melt {
    use super::*;

    #[divan::bench(args = [100, 100_000])]
    fn fusebox(b: divan::Bencher, n: u32) {
        let fb = Fusebox::new();
        fb.install("db", FuseConfig::standard(n, HOUR).heal(Heal::reset(HOUR)))
            .expect("valid config");
        let fuse = fb.fuse("db").expect("installed");
        for _ in 0..=n {
            fuse.melt();
        }
        b.bench_local(|| black_box(&fuse).melt());
    }
}

/// `Fusebox::ask(name)` with `n` fuses installed.
mod ask_by_name {
    use super::*;

    #[divan::bench(args = [10, 1_000, 100_000])]
    fn fusebox(b: divan::Bencher, n: usize) {
        let fb = Fusebox::new();
        let names: Vec<String> = (0..n).map(|i| format!("fuse-{i}")).collect();
        for name in &names {
            fb.install(name, FuseConfig::standard(5, HOUR))
                .expect("valid config");
        }
        let probe = &names[n / 2];
        b.bench_local(|| black_box(&fb).ask(black_box(probe)));
    }
}
