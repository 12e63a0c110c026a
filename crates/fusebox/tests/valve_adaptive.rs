//! Adaptive concurrency, pathology by pathology (DESIGN.md section 7): each
//! test is a trap the users of Netflix concurrency-limits or Envoy's
//! adaptive concurrency filter fell into, on a `ManualClock`, exactly.

#[path = "support/watchdog.rs"]
mod watchdog;

use std::time::Duration;

use fusebox::event::{EventKind, ValveChange};
use fusebox::valve::Adaptive;
use fusebox::{Clock, Fusebox, ManualClock, Refused, Valve, ValveConfig};

const MS: Duration = Duration::from_millis(1);

fn valve(cfg: ValveConfig) -> (Fusebox, ManualClock, Valve) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .seed(7)
        .alarm_period(Duration::from_secs(1_000_000))
        .build();
    fb.install_valve("v", cfg).unwrap();
    let v = fb.valve("v").unwrap();
    (fb, clock, v)
}

/// Runs `n` tasks at once, each holding its slot for `each`, and ends them
/// the way `end` says.
fn round(v: &Valve, clock: &ManualClock, n: usize, each: Duration, end: &dyn Fn(fusebox::Permit)) {
    let permits: Vec<_> = (0..n).map(|_| v.try_acquire().expect("a slot")).collect();
    clock.advance(each);
    for p in permits {
        end(p);
    }
}

fn gradient() -> fusebox::valve::Gradient {
    Adaptive::gradient()
        .min(2)
        .max(50)
        .initial(10)
        .interval(10 * MS)
        .probe_samples(4)
        .probe_interval(Duration::from_secs(10))
        .probe_jitter(0.5)
}

/// concurrency-limits #176: refused requests answer in no time; counted as
/// latencies they would drag the no-load latency to zero. A refusal is no
/// sample: a thousand of them leave the limit and the measurement alone.
#[test]
fn a_refusal_is_no_sample() {
    let _w = watchdog::watchdog("a_refusal_is_no_sample", Duration::from_secs(30));
    let (_fb, clock, v) = valve(ValveConfig::new().limit(gradient()).queue(0));
    assert_eq!(v.limit(), 2, "probing at min");
    let held: Vec<_> = (0..2).map(|_| v.try_acquire().unwrap()).collect();
    for _ in 0..1000 {
        assert_eq!(v.try_acquire().unwrap_err(), Refused::Busy);
        assert_eq!(v.acquire_blocking().unwrap_err(), Refused::QueueFull);
    }
    let s = v.snapshot().limit.unwrap();
    assert!(s.probing && s.min_rtt.is_none() && s.changes == 0, "{s:?}");
    clock.advance(20 * MS);
    drop(held);
    round(&v, &clock, 2, 20 * MS, &drop);
    let s = v.snapshot().limit.unwrap();
    assert_eq!(
        s.min_rtt,
        Some(20 * MS),
        "the measurement saw only tasks that ran"
    );
    assert_eq!(v.limit(), 10);

    let (_fb, clock, v) = valve(ValveConfig::new().limit(Adaptive::aimd().initial(4)));
    let held: Vec<_> = (0..4).map(|_| v.try_acquire().unwrap()).collect();
    for _ in 0..1000 {
        assert_eq!(v.try_acquire().unwrap_err(), Refused::Busy);
    }
    clock.advance(MS);
    drop(held);
    // Four samples (the first started alone, with fewer than half the limit
    // in flight: no increase), three increases, no more.
    assert_eq!(v.limit(), 7);
}

/// A task cut short (its future dropped, its thread panicking) or given up
/// with `ignore` says nothing about the dependency's latency.
#[test]
fn cancelled_panicked_and_ignored_tasks_are_no_samples() {
    let _w = watchdog::watchdog("no_samples", Duration::from_secs(30));
    let (_fb, clock, v) = valve(ValveConfig::new().limit(Adaptive::aimd().initial(2)));
    let p = v.try_acquire().unwrap();
    p.ignore();
    let v2 = v.clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        v2.run_blocking(|| panic!("the task panics")).unwrap();
    }));
    assert!(r.is_err());
    {
        let mut fut = Box::pin(v.run(std::future::pending::<()>()));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(std::future::Future::poll(fut.as_mut(), &mut cx).is_pending());
        assert_eq!(v.in_flight(), 1);
        clock.advance(10 * Duration::from_secs(1)); // as slow as a timeout
    } // the caller gave up: dropped while the task ran
    assert_eq!(v.in_flight(), 0);
    let s = v.snapshot().limit.unwrap();
    assert_eq!((v.limit(), s.changes), (2, 0), "nothing learned");
}

