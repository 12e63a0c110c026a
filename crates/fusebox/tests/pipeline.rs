//! Pipelines on a `ManualClock` (`fusebox::pipeline`, `_contract` section
//! 5.2): generated runs of the layers against a plain model, then one test
//! per rule a model does not show.
//!
//! The model of one async call with a fallback: attempt `k` is, by plan,
//! `Ok`, `Fail` (an error after 1 ms), `Slow` (an answer after 50 ms, past
//! the 20 ms timeout) or `Busy` (the valve's one slot is taken when it
//! comes). In order, an attempt is refused by the fuse if it has more than
//! `max_melts` melts (reason blown), else refused by the valve if busy
//! (reason refused, the fuse not melted), else times out (a melt) or fails
//! (a melt) or succeeds. A failure or a timeout is retried while attempts
//! are left, 5 ms later; a refusal never. An error goes to the fallback
//! with its reason.
//!
//! Rules, tagged as each case reaches them:
//!
//! * L1 a failure is retried; L2 a timeout is a failure and is retried;
//! * L3 a fuse refusal ends the run; L4 a valve refusal ends the run
//!   without melting the fuse; L5 `max_attempts` ends the run;
//! * L6 a success after a retry;
//! * F1..F4 the fallback is told blown, refused, timeout, failed.

#[path = "support/drive.rs"]
mod drive;
#[path = "support/reached.rs"]
mod reached;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::Duration;

use drive::{drive, ms};
use fusebox::event::{EventKind, PipelineChange};
use fusebox::pipeline::{Hedge, Pipeline, PipelineError, Reason, ReasonKind, Timer};
use fusebox::retry::{Backoff, RetryBudget, RetryPolicy, Stop};
use fusebox::{Clock, FuseConfig, Fusebox, ManualClock, Outcome, ValveConfig};
use proptest::prelude::*;

static REACHED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
const REQUIREMENTS: &[&str] = &["L1", "L2", "L3", "L4", "L5", "L6", "F1", "F2", "F3", "F4"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    Ok,
    Fail,
    Slow,
    Busy,
}

#[derive(Debug, Clone)]
struct Case {
    max_melts: u32,
    max_attempts: u32,
    plan: Vec<Plan>,
}

fn case() -> impl Strategy<Value = Case> {
    let plan = prop_oneof![
        2 => Just(Plan::Ok),
        3 => Just(Plan::Fail),
        2 => Just(Plan::Slow),
        1 => Just(Plan::Busy),
    ];
    (0u32..4, 1u32..6, prop::collection::vec(plan, 6)).prop_map(
        |(max_melts, max_attempts, plan)| Case {
            max_melts,
            max_attempts,
            plan,
        },
    )
}

/// The answer: the value (the attempt's index) or the fallback's reason;
/// the attempts made, the melts, and the futures built.
#[derive(Debug, PartialEq)]
struct Predicted {
    answer: Result<usize, ReasonKind>,
    melts: u64,
    built: usize,
    tags: Vec<&'static str>,
}

