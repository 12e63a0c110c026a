//! The reference model of a Fusebox: the contract's section 2
//! (`fusebox::_contract`, `crates/fusebox/docs/contract.md`) written as the
//! plainest sequential code we could write, with no concern for speed. The
//! state-machine test (`model_fuse.rs`) and the linearizability checker
//! (`linearizable.rs`) both compare the real thing against it.
//!
//! Time is in nanoseconds on a `ManualClock`. Configs are in whole
//! microseconds, advances are not: a heal deadline is rounded up to the
//! microsecond, as the fuse's state word stores it.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fusebox::{event::Cause, fuse::FuseState, Ask, FuseConfig, Heal, Step as HealStep, Strategy};

pub const NAMES: [&str; 4] = ["a", "b", "c", "zz"];

/// One step of a heal program, as the model sees it. `Gradual` admits
/// everything (fraction 1.0), so answers stay deterministic; fractions below
/// 1 are checked statistically in `heal_programs.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MStep {
    Delay(u64),
    GradualAll,
    Probe(u32),
    Barrier,
}

/// A config as the model sees it. `Invalid` ones name the field they break.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cfg {
    Standard {
        max: u32,
        window_us: u64,
        after_us: u64,
    },
    /// Fault injection at rate 1.0: deterministic, every ask on an ok fuse
    /// is an injected refusal.
    Inject {
        max: u32,
        window_us: u64,
        after_us: u64,
    },
    /// `standard` with a heal program.
    Program {
        max: u32,
        window_us: u64,
        steps: Vec<MStep>,
    },
    /// `consecutive(n)` with a reset heal.
    Consecutive {
        n: u32,
        after_us: u64,
    },
    /// `failure_rate(pct / 100, window, min_calls)` with a reset heal.
    Rate {
        pct: u32,
        window_us: u64,
        min_calls: u32,
        after_us: u64,
    },
    /// `throttle(k_tenths / 10, window).min_requests(min_requests)
    /// .max_reject(cap_pct / 100)`, with `blow_at(blow_pct / 100)` if given
    /// (at most `cap_pct`), and a reset heal. Its decisions depend on the
    /// Fusebox's draws: the model must be [`Model::seeded`].
    Throttle {
        k_tenths: u32,
        window_us: u64,
        min_requests: u32,
        blow_pct: Option<u32>,
        cap_pct: u32,
        after_us: u64,
    },
    Invalid(Bad),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bad {
    ZeroWindow,
    RateZero,
    RateAboveOne,
    RateNan,
    InjectNoBudget,
    ZeroAfter,
    EmptyProgram,
    OnlyGradual,
    ZeroProbe,
    ZeroConsecutive,
    ZeroMinCalls,
    ThrottleKBelowOne,
    ThrottleBlowAtOne,
    ThrottleCapZero,
    ThrottleCapAboveOne,
    ThrottleCapNan,
    ThrottleBlowAboveCap,
}

/// How a fuse decides to blow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rule {
    Window {
        max: u32,
        window: u64,
    },
    Consecutive(u32),
    Rate {
        pct: u32,
        window: u64,
        min_calls: u32,
    },
    Throttle {
        k_tenths: u32,
        window: u64,
        min_requests: u32,
        blow_pct: Option<u32>,
        cap_pct: u32,
    },
}

impl Cfg {
    pub fn to_config(&self) -> FuseConfig {
        let us = Duration::from_micros;
        let s = Duration::from_secs(1);
        match *self {
            Cfg::Standard {
                max,
                window_us,
                after_us,
            } => FuseConfig::standard(max, us(window_us)).heal(Heal::reset(us(after_us))),
            Cfg::Inject {
                max,
                window_us,
                after_us,
            } => {
                FuseConfig::fault_injection(1.0, max, us(window_us)).heal(Heal::reset(us(after_us)))
            }
            Cfg::Program {
                max,
                window_us,
                ref steps,
            } => FuseConfig::standard(max, us(window_us)).heal(Heal::program(steps.iter().map(
                |st| match *st {
                    MStep::Delay(d) => HealStep::Delay(us(d)),
                    MStep::GradualAll => HealStep::Gradual(1.0),
                    MStep::Probe(n) => HealStep::Probe(n),
                    MStep::Barrier => HealStep::Barrier,
                },
            ))),
            Cfg::Consecutive { n, after_us } => {
                FuseConfig::new(Strategy::consecutive(n)).heal(Heal::reset(us(after_us)))
            }
            Cfg::Rate {
                pct,
                window_us,
                min_calls,
                after_us,
            } => FuseConfig::new(Strategy::failure_rate(
                f64::from(pct) / 100.0,
                us(window_us),
                min_calls,
            ))
            .heal(Heal::reset(us(after_us))),
            Cfg::Throttle {
                k_tenths,
                window_us,
                min_requests,
                blow_pct,
                cap_pct,
                after_us,
            } => {
                let t = Strategy::throttle(f64::from(k_tenths) / 10.0, us(window_us))
                    .min_requests(min_requests)
                    .max_reject(f64::from(cap_pct) / 100.0);
                let t = match blow_pct {
                    Some(pct) => t.blow_at(f64::from(pct) / 100.0),
                    None => t,
                };
                FuseConfig::new(t).heal(Heal::reset(us(after_us)))
            }
            Cfg::Invalid(b) => match b {
                Bad::ZeroWindow => FuseConfig::standard(1, Duration::ZERO),
                Bad::RateZero => FuseConfig::fault_injection(0.0, 1, s),
                Bad::RateAboveOne => FuseConfig::fault_injection(1.5, 1, s),
                Bad::RateNan => FuseConfig::fault_injection(f64::NAN, 1, s),
                Bad::InjectNoBudget => FuseConfig::fault_injection(0.5, 0, s),
                Bad::ZeroAfter => FuseConfig::standard(1, s).heal(Heal::reset(Duration::ZERO)),
                Bad::EmptyProgram => FuseConfig::standard(1, s).heal(Heal::program([])),
                Bad::OnlyGradual => {
                    FuseConfig::standard(1, s).heal(Heal::program([HealStep::Gradual(0.5)]))
                }
                Bad::ZeroProbe => {
                    FuseConfig::standard(1, s).heal(Heal::program([HealStep::Probe(0)]))
                }
                Bad::ZeroConsecutive => FuseConfig::new(Strategy::consecutive(0)),
                Bad::ZeroMinCalls => FuseConfig::new(Strategy::failure_rate(0.5, s, 0)),
                Bad::ThrottleKBelowOne => FuseConfig::new(Strategy::throttle(0.5, s)),
                Bad::ThrottleBlowAtOne => FuseConfig::new(Strategy::throttle(2.0, s).blow_at(1.0)),
                Bad::ThrottleCapZero => FuseConfig::new(Strategy::throttle(2.0, s).max_reject(0.0)),
                Bad::ThrottleCapAboveOne => {
                    FuseConfig::new(Strategy::throttle(2.0, s).max_reject(1.5))
                }
                Bad::ThrottleCapNan => {
                    FuseConfig::new(Strategy::throttle(2.0, s).max_reject(f64::NAN))
                }
                Bad::ThrottleBlowAboveCap => {
                    FuseConfig::new(Strategy::throttle(2.0, s).blow_at(0.9).max_reject(0.8))
                }
            },
        }
    }

