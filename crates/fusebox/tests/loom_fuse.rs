//! Loom explores every interleaving of the fuse engine's lock and state word
//! (the `crate::sync` shim swaps in loom's types under `--cfg loom`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p fusebox --test loom_fuse`
//!
//! The property every test ends with: once the threads are done, the word
//! the hot path reads agrees with the state behind the lock (`ask` answers
//! what `state` reports), and the events tell the same story.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;

use fusebox::{
    event::{Cause, EventKind},
    fuse::FuseState,
    Ask, FuseConfig, Fusebox, Heal, ManualClock, Outcome, Step,
};
use loom::thread;

fn fusebox() -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(Duration::from_secs(1_000_000))
        .build();
    (fb, clock)
}

fn cfg(max: u32) -> FuseConfig {
    FuseConfig::standard(max, Duration::from_secs(10)).heal(Heal::reset(Duration::from_secs(5)))
}

/// The word (read by ask) and the slow state (read by state) agree.
fn agree(fb: &Fusebox, name: &str) {
    let state = fb.state(name).unwrap().state;
    let ask = fb.ask(name).unwrap();
    assert_eq!(
        ask == Ask::Ok,
        state == FuseState::Ok,
        "ask {ask:?} vs state {state:?}"
    );
}

/// Runs `f` under loom (preemption bound `bound`, if any) and checks loom
/// explored more than one interleaving, or the test tested nothing.
fn explore(name: &str, bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let mut model = loom::model::Builder::new();
    model.preemption_bound = bound;
    model.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(runs > 1, "loom explored {runs} interleaving(s)");
    eprintln!("{name}: {runs} interleavings");
}

/// Two threads ask at once; both must be let through.
fn two_asks_admitted(db: &fusebox::Fuse) {
    let (d1, d2) = (db.clone(), db.clone());
    let t1 = thread::spawn(move || d1.ask());
    let t2 = thread::spawn(move || d2.ask());
    assert_eq!(t1.join().unwrap(), Ask::Ok);
    assert_eq!(t2.join().unwrap(), Ask::Ok);
}

/// Blows on its first melt; heals by `[delay 5 s, gradual, delay 5 s]`, the
/// gradual step admitting next to nothing (so an ask that takes its word for
/// current is refused).
fn gradual_program() -> FuseConfig {
    let program = Heal::program([
        Step::Delay(Duration::from_secs(5)),
        Step::Gradual(1e-9),
        Step::Delay(Duration::from_secs(5)),
    ]);
    FuseConfig::standard(0, Duration::from_secs(10)).heal(program)
}

fn causes(events: &fusebox::event::Subscription) -> Vec<Cause> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let EventKind::Transition { cause, .. } = e.kind {
            out.push(cause);
        }
    }
    out
}

#[test]
fn melt_blows_once_and_asks_see_it() {
    loom::model(|| {
        let (fb, _clock) = fusebox();
        fb.install("db", cfg(1)).unwrap();
        let events = fb.subscribe();
        let db = fb.fuse("db").unwrap();
        let (d1, d2) = (db.clone(), db.clone());
        let t1 = thread::spawn(move || d1.melt());
        let t2 = thread::spawn(move || {
            d2.melt();
            d2.ask()
        });
        t1.join().unwrap();
        let _ = t2.join().unwrap();
        // Both melts happened before this ask: the fuse must be blown.
        assert_eq!(db.ask(), Ask::Blown);
        agree(&fb, "db");
        assert_eq!(causes(&events), vec![Cause::Melt]);
    });
}

#[test]
fn late_timer_heals_exactly_once() {
    explore("late_timer_heals_exactly_once", None, || {
        let (fb, clock) = fusebox();
        fb.install("db", cfg(0)).unwrap();
        let db = fb.fuse("db").unwrap();
        db.melt();
        let events = fb.subscribe();
        clock.advance_quietly(Duration::from_secs(5)); // deadline passed, timer silent
        two_asks_admitted(&db);
        clock.run_due(); // the late timer finally fires: a stale no-op
        agree(&fb, "db");
        assert_eq!(causes(&events), vec![Cause::Heal]);
    });
}

