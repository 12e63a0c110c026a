//! A small HTTP/1 client for the admin API, on hyper's legacy client (which
//! the workspace builds already for the admin's tests, so the command costs
//! no new HTTP stack).
//!
//! Plain `http://` only: the admin server binds loopback by default and has
//! no TLS of its own; reach a remote one through a tunnel.
//!
//! Every body is read into a [`Capped`] buffer of `--max-body` bytes (see
//! [`crate::limit`]), and so is every event of a stream.

mod sse;

use std::error::Error as StdError;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use crate::limit::{ByteSize, Capped};
use crate::Failure;
pub(crate) use sse::Sse;

/// How long a request may take, headers and body (not a stream's body),
/// unless [`Client::timeout`] says otherwise.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The admin server at one base URL.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    base: String,
    max_body: ByteSize,
    timeout: Duration,
    http: Hyper<HttpConnector, Full<Bytes>>,
}

/// An answer: its status and whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The `error` and `detail` of the admin's JSON error body, as one line.
    pub(crate) fn error_text(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let error = v["error"].as_str().map(str::to_owned).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&self.body);
            let text = text.trim();
            if text.is_empty() {
                self.status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text.chars().take(200).collect()
            }
        });
        match v["detail"].as_str() {
            Some(detail) => format!("{error} ({detail})"),
            None => error,
        }
    }

    /// The body as a short quote for a message: at most 200 characters of
    /// one line, `(empty)` if there is none.
    pub(crate) fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return "(empty)".to_owned();
        }
        let mut quoted: String = text.chars().take(200).collect();
        if quoted.len() < text.len() {
            quoted.push_str("...");
        }
        quoted
    }
}

