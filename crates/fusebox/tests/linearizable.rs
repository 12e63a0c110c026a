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
//! Time is part of the state. An operation reads the clock once, somewhere
//! between its invocation and its effect (a melt reads it under the fuse's
//! lock, then publishes the blow), so a clock `advance` that overlaps it may
//! or may not be seen. The checker lets each point take any clock value that
//! was current at some moment of its operation's interval, with one
//! constraint the implementation gives: operations on one fuse that always
//! take its lock read the clock in the order they take effect, and a
//! lock-free ask or success reads it, if at all, after loading the state
//! word the last of those published (see `raises_floor`).
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

/// The project's seeded generator, so every history can be replayed.
type Rng = fusebox::rng::SplitMix64;

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
            v.counters = [0; 8];
            Ret::State(v)
        }
        other => other.clone(),
    }
}

fn record(seed: u64) -> (Model, Vec<Record>) {
    let mut rng = Rng::new(seed);
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
    /// The clock values in order, each with the real-time interval in which
    /// it could be read: (value, invocation of the advance that set it,
    /// return of the advance that replaced it).
    eras: Vec<(u64, u64, u64)>,
    /// Per fuse, the clock value its latest operation read.
    floors: Vec<(&'static str, u64)>,
    removals: Vec<(&'static str, u32)>,
    tickets: Vec<(usize, u32, MTicket)>,
    /// The model's requirement tags along this order (not part of the
    /// state: two orders reaching one state are the same for the search).
    reached: BTreeSet<&'static str>,
}

impl Hash for Lin {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.model.hash(h);
        self.eras.hash(h);
        self.floors.hash(h);
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

    fn floor(&self, name: Option<&str>) -> u64 {
        self.floors
            .iter()
            .filter(|(n, _)| name.is_none_or(|name| *n == name))
            .map(|&(_, t)| t)
            .max()
            .unwrap_or(0)
    }

    fn set_floor(&mut self, name: &'static str, t: u64) {
        match self.floors.iter_mut().find(|(n, _)| *n == name) {
            Some((_, f)) => *f = t,
            None => self.floors.push((name, t)),
        }
    }

    /// The clock values point `p` may have read: current at some moment of
    /// its operation, and not before what its fuse's last operation read.
    fn readable(&self, p: &Point<'_>) -> Vec<u64> {
        let floor = self.floor(fuse_of(&p.rec.op));
        self.eras
            .iter()
            .filter(|&&(v, start, end)| start < p.rec.returned && end > p.rec.invoked && v >= floor)
            .map(|&(v, _, _)| v)
            .collect()
    }

    /// Applies point `i` at each clock value it may have read; the states
    /// in which the model agrees with what was seen.
    fn apply(&self, i: usize, p: &Point<'_>) -> Vec<Lin> {
        if let Op::Advance(_) | Op::AdvanceQuiet(_) = p.rec.op {
            return self.apply_at(i, p, self.model.now).into_iter().collect();
        }
        self.readable(p)
            .into_iter()
            .filter_map(|t| self.apply_at(i, p, t))
            .collect()
    }

    /// Applies point `i` with the clock reading `t`; `None` if the model
    /// disagrees with what was seen.
    fn apply_at(&self, i: usize, p: &Point<'_>, t: u64) -> Option<Lin> {
        let mut next = self.clone();
        let mut step = Step::default();
        let name = match p.rec.op {
            Op::Run(name, _) | Op::Remove(name) => Some(name),
            _ => None,
        };
        let current = next.model.now;
        next.model.now = t;
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
        match p.rec.op {
            Op::Advance(_) | Op::AdvanceQuiet(_) => {
                let last = next.eras.last_mut().expect("one era at least");
                last.2 = p.rec.returned;
                next.eras.push((next.model.now, p.rec.invoked, u64::MAX));
                // Fuses the advance's timers changed were stamped at its time.
                let now = next.model.now;
                for name in next.model.changed_since(&self.model) {
                    next.set_floor(name, now);
                }
            }
            ref op => {
                next.model.now = current;
                if let (Some(name), true) = (fuse_of(op), raises_floor(op, p.part)) {
                    next.set_floor(name, t);
                }
            }
        }
        next.reached.extend(step.tags);
        Some(next)
    }
}

/// Whether a point always reads the clock under its fuse's lock. An ask
/// reads it (if at all) after the state word, so not before the floor; but
/// a locked operation may have read its clock before the ask and publish
/// after it, so an ask raises no floor. Nor does a success, which on a
/// healthy fuse is a lock-free counter that reads no clock.
fn raises_floor(op: &Op, part: Part) -> bool {
    match (op, part) {
        (Op::Ask(_) | Op::Success(_), _) => false,
        (Op::Run(..), Part::RunAsk) => false,
        (Op::Run(..), Part::RunEnd { outcome, .. }) => {
            matches!(outcome, Outcome::Err | Outcome::Panic)
        }
        _ => true,
    }
}

/// The fuse an operation works on, if one.
fn fuse_of(op: &Op) -> Option<&'static str> {
    match *op {
        Op::Install(n, _)
        | Op::Ask(n)
        | Op::Melt(n)
        | Op::Run(n, _)
        | Op::Success(n)
        | Op::Reset(n)
        | Op::Remove(n)
        | Op::Disable(n)
        | Op::Enable(n)
        | Op::Unlock(n)
        | Op::State(n)
        | Op::Begin(n) => Some(n),
        // Split calls are `Run`s cut in two here; the ops are the model test's.
        Op::End(..) | Op::Cancel(_) => None,
        Op::Snapshot | Op::Advance(_) | Op::AdvanceQuiet(_) => None,
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
            let now_done = done | (1 << i);
            for next in lin.apply(i, p) {
                if seen.insert(state_key(now_done, &next)) {
                    if let Some(tags) = search(pts, now_done, &next, seen) {
                        return Some(tags);
                    }
                }
            }
        }
        None
    }
    let pts = points(ops);
    assert!(pts.len() <= 64, "the search tracks points in a u64");
    let lin = Lin {
        model: model.clone(),
        eras: vec![(model.now, 0, u64::MAX)],
        floors: Vec::new(),
        removals: Vec::new(),
        tickets: Vec::new(),
        reached: BTreeSet::new(),
    };
    search(&pts, 0, &lin, &mut HashSet::new())
}

