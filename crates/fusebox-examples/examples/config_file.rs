//! Fuses and valves from a TOML file (the `toml` feature): the repository's
//! `examples/fusebox.toml`, which declares one of every strategy, heal step
//! and valve discipline with comments, is parsed, checked and installed, and
//! every fuse and valve is listed. Then a broken file shows how errors are
//! reported: all of them at once, each with its line, column and field.
//!
//! ```sh
//! cargo run -p fusebox-examples --example config_file
//! ```

use fusebox::{ConfigFile, Fusebox};

/// The file, compiled in so the example runs from any directory. A service
/// would call `Fusebox::from_config_file("fusebox.toml")` or
/// `ConfigFile::read(path)`.
const FILE: &str = include_str!("../../../examples/fusebox.toml");

/// `pub(crate)`: `tests/examples.rs` runs this example too.
pub(crate) fn main() {
    let file = ConfigFile::parse(FILE).expect("examples/fusebox.toml is valid");
    let fb = Fusebox::new();
    fb.load_config(&file).expect("installs");

    println!("fuses:");
    for f in fb.fuses() {
        println!(
            "  {:<16} {:<8} strategy {:?}\n  {:<16} {:<8} heal {:?}",
            f.name,
            f.state.as_str(),
            f.config.strategy,
            "",
            "",
            f.config.heal.steps(),
        );
    }
    println!("valves:");
    for v in fb.valves() {
        println!(
            "  {:<16} concurrency {:<3} queue {:<4} {:?}{}",
            v.name,
            v.concurrency,
            v.queue,
            v.config.discipline,
            v.config
                .guard
                .as_deref()
                .map(|g| format!(", guarded by {g}"))
                .unwrap_or_default(),
        );
    }
    assert_eq!(fb.fuses().len(), file.fuses().len());
    assert_eq!(fb.valves().len(), file.valves().len());

    // A file with a mistake in each of three entries: `check` reports the
    // first of each, all at once, and nothing would be installed.
    let broken = r#"
[fuses.db]
strategy = { kind = "standard", max_melts = 5, window = "0s" }
heal = { steps = [{ delay = "30s" }] }

[valves.api]
concurrency = 8
guard = "dbb"

[valves.jobs]
queue_size = 64
"#;
    let errors = ConfigFile::check(broken).expect_err("three mistakes");
    println!("\nerrors in a broken file (`ConfigFile::read` names the file itself):");
    for e in &errors {
        println!("  fusebox.toml:{e}");
    }
    let fields: Vec<&str> = errors.iter().map(|e| e.field()).collect();
    assert_eq!(
        fields,
        [
            "fuses.db.strategy.window",
            "valves.api.guard",
            "valves.jobs.queue_size"
        ]
    );
}
