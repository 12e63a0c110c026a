//! The discrete-event loop: the real fusebox on virtual time.
//!
//! One [`ManualClock`] is the simulation's clock. Events (arrivals, the
//! dependency's answers, timeouts, think times, phase boundaries) wait in a
//! heap ordered by time and then by the order they were scheduled; the loop
//! takes the earliest, moves the clock to it (which runs every fuse heal,
//! alarm look, CoDel interval and `max_wait` the Fusebox's own timer has due,
//! in deadline order) and handles it. Nothing sleeps, so a night takes
//! seconds, and nothing is a second implementation of a rule: a request goes
//! through the same `Fuse::call_classified` and `Valve::acquire` a service
//! would await, polled by hand. A valve that grants a waiter wakes it through
//! its waker, which puts the request on a list the loop polls next. Whether
//! a request retries, after how long, and whether it may hedge is the
//! core's retry engine's answer (`fusebox::retry::Attempts`, one per
//! request, told the class of each attempt and the run's virtual time),
//! the one a `Pipeline` asks; its budget is the core's `RetryBudget`.
//!
//! Every random draw comes from seeded generators (the Fusebox's too, see
//! `FuseboxBuilder::seed`): arrivals from one stream, each request's
//! dependency draws from its own seed, so two configs on one scenario see
//! the same arrivals and, call for call, the same dependency.

use std::any::Any;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use fusebox::pipeline::Hedge;
use fusebox::retry::{Attempts, Class, Next, Stop};
use fusebox::rng::{mix, SplitMix64};
use fusebox::{Clock, ConfigFile, Fuse, Fusebox, ManualClock, Outcome, RunError};

use crate::admit::{Admission, Admit};
use crate::clients::Clients;
use crate::dependency::{Answer, Dependency, Started};
use crate::hedging::Hedging;
use crate::load::{self, Arrivals};
use crate::report::Bucket;
use crate::scenario::Scenario;
use crate::stats::{End, PhaseRow, Stats};
use crate::SimError;

/// What one configuration did on the scenario.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunResult {
    /// The configuration's name (`none` for no protection).
    pub config: String,
    /// One row per phase.
    pub phases: Vec<PhaseRow>,
    /// The whole run.
    pub total: PhaseRow,
    /// The scenario's objective on the whole run (lower is better).
    pub objective: f64,
    /// Requests simulated (attempts, retries included).
    pub requests: u64,
    /// The chart buckets' width.
    #[serde(with = "fusebox::duration::serde_duration")]
    pub bucket: Duration,
    /// The clients' requests by first arrival, bucket by bucket.
    pub buckets: Vec<Bucket>,
}

/// An event of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// An open-loop arrival.
    Arrive,
    /// A closed-loop client's next request.
    Client(u32),
    /// A retry of request `.0`'s client request.
    Retry(u32),
    /// Request `.0`'s attempt `.1` has waited the hedging delay.
    Hedge(u32, u32),
    /// Dependency `.2` answers request `.0`'s call (generation `.1`).
    Answer(u32, u32, u16),
    /// Request `.0`'s timeout (generation `.1`).
    Timeout(u32, u32),
    /// A phase boundary: the dependency's condition may change.
    Boundary,
}

/// The fuse's view of a call: admitted, waiting for its dependency's answer.
type Fused = Pin<Box<dyn Future<Output = Result<(), RunError<()>>>>>;

/// How the service's call for a request stands.
struct Call {
    /// The fuse's view of the call: admitted, and waiting for `gate`.
    fused: Option<Fused>,
    /// How the dependency answered, for the fused future.
    gate: Rc<Cell<Option<Outcome>>>,
    /// Waiting for a turn (a valve's slot, or another regulator's).
    waiting: Option<Admission>,
    /// Holding the turn (a valve's permit, say) while the call runs.
    permit: Option<Box<dyn Any>>,
    /// When the dependency call started, if it did.
    at_dependency: Option<Duration>,
}

