//! Which rules a model test reached. Every rule has a property, and a
//! property whose rule no generated case reaches proves nothing: each model
//! test counts the rules its cases reach and fails if one never was.
#![allow(unreachable_pub, dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

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

/// Counts one case's `tags` as reached.
pub fn tally(reached: &Mutex<BTreeMap<&'static str, u64>>, tags: Vec<&'static str>) {
    let mut reached = reached.lock().unwrap();
    for t in tags {
        *reached.entry(t).or_default() += 1;
    }
}

/// The number of cases a model test runs: the environment variable `var`
/// if it holds a number, else `default`.
pub fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `run_case` on generated cases under `config` (the case is given
/// the config too: a state machine's `test_sequential` wants it),
/// panicking with the runner's report on a failure, then [`check`]s that
/// every `required` rule was reached.
pub fn run_with<S>(
    config: Config,
    strategy: &S,
    run_case: impl Fn(&Config, S::Value) -> Result<(), TestCaseError>,
    reached: &Mutex<BTreeMap<&'static str, u64>>,
    required: &[&str],
) where
    S: Strategy,
    S::Value: Debug,
{
    let cases = config.cases;
    let mut runner = TestRunner::new(config.clone());
    if let Err(e) = runner.run(strategy, |v| run_case(&config, v)) {
        panic!("{e}\n{runner}");
    }
    check(cases, reached, required);
}

/// [`run_with`] on `cases` cases, no failure persistence.
pub fn run_model<S>(
    cases: u32,
    strategy: &S,
    run_case: impl Fn(S::Value) -> Result<(), TestCaseError>,
    reached: &Mutex<BTreeMap<&'static str, u64>>,
    required: &[&str],
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    run_with(config, strategy, |_, v| run_case(v), reached, required);
}
