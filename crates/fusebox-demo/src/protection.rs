//! The protected run's fuse and valve, written once, as the `fusebox.toml`
//! both the real run and the virtual one load: whatever the demo protects
//! with is the same in both, by construction.

use std::io;

use fusebox::duration::format;
use fusebox::{ConfigFile, FuseConfig};

use crate::scenario::Scenario;

/// The fuse and valve guarding the database in the protected run.
pub(crate) const DB: &str = "db";

/// The protected run's fuse and valve `db`, for a run of `s`.
///
/// The fuse throttles (SRE book, "Handling Overload"): it admits in
/// proportion to what the database accepts, `K` times its successes over a
/// short window, refusing the rest at once, and never refusing more than
/// `max_reject` of the requests, so the database's recovery is seen within
/// a window or two. It never blows by itself (no `blow_at`), so its heal is
/// only what an operator's `reset` would start. The valve keeps no more
/// queries at the database than its pool has connections, with a short
/// waiting room: a slot frees within a healthy query's time, or not soon.
pub(crate) fn config(s: &Scenario) -> io::Result<ConfigFile> {
    let text = format!(
        r#"
[fuses.{DB}]
strategy = {{ kind = "throttle", k = {k:?}, window = "{window}", max_reject = {cap:?} }}
heal = {{ steps = [{{ delay = "1s" }}, {{ probe = 1 }}] }}

[valves.{DB}]
concurrency = {concurrency}
queue = {queue}
max_wait = "{max_wait}"
"#,
        k = s.throttle_k,
        window = format(s.throttle_window),
        cap = s.throttle_max_reject,
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
