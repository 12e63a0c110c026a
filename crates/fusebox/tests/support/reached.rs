//! Which rules a model test reached. Every rule has a property, and a
//! property whose rule no generated case reaches proves nothing: each model
//! test counts the rules its cases reach and fails if one never was.
#![allow(unreachable_pub, dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Prints how often each rule was reached in `cases` cases, then fails
/// naming the `required` rules that never were.
pub fn check(cases: u32, reached: &Mutex<BTreeMap<&'static str, u64>>, required: &[&str]) {
    let reached = reached.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("rules reached in {cases} cases:");
    let width = reached.keys().map(|k| k.len()).max().unwrap_or(0);
    for (tag, n) in reached.iter() {
        eprintln!("  {tag:width$} {n:>9}");
    }
    let missed: Vec<_> = required
        .iter()
        .filter(|r| !reached.contains_key(*r))
        .collect();
    assert!(missed.is_empty(), "rules never reached: {missed:?}");
}
