//! The state-machine model test of adaptive concurrency (DESIGN.md section
//! 7, `fusebox::_contract` section 3): random sequences of try_acquire,
//! acquire (a hand-polled future kept pending), polls, permit releases (a
//! latency, a drop, or nothing), cancellations, clock advances (landing on
//! window ends, probe times and timeouts on purpose) and live
//! reconfiguration, against one adaptive valve (gradient or AIMD, FIFO) on
//! a `ManualClock` with a seeded Fusebox.
//!
//! The reference below is plain sequential code written from the formulas
//! of `src/valve/gradient.rs` and `src/valve/aimd.rs` (and the sources they
//! cite), not from their code: the controllers' arithmetic, the slots, the
//! queue, the generations and the limit events. After every step the
//! answer, `in_flight()`, `queued()`, `limit()`, the snapshot's controller
//! state and the events published must equal the model's, the limit must
//! be within `[min, max]`, and in flight must never exceed the limit except
//! right after the limit fell, where it may only fall.
//!
//! Each step tags the rules it exercised (A01..); the test fails if a run
//! never reached one of them. `FUSEBOX_ADAPTIVE_CASES` changes the number
//! of cases (default 3,000).

#[path = "support/reached.rs"]
mod reached;
#[path = "support/watchdog.rs"]
mod watchdog;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::event::{EventKind, ValveChange};
use fusebox::rng::SplitMix64;
use fusebox::valve::{Acquire, Adaptive};
use fusebox::{Fusebox, ManualClock, Permit, Refused, ValveConfig};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

const MS: u64 = 1_000_000;
const SEED: u64 = 0x5eed;
const EVENT_EVERY: u64 = 1_000_000_000;

const REQUIREMENTS: &[&str] = &[
    "A01 gradient: a probe ends, min_rtt measured",
    "A02 gradient: a window closes on latencies",
    "A03 gradient: a drop halves the gradient",
    "A04 gradient: probes again after the jittered interval",
    "A05 gradient: app-limited, no growth",
    "A06 gradient: a drop while probing is no sample",
    "A07 aimd: increase",
    "A08 aimd: decrease",
    "A09 aimd: one decrease per round trip",
    "A10 aimd: app-limited, no growth",
    "A11 a task as slow as the timeout is a drop",
    "A12 an ignored permit is no sample",
    "A13 a refusal is no sample",
    "A14 the limit held at min",
    "A15 the limit held at max",
    "A16 over the limit after it fell",
    "A17 a grown limit serves a waiter",
    "A18 a limit event",
    "A19 a task of an older config reports nothing",
    "A20 cancel after grant hands the slot on",
    "A21 reconfigure with the same controller keeps it",
];

static REACHED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

// ---------------------------------------------------------------------------
// Configs

