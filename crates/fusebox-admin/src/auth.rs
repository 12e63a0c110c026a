//! Bearer tokens, compared in constant time.
//!
//! A comparison that stops at the first differing byte tells a patient
//! attacker, through response times, how many leading bytes of a guess are
//! right, and so lets them find the token byte by byte. [`ct_eq`] looks at
//! every byte of the longer input whatever the contents, and folds the
//! differences into one accumulator that is inspected only at the end. The
//! loop's length reveals the token's length at most, which is not a secret
//! worth the complexity of hiding (a long random token stays unguessable).

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::ApiError;

/// Checks a request's `Authorization` header against the configured token.
///
/// `None` configured: 403, control is disabled. Header missing, not
/// `Bearer <token>`, or the wrong token: 401.
pub(crate) fn check(configured: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = configured else {
        return Err(
            ApiError::new(StatusCode::FORBIDDEN, "control disabled").with(
                "detail",
                "no admin token is configured; control endpoints are off",
            ),
        );
    };
    let unauthorized = || {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized")
            .with("detail", "expected `Authorization: Bearer <token>`")
    };
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(unauthorized()); // none, or ambiguous
    };
    let value = value.as_bytes();
    let scheme = b"bearer ";
    if value.len() < scheme.len() || !value[..scheme.len()].eq_ignore_ascii_case(scheme) {
        return Err(unauthorized());
    }
    let given = value[scheme.len()..].trim_ascii();
    if ct_eq(given, expected.as_bytes()) {
        Ok(())
    } else {
        Err(unauthorized())
    }
}

/// True if `a == b`, in time that depends on the lengths only.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    // Any length difference makes the result false, without an early return.
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    // Keep the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn ct_eq_matches_eq() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"a", b""),
            (b"", b"a"),
            (b"abc", b"abc"),
            (b"abc", b"abd"),
            (b"abc", b"abc\0"),
            (b"abc\0", b"abc"),
        ];
        for (a, b) in cases {
            assert_eq!(ct_eq(a, b), a == b, "{a:?} vs {b:?}");
        }
    }

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn check_statuses() {
        let status = |r: Result<(), ApiError>| {
            use axum::response::IntoResponse;
            r.map_or_else(|e| e.into_response().status(), |()| StatusCode::OK)
        };
        assert_eq!(
            status(check(None, &headers(&["Bearer t"]))),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(check(Some("t"), &headers(&[]))),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(check(Some("t"), &headers(&["Bearer t"]))),
            StatusCode::OK
        );
        assert_eq!(
            status(check(Some("t"), &headers(&["bearer  t "]))),
            StatusCode::OK
        );
        assert_eq!(
            status(check(Some("t"), &headers(&["Basic t"]))),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(check(Some("t"), &headers(&["Bearer"]))),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(check(Some("t"), &headers(&["Bearer u"]))),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(check(Some("t"), &headers(&["Bearer t", "Bearer t"]))),
            StatusCode::UNAUTHORIZED
        );
    }
}
