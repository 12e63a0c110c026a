//! Loom explores the valve's slot counting: the lock-free fast path racing
//! the locked queue, releases racing waiters joining the queue (the
//! Dekker-style handshake of `valve/engine.rs`), and cancellations racing
//! grants.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p fusebox --test loom_valve`
//! (plain `cargo test` runs it through `tests/loom_runner.rs`).
//!
//! Every test ends the same way: nothing runs, nothing waits, and the slots
//! are all free again (no leak, no double release).
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::{Fusebox, ManualClock, Refused, Valve, ValveConfig};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

fn valve(concurrency: usize, queue: usize) -> (Fusebox, Valve) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock)
        .alarm_period(Duration::from_secs(1_000_000))
        .build();
    fb.install_valve(
        "v",
        ValveConfig::new().concurrency(concurrency).queue(queue),
    )
    .unwrap();
    let v = fb.valve("v").unwrap();
    (fb, v)
}

/// Nothing runs, nothing waits, and all `n` slots can be taken again.
fn all_free(v: &Valve, n: usize) {
    assert_eq!((v.in_flight(), v.queued()), (0, 0));
    let permits: Vec<_> = (0..n)
        .map(|_| v.try_acquire().expect("a free slot"))
        .collect();
    assert_eq!(v.try_acquire().unwrap_err(), Refused::Busy);
    drop(permits);
    assert_eq!(v.in_flight(), 0);
}

/// Two tasks race for one slot on the lock-free path: never both inside.
#[test]
fn in_flight_never_exceeds_concurrency() {
    loom::model(|| {
        let (_fb, v) = valve(1, 0);
        let inside = Arc::new(AtomicUsize::new(0));
        let task = |v: Valve, inside: Arc<AtomicUsize>| {
            move || {
                if let Ok(p) = v.try_acquire() {
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two inside");
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(p);
                }
            }
        };
        let t = thread::spawn(task(v.clone(), inside.clone()));
        task(v.clone(), inside)();
        t.join().unwrap();
        all_free(&v, 1);
    });
}

/// A release racing a waiter that joins the queue: the waiter is never
/// stranded (it gets the slot), and the slot comes back afterwards.
#[test]
fn a_release_racing_a_new_waiter_hands_the_slot_on() {
    loom::model(|| {
        let (_fb, v) = valve(1, 1);
        let held = v.try_acquire().unwrap();
        let v2 = v.clone();
        let t = thread::spawn(move || {
            let p = v2
                .acquire_blocking()
                .expect("granted once the holder releases");
            drop(p);
        });
        drop(held);
        t.join().unwrap();
        all_free(&v, 1);
    });
}

/// A waiter whose future is dropped while the slot is being released: the
/// slot is either handed to it and given back, or never handed; it is
/// never lost and never freed twice.
#[test]
fn a_cancelled_waiter_never_leaks_or_double_frees_a_slot() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (_fb, v) = valve(1, 1);
        let held = v.try_acquire().unwrap();
        let v2 = v.clone();
        let t = thread::spawn(move || {
            let mut fut = pin!(v2.acquire());
            let mut cx = Context::from_waker(Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(p)) => drop(p),
                Poll::Ready(Err(r)) => panic!("refused: {r}"),
                Poll::Pending => {} // dropped while waiting: cancelled
            }
        });
        drop(held);
        t.join().unwrap();
        all_free(&v, 1);
    });
}

/// A `try_acquire` racing `release` (a thread freeing the one slot) while
/// `waiter` is queued: the newcomer is refused whoever goes first, the
/// waiter is served, and every slot is free afterwards.
fn newcomer_after_waiter(
    v: &Valve,
    mut waiter: std::pin::Pin<Box<fusebox::valve::Acquire>>,
    release: thread::JoinHandle<()>,
) {
    let jumped = v.try_acquire();
    release.join().unwrap();
    assert_eq!(
        jumped.as_ref().map(|_| ()).unwrap_err(),
        &Refused::Busy,
        "a try_acquire took the freed slot ahead of the queued waiter"
    );
    drop(jumped);
    match waiter
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(p)) => drop(p),
        other => panic!("the waiter was not served: {other:?}"),
    }
    drop(waiter);
    all_free(v, 1);
}

