//! Where in the text a field is: dotted paths and byte spans (their lines and
//! columns are [`LineIndex`](super::lines::LineIndex)'s business).
//!
//! serde reports *what* is wrong; to say *where*, the document is also kept
//! as a tree of spanned values (`toml::de::DeValue`, whose spans are byte
//! offsets into the text). Two questions are asked of that tree:
//!
//! * an error from the `toml` deserializer carries a span: which node is it,
//!   and so which dotted path ([`Locator::at_span`]);
//! * a rule broken by a valid-looking value names a field relative to one
//!   fuse or valve (`strategy.window`): where is that key, or the closest
//!   one that exists ([`Locator::follow`]).
//!
//! A table opened by a header (`[fuses.db]`) has the header as its span, not
//! its contents, and a table can be split over several headers, so lookups
//! compare spans node by node rather than descend by containment.

use std::fmt;
use std::ops::Range;

use toml::de::DeValue;
use toml::Spanned;

use crate::error::PathSegment;

/// One step of a path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted path from the document's root: `fuses.db.heal.steps[2].delay`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Path(pub(crate) Vec<Seg>);

impl Path {
    pub(crate) fn key(mut self, key: &str) -> Path {
        self.0.push(Seg::Key(key.to_owned()));
        self
    }

    #[cfg(test)]
    fn index(mut self, i: usize) -> Path {
        self.0.push(Seg::Index(i));
        self
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        // As TOML would quote it.
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A path as the public API writes it ([`ConfigError::path`](crate::ConfigError::path),
/// [`Document`](super::Document)'s arguments), as the locator's.
pub(crate) fn segments(path: &[PathSegment]) -> Vec<Seg> {
    path.iter()
        .map(|seg| match *seg {
            PathSegment::Key(k) => Seg::Key(k.to_owned()),
            PathSegment::Index(i) => Seg::Index(i),
        })
        .collect()
}

/// A node found in the tree: its path and the span to point at.
#[derive(Debug, Clone)]
pub(crate) struct Spot {
    pub(crate) path: Path,
    pub(crate) span: Range<usize>,
}

/// One fuse's or valve's subtree, with the path and key span that lead to it.
#[derive(Debug)]
pub(crate) struct Locator<'a, 'i> {
    pub(crate) path: Path,
    pub(crate) key_span: Range<usize>,
    pub(crate) value: &'a Spanned<DeValue<'i>>,
}

impl Locator<'_, '_> {
    /// Where the entry itself is: its table (the `[fuses.db]` header or the
    /// `{` of an inline table).
    pub(crate) fn entry(&self) -> Spot {
        Spot {
            path: self.path.clone(),
            span: self.value.span(),
        }
    }

    /// The node an error span from the deserializer designates: the deepest
    /// node whose value span is exactly `span`, else whose key span is, else
    /// the smallest node containing it, else the entry itself.
    ///
    /// A table-wide error (from an internally tagged enum such as
    /// `strategy`, which serde buffers, losing the spans of its fields) is
    /// narrowed to the key the message is about when one can be told; see
    /// [`narrow`].
    pub(crate) fn at_span(&self, span: Range<usize>, message: &str) -> Spot {
        let mut exact_value: Option<(Path, &Spanned<DeValue<'_>>)> = None;
        let mut exact_key: Option<Spot> = None;
        let mut containing: Option<Spot> = None;
        walk(
            self.value,
            &mut self.path.clone(),
            Some(self.key_span.clone()),
            &mut |path, key_span, node| {
                let vs = node.span();
                if vs == span
                    && exact_value
                        .as_ref()
                        .is_none_or(|(p, _)| p.0.len() <= path.0.len())
                {
                    exact_value = Some((path.clone(), node));
                }
                if key_span == Some(&span) {
                    exact_key = Some(Spot {
                        path: path.clone(),
                        span: span.clone(),
                    });
                }
                if vs.start <= span.start
                    && span.end <= vs.end
                    && containing.as_ref().is_none_or(|c| vs.len() <= c.span.len())
                {
                    containing = Some(Spot {
                        path: path.clone(),
                        span: vs,
                    });
                }
            },
        );
        if let Some((path, node)) = exact_value {
            return narrow(path, node, message);
        }
        exact_key.or(containing).unwrap_or_else(|| self.entry())
    }

    /// For a syntax error at `span`: the table it is in, as far as the tree
    /// recovered from the broken text tells. A key whose span is exactly the
    /// error's (a duplicate key) is the one; otherwise the table whose span
    /// holds the error (an inline table), or the last table header before it
    /// (a header's span is the header alone), the deepest if several start
    /// at the same place; otherwise the entry. A table rather than a key:
    /// the key being written when the text went wrong is often not in the
    /// recovered tree, and the key before it is not the culprit.
    pub(crate) fn near(&self, text: &str, span: Range<usize>, message: &str) -> Path {
        let duplicate = message
            .starts_with("duplicate key")
            .then(|| text.get(span.clone()))
            .flatten()
            .filter(|k| !k.is_empty());
        let mut exact: Option<Path> = None;
        let mut best: Option<(usize, Path)> = None;
        walk(
            self.value,
            &mut self.path.clone(),
            Some(self.key_span.clone()),
            &mut |path, key_span, node| {
                if key_span == Some(&span) {
                    exact = Some(path.clone());
                }
                if !matches!(node.get_ref(), DeValue::Table(_)) {
                    return;
                }
                let vs = node.span();
                // Recovery can leave a table whose key comes after the error.
                if key_span.is_some_and(|k| k.start > span.start) {
                    return;
                }
                let holds = vs.start <= span.start && span.start < vs.end;
                let header_before = vs.start <= span.start
                    && text.get(vs.clone()).is_some_and(|h| h.starts_with('['));
                if (holds || header_before)
                    && best.as_ref().is_none_or(|(start, p)| {
                        vs.start > *start || (vs.start == *start && path.0.len() > p.0.len())
                    })
                {
                    best = Some((vs.start, path.clone()));
                }
            },
        );
        let mut path = exact
            .or(best.map(|(_, p)| p))
            .unwrap_or_else(|| self.path.clone());
        // A duplicate key the tree kept the first of: name it.
        if let Some(key) = duplicate {
            let key = key.trim_matches(|c| c == '"' || c == '\'');
            if path.0.last() != Some(&Seg::Key(key.to_owned())) {
                path = path.key(key);
            }
        }
        path
    }

    /// The node at `relative` below the entry; if it does not exist, the
    /// closest ancestor that does. Points at the value (the offending one).
    pub(crate) fn follow(&self, relative: &[Seg]) -> Spot {
        let mut node = self.value;
        let mut path = self.path.clone();
        for seg in relative {
            let next = match (seg, node.get_ref()) {
                (Seg::Key(k), DeValue::Table(t)) => t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                    .map(|(_, v)| v),
                (Seg::Index(i), DeValue::Array(a)) => a.get(*i),
                _ => None,
            };
            match next {
                Some(v) => {
                    node = v;
                    path.0.push(seg.clone());
                }
                None => break,
            }
        }
        Spot {
            path,
            span: node.span(),
        }
    }
}

/// Visits every node below `node` (itself included) with its path and the
/// span of the key that names it (none for array elements).
pub(crate) fn walk<'a, 'i>(
    node: &'a Spanned<DeValue<'i>>,
    path: &mut Path,
    key_span: Option<Range<usize>>,
    visit: &mut impl FnMut(&Path, Option<&Range<usize>>, &'a Spanned<DeValue<'i>>),
) {
    visit(path, key_span.as_ref(), node);
    match node.get_ref() {
        DeValue::Table(t) => {
            for (k, v) in t.iter() {
                path.0.push(Seg::Key(k.get_ref().to_string()));
                walk(v, path, Some(k.span()), visit);
                path.0.pop();
            }
        }
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.0.push(Seg::Index(i));
                walk(v, path, None, visit);
                path.0.pop();
            }
        }
        _ => {}
    }
}

/// An error reported against a whole table: point at the key it is about.
///
/// serde deserializes an internally tagged enum (`strategy = { kind = ... }`)
/// from a buffer, so the `toml` deserializer can only attach the table's
/// span to what goes wrong inside. serde's messages quote the culprit,
/// though: `unknown field `windw``, `unknown variant `standrad``, `invalid
/// type: string "x"`, `invalid value: integer `-1``, and our duration parser
/// quotes the text it refused. The first key whose name or value is quoted
/// is the one; a message quoting none (`missing field ...`) stays on the
/// table.
fn narrow(path: Path, node: &Spanned<DeValue<'_>>, message: &str) -> Spot {
    let table_spot = || Spot {
        path: path.clone(),
        span: node.span(),
    };
    let DeValue::Table(table) = node.get_ref() else {
        return table_spot();
    };
    if let Some(name) = quoted_after(message, "missing field `") {
        // Nowhere to point but the table; the field is the one missing.
        return Spot {
            path: path.clone().key(name),
            span: node.span(),
        };
    }
    if let Some(name) = quoted_after(message, "unknown field `") {
        if let Some((k, _)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name) {
            return Spot {
                path: path.clone().key(name),
                span: k.span(),
            };
        }
    }
    let variant = quoted_after(message, "unknown variant `");
    for (k, v) in table.iter() {
        let hit = match v.get_ref() {
            DeValue::String(s) => {
                variant == Some(s.as_ref()) || message.contains(&format!("{:?}", s.as_ref()))
            }
            DeValue::Integer(i) => message.contains(&format!("`{}`", i.as_str())),
            DeValue::Float(x) => message.contains(&format!("`{}`", x.as_str())),
            DeValue::Boolean(b) => message.contains(&format!("`{b}`")),
            _ => false,
        };
        if hit {
            return Spot {
                path: path.clone().key(k.get_ref()),
                span: v.span(),
            };
        }
    }
    table_spot()
}

/// The text between `prefix` and the next backtick.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.find('`').map(|end| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_keys_toml_would_quote() {
        let p = Path::default()
            .key("fuses")
            .key("db.primary")
            .key("heal")
            .key("steps")
            .index(2)
            .key("delay");
        assert_eq!(p.to_string(), r#"fuses."db.primary".heal.steps[2].delay"#);
        assert_eq!(Path::default().key("").to_string(), r#""""#);
    }

    #[test]
    fn quoted_after_takes_the_backticked_word() {
        let m = "unknown field `windw`, expected `window`";
        assert_eq!(quoted_after(m, "unknown field `"), Some("windw"));
        assert_eq!(quoted_after(m, "unknown variant `"), None);
    }
}
