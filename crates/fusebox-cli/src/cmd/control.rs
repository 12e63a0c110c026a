//! `fusebox disable|enable|reset|unlock NAME`: one control request, with the
//! bearer token, printing the fuse's state after it.
//!
//! A 200 is not proof: a proxy, a stale port or another service may answer
//! 200 with JSON of its own, and an operator told "done" before maintenance
//! must be able to trust it. The admin server answers a control request
//! with the fuse's snapshot after the action, so the answer is checked
//! against what was asked ([`Action::verify`]): it must name the fuse, and
//! show the state the action leads to. Anything else exits 1 saying what
//! came back.
//!
//! With several targets, [`fleet`] applies the action to each and reports
//! per target.

mod fleet;

use std::process::ExitCode;

use hyper::StatusCode;

use crate::client::{segment, Answer, Client};
use crate::fleet::targets::Plan;
use fusebox::fuse::{FuseSnapshot, FuseState};

use crate::{Control, Failure};

/// What a control command asks of the fuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Refuse every ask until enabled.
    Disable,
    /// End a disable.
    Enable,
    /// Heal a blown fuse now.
    Reset,
    /// Release a fuse waiting at a barrier heal step.
    Unlock,
}

impl Action {
    /// The word of the URL and of the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Reset => "reset",
            Action::Unlock => "unlock",
        }
    }

    /// Whether `state` is one the action leads to. A reset does not end a
    /// disable (disable dominates everything but remove), so a reset fuse is
    /// ok or, if it was disabled, still disabled. An unlock is checked only
    /// for the name: what follows the barrier (another step, or ok) is the
    /// heal program's business.
    fn leads_to(self, state: FuseState) -> bool {
        match self {
            Action::Disable => state == FuseState::Disabled,
            Action::Enable => state != FuseState::Disabled,
            Action::Reset => matches!(state, FuseState::Ok | FuseState::Disabled),
            Action::Unlock => true,
        }
    }

    /// The states [`leads_to`](Self::leads_to) accepts, in words.
    fn expected(self) -> &'static str {
        match self {
            Action::Disable => "disabled",
            Action::Enable => "enabled (ok or blown)",
            Action::Reset => "ok (or disabled, if it was)",
            Action::Unlock => "any state",
        }
    }

    /// The fuse a 200 answer to this action on `name` shows, if it is that
    /// fuse in a state the action leads to; otherwise what came back, in
    /// words.
    pub(crate) fn verify(self, name: &str, answer: &Answer) -> Result<FuseSnapshot, String> {
        let fuse: FuseSnapshot = serde_json::from_slice(&answer.body).map_err(|e| {
            format!(
                "the server answered 200 but not with a fuse ({e}); it sent: {} (is this a fusebox admin server?)",
                answer.excerpt()
            )
        })?;
        if &*fuse.name != name {
            return Err(format!(
                "the server answered with fuse {:?} ({}), not {name:?}",
                &*fuse.name, fuse.state
            ));
        }
        if !self.leads_to(fuse.state) {
            return Err(format!(
                "the server answered 200 but {name} is {}, not {}",
                fuse.state,
                self.expected()
            ));
        }
        Ok(fuse)
    }
}

pub(crate) async fn run(action: Action, args: Control) -> Result<ExitCode, Failure> {
    let token = args.token.as_deref().filter(|t| !t.is_empty());
    let client = match args.targets.plan()? {
        Plan::One(client) => client,
        Plan::Fleet(f) => return fleet::run(action, &args.name, token, &f).await,
    };
    let (verb, name) = (action.as_str(), &args.name);
    let fuse = apply(action, &client, name, token)
        .await
        .map_err(|what| Failure(format!("{verb} {name}: {what}")))?;
    println!("{}: {}", fuse.name, fuse.state);
    Ok(ExitCode::SUCCESS)
}

/// Asks `client`'s server to apply `action` to fuse `name`: the fuse after
/// it, checked ([`Action::verify`]), or what went wrong, in words.
pub(crate) async fn apply(
    action: Action,
    client: &Client,
    name: &str,
    token: Option<&str>,
) -> Result<FuseSnapshot, String> {
    let path = format!("/api/fuses/{}/{}", segment(name), action.as_str());
    let answer = client.post(&path, token).await.map_err(|Failure(e)| e)?;
    match answer.status {
        StatusCode::OK => action.verify(name, &answer),
        StatusCode::UNAUTHORIZED if token.is_none() => {
            Err("unauthorized: no token given (use --token or set FUSEBOX_TOKEN)".to_owned())
        }
        StatusCode::UNAUTHORIZED => {
            Err("unauthorized: the admin server refused the token".to_owned())
        }
        StatusCode::FORBIDDEN => Err(
            "forbidden: control is disabled on the admin server (it has no token configured)"
                .to_owned(),
        ),
        StatusCode::NOT_FOUND if answer.error_text().starts_with("fuse not found") => {
            Err(format!("no fuse named {name:?}"))
        }
        status => Err(format!(
            "{}{path}: HTTP {}: {}",
            client.base(),
            status.as_u16(),
            answer.error_text()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::body::Bytes;

    use super::*;

    /// A 200 answer whose body is the snapshot of a real fuse `name` in
    /// `state`.
    fn snapshot(name: &str, state: &str) -> Answer {
        let fb = fusebox::Fusebox::new();
        fb.install(
            name,
            fusebox::FuseConfig::standard(0, Duration::from_secs(60)),
        )
        .unwrap();
        let mut v = serde_json::to_value(fb.state(name).unwrap()).unwrap();
        v["state"] = state.into();
        body(&v.to_string())
    }

    fn body(text: &str) -> Answer {
        Answer {
            status: StatusCode::OK,
            body: Bytes::from(text.to_owned()),
        }
    }

    #[test]
    fn each_action_accepts_the_states_it_leads_to() {
        use Action::*;
        let table = [
            (Disable, [false, false, true]),
            (Enable, [true, true, false]),
            (Reset, [true, false, true]),
            (Unlock, [true, true, true]),
        ];
        for (action, accepted) in table {
            for (state, ok) in ["ok", "blown", "disabled"].into_iter().zip(accepted) {
                let got = action.verify("db", &snapshot("db", state));
                assert_eq!(got.is_ok(), ok, "{action:?} -> {state}: {got:?}");
                if let Err(what) = got {
                    assert!(what.contains(&format!("db is {state}")), "{what}");
                }
            }
        }
    }

    #[test]
    fn another_fuse_or_foreign_json_is_what_came_back() {
        let what = Action::Unlock
            .verify("db", &snapshot("other", "ok"))
            .unwrap_err();
        assert_eq!(
            what,
            "the server answered with fuse \"other\" (ok), not \"db\""
        );
        let what = Action::Disable
            .verify("db", &body(r#"{"hello":"world"}"#))
            .unwrap_err();
        assert!(what.contains("not with a fuse"), "{what}");
        assert!(what.contains(r#"it sent: {"hello":"world"}"#), "{what}");
        let what = Action::Enable.verify("db", &body("")).unwrap_err();
        assert!(what.contains("it sent: (empty)"), "{what}");
    }
}
