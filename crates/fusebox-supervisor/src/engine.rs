//! Implementation details: the task that is a supervisor.
//!
//! One task per supervisor owns everything: its children's tasks (in a
//! [`JoinSet`], so dropping the engine aborts them all and no task
//! outlives its supervisor), the queue of children due to (re)start in
//! order, and its restart-intensity fuse. It waits for one of three
//! things: its token is cancelled (stop everything in reverse order and
//! return), a child ends (apply the restart type and the strategy), or a
//! shut gate may have opened (heal time, or a Fusebox event).
//!
//! Restart intensity is the fuse `FuseConfig::standard(MaxR, MaxT)`,
//! installed as `SUPERVISOR/intensity` and melted once per restart, at the
//! moment the restart happens (so a restart held back by a shut gate is
//! not counted while it waits). When a melt blows it, the supervisor gives
//! up: it stops its children in reverse order and ends with [`GaveUp`],
//! which a parent sees as the crash of a child.
//!
//! Nothing here panics on a child's behalf: a child's panic is caught by
//! its task (and read from the [`JoinError`]), and a panic in its start
//! function is caught around the call.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use fusebox::event::Subscription;
use fusebox::pipeline::Timer;
use fusebox::{Ask, FuseConfig, Fusebox, Heal};
use tokio::task::{AbortHandle, Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::child::{ChildState, ChildStatus, Record, Shared};
use crate::error::GaveUp;
use crate::exit::Exit;
use crate::gate;
use crate::restart::Restart;
use crate::shutdown::{Shutdown, StopRecord, Stopped};
use crate::spec::{Kind, SupervisorSpec};

/// What a child's task gives back: how it ended, and for a child
/// supervisor the stops it made on the way out.
type Out = (Exit, Vec<StopRecord>);

/// The Fusebox and the timer a tree shares.
#[derive(Clone)]
pub(crate) struct Env {
    pub(crate) fusebox: Fusebox,
    pub(crate) timer: Arc<dyn Timer>,
}

struct Run {
    id: Id,
    abort: AbortHandle,
    token: CancellationToken,
}

struct Slot {
    run: Option<Run>,
    started: bool,
    removed: bool,
    /// The child's own fuse and the fuses it needs.
    gates: Vec<Arc<str>>,
    own_fuse: Option<Arc<str>>,
}

/// A child due to (re)start; `count` restarts are melted when it starts.
struct Pending {
    idx: usize,
    count: u32,
    cause: String,
}

pub(crate) struct Engine {
    spec: SupervisorSpec,
    env: Env,
    token: CancellationToken,
    shared: Shared,
    intensity: Arc<str>,
    slots: Vec<Slot>,
    set: JoinSet<Out>,
    tasks: HashMap<Id, usize>,
    pending: Vec<Pending>,
    /// Exits seen while waiting for another child to stop.
    stray: Vec<(usize, Exit)>,
    stops: Vec<StopRecord>,
    events: Option<Subscription>,
}

impl Engine {
    pub(crate) fn new(
        spec: SupervisorSpec,
        env: Env,
        token: CancellationToken,
        shared: Shared,
    ) -> Self {
        let intensity: Arc<str> = format!("{}/intensity", spec.name).into();
        let slots = spec
            .children
            .iter()
            .map(|c| {
                let own_fuse = c
                    .fuse
                    .as_ref()
                    .map(|_| Arc::from(format!("{}/{}", spec.name, c.id)));
                let mut gates: Vec<Arc<str>> = own_fuse.iter().cloned().collect();
                gates.extend(c.needs.iter().cloned());
                Slot {
                    run: None,
                    started: false,
                    removed: false,
                    gates,
                    own_fuse,
                }
            })
            .collect();
        {
            let mut b = shared.lock();
            b.children = spec
                .children
                .iter()
                .map(|c| ChildStatus {
                    id: c.id.clone(),
                    state: ChildState::Waiting,
                    restarts: 0,
                    last_exit: None,
                })
                .collect();
        }
        Engine {
            spec,
            env,
            token,
            shared,
            intensity,
            slots,
            set: JoinSet::new(),
            tasks: HashMap::new(),
            pending: Vec::new(),
            stray: Vec::new(),
            stops: Vec::new(),
            events: None,
        }
    }

    /// Installs the fuses: validated with the spec, so a failure here is a
    /// name the Fusebox refuses, reported as giving up at once.
    fn install(&self) -> Result<(), GaveUp> {
        let fb = &self.env.fusebox;
        let intensity = FuseConfig::standard(self.spec.max_restarts, self.spec.period)
            .heal(Heal::reset(self.spec.period));
        let mut installs = vec![(self.intensity.clone(), intensity)];
        for (c, s) in self.spec.children.iter().zip(&self.slots) {
            if let (Some(cfg), Some(name)) = (&c.fuse, &s.own_fuse) {
                installs.push((name.clone(), cfg.clone()));
            }
        }
        for (name, cfg) in installs {
            fb.install(&*name, cfg)
                .map_err(|e| self.gave_up(&name, e.to_string()))?;
            let _ = fb.reset(&name);
        }
        Ok(())
    }

    fn uninstall(&self) {
        let fb = &self.env.fusebox;
        let _ = fb.remove(&self.intensity);
        for s in &self.slots {
            if let Some(name) = &s.own_fuse {
                let _ = fb.remove(name);
            }
        }
    }

    fn gave_up(&self, child: &Arc<str>, last_exit: String) -> GaveUp {
        GaveUp {
            supervisor: self.spec.name.clone(),
            child: child.clone(),
            last_exit,
        }
    }

    /// Runs the supervisor until its token is cancelled (`Ok`) or it gives
    /// up; either way every child has been stopped, in reverse order.
    pub(crate) async fn run(mut self) -> (Result<(), GaveUp>, Vec<StopRecord>) {
        let result = self.run_inner().await;
        if let Err(g) = &result {
            tracing::error!(target: "fusebox::supervisor", supervisor = %self.spec.name, child = %g.child, "{g}");
            self.shared.lock().record(Record::GaveUp);
        }
        // The report holds this final stop only, not the group restarts'.
        self.stops.clear();
        self.stop_all().await;
        self.uninstall();
        self.shared.lock().finished = true;
        (result, self.stops)
    }

    async fn run_inner(&mut self) -> Result<(), GaveUp> {
        self.install()?;
        self.pending = (0..self.slots.len())
            .map(|idx| Pending {
                idx,
                count: 0,
                cause: String::new(),
            })
            .collect();
        loop {
            if let Some((i, exit)) = (!self.stray.is_empty()).then(|| self.stray.remove(0)) {
                self.on_exit(i, exit).await;
                continue;
            }
            let blocked = self.start_pending()?;
            if !self.stray.is_empty() {
                continue;
            }
            if blocked.is_none() {
                self.events = None;
            }
            let timer = self.env.timer.clone();
            let sleep = async {
                match blocked {
                    Some(Some(d)) => timer.sleep(d).await,
                    _ => std::future::pending().await,
                }
            };
            let event = async {
                match (&self.events, blocked.is_some()) {
                    (Some(sub), true) => {
                        let _ = sub.recv_async().await;
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.token.cancelled() => return Ok(()),
                Some(joined) = self.set.join_next_with_id(), if !self.set.is_empty() => {
                    if let Some((i, exit, _)) = self.identify(joined) {
                        self.stray.push((i, exit));
                    }
                }
                _ = sleep => {}
                _ = event => {}
            }
        }
    }

    /// Starts the pending children in order, each once its gate is open.
    /// `Ok(Some(wait))` when the first is held back by a shut gate (`wait`
    /// until its earliest heal, `None` for an event); `Ok(None)` when
    /// nothing is pending or a start failed (its exit is in `stray`).
    fn start_pending(&mut self) -> Result<Option<Option<Duration>>, GaveUp> {
        while let Some(first) = self.pending.first() {
            let i = first.idx;
            if let Err(wait) = gate::check(&self.env.fusebox, &self.slots[i].gates) {
                if self.events.is_none() {
                    self.events = Some(self.env.fusebox.subscribe_with_capacity(16));
                    // Look again: the fuse may have healed before we listened.
                    if gate::check(&self.env.fusebox, &self.slots[i].gates).is_ok() {
                        continue;
                    }
                }
                let mut b = self.shared.lock();
                for p in &self.pending {
                    b.children[p.idx].state = ChildState::Waiting;
                }
                return Ok(Some(wait));
            }
            let p = self.pending.remove(0);
            for _ in 0..p.count {
                if let Some(f) = self.env.fusebox.fuse(&self.intensity) {
                    f.melt();
                    if f.ask() == Ask::Blown {
                        let id = self.spec.children[i].id.clone();
                        return Err(self.gave_up(&id, p.cause));
                    }
                }
            }
            if !self.start(i) {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Spawns child `i`; false if its start function panicked (the crash
    /// is queued in `stray`).
    fn start(&mut self, i: usize) -> bool {
        let child = &self.spec.children[i];
        // A token of its own, not a child of the supervisor's: cancelling
        // the supervisor must not cancel every child at once, or they
        // would not stop in reverse order.
        let token = CancellationToken::new();
        let fut: std::pin::Pin<Box<dyn std::future::Future<Output = Out> + Send>> =
            match &child.kind {
                Kind::Worker(start) => {
                    let start = start.clone();
                    let t = token.clone();
                    match std::panic::catch_unwind(AssertUnwindSafe(move || start(t))) {
                        Ok(work) => Box::pin(async move {
                            match work.await {
                                Ok(()) => (Exit::Normal, Vec::new()),
                                Err(m) => (Exit::Failed(m), Vec::new()),
                            }
                        }),
                        Err(payload) => {
                            let exit = Exit::StartFailed(Exit::panic_message(&*payload));
                            self.note_start(i, false);
                            self.stray.push((i, exit));
                            return false;
                        }
                    }
                }
                Kind::Supervisor(spec) => {
                    let engine = Engine::new(
                        (**spec).clone(),
                        self.env.clone(),
                        token.clone(),
                        Shared::default(),
                    );
                    Box::pin(async move {
                        match engine.run().await {
                            (Ok(()), stops) => (Exit::Normal, stops),
                            (Err(g), stops) => (Exit::GaveUp(g.to_string()), stops),
                        }
                    })
                }
            };
        let abort = self.set.spawn(fut);
        let id = abort.id();
        self.tasks.insert(id, i);
        self.slots[i].run = Some(Run { id, abort, token });
        self.note_start(i, true);
        true
    }

    fn note_start(&mut self, i: usize, ok: bool) {
        let restarted = std::mem::replace(&mut self.slots[i].started, true);
        let id = self.spec.children[i].id.clone();
        let mut b = self.shared.lock();
        let c = &mut b.children[i];
        if restarted {
            c.restarts += 1;
        }
        if ok {
            c.state = ChildState::Running;
            b.record(Record::Started(id));
        }
    }

    /// The child and its exit from a join; `None` for a task we no longer
    /// know (cannot happen: every spawn is recorded).
    fn identify(
        &mut self,
        joined: Result<(Id, Out), JoinError>,
    ) -> Option<(usize, Exit, Vec<StopRecord>)> {
        let (id, exit, stops) = match joined {
            Ok((id, (exit, stops))) => (id, exit, stops),
            Err(e) if e.is_panic() => {
                let id = e.id();
                (
                    id,
                    Exit::Panicked(Exit::panic_message(&*e.into_panic())),
                    Vec::new(),
                )
            }
            Err(e) => (e.id(), Exit::Failed("aborted".to_owned()), Vec::new()),
        };
        let i = self.tasks.remove(&id)?;
        self.slots[i].run = None;
        Some((i, exit, stops))
    }

    /// A child ended on its own: its restart type, then the strategy.
    async fn on_exit(&mut self, i: usize, exit: Exit) {
        let id = self.spec.children[i].id.clone();
        tracing::warn!(target: "fusebox::supervisor", supervisor = %self.spec.name, child = %id, "child {exit}");
        if exit.is_crash() {
            if let Some(f) = &self.slots[i].own_fuse {
                let _ = self.env.fusebox.melt(f);
            }
        }
        let restart = self.spec.children[i].restart;
        {
            let mut b = self.shared.lock();
            if !matches!(exit, Exit::StartFailed(_)) {
                b.record(Record::Exited(id.clone(), exit.clone()));
            }
            let c = &mut b.children[i];
            c.last_exit = Some(exit.clone());
            c.state = match restart {
                Restart::Temporary => ChildState::Removed,
                _ => ChildState::Stopped,
            };
        }
        if !restart.restarts_after(&exit) {
            self.slots[i].removed = restart == Restart::Temporary;
            return;
        }
        let range = self.spec.strategy.affected(i, self.slots.len());
        for j in range.clone().rev() {
            if j != i && self.slots[j].run.is_some() {
                self.stop(j).await;
            }
        }
        // Exits seen while stopping the group are part of its restart.
        self.stray.retain(|(j, _)| !range.contains(j));
        let mut first = true;
        for j in range {
            let temporary = self.spec.children[j].restart == Restart::Temporary;
            if j != i && (self.slots[j].removed || temporary) {
                if temporary && !self.slots[j].removed {
                    self.slots[j].removed = true;
                    self.shared.lock().children[j].state = ChildState::Removed;
                }
                continue;
            }
            let count = u32::from(std::mem::take(&mut first));
            let cause = exit.to_string();
            match self.pending.iter_mut().find(|p| p.idx == j) {
                Some(p) => {
                    p.count += count;
                    if count > 0 {
                        p.cause = cause;
                    }
                }
                None => {
                    let at = self.pending.partition_point(|p| p.idx < j);
                    self.pending.insert(
                        at,
                        Pending {
                            idx: j,
                            count,
                            cause,
                        },
                    );
                }
            }
            self.shared.lock().children[j].state = ChildState::Waiting;
        }
    }

    /// Stops every running child in reverse order and forgets the queue.
    async fn stop_all(&mut self) {
        for j in (0..self.slots.len()).rev() {
            if self.slots[j].run.is_some() {
                self.stop(j).await;
            }
        }
        let mut b = self.shared.lock();
        for p in self.pending.drain(..) {
            b.children[p.idx].state = ChildState::Stopped;
        }
        for c in b.children.iter_mut() {
            if c.state != ChildState::Removed {
                c.state = ChildState::Stopped;
            }
        }
    }

    /// Stops child `j` by its shutdown.
    async fn stop(&mut self, j: usize) {
        let Some(run) = self.slots[j].run.take() else {
            return;
        };
        let child = &self.spec.children[j];
        let (id, shutdown) = (child.id.clone(), child.shutdown);
        tracing::info!(target: "fusebox::supervisor", supervisor = %self.spec.name, child = %id, ?shutdown, "stopping child, waiting for it");
        let how = match shutdown {
            Shutdown::Abort => {
                run.abort.abort();
                self.wait_for(run.id, None).await;
                Stopped::Aborted
            }
            Shutdown::Graceful(limit) => {
                run.token.cancel();
                if self.wait_for(run.id, Some(limit)).await {
                    Stopped::InTime
                } else {
                    tracing::warn!(target: "fusebox::supervisor", supervisor = %self.spec.name, child = %id, ?limit, "child ignored cancellation: aborted");
                    run.abort.abort();
                    self.wait_for(run.id, None).await;
                    Stopped::Aborted
                }
            }
            Shutdown::Infinity => {
                run.token.cancel();
                self.wait_for(run.id, None).await;
                Stopped::InTime
            }
        };
        let rec = StopRecord {
            supervisor: self.spec.name.clone(),
            child: id,
            how,
        };
        self.stops.push(rec.clone());
        let mut b = self.shared.lock();
        b.children[j].state = ChildState::Stopped;
        b.record(Record::Stopped(rec));
    }

    /// Waits for task `id` to end, at most `limit`; true if it did. Other
    /// children's exits seen meanwhile go to `stray`.
    async fn wait_for(&mut self, id: Id, limit: Option<Duration>) -> bool {
        let timer = self.env.timer.clone();
        let mut sleep = std::pin::pin!(async {
            match limit {
                Some(d) => timer.sleep(d).await,
                None => std::future::pending().await,
            }
        });
        loop {
            tokio::select! {
                biased;
                joined = self.set.join_next_with_id() => {
                    let Some(joined) = joined else { return true };
                    let this = match &joined {
                        Ok((jid, _)) => *jid == id,
                        Err(e) => e.id() == id,
                    };
                    if let Some((i, exit, stops)) = self.identify(joined) {
                        if this {
                            self.stops.extend(stops);
                            return true;
                        }
                        self.stray.push((i, exit));
                    } else if this {
                        return true;
                    }
                }
                _ = &mut sleep => return false,
            }
        }
    }
}
