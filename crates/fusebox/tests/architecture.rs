//! The rooms of every crate and the doors between them, checked.
//!
//! A breaker that depends on its regulator, or a clock that knows its timer,
//! is how a small library becomes one knot. This test reads the sources of
//! every crate of the workspace (`architecture/reader.rs`: the module tree,
//! every path the code names, resolved through re-exports to the file that
//! defines it; comments, literals and `#[cfg(test)]` code are not read), and
//! fails on:
//!
//! * any import cycle between files, in any crate: two files that name each
//!   other, or a longer loop (a module and its own submodules are one room
//!   and are not checked against each other);
//! * any cycle between the core's top-level modules;
//! * a forbidden edge: the fuse knows nothing above it (no valve, registry,
//!   event bus, config file or exporter), the clock knows nothing of ours,
//!   the event data knows no registry;
//! * a module of the core that names an item through the crate root's
//!   re-exports (the root is the users' door);
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

#[path = "architecture/reader.rs"]
mod reader;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reader::{cycles, Tree};

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

fn core() -> Tree {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    Tree::load("fusebox (src/lib.rs)", &here.join("src").join("lib.rs"))
}

/// The core's graph of top-level modules: module -> modules it names, with
/// where it does.
fn graph() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for door in core().doors() {
        let (Some(from), Some(to)) = (door.from.first(), door.to.first()) else {
            continue;
        };
        let entry = g.entry(from.clone()).or_default();
        if from != to {
            entry.entry(to.clone()).or_default().push(door.at);
        }
    }
    g
}

/// Every crate root of the workspace (`src/lib.rs`, `src/main.rs`,
/// `src/bin/*.rs` of each member), read. Outside the workspace (a packaged
/// copy of this crate), this crate's own.
fn workspace() -> Vec<Tree> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("..").join("..");
    let members: Vec<PathBuf> = std::fs::read_to_string(root.join("Cargo.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            let members = t.get("workspace")?.get("members")?.as_array()?.clone();
            Some(
                members
                    .iter()
                    .map(|m| {
                        let m = m.as_str().expect("a member is a path");
                        assert!(!m.contains('*'), "read globbed members too: {m}");
                        root.join(m)
                    })
                    .collect(),
            )
        })
        .unwrap_or_else(|| vec![here.to_path_buf()]);
    let mut trees = Vec::new();
    for member in members {
        let manifest: toml::Table = std::fs::read_to_string(member.join("Cargo.toml"))
            .expect("a member's manifest")
            .parse()
            .expect("a valid manifest");
        let package = manifest["package"]["name"].as_str().expect("a name");
        let src = member.join("src");
        let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| src.join(f))
            .filter(|p| p.is_file())
            .collect();
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            for bin in bins {
                let bin = bin.expect("an entry").path();
                if bin.extension().is_some_and(|e| e == "rs") {
                    roots.push(bin);
                }
            }
        }
        for r in roots {
            let name = format!("{package} ({})", r.strip_prefix(&member).unwrap().display());
            trees.push(Tree::load(&name, &r));
        }
    }
    trees
}

fn m(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A crate written in the test: (file under `src/`, text).
fn synthetic(files: &[(&str, &str)]) -> Tree {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(p, t)| (Path::new("src").join(p), (*t).to_owned()))
        .collect();
    Tree::from_files("synthetic", Path::new("src/lib.rs"), &|p| {
        files.get(p).map(|t| (p.display().to_string(), t.clone()))
    })
}

/// (from, to) of every door, as `a/b` paths.
fn pairs(tree: &Tree) -> BTreeSet<(String, String)> {
    tree.doors()
        .into_iter()
        .map(|d| (d.from.join("/"), d.to.join("/")))
        .collect()
}

