//! The supervisor against its reference model (`support/model.rs`): random
//! trees (strategy, intensity, children's restart types) and random
//! operations (a child returns, errs or panics; its next start fails; time
//! passes; the root shuts down), applied to both, comparing after every
//! operation what each did, in order (starts, exits, stops, giving up),
//! each child's state and restart count, and the shutdown's stop order.
//!
//! Time is one `ManualClock`: the Fusebox's clock (the intensity fuse) and
//! the supervisor's timer. Every rule of the model is counted across the
//! run; the test fails if one was never reached.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fusebox::{Fusebox, ManualClock};
use fusebox_supervisor::{
    ChildSpec, ChildState, Exit, Record, Restart, Strategy, Supervisor, SupervisorSpec,
};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;
use proptest::test_runner::{Config, TestRunner};
use support::model::{Ev, Model, State};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Child returns Ok (0), Err (1) or panics (2).
    Exit(usize, u8),
    FailNextStart(usize),
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Case {
    strategy: Strategy,
    max_r: u32,
    period_ms: u64,
    restarts: Vec<Restart>,
    ops: Vec<Op>,
}

fn case() -> impl proptest::strategy::Strategy<Value = Case> {
    let strategy = prop_oneof![
        Just(Strategy::OneForOne),
        Just(Strategy::OneForAll),
        Just(Strategy::RestForOne)
    ];
    let restart = prop_oneof![
        3 => Just(Restart::Permanent),
        2 => Just(Restart::Transient),
        1 => Just(Restart::Temporary)
    ];
    (
        strategy,
        0u32..4,
        1u64..5,
        prop::collection::vec(restart, 1..5),
    )
        .prop_flat_map(|(strategy, max_r, period_s, restarts)| {
            let n = restarts.len();
            let op = prop_oneof![
                6 => (0..n, 0u8..3).prop_map(|(i, k)| Op::Exit(i, k)),
                1 => (0..n).prop_map(Op::FailNextStart),
                3 => (0u64..3000).prop_map(Op::Advance),
            ];
            prop::collection::vec(op, 1..30).prop_map(move |ops| Case {
                strategy,
                max_r,
                period_ms: period_s * 1000,
                restarts: restarts.clone(),
                ops,
            })
        })
}

/// What the test holds of each child: its next start fails, and the
/// sender that tells its running task how to end.
#[derive(Default)]
struct Ctl {
    fail_starts: Vec<u32>,
    tell: Vec<Option<mpsc::UnboundedSender<u8>>>,
}

fn spec(c: &Case, ctl: &Arc<Mutex<Ctl>>) -> SupervisorSpec {
    let mut s = SupervisorSpec::new("sup")
        .strategy(c.strategy)
        .intensity(c.max_r, Duration::from_millis(c.period_ms));
    for (i, &r) in c.restarts.iter().enumerate() {
        let ctl = ctl.clone();
        s = s.child(
            ChildSpec::new(format!("c{i}"), move |token| {
                let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
                {
                    let mut g = ctl.lock().unwrap();
                    if g.fail_starts[i] > 0 {
                        g.fail_starts[i] -= 1;
                        drop(g);
                        panic!("start {i} failed");
                    }
                    g.tell[i] = Some(tx);
                }
                async move {
                    tokio::select! {
                        _ = token.cancelled() => Ok(()),
                        k = rx.recv() => match k {
                            Some(0) | None => Ok(()),
                            Some(1) => Err(format!("boom {i}")),
                            _ => panic!("crash {i}"),
                        },
                    }
                }
            })
            .restart(r),
        );
    }
    s
}

async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

fn index(id: &str) -> usize {
    id[1..].parse().unwrap()
}

fn history(sup: &Supervisor) -> Vec<Ev> {
    sup.history()
        .into_iter()
        .map(|r| match r {
            Record::Started(id) => Ev::Started(index(&id)),
            Record::Exited(id, e) => Ev::Exited(index(&id), e),
            Record::Stopped(s) => Ev::Stopped(index(&s.child)),
            Record::GaveUp => Ev::GaveUp,
            other => panic!("unknown record {other:?}"),
        })
        .collect()
}