/// concurrency-limits #137: timeouts that all take the same time look like
/// a perfectly steady latency, and a gradient would grow the limit to max.
/// Reported as drops (or caught by `timeout`), they bring it down to min.
#[test]
fn stable_timeouts_do_not_drive_the_limit_to_max() {
    let _w = watchdog::watchdog("stable_timeouts", Duration::from_secs(30));
    // Gradient, timeouts reported with `dropped`.
    let (_fb, clock, v) = valve(ValveConfig::new().limit(gradient()));
    round(&v, &clock, 2, 5 * MS, &drop); // the no-load latency: 5 ms
    round(&v, &clock, 2, 5 * MS, &drop);
    assert_eq!(v.limit(), 10);
    for _ in 0..200 {
        let n = v.limit();
        round(&v, &clock, n, Duration::from_secs(5), &|p| p.dropped());
    }
    let s = v.snapshot().limit.unwrap();
    assert_eq!(v.limit(), 2, "{s:?}");

    // Gradient with a timeout: the same tasks, not reported, caught anyway.
    let (_fb, clock, v) =
        valve(ValveConfig::new().limit(gradient().timeout(Duration::from_secs(5))));
    round(&v, &clock, 2, 5 * MS, &drop);
    round(&v, &clock, 2, 5 * MS, &drop);
    for _ in 0..200 {
        let n = v.limit();
        round(&v, &clock, n, Duration::from_secs(5), &drop);
    }
    assert_eq!(v.limit(), 2);

    // AIMD: a task exactly as slow as its timeout is a drop, not a success.
    let (_fb, clock, v) = valve(
        ValveConfig::new().limit(
            Adaptive::aimd()
                .initial(10)
                .max(50)
                .timeout(Duration::from_secs(5)),
        ),
    );
    for _ in 0..100 {
        let n = v.limit();
        round(&v, &clock, n, Duration::from_secs(5), &drop);
    }
    assert_eq!(v.limit(), 1);

    // The trap itself, for the record: not reported and with no timeout, a
    // steady latency is a healthy one, and the limit grows.
    let (_fb, clock, v) = valve(ValveConfig::new().limit(gradient()));
    for _ in 0..300 {
        let n = v.limit();
        round(&v, &clock, n, Duration::from_secs(5), &drop);
    }
    assert_eq!(v.limit(), 50);
}

/// Envoy #9947: the gradient pushed the limit below the configured minimum.
/// Here the limit stays in `[min, max]` whatever the latencies do.
#[test]
fn the_limit_stays_within_min_and_max() {
    let _w = watchdog::watchdog("min_max", Duration::from_secs(30));
    // The gradient's floor of 0.5 and its headroom settle at 4 (L = L/2 +
    // sqrt(L)); a min above that must hold.
    let (_fb, clock, v) = valve(ValveConfig::new().limit(gradient().min(6).smoothing(1.0)));
    round(&v, &clock, 6, MS, &drop);
    assert_eq!(v.limit(), 10);
    for _ in 0..8 {
        let n = v.limit();
        round(&v, &clock, n, Duration::from_secs(1), &drop); // 1000× the no-load latency
        assert!(v.limit() >= 6);
    }
    assert_eq!(v.limit(), 6);
    for i in 0..2000 {
        let n = v.limit();
        round(&v, &clock, n, MS, &drop);
        assert!(v.limit() <= 50, "round {i}");
    }
    assert_eq!(v.limit(), 50);

    let (_fb, clock, v) =
        valve(ValveConfig::new().limit(Adaptive::aimd().min(3).max(7).initial(5)));
    for _ in 0..20 {
        let n = v.limit();
        round(&v, &clock, n, MS, &|p| p.dropped());
        assert!(v.limit() >= 3);
    }
    assert_eq!(v.limit(), 3);
    for _ in 0..20 {
        let n = v.limit();
        round(&v, &clock, n, MS, &drop);
        assert!(v.limit() <= 7);
    }
    assert_eq!(v.limit(), 7);
}

/// A valve that is not using its limit learns nothing about the capacity
/// above it: one task at a time, fast, for ever, does not raise the limit.
#[test]
fn no_growth_while_the_valve_is_not_using_its_limit() {
    let _w = watchdog::watchdog("app_limited", Duration::from_secs(30));
    let (_fb, clock, v) = valve(ValveConfig::new().limit(Adaptive::aimd().initial(10)));
    for _ in 0..1000 {
        round(&v, &clock, 4, MS, &drop); // 4 of 10: fewer than half
    }
    assert_eq!(v.limit(), 10);
    round(&v, &clock, 5, MS, &drop); // the fifth started with half running
    assert_eq!(v.limit(), 11);

    let (_fb, clock, v) = valve(ValveConfig::new().limit(gradient()));
    round(&v, &clock, 2, MS, &drop);
    round(&v, &clock, 2, MS, &drop);
    assert_eq!(v.limit(), 10);
    for _ in 0..1000 {
        round(&v, &clock, 4, MS, &drop); // at the no-load latency, 4 of 10
    }
    assert_eq!(v.limit(), 10);
    for _ in 0..30 {
        round(&v, &clock, 5, MS, &drop); // windows whose busiest task had 5
    }
    assert!(v.limit() > 10);
}

