//! Alarms, subscribers and fault injection, with exact timing on a
//! `ManualClock` (and one heal on the real clock, with generous slack).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusebox::{
    Alarm, AlarmKind, Ask, Cause, Event, EventKind, FuseConfig, FuseState, Fusebox, Heal,
    ManualClock, RecvError, Subscription,
};

const SEC: Duration = Duration::from_secs(1);

fn manual(period: Duration, clear_looks: u32) -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(period)
        .alarm_clear_looks(clear_looks)
        .build();
    (fb, clock)
}

/// Blows on the first melt, heals `heal` later.
fn touchy(heal: Duration) -> FuseConfig {
    FuseConfig::standard(0, 10 * SEC).heal(Heal::reset(heal))
}

fn alarm_events(sub: &Subscription) -> Vec<(String, bool, Duration)> {
    let mut out = Vec::new();
    while let Ok(e) = sub.try_recv() {
        match e.kind {
            EventKind::AlarmSet { alarm } => {
                assert_eq!(alarm, AlarmKind::FuseBlown);
                out.push((e.name.to_string(), true, e.at));
            }
            EventKind::AlarmCleared { alarm } => {
                assert_eq!(alarm, AlarmKind::FuseBlown);
                out.push((e.name.to_string(), false, e.at));
            }
            _ => {}
        }
    }
    out
}

fn names(alarms: &[Alarm]) -> Vec<&str> {
    alarms.iter().map(|a| &*a.name).collect()
}

#[test]
fn alarm_set_at_first_look_and_cleared_after_three_clean_looks() {
    // Looks at 60 s, 120 s, ... (the default period of Erlang fuse).
    let (fb, clock) = manual(60 * SEC, 3);
    let sub = fb.subscribe();
    fb.install("db", touchy(30 * SEC)).unwrap();
    clock.advance(10 * SEC);
    fb.melt("db").unwrap(); // blown at 10 s, heals at 40 s
    assert!(fb.alarms().is_empty(), "no look yet");

    clock.advance(50 * SEC); // 60 s: first look... but the fuse healed at 40 s
    assert!(fb.alarms().is_empty(), "healed before the look: no alarm");
    assert!(alarm_events(&sub).is_empty());

    fb.melt("db").unwrap(); // blown at 60 s, heals at 90 s
    clock.advance(60 * SEC); // look at 120 s: healed at 90 s → no alarm
    assert!(fb.alarms().is_empty());

    // Now blow it for longer than a period: heal after 100 s.
    fb.install("db", touchy(100 * SEC)).unwrap();
    fb.melt("db").unwrap(); // blown at 120 s, heals at 220 s
    clock.advance(60 * SEC); // look at 180 s: blown → alarm set
    assert_eq!(names(&fb.alarms()), ["db"]);
    assert_eq!(fb.alarms()[0].since, 180 * SEC);
    assert_eq!(alarm_events(&sub), [("db".into(), true, 180 * SEC)]);

    clock.advance(60 * SEC); // 240 s: healed at 220 s → clean look 1
    assert_eq!(names(&fb.alarms()), ["db"]);
    clock.advance(60 * SEC); // 300 s: clean look 2
    assert_eq!(names(&fb.alarms()), ["db"]);
    assert!(alarm_events(&sub).is_empty());
    clock.advance(60 * SEC); // 360 s: clean look 3 → cleared
    assert!(fb.alarms().is_empty());
    assert_eq!(alarm_events(&sub), [("db".into(), false, 360 * SEC)]);
}

