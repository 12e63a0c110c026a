//! `fusebox status` of a fleet: every target's fuses, valves and alarms in
//! one table each, with a column for the target, and the targets that did
//! not answer, each with why.
//!
//! Rows are sorted by name, then by the target's place in the fleet, so a
//! fuse's rows stand together and the table answers "where is `db`
//! blown?": everywhere (its dependency is down) or on one host. The lines
//! above the tables say it outright for each fuse that is not ok.
//!
//! Exit code 1 if any target did not answer (the others are still shown):
//! a script must not take a partial table for the fleet's state.

use std::fmt::Write as _;
use std::process::ExitCode;

use fusebox::duration;
use fusebox::fuse::FuseState;
use serde_json::Value;

use crate::cmd::status::{self, Status};
use crate::fleet::fanout;
use crate::fleet::targets::Fleet;
use crate::{table, Failure};

pub(crate) async fn run(fleet: &Fleet, json: bool) -> Result<ExitCode, Failure> {
    let failed;
    if json {
        let answers = fanout::each(fleet, |t| t.client.get_json::<Value>(status::PATH)).await;
        failed = answers.iter().filter(|a| a.is_err()).count();
        let targets: Vec<Value> = fleet
            .targets
            .iter()
            .zip(answers)
            .map(|(t, answer)| match answer {
                Ok(snapshot) => {
                    serde_json::json!({"target": t.client.base(), "snapshot": snapshot})
                }
                Err(error) => serde_json::json!({"target": t.client.base(), "error": error}),
            })
            .collect();
        let out = serde_json::json!({ "targets": targets });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let answers = fanout::each(fleet, |t| status::fetch(&t.client)).await;
        failed = answers.iter().filter(|a| a.is_err()).count();
        let labels: Vec<&str> = fleet.targets.iter().map(|t| t.label.as_str()).collect();
        print!("{}", render(&labels, &answers));
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} targets did not answer",
            fleet.targets.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The report: `labels[i]` is the target whose answer is `answers[i]`.
pub(crate) fn render(labels: &[&str], answers: &[Result<Status, String>]) -> String {
    let up: Vec<(usize, &Status)> = answers
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.as_ref().ok().map(|s| (i, s)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "FLEET: {} targets, {} answered, {} unreachable",
        answers.len(),
        up.len(),
        answers.len() - up.len()
    );

    // name -> (state -> the targets where the fuse is in it), not-ok only.
    let mut fuses: Vec<(&str, usize, &fusebox::fuse::FuseSnapshot)> = up
        .iter()
        .flat_map(|&(i, s)| s.fuses.iter().map(move |f| (&*f.name, i, f)))
        .collect();
    fuses.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for state in [FuseState::Blown, FuseState::Disabled] {
        let mut names: Vec<&str> = fuses
            .iter()
            .filter(|f| f.2.state == state)
            .map(|f| f.0)
            .collect();
        names.dedup();
        for name in names {
            let with = fuses.iter().filter(|f| f.0 == name);
            let total = with.clone().count();
            let here: Vec<&str> = with
                .filter(|f| f.2.state == state)
                .map(|f| labels[f.1])
                .collect();
            let _ = writeln!(
                out,
                "{name} {state} on {} of {total}: {}",
                here.len(),
                list(&here)
            );
        }
    }

    let _ = writeln!(out, "\nFUSES ({} on {} targets)", fuses.len(), up.len());
    let rows: Vec<Vec<String>> = fuses
        .iter()
        .map(|&(name, i, f)| {
            vec![
                name.to_owned(),
                labels[i].to_owned(),
                f.state.to_string(),
                f.melts_in_window.to_string(),
                f.counters.asks_ok.to_string(),
                f.counters.asks_blown.to_string(),
                f.heal_step
                    .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                f.next_heal
                    .map_or_else(|| "-".to_owned(), |t| format!("at {}", duration::human(t))),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "name",
            "target",
            "state",
            "melts in window",
            "asks ok",
            "asks blown",
            "heal step",
            "next heal",
        ],
        &rows,
    ));

    let mut valves: Vec<(&str, usize, &fusebox::valve::ValveSnapshot)> = up
        .iter()
        .flat_map(|&(i, s)| s.valves.iter().map(move |v| (v.name.as_str(), i, v)))
        .collect();
    valves.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let _ = writeln!(out, "\nVALVES ({} on {} targets)", valves.len(), up.len());
    let rows: Vec<Vec<String>> = valves
        .iter()
        .map(|&(name, i, v)| {
            vec![
                name.to_owned(),
                labels[i].to_owned(),
                format!("{}/{}", v.in_flight, v.concurrency),
                format!("{}/{}", v.queued, v.queue),
                v.admitted.to_string(),
                v.refused.total().to_string(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "name",
            "target",
            "in flight",
            "queued",
            "admitted",
            "refused",
        ],
        &rows,
    ));

    let mut alarms: Vec<(&str, usize, &fusebox::event::Alarm)> = up
        .iter()
        .flat_map(|&(i, s)| s.alarms.iter().map(move |a| (&*a.name, i, a)))
        .collect();
    alarms.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let _ = writeln!(out, "\nALARMS ({} on {} targets)", alarms.len(), up.len());
    let rows: Vec<Vec<String>> = alarms
        .iter()
        .map(|&(name, i, a)| {
            vec![
                name.to_owned(),
                labels[i].to_owned(),
                a.kind.as_str().to_owned(),
                format!("at {}", duration::human(a.since)),
            ]
        })
        .collect();
    out.push_str(&table::render(&["name", "target", "kind", "since"], &rows));

    let down: Vec<(usize, &String)> = answers
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.as_ref().err().map(|e| (i, e)))
        .collect();
    if !down.is_empty() {
        let _ = writeln!(out, "\nUNREACHABLE ({})", down.len());
        for (i, why) in down {
            let _ = writeln!(out, "{}: {why}", labels[i]);
        }
    }
    out
}

/// Up to eight targets, then how many more.
fn list(labels: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut text = labels
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if labels.len() > SHOWN {
        let _ = write!(text, " and {} more", labels.len() - SHOWN);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fusebox::{FuseConfig, Fusebox};

    use super::*;

    /// The snapshot of a Fusebox with fuses `db` and `cache`, `db` blown if
    /// `blown`, as a server would send it.
    fn status(blown: bool) -> Status {
        let fb = Fusebox::new();
        for name in ["db", "cache"] {
            fb.install(name, FuseConfig::standard(0, Duration::from_secs(60)))
                .unwrap();
        }
        if blown {
            fb.melt("db").unwrap();
        }
        serde_json::from_value(serde_json::to_value(fb.snapshot()).unwrap()).unwrap()
    }

    #[test]
    fn one_table_by_fuse_then_target_and_who_did_not_answer() {
        let answers = [
            Ok(status(true)),
            Err("cannot reach http://c:1/api/snapshot: refused".to_owned()),
            Ok(status(false)),
        ];
        let text = render(&["a:1", "c:1", "b:1"], &answers);
        assert!(
            text.starts_with("FLEET: 3 targets, 2 answered, 1 unreachable\n"),
            "{text}"
        );
        assert!(text.contains("\ndb blown on 1 of 2: a:1\n"), "{text}");
        assert!(!text.contains("cache blown"), "{text}");
        assert!(text.contains("FUSES (4 on 2 targets)"), "{text}");
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip_while(|l| !l.starts_with("FUSES"))
            .skip(2)
            .take(4)
            .map(|l| l.split_whitespace().take(3).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["cache", "a:1", "ok"],
                ["cache", "b:1", "ok"],
                ["db", "a:1", "blown"],
                ["db", "b:1", "ok"],
            ]
        );
        assert!(
            text.ends_with(
                "\nUNREACHABLE (1)\nc:1: cannot reach http://c:1/api/snapshot: refused\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let labels: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        assert_eq!(list(&labels[..2]), "h0, h1");
        assert_eq!(list(&labels), "h0, h1, h2, h3, h4, h5, h6, h7 and 2 more");
    }
}
