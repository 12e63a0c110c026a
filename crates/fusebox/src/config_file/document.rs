//! A TOML document read once, every value with its place: the one locator
//! that says where what is wrong is, for `fusebox.toml` and for any file
//! that carries a fusebox config inside it (the simulator's scenarios).
//!
//! A tool with a TOML file of its own has the same needs as `fusebox.toml`:
//! syntax errors placed at the table they are in, serde's errors placed at
//! the key or value they are about, a broken rule placed at the field it
//! names (or the closest one written out), all with line, column and dotted
//! field. Writing those again beside the core is how two locators drift
//! apart; a [`Document`] gives a tool the core's own, and reads a
//! [`ConfigFile`] from one of its tables ([`Document::config_file`]) with
//! every error placed in the whole document, so a scenario's
//! `[fusebox.fuses.db]` is checked as `fusebox.toml`'s `[fuses.db]` is,
//! without copying its text anywhere.

use std::fmt;

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::entry::{error_at, sorted};
use super::error::{ConfigFileError, Kind};
use super::lines::LineIndex;
use super::locate::{segments, Locator, Path};
use super::ConfigFile;
use crate::error::PathSegment;

/// A TOML document kept as a tree of spanned values, for reading it and
/// placing its errors: the locator [`ConfigFile`] uses, for a tool whose
/// own file holds a fusebox config (as the simulator's scenario files hold
/// a `[fusebox]` table).
///
/// # Example
///
/// ```
/// use serde::Deserialize;
/// use fusebox::config_file::Document;
/// use fusebox::error::PathSegment::Key;
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Night { rate: f64 }
///
/// let text = "rate = -1.0\n[fusebox.fuses.db]\n\
///             strategy = { kind = \"consecutive\", failures = 0 }\n\
///             heal = { steps = [{ delay = \"1s\" }] }\n";
/// let doc = Document::parse(text)?;
/// // The tool's part, the fusebox table left out, and a rule of its own.
/// let night: Night = doc.deserialize(&["fusebox"])?;
/// assert!(night.rate < 0.0);
/// let e = doc.error_at(&[Key("rate")], "must be greater than zero");
/// assert_eq!(e.to_string(), "1:8: rate: must be greater than zero");
/// // The fusebox part, checked by the core, placed in the whole text.
/// let errors = doc.config_file(&[Key("fusebox")]).unwrap().unwrap_err();
/// assert_eq!(errors[0].to_string(), "3:47: fusebox.fuses.db.strategy.failures: must be at least 1");
/// # Ok::<(), fusebox::config_file::ConfigFileError>(())
/// ```
pub struct Document<'t> {
    text: &'t str,
    lines: LineIndex<'t>,
    root: Spanned<DeValue<'t>>,
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl<'t> Document<'t> {
    /// Parses `text`; the error is its first syntax error, placed at the
    /// table it is in (at the key, for a duplicate key).
    ///
    /// ```
    /// use fusebox::config_file::Document;
    ///
    /// let e = Document::parse("[load]\nrate = = 3\n").unwrap_err();
    /// assert!(e.is_syntax());
    /// assert_eq!((e.line(), e.field()), (2, "load"));
    /// ```
    pub fn parse(text: &'t str) -> Result<Self, ConfigFileError> {
        Self::parse_all(text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// As [`parse`](Self::parse), with every syntax error, in the order of
    /// the text (never an empty list): what follows one is guesswork, so a
    /// text with any is read no further.
    pub(crate) fn parse_all(text: &'t str) -> Result<Self, Vec<ConfigFileError>> {
        // Positions come from one index of the text: a scan per entry made
        // this quadratic in the file's size (see `lines`).
        let lines = LineIndex::new(text);
        let (root, syntax) = DeTable::parse_recoverable(text);
        let root = Spanned::new(root.span(), DeValue::Table(root.into_inner()));
        let doc = Document { text, lines, root };
        if syntax.is_empty() {
            return Ok(doc);
        }
        let whole = doc.whole();
        let errors = syntax
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                ConfigFileError::new(
                    doc.lines.position(span.start),
                    whole.near(text, span, e.message()).to_string(),
                    e.message(),
                    Kind::Syntax,
                )
            })
            .collect();
        Err(sorted(errors))
    }

    /// The whole document as the locator's entry.
    fn whole(&self) -> Locator<'_, 't> {
        Locator {
            path: Path::default(),
            key_span: 0..0,
            value: &self.root,
        }
    }

    /// The root table.
    pub(crate) fn root(&self) -> &Spanned<DeValue<'t>> {
        &self.root
    }

    /// The line index of the text.
    pub(crate) fn lines(&self) -> &LineIndex<'t> {
        &self.lines
    }

    /// Deserializes the document as a `T`, leaving out the top-level keys
    /// in `without` (parts read on their own, such as a fusebox config);
    /// serde's error is placed at the key or value it is about.
    pub fn deserialize<T: Deserialize<'t>>(&self, without: &[&str]) -> Result<T, ConfigFileError> {
        let mut root = self.root.clone();
        if let DeValue::Table(t) = root.get_mut() {
            let gone: Vec<_> = t
                .keys()
                .filter(|k| without.contains(&k.get_ref().as_ref()))
                .cloned()
                .collect();
            for k in gone {
                t.remove_entry(&k);
            }
        }
        T::deserialize(ValueDeserializer::from(root)).map_err(|e| {
            let whole = self.whole();
            let spot = match e.span() {
                Some(span) => whole.at_span(span, e.message()),
                None => whole.entry(),
            };
            error_at(&self.lines, spot, e.message(), Kind::Shape)
        })
    }

    /// An error about the field at `path`, saying `message`: placed at its
    /// value, or at the closest table written out when the key is not (a
    /// rule about a defaulted key points at its table), and naming the
    /// field as `path` does.
    ///
    /// ```
    /// use fusebox::config_file::Document;
    /// use fusebox::error::PathSegment::{Index, Key};
    ///
    /// let doc = Document::parse("[[episodes]]\nname = \"a\"\n")?;
    /// let e = doc.error_at(&[Key("episodes"), Index(0), Key("end")], "is required");
    /// assert_eq!((e.line(), e.field()), (1, "episodes[0].end"));
    /// # Ok::<(), fusebox::config_file::ConfigFileError>(())
    /// ```
    pub fn error_at(&self, path: &[PathSegment], message: impl Into<String>) -> ConfigFileError {
        let path = Path(segments(path));
        let spot = self.whole().follow(&path.0);
        ConfigFileError::new(
            self.lines.position(spot.span.start),
            path.to_string(),
            message,
            Kind::Rule(None),
        )
    }

    /// The written-out value at `path`, if there is one.
    fn node(&self, path: &[PathSegment]) -> Option<&Spanned<DeValue<'t>>> {
        let mut node = &self.root;
        for seg in path {
            node = match (*seg, node.get_ref()) {
                (PathSegment::Key(k), DeValue::Table(t)) => t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k)
                    .map(|(_, v)| v)?,
                (PathSegment::Index(i), DeValue::Array(a)) => a.get(i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The TOML type of the value at `path` (`"string"`, `"table"`,
    /// `"integer"`, ...), `None` if it is not written out.
    pub fn type_at(&self, path: &[PathSegment]) -> Option<&'static str> {
        self.node(path).map(|v| v.get_ref().type_str())
    }

    /// The string at `path`, if a string is written there.
    pub fn str_at(&self, path: &[PathSegment]) -> Option<&str> {
        match self.node(path)?.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => None,
        }
    }

    /// Checks that the table at `path` (if written out) has no key but
    /// those `allowed`; the first other key, in the order of the text, is
    /// an `unknown field` error placed at it, `why` saying what is allowed.
    /// For what serde does not refuse itself (it reads a unit variant of an
    /// internally tagged enum without looking at the rest of its table).
    pub fn only_keys(
        &self,
        path: &[PathSegment],
        allowed: &[&str],
        why: &str,
    ) -> Result<(), ConfigFileError> {
        let Some(DeValue::Table(table)) = self.node(path).map(Spanned::get_ref) else {
            return Ok(());
        };
        let extra = table
            .iter()
            .filter(|(k, _)| !allowed.contains(&k.get_ref().as_ref()))
            .min_by_key(|(k, _)| k.span().start);
        match extra {
            None => Ok(()),
            Some((k, _)) => {
                let name = k.get_ref().as_ref();
                Err(ConfigFileError::new(
                    self.lines.position(k.span().start),
                    Path(segments(path)).key(name).to_string(),
                    format!("unknown field `{name}`: {why}"),
                    Kind::Shape,
                ))
            }
        }
    }

    /// The fusebox config written as the table at `path`, checked as
    /// [`ConfigFile::check`] checks a `fusebox.toml` (every error it can
    /// find), each error placed in this document and its field starting
    /// with `path` (`fusebox.fuses.db.strategy.failures`). `None` if
    /// nothing is written at `path`; an error if what is there is not a
    /// table.
    pub fn config_file(
        &self,
        path: &[PathSegment],
    ) -> Option<Result<ConfigFile, Vec<ConfigFileError>>> {
        let node = self.node(path)?;
        let at = Path(segments(path));
        if !matches!(node.get_ref(), DeValue::Table(_)) {
            return Some(Err(vec![ConfigFileError::new(
                self.lines.position(node.span().start),
                at.to_string(),
                format!(
                    "invalid type: {}, expected a table (a fusebox config)",
                    node.get_ref().type_str()
                ),
                Kind::Shape,
            )]));
        }
        Some(ConfigFile::read_table(self, at, node))
    }
}
