//! Every lock of the core through `src/sync.rs`, and every wake through its
//! deferral: read from the sources, so a new lock or a new `wake()` that
//! bypasses the rule fails here rather than deadlocking a user.
//!
//! * `std::sync::{Mutex, RwLock, Condvar}` appear only in `sync.rs` (which
//!   swaps them for loom's) and in the one documented exception, the static
//!   pool of `stats/counters.rs`.
//! * No file but `sync/deferred.rs` wakes a `Waker` itself (`.wake()`,
//!   `.wake_by_ref()`): wakes go through `sync::wake`, which waits until the
//!   thread holds none of the crate's locks.
//! * No `.lock().unwrap…` on a raw mutex: a guard comes from `sync::lock`
//!   (which opens the deferral).
//!
//! Comments and doc comments are not code and are skipped; so are `#[cfg(test)]`
//! modules, whose tests may use plain locks of their own.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code lines of a file (comments dropped), up to its test module.
fn code(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let code = line.split(" //").next().unwrap_or(line);
        lines.push((i + 1, code.to_string()));
    }
    lines
}

fn rel(path: &Path, src: &Path) -> String {
    path.strip_prefix(src)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn locks_and_wakes_go_through_the_shim() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "read the sources: {}", files.len());
    let mut wrong = Vec::new();
    for f in &files {
        let name = rel(f, &src);
        for (n, line) in code(f) {
            let raw_lock = ["Mutex", "RwLock", "Condvar"].iter().any(|t| {
                line.contains(&format!("std::sync::{t}"))
                    || (line.contains("use std::sync::{") && line.contains(t))
            });
            if raw_lock && name != "sync.rs" && name != "stats/counters.rs" {
                wrong.push(format!("{name}:{n}: a lock not from crate::sync: {line}"));
            }
            if (line.contains(".wake()") || line.contains(".wake_by_ref()"))
                && name != "sync/deferred.rs"
            {
                wrong.push(format!("{name}:{n}: a wake not through sync::wake: {line}"));
            }
            if line.contains(".lock().unwrap") && name != "stats/counters.rs" && name != "sync.rs" {
                wrong.push(format!("{name}:{n}: a raw lock(): {line}"));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
