//! `GET /api/keyed` and `GET /api/keyed/{family}`: the keyed families of
//! the Fusebox, each in its bounded summary (contract section 5.5).
//!
//! A family can hold a million keys, so neither endpoint lists keys: the
//! list gives each family's counts, totals and its top
//! [`TOP_KEYS`](fusebox::keyed::TOP_KEYS) keys, as `/api/snapshot` does;
//! one family answers up to `?top=N` of them (0 to
//! [`MAX_TOP_KEYS`](fusebox::keyed::MAX_TOP_KEYS); anything else is a 400,
//! as `/api/runtime`'s `?top=` is). A name no family can have is a 400, an
//! unknown one a 404.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use fusebox::keyed::{KeyedSnapshot, MAX_TOP_KEYS, TOP_KEYS};
use fusebox::registry::MAX_NAME_LEN;

use crate::error::ApiError;
use crate::routes::AppState;

/// Every live keyed family, sorted by name.
pub(crate) async fn families(State(st): State<AppState>) -> Json<Vec<KeyedSnapshot>> {
    Json(st.fb.keyed())
}

/// One family, with `?top=N` top keys ([`TOP_KEYS`] unless asked).
pub(crate) async fn family(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Json<KeyedSnapshot>, ApiError> {
    let Path(name) = name.map_err(|r| ApiError::bad_request(r.body_text()))?;
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid family name: 1 to 256 bytes, no control characters",
        ));
    }
    let top = top(&uri)?;
    st.fb.keyed_family(&name, top).map(Json).map_err(|_| {
        ApiError::new(StatusCode::NOT_FOUND, "keyed family not found").with("name", name.as_str())
    })
}

/// `?top=N`, 0 to [`MAX_TOP_KEYS`]; other parameters are ignored.
fn top(uri: &Uri) -> Result<usize, ApiError> {
    let mut top = TOP_KEYS;
    for pair in uri.query().unwrap_or("").split('&') {
        if let Some(n) = pair.strip_prefix("top=") {
            top = n
                .parse()
                .ok()
                .filter(|&n| n <= MAX_TOP_KEYS)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("top must be a number from 0 to {MAX_TOP_KEYS}"))
                })?;
        }
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_is_bounded() {
        let q = |s: &str| top(&s.parse::<Uri>().unwrap()).map_err(|_| ());
        assert_eq!(q("/api/keyed/h"), Ok(TOP_KEYS));
        assert_eq!(q("/api/keyed/h?x=1&top=0"), Ok(0));
        assert_eq!(q("/api/keyed/h?top=100"), Ok(100));
        assert_eq!(q("/api/keyed/h?top=101"), Err(()));
        assert_eq!(q("/api/keyed/h?top=-1"), Err(()));
        assert_eq!(q("/api/keyed/h?top="), Err(()));
    }
}
