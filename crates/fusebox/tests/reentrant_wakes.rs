//! A waker may do anything when it is woken: run the woken task inline,
//! drop another future, release a permit, melt a fuse. fusebox wakes only
//! once it holds none of its locks (`src/sync.rs`), so each of these, done
//! from inside a wake, completes. Before that rule, every test here hung on
//! a lock its own thread held; the watchdog turns such a hang into a failure
//! within seconds.

#[path = "support/watchdog.rs"]
mod watchdog;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use fusebox::fuse::FuseState;
use fusebox::{FuseConfig, Fusebox, ManualClock, Permit, Refused, Valve, ValveConfig};

/// A waker that runs `f` (once) when woken.
struct OnWake(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Wake for OnWake {
    fn wake(self: Arc<Self>) {
        let f = self.0.lock().unwrap().take();
        if let Some(f) = f {
            f();
        }
    }
}

fn on_wake(f: impl FnOnce() + Send + 'static) -> Waker {
    Waker::from(Arc::new(OnWake(Mutex::new(Some(Box::new(f))))))
}

type Pending = Pin<Box<dyn Future<Output = Result<Permit, Refused>> + Send>>;

fn fusebox() -> Fusebox {
    Fusebox::builder()
        .clock(ManualClock::new())
        .alarm_period(Duration::from_secs(1_000_000))
        .build()
}

fn valve(fb: &Fusebox, concurrency: usize, guard: Option<&str>) -> Valve {
    let mut config = ValveConfig::new().concurrency(concurrency).queue(8);
    if let Some(g) = guard {
        config = config.guard(g);
    }
    fb.install_valve("v", config).unwrap();
    fb.valve("v").unwrap()
}

/// Polls `f` once with `waker`; it must still wait.
fn park(f: &mut Pending, waker: &Waker) {
    assert!(f
        .as_mut()
        .poll(&mut Context::from_waker(waker))
        .is_pending());
}

/// Polls `f` once more; it must have been granted (the permit is dropped).
fn granted(f: &mut Pending, what: &str) {
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(p)) => drop(p),
        other => panic!("{what} was not granted: {other:?}"),
    }
}

fn within_seconds(what: &'static str) -> watchdog::Watchdog {
    watchdog::watchdog(what, Duration::from_secs(20))
}

#[test]
fn a_wake_that_drops_another_waiter_completes() {
    let _w = within_seconds("a_wake_that_drops_another_waiter_completes");
    let fb = fusebox();
    let v = valve(&fb, 1, None);
    let held = v.try_acquire().unwrap();
    let b: Arc<Mutex<Option<Pending>>> = Arc::new(Mutex::new(Some(Box::pin(v.acquire()))));
    let mut a: Pending = Box::pin(v.acquire());
    let dropped = b.clone();
    park(
        &mut a,
        &on_wake(move || drop(dropped.lock().unwrap().take())),
    );
    park(b.lock().unwrap().as_mut().unwrap(), Waker::noop());
    assert_eq!(v.queued(), 2);
    drop(held); // grants `a`, whose wake drops `b`: the valve's lock is free
    assert!(b.lock().unwrap().is_none(), "the wake ran");
    assert_eq!(v.queued(), 0);
    granted(&mut a, "a");
    assert_eq!(v.in_flight(), 0);
}

#[test]
fn a_wake_that_releases_a_permit_completes() {
    let _w = within_seconds("a_wake_that_releases_a_permit_completes");
    let fb = fusebox();
    let v = valve(&fb, 2, None);
    let first = v.try_acquire().unwrap();
    let second = Arc::new(Mutex::new(Some(v.try_acquire().unwrap())));
    let mut a: Pending = Box::pin(v.acquire());
    let mut b: Pending = Box::pin(v.acquire());
    let released = second.clone();
    park(
        &mut a,
        &on_wake(move || drop(released.lock().unwrap().take())),
    );
    park(&mut b, Waker::noop());
    // Frees a slot for `a`; its wake frees another while `b` waits, which
    // takes the valve's lock to hand the slot on to `b`.
    drop(first);
    assert!(second.lock().unwrap().is_none(), "the wake ran");
    granted(&mut a, "a");
    granted(&mut b, "b");
    assert_eq!((v.in_flight(), v.queued()), (0, 0));
}

#[test]
fn a_wake_that_runs_the_task_inline_completes() {
    let _w = within_seconds("a_wake_that_runs_the_task_inline_completes");
    let fb = fusebox();
    let v = valve(&fb, 1, None);
    let held = v.try_acquire().unwrap();
    let a: Arc<Mutex<Option<Pending>>> = Arc::new(Mutex::new(Some(Box::pin(v.acquire()))));
    let mut b: Pending = Box::pin(v.acquire());
    let ran = Arc::new(Mutex::new(false));
    // The executor of `a` polls it as soon as it is woken, on the waking
    // thread, and the task ends at once: its permit is released there.
    let (task, done) = (a.clone(), ran.clone());
    let inline = on_wake(move || {
        let mut f = task.lock().unwrap().take().unwrap();
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(permit)) => drop(permit),
            other => panic!("woken but not granted: {other:?}"),
        }
        *done.lock().unwrap() = true;
    });
    park(a.lock().unwrap().as_mut().unwrap(), &inline);
    park(&mut b, Waker::noop());
    drop(held);
    assert!(*ran.lock().unwrap(), "the task ran inline");
    granted(&mut b, "b");
    assert_eq!((v.in_flight(), v.queued()), (0, 0));
}

#[test]
fn a_wake_from_a_blowing_guard_may_use_the_fuse() {
    let _w = within_seconds("a_wake_from_a_blowing_guard_may_use_the_fuse");
    let fb = fusebox();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    let v = valve(&fb, 1, Some("db"));
    let held = v.try_acquire().unwrap();
    let db = fb.fuse("db").unwrap();
    let mut a: Pending = Box::pin(v.acquire());
    let (fuse, asked) = (db.clone(), Arc::new(Mutex::new(None)));
    let seen = asked.clone();
    // The blow refuses `a` under the fuse's lock; its wake asks the fuse.
    park(
        &mut a,
        &on_wake(move || *seen.lock().unwrap() = Some(fuse.ask().is_ok())),
    );
    db.melt();
    assert_eq!(
        *asked.lock().unwrap(),
        Some(false),
        "woken, and saw it blown"
    );
    match a.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Err(Refused::Blown)) => {}
        other => panic!("not refused as blown: {other:?}"),
    }
    drop(held);
}

#[test]
fn a_subscriber_woken_by_a_melt_may_melt_the_same_fuse() {
    let _w = within_seconds("a_subscriber_woken_by_a_melt_may_melt_the_same_fuse");
    let fb = fusebox();
    fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))
        .unwrap();
    let db = fb.fuse("db").unwrap();
    let sub = fb.subscribe();
    while sub.try_recv().is_ok() {} // the install event
    let fuse = db.clone();
    let waker = on_wake(move || fuse.melt());
    assert!(sub.poll_recv(&mut Context::from_waker(&waker)).is_pending());
    // Each melt of a standard fuse is an event only when it changes the
    // state, so blow it: the subscriber is woken under the blow and melts.
    for _ in 0..6 {
        db.melt();
    }
    assert!(sub.try_recv().is_ok(), "the blow was published");
    let state = fb.state("db").unwrap().state;
    assert_eq!(state, FuseState::Blown);
}
