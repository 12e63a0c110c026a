//! A real admin server on 127.0.0.1 (port 0) and a real HTTP client.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use fusebox::Fusebox;
use fusebox_admin::AdminConfig;

pub const TOKEN: &str = "test-token-0123456789";

/// Any single exchange longer than this means the server hangs.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Server {
    pub addr: SocketAddr,
    pub fb: Fusebox,
    pub client: Client<HttpConnector, Full<Bytes>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// The `name` of each element of a JSON array, in order.
pub fn names(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|e| e["name"].clone())
        .collect()
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the status and a JSON error body; returns the body.
    pub fn error(&self, status: StatusCode) -> serde_json::Value {
        assert_eq!(
            self.status,
            status,
            "body: {:?}",
            String::from_utf8_lossy(&self.body)
        );
        let ct = self.headers.get("content-type").expect("content-type");
        assert_eq!(ct, "application/json");
        let v = self.json();
        assert!(v["error"].is_string(), "no error field: {v}");
        assert_eq!(v["status"], status.as_u16());
        v
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

/// Starts a server for `fb` with a token (control enabled).
pub async fn start(fb: Fusebox) -> Server {
    start_with(fb, AdminConfig::new().token(TOKEN)).await
}

pub async fn start_with(fb: Fusebox, config: AdminConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(fusebox_admin::serve_listener(listener, fb.clone(), config));
    Server {
        addr,
        fb,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Server {
    pub fn uri(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends and returns the response head with the body unread.
    pub async fn open(&self, req: Request<Full<Bytes>>) -> Response<Incoming> {
        tokio::time::timeout(DEADLINE, self.client.request(req))
            .await
            .expect("server answers in time")
            .expect("request succeeds")
    }

    pub async fn send(&self, req: Request<Full<Bytes>>) -> Reply {
        let res = self.open(req).await;
        let (parts, body) = res.into_parts();
        let body = tokio::time::timeout(DEADLINE, body.collect())
            .await
            .expect("body in time")
            .expect("body reads")
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        let req = Request::get(self.uri(path)).body(Full::default()).unwrap();
        self.send(req).await
    }

    /// A POST with an optional `Authorization` header value.
    pub async fn post(&self, path: &str, auth: Option<&str>, body: impl Into<Bytes>) -> Reply {
        let mut req = Request::builder().method(Method::POST).uri(self.uri(path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        self.send(req.body(Full::new(body.into())).unwrap()).await
    }

    pub async fn control(&self, path: &str) -> Reply {
        self.post(path, Some(&format!("Bearer {TOKEN}")), Bytes::new())
            .await
    }
}

/// Reads server-sent events off a response body, one at a time.
pub struct SseReader {
    body: Incoming,
    buf: String,
}

/// One server-sent event: its `event:` type (default "message") and data.
#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

impl SseReader {
    pub fn new(res: Response<Incoming>) -> Self {
        SseReader {
            body: res.into_body(),
            buf: String::new(),
        }
    }

    /// The next event that is not a comment, waiting at most `DEADLINE`.
    pub async fn next(&mut self) -> SseEvent {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().into();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return ev;
                }
            }
            let frame = tokio::time::timeout(DEADLINE, self.body.frame())
                .await
                .expect("an SSE frame in time")
                .expect("stream open")
                .expect("frame reads");
            if let Ok(data) = frame.into_data() {
                self.buf
                    .push_str(std::str::from_utf8(&data).expect("utf-8"));
            }
        }
    }
}

/// A raw TCP client, for what a well-behaved HTTP client never does: half a
/// request line, a stalled body, a `Host` of one's choosing, a connection
/// left idle.
pub mod raw {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::DEADLINE;

    pub async fn connect(addr: SocketAddr) -> TcpStream {
        tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect")
    }

    /// A response read off a raw connection.
    #[derive(Debug)]
    pub struct RawReply {
        pub status: u16,
        /// Header names lowercased.
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl RawReply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!(
                    "{} not JSON ({e}): {:?}",
                    self.status,
                    String::from_utf8_lossy(&self.body)
                )
            })
        }

        /// Asserts a JSON error of this status; returns its body.
        pub fn error(&self, status: u16) -> serde_json::Value {
            assert_eq!(
                self.status,
                status,
                "{:?}",
                String::from_utf8_lossy(&self.body)
            );
            assert_eq!(self.header("content-type"), Some("application/json"));
            let v = self.json();
            assert!(v["error"].is_string(), "{v}");
            assert_eq!(v["status"], status);
            v
        }
    }

    /// Reads one response with a `content-length` body (every admin answer
    /// but `/events`), within `DEADLINE`.
    pub async fn read_reply(s: &mut TcpStream) -> RawReply {
        tokio::time::timeout(DEADLINE, read_reply_inner(s))
            .await
            .expect("a reply in time")
    }

    async fn read_reply_inner(s: &mut TcpStream) -> RawReply {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = s.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "closed before a reply: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .expect("a content-length");
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < len {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed mid-body");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
        RawReply {
            status,
            headers,
            body,
        }
    }

    /// Sends `GET path` with this `Host` (none if `None`) and reads the reply.
    pub async fn get(addr: SocketAddr, path: &str, host: Option<&str>) -> RawReply {
        let mut s = connect(addr).await;
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        let req = format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        read_reply(&mut s).await
    }

    /// Waits up to `within` for the server to close `s` (EOF or reset),
    /// discarding what it sends; the time it took, or `None` if still open.
    pub async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
        let start = Instant::now();
        let mut chunk = [0u8; 4096];
        tokio::time::timeout(within, async {
            loop {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .ok()
        .map(|()| start.elapsed())
    }

    /// Raises this process's soft limit on open descriptors to at least
    /// `need`, up to the hard limit; false if the hard limit is lower.
    pub fn raise_fd_limit(need: libc::rlim_t) -> bool {
        // SAFETY: getrlimit and setrlimit only read and write the struct
        // passed, which lives on this stack frame.
        unsafe {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return false;
            }
            if lim.rlim_cur >= need {
                return true;
            }
            if lim.rlim_max < need {
                return false;
            }
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0
        }
    }
}

/// This process's resident set, read independently of the server's
/// `/api/runtime`: the `VmRSS` line of `/proc/self/status`, in bytes.
pub fn own_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}
