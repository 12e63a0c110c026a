//! The reference model: OTP's supervisor rules as a plain, pure state
//! machine, written from the `supervisor` module's documentation and
//! `supervisor.erl`, with no tasks, no fuse and no clock of its own (the
//! time is an argument). The state-machine test drives it and the real
//! supervisor with the same operations and compares what they did.
//!
//! Rules (ids used by the test's rule counts):
//! - R1 strategy: one_for_one restarts the child; one_for_all stops the
//!   others in reverse and starts all in order; rest_for_one does so for the
//!   child and those after it.
//! - R2 restart type: permanent always, transient after a crash only,
//!   temporary never (and removed; also when a group restart stops it).
//! - R3 intensity: a restart at `now` is counted; if more than `max_r`
//!   counted restarts are younger than `period`, give up.
//! - R4 give up: stop the running children in reverse order, run no more.
//! - R5 a start that fails is a crash of that child.
//! - R6 shutdown: stop the running children in reverse start order.
#![allow(dead_code, unreachable_pub)]

use fusebox_supervisor::{Exit, Restart, Strategy};

/// What the model did, in order (the implementation's `Record`s, by
/// child index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Started(usize),
    Exited(usize, Exit),
    Stopped(usize),
    GaveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Stopped,
    Removed,
}

#[derive(Debug, Clone)]
pub struct Child {
    pub restart: Restart,
    pub state: State,
    pub started: bool,
    pub restarts: u64,
    /// Starts still to fail (the test's injected start failures).
    pub fail_starts: u32,
    pub last_exit: Option<Exit>,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub strategy: Strategy,
    pub max_r: u32,
    pub period: u64,
    pub now: u64,
    pub children: Vec<Child>,
    /// Times of counted restarts.
    pub restarts_at: Vec<u64>,
    pub gave_up: bool,
    pub log: Vec<Ev>,
    /// Rules reached by this run.
    pub reached: Vec<&'static str>,
}

impl Model {
    pub fn new(strategy: Strategy, max_r: u32, period: u64, restarts: &[Restart]) -> Self {
        let children = restarts
            .iter()
            .map(|&restart| Child {
                restart,
                state: State::Stopped,
                started: false,
                restarts: 0,
                fail_starts: 0,
                last_exit: None,
            })
            .collect();
        let mut m = Model {
            strategy,
            max_r,
            period,
            now: 0,
            children,
            restarts_at: Vec::new(),
            gave_up: false,
            log: Vec::new(),
            reached: Vec::new(),
        };
        let all: Vec<usize> = (0..m.children.len()).collect();
        m.start_queue(all, None);
        m
    }

    pub fn advance(&mut self, by: u64) {
        self.now += by;
    }

    pub fn fail_next_start(&mut self, i: usize) {
        self.children[i].fail_starts += 1;
    }

    /// Child `i` ends on its own with `exit`, if it is running.
    pub fn exit(&mut self, i: usize, exit: Exit) {
        if self.gave_up || self.children[i].state != State::Running {
            return;
        }
        self.log.push(Ev::Exited(i, exit.clone()));
        self.on_exit(i, exit);
    }

    /// Starts `queue` in order; the first start counts a restart if
    /// `count` (with its cause).
    fn start_queue(&mut self, mut queue: Vec<usize>, mut count: Option<()>) {
        queue.sort_unstable();
        queue.dedup();
        let mut k = 0;
        while k < queue.len() {
            let i = queue[k];
            k += 1;
            if count.take().is_some() {
                self.restarts_at.push(self.now);
                let (now, period) = (self.now, self.period);
                self.restarts_at.retain(|&t| now - t < period);
                if self.restarts_at.len() > self.max_r as usize {
                    self.reached.push("R3 intensity exceeded");
                    self.give_up();
                    return;
                }
                self.reached.push("R3 restart counted");
            }
            let c = &mut self.children[i];
            if std::mem::replace(&mut c.started, true) {
                c.restarts += 1;
            }
            if c.fail_starts > 0 {
                c.fail_starts -= 1;
                self.reached.push("R5 start failed");
                let exit = Exit::StartFailed(format!("start {i} failed"));
                // The failed start is a crash; what is left of the queue is
                // requeued by the strategy (one_for_all/rest_for_one) or
                // still due (one_for_one: only later entries of an initial
                // start).
                let rest: Vec<usize> = queue[k..].to_vec();
                self.on_exit_queued(i, exit, rest);
                return;
            }
            c.state = State::Running;
            self.log.push(Ev::Started(i));
        }
    }

