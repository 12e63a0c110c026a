//! The reference model of a Fusebox: DESIGN.md section 2 written as the
//! plainest sequential code we could write, with no concern for speed. The
//! state-machine test (`model_fuse.rs`) and the linearizability checker
//! (`linearizable.rs`) both compare the real thing against it.
//!
//! Time is in nanoseconds on a `ManualClock`; all generated times are whole
//! microseconds, so the fuse's microsecond deadline rounding is exact.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use fusebox::{Ask, Cause, FuseConfig, FuseState, Heal};

pub const NAMES: [&str; 4] = ["a", "b", "c", "zz"];

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
            Cfg::Invalid(b) => match b {
                Bad::ZeroWindow => FuseConfig::standard(1, Duration::ZERO),
                Bad::RateZero => FuseConfig::fault_injection(0.0, 1, s),
                Bad::RateAboveOne => FuseConfig::fault_injection(1.5, 1, s),
                Bad::RateNan => FuseConfig::fault_injection(f64::NAN, 1, s),
                Bad::InjectNoBudget => FuseConfig::fault_injection(0.5, 0, s),
                Bad::ZeroAfter => FuseConfig::standard(1, s).heal(Heal::reset(Duration::ZERO)),
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
                Bad::ZeroAfter => "heal.after",
            }),
            _ => None,
        }
    }

    fn params(&self) -> (u32, u64, u64, bool) {
        match *self {
            Cfg::Standard {
                max,
                window_us,
                after_us,
            } => (max, window_us * 1000, after_us * 1000, false),
            Cfg::Inject {
                max,
                window_us,
                after_us,
            } => (max, window_us * 1000, after_us * 1000, true),
            Cfg::Invalid(_) => unreachable!("invalid configs are never installed"),
        }
    }
}

