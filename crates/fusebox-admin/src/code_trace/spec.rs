//! What an operator asks to trace: `target[span]{field=value}=level`, a
//! small cousin of `EnvFilter`'s directives, parsed here rather than with
//! `tracing-subscriber`'s `env-filter` feature (which brings a regex engine
//! into every service that adds the layer).
//!
//! Why a parser of our own and a strict one: the spec arrives over HTTP from
//! someone typing in a hurry at night. Every mistake is refused with the byte
//! where it is and what was expected (a typed 400), never guessed at, and
//! nothing in a spec can make the trace cost more than its bounds: a spec is
//! at most [`MAX_SPEC_LEN`] bytes and [`MAX_DIRECTIVES`] directives of at most
//! [`MAX_FIELDS`] fields each.
//!
//! The syntax and what matches are documented on [`TraceSpec`].

use std::fmt;

use tracing_core::{Level, Metadata};
use tracing_subscriber::filter::LevelFilter;

/// The longest spec accepted, in bytes.
pub const MAX_SPEC_LEN: usize = 1024;
/// The most directives in one spec.
pub const MAX_DIRECTIVES: usize = 16;
/// The most `{field}` conditions in one directive.
pub const MAX_FIELDS: usize = 8;

/// A parsed trace spec: which events a code trace sends.
///
/// ```text
/// spec      = directive *( "," directive )
/// directive = LEVEL                                   every target at LEVEL
///           | [target] ["[" span "]"] ["{" field *( "," field ) "}"] ["=" LEVEL]
/// field     = name [ "=" value ]                      value: no "," "}" or quote
/// LEVEL     = trace | debug | info | warn | error     (any case); none means trace
/// ```
///
/// A directive matches an event when
/// * its `target` is the event's target or a module above it
///   (`myapp::db` matches `myapp::db` and `myapp::db::pool`, not `myapp::dbx`);
/// * the event is inside a span named `span` (any enclosing span created
///   since the trace began, at or below the spec's most verbose level: the
///   layer sees no other);
/// * the event has every `field`, and for `field=value` its value, printed
///   as the trace prints it (a string's contents, a number's digits), is
///   `value`;
/// * the event's level is `LEVEL` or less verbose.
///
/// An event matches the spec when one directive matches it: directives add
/// up (unlike `EnvFilter`, where the most specific one wins, there is nothing
/// to switch off in a trace).
///
/// # Example
///
/// ```
/// use fusebox_admin::code_trace::TraceSpec;
///
/// let spec = TraceSpec::parse("myapp::db[query]{table=users}=debug").unwrap();
/// assert_eq!(spec.to_string(), "myapp::db[query]{table=users}=debug");
///
/// let err = TraceSpec::parse("myapp::db=verbose").unwrap_err();
/// assert_eq!(err.at(), 10);
/// assert!(err.to_string().contains("unknown level `verbose`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSpec {
    directives: Vec<Directive>,
}

/// One directive of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) target: Option<String>,
    pub(crate) span: Option<String>,
    pub(crate) fields: Vec<FieldMatch>,
    pub(crate) level: LevelFilter,
}

/// A `{name}` or `{name=value}` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldMatch {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