    fn on_exit(&mut self, i: usize, exit: Exit) {
        self.on_exit_queued(i, exit, Vec::new());
    }

    /// `i` exited (or failed to start) while `still_due` waited to start.
    fn on_exit_queued(&mut self, i: usize, exit: Exit, still_due: Vec<usize>) {
        let restart = self.children[i].restart;
        let c = &mut self.children[i];
        c.last_exit = Some(exit.clone());
        c.state = if restart == Restart::Temporary {
            State::Removed
        } else {
            State::Stopped
        };
        let again = match restart {
            Restart::Permanent => true,
            Restart::Transient => exit.is_crash(),
            _ => false,
        };
        if !again {
            self.reached.push(match restart {
                Restart::Temporary => "R2 temporary removed",
                _ => "R2 transient normal exit stays down",
            });
            self.start_queue(still_due, None);
            return;
        }
        self.reached.push(match restart {
            Restart::Permanent => "R2 permanent restarted",
            _ => "R2 transient crash restarted",
        });
        let n = self.children.len();
        // The model's own reading of OTP's strategies (not the crate's
        // `Strategy::affected`, so a broken one is caught).
        let range = match self.strategy {
            Strategy::OneForOne => i..i + 1,
            Strategy::OneForAll => 0..n,
            _ => i..n,
        };
        self.reached.push(match self.strategy {
            Strategy::OneForOne => "R1 one_for_one",
            Strategy::OneForAll => "R1 one_for_all",
            _ => "R1 rest_for_one",
        });
        for j in range.clone().rev() {
            if j != i && self.children[j].state == State::Running {
                self.log.push(Ev::Stopped(j));
                self.children[j].state = State::Stopped;
                self.reached.push("R1 sibling stopped");
            }
        }
        let mut queue = still_due;
        for j in range {
            let c = &mut self.children[j];
            if j != i && (c.state == State::Removed || c.restart == Restart::Temporary) {
                if c.state != State::Removed {
                    c.state = State::Removed;
                    self.reached.push("R2 temporary sibling removed");
                }
                queue.retain(|&q| q != j);
                continue;
            }
            queue.push(j);
        }
        // The restart is counted at the first start of the group.
        queue.sort_unstable();
        queue.dedup();
        self.start_counted(queue, range_first(self.strategy, i));
    }

    fn start_counted(&mut self, queue: Vec<usize>, _first: usize) {
        self.start_queue(queue, Some(()));
    }

    fn give_up(&mut self) {
        self.gave_up = true;
        self.log.push(Ev::GaveUp);
        self.stop_all();
        self.reached.push("R4 gave up");
    }

    fn stop_all(&mut self) {
        for j in (0..self.children.len()).rev() {
            if self.children[j].state == State::Running {
                self.log.push(Ev::Stopped(j));
                self.children[j].state = State::Stopped;
            }
        }
    }

    /// The root's shutdown: the stops it makes, in order.
    pub fn shutdown(&mut self) -> Vec<usize> {
        let before = self.log.len();
        if !self.gave_up {
            self.stop_all();
            self.reached.push("R6 shutdown in reverse");
        }
        self.log[before..]
            .iter()
            .filter_map(|e| match e {
                Ev::Stopped(j) => Some(*j),
                _ => None,
            })
            .collect()
    }
}

fn range_first(strategy: Strategy, i: usize) -> usize {
    match strategy {
        Strategy::OneForAll => 0,
        _ => i,
    }
}