/// The lock-free fast path never admits ahead of a queued waiter: while a
/// release is handing the slot on, a `try_acquire` racing it finds the
/// waiter first and is refused, and the waiter gets the slot.
#[test]
fn the_fast_path_never_jumps_the_queue() {
    loom::model(|| {
        let (_fb, v) = valve(1, 1);
        let held = v.try_acquire().unwrap();
        let mut waiter = Box::pin(v.acquire());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(waiter.as_mut().poll(&mut cx).is_pending(), "queued");
        assert_eq!(v.queued(), 1);
        let t = thread::spawn(move || drop(held));
        newcomer_after_waiter(&v, waiter, t);
    });
}

/// A limit that shrank below the tasks running reopens when the last of
/// them ends: the slot it frees goes to the waiter, never to a newcomer on
/// the lock-free path racing that release (first come, first served).
#[test]
fn a_shrunk_limit_reopening_serves_the_waiter_first() {
    loom::model(|| {
        let (fb, v) = valve(2, 1);
        let first = v.try_acquire().unwrap();
        let second = v.try_acquire().unwrap();
        fb.install_valve("v", ValveConfig::new().concurrency(1).queue(1))
            .unwrap();
        let mut waiter = Box::pin(v.acquire());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(waiter.as_mut().poll(&mut cx).is_pending(), "queued");
        drop(first); // one runs, at the new limit: still no room
        assert!(waiter.as_mut().poll(&mut cx).is_pending(), "still queued");
        let t = thread::spawn(move || drop(second)); // the limit reopens
        newcomer_after_waiter(&v, waiter, t);
    });
}

/// A waker that re-enters the valve from its wake (here: it drops another
/// waiter's future) while a release races the grant: the wake runs after
/// the valve's lock is released, so no interleaving deadlocks.
#[test]
fn a_wake_that_re_enters_the_valve_never_deadlocks() {
    use std::sync::Mutex as StdMutex;
    use std::task::Wake;

    type Pending = std::pin::Pin<Box<fusebox::valve::Acquire>>;
    struct DropOther(StdMutex<Option<Pending>>);
    impl Wake for DropOther {
        fn wake(self: std::sync::Arc<Self>) {
            let other = self.0.lock().unwrap().take();
            drop(other);
        }
    }

    loom::model(|| {
        let (_fb, v) = valve(1, 2);
        let held = v.try_acquire().unwrap();
        let mut a = Box::pin(v.acquire());
        let mut b = Box::pin(v.acquire());
        let mut noop = Context::from_waker(Waker::noop());
        let dropper = std::sync::Arc::new(DropOther(StdMutex::new(None)));
        let waker = Waker::from(dropper.clone());
        // `a` first in line, then `b`; granting `a` wakes it, and its wake
        // drops `b`, which takes the valve's lock to leave the queue.
        assert!(a
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        assert!(b.as_mut().poll(&mut noop).is_pending());
        *dropper.0.lock().unwrap() = Some(b);
        let t = thread::spawn(move || drop(held));
        // A newcomer beside the release: refused, whoever goes first.
        assert_eq!(v.try_acquire().unwrap_err(), Refused::Busy);
        t.join().unwrap();
        assert!(dropper.0.lock().unwrap().is_none(), "the wake ran");
        match a.as_mut().poll(&mut noop) {
            Poll::Ready(Ok(p)) => drop(p),
            other => panic!("a was not served: {other:?}"),
        }
        drop(a);
        all_free(&v, 1);
    });
}

fn adaptive(initial: usize, queue: usize) -> (Fusebox, Valve) {
    let fb = Fusebox::builder()
        .clock(ManualClock::new())
        .alarm_period(Duration::from_secs(1_000_000))
        .build();
    let limit = fusebox::valve::Adaptive::aimd()
        .initial(initial)
        .min(1)
        .max(initial + 1)
        .backoff(0.5);
    fb.install_valve("v", ValveConfig::new().limit(limit).queue(queue))
        .unwrap();
    let v = fb.valve("v").unwrap();
    (fb, v)
}

/// An adaptive limit falls (2 to 1, a drop) while another task tries to
/// start: the limit and the count are one word, so no interleaving lets
/// the newcomer read the old limit and start once the count has fallen,
/// above the new one. Two run, then one: never a third, never a second
/// after the fall.
#[test]
fn a_falling_limit_never_admits_above_itself() {
    loom::model(|| {
        let (_fb, v) = adaptive(2, 0);
        let p0 = v.try_acquire().unwrap();
        let p1 = v.try_acquire().unwrap();
        let t = thread::spawn(move || p1.dropped());
        let late = v.try_acquire();
        assert_eq!(late.as_ref().map(|_| ()).unwrap_err(), &Refused::Busy);
        drop(late);
        t.join().unwrap();
        assert_eq!((v.limit(), v.in_flight()), (1, 1));
        p0.ignore(); // no sample: the limit stays 1
        all_free(&v, 1);
    });
}

/// An adaptive limit grows (2 to 3, a fast task that used its limit) while
/// a waiter joins the queue: the waiter is never stranded.
#[test]
fn a_growing_limit_racing_a_new_waiter_serves_it() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (_fb, v) = adaptive(2, 1);
        let p0 = v.try_acquire().unwrap();
        let p1 = v.try_acquire().unwrap();
        let v2 = v.clone();
        let t = thread::spawn(move || {
            let p = v2.acquire_blocking().expect("granted once there is room");
            drop(p);
        });
        drop(p1); // a sample: the limit grows to 3, and a slot frees
        t.join().unwrap();
        drop(p0);
        assert_eq!((v.in_flight(), v.queued()), (0, 0));
    });
}

