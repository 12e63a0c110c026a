//! What a PromQL expression uses, read the way Prometheus reads it, for the
//! checks of `tests/deploy.rs`: the metrics it selects, with their label
//! matchers, the labels it groups by, and whether each metric is under a
//! `rate`-like function.
//!
//! Not a PromQL parser: a tokenizer that knows strings, identifiers,
//! selectors (`name{label op "value", ...}`), grouping clauses (`by (...)`,
//! `on (...)`, ...) and parentheses, which is all that a name or label check
//! needs. What it cannot read (a selector with no metric name, an
//! unterminated string) is an error, not a silent pass.

/// A label matcher: `(label, op, value)`, `op` one of `=`, `!=`, `=~`, `!~`.
pub(crate) type Matcher = (String, String, String);

/// One selector: a metric and its matchers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector {
    pub(crate) metric: String,
    pub(crate) matchers: Vec<Matcher>,
    /// Inside `rate`, `irate` or `increase` (any depth).
    pub(crate) rated: bool,
}

/// Everything an expression uses.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Uses {
    pub(crate) selectors: Vec<Selector>,
    /// The labels of every `by`, `without`, `on`, `ignoring`,
    /// `group_left` and `group_right` list.
    pub(crate) grouping: Vec<String>,
    /// Whether a `by (...)` aggregation is present (its labels are then the
    /// result's labels).
    pub(crate) aggregated: bool,
}

const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const RATES: [&str; 3] = ["rate", "irate", "increase"];

/// Reads `expr`; the error says what it could not read.
pub(crate) fn uses(expr: &str) -> Result<Uses, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Uses::default();
    // One entry per open parenthesis: whether it opened a rate function.
    let mut parens: Vec<bool> = Vec::new();
    let mut last_ident: Option<String> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i)?;
            last_ident = None;
        } else if c == '(' {
            let rated = last_ident.as_deref().is_some_and(|f| RATES.contains(&f));
            parens.push(rated);
            last_ident = None;
            i += 1;
        } else if c == ')' {
            parens
                .pop()
                .ok_or_else(|| format!("unbalanced ')' in {expr:?}"))?;
            i += 1;
        } else if c == '{' {
            if !last_ident.take().is_some_and(|m| m.starts_with("fusebox_")) {
                return Err(format!(
                    "a selector with no fusebox metric name before it in {expr:?}"
                ));
            }
            let (matchers, next) = matchers(&chars, i, expr)?;
            out.selectors
                .last_mut()
                .expect("pushed with its name")
                .matchers = matchers;
            i = next;
        } else if c == '$' || c.is_ascii_digit() {
            // A Grafana variable ($job, $__rate_interval) or a number or
            // duration (0.5, 5m, 1e-3): skip the word.
            i += 1;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            last_ident = None;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            if GROUPING.contains(&ident.as_str()) {
                let j = skip_space(&chars, i);
                if chars.get(j) == Some(&'(') {
                    let close = chars[j..]
                        .iter()
                        .position(|&c| c == ')')
                        .ok_or_else(|| format!("unclosed {ident} ( in {expr:?}"))?;
                    let list: String = chars[j + 1..j + close].iter().collect();
                    out.grouping.extend(
                        list.split(',')
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned),
                    );
                    out.aggregated |= ident == "by";
                    i = j + close + 1;
                    last_ident = None;
                    continue;
                }
            }
            if ident.starts_with("fusebox_") {
                out.selectors.push(Selector {
                    metric: ident.clone(),
                    matchers: Vec::new(),
                    rated: parens.iter().any(|&r| r),
                });
            }
            last_ident = Some(ident);
        } else {
            last_ident = None;
            i += 1;
        }
    }
    if !parens.is_empty() {
        return Err(format!("unbalanced '(' in {expr:?}"));
    }
    Ok(out)
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// The index past the string starting at `i`.
fn skip_string(chars: &[char], i: usize) -> Result<usize, String> {
    let quote = chars[i];
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err("an unterminated string".to_owned())
}

/// The matchers of the selector whose `{` is at `open`, and the index past
/// its `}`.
fn matchers(chars: &[char], open: usize, expr: &str) -> Result<(Vec<Matcher>, usize), String> {
    let mut out = Vec::new();
    let mut i = open + 1;
    loop {
        i = skip_space(chars, i);
        match chars.get(i) {
            Some('}') => return Ok((out, i + 1)),
            Some(',') => {
                i += 1;
                continue;
            }
            None => return Err(format!("an unclosed selector in {expr:?}")),
            _ => {}
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            i += 1;
        }
        let label: String = chars[start..i].iter().collect();
        i = skip_space(chars, i);
        let op_start = i;
        while chars.get(i).is_some_and(|c| matches!(c, '=' | '!' | '~')) {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        i = skip_space(chars, i);
        if label.is_empty() || !["=", "!=", "=~", "!~"].contains(&op.as_str()) {
            return Err(format!("cannot read a matcher at {start} of {expr:?}"));
        }
        if !chars.get(i).is_some_and(|c| matches!(c, '"' | '\'' | '`')) {
            return Err(format!("a matcher's value is not a string in {expr:?}"));
        }
        let end = skip_string(chars, i)?;
        let value: String = chars[i + 1..end - 1].iter().collect();
        out.push((label, op, value.replace("\\\"", "\"")));
        i = end;
    }
}

/// Every identifier beginning `fusebox_` anywhere in `text` (comments,
/// annotations, legends): what a renamed metric would leave behind.
pub(crate) fn names_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while let Some(at) = text[i..].find("fusebox_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        if start == 0 || !word(bytes[start - 1]) {
            // A colon may be part of a (recorded) name, but not end one:
            // `fusebox_fuse_state: 0 ok` in a comment.
            out.push(text[start..end].trim_end_matches(':').to_owned());
        }
        i = end.max(start + 1);
    }
    out
}
