//! The layers that keep the promise "nothing a client sends yields a 5xx or
//! a panic, and every error is JSON".
//!
//! Handlers answer their own errors as JSON already; these layers catch what
//! slips past them: responses axum makes itself (a 405, a 413 from the body
//! limit), malformed percent-encoding that axum would pass through verbatim,
//! and, as the very last resort, a panic, which becomes a JSON 500 instead of
//! a dropped connection.

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use crate::error::ApiError;

/// Turns a panic in any handler into a JSON 500.
pub(crate) async fn catch_panic(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Replaces the body of any error response that is not JSON with a JSON
/// error, keeping status and headers (`Allow` on a 405, for one).
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    let fresh = ApiError::new(status, reason).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(ct) = fresh_parts.headers.get(header::CONTENT_TYPE) {
        parts.headers.insert(header::CONTENT_TYPE, ct.clone());
    }
    Response::from_parts(parts, Body::new(body))
}

/// Refuses a path with a `%` not followed by two hex digits (400): axum would
/// keep such a sequence verbatim and look up a name the client never meant.
pub(crate) async fn check_percent_encoding(req: Request, next: Next) -> Response {
    if !well_encoded(req.uri().path().as_bytes()) {
        return ApiError::bad_request("malformed percent-encoding in the path").into_response();
    }
    next.run(req).await
}

fn well_encoded(path: &[u8]) -> bool {
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            let hex = |j: usize| path.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("a handler bug (this panic is expected)")
    }

    #[tokio::test]
    async fn a_panic_becomes_a_json_500() {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(axum::middleware::from_fn(catch_panic));
        let req = Request::get("/boom").body(Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn text_errors_become_json() {
        let app = Router::new()
            .route(
                "/teapot",
                get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
            )
            .layer(axum::middleware::from_fn(json_errors));
        let req = Request::get("/teapot").body(Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "i'm a teapot");
        assert_eq!(v["status"], 418);
    }

    #[test]
    fn percent_encoding() {
        for ok in ["", "/a", "/%41", "/a%2Fb", "/%e2%82%ac"] {
            assert!(well_encoded(ok.as_bytes()), "{ok}");
        }
        for bad in ["%", "/%4", "/%G1", "/a%", "/%%41"] {
            assert!(!well_encoded(bad.as_bytes()), "{bad}");
        }
    }
}
