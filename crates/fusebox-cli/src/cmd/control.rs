//! `fusebox disable|enable|reset|unlock NAME`: one control request, with the
//! bearer token, printing the fuse's state after it.

use std::process::ExitCode;

use hyper::StatusCode;

use crate::client::{segment, Client};
use fusebox::fuse::FuseSnapshot;

use crate::{Control, Failure};

pub(crate) async fn run(action: &str, args: Control) -> Result<ExitCode, Failure> {
    let client = Client::new(&args.remote.url)?;
    let token = args.token.as_deref().filter(|t| !t.is_empty());
    let path = format!("/api/fuses/{}/{action}", segment(&args.name));
    let answer = client.post(&path, token).await?;
    let name = &args.name;
    match answer.status {
        StatusCode::OK => {
            let fuse: FuseSnapshot = serde_json::from_slice(&answer.body)
                .map_err(|e| Failure(format!("{action} {name}: unexpected answer ({e})")))?;
            println!("{}: {}", fuse.name, fuse.state);
            Ok(ExitCode::SUCCESS)
        }
        StatusCode::UNAUTHORIZED if token.is_none() => Err(Failure(format!(
            "{action} {name}: unauthorized: no token given (use --token or set FUSEBOX_TOKEN)"
        ))),
        StatusCode::UNAUTHORIZED => Err(Failure(format!(
            "{action} {name}: unauthorized: the admin server refused the token"
        ))),
        StatusCode::FORBIDDEN => Err(Failure(format!(
            "{action} {name}: forbidden: control is disabled on the admin server (it has no token configured)"
        ))),
        StatusCode::NOT_FOUND if answer.error_text().starts_with("fuse not found") => {
            Err(Failure(format!("{action} {name}: no fuse named {name:?}")))
        }
        status => Err(Failure(format!(
            "{action} {name}: {}{path}: HTTP {}: {}",
            client.base(),
            status.as_u16(),
            answer.error_text()
        ))),
    }
}
