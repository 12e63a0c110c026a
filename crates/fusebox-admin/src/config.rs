//! What the admin router and server need to know: the control token, where
//! to bind, which `Host` names to answer, and the bounds that keep a client
//! from growing the host process.
//!
//! Every bound has a default meant for an operator surface on loopback: a
//! handful of people and scripts, a dashboard or two, never thousands of
//! clients. Each is a plain value, checked by its use and not at build time:
//! a zero is allowed and means what it says (`max_event_streams(0)` turns
//! `/events` off, a zero timeout closes at once).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

#[cfg(feature = "code-trace")]
use crate::code_trace::CodeTrace;
use crate::host::AllowedHosts;

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
/// # Bounds
///
/// | setting | default | used by | what it bounds |
/// |---|---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | the server | a request's head, and then its body, must each arrive within it |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s | the server | a connection with no byte read or written for this long is closed |
/// | [`max_connections`](Self::max_connections) | 256 | the server | connections open at once; at the cap the one idle longest makes room |
/// | [`max_event_streams`](Self::max_event_streams) | 64 | the router | `/events` streams open at once; beyond it 503 |
/// | [`shutdown_grace`](Self::shutdown_grace) | 10 s | the server | how long a graceful shutdown waits for requests in flight |
/// | [`hosts`](Self::hosts) | loopback names | the router and the server | which `Host` headers are answered; others 421 |
///
/// "The server" is [`serve`](crate::serve) and its siblings; an application
/// that mounts [`router`](crate::router) in a server of its own brings its
/// own connection bounds.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox_admin::AdminConfig;
///
/// let config = AdminConfig::new()
///     .token("s3cret")
///     .bind(([127, 0, 0, 1], 8080).into())
///     .max_connections(64)
///     .idle_timeout(Duration::from_secs(30))
///     .allow_host("admin.example.com");
/// assert!(config.token.is_some());
/// assert_eq!(AdminConfig::default().bind.to_string(), "127.0.0.1:9797");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// assert!(config.hosts.allows("admin.example.com:8080"));
/// assert!(config.hosts.allows("localhost:8080"));
/// assert!(!config.hosts.allows("evil.example"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminConfig {
    /// The bearer token control requests must carry; `None` disables control.
    pub token: Option<String>,
    /// Where [`serve`](crate::serve) listens.
    pub bind: SocketAddr,
    /// See [`AdminConfig::header_read_timeout`].
    pub header_read_timeout: Duration,
    /// See [`AdminConfig::idle_timeout`].
    pub idle_timeout: Duration,
    /// See [`AdminConfig::max_connections`].
    pub max_connections: usize,
    /// See [`AdminConfig::max_event_streams`].
    pub max_event_streams: usize,
    /// See [`AdminConfig::shutdown_grace`].
    pub shutdown_grace: Duration,
    /// The `Host` names answered; see [`AdminConfig::allow_host`].
    pub hosts: AllowedHosts,
    /// The runtime `/api/runtime` reports; see [`AdminConfig::runtime`].
    #[cfg(feature = "inspector")]
    pub(crate) runtime: Option<crate::runtime::Registered>,
    /// See [`AdminConfig::code_trace`].
    #[cfg(feature = "code-trace")]
    pub code_trace: Option<CodeTrace>,
}

