//! First come, first served: a task that arrives while others wait never
//! starts before them, even at the instant a slot or a token becomes free
//! with nobody yet to hand it on. (The lock-free fast path is the one place
//! that could let a newcomer jump the queue; it stands aside while anyone
//! waits. A shrinking limit that reopens is the same race between threads:
//! `tests/loom_valve.rs` explores it.)
//!
//! The clock moves with `advance_quietly`, as if the valve's timer were
//! late: a token is due, the waiter has not been served yet, and a newcomer
//! arrives in that gap.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::{Fusebox, ManualClock, Refused, ValveConfig};

fn rated() -> (ManualClock, Fusebox) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(Duration::from_secs(1_000_000))
        .build();
    fb.install_valve(
        "v",
        ValveConfig::new()
            .concurrency(8)
            .rate(1, Duration::from_secs(1))
            .burst(1)
            .queue(4)
            .max_wait(Duration::from_secs(60)),
    )
    .unwrap();
    (clock, fb)
}

#[test]
fn a_due_token_goes_to_the_waiter_not_to_a_newcomer() {
    let (clock, fb) = rated();
    let v = fb.valve("v").unwrap();
    let first = v.try_acquire().expect("the one token");
    let mut waiter = pin!(v.acquire());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        waiter.as_mut().poll(&mut cx).is_pending(),
        "no token: waits"
    );
    clock.advance_quietly(Duration::from_secs(1)); // a token is due
                                                   // Newcomers by every door: each finds the waiter ahead of it.
    assert_eq!(
        v.try_acquire().unwrap_err(),
        Refused::Busy,
        "try_acquire jumped the queue"
    );
    assert_eq!(
        v.try_pass().unwrap_err(),
        Refused::Busy,
        "try_pass jumped the queue"
    );
    match waiter.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(p)) => drop(p),
        other => panic!("the waiter did not get the due token: {other:?}"),
    }
    drop(first);
    assert_eq!((v.in_flight(), v.queued()), (0, 0));
}

#[test]
fn waiters_take_due_tokens_in_arrival_order() {
    let (clock, fb) = rated();
    let v = fb.valve("v").unwrap();
    let _first = v.try_acquire().unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut a = Box::pin(v.acquire());
    let mut b = Box::pin(v.acquire());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    for second in 1..=2 {
        clock.advance_quietly(Duration::from_secs(1));
        // A newcomer between two due tokens joins the back of the line.
        let mut late = Box::pin(v.acquire());
        assert!(
            late.as_mut().poll(&mut cx).is_pending(),
            "second {second}: a newcomer started ahead of two waiters"
        );
        drop(late);
        let (ready, waiting) = if second == 1 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        assert!(
            matches!(ready.as_mut().poll(&mut cx), Poll::Ready(Ok(_))),
            "second {second}: the earlier waiter was not served first"
        );
        if second == 1 {
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
        }
    }
}
