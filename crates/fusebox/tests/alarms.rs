//! The contract's §2.3 (`fusebox::_contract`,
//! `crates/fusebox/docs/contract.md`) end to end: the alarm monitor's timing
//! and hysteresis, subscribers that panic or lag, fault injection's refusal
//! rate and counters, and one heal on the real clock.
//!
//! Everything but the last test runs on a `ManualClock`, so every time and
//! count below is exact. A single `advance` across several looks runs each
//! look at its own time (`one_long_advance_runs_each_look_at_its_own_time`).

#[path = "support/watchdog.rs"]
mod watchdog;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fusebox::{
    event::{AlarmKind, Cause, EventKind, RecvError, Subscription},
    fuse::FuseState,
    registry::{DEFAULT_ALARM_CLEAR_LOOKS, DEFAULT_ALARM_PERIOD, DEFAULT_EVENT_CAPACITY},
    Ask, Event, FuseConfig, Fusebox, Heal, ManualClock, RunError, Step,
};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// A Fusebox on a manual clock with the given alarm settings.
fn manual(period: Duration, clear_looks: u32) -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(period)
        .alarm_clear_looks(clear_looks)
        .build();
    (fb, clock)
}

/// Blows on the first melt and heals `heal` after the blow.
fn touchy(heal: Duration) -> FuseConfig {
    FuseConfig::standard(0, 10 * SEC).heal(Heal::reset(heal))
}

/// Everything buffered in `sub` right now.
fn drain(sub: &Subscription) -> Vec<Event> {
    std::iter::from_fn(|| sub.try_recv().ok()).collect()
}

/// `Event` is `#[non_exhaustive]` and cannot be built here, so tests compare
/// its public fields instead.
fn brief(e: &Event) -> (String, EventKind, Duration) {
    (e.name.to_string(), e.kind.clone(), e.at)
}

fn transition(from: Option<FuseState>, to: Option<FuseState>, cause: Cause) -> EventKind {
    EventKind::Transition { from, to, cause }
}

/// The alarm events among `events`, as (fuse, "set" | "cleared", time).
fn alarm_log(events: &[Event]) -> Vec<(String, &'static str, Duration)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::AlarmSet {
                alarm: AlarmKind::FuseBlown,
            } => Some((e.name.to_string(), "set", e.at)),
            EventKind::AlarmCleared {
                alarm: AlarmKind::FuseBlown,
            } => Some((e.name.to_string(), "cleared", e.at)),
            _ => None,
        })
        .collect()
}

/// The active alarms as (fuse, kind, since): `Alarm` is `#[non_exhaustive]`.
fn alarms(fb: &Fusebox) -> Vec<(String, AlarmKind, Duration)> {
    fb.alarms()
        .iter()
        .map(|a| (a.name.to_string(), a.kind, a.since))
        .collect()
}

fn alarm(name: &str, since: Duration) -> Vec<(String, AlarmKind, Duration)> {
    vec![(name.to_string(), AlarmKind::FuseBlown, since)]
}

fn set(name: &str, at: Duration) -> (String, &'static str, Duration) {
    (name.to_string(), "set", at)
}

fn cleared(name: &str, at: Duration) -> (String, &'static str, Duration) {
    (name.to_string(), "cleared", at)
}

/// Polls `cond` for up to 30 s (a callback subscriber runs on its own thread).
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(MS);
    }
}

// ---------------------------------------------------------------------------
// 1. The alarm monitor
// ---------------------------------------------------------------------------