/// A heal program `[delay, gradual, delay]` whose deadlines have all passed
/// while the timer was silent: two asks race to apply them. The gradual step
/// admits next to nothing, so an ask that took its word for current — that
/// read the gradual word before the end of its delay (`step_until`) was
/// published with it — would refuse a fuse that is healed by the clock.
/// Both must answer ok, the heal happens once, and the late timer is a no-op.
#[test]
fn late_gradual_program_heals_exactly_once() {
    explore("late_gradual_program_heals_exactly_once", Some(3), || {
        let (fb, clock) = fusebox();
        fb.install("db", gradual_program()).unwrap();
        let db = fb.fuse("db").unwrap();
        db.melt();
        let events = fb.subscribe();
        clock.advance_quietly(Duration::from_secs(10)); // both delays over, timer silent
        two_asks_admitted(&db);
        clock.run_due();
        agree(&fb, "db");
        assert_eq!(causes(&events), vec![Cause::Heal]);
    });
}

/// The gradual step was entered on time (its word published with the end
/// of its delay), then the clock passed that end with the timer silent: two
/// asks race, one heals the fuse under the lock while the other reads the
/// gradual word. The reader must not pair that word with the deadline of the
/// next publish (the heal's "none") and take the step for current.
#[test]
fn an_ask_racing_the_heal_of_a_gradual_step_sees_it_healed() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (fb, clock) = fusebox();
        fb.install("db", gradual_program()).unwrap();
        let db = fb.fuse("db").unwrap();
        db.melt();
        clock.advance(Duration::from_secs(5)); // the gradual step, on time
        clock.advance_quietly(Duration::from_secs(5)); // its end, timer silent
        two_asks_admitted(&db);
        clock.run_due();
        agree(&fb, "db");
    });
}

/// The late timer firing (its heap lock, the fuse lock, the bus) while an
/// ask heals the same fuse lazily: whichever goes first heals it, the other
/// finds nothing to do. The timer's locks come through the `sync` shim, so
/// loom interleaves them too.
#[test]
fn a_late_timer_racing_a_lazy_heal_heals_once() {
    explore(
        "a_late_timer_racing_a_lazy_heal_heals_once",
        Some(3),
        || {
            let (fb, clock) = fusebox();
            fb.install("db", cfg(0)).unwrap();
            let db = fb.fuse("db").unwrap();
            db.melt();
            let events = fb.subscribe();
            clock.advance_quietly(Duration::from_secs(5));
            let d1 = db.clone();
            let t1 = thread::spawn(move || d1.ask());
            let c2 = clock.clone();
            let t2 = thread::spawn(move || c2.run_due());
            assert_eq!(t1.join().unwrap(), Ask::Ok);
            t2.join().unwrap();
            agree(&fb, "db");
            assert_eq!(causes(&events), vec![Cause::Heal]);
        },
    );
}

#[test]
fn disable_dominates_concurrent_melt_and_reset() {
    loom::model(|| {
        let (fb, _clock) = fusebox();
        fb.install("db", cfg(0)).unwrap();
        let (f1, f2, f3) = (fb.clone(), fb.clone(), fb.clone());
        let t1 = thread::spawn(move || f1.disable("db").unwrap());
        let t2 = thread::spawn(move || f2.melt("db").unwrap());
        let t3 = thread::spawn(move || f3.reset("db").unwrap());
        t1.join().unwrap();
        t2.join().unwrap();
        t3.join().unwrap();
        assert_eq!(fb.state("db").unwrap().state, FuseState::Disabled);
        agree(&fb, "db");
    });
}

#[test]
fn reinstall_racing_disable_keeps_it_disabled() {
    loom::model(|| {
        let (fb, _clock) = fusebox();
        fb.install("db", cfg(0)).unwrap();
        fb.melt("db").unwrap();
        let (f1, f2) = (fb.clone(), fb.clone());
        let t1 = thread::spawn(move || f1.disable("db").unwrap());
        let t2 = thread::spawn(move || f2.install("db", cfg(3)).unwrap());
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(fb.state("db").unwrap().state, FuseState::Disabled);
        agree(&fb, "db");
    });
}