/// A spec that does not parse: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    at: usize,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Empty,
    TooLong,
    TooManyDirectives,
    TooManyFields,
    EmptyDirective,
    UnknownLevel(String),
    Off,
    Unexpected(char, &'static str),
    EndedEarly(&'static str),
    EmptyName(&'static str),
}

impl SpecError {
    /// The byte offset in the spec where the problem is.
    pub fn at(&self) -> usize {
        self.at
    }

    /// A short, stable name for the kind of problem, for clients:
    /// `empty`, `too_long`, `too_many_directives`, `too_many_fields`,
    /// `empty_directive`, `unknown_level`, `level_off`, `unexpected`,
    /// `ended_early` or `empty_name`.
    pub fn kind(&self) -> &'static str {
        match self.problem {
            Problem::Empty => "empty",
            Problem::TooLong => "too_long",
            Problem::TooManyDirectives => "too_many_directives",
            Problem::TooManyFields => "too_many_fields",
            Problem::EmptyDirective => "empty_directive",
            Problem::UnknownLevel(_) => "unknown_level",
            Problem::Off => "level_off",
            Problem::Unexpected(..) => "unexpected",
            Problem::EndedEarly(_) => "ended_early",
            Problem::EmptyName(_) => "empty_name",
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: ", self.at)?;
        match &self.problem {
            Problem::Empty => f.write_str("the spec is empty"),
            Problem::TooLong => write!(f, "the spec is longer than {MAX_SPEC_LEN} bytes"),
            Problem::TooManyDirectives => {
                write!(f, "more than {MAX_DIRECTIVES} directives")
            }
            Problem::TooManyFields => write!(f, "more than {MAX_FIELDS} fields in a directive"),
            Problem::EmptyDirective => f.write_str("an empty directive (two commas in a row?)"),
            Problem::UnknownLevel(l) => write!(
                f,
                "unknown level `{l}` (expected trace, debug, info, warn or error)"
            ),
            Problem::Off => f.write_str("level `off` traces nothing"),
            Problem::Unexpected(c, expected) => write!(f, "unexpected `{c}`, expected {expected}"),
            Problem::EndedEarly(expected) => write!(f, "the spec ends where {expected} should be"),
            Problem::EmptyName(what) => write!(f, "an empty {what}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl TraceSpec {
    /// Parses a spec; see [`TraceSpec`] for its syntax.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] naming the first problem and its byte offset.
    pub fn parse(text: &str) -> Result<TraceSpec, SpecError> {
        if text.len() > MAX_SPEC_LEN {
            return Err(SpecError {
                at: MAX_SPEC_LEN,
                problem: Problem::TooLong,
            });
        }
        if text.trim().is_empty() {
            return Err(SpecError {
                at: 0,
                problem: Problem::Empty,
            });
        }
        let mut p = Parser { text, pos: 0 };
        let mut directives = Vec::new();
        loop {
            if directives.len() == MAX_DIRECTIVES {
                return Err(p.error(Problem::TooManyDirectives));
            }
            directives.push(p.directive()?);
            match p.peek() {
                None => break,
                Some(',') => p.pos += 1,
                Some(c) => return Err(p.error(Problem::Unexpected(c, "`,` or the end"))),
            }
        }
        Ok(TraceSpec { directives })
    }

    pub(crate) fn directives(&self) -> &[Directive] {
        &self.directives
    }

    /// The most verbose level any directive asks for.
    pub(crate) fn max_level(&self) -> LevelFilter {
        self.directives
            .iter()
            .map(|d| d.level)
            .max()
            .unwrap_or(LevelFilter::OFF)
    }
}

impl fmt::Display for TraceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.directives.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.target {
            f.write_str(t)?;
        }
        if let Some(s) = &self.span {
            write!(f, "[{s}]")?;
        }
        if !self.fields.is_empty() {
            f.write_str("{")?;
            for (i, field) in self.fields.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(&field.name)?;
                if let Some(v) = &field.value {
                    write!(f, "={v}")?;
                }
            }
            f.write_str("}")?;
        }
        write!(f, "={}", level_name(self.level))
    }
}

fn level_name(level: LevelFilter) -> &'static str {
    match level.into_level() {
        Some(Level::ERROR) => "error",
        Some(Level::WARN) => "warn",
        Some(Level::INFO) => "info",
        Some(Level::DEBUG) => "debug",
        _ => "trace",
    }
}

impl Directive {
    /// Whether an event of this callsite can match: target, level and field
    /// names, what the metadata alone tells.
    pub(crate) fn matches_callsite(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= self.level
            && self
                .target
                .as_deref()
                .is_none_or(|t| within(meta.target(), t))
            && self
                .fields
                .iter()
                .all(|f| meta.fields().field(f.name.as_str()).is_some())
    }

    /// True if nothing but the callsite decides (no span, no field value):
    /// the callsite's interest can be `always`.
    pub(crate) fn callsite_decides(&self) -> bool {
        self.span.is_none() && self.fields.iter().all(|f| f.value.is_none())
    }
}

/// `target` is `module` or a module below it.
fn within(target: &str, module: &str) -> bool {
    target
        .strip_prefix(module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.')
}

fn value_char(c: char) -> bool {
    !matches!(c, ',' | '}' | '"' | '\'') && !c.is_control()
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn error(&self, problem: Problem) -> SpecError {
        SpecError {
            at: self.pos,
            problem,
        }
    }

    /// Takes the longest run of chars satisfying `ok`.
    fn take(&mut self, ok: fn(char) -> bool) -> &str {
        let start = self.pos;
        let len = self.text[start..]
            .find(|c: char| !ok(c))
            .unwrap_or(self.text.len() - start);
        self.pos += len;
        &self.text[start..self.pos]
    }

    fn expect(&mut self, want: char, what: &'static str) -> Result<(), SpecError> {
        match self.peek() {
            Some(c) if c == want => {
                self.pos += c.len_utf8();
                Ok(())
            }
            Some(c) => Err(self.error(Problem::Unexpected(c, what))),
            None => Err(self.error(Problem::EndedEarly(what))),
        }
    }

    fn directive(&mut self) -> Result<Directive, SpecError> {
        let start = self.pos;
        let target = self.take(name_char).to_owned();
        // A bare level is every target at that level, as in EnvFilter.
        if matches!(self.peek(), None | Some(',')) {
            if target.is_empty() {
                return Err(match self.peek() {
                    None => self.error(Problem::EndedEarly("a directive")),
                    Some(_) => self.error(Problem::EmptyDirective),
                });
            }
            if let Some(level) = parse_level(&target) {
                return Ok(Directive {
                    target: None,
                    span: None,
                    fields: Vec::new(),
                    level: self.check_level(level, start)?,
                });
            }
        }
        let mut d = Directive {
            target: (!target.is_empty()).then_some(target),
            span: None,
            fields: Vec::new(),
            level: LevelFilter::TRACE,
        };
        if self.peek() == Some('[') {
            self.pos += 1;
            let name = self.take(name_char).to_owned();
            if name.is_empty() {
                return match self.peek() {
                    Some(']') => Err(self.error(Problem::EmptyName("span name"))),
                    Some(c) => Err(self.error(Problem::Unexpected(c, "a span name"))),
                    None => Err(self.error(Problem::EndedEarly("a span name"))),
                };
            }
            self.expect(']', "`]`")?;
            d.span = Some(name);
        }
        if self.peek() == Some('{') {
            self.pos += 1;
            loop {
                if d.fields.len() == MAX_FIELDS {
                    return Err(self.error(Problem::TooManyFields));
                }
                let name = self.take(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'));
                if name.is_empty() {
                    return match self.peek() {
                        Some('}' | ',' | '=') => Err(self.error(Problem::EmptyName("field name"))),
                        Some(c) => Err(self.error(Problem::Unexpected(c, "a field name"))),
                        None => Err(self.error(Problem::EndedEarly("a field name"))),
                    };
                }
                let name = name.to_owned();
                let value = if self.peek() == Some('=') {
                    self.pos += 1;
                    Some(self.take(value_char).to_owned())
                } else {
                    None
                };
                d.fields.push(FieldMatch { name, value });
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some('}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => return Err(self.error(Problem::Unexpected(c, "`,` or `}`"))),
                    None => return Err(self.error(Problem::EndedEarly("`}`"))),
                }
            }
        }
        if self.peek() == Some('=') {
            self.pos += 1;
            let at = self.pos;
            let word = self.take(|c| c.is_ascii_alphabetic());
            if word.is_empty() {
                return match self.peek() {
                    Some(c) => Err(self.error(Problem::Unexpected(c, "a level"))),
                    None => Err(self.error(Problem::EndedEarly("a level"))),
                };
            }
            let level = parse_level(word).ok_or_else(|| SpecError {
                at,
                problem: Problem::UnknownLevel(word.to_owned()),
            })?;
            d.level = self.check_level(level, at)?;
        }
        if d.target.is_none() && d.span.is_none() && d.fields.is_empty() && self.pos == start {
            return Err(match self.peek() {
                Some(',') => self.error(Problem::EmptyDirective),
                Some(c) => self.error(Problem::Unexpected(c, "a target, `[`, `{` or `=`")),
                None => self.error(Problem::EndedEarly("a directive")),
            });
        }
        Ok(d)
    }

    fn check_level(&self, level: LevelFilter, at: usize) -> Result<LevelFilter, SpecError> {
        if level == LevelFilter::OFF {
            return Err(SpecError {
                at,
                problem: Problem::Off,
            });
        }
        Ok(level)
    }
}

fn parse_level(word: &str) -> Option<LevelFilter> {
    Some(match word.to_ascii_lowercase().as_str() {
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        "off" => LevelFilter::OFF,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Directive {
        let spec = TraceSpec::parse(text).unwrap();
        assert_eq!(spec.directives.len(), 1, "{text}");
        spec.directives[0].clone()
    }

    #[test]
    fn the_parts_of_a_directive() {
        let d = one("myapp::db[query]{table=users,slow}=debug");
        assert_eq!(d.target.as_deref(), Some("myapp::db"));
        assert_eq!(d.span.as_deref(), Some("query"));
        assert_eq!(
            d.fields,
            vec![
                FieldMatch {
                    name: "table".into(),
                    value: Some("users".into())
                },
                FieldMatch {
                    name: "slow".into(),
                    value: None
                },
            ]
        );
        assert_eq!(d.level, LevelFilter::DEBUG);
        assert!(!d.callsite_decides());

        let d = one("myapp");
        assert_eq!(
            (d.target.as_deref(), d.level),
            (Some("myapp"), LevelFilter::TRACE)
        );
        assert!(d.callsite_decides());
        assert_eq!(one("WARN").target, None);
        assert_eq!(one("WARN").level, LevelFilter::WARN);
        assert_eq!(one("[req]").span.as_deref(), Some("req"));
        assert_eq!(one("=info").level, LevelFilter::INFO);
        let spec = TraceSpec::parse("a=info,b[s]=trace").unwrap();
        assert_eq!(spec.max_level(), LevelFilter::TRACE);
        assert_eq!(spec.to_string(), "a=info,b[s]=trace");
    }

    #[test]
    fn errors_name_the_byte_and_the_problem() {
        let err = |text: &str| TraceSpec::parse(text).unwrap_err();
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty"),
            ("  ", 0, "empty"),
            ("a=verbose", 2, "unknown_level"),
            ("a=off", 2, "level_off"),
            ("off", 0, "level_off"),
            ("a,,b", 2, "empty_directive"),
            ("a,", 2, "ended_early"),
            ("a[", 2, "ended_early"),
            ("a[]", 2, "empty_name"),
            ("a[s", 3, "ended_early"),
            ("a[s}", 3, "unexpected"),
            ("a{", 2, "ended_early"),
            ("a{}", 2, "empty_name"),
            ("a{x=1", 5, "ended_early"),
            ("a{x=\"1\"}", 4, "unexpected"),
            ("a=", 2, "ended_early"),
            ("a=debug!", 7, "unexpected"),
            ("a b", 1, "unexpected"),
            ("a=1", 2, "unexpected"),
        ];
        for &(text, at, kind) in cases {
            let e = err(text);
            assert_eq!((e.at(), e.kind()), (at, kind), "{text:?}: {e}");
        }
        assert_eq!(err(&"a".repeat(MAX_SPEC_LEN + 1)).kind(), "too_long");
        let many = vec!["a"; MAX_DIRECTIVES + 1].join(",");
        assert_eq!(err(&many).kind(), "too_many_directives");
        assert!(TraceSpec::parse(&vec!["a"; MAX_DIRECTIVES].join(",")).is_ok());
        let fields = (0..=MAX_FIELDS)
            .map(|i| format!("f{i}"))
            .collect::<Vec<_>>();
        assert_eq!(
            err(&format!("a{{{}}}", fields.join(","))).kind(),
            "too_many_fields"
        );
        assert_eq!(
            err("a=verbose").to_string(),
            "at byte 2: unknown level `verbose` (expected trace, debug, info, warn or error)"
        );
    }

    #[test]
    fn targets_match_whole_modules() {
        assert!(within("myapp::db", "myapp::db"));
        assert!(within("myapp::db::pool", "myapp::db"));
        assert!(!within("myapp::dbx", "myapp::db"));
        assert!(!within("myapp", "myapp::db"));
    }

    #[test]
    fn any_input_parses_or_errors_without_panicking() {
        // Every prefix of a few tricky specs, byte by byte where they are
        // char boundaries: an error is fine, a panic is not.
        for text in [
            "a::b[s]{f=v,g}=debug,info",
            "é[ü]{ß=∂}=warn",
            "[{=}],,=[",
            "x{a=}",
        ] {
            for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let _ = TraceSpec::parse(&text[..end]);
            }
        }
        // An empty value is a value: the field printed as nothing.
        assert_eq!(one("x{a=}").fields[0].value.as_deref(), Some(""));
    }
}
