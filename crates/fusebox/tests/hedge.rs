//! Hedging on a `ManualClock` (`fusebox::pipeline`, `_contract` section 5.2):
//! generated calls against a plain model, then one test per rule that a
//! model cannot show (what a dropped loser frees).
//!
//! The model: attempt 0 starts at 0; hedge `k` (1 ≤ k ≤ max) starts at
//! `k·delay` if, once everything that finished at or before that instant
//! is counted, no attempt succeeded, one is still running, and the budget
//! (which holds exactly `budget` withdrawals) pays; the first refusal by
//! the budget ends the call's hedging. Attempt `k` finishes at its start
//! plus its latency, with its planned result. The first success (by time,
//! then by index) is the answer, at its finish time; with none, the answer
//! is the last failure to finish (by time, then index). Every failure that
//! finished before the answer melted the fuse; the rest were dropped, and
//! melted nothing. The valve is empty after every call.
//!
//! Rules, tagged as each case reaches them:
//!
//! * H1 no hedge before the delay (the primary answered first);
//! * H2 a hedge starts at the delay and not before (checked by time);
//! * H3 the first success wins, a hedge's (its attempt was a hedge);
//! * H4 the primary wins after a hedge started (the hedge is dropped);
//! * H5 the budget refused a hedge; H6 `max` hedges made, no more;
//! * H7 every attempt failed; H8 a failure before the delay started no hedge;
//! * H9 a loser was dropped while running, and melted nothing.

#[path = "support/drive.rs"]
mod drive;
#[path = "support/reached.rs"]
mod reached;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use drive::{drive, ms};
use fusebox::pipeline::{Hedge, Pipeline, Reason, Timer};
use fusebox::retry::{RetryBudget, RetryPolicy, Stop};
use fusebox::{Clock, FuseConfig, Fusebox, ManualClock, ValveConfig};
use proptest::prelude::*;

static REACHED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
const REQUIREMENTS: &[&str] = &["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "H9"];

#[derive(Debug, Clone)]
struct Case {
    delay: u64,
    max: u32,
    budget: u32,
    /// Latency (ms) and success of each attempt that may start.
    plan: Vec<(u64, bool)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        1u64..60,
        0u32..4,
        0u32..4,
        prop::collection::vec((1u64..200, any::<bool>()), 4),
    )
        .prop_map(|(delay, max, budget, plan)| Case {
            delay,
            max,
            budget,
            plan,
        })
}

/// What the model predicts.
#[derive(Debug, PartialEq)]
struct Predicted {
    answer: Result<usize, usize>,
    at: u64,
    hedges: u32,
    melts: u64,
    tags: Vec<&'static str>,
}