#[test]
fn remove_racing_melt_leaves_nothing_behind() {
    loom::model(|| {
        let (fb, _clock) = fusebox();
        fb.install("db", cfg(0)).unwrap();
        let events = fb.subscribe();
        let db = fb.fuse("db").unwrap();
        let d1 = db.clone();
        let f2 = fb.clone();
        let t1 = thread::spawn(move || d1.melt());
        let t2 = thread::spawn(move || f2.remove("db").unwrap());
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(fb.ask("db").is_err());
        assert_eq!(db.ask(), Ask::Blown);
        let c = causes(&events);
        assert_eq!(c.last(), Some(&Cause::Remove), "{c:?}");
    });
}

/// A fuse in the `probe(n)` step of `[delay 1 s, probe n]`.
fn probing(fb: &Fusebox, clock: &ManualClock, n: u32) {
    let heal = Heal::program([Step::Delay(Duration::from_secs(1)), Step::Probe(n)]);
    fb.install(
        "db",
        FuseConfig::standard(0, Duration::from_secs(10)).heal(heal),
    )
    .unwrap();
    fb.melt("db").unwrap();
    clock.advance(Duration::from_secs(1));
}

/// One slot, two racing callers (a `run` whose outcome is ignored, and a
/// plain ask that gives its slot back with `success`): never both inside at
/// once, and afterwards the slot is free again and there is still only one.
///
/// Loom explores this exhaustively up to three preemptions; unbounded, the
/// registry and timer code around the probe word takes over ten minutes.
#[test]
fn probe_slots_never_exceed_n_and_never_leak() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (fb, clock) = fusebox();
        probing(&fb, &clock, 1);
        let db = fb.fuse("db").unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let (d1, in1) = (db.clone(), inside.clone());
        let t1 = thread::spawn(move || {
            let _ = d1.run_classified(
                || {
                    let n = in1.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(n, 0, "two calls inside probe(1)");
                    in1.fetch_sub(1, Ordering::SeqCst);
                    Err::<(), ()>(())
                },
                |_| Outcome::Ignored,
            );
        });
        if db.ask() == Ask::Ok {
            let n = inside.fetch_add(1, Ordering::SeqCst);
            assert_eq!(n, 0, "two calls inside probe(1)");
            inside.fetch_sub(1, Ordering::SeqCst);
            db.success(); // gives the slot back and counts the one probe: healed
        }
        t1.join().unwrap();
        let snap = fb.state("db").unwrap();
        if snap.state == FuseState::Blown {
            // Only the ignored run got in: still probing, and the slot is free...
            assert_eq!(snap.heal_step, Some(1));
            assert_eq!(db.ask(), Ask::Ok);
            // ...and there is only one.
            assert_eq!(db.ask(), Ask::Blown);
        } else {
            assert_eq!(snap.state, FuseState::Ok, "the probe success healed it");
        }
    });
}

/// An async probe call dropped while in flight (the caller gave up) frees
/// its slot even when racing a successful probe.
#[test]
fn a_cancelled_probe_frees_its_slot() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (fb, clock) = fusebox();
        probing(&fb, &clock, 2);
        let db = fb.fuse("db").unwrap();
        let d1 = db.clone();
        let t1 = thread::spawn(move || {
            let fut = d1.call(std::future::pending::<Result<(), ()>>());
            let mut fut = std::pin::pin!(fut);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = std::future::Future::poll(fut.as_mut(), &mut cx); // admitted, holds a slot
        }); // dropped here: cancelled
        let ok = db.run(|| Ok::<(), ()>(()));
        t1.join().unwrap();
        assert_eq!(
            ok,
            Ok(()),
            "two slots, at most one taken by the other caller"
        );
        // One probe success so far; the cancelled call counted for nothing
        // and both slots are free again.
        let snap = fb.state("db").unwrap();
        assert_eq!((snap.state, snap.heal_step), (FuseState::Blown, Some(1)));
        assert_eq!(db.run(|| Ok::<(), ()>(())), Ok(()));
        assert_eq!(
            fb.state("db").unwrap().state,
            FuseState::Ok,
            "two successes heal"
        );
    });
}
