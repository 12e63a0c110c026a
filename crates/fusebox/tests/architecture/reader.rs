//! A crate's files and the doors between them, read the way a reviewer
//! follows them by eye.
//!
//! The architecture test needs to know which file names which: a cycle of
//! two files that each `use` the other is one concept cut in two, and the
//! compiler accepts it silently. Nothing in std or a small crate reads Rust
//! paths without pulling in a whole parser, and this reader needs far less:
//!
//! * the module tree, from the crate root (`lib.rs`, `main.rs`,
//!   `bin/*.rs`) through every `mod name;` to its file;
//! * the code of each file without comments, string and character literals
//!   (a path in a doc comment or a message is no import);
//! * every path the code names: `use` trees (groups, `self`, `as`, globs)
//!   and `a::b` paths in expressions and types;
//! * each path resolved as rustc would for the forms our code uses:
//!   `crate::`, `self::`, `super::` (counting inline modules such as
//!   `mod tests {}`), and a first segment naming a child module; then the
//!   item is followed through the imports of the module it landed in, so
//!   `crate::fuse::FuseCore`, which `fuse.rs` re-exports with
//!   `pub(crate) use engine::FuseCore`, is a door to `fuse/engine.rs`.
//!
//! Code behind `#[cfg(test)]` (a test module, a test-only import) is not
//! read: a test may reach anywhere. What the reader cannot see (a path
//! built by a macro, an item re-exported by a glob) it misses; it never
//! invents a door, since it only reports paths that land on a file of ours.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path from the crate root; the root itself is empty.
pub(crate) type ModPath = Vec<String>;

/// One token of code, with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
struct Tok {
    text: String,
    line: usize,
}

/// A path the code names.
#[derive(Debug, Clone)]
struct Named {
    /// The inline modules (`mod inner { .. }`) it sits in, outermost first.
    inline: Vec<String>,
    segs: Vec<String>,
    line: usize,
    /// Written in a `use` at the top level of the file (an import that
    /// others may follow), with the name it binds.
    binds: Option<String>,
}

/// One file of a crate.
#[derive(Debug)]
pub(crate) struct Module {
    /// Shown in messages: the file's path under the crate's directory.
    pub(crate) shown: String,
    names: Vec<Named>,
    /// Names this file binds with a top-level `use`, and the path behind each.
    imports: BTreeMap<String, Vec<String>>,
}

/// A resolved reference: `from` names something of `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Door {
    pub(crate) from: ModPath,
    pub(crate) to: ModPath,
    /// Where, as `file.rs:line path::as::written`.
    pub(crate) at: String,
    /// The path as written starts `crate::Item` with `Item` not a module:
    /// it goes through the crate root's re-exports.
    pub(crate) through_root: bool,
}

