//! Errors: small, typed, and each saying what is wrong and what it is
//! about (a fuse or a valve).

use std::fmt;

/// What an error is about: fuses and valves share a registry, so a name or
/// a config can be either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// A fuse (a circuit breaker).
    Fuse,
    /// A valve (a load regulator).
    Valve,
    /// A retry policy or a retry budget.
    Retry,
    /// A pipeline (its hedge, timeout or name).
    Pipeline,
    /// A keyed family (of fuses or valves).
    Keyed,
}

impl Subject {
    /// `"fuse"`, `"valve"`, `"retry"`, `"pipeline"` or `"keyed family"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Fuse => "fuse",
            Subject::Valve => "valve",
            Subject::Retry => "retry",
            Subject::Pipeline => "pipeline",
            Subject::Keyed => "keyed family",
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Nothing is installed under the given name: no fuse, or no valve, as
/// [`subject`](NotFound::subject) says.
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
/// let err = fb.remove_valve("api").unwrap_err();
/// assert_eq!(err.to_string(), "no valve named \"api\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    subject: Subject,
    name: Box<str>,
}

impl NotFound {
    pub(crate) fn fuse(name: &str) -> Self {
        NotFound {
            subject: Subject::Fuse,
            name: name.into(),
        }
    }

    pub(crate) fn valve(name: &str) -> Self {
        NotFound {
            subject: Subject::Valve,
            name: name.into(),
        }
    }

    pub(crate) fn keyed(name: &str) -> Self {
        NotFound {
            subject: Subject::Keyed,
            name: name.into(),
        }
    }

    /// The name that was looked up.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a fuse, a valve or a keyed family was looked up.
    pub fn subject(&self) -> Subject {
        self.subject
    }
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no {} named {:?}", self.subject, self.name)
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
/// use fusebox::error::PathSegment::Key;
/// assert_eq!(err.path(), [Key("strategy"), Key("window")]);
/// assert!(err.to_string().contains("must be greater than zero"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    subject: Subject,
    path: Vec<PathSegment>,
    value: String,
    rule: &'static str,
}

/// One step of a [`ConfigError`]'s path: a key, or a position in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathSegment {
    /// A field (`strategy`, `window`).
    Key(&'static str),
    /// An element of a list (`heal.steps[2]`).
    Index(usize),
}

impl ConfigError {
    /// A fuse config broke `rule` at `field` (a dotted path of keys).
    pub(crate) fn new(field: &'static str, value: impl fmt::Debug, rule: &'static str) -> Self {
        ConfigError {
            subject: Subject::Fuse,
            path: field.split('.').map(PathSegment::Key).collect(),
            value: format!("{value:?}"),
            rule,
        }
    }

    /// A valve config broke `rule` at `field`.
    pub(crate) fn valve(field: &'static str, value: impl fmt::Debug, rule: &'static str) -> Self {
        Self::new(field, value, rule).for_valve()
    }

    /// A retry policy or budget broke `rule` at `field`.
    pub(crate) fn retry(field: &'static str, value: impl fmt::Debug, rule: &'static str) -> Self {
        ConfigError {
            subject: Subject::Retry,
            ..Self::new(field, value, rule)
        }
    }

    /// A pipeline's config broke `rule` at `field`.
    pub(crate) fn pipeline(
        field: &'static str,
        value: impl fmt::Debug,
        rule: &'static str,
    ) -> Self {
        ConfigError {
            subject: Subject::Pipeline,
            ..Self::new(field, value, rule)
        }
    }

    /// Step `index` of a heal program broke `rule` in its `kind` field
    /// (`heal.steps[index].kind`).
    pub(crate) fn step(
        index: usize,
        kind: &'static str,
        value: impl fmt::Debug,
        rule: &'static str,
    ) -> Self {
        let mut e = Self::new("heal.steps", value, rule);
        e.path.push(PathSegment::Index(index));
        e.path.push(PathSegment::Key(kind));
        e
    }

    /// The same error, about a pipeline's config.
    pub(crate) fn for_pipeline(self) -> Self {
        ConfigError {
            subject: Subject::Pipeline,
            ..self
        }
    }

    /// The same error, about a valve's config.
    pub(crate) fn for_valve(self) -> Self {
        ConfigError {
            subject: Subject::Valve,
            ..self
        }
    }

    /// Whether a fuse's or a valve's config was refused.
    pub fn subject(&self) -> Subject {
        self.subject
    }

    /// The offending field as a path, outermost first: what a tool needs
    /// to find it in a file (`[Key("heal"), Key("steps"), Index(2), Key("delay")]`).
    pub fn path(&self) -> &[PathSegment] {
        &self.path
    }

    /// The offending field, written as a path (`strategy.rate`,
    /// `heal.steps[2].delay`, ...), as the config's serde form spells it.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                PathSegment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathSegment::Index(i) => {
                    use fmt::Write;
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
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
            "invalid {} config: `{}` = {}: {}",
            self.subject,
            self.field(),
            self.value,
            self.rule
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
    /// The call was not made: [chaos](crate::fuse::Chaos) injected this
    /// error in its place (counted as a failure, and apart as injected).
    Injected,
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
            RunError::Injected => f.write_str("call failed: error injected by chaos"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Failed(e) => Some(e),
            RunError::NotFound(e) => Some(e),
            RunError::Blown | RunError::Timeout | RunError::Injected => None,
        }
    }
}

impl<E> From<NotFound> for RunError<E> {
    fn from(e: NotFound) -> Self {
        RunError::NotFound(e)
    }
}
