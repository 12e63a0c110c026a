//! `fusebox check CONFIG`: validate a TOML config file offline, as
//! `Fusebox::load_config` would, and report every error as a compiler does,
//! `path:line:column: field: message`.

use std::path::Path;
use std::process::ExitCode;

use fusebox::ConfigFile;

use crate::Failure;

pub(crate) fn run(path: &Path) -> Result<ExitCode, Failure> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure(format!("cannot read {shown}: {e}")))?;
    match ConfigFile::check(&text) {
        Ok(file) => {
            let (fuses, valves) = (file.fuses().len(), file.valves().len());
            println!(
                "{shown}: ok: {fuses} {}, {valves} {}",
                plural(fuses, "fuse", "fuses"),
                plural(valves, "valve", "valves")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{}", e.clone().in_file(shown.as_str()));
            }
            eprintln!(
                "{shown}: {} {}",
                errors.len(),
                plural(errors.len(), "error", "errors")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}
