//! What the admin server needs to know: the control token and where to bind.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

/// The address [`AdminConfig::default`] binds: loopback only, port 9797.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9797);

/// Configuration of the admin router and server.
///
/// Without a `token` the control endpoints (`POST /api/fuses/{name}/...`)
/// answer `403` with `{"error": "control disabled", ...}`: read-only is the
/// default, and turning control on takes a deliberate secret. `bind` is used
/// only by [`serve`](crate::serve); it defaults to `127.0.0.1:9797` so that an
/// admin surface is never exposed to the network by accident.
///
/// The token is never printed: `Debug` shows `Some("<redacted>")`.
///
/// # Example
///
/// ```
/// use fusebox_admin::AdminConfig;
///
/// let config = AdminConfig::new().token("s3cret").bind(([127, 0, 0, 1], 8080).into());
/// assert!(config.token.is_some());
/// assert_eq!(AdminConfig::default().bind.to_string(), "127.0.0.1:9797");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminConfig {
    /// The bearer token control requests must carry; `None` disables control.
    pub token: Option<String>,
    /// Where [`serve`](crate::serve) listens.
    pub bind: SocketAddr,
}

impl AdminConfig {
    /// No token (control disabled), bound to [`DEFAULT_BIND`].
    pub fn new() -> Self {
        AdminConfig {
            token: None,
            bind: DEFAULT_BIND,
        }
    }

    /// Enables the control endpoints behind `Authorization: Bearer <token>`.
    /// An empty token leaves control disabled (an empty secret is no secret).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// Sets the address [`serve`](crate::serve) listens on.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("bind", &self.bind)
            .finish()
    }
}
