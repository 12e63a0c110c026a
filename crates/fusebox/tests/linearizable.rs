//! Linearizability: several threads run random operations on shared fuses;
//! each recorded history must have a sequential order, consistent with
//! real time (an operation that returned before another started comes
//! first), in which the reference model gives every answer the threads saw.
//!
//! The checker is Wing & Gong's search ("Testing and verifying concurrent
//! objects", 1993) with Lowe's memoisation of (operations done, model state)
//! ("Testing for linearizability", 2017). Counters are left out of the
//! comparison: they are statistics, read with relaxed loads, and promised
//! only to be eventually exact.
//!
//! `FUSEBOX_LIN_HISTORIES` sets the number of histories (default 5,000).

mod support;

use std::collections::{BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use fusebox::{Fusebox, ManualClock};
use support::model::{self, Cfg, MStep, MTicket, Model, Op, Outcome, Ret, Step};

const THREADS: usize = 3;
const OPS_PER_THREAD: usize = 6;

#[derive(Debug, Clone)]
struct Record {
    op: Op,
    ret: Ret,
    invoked: u64,
    returned: u64,
}

/// SplitMix64: a tiny seeded generator so every history can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NAMES: [&str; 2] = ["a", "b"];

fn small_cfg(rng: &mut Rng) -> Cfg {
    let max = rng.below(3) as u32;
    let window_us = [1_000, 5_000, 20_000][rng.below(3) as usize];
    let after_us = [1_000, 3_000, 10_000][rng.below(3) as usize];
    match rng.below(4) {
        // Probes and gradual admission, racing with everything else.
        0 => Cfg::Program {
            max,
            window_us,
            steps: vec![
                MStep::Delay(after_us),
                MStep::Probe(1 + rng.below(2) as u32),
            ],
        },
        1 => Cfg::Program {
            max,
            window_us,
            steps: vec![
                MStep::Delay(after_us),
                MStep::GradualAll,
                MStep::Delay(after_us),
            ],
        },
        _ => Cfg::Standard {
            max,
            window_us,
            after_us,
        },
    }
}

fn random_op(rng: &mut Rng) -> Op {
    let name = NAMES[rng.below(2) as usize];
    match rng.below(21) {
        0..=4 => Op::Ask(name),
        5..=9 => Op::Melt(name),
        10..=11 => Op::Run(
            name,
            [Outcome::Ok, Outcome::Err, Outcome::Ignored][rng.below(3) as usize],
        ),
        12 => Op::Reset(name),
        13 => Op::Disable(name),
        14 => Op::Enable(name),
        15 => Op::Remove(name),
        16 => Op::Install(name, small_cfg(rng)),
        17 => Op::State(name),
        18 => Op::Success(name),
        _ => Op::Advance(rng.below(6) * 1_000_000),
    }
}

/// Drops what the checker does not compare (counters).
fn comparable(ret: &Ret) -> Ret {
    match ret {
        Ret::State(v) => {
            let mut v = v.clone();
            v.counters = [0; 7];
            Ret::State(v)
        }
        other => other.clone(),
    }
}

fn record(seed: u64) -> (Model, Vec<Record>) {
    let mut rng = Rng(seed);
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(std::time::Duration::from_secs(1_000_000))
        .build();
    let mut init = Model::default();
    for name in NAMES {
        let op = Op::Install(name, small_cfg(&mut rng));
        init.apply(&op, &mut Step::default());
        model::run_real(&fb, &clock, &op);
    }
    let plans: Vec<Vec<(Op, u64)>> = (0..THREADS)
        .map(|_| {
            (0..OPS_PER_THREAD)
                .map(|_| (random_op(&mut rng), rng.below(200)))
                .collect()
        })
        .collect();
    let ticks = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let histories: Vec<Vec<Record>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let (fb, clock, ticks, start) = (&fb, &clock, ticks.clone(), start.clone());
                s.spawn(move || {
                    start.wait();
                    let mut out = Vec::new();
                    for (op, spin) in plan {
                        for _ in 0..spin {
                            std::hint::spin_loop();
                        }
                        let invoked = ticks.fetch_add(1, Ordering::SeqCst);
                        let ret = model::run_real(fb, clock, &op);
                        let returned = ticks.fetch_add(1, Ordering::SeqCst);
                        out.push(Record {
                            op,
                            ret,
                            invoked,
                            returned,
                        });
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (init, histories.into_iter().flatten().collect())
}

/// One linearization point. Most operations are one; a `run` that was let
/// through is two, because `run` is not atomic and does not claim to be: it
/// asks (point 1, taking a probe slot if the fuse is probing), calls the
/// closure, then reports the outcome (point 2), and other operations may
/// take effect in between (two overlapping failed runs on a `max_melts = 0`
/// fuse may both be let through, as in Erlang fuse).
#[derive(Debug, Clone, Copy)]
enum Part {
    Whole,
    /// The ask of an admitted run: it must have been let through.
    RunAsk,
    /// The report of an admitted run, after its ask (the part at `ask`). It
    /// reports to the fuse incarnation the ask saw: if that fuse was removed
    /// since, the report lands on the removed fuse and changes nothing.
    RunEnd {
        ask: usize,
        outcome: Outcome,
    },
}

struct Point<'a> {
    rec: &'a Record,
    part: Part,
}

fn points(ops: &[Record]) -> Vec<Point<'_>> {
    let mut out = Vec::new();
    for rec in ops {
        match (&rec.op, &rec.ret) {
            (Op::Run(_, outcome), Ret::Run(model::RunRet::Failed | model::RunRet::Ok)) => {
                out.push(Point {
                    rec,
                    part: Part::RunAsk,
                });
                let ask = out.len() - 1;
                out.push(Point {
                    rec,
                    part: Part::RunEnd {
                        ask,
                        outcome: *outcome,
                    },
                });
            }
            _ => out.push(Point {
                rec,
                part: Part::Whole,
            }),
        }
    }
    out
}

/// The model plus what the split runs need: how many times each name was
/// removed (its incarnation), and the ticket and incarnation each run's ask
/// got.
#[derive(Clone)]
struct Lin {
    model: Model,
    removals: Vec<(&'static str, u32)>,
    tickets: Vec<(usize, u32, MTicket)>,
    /// The model's requirement tags along this order (not part of the
    /// state: two orders reaching one state are the same for the search).
    reached: BTreeSet<&'static str>,
}

impl Hash for Lin {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.model.hash(h);
        self.removals.hash(h);
        self.tickets.hash(h);
    }
}

impl Lin {
    fn incarnation(&self, name: &str) -> u32 {
        self.removals
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |&(_, k)| k)
    }

    fn removed(&mut self, name: &'static str) {
        match self.removals.iter_mut().find(|(n, _)| *n == name) {
            Some((_, k)) => *k += 1,
            None => self.removals.push((name, 1)),
        }
    }

    /// Applies point `i`; `None` if the model disagrees with what was seen.
    fn apply(&self, i: usize, p: &Point<'_>) -> Option<Lin> {
        let mut next = self.clone();
        let mut step = Step::default();
        let name = match p.rec.op {
            Op::Run(name, _) | Op::Remove(name) => Some(name),
            _ => None,
        };
        match p.part {
            Part::Whole => {
                let ret = next.model.apply(&p.rec.op, &mut step);
                if comparable(&ret) != comparable(&p.rec.ret) {
                    return None;
                }
                if let (Op::Remove(name), Ret::Done) = (&p.rec.op, &ret) {
                    next.removed(name);
                }
            }
            Part::RunAsk => {
                let name = name.expect("a run has a name");
                let Ok(Some(ticket)) = next.model.admit_on(name, &mut step) else {
                    return None;
                };
                let k = next.incarnation(name);
                next.tickets.push((i, k, ticket));
            }
            Part::RunEnd { ask, outcome } => {
                let name = name.expect("a run has a name");
                let (_, seen, ticket) = *next
                    .tickets
                    .iter()
                    .find(|(a, _, _)| *a == ask)
                    .expect("the ask part went first");
                if seen == next.incarnation(name) {
                    next.model.complete_on(name, ticket, outcome, &mut step);
                }
            }
        }
        next.reached.extend(step.tags);
        Some(next)
    }
}

fn state_key(done: u64, m: &Lin) -> (u64, u64) {
    let mut h = DefaultHasher::new();
    m.hash(&mut h);
    (done, h.finish())
}

/// True if some real-time-respecting order of `ops` explains every answer.
fn linearizable(ops: &[Record], model: &Model) -> bool {
    linearization(ops, model).is_some()
}

/// The requirement tags of an order of `ops` that explains every answer, if
/// there is one.
fn linearization(ops: &[Record], model: &Model) -> Option<BTreeSet<&'static str>> {
    fn search(
        pts: &[Point<'_>],
        done: u64,
        lin: &Lin,
        seen: &mut HashSet<(u64, u64)>,
    ) -> Option<BTreeSet<&'static str>> {
        if done.count_ones() as usize == pts.len() {
            return Some(lin.reached.clone());
        }
        for (i, p) in pts.iter().enumerate() {
            if done & (1 << i) != 0 {
                continue;
            }
            if let Part::RunEnd { ask, .. } = p.part {
                if done & (1 << ask) == 0 {
                    continue;
                }
            }
            // `p` may go next only if no pending op returned before it began.
            let blocked = pts
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && done & (1 << j) == 0 && o.rec.returned < p.rec.invoked);
            if blocked {
                continue;
            }
            let Some(next) = lin.apply(i, p) else {
                continue;
            };
            let now_done = done | (1 << i);
            if seen.insert(state_key(now_done, &next)) {
                if let Some(tags) = search(pts, now_done, &next, seen) {
                    return Some(tags);
                }
            }
        }
        None
    }
    let pts = points(ops);
    assert!(pts.len() <= 64, "the search tracks points in a u64");
    let lin = Lin {
        model: model.clone(),
        removals: Vec::new(),
        tickets: Vec::new(),
        reached: BTreeSet::new(),
    };
    search(&pts, 0, &lin, &mut HashSet::new())
}

