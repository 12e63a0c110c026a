//! The supervisor's errors: a spec that breaks a rule, a start outside a
//! runtime, and giving up (restart intensity exceeded).

use std::fmt;
use std::sync::Arc;

/// A spec broke a rule; names the supervisor, the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    supervisor: Arc<str>,
    field: &'static str,
    rule: String,
}

impl SpecError {
    pub(crate) fn new(supervisor: &Arc<str>, field: &'static str, rule: impl Into<String>) -> Self {
        SpecError {
            supervisor: supervisor.clone(),
            field,
            rule: rule.into(),
        }
    }

    /// The field that is wrong (`period`, `child.id`, ...).
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "supervisor {:?}: {} {}",
            self.supervisor, self.field, self.rule
        )
    }
}

impl std::error::Error for SpecError {}

/// Why a supervisor could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// The spec broke a rule.
    Spec(SpecError),
    /// Not called from inside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spec(e) => e.fmt(f),
            StartError::NoRuntime => f.write_str("a supervisor starts inside a tokio runtime"),
        }
    }
}

impl std::error::Error for StartError {}

/// A supervisor gave up: more than its maximum restarts fell within its
/// period (its fuse blew). Its children were stopped in reverse order; its
/// parent, if any, sees this as the crash of a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// The supervisor's name.
    pub supervisor: Arc<str>,
    /// The child whose restart was one too many.
    pub child: Arc<str>,
    /// That child's last exit.
    pub last_exit: String,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "supervisor {:?} gave up: restart intensity exceeded restarting {:?} ({})",
            self.supervisor, self.child, self.last_exit
        )
    }
}

impl std::error::Error for GaveUp {}
