//! A Prometheus rule file read into its alerts, for `tests/deploy.rs`.
//!
//! The workspace has no YAML parser, and one test does not justify adding
//! one; this reads the subset `deploy/prometheus/*.yml` is written in (a
//! `groups:` list of `rules:` lists of maps; plain, quoted and `|` / `>`
//! block scalars; `#` comment lines) and fails on any line it does not
//! understand, so a construct outside the subset is an error, not a rule
//! the checks never see. Whether the file is a valid rule file is
//! promtool's question (`promtool check rules`, run by the same test).

use std::collections::BTreeMap;

/// One alerting rule.
#[derive(Debug, Default)]
pub(crate) struct Alert {
    pub(crate) name: String,
    pub(crate) group: String,
    pub(crate) expr: String,
    pub(crate) r#for: Option<String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// The alerts of the file, in order; the error names the line.
pub(crate) fn alerts(text: &str) -> Result<Vec<Alert>, String> {
    let lines: Vec<(usize, usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.len() - l.trim_start().len(), l.trim()))
        .collect();
    let mut out: Vec<Alert> = Vec::new();
    let mut group = String::new();
    let mut i = 0;
    // Inside an alert: the indentation of its keys.
    let mut keys_at: Option<usize> = None;
    while i < lines.len() {
        let (n, indent, line) = lines[i];
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("- name:") {
            group = scalar(name).map_err(|e| format!("line {n}: {e}"))?;
            keys_at = None;
            continue;
        }
        if let Some(name) = line.strip_prefix("- alert:") {
            out.push(Alert {
                name: scalar(name).map_err(|e| format!("line {n}: {e}"))?,
                group: group.clone(),
                ..Alert::default()
            });
            keys_at = Some(indent + 2);
            continue;
        }
        if line.starts_with("- record:") {
            return Err(format!("line {n}: recording rules are not read here"));
        }
        if matches!(line, "groups:" | "rules:") {
            keys_at = None;
            continue;
        }
        let (Some(at), Some(alert)) = (keys_at, out.last_mut()) else {
            return Err(format!(
                "line {n}: not understood outside an alert: {line:?}"
            ));
        };
        if indent != at {
            return Err(format!("line {n}: unexpected indentation: {line:?}"));
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {n}: expected `key: value`: {line:?}"))?;
        match key {
            "expr" | "for" => {
                let value = value_at(&lines, &mut i, indent, value)
                    .map_err(|e| format!("line {n}: {e}"))?;
                if key == "expr" {
                    alert.expr = value;
                } else {
                    alert.r#for = Some(value);
                }
            }
            "labels" | "annotations" if value.trim().is_empty() => {
                let mut map = BTreeMap::new();
                while i < lines.len() && (lines[i].2.is_empty() || lines[i].1 > indent) {
                    let (m, inner, entry) = lines[i];
                    i += 1;
                    if entry.is_empty() || entry.starts_with('#') {
                        continue;
                    }
                    let (k, v) = entry
                        .split_once(':')
                        .ok_or_else(|| format!("line {m}: expected `key: value`: {entry:?}"))?;
                    let v =
                        value_at(&lines, &mut i, inner, v).map_err(|e| format!("line {m}: {e}"))?;
                    map.insert(k.trim().to_owned(), v);
                }
                if key == "labels" {
                    alert.labels = map;
                } else {
                    alert.annotations = map;
                }
            }
            _ => return Err(format!("line {n}: unknown key {key:?} of an alert")),
        }
    }
    Ok(out)
}

/// The value after `key:` on a line indented `indent`: inline, or a block
/// scalar on the lines below (which `i` is moved past).
fn value_at(
    lines: &[(usize, usize, &str)],
    i: &mut usize,
    indent: usize,
    inline: &str,
) -> Result<String, String> {
    let inline = inline.trim();
    let folded = match inline {
        "|" | "|-" => false,
        ">" | ">-" => true,
        _ => return scalar(inline),
    };
    let mut parts = Vec::new();
    while *i < lines.len() && (lines[*i].2.is_empty() || lines[*i].1 > indent) {
        parts.push(lines[*i].2);
        *i += 1;
    }
    while parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.is_empty() {
        return Err("an empty block".to_owned());
    }
    Ok(parts.join(if folded { " " } else { "\n" }))
}

/// A plain or double-quoted scalar.
fn scalar(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("an unterminated string: {text}"))?;
        return Ok(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    if text.starts_with('\'')
        || text.starts_with('[')
        || text.starts_with('{')
        || text.starts_with('&')
        || text.starts_with('*')
    {
        return Err(format!(
            "not read here (use a plain or double-quoted scalar): {text}"
        ));
    }
    Ok(text.to_owned())
}