/// One client request (and its retries).
struct Req<'a> {
    /// Bumped per attempt and per dependency called, so stale answers and
    /// timeouts are told apart.
    gen: u32,
    born: Duration,
    /// The core's retry engine for this request's call (`None` for a
    /// hedge, whose decisions are its original's, and before the first
    /// attempt).
    attempts: Option<Attempts<'a>>,
    client: Option<u32>,
    /// The seed of this attempt's dependency draws.
    draws: u64,
    /// The dependency being called (an index into the scenario's calls).
    stage: usize,
    /// When the client gives up on this attempt.
    deadline: Duration,
    call: Option<Call>,
    done: bool,
    /// This attempt reached the dependency.
    called: bool,
    /// When this attempt started, and when its first dependency began to
    /// serve it (after the valve's queue and the dependency's own).
    attempt_at: Duration,
    served_at: Option<Duration>,
    /// Bumped per attempt (and kept when the slot is reused), so a hedging
    /// delay finds out whether its attempt is still the one running.
    epoch: u32,
    /// This is a hedge: a second copy of `twin`'s attempt.
    hedge: bool,
    /// The hedge of this attempt, or (for a hedge) the request it copies.
    twin: Option<u32>,
    /// How this attempt ended while its hedge still runs: the client waits
    /// for the hedge before it hears of it.
    pending_end: Option<End>,
}

/// One client request as its client saw it (the last attempt's, after
/// retries), for callers that want more than the table (see [`run_logged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest {
    /// When it first arrived, from the start of the run.
    pub at: Duration,
    /// First arrival to final answer.
    pub latency: Duration,
    /// How it ended.
    pub end: End,
    /// Whether its last attempt reached the dependency.
    pub called: bool,
    /// How long its last attempt waited before the (first) dependency began
    /// to serve it: in the valve's queue, then in the dependency's; `None`
    /// if it was never served.
    pub waited: Option<Duration>,
    /// The attempts it took (1 without retries).
    pub attempts: u32,
}

/// A future that is ready once its cell holds an outcome.
struct Gate(Rc<Cell<Option<Outcome>>>);

impl Future for Gate {
    type Output = Result<(), ()>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.get() {
            None => Poll::Pending,
            Some(Outcome::Success) => Poll::Ready(Ok(())),
            Some(_) => Poll::Ready(Err(())),
        }
    }
}

/// Wakes request `id` by putting it on the loop's list.
struct Wakeup {
    id: u32,
    list: Arc<Mutex<Vec<u32>>>,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.id);
    }
}

/// The protection a run puts in front of one dependency.
struct Guard {
    fuse: Option<Fuse>,
    admit: Option<Rc<dyn Admit>>,
}

/// The loop's state.
struct Sim<'a> {
    s: &'a Scenario,
    clock: ManualClock,
    now: Duration,
    heap: BinaryHeap<Reverse<(u128, u64, Ev)>>,
    seq: u64,
    reqs: Vec<Req<'a>>,
    free: Vec<u32>,
    woken: Arc<Mutex<Vec<u32>>>,
    /// The dependencies, in call order, and their guards.
    deps: Vec<Dependency>,
    guards: Vec<Guard>,
    stats: Stats,
    arrivals: Option<Arrivals>,
    think: SplitMix64,
    serial: u64,
    started: Vec<Started>,
    requests: u64,
    /// How the clients retry (the core's `Retry`, on the run's clock) and
    /// hedge.
    clients: &'a Clients,
    /// When the clients hedge, if they do.
    hedging: Option<Hedging>,
    /// Every client request, when the caller asked for them.
    log: Option<Vec<ClientRequest>>,
    // Keeps the Fusebox (and its timer) alive for the run.
    _fb: Option<Fusebox>,
}

/// The seed of the Fusebox that runs the fuses and valves of a scenario
/// seeded `seed` (its builder's `seed`, see [`fusebox::Fusebox::builder`]).
/// A real-clock run of the same scenario that seeds its Fusebox with it
/// draws the same numbers as the simulation (the demo's real run does).
///
/// ```
/// assert_ne!(fusebox_sim::fusebox_seed(7), 7);
/// assert_eq!(fusebox_sim::fusebox_seed(7), fusebox_sim::fusebox_seed(7));
/// ```
pub fn fusebox_seed(seed: u64) -> u64 {
    mix(seed ^ 0xF05E_B0C5)
}