#[test]
fn defaults_are_a_60s_period_and_3_clean_looks() {
    let _watch = watchdog::watchdog(
        "alarms::defaults_are_a_60s_period_and_3_clean_looks",
        std::time::Duration::from_secs(90),
    );
    assert_eq!(DEFAULT_ALARM_PERIOD, 60 * SEC);
    assert_eq!(DEFAULT_ALARM_CLEAR_LOOKS, 3);
    // No alarm settings: the defaults must apply.
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let sub = fb.subscribe();
    fb.install("db", touchy(140 * SEC)).unwrap();

    clock.advance(30 * SEC);
    fb.melt("db").unwrap(); // blown from 30 s to 170 s
    clock.advance(29 * SEC); // 59 s: no look yet, although blown
    assert_eq!(fb.state("db").unwrap().state, FuseState::Blown);
    assert_eq!(alarms(&fb), []);

    clock.advance(SEC); // 60 s: first look finds it blown
    assert_eq!(alarms(&fb), alarm("db", 60 * SEC));
    assert_eq!(alarm_log(&drain(&sub)), [set("db", 60 * SEC)]);

    clock.advance(60 * SEC); // 120 s: still blown; the alarm is not raised twice
    assert_eq!(alarms(&fb), alarm("db", 60 * SEC));
    clock.advance(60 * SEC); // 180 s: healed at 170 s; clean look 1
    assert_eq!(fb.state("db").unwrap().state, FuseState::Ok);
    assert_eq!(alarms(&fb), alarm("db", 60 * SEC));
    clock.advance(60 * SEC); // 240 s: clean look 2
    assert_eq!(alarms(&fb), alarm("db", 60 * SEC));
    clock.advance(59 * SEC); // 299 s: between looks nothing changes
    assert_eq!(alarms(&fb), alarm("db", 60 * SEC));
    // Only the heal happened since the set: no alarm event yet.
    let events = drain(&sub);
    assert_eq!(alarm_log(&events), []);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [(
            "db".to_string(),
            transition(Some(FuseState::Blown), Some(FuseState::Ok), Cause::Heal),
            170 * SEC
        )]
    );

    clock.advance(SEC); // 300 s: clean look 3 clears it
    assert_eq!(alarms(&fb), []);
    assert_eq!(alarm_log(&drain(&sub)), [cleared("db", 300 * SEC)]);
    assert_eq!(fb.snapshot().alarms, []);

    // Later clean looks say nothing more.
    for _ in 0..3 {
        clock.advance(60 * SEC);
    }
    assert_eq!(drain(&sub).len(), 0);
}

#[test]
fn period_and_clear_looks_are_configurable() {
    let _watch = watchdog::watchdog(
        "alarms::period_and_clear_looks_are_configurable",
        std::time::Duration::from_secs(90),
    );
    // Looks every 5 s; 5 clean looks to clear.
    let (fb, clock) = manual(5 * SEC, 5);
    let sub = fb.subscribe();
    fb.install("db", touchy(7 * SEC)).unwrap();
    clock.advance(SEC);
    fb.melt("db").unwrap(); // blown from 1 s to 8 s
    clock.advance(3 * SEC); // 4 s: no look yet
    assert_eq!(alarms(&fb), []);
    clock.advance(SEC); // 5 s: set
    assert_eq!(alarms(&fb), alarm("db", 5 * SEC));
    for look in 1..=4 {
        clock.advance(5 * SEC); // 10, 15, 20, 25 s: clean looks 1 to 4
        assert_eq!(alarms(&fb), alarm("db", 5 * SEC), "clean look {look}");
    }
    clock.advance(5 * SEC); // 30 s: clean look 5 clears it
    assert_eq!(alarms(&fb), []);
    assert_eq!(
        alarm_log(&drain(&sub)),
        [set("db", 5 * SEC), cleared("db", 30 * SEC)]
    );

    // One clean look is enough when so configured.
    let (fb, clock) = manual(250 * MS, 1);
    let sub = fb.subscribe();
    fb.install("db", touchy(300 * MS)).unwrap();
    fb.melt("db").unwrap(); // blown from 0 to 300 ms
    clock.advance(250 * MS);
    assert_eq!(alarms(&fb), alarm("db", 250 * MS));
    clock.advance(250 * MS);
    assert_eq!(alarms(&fb), []);
    assert_eq!(
        alarm_log(&drain(&sub)),
        [set("db", 250 * MS), cleared("db", 500 * MS)]
    );

    // The builder's documented floors: a zero period is 1 ms, zero clear
    // looks is 1.
    let (fb, clock) = manual(Duration::ZERO, 0);
    let sub = fb.subscribe();
    fb.install("db", touchy(1500 * Duration::from_micros(1)))
        .unwrap();
    fb.melt("db").unwrap(); // blown from 0 to 1.5 ms
    clock.advance(MS);
    assert_eq!(alarms(&fb), alarm("db", MS));
    clock.advance(MS);
    assert_eq!(alarms(&fb), []);
    assert_eq!(
        alarm_log(&drain(&sub)),
        [set("db", MS), cleared("db", 2 * MS)]
    );
}