fn compare(sup: &Supervisor, m: &Model, step: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(history(sup), m.log.clone(), "history after {}", step);
    for (c, mc) in sup.children().iter().zip(&m.children) {
        let state = match c.state {
            ChildState::Running => State::Running,
            ChildState::Stopped => State::Stopped,
            ChildState::Removed => State::Removed,
            s => return Err(TestCaseError::fail(format!("{} {s:?} after {step}", c.id))),
        };
        prop_assert_eq!(state, mc.state, "{} state after {}", c.id, step);
        prop_assert_eq!(c.restarts, mc.restarts, "{} restarts after {}", c.id, step);
        prop_assert_eq!(
            &c.last_exit,
            &mc.last_exit,
            "{} last exit after {}",
            c.id,
            step
        );
    }
    prop_assert_eq!(sup.is_finished(), m.gave_up, "gave up after {}", step);
    Ok(())
}

fn run_case(c: Case) -> Result<Vec<&'static str>, TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = ManualClock::new();
        let fb = Fusebox::builder().clock(clock.clone()).build();
        let n = c.restarts.len();
        let ctl = Arc::new(Mutex::new(Ctl {
            fail_starts: vec![0; n],
            tell: vec![None; n],
        }));
        let mut m = Model::new(c.strategy, c.max_r, c.period_ms * 1_000_000, &c.restarts);
        let sup = Supervisor::start_with_timer(spec(&c, &ctl), &fb, clock.clone()).unwrap();
        settle().await;
        compare(&sup, &m, "start")?;
        for (k, op) in c.ops.iter().enumerate() {
            match *op {
                Op::Exit(i, kind) => {
                    let tx = ctl.lock().unwrap().tell[i].take();
                    if let Some(tx) = tx {
                        let _ = tx.send(kind);
                    }
                    let exit = match kind {
                        0 => Exit::Normal,
                        1 => Exit::Failed(format!("boom {i}")),
                        _ => Exit::Panicked(format!("crash {i}")),
                    };
                    m.exit(i, exit);
                }
                Op::FailNextStart(i) => {
                    ctl.lock().unwrap().fail_starts[i] += 1;
                    m.fail_next_start(i);
                }
                Op::Advance(ms) => {
                    clock.advance(Duration::from_millis(ms));
                    m.advance(ms * 1_000_000);
                }
            }
            settle().await;
            compare(&sup, &m, &format!("op {k} {op:?}"))?;
        }
        let gave_up = m.gave_up;
        let expected = m.shutdown();
        let report = sup.shutdown().await;
        match report {
            Ok(r) => {
                prop_assert!(!gave_up, "shut down after giving up");
                let order: Vec<usize> = r.stopped.iter().map(|s| index(&s.child)).collect();
                prop_assert_eq!(order, expected, "shutdown order");
            }
            Err(_) => prop_assert!(gave_up, "gave up, the model did not"),
        }
        Ok(m.reached.clone())
    })
}

#[test]
fn supervisor_agrees_with_model() {
    std::panic::set_hook(Box::new(|_| {}));
    let cases = std::env::var("SUPERVISOR_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let reached: Mutex<BTreeMap<&'static str, u64>> = Mutex::default();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |c| {
        let tags = run_case(c)?;
        let mut r = reached.lock().unwrap();
        for t in tags {
            *r.entry(t).or_default() += 1;
        }
        Ok(())
    });
    let _ = std::panic::take_hook();
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    let reached = reached.into_inner().unwrap();
    eprintln!("rules reached in {cases} cases: {reached:#?}");
    let required = [
        "R1 one_for_one",
        "R1 one_for_all",
        "R1 rest_for_one",
        "R1 sibling stopped",
        "R2 permanent restarted",
        "R2 transient crash restarted",
        "R2 transient normal exit stays down",
        "R2 temporary removed",
        "R2 temporary sibling removed",
        "R3 restart counted",
        "R3 intensity exceeded",
        "R4 gave up",
        "R5 start failed",
        "R6 shutdown in reverse",
    ];
    let missed: Vec<_> = required
        .iter()
        .filter(|r| !reached.contains_key(*r))
        .collect();
    assert!(missed.is_empty(), "rules never reached: {missed:?}");
}