    /// The field an invalid config must be refused for.
    pub fn invalid_field(&self) -> Option<&'static str> {
        match self {
            Cfg::Invalid(b) => Some(match b {
                Bad::ZeroWindow => "strategy.window",
                Bad::RateZero | Bad::RateAboveOne | Bad::RateNan => "strategy.rate",
                Bad::InjectNoBudget => "strategy.max_melts",
                Bad::ZeroAfter => "heal.steps[0].delay",
                Bad::EmptyProgram | Bad::OnlyGradual => "heal.steps",
                Bad::ZeroProbe => "heal.steps[0].probe",
                Bad::ZeroConsecutive => "strategy.failures",
                Bad::ZeroMinCalls => "strategy.min_calls",
                Bad::ThrottleKBelowOne => "strategy.k",
                Bad::ThrottleBlowAtOne | Bad::ThrottleBlowAboveCap => "strategy.blow_at",
                Bad::ThrottleCapZero | Bad::ThrottleCapAboveOne | Bad::ThrottleCapNan => {
                    "strategy.max_reject"
                }
            }),
            _ => None,
        }
    }

    fn rule(&self) -> Rule {
        match *self {
            Cfg::Standard { max, window_us, .. }
            | Cfg::Inject { max, window_us, .. }
            | Cfg::Program { max, window_us, .. } => Rule::Window {
                max,
                window: window_us * 1000,
            },
            Cfg::Consecutive { n, .. } => Rule::Consecutive(n),
            Cfg::Rate {
                pct,
                window_us,
                min_calls,
                ..
            } => Rule::Rate {
                pct,
                window: window_us * 1000,
                min_calls,
            },
            Cfg::Throttle {
                k_tenths,
                window_us,
                min_requests,
                blow_pct,
                cap_pct,
                ..
            } => Rule::Throttle {
                k_tenths,
                window: window_us * 1000,
                min_requests,
                blow_pct,
                cap_pct,
            },
            Cfg::Invalid(_) => unreachable!("invalid configs are never installed"),
        }
    }

    fn steps(&self) -> Vec<MStep> {
        match *self {
            Cfg::Program { ref steps, .. } => steps.clone(),
            Cfg::Standard { after_us, .. }
            | Cfg::Inject { after_us, .. }
            | Cfg::Consecutive { after_us, .. }
            | Cfg::Rate { after_us, .. }
            | Cfg::Throttle { after_us, .. } => vec![MStep::Delay(after_us)],
            Cfg::Invalid(_) => unreachable!("invalid configs are never installed"),
        }
    }

    fn injects(&self) -> bool {
        matches!(self, Cfg::Inject { .. })
    }

    fn counts_successes(&self) -> bool {
        matches!(
            self,
            Cfg::Consecutive { .. } | Cfg::Rate { .. } | Cfg::Throttle { .. }
        )
    }
}

