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

use fusebox::{Ask, Cause, EventKind, FuseConfig, FuseState, Fusebox, Heal, ManualClock};
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

fn causes(events: &fusebox::Subscription) -> Vec<Cause> {
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
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    loom::model(|| {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (fb, clock) = fusebox();
        fb.install("db", cfg(0)).unwrap();
        let db = fb.fuse("db").unwrap();
        db.melt();
        let events = fb.subscribe();
        clock.advance_quietly(Duration::from_secs(5)); // deadline passed, timer silent
        let (d1, d2) = (db.clone(), db.clone());
        let t1 = thread::spawn(move || d1.ask());
        let t2 = thread::spawn(move || d2.ask());
        assert_eq!(t1.join().unwrap(), Ask::Ok);
        assert_eq!(t2.join().unwrap(), Ask::Ok);
        clock.run_due(); // the late timer finally fires: a stale no-op
        agree(&fb, "db");
        assert_eq!(causes(&events), vec![Cause::Heal]);
    });
    // Loom must have explored more than one interleaving, or it tested nothing.
    let runs = RUNS.load(std::sync::atomic::Ordering::Relaxed);
    assert!(runs > 1, "loom explored {runs} interleaving(s)");
    eprintln!("late_timer_heals_exactly_once: {runs} interleavings");
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
