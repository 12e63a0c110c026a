//! Retries on a `ManualClock`, rule by rule (the rules of
//! `retry/backoff.rs` and `retry/policy.rs`):
//!
//! * B1 without jitter the waits are exact; B2 full jitter stays within
//!   `[0, min(cap, base·factor^n)]`; B3 decorrelated jitter within
//!   `[base, min(cap, 3·prev)]`; B4 the cap holds and nothing overflows at
//!   any attempt count; B5 a seeded retry waits exactly the delays its
//!   stream gives.
//! * P1 only a failure is retried: never a refusal (blown, disabled,
//!   valve), never an ignored result; P2 at most `max_attempts`; P3 no
//!   retry starts at or after the deadline; P4 an empty budget ends the
//!   retries; P5 invalid policies are refused.

use std::future::Future as _;
use std::time::Duration;

use fusebox::retry::{Backoff, Class, Retry, RetryBudget, RetryPolicy, Stop};
use fusebox::rng::{mix, SplitMix64};
use fusebox::{Clock, FuseConfig, Fusebox, ManualClock, Outcome, Refused, RunError};
use proptest::prelude::{any, prop_assert, proptest, ProptestConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn waits(b: &Backoff, n: u32, seed: u64) -> Vec<Duration> {
    let mut rng = SplitMix64::new(seed);
    let mut prev = Duration::ZERO;
    (0..n)
        .map(|i| {
            prev = b.delay(i, prev, &mut rng);
            prev
        })
        .collect()
}

/// A retry whose waits advance `clock`.
fn retry_on(clock: &ManualClock, policy: RetryPolicy) -> Retry {
    Retry::builder(policy)
        .clock(clock.clone())
        .seed(7)
        .build()
        .unwrap()
}

#[test]
fn b1_sequences_without_jitter_are_exact() {
    let e = Backoff::exponential(ms(100), 2.0, ms(1_000));
    assert_eq!(
        waits(&e, 7, 0),
        [
            ms(100),
            ms(200),
            ms(400),
            ms(800),
            ms(1_000),
            ms(1_000),
            ms(1_000)
        ]
    );
    let e3 = Backoff::exponential(ms(10), 3.0, ms(100));
    assert_eq!(waits(&e3, 4, 0), [ms(10), ms(30), ms(90), ms(100)]);
    assert_eq!(waits(&Backoff::constant(ms(5)), 3, 0), [ms(5); 3]);
    assert_eq!(waits(&Backoff::none(), 2, 0), [Duration::ZERO; 2]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn b2_full_jitter_stays_within_its_bound(
        seed in any::<u64>(), base in 0u64..10_000, extra in 0u64..1_000_000, factor in 1.0f64..4.0,
    ) {
        let cap = base + extra;
        let b = Backoff::exponential(Duration::from_micros(base), factor, Duration::from_micros(cap))
            .full_jitter();
        for (n, d) in waits(&b, 40, seed).into_iter().enumerate() {
            let bound = (base as f64 * factor.powi(n as i32)).min(cap as f64);
            prop_assert!(d.as_nanos() as f64 <= bound * 1000.0 + 1.0, "retry {}: {:?} > {}", n, d, bound);
            prop_assert!(d <= Duration::from_micros(cap));
        }
    }

    #[test]
    fn b3_decorrelated_jitter_stays_within_its_bound(
        seed in any::<u64>(), base in 1u64..10_000, extra in 0u64..1_000_000,
    ) {
        let (base, cap) = (Duration::from_micros(base), Duration::from_micros(base + extra));
        let b = Backoff::exponential(base, 2.0, cap).decorrelated_jitter();
        let mut prev = base;
        for d in waits(&b, 40, seed) {
            prop_assert!(d >= base.min(cap) && d <= cap);
            prop_assert!(d <= (prev * 3).min(cap), "{:?} > 3 · {:?}", d, prev);
            prev = d;
        }
    }

    #[test]
    fn b4_the_cap_holds_at_any_attempt_count(
        seed in any::<u64>(), n in any::<u32>(), factor in 1.0f64..1e6,
    ) {
        let cap = Duration::from_secs(30);
        for b in [
            Backoff::exponential(ms(1), factor, cap),
            Backoff::exponential(ms(1), factor, cap).full_jitter(),
            Backoff::exponential(ms(1), factor, cap).decorrelated_jitter(),
        ] {
            let mut rng = SplitMix64::new(seed);
            prop_assert!(b.delay(n, cap, &mut rng) <= cap);
        }
    }
}

#[test]
fn b4_no_overflow_at_the_extremes() {
    let mut rng = SplitMix64::new(1);
    let max = Duration::from_nanos(u64::MAX);
    for b in [
        Backoff::exponential(max, 1e300, max),
        Backoff::exponential(max, 1e300, max).full_jitter(),
        Backoff::exponential(max, 2.0, max).decorrelated_jitter(),
        Backoff::constant(Duration::MAX),
    ] {
        for n in [0, 1, 63, 64, 1_000, u32::MAX] {
            assert!(b.delay(n, max, &mut rng) <= max);
        }
    }
    let b = Backoff::exponential(ms(1), 2.0, Duration::from_secs(3600));
    assert_eq!(
        b.delay(u32::MAX, Duration::ZERO, &mut rng),
        Duration::from_secs(3600)
    );
}

#[test]
fn b5_a_seeded_retry_waits_exactly_its_streams_delays() {
    let clock = ManualClock::new();
    let backoff = Backoff::exponential(ms(100), 2.0, ms(5_000)).full_jitter();
    let retry = Retry::builder(RetryPolicy::new(6).backoff(backoff))
        .clock(clock.clone())
        .seed(42)
        .build()
        .unwrap();
    let mut at = Vec::new();
    let _ = retry.run(|| {
        at.push(clock.now());
        Err::<(), _>("down")
    });
    // Run 0 draws from SplitMix64::new(mix(42 + 0)).
    let want = waits(&backoff, 5, mix(42));
    let mut t = Duration::ZERO;
    let mut starts = vec![t];
    for w in &want {
        t += *w;
        starts.push(t);
    }
    assert_eq!(at, starts);
    // The second run draws from the next stream.
    let before = clock.now();
    let _ = retry.run(|| Err::<(), _>("down"));
    assert_eq!(
        clock.now() - before,
        waits(&backoff, 5, mix(43)).iter().sum()
    );
}

#[test]
fn p1_a_blown_fuse_is_never_retried() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    let db = fb.fuse("db").unwrap();
    db.melt();
    let retry = retry_on(
        &clock,
        RetryPolicy::new(5).backoff(Backoff::constant(ms(100))),
    );
    let mut calls = 0;
    let e = retry
        .run_fuse(&db, || {
            calls += 1;
            Ok::<_, ()>(1)
        })
        .unwrap_err();
    assert_eq!((calls, e.attempts(), e.stop()), (0, 1, Stop::Refused));
    assert_eq!(*e.error(), RunError::Blown);
    assert_eq!(clock.now(), Duration::ZERO, "no wait after a refusal");
    assert_eq!(retry.stats().retries, 0);
    assert_eq!(retry.stats().refused, 1);
}

#[test]
fn p1_a_fuse_that_blows_mid_run_ends_the_retries() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("db", FuseConfig::standard(2, Duration::from_secs(10)))
        .unwrap();
    let db = fb.fuse("db").unwrap();
    let retry = retry_on(
        &clock,
        RetryPolicy::new(10).backoff(Backoff::constant(ms(10))),
    );
    let mut calls = 0;
    let e = retry
        .run_fuse(&db, || {
            calls += 1;
            Err::<(), _>("down")
        })
        .unwrap_err();
    // Three melts blow it (max_melts 2); the fourth attempt is refused.
    assert_eq!((calls, e.attempts(), e.stop()), (3, 4, Stop::Refused));
    assert_eq!(fb.state("db").unwrap().counters.melts, 3);
}

