//! axum integration (feature `axum`): a refusal is a `503 Service Unavailable`.
//!
//! [`FuseboxError`] implements [`IntoResponse`]: status 503, a small JSON
//! body naming the fuse or valve and the reason, e.g.
//!
//! ```text
//! HTTP/1.1 503 Service Unavailable
//! content-type: application/json
//!
//! {"error":"fuse_blown","fuse":"db","reason":"blown","message":"fuse \"db\" is blown"}
//! {"error":"fuse_disabled","fuse":"db","reason":"disabled","message":"fuse \"db\" is disabled"}
//! {"error":"valve_refused","valve":"api","reason":"busy","message":"valve \"api\" refused the request: busy"}
//! ```
//!
//! A pipeline's timeout ([`FuseboxError::TimedOut`]) is a `504 Gateway
//! Timeout`, `{"error":"pipeline_timed_out","pipeline":"db","reason":"timed_out",...}`:
//! the dependency was asked and did not answer in time. An error injected
//! by a fuse's chaos is a 503 like a refusal, `"error":"fuse_injected"`.
//!
//! No `Retry-After` header is sent: a [`Fuse`](fusebox::Fuse) handle does
//! not know its clock's time, so the time left to its heal cannot be told
//! honestly, and a valve's free slot has no predictable time at all.
//!
//! axum's `Router::layer` needs services that never fail, so put
//! [`handle_error`] in a `HandleErrorLayer` above the fusebox layers:
//!
//! ```
//! use std::time::Duration;
//! use axum::{error_handling::HandleErrorLayer, routing::get, Router};
//! use fusebox::{FuseConfig, Fusebox, ValveConfig};
//! use fusebox_tower::{FuseLayer, ValveLayer};
//! use tower::ServiceBuilder;
//!
//! let fb = Fusebox::new();
//! fb.install("backend", FuseConfig::standard(5, Duration::from_secs(10)))?;
//! fb.install_valve("api", ValveConfig::new().concurrency(64).queue(256))?;
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error))
//!             .layer(ValveLayer::wait(fb.valve("api").unwrap()))
//!             .layer(FuseLayer::http(fb.fuse("backend").unwrap())),
//!     );
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{BoxError, FuseboxError};

impl IntoResponse for FuseboxError {
    fn into_response(self) -> Response {
        let body = match &self {
            FuseboxError::Blown { fuse }
            | FuseboxError::Disabled { fuse }
            | FuseboxError::Injected { fuse } => format!(
                r#"{{"error":"fuse_{}","fuse":{},"reason":"{}","message":{}}}"#,
                self.reason(),
                json_string(fuse),
                self.reason(),
                json_string(&self.to_string()),
            ),
            FuseboxError::Refused { valve, reason } => format!(
                r#"{{"error":"valve_refused","valve":{},"reason":"{}","message":{}}}"#,
                json_string(valve),
                reason.as_str(),
                json_string(&self.to_string()),
            ),
            FuseboxError::TimedOut { pipeline } => {
                let body = format!(
                    r#"{{"error":"pipeline_timed_out","pipeline":{},"reason":"timed_out","message":{}}}"#,
                    json_string(pipeline),
                    json_string(&self.to_string()),
                );
                // The dependency was asked and did not answer in time.
                return json_response(StatusCode::GATEWAY_TIMEOUT, body);
            }
        };
        json_response(StatusCode::SERVICE_UNAVAILABLE, body)
    }
}

/// For axum's `HandleErrorLayer`: a [`FuseboxError`] becomes its response
/// (503, or 504 for a pipeline's timeout); any other error a `500 Internal Server Error` whose body says
/// only `{"error":"internal"}` (an inner error's text is not for clients).
///
/// Write your own handler to treat other errors differently (a tower
/// `Elapsed` as 504, say), and call `into_response` on the refusals:
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use axum::http::StatusCode;
/// use fusebox_tower::{BoxError, FuseboxError};
///
/// async fn handle(err: BoxError) -> Response {
///     match err.downcast::<FuseboxError>() {
///         Ok(refusal) => refusal.into_response(),
///         Err(other) => (StatusCode::BAD_GATEWAY, other.to_string()).into_response(),
///     }
/// }
/// ```
pub async fn handle_error(err: BoxError) -> Response {
    match err.downcast::<FuseboxError>() {
        Ok(refusal) => refusal.into_response(),
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"internal"}"#.to_owned(),
        ),
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// `s` as a JSON string literal (RFC 8259 section 7).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("db"), r#""db""#);
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
    }
}