#[test]
fn a_blow_seen_during_the_clean_looks_restarts_the_count() {
    let _watch = watchdog::watchdog(
        "alarms::a_blow_seen_during_the_clean_looks_restarts_the_count",
        std::time::Duration::from_secs(90),
    );
    let (fb, clock) = manual(10 * SEC, 3);
    let sub = fb.subscribe();
    fb.install("db", touchy(15 * SEC)).unwrap();
    fb.melt("db").unwrap(); // blown from 0 to 15 s
    clock.advance(10 * SEC); // 10 s: set
    assert_eq!(alarms(&fb), alarm("db", 10 * SEC));
    clock.advance(10 * SEC); // 20 s: clean 1
    clock.advance(10 * SEC); // 30 s: clean 2
    assert_eq!(alarms(&fb), alarm("db", 10 * SEC));

    clock.advance(3 * SEC);
    fb.melt("db").unwrap(); // blown again from 33 s to 48 s
    clock.advance(7 * SEC); // 40 s: blown → the count restarts, no second set
    assert_eq!(alarms(&fb), alarm("db", 10 * SEC), "since is kept");
    clock.advance(10 * SEC); // 50 s: clean 1 (without the restart: clean 3, cleared)
    assert_eq!(fb.state("db").unwrap().state, FuseState::Ok);
    assert_eq!(alarms(&fb), alarm("db", 10 * SEC));
    clock.advance(10 * SEC); // 60 s: clean 2
    assert_eq!(alarms(&fb), alarm("db", 10 * SEC));
    clock.advance(10 * SEC); // 70 s: clean 3 → cleared
    assert_eq!(alarms(&fb), []);
    assert_eq!(
        alarm_log(&drain(&sub)),
        [set("db", 10 * SEC), cleared("db", 70 * SEC)]
    );
}

#[test]
fn a_disabled_fuse_raises_the_alarm_too() {
    let _watch = watchdog::watchdog(
        "alarms::a_disabled_fuse_raises_the_alarm_too",
        std::time::Duration::from_secs(90),
    );
    let (fb, clock) = manual(SEC, 3);
    fb.install("db", touchy(SEC)).unwrap();
    fb.disable("db").unwrap();
    clock.advance(SEC);
    assert_eq!(alarms(&fb), alarm("db", SEC));
    fb.enable("db").unwrap();
    clock.advance(3 * SEC);
    assert_eq!(alarms(&fb), []);
}

#[test]
fn removing_a_fuse_clears_its_alarm_at_once() {
    let _watch = watchdog::watchdog(
        "alarms::removing_a_fuse_clears_its_alarm_at_once",
        std::time::Duration::from_secs(90),
    );
    let (fb, clock) = manual(10 * SEC, 3);
    let sub = fb.subscribe();
    fb.install("db", touchy(100 * SEC)).unwrap();
    fb.install("cache", touchy(95 * SEC)).unwrap();
    fb.melt("db").unwrap();
    fb.melt("cache").unwrap(); // both blown from 0; cache heals at 95 s
    clock.advance(10 * SEC);
    assert_eq!(
        alarms(&fb),
        [
            ("cache".to_string(), AlarmKind::FuseBlown, 10 * SEC),
            ("db".to_string(), AlarmKind::FuseBlown, 10 * SEC),
        ]
    );
    drain(&sub);

    // Mid-period, while still blown: the alarm goes with the fuse, right
    // away, after its `removed` transition.
    clock.advance(5 * SEC);
    fb.remove("db").unwrap();
    assert_eq!(alarms(&fb), alarm("cache", 10 * SEC));
    assert_eq!(
        drain(&sub).iter().map(brief).collect::<Vec<_>>(),
        [
            (
                "db".to_string(),
                transition(Some(FuseState::Blown), None, Cause::Remove),
                15 * SEC
            ),
            (
                "db".to_string(),
                EventKind::AlarmCleared {
                    alarm: AlarmKind::FuseBlown
                },
                15 * SEC
            ),
        ]
    );

    // Later looks do not resurrect it, and a new fuse of that name starts clean.
    clock.advance(5 * SEC); // 20 s
    fb.install("db", touchy(100 * SEC)).unwrap();
    clock.advance(10 * SEC); // 30 s
    assert_eq!(alarms(&fb), alarm("cache", 10 * SEC));
    assert_eq!(alarm_log(&drain(&sub)), []);

    // Removing a fuse without an alarm publishes no alarm event.
    fb.remove("db").unwrap();
    assert_eq!(alarm_log(&drain(&sub)), []);

    // Removal also ends the hysteresis of an alarm whose fuse has healed.
    for _ in 0..7 {
        clock.advance(10 * SEC); // ... 100 s: cache healed at 95 s, clean look 1
    }
    assert_eq!(fb.state("cache").unwrap().state, FuseState::Ok);
    assert_eq!(alarms(&fb), alarm("cache", 10 * SEC));
    drain(&sub);
    clock.advance(5 * SEC);
    fb.remove("cache").unwrap();
    assert_eq!(alarms(&fb), []);
    assert_eq!(alarm_log(&drain(&sub)), [cleared("cache", 105 * SEC)]);
    assert!(fb.remove("cache").is_err(), "already gone");
}