/// Two passing rate checks race on the GCRA word outside the lock for the
/// bucket's last token: exactly one starts, the other is refused, and the
/// slot it took on the way is given back.
#[test]
fn two_rate_checks_race_for_the_last_token() {
    loom::model(|| {
        let fb = Fusebox::builder()
            .clock(ManualClock::new())
            .alarm_period(Duration::from_secs(1_000_000))
            .build();
        fb.install_valve(
            "v",
            ValveConfig::new()
                .concurrency(2)
                .rate(1, Duration::from_secs(1_000)),
        )
        .unwrap();
        let v = fb.valve("v").unwrap();
        let v2 = v.clone();
        let t = thread::spawn(move || v2.try_acquire().map(drop).is_ok());
        let mine = v.try_acquire().map(drop).is_ok();
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "one token, one start: {mine} {theirs}");
        assert_eq!((v.in_flight(), v.queued()), (0, 0));
        assert_eq!(v.snapshot().tokens, Some(0));
    });
}

/// A keyed valve's sweep racing a use of its key that outlasts the idle
/// TTL: the key is never evicted while the permit is held, whichever runs
/// first.
#[test]
fn a_keyed_valve_is_never_retired_under_a_permit() {
    use fusebox::keyed::{KeyedBuilder, KeyedValves};
    loom::model(|| {
        let clock = ManualClock::new();
        let fb = Fusebox::builder()
            .clock(clock.clone())
            .alarm_period(Duration::from_secs(1_000_000))
            .build();
        let t: KeyedValves<u32> = KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
            .idle_ttl(Duration::from_nanos(1))
            .sweep_every(Duration::from_secs(1_000_000))
            .build(&fb, "k")
            .unwrap();
        drop(t.try_acquire(&0).unwrap());
        clock.advance_quietly(Duration::from_secs(1)); // idle, no sweep run
        let user = {
            let (t, clock) = (t.clone(), clock.clone());
            thread::spawn(move || {
                let p = t.try_acquire(&0).expect("the only user");
                clock.advance_quietly(Duration::from_secs(1)); // held past the TTL
                assert_eq!(
                    t.snapshot(&0).map(|s| s.in_flight),
                    Some(1),
                    "evicted under a permit"
                );
                drop(p);
            })
        };
        t.sweep();
        user.join().unwrap();
        let s = t.stats();
        assert_eq!(s.promotions, s.keys as u64 + s.evictions, "{s:?}");
    });
}