#[test]
fn p1_a_disabled_fuse_is_never_retried() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))
        .unwrap();
    fb.disable("db").unwrap();
    let db = fb.fuse("db").unwrap();
    let retry = retry_on(&clock, RetryPolicy::new(5));
    let e = retry.run_fuse(&db, || Ok::<_, ()>(1)).unwrap_err();
    assert_eq!((e.attempts(), e.stop()), (1, Stop::Refused));
}

#[test]
fn p1_a_valve_refusal_is_never_retried() {
    let clock = ManualClock::new();
    let retry = retry_on(&clock, RetryPolicy::new(5));
    let mut calls = 0;
    let e = retry
        .run_classified(
            || {
                calls += 1;
                Err::<(), _>(Refused::QueueFull)
            },
            Class::of_refused,
        )
        .unwrap_err();
    assert_eq!((calls, e.attempts(), e.stop()), (1, 1, Stop::Refused));
}

#[test]
fn p1_an_ignored_outcome_is_never_retried() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("api", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    let api = fb.fuse("api").unwrap();
    let retry = retry_on(&clock, RetryPolicy::new(5));
    let status = |r: &Result<(), u16>| match r {
        Ok(_) => Outcome::Success,
        Err(c) if *c < 500 => Outcome::Ignored,
        Err(_) => Outcome::Failure,
    };
    let mut calls = 0;
    let e = retry
        .run_fuse_classified(
            &api,
            || {
                calls += 1;
                Err(404)
            },
            status,
        )
        .unwrap_err();
    assert_eq!((calls, e.attempts(), e.stop()), (1, 1, Stop::NotRetryable));
    assert_eq!(fb.state("api").unwrap().counters.melts, 0);
    // A 503 is a failure: it melts (and blows this max_melts = 0 fuse), and the retry is refused.
    let e = retry
        .run_fuse_classified(&api, || Err(503), status)
        .unwrap_err();
    assert_eq!((e.attempts(), e.stop()), (2, Stop::Refused));
}

