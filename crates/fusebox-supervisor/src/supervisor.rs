//! The root of a tree, as the service holds it: a thin handle over the
//! engine's task. Dropping the handle aborts the tree (no task outlives
//! it); [`Supervisor::shutdown`] stops it gracefully, in reverse order,
//! within each child's timeout, and says what it stopped.

use std::sync::Arc;

use fusebox::pipeline::{Timer, TokioTimer};
use fusebox::Fusebox;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::child::{ChildStatus, Record, Shared};
use crate::engine::{Engine, Env};
use crate::error::{GaveUp, StartError};
use crate::shutdown::{ShutdownReport, StopRecord};
use crate::spec::SupervisorSpec;

type Ended = (Result<(), GaveUp>, Vec<StopRecord>);

/// A running supervisor, the root of its tree.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use fusebox::Fusebox;
/// use fusebox_supervisor::{ChildSpec, Supervisor, SupervisorSpec};
///
/// let spec = SupervisorSpec::new("root").child(ChildSpec::new("idle", |t| async move {
///     t.cancelled().await;
///     Ok::<(), String>(())
/// }));
/// let sup = Supervisor::start(spec, &Fusebox::new()).unwrap();
/// let report = sup.shutdown().await.unwrap();
/// assert_eq!(&*report.stopped[0].child, "idle");
/// # }
/// ```
#[derive(Debug)]
pub struct Supervisor {
    name: Arc<str>,
    token: CancellationToken,
    task: Option<JoinHandle<Ended>>,
    shared: Shared,
}

impl Supervisor {
    /// Starts the tree on the current tokio runtime, its fuses in
    /// `fusebox` (on its clock) and its shutdown timeouts on tokio's timer.
    pub fn start(spec: SupervisorSpec, fusebox: &Fusebox) -> Result<Self, StartError> {
        Self::start_with_timer(spec, fusebox, TokioTimer)
    }

    /// As [`start`](Self::start), with the timer that times shutdowns and
    /// waits for heals: a [`ManualClock`](fusebox::ManualClock) that is
    /// also the Fusebox's clock runs the whole tree on one clock.
    pub fn start_with_timer(
        spec: SupervisorSpec,
        fusebox: &Fusebox,
        timer: impl Timer,
    ) -> Result<Self, StartError> {
        spec.validate().map_err(StartError::Spec)?;
        let rt = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let env = Env {
            fusebox: fusebox.clone(),
            timer: Arc::new(timer),
        };
        let token = CancellationToken::new();
        let shared = Shared::default();
        let name = spec.name.clone();
        let engine = Engine::new(spec, env, token.clone(), shared.clone());
        let task = rt.spawn(engine.run());
        Ok(Supervisor {
            name,
            token,
            task: Some(task),
            shared,
        })
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its children now, in start order.
    pub fn children(&self) -> Vec<ChildStatus> {
        self.shared.lock().children.clone()
    }

    /// What it did, oldest first (the last [`HISTORY`](crate::HISTORY)).
    pub fn history(&self) -> Vec<Record> {
        self.shared.lock().history.iter().cloned().collect()
    }

    /// Whether it has ended (given up, or shut down).
    pub fn is_finished(&self) -> bool {
        self.shared.lock().finished
    }

    /// Stops the tree: every child in reverse start order, each within its
    /// shutdown, a child supervisor's children before itself. `Err` if the
    /// supervisor had already given up.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts whatever was still running.
    pub async fn shutdown(mut self) -> Result<ShutdownReport, GaveUp> {
        self.token.cancel();
        self.join().await
    }

    /// Waits until the supervisor ends on its own, which it does only by
    /// giving up.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the tree.
    pub async fn wait(mut self) -> GaveUp {
        match self.join().await {
            Err(g) => g,
            Ok(_) => self.gave_up_unexpectedly("it was stopped".to_owned()),
        }
    }

    async fn join(&mut self) -> Result<ShutdownReport, GaveUp> {
        let Some(task) = self.task.as_mut() else {
            return Ok(ShutdownReport::default());
        };
        let ended = task.await;
        self.task = None;
        match ended {
            Ok((Ok(()), stopped)) => Ok(ShutdownReport { stopped }),
            Ok((Err(g), _)) => Err(g),
            Err(e) => Err(self.gave_up_unexpectedly(e.to_string())),
        }
    }

    fn gave_up_unexpectedly(&self, why: String) -> GaveUp {
        GaveUp {
            supervisor: self.name.clone(),
            child: self.name.clone(),
            last_exit: why,
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.token.cancel();
            task.abort();
        }
    }
}