/// Runs `s` with the fuse and valve of `config` named by the scenario's
/// dependency (`None`: unprotected).
pub(crate) fn run(
    s: &Scenario,
    name: &str,
    config: Option<&ConfigFile>,
    progress: Progress<'_>,
) -> Result<RunResult, SimError> {
    run_with_log(s, name, config, None, false, progress).map(|(r, _)| r)
}

/// Told the virtual time reached and the requests simulated, every
/// `progress::EVERY` events.
pub(crate) type Progress<'p> = &'p mut dyn FnMut(Duration, u64);

/// One run of `s` (unprotected with `config` `None`), with every client
/// request as its client saw it, in the order they ended: the raw material
/// of figures the table does not have (the demo's time to recover, say).
pub fn run_logged(
    s: &Scenario,
    name: &str,
    config: Option<&ConfigFile>,
) -> Result<(RunResult, Vec<ClientRequest>), SimError> {
    run_with_log(s, name, config, None, true, &mut |_, _| {})
        .map(|(r, log)| (r, log.unwrap_or_default()))
}

/// As [`run_logged`], with `regulator` in front of the first dependency in
/// place of its valve (after its fuse, if `config` has one): someone
/// else's protection on the same scenario, seed and virtual clock.
pub fn run_regulated(
    s: &Scenario,
    name: &str,
    config: Option<&ConfigFile>,
    regulator: Rc<dyn Admit>,
) -> Result<(RunResult, Vec<ClientRequest>), SimError> {
    run_with_log(s, name, config, Some(regulator), true, &mut |_, _| {})
        .map(|(r, log)| (r, log.unwrap_or_default()))
}

fn run_with_log(
    s: &Scenario,
    name: &str,
    config: Option<&ConfigFile>,
    regulator: Option<Rc<dyn Admit>>,
    log: bool,
    progress: Progress<'_>,
) -> Result<(RunResult, Option<Vec<ClientRequest>>), SimError> {
    // Refused before anything runs if it is past the limit.
    crate::work::check(s)?;
    let clock = ManualClock::new();
    let unguarded = || Guard {
        fuse: None,
        admit: None,
    };
    // The config's pipeline the clients call through, if the scenario
    // names one (`load.pipeline`) and this run has a config.
    let pipeline =
        match (&s.load.pipeline, config) {
            (Some(p), Some(cfg)) => Some(cfg.pipelines().get(p).ok_or_else(|| {
                SimError::new(format!("config {name} has no pipeline named {p:?}"))
            })?),
            _ => None,
        };
    let (fb, mut guards) = match config {
        None => (None, s.calls().iter().map(|_| unguarded()).collect()),
        Some(cfg) => {
            let fb = Fusebox::builder()
                .clock(clock.clone())
                .seed(fusebox_seed(s.seed))
                .build();
            fb.load_config(cfg)
                .map_err(|e| SimError::new(format!("config {name}: {e}")))?;
            let mut guards = Vec::new();
            for (i, d) in s.calls().into_iter().enumerate() {
                // A pipeline's fuse and valve guard the first dependency.
                let (fuse, valve) = match pipeline {
                    Some(p) if i == 0 => (&p.fuse, &p.valve),
                    _ => (&d.fuse, &d.valve),
                };
                guards.push(guard(&fb, fuse.as_deref(), valve.as_deref(), name)?);
            }
            (Some(fb), guards)
        }
    };
    let seed = mix(s.seed ^ 0x0BAC_C0FF);
    let clients = match pipeline {
        Some(spec) => Clients::of_pipeline(spec, seed, &clock)?,
        None => Clients::of_load(&s.load, seed, &clock)?,
    };
    if let (Some(regulator), Some(first)) = (regulator, guards.first_mut()) {
        first.admit = Some(regulator);
    }
    let mut sim = Sim {
        s,
        clock,
        now: Duration::ZERO,
        heap: BinaryHeap::new(),
        seq: 0,
        reqs: Vec::new(),
        free: Vec::new(),
        woken: Arc::default(),
        deps: s.calls().into_iter().map(Dependency::new).collect(),
        guards,
        stats: Stats::new(
            s.phases(),
            s.calls().iter().map(|d| d.name.clone()).collect(),
        ),
        arrivals: s.load.open.as_ref().map(|o| Arrivals::new(mix(s.seed), o)),
        think: SplitMix64::new(mix(s.seed ^ 0x0074_174B)),
        serial: 0,
        started: Vec::new(),
        requests: 0,
        // `max = 0` turns hedging off; the simulator makes at most one
        // hedge per attempt whatever the max.
        hedging: clients
            .hedge
            .clone()
            .filter(|h| h.max_hedges() > 0)
            .map(Hedging::new),
        clients: &clients,
        log: log.then(Vec::new),
        _fb: fb,
    };
    sim.start();
    sim.run_loop(progress);
    let bucket = sim.stats.width();
    let buckets = sim.stats.buckets();
    let (phases, total) = sim.stats.rows();
    let objective = match s.objective {
        crate::scenario::Objective::ClientErrors => total.client_errors() as f64,
        crate::scenario::Objective::WastedCalls => total.wasted_calls as f64,
        crate::scenario::Objective::P99 => total.p99.as_secs_f64(),
    };
    let result = RunResult {
        config: name.to_owned(),
        phases,
        total,
        objective,
        requests: sim.requests,
        bucket,
        buckets,
    };
    Ok((result, sim.log))
}

