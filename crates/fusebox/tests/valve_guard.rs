//! The contract's valve guard (`fusebox::_contract`, section 3): a valve
//! guarded by a fuse refuses its waiters with `Blown` as soon as the fuse
//! blows (nobody waits for a dependency that is down), refuses new tasks with
//! `Blown` while the fuse refuses, and serves again once the fuse heals. On a
//! `ManualClock`.

#[path = "support/watchdog.rs"]
mod watchdog;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::{valve::Acquire, FuseConfig, Fusebox, Heal, ManualClock, Refused, ValveConfig};

const SEC: Duration = Duration::from_secs(1);

fn setup(max_melts: u32) -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(Duration::from_secs(1_000_000_000))
        .build();
    fb.install(
        "db",
        FuseConfig::standard(max_melts, 10 * SEC).heal(Heal::reset(5 * SEC)),
    )
    .unwrap();
    (fb, clock)
}

#[derive(Debug, PartialEq)]
enum Got {
    Ok,
    Err(Refused),
    Pending,
}

fn poll(f: &mut Pin<Box<Acquire>>) -> Got {
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(_permit)) => Got::Ok,
        Poll::Ready(Err(r)) => Got::Err(r),
        Poll::Pending => Got::Pending,
    }
}

#[test]
fn waiters_are_refused_at_once_when_the_fuse_blows_and_served_after_it_heals() {
    let _watch = watchdog::watchdog(
        "valve_guard::waiters_are_refused_at_once_when_the_fuse_blows_and_served_after_it_heals",
        std::time::Duration::from_secs(20),
    );
    // One melt is tolerated, the second blows.
    let (fb, clock) = setup(1);
    fb.install_valve(
        "api",
        ValveConfig::new()
            .concurrency(1)
            .queue(4)
            .max_wait(60 * SEC)
            .guard("db"),
    )
    .unwrap();
    let v = fb.valve("api").unwrap();
    let running = v.try_acquire().unwrap();
    let mut a = Box::pin(v.acquire());
    let mut b = Box::pin(v.acquire());
    assert_eq!(poll(&mut a), Got::Pending);
    assert_eq!(poll(&mut b), Got::Pending);
    assert_eq!(v.queued(), 2);

    // Melted but not blown: the waiters keep waiting.
    fb.melt("db").unwrap();
    assert_eq!(poll(&mut a), Got::Pending);
    assert_eq!(v.queued(), 2);

    // Blown: refused at once, without any time passing.
    fb.melt("db").unwrap();
    assert_eq!(v.queued(), 0);
    assert_eq!(poll(&mut a), Got::Err(Refused::Blown));
    assert_eq!(poll(&mut b), Got::Err(Refused::Blown));

    // New tasks are refused while the fuse is blown, waiting or not.
    assert_eq!(v.try_acquire().unwrap_err(), Refused::Blown);
    let mut c = Box::pin(v.acquire());
    assert_eq!(poll(&mut c), Got::Err(Refused::Blown));
    assert_eq!(
        v.run_blocking(|| unreachable!("refused")).unwrap_err(),
        Refused::Blown
    );
    // A running task finishes normally and frees its slot.
    drop(running);
    assert_eq!(v.in_flight(), 0);
    clock.advance(5 * SEC - Duration::from_nanos(1));
    assert_eq!(
        v.try_acquire().unwrap_err(),
        Refused::Blown,
        "not healed yet"
    );

    // Healed: served again.
    clock.advance(Duration::from_nanos(1));
    let p = v.try_acquire().unwrap();
    let mut d = Box::pin(v.acquire());
    assert_eq!(poll(&mut d), Got::Pending);
    drop(p);
    assert_eq!(poll(&mut d), Got::Ok);
    assert_eq!(v.in_flight(), 0);

    let s = v.snapshot();
    // a, b, try_acquire, c, run_blocking, try_acquire before the heal.
    assert_eq!(s.refused.blown, 6);
    assert_eq!(s.admitted, 3);
    assert_eq!(s.refused.total(), 6);
}