fn model(c: &Case) -> Predicted {
    let mut melts = 0u64;
    let mut tags = Vec::new();
    let mut k = 0;
    let answer = loop {
        let reason = if melts > c.max_melts as u64 {
            tags.push("L3");
            ReasonKind::Blown
        } else {
            match c.plan[k] {
                Plan::Busy => {
                    tags.push("L4");
                    ReasonKind::Refused
                }
                Plan::Ok => {
                    if k > 0 {
                        tags.push("L6");
                    }
                    break Ok(k);
                }
                Plan::Slow => {
                    melts += 1;
                    ReasonKind::Timeout
                }
                Plan::Fail => {
                    melts += 1;
                    ReasonKind::Failed
                }
            }
        };
        let failure = matches!(reason, ReasonKind::Timeout | ReasonKind::Failed);
        if failure && (k as u32 + 1) < c.max_attempts {
            tags.push(if reason == ReasonKind::Timeout {
                "L2"
            } else {
                "L1"
            });
            k += 1;
            continue;
        }
        if failure {
            tags.push("L5");
        }
        break Err(reason);
    };
    if let Err(r) = answer {
        tags.push(match r {
            ReasonKind::Blown => "F1",
            ReasonKind::Refused => "F2",
            ReasonKind::Timeout => "F3",
            _ => "F4",
        });
    }
    Predicted {
        answer,
        melts,
        built: k + 1,
        tags,
    }
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install(
        "dep",
        FuseConfig::standard(c.max_melts, Duration::from_secs(3600)),
    )
    .unwrap();
    fb.install_valve("dep", ValveConfig::new().concurrency(1).queue(0))
        .unwrap();
    let valve = fb.valve("dep").unwrap();
    let p = Pipeline::builder("dep")
        .fusebox(&fb)
        .retry(RetryPolicy::new(c.max_attempts).backoff(Backoff::constant(ms(5))))
        .fuse(fb.fuse("dep").unwrap())
        .valve(valve.clone())
        .timeout(ms(20))
        .fallback(|e: PipelineError<usize>| Err::<usize, _>(e.reason().kind()))
        .build()
        .unwrap();
    let built = Cell::new(0usize);
    let held = RefCell::new(None);
    let (out, _) = drive(
        &clock,
        p.call(|| {
            let k = built.get();
            built.set(k + 1);
            let plan = c.plan[k];
            // A busy attempt finds the valve's only slot taken.
            *held.borrow_mut() = (plan == Plan::Busy).then(|| valve.try_acquire().unwrap());
            let clock = clock.clone();
            async move {
                let (lat, ok) = match plan {
                    Plan::Ok => (1, true),
                    Plan::Slow => (50, true),
                    _ => (1, false),
                };
                Timer::sleep(&clock, ms(lat)).await;
                if ok {
                    Ok(Ok(k))
                } else {
                    Err(k)
                }
            }
        }),
        10_000,
    );
    held.borrow_mut().take();
    let want = model(c);
    let got = match out {
        Ok(Ok(k)) => Ok(k),
        Ok(Err(kind)) => Err(kind),
        Err(e) => panic!("the fallback answers every error: {e:?}"),
    };
    prop_assert_eq!(got, want.answer, "answer of {:?}", c);
    prop_assert_eq!(built.get(), want.built, "attempts built");
    prop_assert_eq!(fb.state("dep").unwrap().counters.melts, want.melts, "melts");
    prop_assert_eq!(valve.in_flight(), 0);
    let s = p.stats();
    prop_assert_eq!(s.fallbacks.total(), want.answer.is_err() as u64);
    prop_assert_eq!(s.retries, want.built as u64 - 1);
    reached::tally(&REACHED, want.tags);
    Ok(())
}

#[test]
fn pipelined_calls_match_the_model() {
    reached::run_model(2_000, &case(), |c| run_case(&c), &REACHED, REQUIREMENTS);
}

#[test]
fn a_valve_refusal_is_not_retried_but_reaches_the_fallback() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("dep", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    fb.install_valve("dep", ValveConfig::new().concurrency(1).queue(0))
        .unwrap();
    let valve = fb.valve("dep").unwrap();
    let seen = RefCell::new(Vec::new());
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .retry(RetryPolicy::new(5))
        .fuse(fb.fuse("dep").unwrap())
        .valve(valve.clone())
        .fallback(|e: PipelineError<()>| {
            seen.borrow_mut()
                .push((e.reason().clone(), e.attempts(), e.stop()));
            0
        })
        .build()
        .unwrap();
    let _held = valve.try_acquire().unwrap();
    let ran = Cell::new(0);
    let out = p.call_blocking(|| {
        ran.set(ran.get() + 1);
        Err(())
    });
    assert_eq!(out, Ok(0));
    assert_eq!(ran.get(), 0, "refused before the call");
    let (reason, attempts, stop) = seen.borrow()[0].clone();
    assert!(matches!(reason, Reason::Refused(_)), "{reason:?}");
    assert_eq!((attempts, stop), (1, Stop::Refused));
    let f = fb.state("dep").unwrap();
    assert_eq!(f.counters.melts, 0, "a valve refusal is no melt");
    assert_eq!(f.state, fusebox::fuse::FuseState::Ok);
}