fn model(c: &Case) -> Predicted {
    let mut starts = vec![0u64];
    let finish = |k: usize, s: u64| s + c.plan[k].0;
    let mut tags = Vec::new();
    let mut budget_refused = false;
    for k in 1..=c.max as usize {
        let t = k as u64 * c.delay;
        let done_ok = starts
            .iter()
            .enumerate()
            .any(|(j, &s)| c.plan[j].1 && finish(j, s) <= t);
        let running = starts.iter().enumerate().any(|(j, &s)| finish(j, s) > t);
        if done_ok || !running {
            if k == 1 && !done_ok {
                tags.push("H8");
            }
            if k == 1 && done_ok {
                tags.push("H1");
            }
            break;
        }
        if k as u32 > c.budget {
            budget_refused = true;
            tags.push("H5");
            break;
        }
        starts.push(t);
        tags.push("H2");
    }
    if starts.len() as u32 - 1 == c.max && c.max > 0 && !budget_refused {
        tags.push("H6");
    }
    let ends: Vec<(u64, usize)> = starts
        .iter()
        .enumerate()
        .map(|(k, &s)| (finish(k, s), k))
        .collect();
    let winner = ends.iter().filter(|(_, k)| c.plan[*k].1).min().copied();
    let (answer, at) = match winner {
        Some((t, k)) => {
            tags.push(if k > 0 {
                "H3"
            } else if starts.len() > 1 {
                "H4"
            } else {
                "H1"
            });
            (Ok(k), t)
        }
        None => {
            tags.push("H7");
            let (t, k) = ends.iter().max().copied().unwrap();
            (Err(k), t)
        }
    };
    let cut = winner.unwrap_or((u64::MAX, usize::MAX));
    let melts = ends.iter().filter(|e| !c.plan[e.1].1 && **e < cut).count() as u64;
    if ends.iter().any(|e| *e > cut) {
        tags.push("H9");
    }
    Predicted {
        answer,
        at,
        hedges: starts.len() as u32 - 1,
        melts,
        tags,
    }
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("dep", FuseConfig::standard(1000, Duration::from_secs(3600)))
        .unwrap();
    fb.install_valve("dep", ValveConfig::new().concurrency(16))
        .unwrap();
    // ratio = budget, no floor: one call's deposit pays for `budget` withdrawals.
    let budget = RetryBudget::new(Duration::from_secs(10), 0, c.budget as f64).unwrap();
    let p = Pipeline::builder("dep")
        .fusebox(&fb)
        .hedge(Hedge::after(ms(c.delay)).max(c.max))
        .budget(budget)
        .fuse(fb.fuse("dep").unwrap())
        .valve(fb.valve("dep").unwrap())
        .build()
        .unwrap();
    let n = Cell::new(0usize);
    let fut = p.call(|| {
        let k = n.get();
        n.set(k + 1);
        let (lat, ok) = c.plan[k];
        let clock = clock.clone();
        async move {
            Timer::sleep(&clock, ms(lat)).await;
            if ok {
                Ok(k)
            } else {
                Err(k)
            }
        }
    });
    let (out, at) = drive(&clock, fut, 2_000);
    let want = model(c);
    let got = out.map_err(|e| {
        assert_eq!(e.stop(), Stop::Exhausted);
        assert_eq!(e.hedges(), want.hedges);
        match e.into_reason() {
            Reason::Failed(k) => k,
            r => panic!("unexpected {r:?}"),
        }
    });
    prop_assert_eq!(got, want.answer, "answer of {:?}", c);
    prop_assert_eq!(at, ms(want.at), "time of the answer");
    prop_assert_eq!(p.stats().hedges, want.hedges as u64, "hedges");
    prop_assert_eq!(n.get() as u32, want.hedges + 1, "attempts built");
    let f = fb.state("dep").unwrap();
    prop_assert_eq!(f.counters.melts, want.melts, "melts");
    prop_assert_eq!(fb.valve("dep").unwrap().in_flight(), 0, "valve slots freed");
    let refused_by_budget = want.tags.contains(&"H5");
    prop_assert_eq!(p.stats().budget_exhausted_hedges, refused_by_budget as u64);
    reached::tally(&REACHED, want.tags);
    Ok(())
}

#[test]
fn hedged_calls_match_the_model() {
    reached::run_model(2_000, &case(), |c| run_case(&c), &REACHED, REQUIREMENTS);
}

/// A call whose attempt `k` waits `lat[k]` ms on `clock` and then succeeds.
fn slow_ok<'a>(
    clock: &ManualClock,
    lat: &'static [u64],
    n: &'a Cell<usize>,
) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Result<usize, ()>>>> + 'a {
    let clock = clock.clone();
    move || {
        let k = n.get();
        n.set(k + 1);
        let clock = clock.clone();
        Box::pin(async move {
            Timer::sleep(&clock, ms(lat[k])).await;
            Ok(k)
        })
    }
}

#[test]
fn the_losers_valve_slot_is_freed_at_the_win() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install_valve("dep", ValveConfig::new().concurrency(4))
        .unwrap();
    let valve = fb.valve("dep").unwrap();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .hedge(Hedge::after(ms(10)))
        .valve(valve.clone())
        .build()
        .unwrap();
    let n = Cell::new(0);
    let mut fut = Box::pin(p.call(slow_ok(&clock, &[100, 5], &n)));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(valve.snapshot().in_flight, 1);
    clock.advance(ms(9));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(valve.snapshot().in_flight, 1, "no hedge before the delay");
    clock.advance(ms(1));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(valve.snapshot().in_flight, 2, "the hedge holds a slot");
    clock.advance(ms(5));
    let Poll::Ready(out) = fut.as_mut().poll(&mut cx) else {
        panic!("the hedge answered at 15 ms");
    };
    assert_eq!(out, Ok(1));
    assert_eq!(valve.snapshot().in_flight, 0, "the loser's slot is freed");
    assert_eq!(p.stats().hedge_wins, 1);
}