#[test]
fn a_blow_during_the_clean_looks_restarts_the_count() {
    let (fb, clock) = manual(SEC, 3);
    let sub = fb.subscribe();
    fb.install("db", touchy(SEC / 2)).unwrap();
    fb.melt("db").unwrap(); // blown 0..0.5 s
    clock.advance(SEC / 4);
    fb.melt("db").unwrap(); // still blown (melt while blown changes nothing)
    clock.advance(SEC * 3 / 4); // look at 1 s: healed at 0.5 s → no alarm yet
    assert!(fb.alarms().is_empty());

    fb.install("db", touchy(3 * SEC / 2)).unwrap();
    fb.melt("db").unwrap(); // blown 1 s..2.5 s
    clock.advance(SEC); // look at 2 s: blown → set
    assert_eq!(names(&fb.alarms()), ["db"]);
    clock.advance(SEC); // 3 s: clean 1
    clock.advance(SEC); // 4 s: clean 2
    fb.melt("db").unwrap(); // blown 4 s..5.5 s
    clock.advance(SEC); // 5 s: blown → count restarts
    clock.advance(SEC); // 6 s: clean 1
    clock.advance(SEC); // 7 s: clean 2
    assert_eq!(
        names(&fb.alarms()),
        ["db"],
        "only 2 clean looks since the re-blow"
    );
    clock.advance(SEC); // 8 s: clean 3 → cleared
    assert!(fb.alarms().is_empty());
    assert_eq!(
        alarm_events(&sub),
        [("db".into(), true, 2 * SEC), ("db".into(), false, 8 * SEC)]
    );
}

#[test]
fn clear_looks_and_period_are_configurable() {
    let (fb, clock) = manual(10 * SEC, 1);
    fb.install("db", touchy(15 * SEC)).unwrap();
    fb.melt("db").unwrap(); // blown 0..15 s
    clock.advance(9 * SEC);
    assert!(fb.alarms().is_empty(), "first look is at 10 s");
    clock.advance(SEC);
    assert_eq!(names(&fb.alarms()), ["db"]);
    clock.advance(10 * SEC); // 20 s: one clean look is enough here
    assert!(fb.alarms().is_empty());
}

#[test]
fn a_disabled_fuse_raises_the_alarm_too() {
    let (fb, clock) = manual(SEC, 3);
    fb.install("db", touchy(SEC)).unwrap();
    fb.disable("db").unwrap();
    clock.advance(SEC);
    assert_eq!(names(&fb.alarms()), ["db"]);
    fb.enable("db").unwrap();
    clock.advance(3 * SEC);
    assert!(fb.alarms().is_empty());
}

#[test]
fn removal_clears_the_alarm() {
    let (fb, clock) = manual(SEC, 3);
    let sub = fb.subscribe();
    fb.install("db", touchy(100 * SEC)).unwrap();
    fb.install("cache", touchy(100 * SEC)).unwrap();
    fb.melt("db").unwrap();
    fb.melt("cache").unwrap();
    clock.advance(SEC);
    assert_eq!(names(&fb.alarms()), ["cache", "db"]);
    assert_eq!(alarm_events(&sub).len(), 2);
    clock.advance(SEC / 2);
    fb.remove("db").unwrap();
    assert_eq!(names(&fb.alarms()), ["cache"]);
    assert_eq!(alarm_events(&sub), [("db".into(), false, 3 * SEC / 2)]);
    // A later look does not resurrect it.
    clock.advance(SEC);
    assert_eq!(names(&fb.alarms()), ["cache"]);
}

/// Every transition of one fuse, as (from, to, cause).
fn transitions(events: &[Event]) -> Vec<(Option<FuseState>, Option<FuseState>, Cause)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Transition { from, to, cause } => Some((from, to, cause)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_panicking_subscriber_is_dropped_and_nothing_else_notices() {
    let (fb, clock) = manual(1000 * SEC, 3);
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let bad = fb
        .subscribe_fn(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            panic!("a subscriber bug");
        })
        .unwrap();
    let good = fb.subscribe();
    fb.install("db", touchy(SEC)).unwrap();
    fb.melt("db").unwrap();
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    clock.advance(SEC);
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    // The callback thread ends after its first (panicking) call.
    let deadline = Instant::now() + Duration::from_secs(30);
    while bad.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!bad.is_alive(), "the panicking subscriber was not dropped");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The fuse went on exactly, and the other subscriber saw everything.
    fb.melt("db").unwrap();
    let mut got = Vec::new();
    while let Ok(e) = good.try_recv() {
        got.push(e);
    }
    use FuseState::{Blown, Ok as Fine};
    assert_eq!(
        transitions(&got),
        [
            (None, Some(Fine), Cause::Install),
            (Some(Fine), Some(Blown), Cause::Melt),
            (Some(Blown), Some(Fine), Cause::Heal),
            (Some(Fine), Some(Blown), Cause::Melt),
        ]
    );
    let snap = fb.state("db").unwrap();
    assert_eq!((snap.counters.blows, snap.counters.heals), (2, 1));
}

