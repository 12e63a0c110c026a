//! How a child ended. A panic and an `Err` are crashes, with their message
//! kept; `Ok(())` is a normal exit; a start that panicked is a crash too
//! (OTP counts a child whose start fails as crashed).

use std::fmt;

/// How a child's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// It returned `Ok(())`.
    Normal,
    /// It returned an error, kept as text.
    Failed(String),
    /// It panicked; the panic's message.
    Panicked(String),
    /// Its start function panicked; the panic's message.
    StartFailed(String),
    /// A child supervisor gave up.
    GaveUp(String),
}

impl Exit {
    /// Whether this exit is a crash (anything but [`Exit::Normal`]).
    pub fn is_crash(&self) -> bool {
        !matches!(self, Exit::Normal)
    }

    /// The message of a panic payload, or a placeholder.
    pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-text payload".to_owned()
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Normal => f.write_str("normal exit"),
            Exit::Failed(m) => write!(f, "failed: {m}"),
            Exit::Panicked(m) => write!(f, "panicked: {m}"),
            Exit::StartFailed(m) => write!(f, "start failed: {m}"),
            Exit::GaveUp(m) => write!(f, "supervisor gave up: {m}"),
        }
    }
}
