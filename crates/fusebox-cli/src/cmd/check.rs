//! `fusebox check CONFIG`: validate a TOML config file offline, as
//! `Fusebox::load_config` would, and report every error as a compiler does,
//! `path:line:column: field: message`.
//!
//! The file is read up to `--max-size` (64 MiB by default) and no further,
//! whatever it is (`/dev/zero` included): its size is not asked, the reading
//! stops at the byte past the limit. The check itself runs in time linear
//! in the file's size (`fusebox-bench --config-check` measures it). Memory
//! is another matter: the TOML parser's tree takes many times the text
//! (about 60 times, measured with toml 1.2 on a file of 100,000 entries), so
//! the limit is also what keeps a wrong path from exhausting memory.

use std::path::Path;
use std::process::ExitCode;

use fusebox::ConfigFile;

use crate::limit::{read_to_limit, ByteSize};
use crate::Failure;

pub(crate) fn run(path: &Path, max_size: ByteSize) -> Result<ExitCode, Failure> {
    let shown = path.display().to_string();
    let cannot = |e: &dyn std::fmt::Display| Failure(format!("cannot read {shown}: {e}"));
    let bytes = std::fs::File::open(path)
        .and_then(|file| read_to_limit(file, max_size.bytes()))
        .map_err(|e| cannot(&e))?
        .map_err(|_| {
            Failure(format!(
                "{shown}: larger than {max_size}, the limit (raise it with --max-size)"
            ))
        })?;
    let text =
        String::from_utf8(bytes).map_err(|_| cannot(&"stream did not contain valid UTF-8"))?;
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
