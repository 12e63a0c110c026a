//! The endpoints of DESIGN.md section 4, and the order in which a control
//! request is checked.
//!
//! A control request (`POST /api/fuses/{name}/{action}`) is refused at the
//! first check it fails:
//!
//! 1. the path decodes (percent-encoding, UTF-8), else 400;
//! 2. the action is one of `disable`, `enable`, `reset`, `unlock`, else 404;
//! 3. the body fits the limit (413) and is empty or a JSON object (400);
//! 4. control is enabled (403) and the bearer token is right (401);
//! 5. the name is one a fuse could have, else 400;
//! 6. the fuse exists, else 404.
//!
//! The token is checked before the name is looked up, so a client without it
//! cannot learn which fuses exist from the difference between 404 and 401.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fusebox::{event::Alarm, fuse::FuseSnapshot, valve::ValveSnapshot, Fusebox, Snapshot};

use crate::auth;
use crate::error::ApiError;
use crate::prometheus;

/// The longest fuse name the core accepts, in bytes.
const MAX_NAME_LEN: usize = 256;

/// What every handler sees.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) fb: Fusebox,
    pub(crate) token: Option<std::sync::Arc<str>>,
    /// One permit per `/events` stream open.
    pub(crate) streams: std::sync::Arc<tokio::sync::Semaphore>,
    /// The cap, for the 503's body.
    pub(crate) max_streams: usize,
    /// The event streams' keep-alive interval.
    pub(crate) keep_alive: std::time::Duration,
    /// `/api/runtime`'s runtime and last reading.
    #[cfg(feature = "inspector")]
    pub(crate) inspector: std::sync::Arc<crate::runtime::Inspector>,
    /// Live code tracing, if enabled.
    #[cfg(feature = "code-trace")]
    pub(crate) code_trace: Option<crate::code_trace::CodeTrace>,
}

#[cfg(feature = "inspector")]
impl FromRef<AppState> for std::sync::Arc<crate::runtime::Inspector> {
    fn from_ref(st: &AppState) -> Self {
        st.inspector.clone()
    }
}

impl FromRef<AppState> for Fusebox {
    fn from_ref(st: &AppState) -> Self {
        st.fb.clone()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn path_error(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

/// 400 for a name no fuse can have (empty, too long, control characters),
/// the core's own rules for `install`.
fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid fuse name: 1 to 256 bytes, no control characters",
        ));
    }
    Ok(())
}

/// Everything at one instant, with the time of the snapshot (`at`, on the
/// Fusebox's clock) that `next_heal` and `since` are measured against.
pub(crate) async fn snapshot(State(st): State<AppState>) -> Json<Snapshot> {
    Json(st.fb.snapshot())
}

pub(crate) async fn fuses(State(st): State<AppState>) -> Json<Vec<FuseSnapshot>> {
    Json(st.fb.snapshot().fuses)
}

pub(crate) async fn fuse(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<FuseSnapshot>> {
    let Path(name) = name.map_err(path_error)?;
    check_name(&name)?;
    st.fb
        .state(&name)
        .map(Json)
        .map_err(|_| ApiError::fuse_not_found(&name))
}

pub(crate) async fn valves(State(st): State<AppState>) -> Json<Vec<ValveSnapshot>> {
    Json(st.fb.valves())
}

pub(crate) async fn alarms(State(st): State<AppState>) -> Json<Vec<Alarm>> {
    Json(st.fb.alarms())
}

pub(crate) async fn metrics(State(st): State<AppState>) -> Response {
    let text = prometheus::render(&st.fb.snapshot());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus::CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Disable,
    Enable,
    Reset,
    Unlock,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Action::Disable,
            "enable" => Action::Enable,
            "reset" => Action::Reset,
            "unlock" => Action::Unlock,
            _ => return None,
        })
    }
}

fn unknown_action(action: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "unknown action")
        .with("action", action)
        .with("actions", vec!["disable", "enable", "reset", "unlock"])
}

/// `POST /api/fuses/{name}/{action}`: answers the fuse's snapshot after the
/// action.
pub(crate) async fn control(
    State(st): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FuseSnapshot>> {
    let Path((name, action)) = path.map_err(path_error)?;
    let action = Action::parse(&action).ok_or_else(|| unknown_action(&action))?;
    check_body(body)?;
    auth::check(st.token.as_deref(), &headers)?;
    check_name(&name)?;
    let fb = &st.fb;
    let done = match action {
        Action::Disable => fb.disable(&name),
        Action::Enable => fb.enable(&name),
        Action::Reset => fb.reset(&name),
        Action::Unlock => fb.unlock(&name),
    };
    done.and_then(|()| fb.state(&name))
        .map(Json)
        .map_err(|_| ApiError::fuse_not_found(&name))
}

/// Another method on a control path: 404 for an unknown action (as for
/// POST), else 405.
pub(crate) async fn control_other_method(
    method: Method,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let Ok(Path((_, action))) = path else {
        return ApiError::bad_request("malformed path").into_response();
    };
    if Action::parse(&action).is_none() {
        return unknown_action(&action).into_response();
    }
    let mut res = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        .with("method", method.as_str())
        .into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

/// The body of a control request carries nothing yet: empty, or a JSON
/// object (whose fields are ignored, room for a future `reason`).
fn check_body(body: Result<Bytes, BytesRejection>) -> ApiResult<()> {
    let body = body_bytes(body)?;
    if body.trim_ascii().is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(ApiError::bad_request(
            "the body must be empty or a JSON object",
        )),
    }
}

/// A request body within the limit (else 413), or why it could not be read
/// (400).
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|r| {
        let status = match r.status() {
            s if s.is_server_error() => StatusCode::BAD_REQUEST,
            s => s,
        };
        let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload too large"
        } else {
            "bad request"
        };
        ApiError::new(status, error).with("detail", r.body_text())
    })
}

/// Anything no route matched. Mounted with `Router::nest("/admin", ..)`,
/// axum routes `/admin` to our `/` but `/admin/` here, with the prefix
/// stripped to `/` (or left empty): that is the dashboard too.
pub(crate) async fn not_found(method: Method, uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if method == Method::GET && matches!(uri.path(), "" | "/") {
        return crate::dashboard::page().await;
    }
    ApiError::not_found().into_response()
}

pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        .with("method", method.as_str())
}
