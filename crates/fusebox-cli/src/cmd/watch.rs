//! `fusebox watch`: the status table, refreshed every `--interval`, with
//! per-second rates from the counters' deltas, until Ctrl-C or `--count`.
//!
//! On a terminal each refresh clears the screen (ANSI `ESC[H ESC[2J`), as
//! `top` does; piped, the tables follow one another, separated by a blank
//! line, so the output can be logged.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cmd::{refresh, status};
use crate::{Failure, Remote};

pub(crate) async fn run(
    remote: &Remote,
    interval: Duration,
    count: Option<u64>,
) -> Result<ExitCode, Failure> {
    let client = remote.client()?;
    let terminal = std::io::stdout().is_terminal();
    let mut before: Option<(status::Status, Instant)> = None;
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown = 0u64;
    while count.is_none_or(|n| shown < n) {
        ticks.tick().await;
        let now = status::fetch(&client).await?;
        let at = Instant::now();
        let tables = status::render(&now, before.as_ref().map(|(s, t)| (s, at - *t)));
        let mut out = String::new();
        refresh::begin(&mut out, terminal, shown);
        out.push_str(&format!(
            "fusebox watch  {}  every {}  (Ctrl-C to quit)\n\n",
            client.base(),
            fusebox::duration::human(interval)
        ));
        out.push_str(&tables);
        if !refresh::show(&out) {
            break;
        }
        before = Some((now, at));
        shown += 1;
    }
    Ok(ExitCode::SUCCESS)
}