/// `ManualClock::advance` runs every look that fell due, in deadline order;
/// each look sees the fuses as they were at its own time and stamps its own
/// time as the alarm's `since` (a late timer on the real clock likewise).
#[test]
fn one_long_advance_runs_each_look_at_its_own_time() {
    let _watch = watchdog::watchdog(
        "alarms::one_long_advance_runs_each_look_at_its_own_time",
        std::time::Duration::from_secs(90),
    );
    let (fb, clock) = manual(60 * SEC, 3);
    fb.install("db", touchy(100 * SEC)).unwrap();
    fb.melt("db").unwrap(); // blown from 0 to 100 s
    clock.advance(200 * SEC); // looks due at 60 s (blown), 120 s and 180 s (clean)
                              // Moving 60 s at a time gives this; one jump gives no alarm at all.
    assert_eq!(alarms(&fb), alarm("db", 60 * SEC));
}

// ---------------------------------------------------------------------------
// 2. Subscribers
// ---------------------------------------------------------------------------

#[test]
fn a_panicking_subscriber_changes_nothing() {
    let _watch = watchdog::watchdog(
        "alarms::a_panicking_subscriber_changes_nothing",
        std::time::Duration::from_secs(90),
    );
    let (fb, clock) = manual(1000 * SEC, 3);
    let calls = Arc::new(AtomicU32::new(0));
    let bad = {
        let calls = calls.clone();
        fb.subscribe_fn(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            panic!("deliberate panic in a test subscriber (expected)");
        })
        .unwrap()
    };
    // Two well-behaved subscribers: a buffer and another callback.
    let good = fb.subscribe();
    let (tx, rx) = mpsc::channel();
    let _good_cb = fb
        .subscribe_fn(move |e| {
            let _ = tx.send(e);
        })
        .unwrap();

    fb.install(
        "db",
        FuseConfig::standard(2, 10 * SEC).heal(Heal::reset(30 * SEC)),
    )
    .unwrap();
    // The install event reaches the bad callback, which panics and is dropped.
    eventually("the panicking subscriber to end", || !bad.is_alive());
    bad.join();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Now every operation must answer exactly as without it.
    let db = fb.fuse("db").unwrap();
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    assert_eq!(db.ask(), Ask::Ok);
    clock.advance(SEC);
    fb.melt("db").unwrap();
    db.melt(); // 2 melts: not more than max_melts = 2
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    fb.melt("db").unwrap(); // the 3rd blows it at 1 s, heal at 31 s
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    assert_eq!(db.ask(), Ask::Blown);
    let mut called = false;
    assert_eq!(
        db.run(|| {
            called = true;
            Ok::<u32, &str>(1)
        }),
        Err(RunError::Blown)
    );
    assert!(!called, "a blown fuse must not call f");

    clock.advance(29 * SEC); // 30 s: not yet
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    clock.advance(SEC); // 31 s: healed
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    assert_eq!(db.run(|| Ok::<u32, &str>(7)), Ok(7));
    assert_eq!(
        fb.run("db", || Err::<u32, &str>("down")),
        Err(RunError::Failed("down"))
    );
    assert_eq!(fb.state("db").unwrap().melts_in_window, 1);
    fb.reset("db").unwrap(); // already ok: no transition
    assert_eq!(fb.state("db").unwrap().melts_in_window, 0);
    fb.disable("db").unwrap();
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    fb.melt("db").unwrap(); // counted, changes nothing
    fb.enable("db").unwrap();
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);

    let snap = fb.state("db").unwrap();
    assert_eq!(snap.state, FuseState::Ok);
    let c = snap.counters;
    assert_eq!(
        (c.asks_ok, c.asks_blown, c.injected),
        (7, 5, 0),
        "ok: 2 + 1 + 1 + run + run + 1; blown: 2 + run + 1 (at 30 s) + 1 (disabled)"
    );
    assert_eq!((c.melts, c.successes, c.blows, c.heals), (5, 1, 1, 1));
    assert_eq!(snap.last_blow, Some(SEC));

    // Both other subscribers saw every event, in order.
    use FuseState::{Blown, Disabled, Ok as Fine};
    let expected = vec![
        (
            "db".to_string(),
            transition(None, Some(Fine), Cause::Install),
            Duration::ZERO,
        ),
        (
            "db".to_string(),
            transition(Some(Fine), Some(Blown), Cause::Melt),
            SEC,
        ),
        (
            "db".to_string(),
            transition(Some(Blown), Some(Fine), Cause::Heal),
            31 * SEC,
        ),
        (
            "db".to_string(),
            transition(Some(Fine), Some(Disabled), Cause::Disable),
            31 * SEC,
        ),
        (
            "db".to_string(),
            transition(Some(Disabled), Some(Fine), Cause::Enable),
            31 * SEC,
        ),
    ];
    assert_eq!(drain(&good).iter().map(brief).collect::<Vec<_>>(), expected);
    let via_callback: Vec<_> = (0..expected.len())
        .map(|_| brief(&rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap()))
        .collect();
    assert_eq!(via_callback, expected);

    // And the bus still takes new subscribers.
    let late = fb.subscribe();
    fb.remove("db").unwrap();
    assert_eq!(
        drain(&late).iter().map(brief).collect::<Vec<_>>(),
        [(
            "db".to_string(),
            transition(Some(Fine), None, Cause::Remove),
            31 * SEC
        )]
    );
}

