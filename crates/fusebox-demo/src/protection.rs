//! The protected run's fuse and valve, written once, as the `fusebox.toml`
//! both the real run and the virtual one load: whatever the demo protects
//! with is the same in both, by construction.

use std::io;

use fusebox::duration::format;
use fusebox::{ConfigFile, FuseConfig};

use crate::run::DB;
use crate::scenario::Scenario;

/// The protected run's fuse and valve `db`, for a run of `s`.
pub(crate) fn config(s: &Scenario) -> io::Result<ConfigFile> {
    let text = format!(
        r#"
[fuses.{DB}]
strategy = {{ kind = "failure_rate", ratio = {ratio:?}, window = "{window}", min_calls = {min_calls}, slow_call = "{slow_call}" }}
heal = {{ steps = [{{ delay = "{heal}" }}, {{ probe = 1 }}, {{ probe = 1 }}, {{ probe = 1 }}] }}

[valves.{DB}]
concurrency = {concurrency}
queue = {queue}
max_wait = "{max_wait}"
"#,
        ratio = s.fuse_ratio,
        window = format(s.fuse_window),
        min_calls = s.fuse_min_calls,
        slow_call = format(s.slow_call),
        heal = format(s.heal_delay),
        concurrency = s.valve_concurrency,
        queue = s.valve_queue,
        max_wait = format(s.valve_max_wait),
    );
    ConfigFile::parse(&text).map_err(io::Error::other)
}

/// The protected run's fuse.
pub(crate) fn fuse(s: &Scenario) -> io::Result<FuseConfig> {
    Ok(config(s)?.fuses()[DB].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_valid_at_every_length() {
        for secs in [1, 3, 30, 300] {
            let s = Scenario::for_run(std::time::Duration::from_secs(secs));
            let cfg = config(&s).expect("parses");
            assert!(cfg.fuses().contains_key(DB) && cfg.valves().contains_key(DB));
        }
    }
}