#[test]
fn a_fuse_refusal_never_reaches_the_valve_nor_the_retry() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("dep", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    fb.install_valve("dep", ValveConfig::new().concurrency(1))
        .unwrap();
    let valve = fb.valve("dep").unwrap();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .retry(RetryPolicy::new(5))
        .fuse(fb.fuse("dep").unwrap())
        .valve(valve.clone())
        .fallback(|e: PipelineError<&str>| e.reason().kind())
        .build()
        .unwrap();
    let ran = Cell::new(0);
    // The first failure blows the fuse; the retry is refused by it.
    let out = p.call_blocking(|| {
        ran.set(ran.get() + 1);
        Err("down")
    });
    assert_eq!(out, Ok(ReasonKind::Blown));
    assert_eq!(ran.get(), 1);
    assert_eq!(
        valve.snapshot().admitted,
        1,
        "the refused retry never reached the valve"
    );
    assert_eq!(
        p.stats().retries,
        1,
        "a retry was made, and refused by the fuse"
    );
}

#[test]
fn a_timeout_is_a_failure_and_is_retried() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install("dep", FuseConfig::standard(10, Duration::from_secs(10)))
        .unwrap();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .retry(RetryPolicy::new(3))
        .fuse(fb.fuse("dep").unwrap())
        .timeout(ms(30))
        .build()
        .unwrap();
    let n = Cell::new(0u64);
    let (out, at) = drive(
        &clock,
        p.call(|| {
            let k = n.get();
            n.set(k + 1);
            let c = clock.clone();
            // 100 ms, then 10 ms: the first times out at 30 ms.
            let lat = if k == 0 { 100 } else { 10 };
            async move {
                Timer::sleep(&c, ms(lat)).await;
                Ok::<_, ()>(k)
            }
        }),
        1_000,
    );
    assert_eq!(out, Ok(1));
    assert_eq!(at, ms(30 + 10));
    assert_eq!(
        fb.state("dep").unwrap().counters.melts,
        1,
        "the timeout melted"
    );
    // And the blocking form: a late answer is dropped and counts as a timeout.
    let late = p.call_blocking(|| {
        clock.advance(ms(31));
        Ok::<_, ()>(9)
    });
    let e = late.unwrap_err();
    assert_eq!(
        (e.reason(), e.attempts(), e.stop()),
        (&Reason::Timeout, 3, Stop::Exhausted)
    );
    let on_time = p.call_blocking(|| {
        clock.advance(ms(30));
        Ok::<_, ()>(9)
    });
    assert_eq!(on_time, Ok(9), "exactly the timeout is not late");
}

#[test]
fn the_deadline_ends_retries_and_hedges() {
    let clock = ManualClock::new();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .retry(
            RetryPolicy::new(10)
                .backoff(Backoff::constant(ms(10)))
                .deadline(ms(45)),
        )
        .hedge(Hedge::after(ms(50)).max(5))
        .build()
        .unwrap();
    let n = Cell::new(0u64);
    let (out, at) = drive(
        &clock,
        p.call(|| {
            n.set(n.get() + 1);
            let c = clock.clone();
            async move {
                Timer::sleep(&c, ms(10)).await;
                Err::<(), _>("down")
            }
        }),
        1_000,
    );
    // Attempts at 0, 20, 40 (each 10 ms, then a 10 ms wait); at 50 the
    // next retry would start at 60 ≥ 45.
    let e = out.unwrap_err();
    assert_eq!((e.attempts(), e.stop(), at), (3, Stop::Deadline, ms(50)));
    assert_eq!(p.stats().hedges, 0);
    // A slow attempt: no hedge at 50 ms, past the 45 ms deadline.
    let start = clock.now();
    let (out, at) = drive(
        &clock,
        p.call(|| {
            let c = clock.clone();
            async move {
                Timer::sleep(&c, ms(80)).await;
                Ok::<_, ()>(1)
            }
        }),
        1_000,
    );
    assert_eq!((out, at - start), (Ok(1), ms(80)));
    assert_eq!(
        p.stats().hedges,
        0,
        "no hedge starts at or after the deadline"
    );
}