#[test]
fn a_slow_subscriber_neither_slows_fuses_nor_blocks_other_subscribers() {
    let (fb, _clock) = manual(1000 * SEC, 3);
    // One that sleeps 50 ms per event, and one that never reads (capacity 8).
    let _sleepy = fb
        .subscribe_fn(|_| std::thread::sleep(Duration::from_millis(50)))
        .unwrap();
    let stuck = fb.subscribe_with_capacity(8);
    let fast = fb.subscribe_with_capacity(10_000);
    fb.install("db", touchy(SEC)).unwrap();
    let t0 = Instant::now();
    for _ in 0..1_000 {
        fb.melt("db").unwrap(); // blow
        fb.reset("db").unwrap(); // heal
    }
    let took = t0.elapsed();
    // 2,000 events at 50 ms each would take 100 s if the sleeper were waited on.
    assert!(took < Duration::from_secs(5), "1,000 cycles took {took:?}");
    // The fast subscriber got all 2,001 events (install + 2,000 transitions).
    let mut n = 0;
    while fast.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, 2_001);
    // The stuck one kept the newest 8 and reports the 1,993 it lost.
    assert_eq!(stuck.try_recv(), Err(RecvError::Lagged(1_993)));
    let kept: Vec<Event> = std::iter::from_fn(|| stuck.try_recv().ok()).collect();
    assert_eq!(kept.len(), 8);
    assert_eq!(transitions(&kept).last().unwrap().2, Cause::Reset);
    assert_eq!(stuck.try_recv(), Err(RecvError::Empty));
    // ...and then delivers again.
    fb.melt("db").unwrap();
    assert!(matches!(stuck.try_recv(), Ok(e) if e.name.as_ref() == "db"));
}

#[test]
fn fault_injection_refuses_at_its_rate_and_counts_apart() {
    let (fb, _clock) = manual(1000 * SEC, 3);
    fb.install("low", FuseConfig::fault_injection(0.1, 5, SEC))
        .unwrap();
    fb.install("all", FuseConfig::fault_injection(1.0, 5, SEC))
        .unwrap();
    let n = 200_000u64;
    let refused = (0..n)
        .filter(|_| fb.ask("low").unwrap() == Ask::Blown)
        .count() as f64;
    let rate = refused / n as f64;
    // sigma = sqrt(0.1 * 0.9 / 200,000) = 0.00067; the bound is 15 sigma.
    assert!((rate - 0.1).abs() < 0.01, "refusal rate {rate}");
    let c = fb.state("low").unwrap().counters;
    assert_eq!(c.injected, refused as u64);
    assert_eq!(c.asks_ok + c.injected, n);
    assert_eq!(c.asks_blown, 0, "injected refusals are not real ones");
    assert!((0..1_000).all(|_| fb.ask("all").unwrap() == Ask::Blown));
    assert_eq!(fb.state("all").unwrap().state, FuseState::Ok);
}

#[test]
fn heals_on_time_on_the_real_clock_with_no_traffic() {
    let fb = Fusebox::new();
    let sub = fb.subscribe();
    fb.install("db", touchy(Duration::from_millis(50))).unwrap();
    let t0 = Instant::now();
    fb.melt("db").unwrap();
    // Nobody asks; the timer thread must heal it.
    let heal = loop {
        match sub.recv_timeout(Duration::from_secs(10)) {
            Ok(Event {
                kind:
                    EventKind::Transition {
                        cause: Cause::Heal, ..
                    },
                ..
            }) => break t0.elapsed(),
            Ok(_) => continue,
            Err(e) => panic!("no heal event: {e}"),
        }
    };
    assert!(heal >= Duration::from_millis(49), "healed early: {heal:?}");
    assert!(heal < Duration::from_secs(5), "healed late: {heal:?}");
    assert_eq!(fb.state("db").unwrap().state, FuseState::Ok);
}
