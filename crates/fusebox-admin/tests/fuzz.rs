//! 1,000 random requests, seeded: nothing a client sends yields a 5xx, every
//! error is JSON, and the server still answers afterwards.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox, ValveConfig};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use support::{start, TOKEN};

/// The project's seeded generator, with the few draws this test needs.
struct Rng(fusebox::rng::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const SEGMENTS: &[&str] = &[
    "api",
    "fuses",
    "valves",
    "alarms",
    "metrics",
    "events",
    "db",
    "cache",
    "gate",
    "nope",
    "disable",
    "enable",
    "reset",
    "unlock",
    "explode",
    "",
    ".",
    "..",
    "%FF",
    "%ZZ",
    "%",
    "%2F",
    "%00",
    "%0A",
    "%C3%28",
    "%E2%82%AC",
    "d%62",
    "a%20b",
    "~!$&'()*+,;=:@",
    "API",
    "Fuses",
];

fn segment(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "x".repeat(rng.below(400)),
        1 => {
            // Random bytes, percent-encoded: often invalid UTF-8.
            let n = rng.below(6);
            rng.bytes(n).iter().map(|b| format!("%{b:02X}")).collect()
        }
        _ => rng.pick(SEGMENTS).to_string(),
    }
}

const NAMES: &[&str] = &[
    "db", "cache", "nope", "d%62", "%FF", "%ZZ", "%C3%28", "%0A", "", "a%20b",
];
const QUERIES: &[&str] = &["?", "?a=1", "?x=%ZZ&y", "?%FF=%FE", "#frag"];
const ACTIONS: &[&str] = &[
    "disable", "enable", "reset", "unlock", "explode", "", "RESET", "%FF",
];

/// Half near-valid paths (real routes with odd names and actions), half
/// garbage assembled from segments.
fn path(rng: &mut Rng) -> String {
    let mut p = match rng.below(8) {
        0..=2 => {
            let name = rng.pick(NAMES).to_string();
            let action = *rng.pick(ACTIONS);
            format!("/api/fuses/{name}/{action}")
        }
        3 => format!("/api/fuses/{}", rng.pick(NAMES)),
        4 => rng
            .pick(&[
                "/api/fuses",
                "/api/valves",
                "/api/alarms",
                "/metrics",
                "/events",
            ])
            .to_string(),
        _ => {
            let mut p = String::from(*rng.pick(&["/api/fuses/", "/", "/api/"]));
            for i in 0..rng.below(4) {
                if i > 0 {
                    p.push('/');
                }
                p.push_str(&segment(rng));
            }
            p
        }
    };
    if rng.chance(10) {
        let query = rng.pick(QUERIES);
        p.push_str(query);
    }
    p
}

fn method(rng: &mut Rng) -> Method {
    let m = *rng.pick(&[
        "GET", "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
        "FOO", "BREW",
    ]);
    Method::from_bytes(m.as_bytes()).unwrap()
}

fn header_value(rng: &mut Rng) -> Option<HeaderValue> {
    let right = format!("Bearer {TOKEN}");
    let v = match rng.below(8) {
        0 | 1 => right.into_bytes(),
        2 => b"Bearer wrong".to_vec(),
        3 => b"Bearer ".to_vec(),
        4 => format!("bEaReR {TOKEN} ").into_bytes(),
        5 => b"application/json".to_vec(),
        _ => {
            let n = rng.below(40);
            rng.bytes(n)
        }
    };
    HeaderValue::from_bytes(&v).ok()
}

fn body(rng: &mut Rng) -> Bytes {
    match rng.below(8) {
        0..=2 => Bytes::new(),
        3 => Bytes::from_static(b"{}"),
        4 => Bytes::from_static(b"{\"reason\": \"fuzz\"}"),
        5 => {
            let n = rng.below(200);
            Bytes::from(rng.bytes(n))
        }
        6 => Bytes::from(vec![b' '; fusebox_admin::BODY_LIMIT + 1 + rng.below(1000)]),
        _ => Bytes::from_static(b"[\"not an object\"]"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_never_5xx() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(3, Duration::from_secs(10)))
        .unwrap();
    fb.install("cache", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    fb.install_valve("api", ValveConfig::new().concurrency(4))
        .unwrap();
    let s = start(fb).await;

    let mut rng = Rng(fusebox::rng::SplitMix64::new(0x5eed_f00d_cafe_d00d));
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut sent = 0;
    while sent < 1000 {
        let method = method(&mut rng);
        let uri = s.uri(&path(&mut rng));
        let mut req = Request::builder().method(method.clone()).uri(&uri);
        for _ in 0..rng.below(4) {
            let name = *rng.pick(&[
                "authorization",
                "content-type",
                "accept",
                "x-junk",
                "cookie",
            ]);
            if let Some(v) = header_value(&mut rng) {
                req = req.header(HeaderName::from_static(name), v);
            }
        }
        let Ok(req) = req.body(Full::new(body(&mut rng))) else {
            continue; // a URI the client cannot even express
        };
        sent += 1;
        let res = s.open(req).await;
        let status = res.status();
        *statuses.entry(status.as_u16()).or_default() += 1;
        assert!(!status.is_server_error(), "{method} {uri} -> {status}");
        let streaming = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "text/event-stream");
        if streaming {
            continue; // GET /events never ends; dropping it unsubscribes
        }
        let (parts, body) = res.into_parts();
        let body = tokio::time::timeout(support::DEADLINE, http_body_util::BodyExt::collect(body))
            .await
            .expect("body in time")
            .expect("body reads")
            .to_bytes();
        if status.is_client_error() && method != Method::HEAD {
            assert_eq!(
                parts.headers["content-type"], "application/json",
                "{method} {uri}"
            );
            let v: serde_json::Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{method} {uri} -> {status}: not JSON ({e}): {body:?}"));
            assert!(v["error"].is_string(), "{method} {uri} -> {v}");
        }
    }
    eprintln!("statuses: {statuses:?}");
    // The mix reached the handlers, not only the fallback.
    for code in [200, 400, 401, 404, 405, 413] {
        assert!(statuses.contains_key(&code), "no {code} in {statuses:?}");
    }

    // Still answering, reads and control alike.
    assert_eq!(s.get("/api/fuses").await.status, StatusCode::OK);
    assert_eq!(
        s.control("/api/fuses/db/enable").await.json()["state"],
        "ok"
    );
}
