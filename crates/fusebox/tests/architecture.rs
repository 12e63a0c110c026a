//! The core's rooms and the doors between them, checked.
//!
//! A breaker that depends on its regulator, or a clock that knows its timer,
//! is how a small library becomes one knot. This test reads the core's
//! sources, builds the graph of its top-level modules from every `crate::`
//! path in code (doc comments and comments are not code), and fails on:
//!
//! * any cycle between top-level modules;
//! * a forbidden edge: the fuse knows nothing above it (no valve, registry,
//!   event bus, config file or exporter), the clock knows nothing of ours,
//!   the event data knows no registry;
//! * an HTTP or tower dependency in the core's manifest.
//!
//! The layering it enforces, lowest first:
//!
//! ```text
//! sync                             the lock shim: nothing
//! clock, rng, error, stats         leaves (clock -> sync)
//! timer                            -> clock
//! fuse                             -> clock, timer, sync, rng, stats, error
//! event                            -> fuse (plain data: states, causes, steps)
//! valve                            -> fuse (guards), event, timer, ...
//! retry                            -> fuse, valve (refusals), clock, rng
//! pipeline                         -> retry, fuse, valve, event (the bus), clock
//! registry, config_file, exporters -> everything below
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges that must never exist, whatever else changes: (from, to).
const FORBIDDEN: &[(&str, &str)] = &[
    ("fuse", "valve"),
    ("fuse", "registry"),
    ("fuse", "event"),
    ("fuse", "config_file"),
    ("fuse", "metrics_export"),
    ("fuse", "trace"),
    ("timer", "fuse"),
    ("timer", "valve"),
    ("timer", "registry"),
    ("event", "registry"),
    ("event", "valve"),
    ("valve", "registry"),
    ("event", "pipeline"),
    ("fuse", "pipeline"),
    ("valve", "pipeline"),
    ("pipeline", "registry"),
];

/// Modules that may depend on nothing of ours but `sync`, the lock shim
/// every lock goes through (itself a leaf of leaves: it depends on nothing).
const LEAVES: &[&str] = &["clock", "sync", "rng", "error"];

/// Crates the core must never depend on: HTTP and tower live in their own crates.
const FORBIDDEN_DEPS: &[&str] = &[
    "axum",
    "hyper",
    "http",
    "tower",
    "tower-layer",
    "tower-service",
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`fuse/engine.rs` -> `fuse`),
/// `None` for the crate root.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src_dir()).expect("under src");
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib").then_some(name)
}

/// The code of a file without comments (line comments, doc comments and
/// block comments); string literals are kept, which only over-reports.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let ch = rest.chars().next().expect("not empty");
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    out
}

/// Every top-level module named after `crate::` in `code`, including the
/// members of grouped imports (`use crate::{a::X, b}`).
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        // `fusebox::` in a doc example is not ours to judge; `crate::` preceded by
        // an identifier character (`$crate::`, `my_crate::`) is not this crate.
        if code[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            continue;
        }
        let after = &code[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find(';').unwrap_or(group.len());
            let mut depth = 0usize;
            let mut start = true;
            for (j, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => start = true,
                    _ if start && !c.is_whitespace() => {
                        start = false;
                        let name = ident(&group[j..]);
                        if !name.is_empty() {
                            refs.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                refs.insert(name);
            }
        }
    }
    refs
}

/// The module graph: module -> modules it names, with the files that do.
fn graph() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(file) else {
            continue;
        };
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        let entry = g.entry(from.clone()).or_default();
        for to in crate_refs(&code) {
            if to != from && modules.contains(&to) {
                let shown = file.strip_prefix(src_dir()).unwrap().display().to_string();
                entry.entry(to).or_default().push(shown);
            }
        }
    }
    g
}

/// A cycle in `g`, if there is one, as the list of modules around it.
fn find_cycle(g: &BTreeMap<String, BTreeMap<String, Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for next in g.get(n).into_iter().flat_map(|m| m.keys()) {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == next).expect("on stack");
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, g, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_reader_sees_imports_and_ignores_comments() {
    let code = code_of(
        "use crate::{fuse::{Ask, Fuse}, clock::Timebase};\n\
         /// [`Fusebox`](crate::registry::Fusebox)\n\
         // crate::valve in a comment\n\
         fn f() { crate::timer::Due { at: 0, now: 0 }; $crate::x; }\n",
    );
    let refs = crate_refs(&code);
    let want: BTreeSet<String> = ["fuse", "clock", "timer"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(refs, want);
}

#[test]
fn no_cycle_between_the_cores_modules() {
    let g = graph();
    assert!(
        g.contains_key("fuse") && g.contains_key("valve"),
        "read the sources: {g:?}"
    );
    if let Some(cycle) = find_cycle(&g) {
        let hops: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{} -> {} (in {})", w[0], w[1], g[&w[0]][&w[1]].join(", ")))
            .collect();
        panic!("import cycle: {}", hops.join("; "));
    }
}

#[test]
fn no_forbidden_import() {
    let g = graph();
    let mut found = Vec::new();
    for &(from, to) in FORBIDDEN {
        if let Some(files) = g.get(from).and_then(|m| m.get(to)) {
            found.push(format!("{from} -> {to} in {}", files.join(", ")));
        }
    }
    for leaf in LEAVES {
        for (to, files) in g.get(*leaf).into_iter().flatten() {
            if to == "sync" && *leaf != "sync" {
                continue;
            }
            found.push(format!("{leaf} (a leaf) -> {to} in {}", files.join(", ")));
        }
    }
    assert!(
        found.is_empty(),
        "forbidden imports:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_core_depends_on_no_http_or_tower_crate() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("manifest");
    let table: toml::Table = manifest.parse().expect("valid manifest");
    let mut deps: Vec<String> = Vec::new();
    let mut collect = |t: Option<&toml::Value>| {
        if let Some(t) = t.and_then(|v| v.as_table()) {
            deps.extend(t.keys().cloned());
        }
    };
    collect(table.get("dependencies"));
    if let Some(targets) = table.get("target").and_then(|t| t.as_table()) {
        for t in targets.values() {
            collect(t.get("dependencies"));
        }
    }
    let bad: Vec<&String> = deps
        .iter()
        .filter(|d| FORBIDDEN_DEPS.contains(&d.as_str()))
        .collect();
    assert!(bad.is_empty(), "the core must not depend on {bad:?}");
}