#[test]
fn the_reader_resolves_paths_as_rustc_does() {
    let tree = synthetic(&[
        (
            "lib.rs",
            "mod a; mod b; mod c; mod d;\npub use a::Alpha;\npub use c::{Gamma as G, deep::*};",
        ),
        (
            "a.rs",
            "//! Names crate::d::X only in a comment.\n             mod inner;\n             pub struct Alpha;\n             fn f() -> &'static str { let _c = '\"'; \"crate::d::X\" }\n             mod nested { fn g() { super::super::b::make(); } }\n             #[cfg(test)]\nmod tests { use crate::d::Y; }\n             #[cfg(test)]\nuse crate::d::Z;",
        ),
        ("a/inner.rs", "use super::Alpha; fn h<'a>(x: &'a u8) {}"),
        ("b.rs", "use crate::{a::{self}, c::deep::{self as dp}};\nfn make() {}"),
        ("c.rs", "pub mod deep; pub struct Gamma;"),
        ("c/deep.rs", "pub struct Deep;"),
        ("d.rs", "use std::fmt; use crate::G; fn e() { Vec::<u8>::new(); r#\"crate::b::X\"#; }"),
    ]);
    let want: BTreeSet<(String, String)> = [
        // The root's re-exports, a glob's too.
        ("", "a"),
        ("", "c"),
        ("", "c/deep"),
        // `super::super::b` from an inline module of a.rs.
        ("a", "b"),
        // Inner to its parent: a door, though the cycle check ignores it.
        ("a/inner", "a"),
        // A grouped import with `self`, and `self as` an alias.
        ("b", "a"),
        ("b", "c/deep"),
        // Through the root's re-export (with a rename) to the file defining it.
        ("d", "c"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(pairs(&tree), want);
    let root: Vec<String> = tree
        .doors()
        .into_iter()
        .filter(|d| d.through_root)
        .map(|d| d.at)
        .collect();
    assert_eq!(root, ["src/d.rs:1 crate::G"]);
}

#[test]
fn the_reader_finds_two_file_and_longer_cycles() {
    let tree = synthetic(&[
        ("lib.rs", "mod a; mod b; mod c; mod p;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        ("b.rs", "pub struct B; fn f() { crate::a::A; }"),
        ("c.rs", "pub struct C;"),
        // p/x -> p/y -> p/z -> (through p's re-export) p/x.
        ("p.rs", "mod x; mod y; mod z; pub use x::X; use z::Z;"),
        ("p/x.rs", "pub struct X; use super::y::Y;"),
        ("p/y.rs", "pub struct Y; use super::Z;"),
        ("p/z.rs", "pub struct Z; fn f() -> crate::p::X { todo!() }"),
    ]);
    let found: Vec<Vec<String>> = cycles(&tree.doors())
        .iter()
        .map(|c| c.iter().map(|d| d.at.clone()).collect())
        .collect();
    assert_eq!(
        found,
        [
            vec!["src/a.rs:1 crate::b::B", "src/b.rs:1 crate::a::A"],
            vec![
                "src/p/x.rs:1 super::y::Y",
                "src/p/y.rs:1 super::Z",
                "src/p/z.rs:1 crate::p::X",
            ],
        ]
    );
    // A parent and its children are one room: no cycle, though each names
    // the other.
    let tree = synthetic(&[
        ("lib.rs", "mod p;"),
        ("p.rs", "mod x; use x::X; pub struct P;"),
        ("p/x.rs", "pub struct X; use super::P;"),
    ]);
    assert!(cycles(&tree.doors()).is_empty());
}

#[test]
fn no_import_cycle_in_any_crate() {
    let trees = workspace();
    let mut read: BTreeSet<String> = BTreeSet::new();
    let mut found = Vec::new();
    for tree in &trees {
        read.insert(tree.name.clone());
        for cycle in cycles(&tree.doors()) {
            let doors: Vec<String> = cycle
                .iter()
                .map(|d| {
                    format!(
                        "{} -> {} ({})",
                        tree.shown(&d.from),
                        tree.shown(&d.to),
                        d.at
                    )
                })
                .collect();
            found.push(format!("{}:\n    {}", tree.name, doors.join("\n    ")));
        }
    }
    // The reader saw the crates and files it should have.
    for (tree, module) in [
        ("fusebox (src/lib.rs)", "fuse/engine"),
        ("fusebox-admin (src/lib.rs)", "routes"),
        ("fusebox-cli (src/main.rs)", "cmd/trace"),
    ] {
        let t = trees.iter().find(|t| t.name == tree);
        assert!(
            t.is_some_and(|t| t.modules.contains_key(&m(module))),
            "{tree} {module} not read; read {read:?}"
        );
    }
    assert!(
        found.is_empty(),
        "{} import cycles:\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

#[test]
fn the_core_reaches_no_item_through_its_root() {
    // The root's re-exports are the users' door; a module of the core names
    // an item by the module that defines it, so a fuse knows nothing of the
    // box that holds it.
    let through: Vec<String> = core()
        .doors()
        .into_iter()
        .filter(|d| d.through_root && !d.from.is_empty())
        .map(|d| d.at)
        .collect();
    assert!(through.is_empty(), "through the crate root: {through:?}");
}

#[test]
fn no_cycle_between_the_cores_modules() {
    let g = graph();
    assert!(
        g.contains_key("fuse") && g.contains_key("valve"),
        "read the sources: {g:?}"
    );
    let doors: Vec<reader::Door> = g
        .iter()
        .flat_map(|(from, tos)| {
            tos.iter().map(move |(to, at)| reader::Door {
                from: vec![from.clone()],
                to: vec![to.clone()],
                at: at.join(", "),
                through_root: false,
            })
        })
        .collect();
    let hops: Vec<String> = cycles(&doors)
        .iter()
        .flatten()
        .map(|d| format!("{} -> {} (in {})", d.from[0], d.to[0], d.at))
        .collect();
    assert!(hops.is_empty(), "import cycle: {}", hops.join("; "));
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