#[test]
fn an_ignored_result_is_neither_retried_nor_melted() {
    let fb = Fusebox::new();
    fb.install("dep", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    let p = Pipeline::builder("dep")
        .retry(RetryPolicy::new(5))
        .fuse(fb.fuse("dep").unwrap())
        .build()
        .unwrap();
    let classify = |r: &Result<(), u16>| match r {
        Ok(_) => Outcome::Success,
        Err(c) if *c < 500 => Outcome::Ignored,
        Err(_) => Outcome::Failure,
    };
    let e = p
        .call_blocking_classified(|| Err(404), classify)
        .unwrap_err();
    assert_eq!((e.attempts(), e.stop()), (1, Stop::NotRetryable));
    assert!(fb.ask("dep").unwrap().is_ok());
}

#[test]
fn budget_and_fallback_events_come_once_per_episode() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let sub = fb.subscribe();
    // No retry ever paid: ratio 0, no floor.
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.0).unwrap();
    let ok = Cell::new(false);
    let p = Pipeline::builder("dep")
        .fusebox(&fb)
        .retry(RetryPolicy::new(3))
        .budget(budget)
        .fallback_value(0)
        .build()
        .unwrap();
    let call = || p.call_blocking(|| if ok.get() { Ok(1) } else { Err(()) });
    assert_eq!((call(), call(), call()), (Ok(0), Ok(0), Ok(0)));
    ok.set(true);
    assert_eq!(call(), Ok(1));
    ok.set(false);
    assert_eq!(call(), Ok(0));
    let events: Vec<_> = std::iter::from_fn(|| sub.try_recv().ok())
        .filter(|e| &*e.name == "dep")
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        events,
        [
            EventKind::Pipeline {
                change: PipelineChange::BudgetExhausted
            },
            EventKind::Pipeline {
                change: PipelineChange::Fallback {
                    reason: ReasonKind::Failed
                }
            },
            // The success ended the fallback episode, not the budget's.
            EventKind::Pipeline {
                change: PipelineChange::Fallback {
                    reason: ReasonKind::Failed
                }
            },
        ]
    );
    let s = p.stats();
    assert_eq!(
        (s.budget_exhausted_retries, s.fallbacks.failed, s.successes),
        (4, 4, 1)
    );
    // The snapshot's samples carry the pipeline's counters.
    let snap = fb.snapshot();
    let samples = snap.samples();
    let get = |name: &str, extra: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|x| {
                x.metric.name == name
                    && x.labels[0] == ("pipeline", "dep")
                    && extra.is_none_or(|e| x.labels.contains(&e))
            })
            .map(|x| x.value)
    };
    use fusebox::catalog::Value;
    assert_eq!(
        get("fusebox_fallbacks_total", Some(("reason", "failed"))),
        Some(Value::Counter(4))
    );
    assert_eq!(
        get(
            "fusebox_retry_budget_exhausted_total",
            Some(("kind", "retry"))
        ),
        Some(Value::Counter(4))
    );
    assert_eq!(get("fusebox_retries_total", None), Some(Value::Counter(0)));
}

#[test]
fn a_dropped_call_frees_its_valve_slot_and_builds_nothing_more() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install_valve("dep", ValveConfig::new().concurrency(2))
        .unwrap();
    let valve = fb.valve("dep").unwrap();
    let p = Pipeline::builder("dep")
        .clock(clock.clone())
        .hedge(Hedge::after(ms(5)))
        .valve(valve.clone())
        .build()
        .unwrap();
    let built = Cell::new(0);
    {
        let fut = p.call(|| {
            built.set(built.get() + 1);
            std::future::pending::<Result<(), ()>>()
        });
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        clock.advance(ms(5));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(valve.in_flight(), 2);
    }
    assert_eq!(valve.in_flight(), 0);
    assert_eq!(built.get(), 2);
}