#[test]
fn p2_at_most_max_attempts() {
    let clock = ManualClock::new();
    for max in 1..6 {
        let retry = retry_on(&clock, RetryPolicy::new(max));
        let mut calls = 0;
        let e = retry
            .run(|| {
                calls += 1;
                Err::<(), _>(calls)
            })
            .unwrap_err();
        assert_eq!((calls, e.attempts(), e.stop()), (max, max, Stop::Exhausted));
        assert_eq!(e.into_inner(), max, "the last error is returned");
        assert_eq!(retry.stats().retries, u64::from(max - 1));
    }
    let retry = retry_on(&clock, RetryPolicy::new(5));
    let mut calls = 0;
    assert_eq!(
        retry.run(|| {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(())
            }
        }),
        Ok(3)
    );
    assert_eq!(retry.stats().successes, 1);
}

#[test]
fn p3_no_retry_starts_at_or_after_the_deadline() {
    // Waits of 100 ms: attempts at 0, 100, 200 ms; one at 300 ms would start
    // at or after a deadline of 250 or 300 ms, but not of 301 ms.
    for (deadline, want) in [(250, 3), (300, 3), (301, 4), (1_000, 5)] {
        let clock = ManualClock::new();
        let policy = RetryPolicy::new(5)
            .backoff(Backoff::constant(ms(100)))
            .deadline(ms(deadline));
        let retry = retry_on(&clock, policy);
        let mut starts = Vec::new();
        let e = retry
            .run(|| {
                starts.push(clock.now());
                Err::<(), _>(())
            })
            .unwrap_err();
        assert_eq!(e.attempts(), want, "deadline {deadline} ms");
        let stop = if want == 5 {
            Stop::Exhausted
        } else {
            Stop::Deadline
        };
        assert_eq!(e.stop(), stop);
        assert!(starts.iter().all(|t| *t < ms(deadline)));
        // The wait that would reach the deadline is not slept.
        assert_eq!(clock.now(), ms(100) * (want - 1));
    }
}

#[test]
fn p3_time_spent_in_the_call_counts_toward_the_deadline() {
    let clock = ManualClock::new();
    let policy = RetryPolicy::new(10)
        .backoff(Backoff::constant(ms(10)))
        .deadline(ms(100));
    let retry = retry_on(&clock, policy);
    let e = retry
        .run(|| {
            clock.advance(ms(40));
            Err::<(), _>(())
        })
        .unwrap_err();
    // Attempts start at 0, 50 ms; the next would start at 100 ms.
    assert_eq!((e.attempts(), e.stop()), (2, Stop::Deadline));
}

#[test]
fn p4_an_empty_budget_ends_the_retries() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
    let retry = Retry::builder(RetryPolicy::new(3))
        .clock(clock.clone())
        .budget(budget.clone())
        .build()
        .unwrap();
    // The first run's deposit is half a retry: none allowed.
    let e = retry.run(|| Err::<(), _>(())).unwrap_err();
    assert_eq!((e.attempts(), e.stop()), (1, Stop::BudgetExhausted));
    // The second run's deposit makes a whole one: one retry, then empty.
    let e = retry.run(|| Err::<(), _>(())).unwrap_err();
    assert_eq!((e.attempts(), e.stop()), (2, Stop::BudgetExhausted));
    assert_eq!(budget.stats().withdrawals, 1);
    assert_eq!(budget.stats().exhausted, 2);
    assert_eq!(budget.stats().deposits, 2);
    assert_eq!(retry.stats().budget_exhausted, 2);
}