#[test]
fn a_blocked_thread_is_refused_when_the_fuse_blows() {
    let _watch = watchdog::watchdog(
        "valve_guard::a_blocked_thread_is_refused_when_the_fuse_blows",
        std::time::Duration::from_secs(20),
    );
    let (fb, _clock) = setup(0);
    fb.install_valve("api", ValveConfig::new().queue(1).guard("db"))
        .unwrap();
    let v = fb.valve("api").unwrap();
    let running = v.try_acquire().unwrap();
    let v2 = v.clone();
    let t = std::thread::spawn(move || v2.acquire_blocking().map(drop));
    while v.queued() == 0 {
        std::thread::yield_now();
    }
    fb.melt("db").unwrap();
    assert_eq!(t.join().unwrap(), Err(Refused::Blown));
    drop(running);
    assert_eq!(v.in_flight(), 0);
    assert_eq!(v.queued(), 0);
}

#[test]
fn a_disabled_fuse_refuses_like_a_blown_one() {
    let _watch = watchdog::watchdog(
        "valve_guard::a_disabled_fuse_refuses_like_a_blown_one",
        std::time::Duration::from_secs(20),
    );
    let (fb, _clock) = setup(0);
    fb.install_valve("api", ValveConfig::new().queue(1).guard("db"))
        .unwrap();
    let v = fb.valve("api").unwrap();
    let running = v.try_acquire().unwrap();
    let mut a = Box::pin(v.acquire());
    assert_eq!(poll(&mut a), Got::Pending);
    fb.disable("db").unwrap();
    assert_eq!(poll(&mut a), Got::Err(Refused::Blown));
    drop(running);
    assert_eq!(v.try_acquire().unwrap_err(), Refused::Blown);
    fb.enable("db").unwrap();
    assert!(v.try_acquire().is_ok());
}

/// A valve no longer guarded by a fuse (reconfigured to another guard, or
/// to none) keeps its waiters when that fuse blows.
#[test]
fn a_former_guard_blowing_leaves_the_waiters_alone() {
    let _watch = watchdog::watchdog(
        "valve_guard::a_former_guard_blowing_leaves_the_waiters_alone",
        std::time::Duration::from_secs(20),
    );
    let (fb, _clock) = setup(0);
    fb.install(
        "other",
        FuseConfig::standard(0, 10 * SEC).heal(Heal::reset(5 * SEC)),
    )
    .unwrap();
    fb.install_valve("api", ValveConfig::new().queue(2).guard("db"))
        .unwrap();
    let v = fb.valve("api").unwrap();
    let running = v.try_acquire().unwrap();
    fb.install_valve("api", ValveConfig::new().queue(2).guard("other"))
        .unwrap();
    let mut a = Box::pin(v.acquire());
    assert_eq!(poll(&mut a), Got::Pending);
    fb.melt("db").unwrap();
    assert_eq!(poll(&mut a), Got::Pending, "db guards api no more");
    fb.install_valve("api", ValveConfig::new().queue(2))
        .unwrap();
    fb.melt("other").unwrap();
    assert_eq!(poll(&mut a), Got::Pending, "nothing guards api any more");
    drop(running);
    assert_eq!(poll(&mut a), Got::Ok);
}

/// A guarding fuse in a `probe` step admits its probes itself; the valve
/// must not refuse them, or the fuse could never heal.
#[test]
fn a_guard_in_a_probe_step_lets_the_probes_through() {
    let _watch = watchdog::watchdog(
        "valve_guard::a_guard_in_a_probe_step_lets_the_probes_through",
        std::time::Duration::from_secs(20),
    );
    use fusebox::Step;
    let clock = fusebox::ManualClock::new();
    let fb = fusebox::Fusebox::builder().clock(clock.clone()).build();
    let heal = fusebox::Heal::program([Step::Delay(Duration::from_secs(1)), Step::Probe(1)]);
    fb.install(
        "db",
        fusebox::FuseConfig::standard(0, Duration::from_secs(10)).heal(heal),
    )
    .unwrap();
    fb.install_valve(
        "api",
        ValveConfig::new().concurrency(2).queue(4).guard("db"),
    )
    .unwrap();
    let (db, api) = (fb.fuse("db").unwrap(), fb.valve("api").unwrap());
    db.melt();
    assert_eq!(api.try_acquire().unwrap_err(), Refused::Blown);
    clock.advance(Duration::from_secs(1)); // probing now
    let permit = api
        .try_acquire()
        .expect("the valve lets the probe's task start");
    assert_eq!(db.run(|| Ok::<_, ()>(())), Ok(()));
    drop(permit);
    assert_eq!(fb.state("db").unwrap().state, fusebox::fuse::FuseState::Ok);
}
