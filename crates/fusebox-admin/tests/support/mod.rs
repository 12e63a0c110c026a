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