/// What the sleepy callback subscriber was handed.
#[derive(Debug, Default)]
struct Tally {
    events: u64,
    lagged: u64,
    closed: u32,
}

#[test]
fn slow_subscribers_do_not_slow_melts_and_learn_what_they_lost() {
    let _watch = watchdog::watchdog(
        "alarms::slow_subscribers_do_not_slow_melts_and_learn_what_they_lost",
        std::time::Duration::from_secs(90),
    );
    const CYCLES: u64 = 1_000;
    const LOSSY_CAPACITY: usize = 4;
    let (fb, clock) = manual(1000 * SEC, 3);

    // A callback that sleeps 50 ms per event (until told to stop sleeping,
    // so the test can end quickly), tallying what it receives.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (first_tx, first_rx) = mpsc::channel();
    let sleepy = {
        let (stop, tally) = (stop.clone(), tally.clone());
        fb.subscribe_fn(move |r| {
            {
                let mut t = tally.lock().unwrap();
                match r {
                    Ok(_) => t.events += 1,
                    Err(RecvError::Lagged(n)) => t.lagged += n,
                    Err(RecvError::Closed) => t.closed += 1,
                    Err(other) => panic!("recv() gave {other:?}"),
                }
            }
            let _ = first_tx.send(());
            if !stop.load(Ordering::SeqCst) {
                std::thread::sleep(50 * MS);
            }
        })
        .unwrap()
    };
    // A buffer that is never drained during the melts, and a reference
    // subscriber big enough to lose nothing.
    let lossy = fb.subscribe_with_capacity(LOSSY_CAPACITY);
    let all = fb.subscribe_with_capacity(4 * CYCLES as usize);

    fb.install("db", touchy(60 * SEC)).unwrap();
    // Start timing only once the sleeper is inside its first 50 ms sleep.
    first_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let t0 = Instant::now();
    for _ in 0..CYCLES {
        clock.advance(MS); // cycle i runs at (i + 1) ms, so events are told apart
        fb.melt("db").unwrap(); // blows (max_melts = 0)
        fb.reset("db").unwrap(); // heals
    }
    let took = t0.elapsed();
    // Waiting on the sleeper would take 2,000 × 50 ms = 100 s.
    assert!(
        took < Duration::from_secs(5),
        "{CYCLES} cycles took {took:?}"
    );
    assert_eq!(fb.state("db").unwrap().counters.blows, CYCLES);

    // The lossy buffer kept the newest 4 of 2,001 events, says how many it
    // lost first, then hands out the kept ones oldest first.
    let published = 1 + 2 * CYCLES;
    assert_eq!(
        lossy.try_recv(),
        Err(RecvError::Lagged(published - LOSSY_CAPACITY as u64))
    );
    use FuseState::{Blown, Ok as Fine};
    let blow = |ms: u64| {
        (
            "db".to_string(),
            transition(Some(Fine), Some(Blown), Cause::Melt),
            Duration::from_millis(ms),
        )
    };
    let reset = |ms: u64| {
        (
            "db".to_string(),
            transition(Some(Blown), Some(Fine), Cause::Reset),
            Duration::from_millis(ms),
        )
    };
    assert_eq!(
        drain(&lossy).iter().map(brief).collect::<Vec<_>>(),
        [blow(999), reset(999), blow(1000), reset(1000)]
    );
    assert_eq!(lossy.try_recv(), Err(RecvError::Empty));
    // ...and it goes on delivering.
    fb.melt("db").unwrap();
    assert_eq!(lossy.try_recv().map(|e| brief(&e)), Ok(blow(1000)));
    assert_eq!(lossy.try_recv(), Err(RecvError::Empty));

    // Nothing was lost where there was room.
    let mut expected = vec![(
        "db".to_string(),
        transition(None, Some(Fine), Cause::Install),
        Duration::ZERO,
    )];
    for ms in 1..=CYCLES {
        expected.extend([blow(ms), reset(ms)]);
    }
    expected.push(blow(1000));
    assert_eq!(drain(&all).iter().map(brief).collect::<Vec<_>>(), expected);

    // The sleeper was told of its losses too: once the Fusebox is gone it
    // gets `Closed`, and what it received plus what it was told it lost is
    // every event published.
    stop.store(true, Ordering::SeqCst);
    drop(fb);
    eventually("the sleepy subscriber to see Closed", || !sleepy.is_alive());
    sleepy.join();
    let t = tally.lock().unwrap();
    assert_eq!(t.closed, 1);
    assert_eq!(t.events + t.lagged, published + 1, "{t:?}");
    // It cannot have kept up: its buffer holds DEFAULT_EVENT_CAPACITY.
    assert!(t.lagged > 0, "{t:?}");
    assert!(t.events >= DEFAULT_EVENT_CAPACITY as u64, "{t:?}");
}

