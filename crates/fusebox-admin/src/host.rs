//! The `Host` allow-list: the defence against DNS rebinding.
//!
//! An admin bound to 127.0.0.1 is out of the network's reach, but not out of
//! a browser's. A page served from `evil.example` can have its own name
//! resolve, a moment later, to 127.0.0.1: the browser then deems requests to
//! `http://evil.example:9797/api/fuses` same-origin, sends them to the admin,
//! and lets the page read the answers. What gives the trick away is the
//! `Host` header, which still says `evil.example`. So the admin answers only
//! the names it is known by: the loopback names, always, and the names an
//! operator lists ([`AdminConfig::allow_host`](crate::AdminConfig::allow_host)).
//!
//! IP literals of the loopback range count as loopback names; a request with
//! no `Host` at all is let through, since browsers always send one (and
//! HTTP/1.0 clients and in-process calls need not). When the request target
//! is in absolute form (`GET http://name/ HTTP/1.1`), its authority must pass
//! too. A `Host` that does not parse, or that appears twice, is refused.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Which `Host` names the admin answers: the loopback names and a list, or
/// any.
///
/// Built with [`AdminConfig::allow_host`](crate::AdminConfig::allow_host) and
/// [`AdminConfig::allow_any_host`](crate::AdminConfig::allow_any_host).
///
/// # Example
///
/// ```
/// use fusebox_admin::AllowedHosts;
///
/// let hosts = AllowedHosts::loopback().with("Admin.Example.com");
/// for ok in ["localhost", "localhost:9797", "127.0.0.1:9797", "127.3.2.1", "[::1]:9797",
///            "admin.example.com", "ADMIN.example.com:443"] {
///     assert!(hosts.allows(ok), "{ok}");
/// }
/// for refused in ["evil.example", "admin.example.com.evil", "10.0.0.1", "[::2]", "",
///                 "localhost:x", "a b", "user@localhost"] {
///     assert!(!hosts.allows(refused), "{refused}");
/// }
/// assert!(AllowedHosts::any().allows("anything.at.all"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    /// `None`: any host. Otherwise the names besides the loopback ones,
    /// lowercase, without port, IPv6 literals in brackets.
    extra: Option<Vec<String>>,
}

impl AllowedHosts {
    /// The loopback names only: `localhost`, `127.0.0.0/8` and `[::1]`, any
    /// port. The default.
    ///
    /// ```
    /// let hosts = fusebox_admin::AllowedHosts::loopback();
    /// assert!(hosts.allows("localhost:9797") && hosts.allows("[::1]"));
    /// assert!(!hosts.allows("example.com"));
    /// ```
    pub fn loopback() -> Self {
        AllowedHosts {
            extra: Some(Vec::new()),
        }
    }

    /// Any `Host` at all.
    ///
    /// ```
    /// assert!(fusebox_admin::AllowedHosts::any().allows("example.com"));
    /// ```
    pub fn any() -> Self {
        AllowedHosts { extra: None }
    }

    /// These hosts and `host` too (a name or an IP literal; a port given is
    /// ignored). A `host` that is not a host name adds nothing.
    ///
    /// ```
    /// let hosts = fusebox_admin::AllowedHosts::loopback().with("10.0.0.5:9797").with("::2");
    /// assert!(hosts.allows("10.0.0.5:80") && hosts.allows("[::2]:9797"));
    /// ```
    pub fn with(mut self, host: &str) -> Self {
        if let (Some(extra), Some((name, _))) = (&mut self.extra, split(host.trim())) {
            if !extra.contains(&name) {
                extra.push(name);
            }
        }
        self
    }

    /// True if any `Host` is answered.
    ///
    /// ```
    /// use fusebox_admin::AllowedHosts;
    /// assert!(AllowedHosts::any().is_any() && !AllowedHosts::loopback().is_any());
    /// ```
    pub fn is_any(&self) -> bool {
        self.extra.is_none()
    }

    /// True if a request with this `Host` header value is answered.
    ///
    /// ```
    /// let hosts = fusebox_admin::AllowedHosts::loopback();
    /// assert!(hosts.allows("127.0.0.1:9797"));
    /// assert!(!hosts.allows("127.0.0.1.evil.example"));
    /// ```
    pub fn allows(&self, host: &str) -> bool {
        let Some(extra) = &self.extra else {
            return true;
        };
        match split(host) {
            Some((name, _)) => is_loopback(&name) || extra.contains(&name),
            None => false,
        }
    }

