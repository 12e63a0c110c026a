//! What the outside sees of a child: its state, restarts and last exit,
//! and a bounded history of what the supervisor did. The engine writes
//! these after each step; the handle reads them. The lock guards plain
//! data only: no waker, callback or user code runs under it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::exit::Exit;
use crate::shutdown::StopRecord;

/// The most history entries a supervisor keeps (the oldest go first).
pub const HISTORY: usize = 1024;

/// Where a child is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildState {
    /// Its task is running.
    Running,
    /// Due to (re)start, waiting for its own fuse or a fuse it needs to heal,
    /// or for the children before it to start.
    Waiting,
    /// Not running and not due to restart (a transient child that exited
    /// normally, or any child after its supervisor stopped).
    Stopped,
    /// A temporary child that exited: gone for good.
    Removed,
}

/// A child as its supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildStatus {
    /// Its id.
    pub id: Arc<str>,
    /// Its state.
    pub state: ChildState,
    /// How many times it was restarted (started again after its first start).
    pub restarts: u64,
    /// How its last run ended.
    pub last_exit: Option<Exit>,
}

/// One thing the supervisor did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A child was started.
    Started(Arc<str>),
    /// A child exited on its own.
    Exited(Arc<str>, Exit),
    /// The supervisor stopped a child.
    Stopped(StopRecord),
    /// The supervisor gave up.
    GaveUp,
}

#[derive(Debug, Default)]
pub(crate) struct Board {
    pub(crate) children: Vec<ChildStatus>,
    pub(crate) history: VecDeque<Record>,
    pub(crate) finished: bool,
}

impl Board {
    pub(crate) fn record(&mut self, r: Record) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(r);
    }
}

/// The board, shared by a supervisor's engine and its handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared(Arc<Mutex<Board>>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Board> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