impl Sim<'_> {
    fn at(&mut self, t: Duration, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t.as_nanos(), self.seq, ev)));
    }

    fn start(&mut self) {
        for (_, start, _) in self.s.phases().into_iter().skip(1) {
            self.at(start, Ev::Boundary);
        }
        // A flapping dependency changes between phase boundaries too.
        for e in &self.s.episodes {
            if let Some(f) = e.flap {
                let mut t = e.start;
                let mut down = true;
                while t < e.end.min(self.s.duration) && !(f.down_for + f.up_for).is_zero() {
                    t += if down { f.down_for } else { f.up_for };
                    down = !down;
                    if t < e.end {
                        self.at(t, Ev::Boundary);
                    }
                }
            }
        }
        if let Some(open) = &self.s.load.open {
            if let Some(t) = self
                .arrivals
                .as_mut()
                .and_then(|a| a.next(open, self.s.duration))
            {
                self.at(t, Ev::Arrive);
            }
        }
        if let Some(closed) = &self.s.load.closed {
            for c in 0..closed.clients {
                let t = load::think(&mut self.think, closed.think);
                if t < self.s.duration {
                    self.at(t, Ev::Client(c));
                }
            }
        }
    }

    fn run_loop(&mut self, progress: Progress<'_>) {
        let mut events: u64 = 0;
        while let Some(Reverse((t, _, ev))) = self.heap.pop() {
            events += 1;
            if events % crate::progress::EVERY == 0 {
                progress(self.now, self.requests);
            }
            // Exact for any time a Duration holds (past u64 nanoseconds too).
            let t = Duration::new((t / 1_000_000_000) as u64, (t % 1_000_000_000) as u32);
            if t > self.now {
                // Runs every fuse and valve timer due by `t`, in order.
                self.clock.advance(t - self.now);
                self.now = t;
                self.poll_woken();
            }
            self.handle(ev);
            self.poll_woken();
        }
        for k in 0..self.deps.len() {
            let c = self.s.condition(k, self.now);
            self.stats
                .busy(k, self.now, self.deps[k].busy(), c.connections);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrive => {
                let open = self.s.load.open.as_ref().expect("open load");
                if let Some(t) = self
                    .arrivals
                    .as_mut()
                    .and_then(|a| a.next(open, self.s.duration))
                {
                    self.at(t, Ev::Arrive);
                }
                let id = self.new_req(None);
                self.stats.offered(self.now);
                self.attempt(id);
            }
            Ev::Client(c) => {
                let id = self.new_req(Some(c));
                self.stats.offered(self.now);
                self.attempt(id);
            }
            Ev::Retry(id) => self.attempt(id),
            Ev::Hedge(id, epoch) => self.hedge(id, epoch),
            Ev::Answer(id, tag, dep) => self.answered(id, tag, usize::from(dep)),
            Ev::Timeout(id, gen) => {
                let r = &self.reqs[id as usize];
                if r.gen == gen && !r.done && r.call.is_some() {
                    self.finish(id, End::TimedOut);
                }
            }
            Ev::Boundary => {
                let just_before = self.now - Duration::from_nanos(1).min(self.now);
                for k in 0..self.deps.len() {
                    let before = self.s.condition(k, just_before);
                    self.stats
                        .busy(k, self.now, self.deps[k].busy(), before.connections);
                    let c = self.s.condition(k, self.now);
                    let mut started = std::mem::take(&mut self.started);
                    self.deps[k].drain(c, self.now, &mut started);
                    self.launch(k, &mut started);
                    self.started = started;
                }
            }
        }
    }

    fn new_req(&mut self, client: Option<u32>) -> u32 {
        let r = Req {
            gen: 0,
            born: self.now,
            attempts: None,
            client,
            draws: 0,
            stage: 0,
            deadline: Duration::ZERO,
            call: None,
            done: false,
            called: false,
            attempt_at: Duration::ZERO,
            served_at: None,
            epoch: 0,
            hedge: false,
            twin: None,
            pending_end: None,
        };
        match self.free.pop() {
            Some(id) => {
                // The generation and the epoch go on: events of the slot's
                // last request may still be on their way, and must find it
                // stale.
                let Req { gen, epoch, .. } = self.reqs[id as usize];
                self.reqs[id as usize] = Req { gen, epoch, ..r };
                id
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// One attempt of request `id`: each dependency in turn.
    fn attempt(&mut self, id: u32) {
        self.requests += 1;
        let hedge = self.reqs[id as usize].hedge;
        if !hedge {
            self.stats.attempt(self.reqs[id as usize].born);
            if self.reqs[id as usize].attempts.is_none() {
                // The call begins: the core's engine counts it and deposits
                // it in the budget, at the run's virtual time (the
                // ManualClock the Fusebox runs on).
                let hedges = self.clients.hedge.as_ref().map_or(0, Hedge::max_hedges);
                let begun = self.clients.retry.begin(self.clock.now()).hedges(hedges);
                self.reqs[id as usize].attempts = Some(begun);
            }
        }
        self.serial += 1;
        let draws = mix(self.s.seed ^ self.serial.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let r = &mut self.reqs[id as usize];
        r.draws = draws;
        r.called = false;
        if !hedge {
            // A hedge keeps its original's deadline.
            r.deadline = self.now + self.s.load.timeout;
        }
        r.attempt_at = self.now;
        r.served_at = None;
        r.epoch = r.epoch.wrapping_add(1);
        let (epoch, deadline) = (r.epoch, r.deadline);
        let may_hedge = r.attempts.as_ref().is_some_and(Attempts::may_hedge);
        if !hedge && may_hedge {
            if let Some(d) = self.hedging.as_ref().map(Hedging::delay) {
                let t = self.now + d;
                if t < deadline {
                    self.at(t, Ev::Hedge(id, epoch));
                }
            }
        }
        self.stage(id, 0);
    }

    /// Request `id`'s attempt `epoch` has waited the hedging delay: if it
    /// is still running and the budget pays, a copy of it starts.
    fn hedge(&mut self, id: u32, epoch: u32) {
        let r = &self.reqs[id as usize];
        if r.epoch != epoch || r.done || r.hedge || r.twin.is_some() || r.call.is_none() {
            return;
        }
        let (born, deadline) = (r.born, r.deadline);
        // The core's engine decides, as a pipeline's hedge timer asks it: a
        // hedge left, the retry deadline, the budget.
        let now = self.clock.now();
        let paid = self.reqs[id as usize]
            .attempts
            .as_mut()
            .is_some_and(|a| a.hedge(now).is_ok());
        if !paid {
            return;
        }
        let h = self.new_req(None);
        let copy = &mut self.reqs[h as usize];
        copy.born = born;
        copy.deadline = deadline;
        copy.hedge = true;
        copy.twin = Some(id);
        self.reqs[id as usize].twin = Some(h);
        self.stats.hedged(born);
        self.attempt(h);
    }

    /// A hedge's attempt ended: a success answers its original's client
    /// and drops the original; a failure leaves the original running, or
    /// ends it if it already failed.
    fn hedge_ended(&mut self, h: u32, end: End) {
        let id = self.reqs[h as usize]
            .twin
            .expect("a hedge copies a request");
        self.retire(h);
        self.reqs[id as usize].twin = None;
        if end == End::Succeeded {
            self.drop_call(id);
            self.reqs[id as usize].pending_end = None;
            self.end_attempt(id, End::Succeeded);
        } else if self.reqs[id as usize].pending_end.take().is_some() {
            // Both failed: the client hears of the later failure.
            self.end_attempt(id, end);
        }
    }

    /// Drops request `id`'s call, if it has one, as the loser of a hedge:
    /// its fuse counts it ignored, its valve slot (or place in the queue)
    /// is freed, and a call already at the dependency goes on for nobody.
    fn drop_call(&mut self, id: u32) {
        if self.reqs[id as usize].call.is_some() {
            self.close(id, Outcome::Ignored);
            self.reqs[id as usize].gen += 1;
        }
    }

    /// Frees a hedge's slot: it never answers a client itself.
    fn retire(&mut self, h: u32) {
        let r = &mut self.reqs[h as usize];
        r.done = true;
        r.gen += 1;
        r.twin = None;
        self.free.push(h);
    }

    /// Request `id` calls dependency `k`: its fuse, its valve, the call.
    fn stage(&mut self, id: u32, k: usize) {
        let dep = self.s.call_at(k);
        let gate = Rc::new(Cell::new(None));
        let fused = match &self.guards[k].fuse {
            None => None,
            Some(fuse) => {
                let fuse = fuse.clone();
                let g = Gate(gate.clone());
                let seen = gate.clone();
                let mut f: Pin<Box<dyn Future<Output = _>>> = Box::pin(async move {
                    fuse.call_classified(g, move |_| seen.get().unwrap_or(Outcome::Ignored))
                        .await
                });
                match poll_once(&mut f) {
                    Poll::Pending => Some(f),
                    Poll::Ready(_) => {
                        // Refused at once (blown, or removed).
                        self.reqs[id as usize].gen += 1;
                        self.end_attempt(id, End::Refused("fuse"));
                        return;
                    }
                }
            }
        };
        let r = &mut self.reqs[id as usize];
        r.gen += 1;
        r.stage = k;
        r.call = Some(Call {
            fused,
            gate,
            waiting: None,
            permit: None,
            at_dependency: None,
        });
        let gen = r.gen;
        // The service's timeout on the call: the dependency's, or a
        // pipeline's per-attempt one, the shorter.
        let call_timeout = match (dep.timeout, self.clients.attempt_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout_at = match call_timeout {
            Some(d) => (self.now + d).min(r.deadline),
            None => r.deadline,
        };
        self.at(timeout_at, Ev::Timeout(id, gen));
        match self.guards[k].admit.clone() {
            None => self.call_dependency(id),
            Some(admit) => self.wait_turn(id, admit.admit()),
        }
    }

    /// Polls request `id`'s wait for its turn: called, refused, or still
    /// waiting (and woken through its waker).
    fn wait_turn(&mut self, id: u32, mut waiting: Admission) {
        let waker = Waker::from(Arc::new(Wakeup {
            id,
            list: self.woken.clone(),
        }));
        match waiting.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(p)) => {
                self.call_mut(id).permit = Some(p);
                self.call_dependency(id);
            }
            Poll::Ready(Err(reason)) => {
                // The dependency was not called: the fuse hears nothing of it.
                self.finish_with(id, End::Refused(reason), Outcome::Ignored);
            }
            Poll::Pending => self.call_mut(id).waiting = Some(waiting),
        }
    }

    fn call_mut(&mut self, id: u32) -> &mut Call {
        self.reqs[id as usize].call.as_mut().expect("a call")
    }

    /// Polls every request a regulator woke.
    fn poll_woken(&mut self) {
        loop {
            let ids = std::mem::take(&mut *self.woken.lock().unwrap_or_else(|e| e.into_inner()));
            if ids.is_empty() {
                return;
            }
            for id in ids {
                let Some(call) = self.reqs[id as usize].call.as_mut() else {
                    continue;
                };
                let Some(waiting) = call.waiting.take() else {
                    continue;
                };
                self.wait_turn(id, waiting);
            }
        }
    }

    fn call_dependency(&mut self, id: u32) {
        let k = self.reqs[id as usize].stage;
        let c = self.s.condition(k, self.now);
        self.call_mut(id).at_dependency = Some(self.now);
        self.reqs[id as usize].called = true;
        self.stats.call(k, self.now);
        let r = &self.reqs[id as usize];
        // The first dependency draws from the attempt's seed, the others
        // from seeds of their own.
        let draws = if k == 0 {
            r.draws
        } else {
            mix(r.draws ^ k as u64)
        };
        let gen = r.gen;
        let before = self.deps[k].busy();
        let started = self.deps[k].call(id, gen, draws, c, self.now);
        if self.deps[k].busy() != before {
            self.stats
                .busy(k, self.now, self.deps[k].busy(), c.connections);
        }
        if let Some(st) = started {
            let mut v = vec![st];
            self.launch(k, &mut v);
        }
    }

    /// Schedules the answers of dependency `k`'s calls that started.
    fn launch(&mut self, k: usize, started: &mut Vec<Started>) {
        for st in started.drain(..) {
            if st.holds {
                self.stats.served(self.now - st.waited, st.waited);
                let r = &mut self.reqs[st.req as usize];
                if k == 0 && r.gen == st.gen && !r.done {
                    r.served_at = Some(self.now);
                }
            }
            // The attempt that called, not whoever holds the slot now.
            let gen = st.gen & !(3 << 30);
            // The answer carries whether it held a connection in its sign bit.
            let tag = if st.holds { gen } else { gen | 1 << 31 };
            let ok = matches!(st.answer, Answer::Ok);
            let tag = if ok { tag } else { tag | 1 << 30 };
            self.at(self.now + st.after, Ev::Answer(st.req, tag, k as u16));
        }
    }

    /// Dependency `k` answered a call.
    fn answered(&mut self, id: u32, tag: u32, k: usize) {
        let holds = tag & 1 << 31 == 0;
        let ok = tag & 1 << 30 == 0;
        let gen = tag & !(3 << 30);
        let gen_now = self.reqs[id as usize].gen & !(3 << 30);
        if holds {
            let c = self.s.condition(k, self.now);
            let mut started = std::mem::take(&mut self.started);
            self.deps[k].release(c, self.now, &mut started);
            self.stats
                .busy(k, self.now, self.deps[k].busy(), c.connections);
            self.launch(k, &mut started);
            self.started = started;
        }
        let r = &self.reqs[id as usize];
        let current = gen_now == gen && !r.done && r.call.is_some();
        let started_at = r
            .call
            .as_ref()
            .and_then(|c| c.at_dependency)
            .unwrap_or(self.now);
        if !current {
            // Its caller gave up long ago: the dependency worked for nobody.
            self.stats.wasted(k, self.now);
            return;
        }
        if !ok {
            self.stats.wasted(k, started_at);
            self.finish(id, End::Failed);
        } else if k + 1 < self.deps.len() {
            // This one answered: the fuse hears of it, the valve slot is
            // given back, and the next dependency is called.
            self.close(id, Outcome::Success);
            self.stage(id, k + 1);
        } else {
            self.finish(id, End::Succeeded);
        }
    }

    /// The attempt ends: the fuse hears the outcome, the valve slot is
    /// given back, and the client gets its answer (or retries).
    fn finish(&mut self, id: u32, end: End) {
        let outcome = match end {
            End::Succeeded => Outcome::Success,
            End::Failed | End::TimedOut => Outcome::Failure,
            End::Refused(_) => Outcome::Ignored,
        };
        self.finish_with(id, end, outcome);
    }

    fn finish_with(&mut self, id: u32, end: End, outcome: Outcome) {
        self.close(id, outcome);
        self.end_attempt(id, end);
    }

    /// The call to the current dependency ends with `outcome`: its fuse
    /// hears it, its valve slot (or place in the queue) is given back.
    fn close(&mut self, id: u32, outcome: Outcome) {
        if let Some(mut call) = self.reqs[id as usize].call.take() {
            // A call still at the dependency goes on there, for nobody: it
            // counts as wasted when it ends (see `answered`).
            call.gate.set(Some(outcome));
            if let Some(f) = call.fused.as_mut() {
                let _ = poll_once(f);
            }
            // Dropping the permit or the waiting future hands the slot on.
            drop(call);
        }
    }

    fn end_attempt(&mut self, id: u32, end: End) {
        if end == End::Succeeded {
            let took = self.now - self.reqs[id as usize].attempt_at;
            if let Some(h) = &mut self.hedging {
                h.observe(took);
            }
        }
        if self.reqs[id as usize].hedge {
            self.hedge_ended(id, end);
            return;
        }
        if let Some(h) = self.reqs[id as usize].twin {
            if end != End::Succeeded {
                // The hedge may still succeed: the client waits for it.
                self.reqs[id as usize].pending_end = Some(end);
                return;
            }
            // This one won: the hedge is dropped.
            self.drop_call(h);
            self.retire(h);
            self.reqs[id as usize].twin = None;
        }
        // The core's engine decides, as `Retry` and a pipeline do: the
        // class, the attempts left, the retry deadline, the backoff, the
        // budget (asked last). Naive clients sort a refusal as a failure.
        let class = match end {
            End::Succeeded => Class::Success,
            End::Failed | End::TimedOut => Class::Failure,
            End::Refused(_) if self.clients.retry_refusals => Class::Failure,
            End::Refused(_) => Class::Refusal,
        };
        let now = self.clock.now();
        let r = &mut self.reqs[id as usize];
        let next = r.attempts.as_mut().map(|a| a.after(class, now));
        match next {
            Some(Next::Again(wait)) => {
                let t = self.now + wait;
                self.at(t, Ev::Retry(id));
                return;
            }
            Some(Next::Done(Stop::BudgetExhausted)) => self.stats.retry_refused(r.born),
            _ => {}
        }
        let r = &mut self.reqs[id as usize];
        r.done = true;
        let (born, client) = (r.born, r.client);
        if let Some(log) = &mut self.log {
            log.push(ClientRequest {
                at: born,
                latency: self.now - born,
                end,
                called: r.called,
                attempts: r.attempts.as_ref().map_or(1, Attempts::made),
                waited: r.served_at.map(|t| t - r.attempt_at),
            });
        }
        self.stats.ended(born, self.now, end);
        if let (Some(c), Some(closed)) = (client, &self.s.load.closed) {
            let t = self.now + load::think(&mut self.think, closed.think);
            if t < self.s.duration {
                self.at(t, Ev::Client(c));
            }
        }
        self.free.push(id);
    }
}

/// The fuse and valve of `fb` named `fuse` and `valve`, in front of a
/// dependency.
fn guard(
    fb: &Fusebox,
    fuse: Option<&str>,
    valve: Option<&str>,
    name: &str,
) -> Result<Guard, SimError> {
    let fuse = match fuse {
        Some(f) => Some(
            fb.fuse(f)
                .ok_or_else(|| SimError::new(format!("config {name} has no fuse named {f:?}")))?,
        ),
        None => None,
    };
    let admit: Option<Rc<dyn Admit>> = match valve {
        Some(v) => Some(Rc::new(fb.valve(v).ok_or_else(|| {
            SimError::new(format!("config {name} has no valve named {v:?}"))
        })?)),
        None => None,
    };
    Ok(Guard { fuse, admit })
}

fn poll_once<T>(f: &mut Pin<Box<dyn Future<Output = T>>>) -> Poll<T> {
    f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}