#[test]
fn histories_are_linearizable() {
    let histories = std::env::var("FUSEBOX_LIN_HISTORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000u64);
    let base = std::env::var("FUSEBOX_LIN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f005);
    let mut overlapping = 0;
    let mut reached = BTreeSet::new();
    for k in 0..histories {
        let seed = base + k;
        let (init, ops) = record(seed);
        if ops.iter().any(|a| {
            ops.iter()
                .any(|b| a.invoked < b.invoked && b.invoked < a.returned)
        }) {
            overlapping += 1;
        }
        let tags = linearization(&ops, &init);
        assert!(
            tags.is_some(),
            "history with seed {seed} (FUSEBOX_LIN_SEED={seed} FUSEBOX_LIN_HISTORIES=1 replays \
             the plan) is not linearizable from {init:?}:\n{ops:#?}"
        );
        reached.extend(tags.into_iter().flatten());
    }
    // The histories must have raced probes and gradual admission, not only
    // plain fuses.
    for rule in [
        "R30 gradual admits",
        "R31 probe admits",
        "R32 probes full refuse",
        "R34 probe success",
    ] {
        assert!(
            reached.contains(rule),
            "no linearized history reached {rule:?}"
        );
    }
    eprintln!("{histories} histories linearizable, {overlapping} with overlapping operations");
    assert!(
        overlapping > 0,
        "no history had concurrent operations: the test proved nothing"
    );
}

/// The checker itself must reject a history that no order explains.
#[test]
fn checker_rejects_a_wrong_history() {
    let mut init = Model::default();
    init.apply(
        &Op::Install(
            "a",
            Cfg::Standard {
                max: 0,
                window_us: 1_000,
                after_us: 1_000,
            },
        ),
        &mut Step::default(),
    );
    // The melt returned before the ask began, yet the ask saw ok.
    let ops = vec![
        Record {
            op: Op::Melt("a"),
            ret: Ret::Done,
            invoked: 0,
            returned: 1,
        },
        Record {
            op: Op::Ask("a"),
            ret: Ret::Ask(fusebox::Ask::Ok),
            invoked: 2,
            returned: 3,
        },
    ];
    assert!(!linearizable(&ops, &init));
    // Overlapping, the same answers are fine: the ask may go first.
    let mut ops = ops;
    ops[1].invoked = 0;
    assert!(linearizable(&ops, &init));

    // A failed run is an ask and, later, a melt: two overlapping failed runs
    // on a `max_melts = 0` fuse may both be let through...
    let failed_run = |invoked, returned| Record {
        op: Op::Run("a", model::Outcome::Err),
        ret: Ret::Run(model::RunRet::Failed),
        invoked,
        returned,
    };
    assert!(linearizable(&[failed_run(0, 3), failed_run(1, 2)], &init));
    // ...but one after the other, the second must have been refused.
    assert!(!linearizable(&[failed_run(0, 1), failed_run(2, 3)], &init));
}