/// A crate's module tree: one per crate root.
#[derive(Debug)]
pub(crate) struct Tree {
    /// `package (src/lib.rs)`.
    pub(crate) name: String,
    pub(crate) modules: BTreeMap<ModPath, Module>,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident(s: &str) -> bool {
    s.chars().next().is_some_and(is_ident_start)
}

/// The tokens of `src`: identifiers, `::` and single punctuation; comments,
/// strings and character literals dropped (a string leaves a `"` token so no
/// path runs across it), numbers kept as one token.
fn tokens(src: &str) -> Vec<Tok> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let n = chars.len();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    // Skips a (possibly raw) string whose opening quote is at `i`, with
    // `hashes` `#` after the closing quote; returns the index after it.
    let skip_string = |mut i: usize, raw: bool, hashes: usize, line: &mut usize| -> usize {
        i += 1;
        while i < n {
            match chars[i] {
                '\n' => *line += 1,
                '\\' if !raw => {
                    if at(i + 1) == '\n' {
                        *line += 1;
                    }
                    i += 1;
                }
                '"' if (1..=hashes).all(|k| at(i + k) == '#') => return i + 1 + hashes,
                _ => {}
            }
            i += 1;
        }
        n
    };
    while i < n {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            // Block comments nest in Rust.
            let mut depth = 0usize;
            while i < n {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push(Tok {
                text: "\"".into(),
                line,
            });
            i = skip_string(i, false, 0, &mut line);
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                // An escaped character: '\n', '\'', '\u{1F600}'.
                i += 2;
                while i < n && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                // A lifetime or a label.
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < n && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // String prefixes: b"..", r"..", r#".."#, br"..", c"..", cr"..".
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                out.push(Tok {
                    text: "\"".into(),
                    line,
                });
                i = skip_string(i, false, 0, &mut line);
                continue;
            }
            if raw {
                let mut j = i;
                while at(j) == '#' {
                    j += 1;
                }
                if at(j) == '"' {
                    out.push(Tok {
                        text: "\"".into(),
                        line,
                    });
                    i = skip_string(j, true, j - i, &mut line);
                    continue;
                }
            }
            out.push(Tok { text: word, line });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < n && (is_ident(chars[i]) || (chars[i] == '.' && at(i + 1).is_ascii_digit())) {
                i += 1;
            }
            out.push(Tok {
                text: chars[start..i].iter().collect(),
                line,
            });
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Tok {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Tok {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

fn is(toks: &[Tok], i: usize, text: &str) -> bool {
    toks.get(i).is_some_and(|t| t.text == text)
}

/// The index after the bracket closing the one at `i`.
fn skip_group(toks: &[Tok], i: usize) -> usize {
    let (open, close) = match toks[i].text.as_str() {
        "{" => ("{", "}"),
        "[" => ("[", "]"),
        _ => ("(", ")"),
    };
    let mut depth = 0usize;
    let mut j = i;
    while j < toks.len() {
        if toks[j].text == open {
            depth += 1;
        } else if toks[j].text == close {
            depth -= 1;
            if depth == 0 {
                return j + 1;
            }
        }
        j += 1;
    }
    toks.len()
}

/// The index after the item starting at `i`: through its `;` or its first
/// braced body (`fn`, `impl`, `mod`), whichever comes first.
fn skip_item(toks: &[Tok], mut i: usize) -> usize {
    let is_use = (i..toks.len())
        .take_while(|&j| !is(toks, j, ";") && !is(toks, j, "{"))
        .any(|j| is(toks, j, "use"));
    while i < toks.len() {
        match toks[i].text.as_str() {
            ";" => return i + 1,
            "{" if !is_use => return skip_group(toks, i),
            "(" | "[" | "{" => i = skip_group(toks, i),
            _ => i += 1,
        }
    }
    i
}

/// A file's code, read once: the paths it names and the `mod name;` it
/// declares.
#[derive(Debug, Default)]
struct Read {
    names: Vec<Named>,
    mods: Vec<String>,
}

fn read(toks: &[Tok]) -> Read {
    let mut out = Read::default();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].text.as_str();
        if t == "#" && is(toks, i + 1, "[") {
            let end = skip_group(toks, i + 1);
            let test_only = end == i + 7
                && ["cfg", "(", "test", ")"]
                    .iter()
                    .enumerate()
                    .all(|(k, w)| is(toks, i + 2 + k, w));
            if test_only {
                // The attribute and the item it gates: skip further
                // attributes, then the item.
                let mut j = end;
                while is(toks, j, "#") && is(toks, j + 1, "[") {
                    j = skip_group(toks, j + 1);
                }
                i = skip_item(toks, j);
            } else {
                i = end;
            }
            continue;
        }
        match t {
            "mod" if toks.get(i + 1).is_some_and(|n| ident(&n.text)) => {
                let name = toks[i + 1].text.clone();
                if is(toks, i + 2, "{") {
                    inline.push((name, depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
                if is(toks, i + 2, ";") && depth == 0 {
                    out.mods.push(name);
                }
                i += 2;
            }
            "{" => {
                depth += 1;
                i += 1;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                i += 1;
            }
            "use" => {
                let mut j = i + 1;
                if is(toks, j, "::") {
                    j += 1;
                }
                let here: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
                let top = depth == 0;
                i = use_tree(toks, j, Vec::new(), &here, top, &mut out.names);
            }
            _ if ident(t)
                && is(toks, i + 1, "::")
                && !(i > 0 && is(toks, i - 1, "::"))
                && t != "use" =>
            {
                let line = toks[i].line;
                let mut segs = vec![t.to_owned()];
                let mut j = i + 1;
                while is(toks, j, "::") && toks.get(j + 1).is_some_and(|n| ident(&n.text)) {
                    segs.push(toks[j + 1].text.clone());
                    j += 2;
                }
                out.names.push(Named {
                    inline: inline.iter().map(|(n, _)| n.clone()).collect(),
                    segs,
                    line,
                    binds: None,
                });
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Reads one use tree at `i` under `prefix`; returns the index after it.
fn use_tree(
    toks: &[Tok],
    mut i: usize,
    prefix: Vec<String>,
    inline: &[String],
    top: bool,
    out: &mut Vec<Named>,
) -> usize {
    let mut segs = prefix;
    let line = toks.get(i).map_or(0, |t| t.line);
    let mut emit = |segs: Vec<String>, alias: Option<String>| {
        let (segs, last) = match segs.split_last() {
            Some((l, rest)) if l == "self" => (rest.to_vec(), rest.last().cloned()),
            Some((l, _)) if l == "*" => (segs.clone(), None),
            Some((l, _)) => (segs.clone(), Some(l.clone())),
            None => return,
        };
        let binds = if top && inline.is_empty() {
            alias.or(last).filter(|b| b != "_")
        } else {
            None
        };
        out.push(Named {
            inline: inline.to_vec(),
            segs,
            line,
            binds,
        });
    };
    while i < toks.len() {
        let t = toks[i].text.as_str();
        if ident(t) {
            segs.push(t.to_owned());
            i += 1;
            if is(toks, i, "::") {
                i += 1;
                continue;
            }
            if is(toks, i, "as") && toks.get(i + 1).is_some_and(|n| ident(&n.text)) {
                emit(segs, Some(toks[i + 1].text.clone()));
                return i + 2;
            }
            emit(segs, None);
            return i;
        } else if t == "{" {
            i += 1;
            while i < toks.len() && !is(toks, i, "}") {
                if is(toks, i, ",") {
                    i += 1;
                    continue;
                }
                let before = i;
                i = use_tree(toks, i, segs.clone(), inline, top, out);
                if i == before {
                    i += 1;
                }
            }
            return i + 1;
        } else if t == "*" {
            segs.push("*".into());
            emit(segs, None);
            return i + 1;
        } else {
            return i;
        }
    }
    i
}

impl Tree {
    /// The module tree under `root` (a crate root file), read from disk.
    pub(crate) fn load(name: &str, root: &Path) -> Tree {
        let base = root.parent().expect("a crate root has a directory");
        let shown = |p: &Path| {
            p.strip_prefix(base.parent().unwrap_or(base))
                .unwrap_or(p)
                .display()
                .to_string()
        };
        Tree::from_files(name, root, &|p| {
            std::fs::read_to_string(p).ok().map(|t| (shown(p), t))
        })
    }

    /// The module tree under `root`, each file read through `file`
    /// (its shown name and its text, `None` if it does not exist).
    pub(crate) fn from_files(
        name: &str,
        root: &Path,
        file: &dyn Fn(&Path) -> Option<(String, String)>,
    ) -> Tree {
        let mut modules = BTreeMap::new();
        // (module path, file, directory of its children)
        let mut todo: Vec<(ModPath, PathBuf, PathBuf)> = vec![(
            Vec::new(),
            root.to_path_buf(),
            root.parent().expect("a crate root has a directory").into(),
        )];
        while let Some((path, at, children)) = todo.pop() {
            let (shown, text) =
                file(&at).unwrap_or_else(|| panic!("{name}: {} not found", at.display()));
            let read = read(&tokens(&text));
            for m in &read.mods {
                let flat = children.join(format!("{m}.rs"));
                let nested = children.join(m).join("mod.rs");
                let (found, dir) = if file(&flat).is_some() {
                    (flat, children.join(m))
                } else if file(&nested).is_some() {
                    (nested, children.join(m))
                } else {
                    panic!("{name}: `mod {m};` in {shown} has no file");
                };
                let mut child = path.clone();
                child.push(m.clone());
                todo.push((child, found, dir));
            }
            let imports = read
                .names
                .iter()
                .filter_map(|n| n.binds.clone().map(|b| (b, n.segs.clone())))
                .collect();
            modules.insert(
                path,
                Module {
                    shown,
                    names: read.names,
                    imports,
                },
            );
        }
        Tree {
            name: name.to_owned(),
            modules,
        }
    }

    /// The file module holding `path` (itself, or the file an inline module
    /// is written in).
    fn file_of(&self, path: &[String]) -> ModPath {
        let mut p = path.to_vec();
        while !self.modules.contains_key(&p) {
            p.pop();
        }
        p
    }

    /// The module `segs`, named from `here`, lands in; `None` for a path
    /// that is not ours (another crate, a local, `Self`).
    fn resolve(&self, here: &[String], segs: &[String], hops: usize) -> Option<ModPath> {
        let first = segs.first()?;
        let (mut base, mut rest): (ModPath, &[String]) = match first.as_str() {
            "crate" => (Vec::new(), &segs[1..]),
            "self" | "super" => {
                let mut base = here.to_vec();
                let mut rest = segs;
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "super" => {
                            base.pop()?;
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                (base, rest)
            }
            _ => {
                let mut child = here.to_vec();
                child.push(first.clone());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                (here.to_vec(), segs)
            }
        };
        while let Some(s) = rest.first() {
            let mut child = base.clone();
            child.push(s.clone());
            if !self.modules.contains_key(&child) {
                break;
            }
            base = child;
            rest = &rest[1..];
        }
        let module = self.file_of(&base);
        if let Some(item) = rest.first() {
            if hops < 8 {
                if let Some(behind) = self.modules[&module].imports.get(item) {
                    let mut next = behind.clone();
                    next.extend(rest[1..].iter().cloned());
                    if let Some(to) = self.resolve(&module, &next, hops + 1) {
                        return Some(to);
                    }
                }
            }
        }
        Some(module)
    }

    /// Every path of ours the code names, resolved to the file it lands in
    /// (a file naming itself is left out).
    pub(crate) fn doors(&self) -> Vec<Door> {
        let mut out = BTreeSet::new();
        for (from, module) in &self.modules {
            for n in &module.names {
                let mut here = from.clone();
                here.extend(n.inline.iter().cloned());
                let Some(to) = self.resolve(&here, &n.segs, 0) else {
                    continue;
                };
                if &to == from {
                    continue;
                }
                let through_root = n.segs.len() >= 2
                    && n.segs[0] == "crate"
                    && !self.modules.contains_key(&vec![n.segs[1].clone()]);
                out.insert(Door {
                    from: from.clone(),
                    to,
                    at: format!("{}:{} {}", module.shown, n.line, n.segs.join("::")),
                    through_root,
                });
            }
        }
        out.into_iter().collect()
    }

    /// The shown file of a module.
    pub(crate) fn shown(&self, m: &[String]) -> &str {
        &self.modules[m].shown
    }
}

/// `a` is `b` or holds it.
pub(crate) fn holds(a: &[String], b: &[String]) -> bool {
    b.starts_with(a)
}

/// The strongly connected groups of more than one module in the graph of
/// `doors` between modules that do not hold one another (a module and its
/// submodules are one room; the parent declares and re-exports its
/// children, and they see its items), each with the doors inside it.
pub(crate) fn cycles(doors: &[Door]) -> Vec<Vec<Door>> {
    let doors: Vec<&Door> = doors
        .iter()
        .filter(|d| !holds(&d.from, &d.to) && !holds(&d.to, &d.from))
        .collect();
    let mut next: BTreeMap<&ModPath, BTreeSet<&ModPath>> = BTreeMap::new();
    for d in &doors {
        next.entry(&d.from).or_default().insert(&d.to);
        next.entry(&d.to).or_default();
    }
    // Tarjan's algorithm, iterative over an explicit stack.
    let nodes: Vec<&ModPath> = next.keys().copied().collect();
    let mut index: BTreeMap<&ModPath, usize> = BTreeMap::new();
    let mut low: BTreeMap<&ModPath, usize> = BTreeMap::new();
    let mut on: BTreeSet<&ModPath> = BTreeSet::new();
    let mut stack: Vec<&ModPath> = Vec::new();
    let mut groups: Vec<BTreeSet<&ModPath>> = Vec::new();
    for &start in &nodes {
        if index.contains_key(start) {
            continue;
        }
        let mut work: Vec<(&ModPath, Vec<&ModPath>)> = Vec::new();
        let k = index.len();
        index.insert(start, k);
        low.insert(start, k);
        stack.push(start);
        on.insert(start);
        work.push((start, next[start].iter().copied().collect()));
        while let Some((v, rest)) = work.last_mut() {
            let v = *v;
            if let Some(w) = rest.pop() {
                if !index.contains_key(w) {
                    let k = index.len();
                    index.insert(w, k);
                    low.insert(w, k);
                    stack.push(w);
                    on.insert(w);
                    work.push((w, next[w].iter().copied().collect()));
                } else if on.contains(w) {
                    let l = low[v].min(index[w]);
                    low.insert(v, l);
                }
            } else {
                work.pop();
                if let Some((u, _)) = work.last() {
                    let l = low[*u].min(low[v]);
                    low.insert(*u, l);
                }
                if low[v] == index[v] {
                    let mut group = BTreeSet::new();
                    while let Some(w) = stack.pop() {
                        on.remove(w);
                        group.insert(w);
                        if w == v {
                            break;
                        }
                    }
                    if group.len() > 1 {
                        groups.push(group);
                    }
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|g| {
            doors
                .iter()
                .filter(|d| g.contains(&d.from) && g.contains(&d.to))
                .map(|d| (*d).clone())
                .collect()
        })
        .collect()
}
