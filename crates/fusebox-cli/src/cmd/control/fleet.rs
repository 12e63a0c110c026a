//! `fusebox disable|enable|reset|unlock NAME` on a fleet: the action on
//! every target at once, one line per target (`ok` and the fuse's state,
//! or `error` and why), and exit code 1 if any target failed.
//!
//! Each target's answer is checked as a single server's is
//! ([`Action::verify`](super::Action::verify)): "ok" on a line means that
//! server showed the fuse in the state the action leads to. A control
//! command is not undone on the targets where it worked when another
//! fails: the operator sees which did and decides (run it again, it is
//! idempotent, or run the opposite action). An `error` of "no answer
//! within" says the outcome is unknown, not that nothing was done: the
//! request may have reached a server that was slow to answer, and `status`
//! tells.

use std::process::ExitCode;

use crate::cmd::control::{apply, Action};
use crate::fleet::fanout;
use crate::fleet::targets::Fleet;
use crate::{table, Failure};

pub(crate) async fn run(
    action: Action,
    name: &str,
    token: Option<&str>,
    fleet: &Fleet,
) -> Result<ExitCode, Failure> {
    let results = fanout::each(fleet, |t| async move {
        apply(action, &t.client, name, token).await.map_err(Failure)
    })
    .await;
    let rows: Vec<Vec<String>> = fleet
        .targets
        .iter()
        .zip(&results)
        .map(|(t, result)| match result {
            Ok(fuse) => vec![t.label.clone(), "ok".to_owned(), fuse.state.to_string()],
            Err(why) => vec![t.label.clone(), "error".to_owned(), why.clone()],
        })
        .collect();
    let verb = action.as_str();
    println!("{verb} {name} on {} targets", fleet.targets.len());
    print!(
        "{}",
        table::render(&["target", "result", "state or reason"], &rows)
    );
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        eprintln!(
            "error: {verb} {name} failed on {failed} of {} targets",
            fleet.targets.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