#[test]
fn p4_the_budget_is_not_spent_on_a_retry_the_policy_forbids() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 0.0).unwrap();
    let retry = Retry::builder(RetryPolicy::new(1))
        .clock(clock.clone())
        .budget(budget.clone())
        .build()
        .unwrap();
    let _ = retry.run(|| Err::<(), _>(()));
    assert_eq!(budget.stats().withdrawals + budget.stats().exhausted, 0);
}

#[test]
fn p5_invalid_policies_are_refused() {
    let bad = [
        (RetryPolicy::new(0), "max_attempts"),
        (
            RetryPolicy::new(2).backoff(Backoff::exponential(ms(1), 0.5, ms(10))),
            "backoff.factor",
        ),
        (
            RetryPolicy::new(2).backoff(Backoff::exponential(ms(1), f64::NAN, ms(10))),
            "backoff.factor",
        ),
        (
            RetryPolicy::new(2).backoff(Backoff::exponential(ms(1), f64::INFINITY, ms(10))),
            "backoff.factor",
        ),
        (
            RetryPolicy::new(2).backoff(Backoff::exponential(ms(10), 2.0, ms(1))),
            "backoff.cap",
        ),
        (RetryPolicy::new(2).deadline(Duration::ZERO), "deadline"),
    ];
    for (policy, field) in bad {
        let e = Retry::new(policy).unwrap_err();
        assert_eq!(e.field(), field);
        assert!(e.to_string().starts_with("invalid retry config"), "{e}");
    }
}

#[test]
fn async_retries_wait_on_the_given_timer() {
    let clock = ManualClock::new();
    let retry = retry_on(
        &clock,
        RetryPolicy::new(4).backoff(Backoff::constant(ms(25))),
    );
    let mut n = 0;
    let fut = retry.call_with(
        || {
            n += 1;
            let k = n;
            async move {
                if k < 4 {
                    Err(k)
                } else {
                    Ok(k)
                }
            }
        },
        Class::of_result,
        |d| {
            clock.advance(d);
            std::future::ready(())
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(fut), Ok(4));
    assert_eq!(clock.now(), ms(75));
}

#[tokio::test]
async fn async_on_tokio_never_retries_a_blown_fuse() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    let db = fb.fuse("db").unwrap();
    let retry = Retry::new(RetryPolicy::new(5).backoff(Backoff::constant(ms(1)))).unwrap();
    let (built, ran) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let e = retry
        .call_fuse(&db, || {
            built.set(built.get() + 1);
            let ran = &ran;
            async move {
                ran.set(ran.get() + 1);
                Err::<(), _>("down")
            }
        })
        .await
        .unwrap_err();
    // The first failure blows the fuse (max_melts 0); the retry is refused:
    // its future is built, as `Fuse::call` takes a future, but never polled.
    assert_eq!((ran.get(), e.attempts(), e.stop()), (1, 2, Stop::Refused));
    assert_eq!(built.get(), 2);
    let mut n = 0;
    let out = retry
        .call(|| {
            n += 1;
            let k = n;
            async move {
                if k < 3 {
                    Err(())
                } else {
                    Ok(k)
                }
            }
        })
        .await;
    assert_eq!(out, Ok(3));
}

#[test]
fn a_dropped_async_run_makes_no_further_attempt() {
    let clock = ManualClock::new();
    let retry = retry_on(
        &clock,
        RetryPolicy::new(5).backoff(Backoff::constant(ms(10))),
    );
    let calls = std::cell::Cell::new(0);
    {
        let fut = retry.call_with(
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(()) }
            },
            Class::of_result,
            |_| std::future::pending::<()>(),
        );
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending()); // waiting before retry 1
    }
    assert_eq!(calls.get(), 1);
    assert_eq!(retry.stats().calls, 1);
    assert_eq!(
        retry.stats().retries,
        1,
        "the withdrawn retry stays counted"
    );
}
