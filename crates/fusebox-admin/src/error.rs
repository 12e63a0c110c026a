//! Every error the admin surface answers is JSON: `{"error": "...", ...}`
//! with the status repeated in the body, so that a client never has to parse
//! text to learn what went wrong.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// An error answer: a status and a JSON object with at least `error`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Map<String, Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(error.into()));
        body.insert("status".into(), json!(status.as_u16()));
        ApiError { status, body }
    }

    /// Adds a field to the body (`name`, `detail`, ...).
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.into(), value.into());
        self
    }

    pub(crate) fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not found")
    }

    pub(crate) fn fuse_not_found(name: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "fuse not found").with("name", name)
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad request").with("detail", detail.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Value::Object(self.body).to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}