    /// Checks a request's `Host` headers and target; the refusal to answer
    /// if they fail.
    pub(crate) fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
        if self.is_any() {
            return Ok(());
        }
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (None, _) => None,
            (Some(v), None) => Some(v.to_str().unwrap_or("")),
            (Some(_), Some(_)) => return Err(refusal("(more than one Host header)")),
        };
        let targets = host.into_iter().chain(uri.authority().map(|a| a.as_str()));
        for name in targets {
            if !self.allows(name) {
                return Err(refusal(name));
            }
        }
        Ok(())
    }
}

impl Default for AllowedHosts {
    fn default() -> Self {
        Self::loopback()
    }
}

impl fmt::Debug for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.extra {
            None => f.write_str("AllowedHosts::Any"),
            Some(extra) => f
                .debug_tuple("AllowedHosts::LoopbackAnd")
                .field(extra)
                .finish(),
        }
    }
}

fn refusal(host: &str) -> ApiError {
    ApiError::new(StatusCode::MISDIRECTED_REQUEST, "misdirected request")
        .with("host", host)
        .with(
            "detail",
            "this admin server answers only the host names it is configured for \
             (loopback names by default; see AdminConfig::allow_host)",
        )
}

/// Splits `host[:port]` into a normalised name (lowercase, IPv6 in brackets)
/// and the port text; `None` if it is not one.
fn split(value: &str) -> Option<(String, &str)> {
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => "",
            p => p.strip_prefix(':')?,
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else if value.parse::<Ipv6Addr>().is_ok() {
        // A bare IPv6 literal, as an operator may write it in allow_host.
        (format!("[{}]", value.to_ascii_lowercase()), "")
    } else {
        let (name, port) = value.split_once(':').unwrap_or((value, ""));
        let valid = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        if name.is_empty() || !name.chars().all(valid) {
            return None;
        }
        (name.to_ascii_lowercase(), port)
    };
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, port))
}

fn is_loopback(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// The router's layer: 421 for a `Host` not allowed.
pub(crate) async fn check(
    State(hosts): State<Arc<AllowedHosts>>,
    req: Request,
    next: Next,
) -> Response {
    match hosts.check(req.headers(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn splitting() {
        let s = |v| split(v).map(|(n, p)| (n, p.to_string()));
        assert_eq!(s("LocalHost:80"), Some(("localhost".into(), "80".into())));
        assert_eq!(s("[::1]:9797"), Some(("[::1]".into(), "9797".into())));
        assert_eq!(s("::1"), Some(("[::1]".into(), "".into())));
        assert_eq!(s("host:"), Some(("host".into(), "".into())));
        for bad in [
            "", ":80", "[::1", "[zz]", "[::1]x", "h:123456", "h:8o", "a/b", "a@b", "é",
        ] {
            assert_eq!(s(bad), None, "{bad}");
        }
    }

    #[test]
    fn headers_and_targets() {
        let hosts = AllowedHosts::loopback();
        let mut h = HeaderMap::new();
        let uri: Uri = "/api/fuses".parse().unwrap();
        assert!(hosts.check(&h, &uri).is_ok(), "no Host at all");
        h.insert(header::HOST, HeaderValue::from_static("localhost:1"));
        assert!(hosts.check(&h, &uri).is_ok());
        let absolute: Uri = "http://evil.example/api/fuses".parse().unwrap();
        assert!(hosts.check(&h, &absolute).is_err(), "absolute form checked");
        h.append(header::HOST, HeaderValue::from_static("localhost:1"));
        assert!(hosts.check(&h, &uri).is_err(), "two Host headers");
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_bytes(b"\xfflocal").unwrap());
        assert!(hosts.check(&h, &uri).is_err(), "not UTF-8");
        assert!(AllowedHosts::any().check(&h, &absolute).is_ok());
    }

    #[test]
    fn with_ignores_ports_and_junk() {
        let hosts = AllowedHosts::loopback()
            .with("a.example:8443")
            .with("a.example")
            .with("not a host");
        assert_eq!(hosts.extra.as_deref(), Some(&["a.example".to_string()][..]));
        assert!(AllowedHosts::any().with("x").is_any());
    }
}
