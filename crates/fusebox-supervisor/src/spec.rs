//! What a supervisor is told before it starts: its children, in order,
//! each with a restart type, a shutdown and the fuses it lives by.
//!
//! A spec is plain data plus the function that starts the child. It is
//! checked once, by [`SupervisorSpec::validate`] (which
//! [`Supervisor::start`](crate::Supervisor::start) calls): ids must be
//! unique and non-empty, so every later report can name a child by its id.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fusebox::FuseConfig;
use tokio_util::sync::CancellationToken;

use crate::error::SpecError;
use crate::restart::Restart;
use crate::shutdown::Shutdown;
use crate::strategy::Strategy;

/// The future a worker runs; its error is kept as text.
pub(crate) type Work = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'static>>;

/// Starts a worker, given the token the supervisor cancels to stop it.
pub(crate) type StartFn = Arc<dyn Fn(CancellationToken) -> Work + Send + Sync + 'static>;

/// What runs in a child: a worker task, or a supervisor of its own.
#[derive(Clone)]
pub(crate) enum Kind {
    Worker(StartFn),
    Supervisor(Box<SupervisorSpec>),
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Worker(_) => f.write_str("Worker"),
            Kind::Supervisor(s) => f.debug_tuple("Supervisor").field(&s.name).finish(),
        }
    }
}

/// One child of a supervisor.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox_supervisor::{ChildSpec, Restart, Shutdown};
///
/// let spec = ChildSpec::new("refresher", |token| async move {
///     token.cancelled().await;
///     Ok::<(), std::io::Error>(())
/// })
/// .restart(Restart::Transient)
/// .shutdown(Shutdown::Graceful(Duration::from_secs(5)));
/// assert_eq!(spec.id(), "refresher");
/// ```
#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub(crate) id: Arc<str>,
    pub(crate) kind: Kind,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) fuse: Option<FuseConfig>,
    pub(crate) needs: Vec<Arc<str>>,
}

impl ChildSpec {
    /// A permanent worker stopped gracefully within five seconds. `start`
    /// is called at each (re)start with a fresh [`CancellationToken`]; a
    /// panic in `start` or in its future, or an `Err`, is a crash, and
    /// `Ok(())` a normal exit.
    pub fn new<F, Fut, E>(id: impl Into<Arc<str>>, start: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let start: StartFn = Arc::new(move |token| {
            let fut = start(token);
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        ChildSpec {
            id: id.into(),
            kind: Kind::Worker(start),
            restart: Restart::Permanent,
            shutdown: Shutdown::Graceful(Duration::from_secs(5)),
            fuse: None,
            needs: Vec::new(),
        }
    }

    /// A child supervisor: permanent, and stopped without a time limit (it
    /// stops its own children within theirs), as OTP advises.
    pub fn supervisor(spec: SupervisorSpec) -> Self {
        ChildSpec {
            id: spec.name.clone(),
            kind: Kind::Supervisor(Box::new(spec)),
            restart: Restart::Permanent,
            shutdown: Shutdown::Infinity,
            fuse: None,
            needs: Vec::new(),
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Gives the child a fuse of its own, melted by each of its crashes:
    /// while it is blown the child is not restarted, and its heal program
    /// (backoff, jitter, barrier) says when it is. Installed in the
    /// supervisor's Fusebox as `SUPERVISOR/CHILD`.
    pub fn fuse(mut self, config: FuseConfig) -> Self {
        self.fuse = Some(config);
        self
    }

    /// Names a fuse of the supervisor's Fusebox the child needs: while it
    /// is blown (or missing) the child is not (re)started and no restart is
    /// counted.
    pub fn needs(mut self, fuse: impl Into<Arc<str>>) -> Self {
        self.needs.push(fuse.into());
        self
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A supervisor: a name, a strategy, a restart intensity and its
/// children in start order.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox_supervisor::{ChildSpec, Strategy, SupervisorSpec};
///
/// let spec = SupervisorSpec::new("root")
///     .strategy(Strategy::RestForOne)
///     .intensity(3, Duration::from_secs(5))
///     .child(ChildSpec::new("db", |t| async move { t.cancelled().await; Ok::<_, String>(()) }));
/// assert!(spec.validate().is_ok());
/// assert!(spec.clone().child(ChildSpec::new("db", |_| async { Ok::<_, String>(()) }))
///     .validate().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    pub(crate) name: Arc<str>,
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// One-for-one, at most 1 restart in 5 seconds (OTP's defaults), no
    /// children.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        SupervisorSpec {
            name: name.into(),
            strategy: Strategy::OneForOne,
            max_restarts: 1,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// More than `max_restarts` restarts within `period` and the
    /// supervisor gives up: its fuse is `FuseConfig::standard(max_restarts,
    /// period)`, melted once per restart.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Appends a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the spec and its child supervisors' specs.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.name.is_empty() {
            return Err(SpecError::new(&self.name, "name", "must not be empty"));
        }
        if self.period.is_zero() {
            return Err(SpecError::new(
                &self.name,
                "period",
                "must be longer than zero",
            ));
        }
        for (i, c) in self.children.iter().enumerate() {
            if c.id.is_empty() || c.id.contains('/') {
                return Err(SpecError::new(
                    &self.name,
                    "child.id",
                    "must be non-empty, without '/'",
                ));
            }
            if self.children[..i].iter().any(|o| o.id == c.id) {
                return Err(SpecError::new(&self.name, "child.id", "must be unique"));
            }
            if let Some(f) = &c.fuse {
                f.validate()
                    .map_err(|e| SpecError::new(&self.name, "child.fuse", e.to_string()))?;
            }
            if let Kind::Supervisor(s) = &c.kind {
                s.validate()?;
            }
        }
        Ok(())
    }
}