/// What a `run` closure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    Err,
    Panic,
    /// Returns `Err`, classified as ignored.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    Install(&'static str, Cfg),
    Ask(&'static str),
    Melt(&'static str),
    Run(&'static str, Outcome),
    Success(&'static str),
    Reset(&'static str),
    Remove(&'static str),
    Disable(&'static str),
    Enable(&'static str),
    Unlock(&'static str),
    State(&'static str),
    Snapshot,
    /// Advance the clock by this many ns and run due timers.
    Advance(u64),
    /// Advance the clock without running timers (a late timer thread).
    AdvanceQuiet(u64),
    /// Start an async call on a handle and leave it running (admitted, or
    /// refused at once).
    Begin(&'static str),
    /// End the running call at this index of the calls begun, with this outcome.
    End(usize, Outcome),
    /// Drop the running call at this index before it ends.
    Cancel(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunRet {
    Ok,
    Failed,
    Blown,
}

/// What a fuse looks like from `state`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct View {
    pub state: FuseState,
    pub melts_in_window: u64,
    pub next_heal: Option<u64>,
    pub last_blow: Option<u64>,
    pub heal_step: Option<usize>,
    /// asks_ok, asks_blown, injected, melts, successes, blows, heals,
    /// throttled
    pub counters: [u64; 8],
    /// A throttle's (requests, accepts, reject probability's bits).
    pub throttle: Option<(u64, u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ret {
    Done,
    NotFound,
    Ask(Ask),
    Run(RunRet),
    Install(Result<(), String>),
    State(View),
    Snapshot(Vec<(String, View)>),
    /// `Begin`: true if admitted (the call is running), false if refused.
    Begun(bool),
}

/// A call begun and not ended: the fuse it was admitted by (its name and
/// incarnation: a fuse removed and installed again is another), its ticket,
/// and whether the strategy counted successes when it was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Running {
    name: &'static str,
    id: u64,
    ticket: MTicket,
    counts_successes: bool,
}

/// A transition event as the model predicts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MEvent {
    pub name: String,
    pub from: Option<FuseState>,
    pub to: Option<FuseState>,
    pub cause: Cause,
    pub at: u64,
}

/// Where a blown fuse is in its heal program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum MAdmit {
    Nothing,
    All,
    Probe(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Prog {
    step: usize,
    admit: MAdmit,
    /// End of a delay step: (deadline, order in which it was scheduled).
    until: Option<(u64, u64)>,
    probes_ok: u32,
    in_use: u32,
}

/// What admission hands a call: the generation, the probe step whose
/// slot it holds, and when a throttle counted its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MTicket {
    pub gen: u64,
    pub probe: Option<usize>,
    pub throttle_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MFuse {
    /// Which install of the name this is (a reinstall keeps it).
    id: u64,
    cfg: Cfg,
    disabled: bool,
    /// Window rule: every melt still remembered.
    melts: Vec<u64>,
    /// Consecutive rule: failures since the last success.
    consecutive: u32,
    /// Rate rule: every outcome, (time, failed).
    outcomes: Vec<(u64, bool)>,
    /// Throttle rule: the time of every request counted (an ignored call's
    /// is taken out again) and of every accept.
    requests: Vec<u64>,
    accepts: Vec<u64>,
    prog: Option<Prog>,
    /// Blows and heals so far.
    gen: u64,
    last_blow: Option<u64>,
    c: [u64; 8],
}

const ASK_OK: usize = 0;
const ASK_BLOWN: usize = 1;
const INJECTED: usize = 2;
const MELTS: usize = 3;
const SUCCESSES: usize = 4;
const BLOWS: usize = 5;
const HEALS: usize = 6;
const THROTTLED: usize = 7;

/// (calls, failures) of the rate rule at `now`: outcomes counted in 10
/// buckets of `window / 10`, the current one and the 9 before it.
fn rate_totals(outcomes: &[(u64, bool)], now: u64, window: u64) -> (u64, u64) {
    let width = (window / 10).max(1);
    let current = now / width + 1;
    outcomes
        .iter()
        .filter(|(t, _)| {
            let b = t / width + 1;
            b + 10 > current && b <= current
        })
        .fold((0, 0), |(c, f), &(_, failed)| {
            (c + 1, f + u64::from(failed))
        })
}

/// True if an event at `t` is in the window at `now`: the 10-bucket rule of
/// `rate_totals`.
fn in_buckets(t: u64, now: u64, window: u64) -> bool {
    let width = (window / 10).max(1);
    let current = now / width + 1;
    let b = t / width + 1;
    b + 10 > current && b <= current
}

/// The throttle, plainly: (requests, accepts) in the window at `now`, and
/// the SRE book's reject probability for them in f64, 0 below the warm-up,
/// and never above the cap (`cap_pct` / 100; Envoy's
/// `max_rejection_probability`).
fn throttle_p(
    f: &MFuse,
    now: u64,
    k_tenths: u32,
    window: u64,
    min_requests: u32,
    cap_pct: u32,
) -> (u64, u64, f64) {
    let r = f
        .requests
        .iter()
        .filter(|&&t| in_buckets(t, now, window))
        .count() as u64;
    let a = f
        .accepts
        .iter()
        .filter(|&&t| in_buckets(t, now, window))
        .count() as u64;
    let k = f64::from(k_tenths) / 10.0;
    let cap = f64::from(cap_pct) / 100.0;
    let p = if r < u64::from(min_requests) {
        0.0
    } else {
        ((r as f64 - k * a as f64) / (r as f64 + 1.0)).max(0.0)
    };
    (r, a, if p > cap { cap } else { p })
}

impl MFuse {
    fn state(&self) -> FuseState {
        if self.disabled {
            FuseState::Disabled
        } else if self.prog.is_some() {
            FuseState::Blown
        } else {
            FuseState::Ok
        }
    }

    /// Ok, empty history: a new generation.
    fn clear(&mut self) {
        self.prog = None;
        self.melts.clear();
        self.consecutive = 0;
        self.outcomes.clear();
        self.requests.clear();
        self.accepts.clear();
        self.gen += 1;
    }
}

/// The model Fusebox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Model {
    pub now: u64,
    fuses: BTreeMap<&'static str, MFuse>,
    seq: u64,
    /// Calls begun and not yet ended, in the order they began.
    running: Vec<Running>,
    /// The Fusebox's seeded draw stream (SplitMix64's state), if the real
    /// one is seeded: the model draws exactly when the fuse does (fault
    /// injection and gradual asks, throttle asks whose probability is
    /// above 0), so a throttle's decisions can be predicted.
    draws: Option<u64>,
}

/// The result of one step: the return value, the events, and the tags of
/// the requirements the step exercised.
#[derive(Debug, Default)]
pub struct Step {
    pub events: Vec<MEvent>,
    pub tags: Vec<&'static str>,
}

impl Model {
    /// A model of a Fusebox built with `.seed(seed)`.
    pub fn seeded(seed: u64) -> Self {
        Model {
            draws: Some(seed),
            ..Model::default()
        }
    }

    /// The seed the real Fusebox must be built with, if any.
    pub fn seed(&self) -> Option<u64> {
        self.draws
    }

    /// The next draw in [0, 2^32), as `Draws::draw32` makes it; `None` for
    /// an unseeded model (whose draws cannot be known).
    fn draw32(&mut self) -> Option<u64> {
        let state = self.draws.as_mut()?;
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        Some(fusebox::rng::mix(*state) >> 32)
    }

    /// The fuses whose state differs from `before` (installed, removed or
    /// changed).
    #[allow(dead_code)] // used by the linearizability test only
    pub fn changed_since(&self, before: &Model) -> Vec<&'static str> {
        let names: BTreeSet<&'static str> = self
            .fuses
            .keys()
            .chain(before.fuses.keys())
            .copied()
            .collect();
        names
            .into_iter()
            .filter(|n| self.fuses.get(n) != before.fuses.get(n))
            .collect()
    }

    pub fn installed(&self, name: &str) -> bool {
        self.fuses.contains_key(name)
    }

    /// How many calls are running (begun, not ended).
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The generation of an installed fuse (what a split `run` remembers).
    pub fn gen(&self, name: &str) -> Option<u64> {
        self.fuses.get(name).map(|f| f.gen)
    }

    /// Interesting future instants (ns from now): melts and outcomes leaving
    /// windows and step deadlines, so the generator can land exactly on
    /// boundaries.
    pub fn boundaries(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for f in self.fuses.values() {
            let window = match f.cfg.rule() {
                Rule::Window { window, .. }
                | Rule::Rate { window, .. }
                | Rule::Throttle { window, .. } => window,
                Rule::Consecutive(_) => 0,
            };
            let times = f
                .melts
                .iter()
                .chain(f.outcomes.iter().map(|(t, _)| t))
                .chain(&f.requests)
                .chain(&f.accepts);
            for &t in times {
                if t + window > self.now {
                    out.push(t + window - self.now);
                }
            }
            if let Some(Prog {
                until: Some((at, _)),
                ..
            }) = f.prog
            {
                if at > self.now {
                    out.push(at - self.now);
                }
            }
        }
        out
    }

    /// Applies one operation and returns what the real Fusebox must return.
    pub fn apply(&mut self, op: &Op, step: &mut Step) -> Ret {
        match *op {
            Op::Install(name, ref cfg) => self.install(name, cfg, step),
            Op::Ask(name) => self.on(name, step, "R06 ask unknown", |m, f, step| {
                Ret::Ask(match m.admit(f, step) {
                    Some(_) => Ask::Ok,
                    None => Ask::Blown,
                })
            }),
            Op::Melt(name) => self.on(name, step, "R09 melt unknown", |m, f, step| {
                f.c[MELTS] += 1;
                if f.disabled {
                    step.tags.push("R22 melt while disabled");
                } else {
                    m.failed(name, f, step);
                }
                Ret::Done
            }),
            Op::Run(name, outcome) => self.on(name, step, "R15 run unknown", |m, f, step| {
                let Some(ticket) = m.admit(f, step) else {
                    step.tags.push("R14 run refused");
                    return Ret::Run(RunRet::Blown);
                };
                m.complete(name, f, ticket, outcome, step);
                Ret::Run(match outcome {
                    Outcome::Ok => RunRet::Ok,
                    _ => RunRet::Failed,
                })
            }),
            Op::Success(name) => self.on(name, step, "R36 success unknown", |m, f, step| {
                step.tags.push("R36 success");
                f.c[SUCCESSES] += 1;
                if f.disabled {
                    return Ret::Done;
                }
                let probe = match &mut f.prog {
                    Some(p) if matches!(p.admit, MAdmit::Probe(_)) && p.in_use > 0 => {
                        p.in_use -= 1;
                        Some(p.step)
                    }
                    _ => None,
                };
                m.succeeded(name, f, probe, step);
                Ret::Done
            }),
            Op::Reset(name) => self.on(name, step, "R17 reset unknown", |_, f, step| {
                step.tags.push("R16 reset");
                let from = f.state();
                f.clear();
                if from != f.state() {
                    step.event(name, Some(from), Some(f.state()), Cause::Reset, 0);
                }
                Ret::Done
            }),
            Op::Remove(name) => {
                let now = self.now;
                let r = self.on(name, step, "R19 remove unknown", |_, f, step| {
                    step.tags.push("R18 remove");
                    step.event(name, Some(f.state()), None, Cause::Remove, now);
                    Ret::Done
                });
                self.fuses.remove(name);
                r
            }
            Op::Disable(name) => self.on(name, step, "R21 disable unknown", |_, f, step| {
                step.tags.push("R20 disable");
                if !f.disabled {
                    let from = f.state();
                    f.disabled = true;
                    f.clear();
                    step.event(
                        name,
                        Some(from),
                        Some(FuseState::Disabled),
                        Cause::Disable,
                        0,
                    );
                }
                Ret::Done
            }),
            Op::Enable(name) => self.on(name, step, "R21 enable unknown", |_, f, step| {
                step.tags.push("R20 enable");
                if f.disabled {
                    f.disabled = false;
                    f.clear();
                    step.event(
                        name,
                        Some(FuseState::Disabled),
                        Some(FuseState::Ok),
                        Cause::Enable,
                        0,
                    );
                }
                Ret::Done
            }),
            Op::Unlock(name) => self.on(name, step, "R28 unlock unknown", |m, f, step| {
                step.tags.push("R28 unlock");
                if let Some(p) = f.prog {
                    if !f.disabled && f.cfg.steps()[p.step] == MStep::Barrier {
                        step.tags.push("R40 unlock releases a barrier");
                        let now = m.now;
                        m.enter(name, f, p.step + 1, now, step);
                    }
                }
                Ret::Done
            }),
            Op::State(name) => self.on(name, step, "R29 state unknown", |m, f, step| {
                step.tags.push("R29 state");
                Ret::State(m.view(f))
            }),
            Op::Snapshot => {
                let names: Vec<&'static str> = self.fuses.keys().copied().collect();
                let mut all = Vec::new();
                for name in names {
                    self.catch_up(name, step);
                    all.push((name.to_owned(), self.view(&self.fuses[name])));
                }
                Ret::Snapshot(all)
            }
            Op::Advance(d) => {
                self.now += d;
                let mut due: Vec<(u64, u64, &'static str)> = self
                    .fuses
                    .iter()
                    .filter(|(_, f)| !f.disabled)
                    .filter_map(|(n, f)| {
                        f.prog.and_then(|p| p.until).map(|(at, seq)| (at, seq, *n))
                    })
                    .filter(|(at, _, _)| *at <= self.now)
                    .collect();
                due.sort();
                for (_, _, name) in due {
                    step.tags.push("R23 heal on timer");
                    self.catch_up(name, step);
                }
                Ret::Done
            }
            Op::AdvanceQuiet(d) => {
                self.now += d;
                Ret::Done
            }
            Op::Begin(name) => self.on(name, step, "R45 begin unknown", |m, f, step| {
                match m.admit(f, step) {
                    Some(ticket) => {
                        step.tags.push("R45 call begun");
                        m.running.push(Running {
                            name,
                            id: f.id,
                            ticket,
                            counts_successes: !matches!(f.cfg.rule(), Rule::Window { .. }),
                        });
                        Ret::Begun(true)
                    }
                    None => Ret::Begun(false),
                }
            }),
            Op::End(i, outcome) => {
                let call = self.running.remove(i);
                self.end(call, outcome, step);
                Ret::Run(match outcome {
                    Outcome::Ok => RunRet::Ok,
                    _ => RunRet::Failed,
                })
            }
            Op::Cancel(i) => {
                let call = self.running.remove(i);
                step.tags.push("R46 cancelled call counts nowhere");
                self.end(call, Outcome::Ignored, step);
                Ret::Done
            }
        }
    }

    /// The outcome of a running call reaches the fuse that admitted it, if
    /// that fuse is still installed (a removed one hears nothing). A success
    /// that holds no probe slot, for a strategy that counts no successes, is
    /// only a counter: the fuse applies no due step for it.
    fn end(&mut self, call: Running, outcome: Outcome, step: &mut Step) {
        let Some(mut f) = self.fuses.get(call.name).cloned() else {
            step.tags.push("R47 outcome of a removed fuse goes nowhere");
            return;
        };
        if f.id != call.id {
            step.tags.push("R47 outcome of a removed fuse goes nowhere");
            return;
        }
        if call.ticket.gen != f.gen {
            step.tags.push("R41 stale outcome ignored");
        }
        if outcome == Outcome::Ok && !call.counts_successes && call.ticket.probe.is_none() {
            f.c[SUCCESSES] += 1;
        } else {
            let before = step.events.len();
            self.due_steps(call.name, &mut f, step);
            if step.events.len() > before {
                step.tags.push("R26 lazy heal");
            }
            self.complete(call.name, &mut f, call.ticket, outcome, step);
        }
        self.fuses.insert(call.name, f);
    }

    fn install(&mut self, name: &'static str, cfg: &Cfg, step: &mut Step) -> Ret {
        if let Some(field) = cfg.invalid_field() {
            step.tags.push("R03 install invalid");
            return Ret::Install(Err(field.to_owned()));
        }
        let now = self.now;
        if self.fuses.contains_key(name) {
            step.tags.push("R02 reinstall");
            self.catch_up(name, step);
            let f = self.fuses.get_mut(name).unwrap();
            if f.disabled {
                step.tags.push("R24 reinstall keeps disabled");
            }
            let from = f.state();
            f.cfg = cfg.clone();
            f.clear();
            step.event(name, Some(from), Some(f.state()), Cause::Install, now);
        } else {
            step.tags.push("R01 install");
            self.seq += 1;
            let id = self.seq;
            self.fuses.insert(
                name,
                MFuse {
                    id,
                    cfg: cfg.clone(),
                    disabled: false,
                    melts: Vec::new(),
                    consecutive: 0,
                    outcomes: Vec::new(),
                    requests: Vec::new(),
                    accepts: Vec::new(),
                    prog: None,
                    gen: 0,
                    last_blow: None,
                    c: [0; 8],
                },
            );
            step.event(name, None, Some(FuseState::Ok), Cause::Install, now);
        }
        Ret::Install(Ok(()))
    }

    /// Runs `f` on an installed fuse after applying its due steps, or answers
    /// not found. Events with time 0 get the current time.
    fn on(
        &mut self,
        name: &'static str,
        step: &mut Step,
        unknown_tag: &'static str,
        f: impl FnOnce(&mut Model, &mut MFuse, &mut Step) -> Ret,
    ) -> Ret {
        let Some(mut fuse) = self.fuses.get(name).cloned() else {
            step.tags.push(unknown_tag);
            return Ret::NotFound;
        };
        let before = step.events.len();
        self.due_steps(name, &mut fuse, step);
        if step.events.len() > before {
            step.tags.push("R26 lazy heal");
        }
        let first_new = step.events.len();
        let ret = f(self, &mut fuse, step);
        for e in &mut step.events[first_new..] {
            if e.at == 0 {
                e.at = self.now;
            }
        }
        if self.fuses.contains_key(name) {
            self.fuses.insert(name, fuse);
        }
        ret
    }

    /// Ends every delay step whose deadline has passed, in order.
    fn due_steps(&mut self, name: &str, f: &mut MFuse, step: &mut Step) {
        while let Some(Prog {
            step: i,
            until: Some((at, _)),
            ..
        }) = f.prog
        {
            if f.disabled || at > self.now {
                break;
            }
            self.enter(name, f, i + 1, at, step);
        }
    }

    fn catch_up(&mut self, name: &'static str, step: &mut Step) {
        let mut f = self.fuses[name].clone();
        self.due_steps(name, &mut f, step);
        self.fuses.insert(name, f);
    }

    /// Ask; `Some` if admitted (and which probe slot was taken).
    fn admit(&mut self, f: &mut MFuse, step: &mut Step) -> Option<MTicket> {
        let gen = f.gen;
        let ticket = |probe| {
            Some(MTicket {
                gen,
                probe,
                throttle_at: None,
            })
        };
        if f.disabled {
            step.tags.push("R05 ask blown");
            f.c[ASK_BLOWN] += 1;
            return None;
        }
        match &mut f.prog {
            Some(Prog {
                admit: MAdmit::Nothing,
                ..
            }) => {
                step.tags.push("R05 ask blown");
                f.c[ASK_BLOWN] += 1;
                None
            }
            Some(Prog {
                admit: MAdmit::All, ..
            }) => {
                // Gradual(1.0) draws, and admits whatever the draw.
                self.draw32();
                step.tags.push("R30 gradual admits");
                f.c[ASK_OK] += 1;
                ticket(None)
            }
            Some(Prog {
                admit: MAdmit::Probe(n),
                in_use,
                step: at,
                ..
            }) => {
                if *in_use < *n {
                    *in_use += 1;
                    let at = *at;
                    step.tags.push("R31 probe admits");
                    f.c[ASK_OK] += 1;
                    ticket(Some(at))
                } else {
                    step.tags.push("R32 probes full refuse");
                    f.c[ASK_BLOWN] += 1;
                    None
                }
            }
            None if f.cfg.injects() => {
                // Rate 1.0 draws, and refuses whatever the draw.
                self.draw32();
                step.tags.push("R27 fault injection refuses");
                f.c[INJECTED] += 1;
                None
            }
            None => {
                if let Rule::Throttle { .. } = f.cfg.rule() {
                    return self.throttle_admit(f, step);
                }
                step.tags.push("R04 ask ok");
                f.c[ASK_OK] += 1;
                ticket(None)
            }
        }
    }

    /// An ask of an ok throttling fuse: the probability from the window
    /// before this ask, a draw only if it is above 0, refused if the draw is
    /// below `p · 2^32`; counted as a request either way.
    fn throttle_admit(&mut self, f: &mut MFuse, step: &mut Step) -> Option<MTicket> {
        let Rule::Throttle {
            k_tenths,
            window,
            min_requests,
            cap_pct,
            ..
        } = f.cfg.rule()
        else {
            unreachable!("only throttling fuses throttle");
        };
        let now = self.now;
        if f.requests.iter().any(|&t| !in_buckets(t, now, window)) {
            step.tags.push("R52 requests leave the throttle window");
        }
        let (r, _, p) = throttle_p(f, now, k_tenths, window, min_requests, cap_pct);
        let warm_up =
            r < u64::from(min_requests) && throttle_p(f, now, k_tenths, window, 0, cap_pct).2 > 0.0;
        if p > 0.0 && throttle_p(f, now, k_tenths, window, min_requests, 100).2 > p {
            step.tags
                .push("R55 the throttle's reject probability is capped");
        }
        f.requests.push(now);
        if p == 0.0 {
            step.tags.push(if warm_up {
                "R50 throttle warm-up admits"
            } else {
                "R48 throttle admits at p = 0"
            });
        } else {
            let draw = self.draw32().expect("a throttle needs a seeded model");
            if (draw as f64) < p * 4_294_967_296.0 {
                step.tags.push("R49 throttle refuses");
                f.c[THROTTLED] += 1;
                return None;
            }
            step.tags.push("R48 throttle draw admits");
        }
        f.c[ASK_OK] += 1;
        Some(MTicket {
            gen: f.gen,
            probe: None,
            throttle_at: Some(now),
        })
    }

    /// Asks as `run` does, keeping the ticket: `Err` for an unknown name,
    /// `Ok(None)` if refused.
    pub fn admit_on(&mut self, name: &'static str, step: &mut Step) -> Result<Option<MTicket>, ()> {
        let Some(mut f) = self.fuses.get(name).cloned() else {
            return Err(());
        };
        self.due_steps(name, &mut f, step);
        let t = self.admit(&mut f, step);
        self.fuses.insert(name, f);
        Ok(t)
    }

    /// Reports how an admitted call ended.
    pub fn complete_on(
        &mut self,
        name: &'static str,
        t: MTicket,
        outcome: Outcome,
        step: &mut Step,
    ) {
        let Some(mut f) = self.fuses.get(name).cloned() else {
            return;
        };
        self.due_steps(name, &mut f, step);
        self.complete(name, &mut f, t, outcome, step);
        self.fuses.insert(name, f);
    }

    fn complete(
        &mut self,
        name: &str,
        f: &mut MFuse,
        t: MTicket,
        outcome: Outcome,
        step: &mut Step,
    ) {
        let released = match (&mut f.prog, t.probe) {
            (Some(p), Some(at))
                if t.gen == f.gen
                    && p.step == at
                    && matches!(p.admit, MAdmit::Probe(_))
                    && p.in_use > 0 =>
            {
                p.in_use -= 1;
                Some(at)
            }
            _ => None,
        };
        let current = t.gen == f.gen;
        match outcome {
            Outcome::Ok => {
                step.tags.push("R12 run ok");
                f.c[SUCCESSES] += 1;
                if !f.disabled && current {
                    self.succeeded(name, f, released, step);
                }
            }
            Outcome::Ignored => {
                step.tags.push("R35 ignored outcome counts nowhere");
                if let (true, Some(at)) = (current, t.throttle_at) {
                    let i = f.requests.iter().position(|&r| r == at);
                    let i = i.expect("a current throttled call's request is kept");
                    f.requests.remove(i);
                    step.tags
                        .push("R51 an ignored call leaves the throttle's requests");
                }
            }
            Outcome::Err | Outcome::Panic => {
                step.tags.push("R13 run failure melts");
                f.c[MELTS] += 1;
                if f.disabled {
                    return;
                }
                if current {
                    self.failed(name, f, step);
                } else {
                    step.tags.push("R41 stale outcome ignored");
                }
            }
        }
    }

    /// A success of the current generation.
    fn succeeded(&mut self, name: &str, f: &mut MFuse, probe: Option<usize>, step: &mut Step) {
        match f.cfg.rule() {
            Rule::Consecutive(_) => {
                if f.consecutive > 0 {
                    step.tags.push("R33 success breaks a run of failures");
                }
                f.consecutive = 0;
            }
            Rule::Rate {
                pct,
                window,
                min_calls,
            } => {
                f.outcomes.push((self.now, false));
                let (calls, failures) = rate_totals(&f.outcomes, self.now, window);
                // The rule holds after every recorded call, not only after a
                // failure: a success that brings the calls up to the minimum
                // while the ratio holds blows (resilience4j's order).
                if f.prog.is_none()
                    && calls >= u64::from(min_calls)
                    && failures * 100 >= u64::from(pct) * calls
                {
                    step.tags.push("R44 a success completing the minimum blows");
                    self.blow(name, f, step);
                    return;
                }
            }
            Rule::Throttle { .. } => {
                step.tags.push("R54 a success is a throttle accept");
                f.accepts.push(self.now);
            }
            Rule::Window { .. } => {}
        }
        if let Some(p) = &mut f.prog {
            if let (MStep::Probe(n), Some(at)) = (f.cfg.steps()[p.step], probe) {
                if at == p.step {
                    p.probes_ok += 1;
                    step.tags.push("R34 probe success");
                    if p.probes_ok >= n {
                        let next = p.step + 1;
                        let now = self.now;
                        self.enter(name, f, next, now, step);
                    }
                }
            }
        }
    }

    /// A failure of the current generation at the model's now.
    fn failed(&mut self, name: &str, f: &mut MFuse, step: &mut Step) {
        let now = self.now;
        let over = match f.cfg.rule() {
            Rule::Window { max, window } => {
                let before = f.melts.len();
                if f.melts.iter().any(|&t| now - t == window) {
                    step.tags.push("R25 melt exactly window old is outside");
                }
                f.melts.retain(|&t| now - t < window);
                if f.melts.len() < before {
                    step.tags.push("R11 melts leave the window");
                }
                f.melts.push(now);
                f.melts.len() > max as usize
            }
            Rule::Consecutive(n) => {
                f.consecutive += 1;
                f.consecutive >= n
            }
            Rule::Rate {
                pct,
                window,
                min_calls,
            } => {
                f.outcomes.push((now, true));
                let (calls, failures) = rate_totals(&f.outcomes, now, window);
                calls >= u64::from(min_calls) && failures * 100 >= u64::from(pct) * calls
            }
            Rule::Throttle {
                k_tenths,
                window,
                min_requests,
                blow_pct,
                cap_pct,
            } => blow_pct.is_some_and(|pct| {
                let (r, _, p) = throttle_p(f, now, k_tenths, window, min_requests, cap_pct);
                r >= u64::from(min_requests) && p >= f64::from(pct) / 100.0
            }),
        };
        match f.prog {
            None if over => {
                step.tags.push(match f.cfg.rule() {
                    Rule::Window { .. } => "R08 melt blows",
                    Rule::Consecutive(_) => "R42 consecutive failures blow",
                    Rule::Rate { .. } => "R43 failure rate blows",
                    Rule::Throttle { .. } => "R53 throttle blows at blow_at",
                });
                self.blow(name, f, step);
            }
            None => step.tags.push("R07 melt below budget"),
            Some(Prog { step: 0, .. }) => step.tags.push("R10 melt while blown"),
            Some(_) => {
                step.tags.push("R37 failure during the program re-blows");
                self.blow(name, f, step);
            }
        }
    }

    fn blow(&mut self, name: &str, f: &mut MFuse, step: &mut Step) {
        let now = self.now;
        let from = f.state();
        f.gen += 1;
        f.c[BLOWS] += 1;
        f.last_blow = Some(now);
        f.prog = Some(Prog {
            step: 0,
            admit: MAdmit::Nothing,
            until: None,
            probes_ok: 0,
            in_use: 0,
        });
        step.event(name, Some(from), Some(FuseState::Blown), Cause::Melt, now);
        self.enter(name, f, 0, now, step);
    }

    /// Enters program step `i` at time `at`; past the end the fuse heals.
    fn enter(&mut self, name: &str, f: &mut MFuse, mut i: usize, at: u64, step: &mut Step) {
        let steps = f.cfg.steps();
        let Some(mut p) = f.prog else { return };
        loop {
            let Some(&s) = steps.get(i) else {
                if steps.len() > 1 {
                    step.tags.push("R39 program heals");
                }
                f.clear();
                f.c[HEALS] += 1;
                step.event(
                    name,
                    Some(FuseState::Blown),
                    Some(FuseState::Ok),
                    Cause::Heal,
                    at,
                );
                return;
            };
            if i > 0 {
                step.tags.push("R38 program step entered");
            }
            p.step = i;
            p.until = None;
            p.probes_ok = 0;
            p.in_use = 0;
            match s {
                MStep::Delay(us) => {
                    self.seq += 1;
                    // The state word keeps deadlines in whole microseconds,
                    // rounded up.
                    let until = (at + us * 1000).div_ceil(1000) * 1000;
                    p.until = Some((until, self.seq));
                }
                MStep::GradualAll => {
                    p.admit = MAdmit::All;
                    i += 1;
                    continue;
                }
                MStep::Probe(n) => p.admit = MAdmit::Probe(n),
                MStep::Barrier => p.admit = MAdmit::Nothing,
            }
            f.prog = Some(p);
            return;
        }
    }

    fn view(&self, f: &MFuse) -> View {
        let melts_in_window = match f.cfg.rule() {
            Rule::Window { max, window } => {
                (f.melts.iter().filter(|&&t| self.now - t < window).count() as u64)
                    .min(max as u64 + 1)
            }
            Rule::Consecutive(_) => u64::from(f.consecutive),
            Rule::Rate { window, .. } => rate_totals(&f.outcomes, self.now, window).1,
            Rule::Throttle {
                k_tenths,
                window,
                min_requests,
                cap_pct,
                ..
            } => {
                let (r, a, _) = throttle_p(f, self.now, k_tenths, window, min_requests, cap_pct);
                r.saturating_sub(a)
            }
        };
        let throttle = match f.cfg.rule() {
            Rule::Throttle {
                k_tenths,
                window,
                min_requests,
                cap_pct,
                ..
            } => {
                let (r, a, p) = throttle_p(f, self.now, k_tenths, window, min_requests, cap_pct);
                Some((r, a, p.to_bits()))
            }
            _ => None,
        };
        let prog = if f.disabled { None } else { f.prog };
        View {
            state: f.state(),
            melts_in_window,
            next_heal: prog.and_then(|p| match (p.step, p.until) {
                (0, Some((at, _))) => Some(at),
                _ => None,
            }),
            last_blow: f.last_blow,
            heal_step: prog.map(|p| p.step),
            counters: f.c,
            throttle,
        }
    }
}

impl Step {
    fn event(
        &mut self,
        name: &str,
        from: Option<FuseState>,
        to: Option<FuseState>,
        cause: Cause,
        at: u64,
    ) {
        self.events.push(MEvent {
            name: name.to_owned(),
            from,
            to,
            cause,
            at,
        });
    }
}

/// The real Fusebox's answer to an op, in the model's terms.
pub fn run_real(fb: &fusebox::Fusebox, clock: &fusebox::ManualClock, op: &Op) -> Ret {
    use fusebox::RunError;
    let found = |r: Result<(), fusebox::NotFound>| match r {
        Ok(()) => Ret::Done,
        Err(_) => Ret::NotFound,
    };
    match *op {
        Op::Install(name, ref cfg) => {
            Ret::Install(fb.install(name, cfg.to_config()).map_err(|e| e.field()))
        }
        Op::Ask(name) => fb.ask(name).map_or(Ret::NotFound, Ret::Ask),
        Op::Melt(name) => found(fb.melt(name)),
        Op::Run(name, outcome) => {
            let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let classify = |r: &Result<(), &str>| match (outcome, r) {
                    (Outcome::Ignored, _) => fusebox::Outcome::Ignored,
                    (_, r) => fusebox::Outcome::of_result(r),
                };
                fb.run_classified(
                    name,
                    || match outcome {
                        Outcome::Ok => Ok(()),
                        Outcome::Err | Outcome::Ignored => Err("boom"),
                        Outcome::Panic => panic!("a panicking call"),
                    },
                    classify,
                )
            }));
            match call {
                Err(_) => Ret::Run(RunRet::Failed),
                Ok(Ok(())) => Ret::Run(RunRet::Ok),
                Ok(Err(RunError::Failed(_))) => Ret::Run(RunRet::Failed),
                Ok(Err(RunError::Blown)) => Ret::Run(RunRet::Blown),
                Ok(Err(RunError::NotFound(_))) => Ret::NotFound,
                Ok(Err(e)) => panic!("unexpected run error {e:?}"),
            }
        }
        Op::Success(name) => found(fb.success(name)),
        Op::Reset(name) => found(fb.reset(name)),
        Op::Remove(name) => found(fb.remove(name)),
        Op::Disable(name) => found(fb.disable(name)),
        Op::Enable(name) => found(fb.enable(name)),
        Op::Unlock(name) => found(fb.unlock(name)),
        Op::State(name) => fb
            .state(name)
            .map_or(Ret::NotFound, |s| Ret::State(view_of(&s))),
        Op::Snapshot => Ret::Snapshot(
            fb.snapshot()
                .fuses
                .iter()
                .map(|s| (s.name.to_string(), view_of(s)))
                .collect(),
        ),
        Op::Advance(d) => {
            clock.advance(Duration::from_nanos(d));
            Ret::Done
        }
        Op::AdvanceQuiet(d) => {
            clock.advance_quietly(Duration::from_nanos(d));
            Ret::Done
        }
        Op::Begin(_) | Op::End(..) | Op::Cancel(_) => {
            unreachable!("running calls live in the test's own state")
        }
    }
}

pub fn view_of(s: &fusebox::fuse::FuseSnapshot) -> View {
    let nanos = |d: Duration| d.as_nanos() as u64;
    let c = &s.counters;
    View {
        state: s.state,
        melts_in_window: s.melts_in_window,
        next_heal: s.next_heal.map(nanos),
        last_blow: s.last_blow.map(nanos),
        heal_step: s.heal_step,
        counters: [
            c.asks_ok,
            c.asks_blown,
            c.injected,
            c.melts,
            c.successes,
            c.blows,
            c.heals,
            c.throttled,
        ],
        throttle: s
            .throttle
            .map(|t| (t.requests, t.accepts, t.reject_probability.to_bits())),
    }
}

/// A real event in the model's terms (`None` for alarm events).
pub fn mevent_of(e: &fusebox::Event) -> Option<MEvent> {
    match &e.kind {
        fusebox::event::EventKind::Transition { from, to, cause } => Some(MEvent {
            name: e.name.to_string(),
            from: *from,
            to: *to,
            cause: *cause,
            at: e.at.as_nanos() as u64,
        }),
        _ => None,
    }
}