#[test]
fn the_losers_probe_slot_is_freed_at_the_win() {
    use fusebox::{Heal, Step};
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    // Blown by one melt; then two probes at once, two successes to heal.
    fb.install(
        "dep",
        FuseConfig::standard(0, ms(1000))
            .heal(Heal::program([Step::Delay(ms(50)), Step::Probe(2)])),
    )
    .unwrap();
    let fuse = fb.fuse("dep").unwrap();
    fuse.melt();
    clock.advance(ms(50)); // probing
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .hedge(Hedge::after(ms(10)))
        .fuse(fuse.clone())
        .build()
        .unwrap();
    let n = Cell::new(0);
    let mut fut = Box::pin(p.call(slow_ok(&clock, &[100, 5, 5], &n)));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    clock.advance(ms(10));
    assert!(fut.as_mut().poll(&mut cx).is_pending()); // both probe slots held
    clock.advance(ms(5));
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    // One probe succeeded and the loser's slot was freed: both slots are
    // free, so two calls at once are both let through (a leaked slot
    // would refuse the second).
    let m = Cell::new(0);
    let mut a = Box::pin(p.call(slow_ok(&clock, &[5, 5], &m)));
    let mut b = Box::pin(p.call(slow_ok(&clock, &[5, 5], &m)));
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(
        b.as_mut().poll(&mut cx).is_pending(),
        "the second probe slot is free"
    );
    clock.advance(ms(5));
    assert!(a.as_mut().poll(&mut cx).is_ready() && b.as_mut().poll(&mut cx).is_ready());
    assert_eq!(fb.state("dep").unwrap().state, fusebox::fuse::FuseState::Ok);
    assert_eq!(
        fb.state("dep").unwrap().counters.melts,
        1,
        "the loser melted nothing"
    );
}

#[test]
fn a_quantile_hedge_waits_the_observed_p95() {
    let clock = ManualClock::new();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .hedge(Hedge::quantile(0.95, ms(500)).samples(20, 20))
        .build()
        .unwrap();
    // Twenty calls of 1..=20 ms teach it a p95 of 19 ms.
    for lat in 1..=20u64 {
        let clock2 = clock.clone();
        let (out, _) = drive(
            &clock,
            p.call(move || {
                let c = clock2.clone();
                async move {
                    Timer::sleep(&c, ms(lat)).await;
                    Ok::<_, ()>(lat)
                }
            }),
            1_000,
        );
        assert_eq!(out, Ok(lat));
    }
    assert_eq!(p.stats().hedges, 0, "the initial 500 ms never passed");
    let n = Cell::new(0);
    let start = clock.now();
    let (out, at) = drive(&clock, p.call(slow_ok(&clock, &[100, 1], &n)), 1_000);
    assert_eq!(out, Ok(1));
    assert_eq!(at - start, ms(19 + 1), "hedged at the p95 (19 ms)");
}

#[test]
fn hedges_and_retries_share_one_budget() {
    let clock = ManualClock::new();
    // One call's deposit pays for exactly one withdrawal.
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 1.0).unwrap();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .retry(RetryPolicy::new(5))
        .hedge(Hedge::after(ms(10)))
        .budget(budget.clone())
        .build()
        .unwrap();
    let n = Cell::new(0usize);
    // Attempt 0 is slow and fails; the hedge (paid) fails too; the retry
    // finds the budget empty.
    let (out, _) = drive(
        &clock,
        p.call(|| {
            let k = n.get();
            n.set(k + 1);
            let c = clock.clone();
            async move {
                Timer::sleep(&c, ms(20)).await;
                Err::<(), _>(k)
            }
        }),
        1_000,
    );
    let e = out.unwrap_err();
    assert_eq!(
        (e.attempts(), e.hedges(), e.stop()),
        (1, 1, Stop::BudgetExhausted)
    );
    assert_eq!(n.get(), 2);
    assert_eq!(budget.stats().withdrawals, 1);
    let s = p.stats();
    assert_eq!((s.hedges, s.retries, s.budget_exhausted_retries), (1, 0, 1));
}

#[test]
fn at_most_max_hedges_per_call_across_its_retries() {
    let clock = ManualClock::new();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .retry(RetryPolicy::new(3))
        .hedge(Hedge::after(ms(10)).max(1))
        .build()
        .unwrap();
    let n = Cell::new(0usize);
    // Every attempt fails after 20 ms: round 1 is hedged at 10 ms, the
    // retries are not (the call's one hedge is spent).
    let (out, at) = drive(
        &clock,
        p.call(|| {
            n.set(n.get() + 1);
            let c = clock.clone();
            async move {
                Timer::sleep(&c, ms(20)).await;
                Err::<(), _>(())
            }
        }),
        1_000,
    );
    let e = out.unwrap_err();
    assert_eq!(
        (e.attempts(), e.hedges(), e.stop()),
        (3, 1, Stop::Exhausted)
    );
    assert_eq!(n.get(), 4, "three attempts and one hedge");
    // Round 1 ends when the hedge fails at 30 ms; rounds 2 and 3 take 20 each.
    assert_eq!(at, ms(30 + 20 + 20));
}
