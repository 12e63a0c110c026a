//! Errors: small, typed, and each saying what is wrong.

use std::fmt;

/// No fuse is installed under the given name.
///
/// # Example
///
/// ```
/// use fusebox::Fusebox;
///
/// let fb = Fusebox::new();
/// let err = fb.ask("nope").unwrap_err();
/// assert_eq!(err.name(), "nope");
/// assert_eq!(err.to_string(), "no fuse named \"nope\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    name: Box<str>,
}

impl NotFound {
    pub(crate) fn new(name: &str) -> Self {
        NotFound { name: name.into() }
    }

    /// The name that was looked up.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no fuse named {:?}", self.name)
    }
}

impl std::error::Error for NotFound {}

/// A configuration was refused: names the field, the value and the rule it
/// broke. The fuse already installed under that name, if any, is unchanged.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox};
///
/// let fb = Fusebox::new();
/// let err = fb.install("db", FuseConfig::standard(3, Duration::ZERO)).unwrap_err();
/// assert_eq!(err.field(), "strategy.window");
/// assert!(err.to_string().contains("must be greater than zero"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    value: String,
    rule: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, value: impl fmt::Debug, rule: &'static str) -> Self {
        ConfigError {
            field,
            value: format!("{value:?}"),
            rule,
        }
    }

    /// The offending field, as a dotted path (`strategy.rate`, `heal.after`, ...).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The rule the value broke, in words.
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    /// The offending value, as written by `Debug`.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid fuse config: `{}` = {}: {}",
            self.field, self.value, self.rule
        )
    }
}

impl std::error::Error for ConfigError {}

/// Why [`run`](crate::Fuse::run) did not return the call's value.
///
/// A refusal ([`Blown`](RunError::Blown)) is kept apart from the wrapped
/// call's own error ([`Failed`](RunError::Failed)).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Fusebox, RunError};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(0, Duration::from_secs(1))).unwrap();
/// let r: Result<(), _> = fb.run("db", || Err("timeout"));
/// assert_eq!(r, Err(RunError::Failed("timeout")));   // and the fuse blew
/// let r: Result<(), RunError<&str>> = fb.run("db", || Ok(()));
/// assert_eq!(r, Err(RunError::Blown));               // refused, closure not called
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError<E> {
    /// The fuse refused the call; the closure was not called.
    Blown,
    /// The closure ran and returned this error (counted as a melt).
    Failed(E),
    /// No fuse by that name (only from the by-name [`Fusebox::run`](crate::Fusebox::run)).
    NotFound(NotFound),
    /// The call did not finish within its timeout (counted as a failure).
    Timeout,
}

impl<E> RunError<E> {
    /// The call's own error, if the call ran and failed.
    pub fn into_failed(self) -> Option<E> {
        match self {
            RunError::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True if the fuse refused the call.
    pub fn is_blown(&self) -> bool {
        matches!(self, RunError::Blown)
    }
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Blown => f.write_str("refused: fuse is blown"),
            RunError::Failed(e) => write!(f, "call failed: {e}"),
            RunError::NotFound(e) => e.fmt(f),
            RunError::Timeout => f.write_str("call timed out"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Failed(e) => Some(e),
            RunError::NotFound(e) => Some(e),
            RunError::Blown | RunError::Timeout => None,
        }
    }
}

impl<E> From<NotFound> for RunError<E> {
    fn from(e: NotFound) -> Self {
        RunError::NotFound(e)
    }
}
