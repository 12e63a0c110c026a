//! `cargo run --release -p fusebox-bench [-- --smoke] [--filter ID] [--json PATH]`,
//! or `-- --config-check [--entries N] [--runs N] [--cli PATH]...`

use std::path::PathBuf;
use std::process::ExitCode;

use fusebox_bench::harness::Settings;

const USAGE: &str = "usage: fusebox-bench [--smoke] [--rounds N] [--filter ID] [--json PATH]
  --smoke      a few iterations of everything (seconds, figures meaningless)
  --rounds N   rounds per row (default 31)
  --filter ID  only rows whose id contains ID (ids: ask_ok run_ok ask_blown refusal
               melt_100 melt_100000 ask_by_name_10 ... valve_acquire valve_acquire_async
               valve_rate retry_ok keyed_ask_1000 keyed_ask_1000000 scaling)
  --json PATH  where to write the JSON (default target/fusebox-bench/report.json)
  --overload S instead: the overload benchmark, S seconds per regulator (10 for the report)
  --adaptive   instead: learned against fixed concurrency limits on the simulator's
               capacity-drop scenario (virtual time, a few seconds)
  --config-check  instead: time the check of a generated config file
    --entries N   fuses and valves in it (default 100000, about 20 MB; --smoke: 300)
    --runs N      timed runs of each (default 5)
    --cli PATH    also time `PATH check FILE` (repeatable; an old build gives the figure before)";

fn main() -> ExitCode {
    let mut settings = Settings::full();
    let mut filter = String::new();
    let mut json: Option<PathBuf> = None;
    let mut config_check = false;
    let mut check = fusebox_bench::config_check::Settings::full();
    let (mut entries, mut runs) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => {
                settings = Settings::smoke();
                check = fusebox_bench::config_check::Settings {
                    clis: check.clis,
                    ..fusebox_bench::config_check::Settings::smoke()
                };
            }
            "--config-check" => config_check = true,
            "--entries" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => entries = Some(n),
                _ => return usage("--entries needs a positive number"),
            },
            "--runs" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => runs = Some(n),
                _ => return usage("--runs needs a positive number"),
            },
            "--cli" => match args.next() {
                Some(p) => check.clis.push(p.into()),
                None => return usage("--cli needs the path of a fusebox binary"),
            },
            "--rounds" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => settings.rounds = n,
                _ => return usage("--rounds needs a positive number"),
            },
            "--filter" => match args.next() {
                Some(f) => filter = f,
                None => return usage("--filter needs an id"),
            },
            "--overload" => match args.next().and_then(|v| v.parse::<f64>().ok()) {
                Some(secs) if secs > 0.0 => {
                    let outcomes = fusebox_bench::overload::run(secs, true);
                    println!("{}", fusebox_bench::overload::table(&outcomes, secs));
                    return write_json(
                        &default_json_path().with_file_name("overload.json"),
                        &outcomes,
                    );
                }
                _ => return usage("--overload needs a positive number of seconds"),
            },
            "--adaptive" => {
                return match fusebox_bench::adaptive::run() {
                    Ok(outcomes) => {
                        println!("{}", fusebox_bench::adaptive::table(&outcomes));
                        write_json(
                            &default_json_path().with_file_name("adaptive.json"),
                            &outcomes,
                        )
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
            "--json" => match args.next() {
                Some(p) => json = Some(p.into()),
                None => return usage("--json needs a path"),
            },
            // `cargo bench` passes --bench; accept and ignore it.
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    if config_check {
        check.entries = entries.unwrap_or(check.entries);
        check.runs = runs.unwrap_or(check.runs);
        let outcome = fusebox_bench::config_check::run(&check, true);
        println!("{}", fusebox_bench::config_check::table(&outcome));
        let path = json.unwrap_or_else(|| default_json_path().with_file_name("config-check.json"));
        return write_json(&path, &outcome);
    }
    if entries.is_some() || runs.is_some() || !check.clis.is_empty() {
        return usage("--entries, --runs and --cli go with --config-check");
    }
    let report = fusebox_bench::run(&settings, &filter, true);
    println!("{}", report.table());
    write_json(&json.unwrap_or_else(default_json_path), &report)
}

/// Writes `value` as JSON to `path` (making its folder) and says where.
fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> ExitCode {
    let text = serde_json::to_string_pretty(value).expect("a report serializes");
    match path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, text))
    {
        Ok(()) => {
            println!("JSON: {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn default_json_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("fusebox-bench/report.json")
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}\n{USAGE}");
    ExitCode::from(2)
}