/// What a `run` closure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    Err,
    Panic,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    Install(&'static str, Cfg),
    Ask(&'static str),
    Melt(&'static str),
    Run(&'static str, Outcome),
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
    /// asks_ok, asks_blown, injected, melts, successes, blows, heals
    pub counters: [u64; 7],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ret {
    Done,
    NotFound,
    Ask(Ask),
    Run(RunRet),
    Install(Result<(), &'static str>),
    State(View),
    Snapshot(Vec<(String, View)>),
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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MFuse {
    cfg: Cfg,
    disabled: bool,
    melts: Vec<u64>,
    /// (heal deadline, order in which the heal was scheduled)
    blown: Option<(u64, u64)>,
    last_blow: Option<u64>,
    c: [u64; 7],
}

const ASK_OK: usize = 0;
const ASK_BLOWN: usize = 1;
const INJECTED: usize = 2;
const MELTS: usize = 3;
const SUCCESSES: usize = 4;
const BLOWS: usize = 5;
const HEALS: usize = 6;

impl MFuse {
    fn state(&self) -> FuseState {
        if self.disabled {
            FuseState::Disabled
        } else if self.blown.is_some() {
            FuseState::Blown
        } else {
            FuseState::Ok
        }
    }

    fn clear(&mut self) {
        self.blown = None;
        self.melts.clear();
    }
}

/// The model Fusebox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Model {
    pub now: u64,
    fuses: BTreeMap<&'static str, MFuse>,
    seq: u64,
}

/// The result of one step: the return value, the events, and the tags of
/// the requirements the step exercised.
#[derive(Debug, Default)]
pub struct Step {
    pub events: Vec<MEvent>,
    pub tags: Vec<&'static str>,
}

impl Model {
    pub fn installed(&self, name: &str) -> bool {
        self.fuses.contains_key(name)
    }

    /// Interesting future instants (ns from now): melts leaving windows and
    /// heal deadlines, so the generator can land exactly on boundaries.
    pub fn boundaries(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for f in self.fuses.values() {
            let (_, window, _, _) = f.cfg.params();
            for &t in &f.melts {
                if t + window > self.now {
                    out.push(t + window - self.now);
                }
            }
            if let Some((at, _)) = f.blown {
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
                Ret::Ask(m.ask(f, step))
            }),
            Op::Melt(name) => self.on(name, step, "R09 melt unknown", |m, f, step| {
                m.melt(name, f, step);
                Ret::Done
            }),
            Op::Run(name, outcome) => self.on(name, step, "R15 run unknown", |m, f, step| {
                if m.ask(f, step) == Ask::Blown {
                    step.tags.push("R14 run refused");
                    return Ret::Run(RunRet::Blown);
                }
                match outcome {
                    Outcome::Ok => {
                        step.tags.push("R12 run ok");
                        f.c[SUCCESSES] += 1;
                        Ret::Run(RunRet::Ok)
                    }
                    Outcome::Err | Outcome::Panic => {
                        step.tags.push("R13 run failure melts");
                        m.melt(name, f, step);
                        Ret::Run(RunRet::Failed)
                    }
                }
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
            Op::Unlock(name) => self.on(name, step, "R28 unlock unknown", |_, _, step| {
                step.tags.push("R28 unlock");
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
                    .filter_map(|(n, f)| f.blown.map(|(at, seq)| (at, seq, *n)))
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
        }
    }

    fn install(&mut self, name: &'static str, cfg: &Cfg, step: &mut Step) -> Ret {
        if let Some(field) = cfg.invalid_field() {
            step.tags.push("R03 install invalid");
            return Ret::Install(Err(field));
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
            self.fuses.insert(
                name,
                MFuse {
                    cfg: cfg.clone(),
                    disabled: false,
                    melts: Vec::new(),
                    blown: None,
                    last_blow: None,
                    c: [0; 7],
                },
            );
            step.event(name, None, Some(FuseState::Ok), Cause::Install, now);
        }
        Ret::Install(Ok(()))
    }

    /// Runs `f` on an installed fuse after applying its due heal, or answers
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
        // A melt on a disabled fuse returns before catching up, but a
        // disabled fuse never has a pending heal, so the order is moot.
        if let Some(healed) = self.heal_if_due(name, &mut fuse) {
            step.events.push(healed);
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

    fn heal_if_due(&self, name: &str, f: &mut MFuse) -> Option<MEvent> {
        match f.blown {
            Some((at, _)) if !f.disabled && at <= self.now => {
                f.clear();
                f.c[HEALS] += 1;
                Some(MEvent {
                    name: name.to_owned(),
                    from: Some(FuseState::Blown),
                    to: Some(FuseState::Ok),
                    cause: Cause::Heal,
                    at,
                })
            }
            _ => None,
        }
    }

    fn catch_up(&mut self, name: &'static str, step: &mut Step) {
        let mut f = self.fuses[name].clone();
        if let Some(e) = self.heal_if_due(name, &mut f) {
            step.events.push(e);
        }
        self.fuses.insert(name, f);
    }

    fn ask(&self, f: &mut MFuse, step: &mut Step) -> Ask {
        let (_, _, _, inject) = f.cfg.params();
        if f.disabled || f.blown.is_some() {
            step.tags.push("R05 ask blown");
            f.c[ASK_BLOWN] += 1;
            Ask::Blown
        } else if inject {
            step.tags.push("R27 fault injection refuses");
            f.c[INJECTED] += 1;
            Ask::Blown
        } else {
            step.tags.push("R04 ask ok");
            f.c[ASK_OK] += 1;
            Ask::Ok
        }
    }

    fn melt(&mut self, name: &'static str, f: &mut MFuse, step: &mut Step) {
        f.c[MELTS] += 1;
        if f.disabled {
            step.tags.push("R22 melt while disabled");
            return;
        }
        let (max, window, after, _) = f.cfg.params();
        let now = self.now;
        let before = f.melts.len();
        if f.melts.iter().any(|&t| now - t == window) {
            step.tags.push("R25 melt exactly window old is outside");
        }
        f.melts.retain(|&t| now - t < window);
        if f.melts.len() < before {
            step.tags.push("R11 melts leave the window");
        }
        f.melts.push(now);
        if f.blown.is_some() {
            step.tags.push("R10 melt while blown");
            return;
        }
        if f.melts.len() > max as usize {
            step.tags.push("R08 melt blows");
            self.seq += 1;
            f.blown = Some((now + after, self.seq));
            f.c[BLOWS] += 1;
            f.last_blow = Some(now);
            step.event(
                name,
                Some(FuseState::Ok),
                Some(FuseState::Blown),
                Cause::Melt,
                now,
            );
        } else {
            step.tags.push("R07 melt below budget");
        }
    }

    fn view(&self, f: &MFuse) -> View {
        let (max, window, _, _) = f.cfg.params();
        let inside = f.melts.iter().filter(|&&t| self.now - t < window).count() as u64;
        View {
            state: f.state(),
            melts_in_window: inside.min(max as u64 + 1),
            next_heal: if f.disabled {
                None
            } else {
                f.blown.map(|(at, _)| at)
            },
            last_blow: f.last_blow,
            counters: f.c,
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
                fb.run(name, || match outcome {
                    Outcome::Ok => Ok(()),
                    Outcome::Err => Err("boom"),
                    Outcome::Panic => panic!("a panicking call"),
                })
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
    }
}

pub fn view_of(s: &fusebox::FuseSnapshot) -> View {
    let nanos = |d: Duration| d.as_nanos() as u64;
    let c = &s.counters;
    View {
        state: s.state,
        melts_in_window: s.melts_in_window,
        next_heal: s.next_heal.map(nanos),
        last_blow: s.last_blow.map(nanos),
        counters: [
            c.asks_ok,
            c.asks_blown,
            c.injected,
            c.melts,
            c.successes,
            c.blows,
            c.heals,
        ],
    }
}

/// A real event in the model's terms (`None` for alarm events).
pub fn mevent_of(e: &fusebox::Event) -> Option<MEvent> {
    match &e.kind {
        fusebox::EventKind::Transition { from, to, cause } => Some(MEvent {
            name: e.name.to_string(),
            from: *from,
            to: *to,
            cause: *cause,
            at: e.at.as_nanos() as u64,
        }),
        _ => None,
    }
}