impl Client {
    /// A client for the admin server at `url`, such as
    /// `http://127.0.0.1:9797` or `http://host:8080/admin`, that reads no
    /// body (nor event) larger than `max_body`.
    pub(crate) fn new(url: &str, max_body: ByteSize) -> Result<Self, Failure> {
        let base = url.trim().trim_end_matches('/').to_owned();
        let uri: Uri = base
            .parse()
            .map_err(|e| Failure(format!("bad --url {url:?}: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(Failure(format!(
                    "bad --url {url:?}: https is not supported; the admin server speaks plain http (use a tunnel)"
                )))
            }
            _ => {
                return Err(Failure(format!(
                    "bad --url {url:?}: expected http://host:port"
                )))
            }
        }
        if uri.query().is_some() {
            return Err(Failure(format!(
                "bad --url {url:?}: no query string, please"
            )));
        }
        let http = Hyper::builder(TokioExecutor::new()).build_http();
        Ok(Client {
            base,
            max_body,
            timeout: TIMEOUT,
            http,
        })
    }

    /// The same client with another deadline for each request, connect,
    /// headers and body (a fleet's per-target `--timeout`).
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same client without keep-alive: each request on a connection of
    /// its own, closed after the answer. A fleet keeps a client per target
    /// to the end, and must not keep a connection per target open with it
    /// (a thousand targets would be a thousand descriptors).
    pub(crate) fn one_shot(mut self) -> Self {
        self.http = Hyper::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
        self
    }

    /// The base URL, for messages.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(token) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        req.body(Full::new(Bytes::new()))
            .map_err(|e| Failure(format!("cannot build a request for {url}: {e}")))
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, Failure> {
        let url = req.uri().to_string();
        match tokio::time::timeout(self.timeout, self.http.request(req)).await {
            Ok(Ok(res)) => Ok(res),
            Ok(Err(e)) => Err(Failure(format!("cannot reach {url}: {}", chain(&e)))),
            Err(_) => Err(self.no_answer(&url)),
        }
    }

    /// The body of `res`, at most `--max-body` bytes of it.
    async fn body(&self, url: &str, res: Response<Incoming>) -> Result<Answer, Failure> {
        let status = res.status();
        let limit = self.max_body.bytes();
        let declared = res
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(url, "the answer is", self.max_body));
        }
        let mut body = res.into_body();
        let mut buf = Capped::new(limit);
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| Failure(format!("{url}: reading the body: {}", chain(&e))))?;
            if let Ok(data) = frame.into_data() {
                buf.extend(&data)
                    .map_err(|_| too_large(url, "the answer is", self.max_body))?;
            }
        }
        Ok(Answer {
            status,
            body: Bytes::from(buf.into_inner()),
        })
    }

    async fn whole(&self, req: Request<Full<Bytes>>) -> Result<Answer, Failure> {
        let url = req.uri().to_string();
        let fetch = async {
            let res = self.send(req).await?;
            self.body(&url, res).await
        };
        tokio::time::timeout(self.timeout, fetch)
            .await
            .unwrap_or_else(|_| Err(self.no_answer(&url)))
    }

    /// The failure of a request past the deadline.
    fn no_answer(&self, url: &str) -> Failure {
        Failure(format!(
            "{url}: no answer within {}",
            fusebox::duration::human(self.timeout)
        ))
    }

    /// `GET path` as JSON; any status but 200 is a failure.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let answer = self.whole(self.request(Method::GET, path, None)?).await?;
        let url = format!("{}{path}", self.base);
        if answer.status != StatusCode::OK {
            return Err(Failure(format!(
                "{url}: HTTP {}: {}",
                answer.status.as_u16(),
                answer.error_text()
            )));
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            Failure(format!(
                "{url}: unexpected JSON ({e}); is this a fusebox admin server?"
            ))
        })
    }

    /// `POST path` with an empty body and the bearer token, if any; the
    /// answer whatever its status.
    pub(crate) async fn post(&self, path: &str, token: Option<&str>) -> Result<Answer, Failure> {
        self.whole(self.request(Method::POST, path, token)?).await
    }

    /// `GET path` as a stream of server-sent events; an answer that is not
    /// one (not 200, or not `text/event-stream`) is a failure.
    pub(crate) async fn events(&self, path: &str) -> Result<Sse, Failure> {
        self.open_events(self.request(Method::GET, path, None)?)
            .await
    }

    /// `POST path` with a JSON body and the bearer token, answered with a
    /// stream of server-sent events (as [`events`](Self::events)).
    pub(crate) async fn post_events(
        &self,
        path: &str,
        token: Option<&str>,
        json: &serde_json::Value,
    ) -> Result<Sse, Failure> {
        let mut req = self.request(Method::POST, path, token)?;
        *req.body_mut() = Full::new(Bytes::from(json.to_string()));
        req.headers_mut().insert(
            CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        self.open_events(req).await
    }

    async fn open_events(&self, mut req: Request<Full<Bytes>>) -> Result<Sse, Failure> {
        req.headers_mut().insert(
            ACCEPT,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        let url = req.uri().to_string();
        let res = self.send(req).await?;
        if res.status() != StatusCode::OK {
            // The status is the news; a body that is slow, broken or over
            // the limit only loses its text.
            let status = res.status();
            let answer = match tokio::time::timeout(self.timeout, self.body(&url, res)).await {
                Ok(Ok(answer)) => answer,
                _ => Answer {
                    status,
                    body: Bytes::new(),
                },
            };
            return Err(Failure(format!(
                "{url}: HTTP {}: {}",
                answer.status.as_u16(),
                answer.error_text()
            )));
        }
        let content_type = res
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !content_type.as_deref().is_some_and(is_event_stream) {
            let got = content_type.map_or_else(
                || "no Content-Type".to_owned(),
                |t| format!("Content-Type {t:?}"),
            );
            return Err(Failure(format!(
                "{url} did not answer with an event stream ({got}, not text/event-stream); is this a fusebox admin server?"
            )));
        }
        Ok(Sse::new(res.into_body(), url, self.max_body))
    }
}

/// The failure of an answer or event over `--max-body`: `what` is "the
/// answer is" or "an event is".
pub(crate) fn too_large(url: &str, what: &str, limit: ByteSize) -> Failure {
    Failure(format!(
        "{url}: {what} larger than {limit}, the limit (raise it with --max-body or FUSEBOX_MAX_BODY)"
    ))
}

/// True for `text/event-stream`, with or without parameters, in any case.
fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/event-stream")
}

/// An error and its sources, `a: b: c` (hyper's own Display says only
/// "client error (Connect)").
pub(crate) fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Percent-encodes one path segment (a fuse's name may hold anything but
/// control characters).
pub(crate) fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("db"), "db");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn urls_are_checked() {
        let new = |url| Client::new(url, crate::limit::DEFAULT_MAX_BODY);
        assert!(new("http://127.0.0.1:9797").is_ok());
        assert!(new("http://127.0.0.1:9797/admin/").is_ok());
        assert!(new("https://x").is_err());
        assert!(new("127.0.0.1:9797").is_err());
    }

    #[test]
    fn event_streams_are_told_by_their_content_type() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("Text/Event-Stream; charset=utf-8"));
        assert!(!is_event_stream("application/json"));
        assert!(!is_event_stream("text/event-streams"));
        assert!(!is_event_stream(""));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        let answer = |body: &str| Answer {
            status: StatusCode::OK,
            body: Bytes::from(body.to_owned()),
        };
        assert_eq!(
            answer("{\"hello\":\n \"world\"}").excerpt(),
            "{\"hello\": \"world\"}"
        );
        assert_eq!(answer("").excerpt(), "(empty)");
        let long = answer(&"x".repeat(500)).excerpt();
        assert_eq!(long.len(), 203);
        assert!(long.ends_with("..."));
    }
}