// ---------------------------------------------------------------------------
// 3. Fault injection
// ---------------------------------------------------------------------------

#[test]
fn fault_injection_refuses_at_its_rate_only_while_ok() {
    let _watch = watchdog::watchdog(
        "alarms::fault_injection_refuses_at_its_rate_only_while_ok",
        std::time::Duration::from_secs(90),
    );
    const N: u64 = 200_000;
    let (fb, clock) = manual(1000 * SEC, 3);
    let sub = fb.subscribe();
    fb.install(
        "flaky",
        FuseConfig::fault_injection(0.1, 1, 10 * SEC).heal(Heal::reset(30 * SEC)),
    )
    .unwrap();
    let flaky = fb.fuse("flaky").unwrap();

    // Half by name, half by handle: both paths draw.
    let refused = (0..N)
        .filter(|i| {
            let a = if i % 2 == 0 {
                fb.ask("flaky").unwrap()
            } else {
                flaky.ask()
            };
            a == Ask::Blown
        })
        .count() as u64;
    let rate = refused as f64 / N as f64;
    // sigma = sqrt(0.1 × 0.9 / 200,000) ≈ 0.00067: ±0.01 is 15 sigma.
    assert!(
        (rate - 0.1).abs() <= 0.01,
        "refused {refused} of {N}: {rate}"
    );
    let snap = fb.state("flaky").unwrap();
    assert_eq!(
        snap.state,
        FuseState::Ok,
        "injected refusals do not blow it"
    );
    let c = snap.counters;
    assert_eq!(c.injected, refused, "injected refusals are counted apart");
    assert_eq!(c.asks_blown, 0, "...and not as real refusals");
    assert_eq!(c.asks_ok, N - refused);
    assert_eq!((c.melts, c.blows), (0, 0));
    assert_eq!(
        drain(&sub).len(),
        1,
        "only the install: injection publishes nothing"
    );

    // Blown for real: every ask refused, counted as blown, none injected.
    fb.melt("flaky").unwrap();
    fb.melt("flaky").unwrap(); // 2 > max_melts = 1
    assert!((0..1_000).all(|_| flaky.ask() == Ask::Blown));
    let c = fb.state("flaky").unwrap().counters;
    assert_eq!((c.asks_blown, c.injected), (1_000, refused));

    // Healed: injection resumes. `run` calls f exactly for admitted asks.
    clock.advance(30 * SEC);
    let mut calls = 0u64;
    let mut refused_runs = 0u64;
    for _ in 0..20_000 {
        match flaky.run(|| {
            calls += 1;
            Ok::<(), ()>(())
        }) {
            Ok(()) => {}
            Err(RunError::Blown) => refused_runs += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let rate = refused_runs as f64 / 20_000.0;
    // sigma ≈ 0.0021: ±0.02 is nearly 10 sigma.
    assert!((rate - 0.1).abs() <= 0.02, "after heal: {rate}");
    assert_eq!(calls + refused_runs, 20_000);
    let c = fb.state("flaky").unwrap().counters;
    assert_eq!(c.injected, refused + refused_runs);
    assert_eq!(c.successes, calls);
    assert_eq!(c.asks_ok, N - refused + calls);
    assert_eq!((c.asks_blown, c.melts, c.blows, c.heals), (1_000, 2, 1, 1));
}

#[test]
fn fault_injection_rate_one_always_refuses_and_rate_zero_is_invalid() {
    let _watch = watchdog::watchdog(
        "alarms::fault_injection_rate_one_always_refuses_and_rate_zero_is_invalid",
        std::time::Duration::from_secs(90),
    );
    let (fb, _clock) = manual(1000 * SEC, 3);
    fb.install("all", FuseConfig::fault_injection(1.0, 1, 10 * SEC))
        .unwrap();
    let all = fb.fuse("all").unwrap();
    assert!((0..10_000).all(|_| all.ask() == Ask::Blown));
    assert_eq!(
        fb.run("all", || -> Result<(), ()> { panic!("must not be called") }),
        Err(RunError::Blown)
    );
    let snap = fb.state("all").unwrap();
    assert_eq!(snap.state, FuseState::Ok);
    let c = snap.counters;
    assert_eq!(
        (c.injected, c.asks_ok, c.asks_blown, c.melts),
        (10_001, 0, 0, 0)
    );

    // Rate 0 is outside (0, 1]: refused by install, naming the field, and the
    // fuse already installed under the name stays as it was.
    let err = fb
        .install("all", FuseConfig::fault_injection(0.0, 1, 10 * SEC))
        .unwrap_err();
    assert_eq!(err.field(), "strategy.rate");
    assert_eq!(
        fb.state("all").unwrap().config.strategy.injection_rate(),
        Some(1.0)
    );
    assert_eq!(all.ask(), Ask::Blown); // injected refusal 10,002
    assert!(fb
        .install("zero", FuseConfig::fault_injection(0.0, 1, 10 * SEC))
        .is_err());
    assert!(fb.ask("zero").is_err(), "nothing installed");

    // No injection at all (the meaning of rate 0): never refuses.
    fb.install("plain", FuseConfig::standard(1, 10 * SEC))
        .unwrap();
    assert!((0..10_000).all(|_| fb.ask("plain").unwrap() == Ask::Ok));
    let c = fb.state("plain").unwrap().counters;
    assert_eq!((c.asks_ok, c.injected), (10_000, 0));

    // Reinstalled without injection, it stops refusing; counters are kept.
    fb.install("all", FuseConfig::standard(1, 10 * SEC))
        .unwrap();
    assert!((0..1_000).all(|_| all.ask() == Ask::Ok));
    let c = fb.state("all").unwrap().counters;
    assert_eq!((c.injected, c.asks_ok), (10_002, 1_000));
}

// ---------------------------------------------------------------------------
// 4. The real clock
// ---------------------------------------------------------------------------

#[test]
fn a_blown_fuse_heals_on_the_real_clock_with_no_asks() {
    let _watch = watchdog::watchdog(
        "alarms::a_blown_fuse_heals_on_the_real_clock_with_no_asks",
        std::time::Duration::from_secs(90),
    );
    let fb = Fusebox::new();
    let sub = fb.subscribe();
    fb.install("db", touchy(50 * MS)).unwrap();
    let install = sub.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        install.kind,
        transition(None, Some(FuseState::Ok), Cause::Install)
    );

    let t0 = Instant::now();
    fb.melt("db").unwrap();
    let blow = sub.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        blow.kind,
        transition(Some(FuseState::Ok), Some(FuseState::Blown), Cause::Melt)
    );

    // Nobody asks: only the Fusebox's timer can heal it.
    let heal = sub.recv_timeout(Duration::from_secs(5)).unwrap();
    let waited = t0.elapsed();
    assert_eq!(
        heal.kind,
        transition(Some(FuseState::Blown), Some(FuseState::Ok), Cause::Heal)
    );
    assert!(waited >= 50 * MS, "healed early, after {waited:?}");
    assert!(
        waited < Duration::from_secs(5),
        "healed late, after {waited:?}"
    );
    // The event carries the deadline: the blow plus 50 ms, rounded up to
    // the state word's microsecond.
    let gap = heal.at - blow.at;
    assert!(
        gap >= 50 * MS && gap < 50 * MS + Duration::from_micros(1),
        "heal event {gap:?} after the blow"
    );

    let snap = fb.state("db").unwrap();
    assert_eq!(snap.state, FuseState::Ok);
    assert_eq!(snap.last_blow, Some(blow.at));
    assert_eq!(snap.next_heal, None);
    let c = snap.counters;
    assert_eq!((c.asks_ok, c.asks_blown), (0, 0), "no asks were made");
    assert_eq!((c.melts, c.blows, c.heals), (1, 1, 1));
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
}