#[test]
fn histories_are_linearizable() {
    let _watch = support::watchdog::watchdog(
        "linearizable::histories_are_linearizable",
        std::time::Duration::from_secs(120),
    );
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
    let _watch = support::watchdog::watchdog(
        "linearizable::checker_rejects_a_wrong_history",
        std::time::Duration::from_secs(120),
    );
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

/// An operation stamps the clock value it read, which an advance racing it
/// may have replaced before the operation took effect; one that began after
/// the advance cannot have read the old value.
#[test]
fn checker_lets_an_operation_read_the_clock_anywhere_in_its_interval() {
    let _watch = support::watchdog::watchdog(
        "linearizable::checker_lets_an_operation_read_the_clock_anywhere_in_its_interval",
        std::time::Duration::from_secs(120),
    );
    let mut init = Model::default();
    init.apply(
        &Op::Install(
            "a",
            Cfg::Standard {
                max: 0,
                window_us: 1_000,
                after_us: 10_000,
            },
        ),
        &mut Step::default(),
    );
    let rec = |op, ret, invoked, returned| Record {
        op,
        ret,
        invoked,
        returned,
    };
    let ask = |ret, invoked| rec(Op::Ask("a"), Ret::Ask(ret), invoked, invoked + 1);
    let history = |melt_invoked| {
        vec![
            rec(Op::Melt("a"), Ret::Done, melt_invoked, 9),
            rec(Op::Advance(4_000_000), Ret::Done, 1, 2),
            // Still ok after the advance: the melt took effect after this...
            ask(fusebox::Ask::Ok, 5),
            ask(fusebox::Ask::Blown, 10),
            rec(Op::Advance(6_000_000), Ret::Done, 12, 13),
            // ...yet healed at 10 ms: it had read the clock at 0.
            ask(fusebox::Ask::Ok, 14),
        ]
    };
    assert!(linearizable(&history(0), &init));
    // Begun after the advance, the melt read 4 ms and heals at 14 ms.
    assert!(!linearizable(&history(3), &init));
}
