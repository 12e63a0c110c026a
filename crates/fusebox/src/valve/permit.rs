//! The right to run one task (safetyvalve's ask/done as a value): the slot
//! is released exactly once, when the permit is dropped, even if the task
//! panics or its future is dropped.

use std::fmt;
use std::sync::Arc;

use super::engine::ValveCore;

/// The right to run one task; the slot is freed when it is dropped.
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct Permit {
    core: Arc<ValveCore>,
    started: Option<u64>,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("valve", &self.core.name)
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.core.release(self.started);
    }
}

impl Permit {
    pub(super) fn new(core: &Arc<ValveCore>, started: Option<u64>) -> Self {
        Permit {
            started,
            core: core.clone(),
        }
    }
}