/// A fuse healing in steps still refuses calls (all but a fraction, all but
/// its probes), so its alarm stays up until the program has run to its end;
/// then the usual clean looks clear it. (The contract's choice: an alarm
/// says "this dependency is not fully back yet".)
#[test]
fn a_fuse_healing_in_steps_stays_alarmed_until_fully_healed() {
    let _watch = watchdog::watchdog(
        "alarms::healing_in_steps",
        std::time::Duration::from_secs(90),
    );
    let (fb, clock) = manual(SEC, 3);
    let events = fb.subscribe();
    // Steps end between looks (every second), so no look and step fall due
    // at the same instant.
    let gradual = Heal::program([
        Step::Delay(5 * SEC + SEC / 2),
        Step::Gradual(0.5),
        Step::Delay(10 * SEC),
    ]);
    fb.install("gradual", FuseConfig::standard(0, 10 * SEC).heal(gradual))
        .unwrap();
    let probe = Heal::program([Step::Delay(5 * SEC + SEC / 2), Step::Probe(1)]);
    fb.install("probe", FuseConfig::standard(0, 10 * SEC).heal(probe))
        .unwrap();
    fb.melt("gradual").unwrap();
    fb.melt("probe").unwrap();
    let both = |since| {
        let mut v = alarm("gradual", since);
        v.extend(alarm("probe", since));
        v
    };
    clock.advance(SEC);
    assert_eq!(alarms(&fb), both(SEC));
    // In their admitting steps from 5.5 s on: still alarmed at every look.
    for t in 2..=15 {
        clock.advance(SEC);
        assert_eq!(alarms(&fb), both(SEC), "at {t} s");
    }
    // The gradual program ends at 15.5 s; three clean looks clear it at 18 s.
    clock.advance(2 * SEC); // 17 s
    assert_eq!(alarms(&fb), both(SEC), "two clean looks are not three");
    clock.advance(SEC); // 18 s
    assert_eq!(
        alarms(&fb),
        alarm("probe", SEC),
        "the probe step still refuses"
    );
    // The probe's success ends its program at 18.5 s; cleared three looks on.
    clock.advance(SEC / 2);
    assert_eq!(fb.run("probe", || Ok::<_, ()>(())), Ok(()));
    clock.advance(SEC / 2 + SEC); // 20 s
    assert_eq!(alarms(&fb), alarm("probe", SEC));
    clock.advance(SEC); // 21 s
    assert_eq!(alarms(&fb), vec![]);
    // One look sets both alarms; the monitor looks at fuses in no defined
    // order, so the log is compared in time order, then by name.
    let mut log = alarm_log(&drain(&events));
    log.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    assert_eq!(
        log,
        vec![
            set("gradual", SEC),
            set("probe", SEC),
            cleared("gradual", 18 * SEC),
            cleared("probe", 21 * SEC),
        ]
    );
}