#[derive(Debug, Clone, Copy, PartialEq)]
enum MCtl {
    Gradient {
        initial: usize,
        min: usize,
        max: usize,
        interval: u64,
        tolerance: f64,
        smoothing: f64,
        probe_interval: u64,
        jitter: f64,
        probe_samples: u32,
        timeout: Option<u64>,
    },
    Aimd {
        initial: usize,
        min: usize,
        max: usize,
        backoff: f64,
        timeout: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct MCfg {
    ctl: MCtl,
    queue: usize,
}

impl MCfg {
    fn to_config(&self) -> ValveConfig {
        let ns = Duration::from_nanos;
        let limit: Adaptive = match self.ctl {
            MCtl::Gradient {
                initial,
                min,
                max,
                interval,
                tolerance,
                smoothing,
                probe_interval,
                jitter,
                probe_samples,
                timeout,
            } => {
                let mut g = Adaptive::gradient()
                    .initial(initial)
                    .min(min)
                    .max(max)
                    .interval(ns(interval))
                    .tolerance(tolerance)
                    .smoothing(smoothing)
                    .probe_interval(ns(probe_interval))
                    .probe_jitter(jitter)
                    .probe_samples(probe_samples);
                if let Some(t) = timeout {
                    g = g.timeout(ns(t));
                }
                g.into()
            }
            MCtl::Aimd {
                initial,
                min,
                max,
                backoff,
                timeout,
            } => Adaptive::aimd()
                .initial(initial)
                .min(min)
                .max(max)
                .backoff(backoff)
                .timeout(ns(timeout))
                .into(),
        };
        ValveConfig::new().limit(limit).queue(self.queue)
    }

    fn min_max(&self) -> (usize, usize) {
        match self.ctl {
            MCtl::Gradient { min, max, .. } | MCtl::Aimd { min, max, .. } => (min, max),
        }
    }
}

fn cfg_strategy() -> BoxedStrategy<MCfg> {
    let bounds = (1usize..4, 0usize..6, 0usize..8).prop_map(|(min, span, init)| {
        let max = min + span;
        (min, max, (min + init).min(max))
    });
    let gradient = (
        bounds.clone(),
        prop::sample::select(vec![MS, 2 * MS, 5 * MS]),
        prop::sample::select(vec![1.0, 1.5, 2.0]),
        prop::sample::select(vec![0.2, 0.5, 1.0]),
        prop::sample::select(vec![20 * MS, 50 * MS]),
        prop::sample::select(vec![0.0, 0.15, 1.0]),
        1u32..4,
        prop::option::weighted(0.4, prop::sample::select(vec![6 * MS, 12 * MS])),
    )
        .prop_map(
            |((min, max, initial), interval, tolerance, smoothing, pi, jitter, ps, timeout)| {
                MCtl::Gradient {
                    initial,
                    min,
                    max,
                    interval,
                    tolerance,
                    smoothing,
                    probe_interval: pi,
                    jitter,
                    probe_samples: ps,
                    timeout,
                }
            },
        );
    let aimd = (
        bounds,
        prop::sample::select(vec![0.5, 0.7, 0.9]),
        prop::sample::select(vec![4 * MS, 10 * MS]),
    )
        .prop_map(|((min, max, initial), backoff, timeout)| MCtl::Aimd {
            initial,
            min,
            max,
            backoff,
            timeout,
        });
    (
        prop_oneof![gradient, aimd],
        prop_oneof![1 => Just(0usize), 3 => 1usize..4],
    )
        .prop_map(|(ctl, queue)| MCfg { ctl, queue })
        .boxed()
}

// ---------------------------------------------------------------------------
// The reference controllers, from the formulas

#[derive(Debug, Clone, PartialEq)]
enum GPhase {
    Probing { rtts: Vec<u64>, resume: f64 },
    Running { next_probe: u64 },
}

/// The median (nearest rank) of the probe's latencies.
fn median(rtts: &[u64]) -> u64 {
    let mut v = rtts.to_vec();
    v.sort_unstable();
    v[v.len().div_ceil(2) - 1]
}

#[derive(Debug, Clone)]
enum MCtlState {
    Gradient {
        limit: f64,
        min_rtt: Option<u64>,
        phase: GPhase,
        window_start: u64,
        latencies: Vec<u64>,
        drops: u64,
        busiest: usize,
    },
    Aimd {
        limit: usize,
        decreased_at: Option<u64>,
    },
}

#[derive(Debug, Clone)]
struct MLimiter {
    cfg: MCtl,
    st: MCtlState,
    reported: usize,
    reported_at: Option<u64>,
    changes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sig {
    Lat(u64),
    Drop,
}

impl MLimiter {
    fn new(cfg: MCtl, now: u64) -> Self {
        let st = match cfg {
            MCtl::Gradient {
                initial, min, max, ..
            } => MCtlState::Gradient {
                limit: min as f64,
                min_rtt: None,
                phase: GPhase::Probing {
                    rtts: Vec::new(),
                    resume: initial.clamp(min, max) as f64,
                },
                window_start: now,
                latencies: Vec::new(),
                drops: 0,
                busiest: 0,
            },
            MCtl::Aimd {
                initial, min, max, ..
            } => MCtlState::Aimd {
                limit: initial.clamp(min, max),
                decreased_at: None,
            },
        };
        let mut l = MLimiter {
            cfg,
            st,
            reported: 0,
            reported_at: None,
            changes: 0,
        };
        l.reported = l.limit();
        l
    }

    fn limit(&self) -> usize {
        match (&self.st, self.cfg) {
            (MCtlState::Gradient { limit, .. }, MCtl::Gradient { min, max, .. }) => {
                (limit.floor() as usize).clamp(min, max)
            }
            (MCtlState::Aimd { limit, .. }, _) => *limit,
            _ => unreachable!(),
        }
    }

    fn probing(&self) -> bool {
        matches!(
            self.st,
            MCtlState::Gradient {
                phase: GPhase::Probing { .. },
                ..
            }
        )
    }

    fn min_rtt(&self) -> Option<u64> {
        match &self.st {
            MCtlState::Gradient { min_rtt, .. } => *min_rtt,
            MCtlState::Aimd { .. } => None,
        }
    }

    /// Times worth landing on: the window's end, the next probe.
    fn boundaries(&self) -> Vec<u64> {
        match (&self.st, self.cfg) {
            (
                MCtlState::Gradient {
                    phase,
                    window_start,
                    ..
                },
                MCtl::Gradient { interval, .. },
            ) => {
                let mut v = vec![window_start + interval];
                if let GPhase::Running { next_probe } = phase {
                    v.push(*next_probe);
                }
                v
            }
            _ => Vec::new(),
        }
    }

    /// One task ended: the event (from, to) due, if any.
    fn on_task(
        &mut self,
        started: u64,
        now: u64,
        in_flight: usize,
        dropped: bool,
        draws: &mut SplitMix64,
        tags: &mut Vec<&'static str>,
    ) -> Option<(usize, usize)> {
        let rtt = now - started;
        let timeout = match self.cfg {
            MCtl::Gradient { timeout, .. } => timeout,
            MCtl::Aimd { timeout, .. } => Some(timeout),
        };
        let sig = if dropped {
            Sig::Drop
        } else if timeout.is_some_and(|t| rtt >= t) {
            tags.push("A11 a task as slow as the timeout is a drop");
            Sig::Drop
        } else {
            Sig::Lat(rtt)
        };
        let before = self.limit();
        let cfg = self.cfg;
        match (&mut self.st, cfg) {
            (
                MCtlState::Gradient {
                    limit,
                    min_rtt,
                    phase,
                    window_start,
                    latencies,
                    drops,
                    busiest,
                },
                MCtl::Gradient {
                    min,
                    max,
                    interval,
                    tolerance,
                    smoothing,
                    probe_interval,
                    jitter,
                    probe_samples,
                    ..
                },
            ) => {
                if let GPhase::Probing { rtts, resume } = phase {
                    match sig {
                        Sig::Drop => tags.push("A06 gradient: a drop while probing is no sample"),
                        Sig::Lat(r) => {
                            rtts.push(r);
                            if rtts.len() >= probe_samples as usize {
                                tags.push("A01 gradient: a probe ends, min_rtt measured");
                                *min_rtt = Some(median(rtts));
                                *limit = *resume;
                                let d = draws.next_u64() >> 32;
                                let spread = (probe_interval as f64 * jitter) as u64;
                                let extra = ((spread as u128 * d as u128) >> 32) as u64;
                                *phase = GPhase::Running {
                                    next_probe: now + probe_interval + extra,
                                };
                                *window_start = now;
                                latencies.clear();
                                *drops = 0;
                                *busiest = 0;
                            }
                        }
                    }
                } else {
                    match sig {
                        Sig::Lat(r) => {
                            latencies.push(r);
                            *busiest = (*busiest).max(in_flight);
                        }
                        Sig::Drop => *drops += 1,
                    }
                    if now >= *window_start + interval {
                        let l = *limit;
                        let shown = (l.floor() as usize).clamp(min, max);
                        let new = if *drops > 0 {
                            tags.push("A03 gradient: a drop halves the gradient");
                            Some(l * 0.5)
                        } else if latencies.is_empty() {
                            None
                        } else {
                            tags.push("A02 gradient: a window closes on latencies");
                            let sum: u128 = latencies.iter().map(|&x| x as u128).sum();
                            let mean = (sum / latencies.len() as u128) as f64;
                            let g = if mean <= 0.0 {
                                1.0
                            } else {
                                (tolerance * min_rtt.unwrap() as f64 / mean).clamp(0.5, 1.0)
                            };
                            let mut n = l * g + l.sqrt();
                            if *busiest * 2 < shown {
                                if n > l {
                                    tags.push("A05 gradient: app-limited, no growth");
                                }
                                n = n.min(l);
                            }
                            Some(n)
                        };
                        if let Some(n) = new {
                            let raw = l * (1.0 - smoothing) + n * smoothing;
                            if raw < min as f64 {
                                tags.push("A14 the limit held at min");
                            }
                            if raw > max as f64 {
                                tags.push("A15 the limit held at max");
                            }
                            *limit = raw.clamp(min as f64, max as f64);
                        }
                        *window_start = now;
                        latencies.clear();
                        *drops = 0;
                        *busiest = 0;
                        if let GPhase::Running { next_probe } = phase {
                            if now >= *next_probe {
                                tags.push("A04 gradient: probes again after the jittered interval");
                                *phase = GPhase::Probing {
                                    rtts: Vec::new(),
                                    resume: *limit,
                                };
                                *limit = min as f64;
                            }
                        }
                    }
                }
            }
            (
                MCtlState::Aimd {
                    limit,
                    decreased_at,
                },
                MCtl::Aimd {
                    min, max, backoff, ..
                },
            ) => match sig {
                Sig::Drop => {
                    if decreased_at.is_some_and(|at| started < at) {
                        tags.push("A09 aimd: one decrease per round trip");
                    } else {
                        tags.push("A08 aimd: decrease");
                        let cut = (*limit as f64 * backoff) as usize;
                        if cut < min {
                            tags.push("A14 the limit held at min");
                        }
                        *limit = cut.clamp(min, max);
                        *decreased_at = Some(now);
                    }
                }
                Sig::Lat(_) => {
                    if in_flight * 2 >= *limit {
                        if *limit == max {
                            tags.push("A15 the limit held at max");
                        } else {
                            tags.push("A07 aimd: increase");
                        }
                        *limit = (*limit + 1).min(max);
                    } else {
                        tags.push("A10 aimd: app-limited, no growth");
                    }
                }
            },
            _ => unreachable!(),
        }
        let after = self.limit();
        if after != before {
            self.changes += 1;
        }
        let moved = after.abs_diff(self.reported);
        let due = self.reported_at.is_none_or(|at| now >= at + EVENT_EVERY);
        if moved > 0 && moved >= (self.reported / 10).max(1) && due {
            let from = self.reported;
            self.reported = after;
            self.reported_at = Some(now);
            tags.push("A18 a limit event");
            return Some((from, after));
        }
        None
    }
}

// ---------------------------------------------------------------------------
// The reference valve

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WState {
    Waiting,
    Granted { at: u64, in_flight: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    started: u64,
    in_flight: usize,
    gen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Sample,
    Drop,
    Ignore,
}

#[derive(Debug, Clone, PartialEq)]
enum Ret {
    Done,
    Ok,
    Err(Refused),
    Pending,
}

#[derive(Debug, Clone)]
enum Op {
    TryAcquire,
    Acquire,
    Poll(Index),
    Release(Index, How),
    Cancel(Index),
    Advance(u64),
    Reconfigure(MCfg),
    ReconfigureSame,
}

#[derive(Debug, Clone)]
struct Model {
    now: u64,
    cfg: MCfg,
    lim: MLimiter,
    gen: u64,
    in_flight: usize,
    queue: VecDeque<u64>,
    waiters: BTreeMap<u64, WState>,
    pending: Vec<u64>,
    held: Vec<Held>,
    next_id: u64,
    draws: SplitMix64,
    events: Vec<(usize, usize)>,
    /// The limit fell below in flight: in flight may only fall.
    over: bool,
    expect: Ret,
    tags: Vec<&'static str>,
}

impl Model {
    fn new(cfg: MCfg) -> Self {
        Model {
            now: 0,
            lim: MLimiter::new(cfg.ctl, 0),
            cfg,
            gen: 1,
            in_flight: 0,
            queue: VecDeque::new(),
            waiters: BTreeMap::new(),
            pending: Vec::new(),
            held: Vec::new(),
            next_id: 0,
            draws: SplitMix64::new(SEED),
            events: Vec::new(),
            over: false,
            expect: Ret::Done,
            tags: Vec::new(),
        }
    }

    fn note_limit(&mut self) {
        self.over = self.in_flight > self.lim.limit();
    }

    fn dispatch(&mut self) {
        while !self.queue.is_empty() && self.in_flight < self.lim.limit() {
            let id = self.queue.pop_front().expect("not empty");
            self.in_flight += 1;
            *self.waiters.get_mut(&id).expect("known") = WState::Granted {
                at: self.now,
                in_flight: self.in_flight,
            };
        }
        self.note_limit();
    }

    fn enter(&mut self, wait: bool) -> Result<Ret, u64> {
        if self.queue.is_empty() && self.in_flight < self.lim.limit() {
            self.in_flight += 1;
            self.held.push(Held {
                started: self.now,
                in_flight: self.in_flight,
                gen: self.gen,
            });
            return Ok(Ret::Ok);
        }
        self.tags.push("A13 a refusal is no sample");
        if !wait {
            return Ok(Ret::Err(Refused::Busy));
        }
        if self.queue.len() >= self.cfg.queue {
            return Ok(Ret::Err(Refused::QueueFull));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push_back(id);
        self.waiters.insert(id, WState::Waiting);
        Err(id)
    }

    fn poll(&mut self, id: u64) -> Ret {
        match self.waiters[&id] {
            WState::Waiting => Ret::Pending,
            WState::Granted { at, in_flight } => {
                self.waiters.remove(&id);
                self.pending.retain(|&p| p != id);
                self.held.push(Held {
                    started: at,
                    in_flight,
                    gen: self.gen,
                });
                Ret::Ok
            }
        }
    }

    fn release(&mut self, h: Held, how: How) {
        let now = self.now;
        let limit_before = self.lim.limit();
        if how == How::Ignore {
            self.tags.push("A12 an ignored permit is no sample");
        } else if h.gen != self.gen {
            self.tags
                .push("A19 a task of an older config reports nothing");
        } else {
            let mut tags = Vec::new();
            let ev = self.lim.on_task(
                h.started,
                now,
                h.in_flight,
                how == How::Drop,
                &mut self.draws,
                &mut tags,
            );
            self.tags.extend(tags);
            if let Some(e) = ev {
                self.events.push(e);
            }
        }
        self.in_flight -= 1;
        let before = self.queue.len();
        self.dispatch();
        if self.queue.len() < before && self.lim.limit() > limit_before {
            self.tags.push("A17 a grown limit serves a waiter");
        }
        if self.over {
            self.tags.push("A16 over the limit after it fell");
        }
    }

    fn apply(&mut self, op: &Op) -> Ret {
        match op {
            Op::TryAcquire => match self.enter(false) {
                Ok(r) => r,
                Err(_) => unreachable!(),
            },
            Op::Acquire => match self.enter(true) {
                Ok(r) => r,
                Err(id) => {
                    self.pending.push(id);
                    self.poll(id)
                }
            },
            Op::Poll(ix) => {
                if self.pending.is_empty() {
                    return Ret::Done;
                }
                let id = self.pending[ix.index(self.pending.len())];
                self.poll(id)
            }
            Op::Release(ix, how) => {
                if self.held.is_empty() {
                    return Ret::Done;
                }
                let h = self.held.remove(ix.index(self.held.len()));
                self.release(h, *how);
                Ret::Done
            }
            Op::Cancel(ix) => {
                if self.pending.is_empty() {
                    return Ret::Done;
                }
                let id = self.pending.remove(ix.index(self.pending.len()));
                match self.waiters.remove(&id).expect("pending") {
                    WState::Waiting => self.queue.retain(|&w| w != id),
                    WState::Granted { .. } => {
                        self.tags.push("A20 cancel after grant hands the slot on");
                        self.in_flight -= 1;
                        self.dispatch();
                    }
                }
                Ret::Done
            }
            Op::Advance(d) => {
                self.now += d;
                Ret::Done
            }
            Op::Reconfigure(cfg) => {
                if cfg.ctl != self.cfg.ctl {
                    self.gen += 1;
                    self.lim = MLimiter::new(cfg.ctl, self.now);
                } else {
                    self.tags
                        .push("A21 reconfigure with the same controller keeps it");
                }
                self.cfg = cfg.clone();
                self.dispatch();
                Ret::Done
            }
            Op::ReconfigureSame => {
                let cfg = self.cfg.clone();
                self.apply(&Op::Reconfigure(cfg))
            }
        }
    }

    fn boundaries(&self) -> Vec<u64> {
        let mut v = self.lim.boundaries();
        let timeout = match self.cfg.ctl {
            MCtl::Gradient { timeout, .. } => timeout,
            MCtl::Aimd { timeout, .. } => Some(timeout),
        };
        if let Some(t) = timeout {
            v.extend(self.held.iter().map(|h| h.started + t));
        }
        v.into_iter()
            .filter(|&t| t >= self.now)
            .map(|t| t - self.now)
            .collect()
    }
}

// ---------------------------------------------------------------------------
// The state machine

struct AdaptiveMachine;

impl ReferenceStateMachine for AdaptiveMachine {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        cfg_strategy().prop_map(Model::new).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let small = (0u64..3_000).prop_map(|us| us * 1_000).boxed();
        let medium = (0u64..30).prop_map(|ms| ms * MS).boxed();
        let long = prop::sample::select(vec![EVENT_EVERY, 60 * MS]).boxed();
        let bounds = state.boundaries();
        let delay = if bounds.is_empty() {
            prop_oneof![3 => small, 1 => medium, 1 => long].boxed()
        } else {
            let exact = (
                prop::sample::select(bounds),
                prop::sample::select(vec![-1i64, 0, 0, 1]),
            )
                .prop_map(|(b, off)| (b as i64 + off).max(0) as u64);
            prop_oneof![3 => small, 1 => medium, 1 => long, 4 => exact].boxed()
        };
        let how = prop_oneof![6 => Just(How::Sample), 2 => Just(How::Drop), 1 => Just(How::Ignore)];
        prop_oneof![
            2 => Just(Op::TryAcquire),
            8 => Just(Op::Acquire),
            3 => any::<Index>().prop_map(Op::Poll),
            8 => (any::<Index>(), how).prop_map(|(i, h)| Op::Release(i, h)),
            1 => any::<Index>().prop_map(Op::Cancel),
            7 => delay.prop_map(Op::Advance),
            1 => cfg_strategy().prop_map(Op::Reconfigure),
            1 => Just(Op::ReconfigureSame),
        ]
        .boxed()
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.tags.clear();
        state.expect = state.apply(op);
        state
    }
}

struct Sut {
    fb: Fusebox,
    clock: ManualClock,
    events: fusebox::event::Subscription,
    pending: Vec<Pin<Box<Acquire>>>,
    held: Vec<Permit>,
    seen: Vec<(usize, usize)>,
}

impl Sut {
    fn valve(&self) -> fusebox::Valve {
        self.fb.valve("v").expect("installed")
    }

    fn poll(&mut self, i: usize) -> Ret {
        let mut cx = Context::from_waker(Waker::noop());
        match self.pending[i].as_mut().poll(&mut cx) {
            Poll::Ready(Ok(p)) => {
                drop(self.pending.remove(i));
                self.held.push(p);
                Ret::Ok
            }
            Poll::Ready(Err(r)) => {
                drop(self.pending.remove(i));
                Ret::Err(r)
            }
            Poll::Pending => Ret::Pending,
        }
    }

    fn run(&mut self, op: &Op, model_cfg: &MCfg) -> Ret {
        match op {
            Op::TryAcquire => match self.valve().try_acquire() {
                Ok(p) => {
                    self.held.push(p);
                    Ret::Ok
                }
                Err(r) => Ret::Err(r),
            },
            Op::Acquire => {
                self.pending.push(Box::pin(self.valve().acquire()));
                let i = self.pending.len() - 1;
                self.poll(i)
            }
            Op::Poll(ix) => {
                if self.pending.is_empty() {
                    return Ret::Done;
                }
                let i = ix.index(self.pending.len());
                self.poll(i)
            }
            Op::Release(ix, how) => {
                if self.held.is_empty() {
                    return Ret::Done;
                }
                let p = self.held.remove(ix.index(self.held.len()));
                match how {
                    How::Sample => drop(p),
                    How::Drop => p.dropped(),
                    How::Ignore => p.ignore(),
                }
                Ret::Done
            }
            Op::Cancel(ix) => {
                if self.pending.is_empty() {
                    return Ret::Done;
                }
                let i = ix.index(self.pending.len());
                drop(self.pending.remove(i));
                Ret::Done
            }
            Op::Advance(d) => {
                self.clock.advance(Duration::from_nanos(*d));
                Ret::Done
            }
            Op::Reconfigure(cfg) => {
                self.fb
                    .install_valve("v", cfg.to_config())
                    .expect("valid config");
                Ret::Done
            }
            Op::ReconfigureSame => {
                self.fb
                    .install_valve("v", model_cfg.to_config())
                    .expect("valid config");
                Ret::Done
            }
        }
    }

    fn drain_events(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            if let EventKind::Valve {
                change: ValveChange::Limit { from, to },
            } = e.kind
            {
                self.seen.push((from, to));
            }
        }
    }
}

struct AdaptiveTest;

impl StateMachineTest for AdaptiveTest {
    type SystemUnderTest = Sut;
    type Reference = AdaptiveMachine;

    fn init_test(model: &Model) -> Sut {
        let clock = ManualClock::new();
        let fb = Fusebox::builder()
            .clock(clock.clone())
            .seed(SEED)
            .alarm_period(Duration::from_secs(1_000_000_000))
            .build();
        let events = fb.subscribe_with_capacity(100_000);
        fb.install_valve("v", model.cfg.to_config())
            .expect("valid config");
        Sut {
            fb,
            clock,
            events,
            pending: Vec::new(),
            held: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, model: &Model, op: Op) -> Sut {
        let before = sut.valve().in_flight();
        // The model's config before the op is what "the same" reinstalls:
        // the model already applied it, and its config is unchanged by it.
        let got = sut.run(&op, &model.cfg);
        assert_eq!(got, model.expect, "answer to {op:?}");
        let v = sut.valve();
        let snap = v.snapshot();
        let limit = v.limit();
        assert_eq!(limit, model.lim.limit(), "limit after {op:?}");
        assert_eq!(snap.concurrency, limit, "snapshot limit");
        assert_eq!(v.in_flight(), model.in_flight, "in_flight after {op:?}");
        assert_eq!(v.queued(), model.queue.len(), "queued after {op:?}");
        assert_eq!(sut.pending.len(), model.pending.len(), "pending");
        assert_eq!(sut.held.len(), model.held.len(), "held");
        let ls = snap.limit.expect("adaptive");
        assert_eq!(
            ls.min_rtt.map(|d| d.as_nanos() as u64),
            model.lim.min_rtt(),
            "min_rtt"
        );
        assert_eq!(ls.probing, model.lim.probing(), "probing");
        assert_eq!(ls.changes, model.lim.changes, "changes");
        let (min, max) = model.cfg.min_max();
        assert!(
            (min..=max).contains(&limit),
            "limit {limit} outside [{min}, {max}]"
        );
        let n = v.in_flight();
        if n > limit {
            assert!(model.over, "in flight {n} above the limit {limit}");
            assert!(n <= before, "in flight grew above the limit after {op:?}");
        }
        sut.drain_events();
        assert_eq!(sut.seen, model.events, "limit events");
        let mut reached = REACHED.lock().unwrap();
        for tag in &model.tags {
            *reached.entry(tag).or_default() += 1;
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        assert_eq!(sut.fb.now().as_nanos() as u64, model.now, "clock");
    }

    fn teardown(mut sut: Sut, _model: Model) {
        sut.pending.clear();
        sut.held.clear();
        let v = sut.valve();
        assert_eq!((v.in_flight(), v.queued()), (0, 0), "nothing leaks");
    }
}

#[test]
fn adaptive_valve_matches_model() {
    let _watch = watchdog::watchdog(
        "model_adaptive::adaptive_valve_matches_model",
        std::time::Duration::from_secs(120),
    );
    let config = Config {
        cases: reached::cases("FUSEBOX_ADAPTIVE_CASES", 3_000),
        failure_persistence: None,
        ..Config::default()
    };
    reached::run_with(
        config,
        &AdaptiveMachine::sequential_strategy(1..120),
        |config, (init, transitions, seen)| {
            AdaptiveTest::test_sequential(config.clone(), init, transitions, seen);
            Ok(())
        },
        &REACHED,
        REQUIREMENTS,
    );
}