impl AdminConfig {
    /// No token (control disabled), bound to [`DEFAULT_BIND`], loopback
    /// `Host` names only, and the default bounds of the table above.
    pub fn new() -> Self {
        AdminConfig {
            token: None,
            bind: DEFAULT_BIND,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
            max_event_streams: 64,
            shutdown_grace: Duration::from_secs(10),
            hosts: AllowedHosts::loopback(),
            #[cfg(feature = "inspector")]
            runtime: None,
            #[cfg(feature = "code-trace")]
            code_trace: None,
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

    /// How long a client may take to send a request's head (request line and
    /// headers), and then its body. Default 10 s.
    ///
    /// *Why*: a client that opens a connection and sends half a request line
    /// (a "slowloris") would otherwise hold a connection, and a descriptor,
    /// for ever. The clock starts at the accept for a connection's first
    /// request, and at the first byte of each later request on a keep-alive
    /// connection (the wait between requests is the
    /// [`idle_timeout`](Self::idle_timeout)'s business). A body must then
    /// arrive within the same time again, counted from the end of the head;
    /// one that does not is answered 400. A head that does not arrive in time
    /// closes the connection with no answer.
    ///
    /// ```text
    /// accept    first byte of request 1      head complete
    ///   |------------- at most header_read_timeout -|
    /// ```
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = fusebox_admin::AdminConfig::new().header_read_timeout(Duration::from_secs(5));
    /// assert_eq!(config.header_read_timeout, Duration::from_secs(5));
    /// assert_eq!(fusebox_admin::AdminConfig::new().header_read_timeout, Duration::from_secs(10));
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a connection may go with no byte read or written before the
    /// server closes it. Default 60 s.
    ///
    /// *Why*: a keep-alive connection left open between requests, a stalled
    /// upload and a client that stopped reading all hold a connection slot
    /// and a descriptor. "Idle" means no progress on the socket in either
    /// direction, whatever the connection is doing, so a handler that takes
    /// longer than this to start answering (none of the admin's does; a route
    /// an application merges in with [`serve_router`](crate::serve_router)
    /// might) is cut off too: raise it for such routes. An `/events` stream is
    /// never idle: it sends a keep-alive comment every 15 s, or every half
    /// idle timeout if that is shorter.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = fusebox_admin::AdminConfig::new().idle_timeout(Duration::from_secs(300));
    /// assert_eq!(config.idle_timeout, Duration::from_secs(300));
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The most connections the server holds open at once. Default 256.
    ///
    /// *Why*: each connection costs a descriptor and some buffers; a process
    /// that runs out of descriptors cannot accept anyone, nor open files.
    ///
    /// At the cap, a new connection is still accepted, and the open
    /// connection that has waited longest for a request (idle between
    /// requests, or not yet past its first head) is closed to make room. So
    /// clients that open connections and send nothing cannot lock out an
    /// operator's request: it takes the place of the oldest of them, and a
    /// request is read within microseconds of its accept. Connections in the
    /// middle of a request (an `/events` stream, a request being read or
    /// answered) are never closed for room; when every connection is in that
    /// state the new one is answered a 503 JSON error at once and closed.
    /// The listener's backlog (the kernel's queue of connections not yet
    /// accepted) is not counted here.
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().max_connections(32);
    /// assert_eq!(config.max_connections, 32);
    /// assert_eq!(fusebox_admin::AdminConfig::new().max_connections, 256);
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// The most `/events` streams open at once, per router. Default 64.
    ///
    /// *Why*: each stream holds a subscription (a buffer of up to 1,024
    /// events for a slow reader) and a connection for as long as the client
    /// likes. Beyond the cap, `/events` answers 503
    /// `{"error": "too many event streams", ...}` with `Retry-After`; the
    /// dashboard retries by itself. It is a router setting, so it holds for
    /// an application that mounts [`router`](crate::router) too; keep it
    /// below [`max_connections`](Self::max_connections), since a stream is
    /// never closed to make room for another connection. `0` turns
    /// `/events` off.
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().max_event_streams(0); // no /events
    /// assert_eq!(config.max_event_streams, 0);
    /// assert_eq!(fusebox_admin::AdminConfig::new().max_event_streams, 64);
    /// ```
    pub fn max_event_streams(mut self, max: usize) -> Self {
        self.max_event_streams = max;
        self
    }

    /// How long a graceful shutdown
    /// ([`serve_with_shutdown`](crate::serve_with_shutdown),
    /// [`serve_router`](crate::serve_router)) waits for requests in flight
    /// before it drops the connections left. Default 10 s.
    ///
    /// *Why*: a shutdown should let a request being answered finish, but a
    /// handler that never ends must not hold the process up for ever.
    /// `/events` streams do not count: they are ended at once, cleanly.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = fusebox_admin::AdminConfig::new().shutdown_grace(Duration::from_secs(2));
    /// assert_eq!(config.shutdown_grace, Duration::from_secs(2));
    /// ```
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Answers requests whose `Host` is `host` (a name or an IP address, any
    /// port; a port given here is ignored), besides the loopback names
    /// (`localhost`, `127.0.0.0/8`, `[::1]`), which are always answered.
    ///
    /// *Why*: by default only loopback names are answered, whatever the
    /// admin is bound to; another `Host` gets 421 `{"error": "misdirected
    /// request", ...}`. That stops DNS rebinding, where a page served from
    /// elsewhere points a name of its own at 127.0.0.1 and has a browser
    /// read the admin's `GET` endpoints (control is safe regardless: no CORS,
    /// and `POST` needs the token). Serving on another interface, or behind a
    /// proxy that passes the outside name on, takes naming it here, or
    /// [`allow_any_host`](Self::allow_any_host). The check is in
    /// [`router`](crate::router) itself, so it holds where the router is
    /// mounted, and in [`serve_router`](crate::serve_router), for the
    /// routes merged in. A request with no `Host` at all (HTTP/1.0, or an
    /// in-process call) is answered: browsers always send one.
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().allow_host("admin.example.com");
    /// assert!(config.hosts.allows("admin.example.com:443"));
    /// assert!(config.hosts.allows("127.0.0.1:9797"));
    /// assert!(!config.hosts.allows("rebind.evil.example:9797"));
    /// ```
    pub fn allow_host(mut self, host: impl AsRef<str>) -> Self {
        self.hosts = self.hosts.with(host.as_ref());
        self
    }

    /// Answers any `Host`: for a proxy that rewrites or checks it already.
    /// It gives up the DNS-rebinding defence of
    /// [`allow_host`](Self::allow_host).
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().allow_any_host();
    /// assert!(config.hosts.is_any());
    /// ```
    pub fn allow_any_host(mut self) -> Self {
        self.hosts = AllowedHosts::any();
        self
    }

    /// Enables live code tracing (`POST` and `DELETE /api/trace/code`, with
    /// the token) through `tracer`, whose [layer](CodeTrace::layer) the
    /// service has added to its subscriber. Without it those endpoints
    /// answer 404 `{"error": "code tracing not enabled"}`. See
    /// [`code_trace`](crate::code_trace).
    ///
    /// ```
    /// let tracer = fusebox_admin::code_trace::CodeTrace::new();
    /// let config = fusebox_admin::AdminConfig::new().token("s3cret").code_trace(tracer.clone());
    /// assert_eq!(config.code_trace, Some(tracer));
    /// ```
    #[cfg(feature = "code-trace")]
    pub fn code_trace(mut self, tracer: CodeTrace) -> Self {
        self.code_trace = Some(tracer);
        self
    }
}

#[cfg(feature = "inspector")]
impl AdminConfig {
    /// The tokio runtime whose workers and tasks `GET /api/runtime` reports.
    /// By default it is the runtime serving the request: the admin
    /// server's, or the application's where the router is mounted in its
    /// server.
    ///
    /// *Why*: an application may serve the admin on a small runtime of its
    /// own and do its work on another; the figures that matter are then the
    /// other's. The process figures (memory, CPU, threads) are the
    /// process's whatever the runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let work = tokio::runtime::Handle::current();  // where the application's tasks run
    /// let config = fusebox_admin::AdminConfig::new().runtime(work.clone());
    /// assert_eq!(config, fusebox_admin::AdminConfig::new().runtime(work));
    /// # }
    /// ```
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(crate::runtime::Registered(handle));
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
        let mut d = f.debug_struct("AdminConfig");
        d.field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("bind", &self.bind)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_event_streams", &self.max_event_streams)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("hosts", &self.hosts);
        #[cfg(feature = "inspector")]
        d.field("runtime", &self.runtime);
        #[cfg(feature = "code-trace")]
        d.field("code_trace", &self.code_trace);
        d.finish()
    }
}