#[test]
fn invalid_pipelines_are_refused() {
    let fb = Fusebox::new();
    let _first = Pipeline::builder("dep").fusebox(&fb).build().unwrap();
    let cases: Vec<(Result<Pipeline, fusebox::ConfigError>, &str)> = vec![
        (Pipeline::builder("dep").fusebox(&fb).build(), "name"),
        (Pipeline::builder("").fusebox(&fb).build(), "name"),
        (Pipeline::builder("a\nb").fusebox(&fb).build(), "name"),
        (
            Pipeline::builder("x").timeout(Duration::ZERO).build(),
            "timeout",
        ),
        (
            Pipeline::builder("x")
                .hedge(Hedge::quantile(1.5, ms(1)))
                .build(),
            "hedge.quantile",
        ),
        (
            Pipeline::builder("x")
                .hedge(Hedge::quantile(0.9, ms(1)).samples(10, 11))
                .build(),
            "hedge.min_samples",
        ),
        (
            Pipeline::builder("x").retry(RetryPolicy::new(0)).build(),
            "max_attempts",
        ),
    ];
    for (r, field) in cases {
        let e = r.unwrap_err();
        assert_eq!(e.field(), field, "{e}");
    }
    drop(_first);
    assert!(
        Pipeline::builder("dep").fusebox(&fb).build().is_ok(),
        "a departed pipeline's name is free"
    );
}

#[tokio::test]
async fn on_tokio_a_hedge_wins_against_a_slow_primary() {
    let p = Pipeline::builder("dep")
        .hedge(Hedge::after(ms(20)))
        .timeout(ms(1_000))
        .build()
        .unwrap();
    let n = Cell::new(0u64);
    let start = tokio::time::Instant::now();
    let out = p
        .call(|| {
            let k = n.get();
            n.set(k + 1);
            async move {
                tokio::time::sleep(ms(if k == 0 { 500 } else { 10 })).await;
                Ok::<_, ()>(k)
            }
        })
        .await;
    assert_eq!(out, Ok(1));
    let took = start.elapsed();
    assert!(took >= ms(30) && took < ms(400), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_call_is_send_and_runs_on_a_spawned_task() {
    let fb = Fusebox::new();
    fb.install("dep", FuseConfig::standard(5, Duration::from_secs(10)))
        .unwrap();
    fb.install_valve("dep", ValveConfig::new().concurrency(4))
        .unwrap();
    let p = Pipeline::builder("dep")
        .fusebox(&fb)
        .retry(RetryPolicy::new(2))
        .hedge(Hedge::after(ms(5)))
        .fuse(fb.fuse("dep").unwrap())
        .valve(fb.valve("dep").unwrap())
        .timeout(ms(1_000))
        .fallback_async(|e: PipelineError<()>| async move { e.attempts() })
        .build()
        .unwrap();
    let q = p.clone();
    let task = tokio::spawn(async move {
        q.call(|| async {
            tokio::time::sleep(ms(1)).await;
            Err::<u32, _>(())
        })
        .await
    });
    assert_eq!(
        task.await.unwrap(),
        Ok(2),
        "the async fallback got the attempts"
    );
    assert_eq!(fb.valve("dep").unwrap().in_flight(), 0);
    assert_eq!(p.stats().fallbacks.failed, 1);
}

#[test]
fn pipeline_events_and_snapshots_survive_json() {
    let fb = Fusebox::new();
    let sub = fb.subscribe();
    let p = Pipeline::builder("dep")
        .fusebox(&fb)
        .fallback_value(0)
        .build()
        .unwrap();
    assert_eq!(p.call_blocking(|| Err::<i32, _>(())), Ok(0));
    let e = sub.try_recv().unwrap();
    let json = serde_json::to_string(&e).unwrap();
    assert!(
        json.contains(r#""type":"pipeline""#) && json.contains(r#""reason":"failed""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<fusebox::Event>(&json).unwrap(), e);
    let snap = fb.snapshot();
    let back: fusebox::Snapshot =
        serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
    assert_eq!(back, snap);
    assert_eq!(back.pipelines[0].stats.fallbacks.failed, 1);
    // A snapshot from before pipelines existed still reads.
    let mut old: serde_json::Value = serde_json::to_value(&snap).unwrap();
    old.as_object_mut().unwrap().remove("pipelines");
    let old: fusebox::Snapshot = serde_json::from_value(old).unwrap();
    assert!(old.pipelines.is_empty());
}
