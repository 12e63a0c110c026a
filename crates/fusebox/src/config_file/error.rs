//! The one error type of config files: where (file, line, column, field)
//! and what.

use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;

/// What is wrong in a config file, and where: the line and column (both
/// 1-based, the column in characters), the dotted path of the field
/// (`fuses.db.strategy.window`, `valves.api.discipline.target`,
/// `fuses.db.heal.steps[1].gradual`) and a message.
///
/// `Display` writes it as compilers do, `fusebox.toml:12:9:
/// fuses.db.strategy.window: must be greater than zero`, with the file name
/// when it is known ([`ConfigFile::read`](crate::ConfigFile::read), or
/// [`in_file`](Self::in_file)).
///
/// The position is that of the offending value; for an unknown or duplicate
/// key, of the key; for a missing one, of the table that should hold it.
///
/// # Example
///
/// ```
/// use fusebox::ConfigFile;
///
/// let text = "[valves.api]\nconcurrency = 0\n";
/// let err = ConfigFile::parse(text).unwrap_err().in_file("fusebox.toml");
/// assert_eq!((err.line(), err.column()), (2, 15));
/// assert_eq!(err.field(), "valves.api.concurrency");
/// assert_eq!(err.message(), "must be at least 1");
/// assert_eq!(
///     err.to_string(),
///     "fusebox.toml:2:15: valves.api.concurrency: must be at least 1",
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ConfigFileError {
    // Boxed: one pointer in every `Result` that may carry it.
    inner: Box<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    file: Option<Arc<str>>,
    line: usize,
    column: usize,
    field: String,
    message: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Not TOML.
    Syntax,
    /// TOML, but not the shape of a fuse or valve (serde refused it).
    Shape,
    /// The right shape, breaking a rule of the config it declares.
    Rule(Option<ConfigError>),
    /// The file could not be read.
    Io(Arc<std::io::Error>),
}

impl ConfigFileError {
    pub(crate) fn new(
        (line, column): (usize, usize),
        field: String,
        message: impl Into<String>,
        kind: Kind,
    ) -> Self {
        ConfigFileError {
            inner: Box::new(Inner {
                file: None,
                line,
                column,
                field,
                message: message.into(),
                kind,
            }),
        }
    }

    /// An error at `position` (line and column, from 1; `(0, 0)` for one
    /// with no place in the text) in the dotted `field`, saying `message`:
    /// the way a tool that reads TOML files of its own (the simulator's
    /// scenario files) reports errors as `fusebox check` does. Name the
    /// file with [`in_file`](Self::in_file).
    ///
    /// ```
    /// use fusebox::config_file::ConfigFileError;
    ///
    /// let e = ConfigFileError::at((3, 9), "load.rate", "must be greater than zero")
    ///     .in_file("night.toml");
    /// assert_eq!(e.to_string(), "night.toml:3:9: load.rate: must be greater than zero");
    /// assert!(!e.is_syntax());
    /// ```
    pub fn at(
        position: (usize, usize),
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(position, field.into(), message, Kind::Shape)
    }

    /// As [`at`](Self::at), for text that is not TOML at all.
    pub fn syntax_at(
        position: (usize, usize),
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(position, field.into(), message, Kind::Syntax)
    }

    /// The same error, caused by a fuse's or valve's config rule
    /// ([`config_error`](Self::config_error) gives it back).
    pub fn with_rule(mut self, rule: ConfigError) -> Self {
        self.inner.kind = Kind::Rule(Some(rule));
        self
    }

    /// The same error, caused by a file that could not be read (its
    /// [`source`](std::error::Error::source)).
    pub fn with_io(mut self, err: std::io::Error) -> Self {
        self.inner.kind = Kind::Io(Arc::new(err));
        self
    }

    pub(crate) fn io(file: &str, err: std::io::Error) -> Self {
        ConfigFileError {
            inner: Box::new(Inner {
                file: Some(file.into()),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read: {err}"),
                kind: Kind::Io(Arc::new(err)),
            }),
        }
    }

    /// Names the file the text came from, for `Display`.
    pub fn in_file(mut self, name: impl Into<Arc<str>>) -> Self {
        self.inner.file = Some(name.into());
        self
    }

    /// The file the text came from, if known.
    pub fn file(&self) -> Option<&str> {
        self.inner.file.as_deref()
    }

    /// The line, from 1; 0 only when the file could not be read.
    pub fn line(&self) -> usize {
        self.inner.line
    }

    /// The column, in characters from 1; 0 only when the file could not be
    /// read.
    pub fn column(&self) -> usize {
        self.inner.column
    }

    /// The dotted path of the field (`fuses.db.strategy.window`). For a
    /// syntax error, the table the error is in as far as the broken text
    /// tells (empty outside any table), or the duplicated key; empty for a
    /// file that could not be read.
    pub fn field(&self) -> &str {
        &self.inner.field
    }

    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// True if the text is not valid TOML.
    pub fn is_syntax(&self) -> bool {
        matches!(self.inner.kind, Kind::Syntax)
    }

    /// The rule broken, as [`FuseConfig::validate`](crate::FuseConfig::validate)
    /// or [`ValveConfig::validate`](crate::ValveConfig::validate) reported it,
    /// for errors found by them.
    pub fn config_error(&self) -> Option<&ConfigError> {
        match &self.inner.kind {
            Kind::Rule(e) => e.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn position(&self) -> (usize, usize) {
        (self.inner.line, self.inner.column)
    }
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.inner;
        if e.line == 0 {
            // No place in the text (a file that could not be read).
            return write!(f, "{}: {}", self.file().unwrap_or("-"), e.message);
        }
        if let Some(file) = &e.file {
            write!(f, "{file}:")?;
        }
        write!(f, "{}:{}: ", e.line, e.column)?;
        if !e.field.is_empty() {
            write!(f, "{}: ", e.field)?;
        }
        f.write_str(&e.message)
    }
}

impl std::error::Error for ConfigFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.kind {
            Kind::Rule(Some(e)) => Some(e),
            Kind::Io(e) => Some(&**e),
            _ => None,
        }
    }
}