/// concurrency-limits #165: a no-load latency that only a long average
/// remembers drifts. Here it is measured again every probe interval
/// (lengthened by the jitter), at `min`, and follows the dependency both
/// ways.
#[test]
fn the_no_load_latency_is_measured_again_with_jitter() {
    let _w = watchdog::watchdog("reprobe", Duration::from_secs(30));
    let (_fb, clock, v) = valve(ValveConfig::new().limit(gradient()));
    round(&v, &clock, 2, 5 * MS, &drop);
    round(&v, &clock, 2, 5 * MS, &drop);
    let s = v.snapshot().limit.unwrap();
    assert_eq!(s.min_rtt, Some(5 * MS));
    let next = s.next_probe.unwrap();
    let probe_from = clock.now();
    assert!(
        next >= probe_from + Duration::from_secs(10)
            && next <= probe_from + Duration::from_secs(15),
        "10 s + up to 50 %: {next:?}"
    );
    // The dependency is now slower, for good: 40 ms per task.
    while clock.now() < next {
        let n = v.limit();
        round(&v, &clock, n, 40 * MS, &drop);
    }
    assert_eq!(v.limit(), 2, "at min: 40 ms is 8 × the old no-load latency");
    let s = v.snapshot().limit.unwrap();
    assert!(s.probing, "the probe started once its time passed");
    round(&v, &clock, 2, 40 * MS, &drop);
    round(&v, &clock, 2, 40 * MS, &drop);
    let s = v.snapshot().limit.unwrap();
    assert!(!s.probing);
    assert_eq!(s.min_rtt, Some(40 * MS), "measured again: it moved up");
    for _ in 0..200 {
        let n = v.limit();
        round(&v, &clock, n, 40 * MS, &drop);
    }
    assert_eq!(v.limit(), 50, "40 ms is the new normal: the limit recovers");

    // Two fleets of valves seeded apart do not probe in step.
    let next_of = |seed| {
        let clock = ManualClock::new();
        let fb = Fusebox::builder().clock(clock.clone()).seed(seed).build();
        fb.install_valve("v", ValveConfig::new().limit(gradient()))
            .unwrap();
        let v = fb.valve("v").unwrap();
        round(&v, &clock, 2, 5 * MS, &drop);
        round(&v, &clock, 2, 5 * MS, &drop);
        v.snapshot().limit.unwrap().next_probe.unwrap()
    };
    assert_ne!(next_of(1), next_of(2));
    assert_eq!(next_of(3), next_of(3), "one seed, one time");
}

/// When the limit falls, running tasks finish, and nothing starts (not a
/// waiter, not a `try_acquire`) until fewer than the new limit run.
#[test]
fn a_falling_limit_lets_running_tasks_finish_and_starts_nothing() {
    let _w = watchdog::watchdog("falling_limit", Duration::from_secs(30));
    let (_fb, clock, v) = valve(
        ValveConfig::new()
            .limit(Adaptive::aimd().initial(10).backoff(0.5))
            .queue(8),
    );
    let mut running: Vec<_> = (0..10).map(|_| v.try_acquire().unwrap()).collect();
    clock.advance(MS);
    running.pop().unwrap().dropped(); // 10 → 5
    assert_eq!((v.limit(), v.in_flight()), (5, 9));
    let mut waiter = Box::pin(v.acquire());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(std::future::Future::poll(waiter.as_mut(), &mut cx).is_pending());
    for expect in (5..9).rev() {
        assert_eq!(v.try_acquire().unwrap_err(), Refused::Busy);
        running.pop().unwrap().ignore();
        assert_eq!(v.in_flight(), expect);
    }
    assert!(
        std::future::Future::poll(waiter.as_mut(), &mut cx).is_pending(),
        "5 of 5"
    );
    running.pop().unwrap().ignore();
    assert!(matches!(
        std::future::Future::poll(waiter.as_mut(), &mut cx),
        std::task::Poll::Ready(Ok(_))
    ));
}

/// Events report the limit's moves, bounded: a change of a tenth at least,
/// at most one a second, however many tasks end.
#[test]
fn limit_events_are_bounded() {
    let _w = watchdog::watchdog("limit_events", Duration::from_secs(30));
    let (fb, clock, v) = valve(ValveConfig::new().limit(Adaptive::aimd().initial(10).max(1000)));
    let events = fb.subscribe();
    let mut tasks = 0;
    for _ in 0..300 {
        let n = v.limit();
        round(&v, &clock, n, 10 * MS, &drop); // 3 s in all
        tasks += n;
    }
    assert_eq!(v.limit(), 1000);
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let EventKind::Valve {
            change: ValveChange::Limit { from, to },
        } = e.kind
        {
            seen.push((e.at, from, to));
        }
    }
    assert!(tasks > 10_000);
    assert!(!seen.is_empty() && seen.len() <= 4, "{seen:?}");
    for w in seen.windows(2) {
        assert!(w[1].0 - w[0].0 >= Duration::from_secs(1), "{seen:?}");
    }
    assert_eq!(seen[0].1, 10);
}
