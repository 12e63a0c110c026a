//! The dashboard in a real headless Chromium, driven through chromedriver's
//! WebDriver HTTP protocol by the small client below.
//!
//! The page must learn of a blow and of the heal live, over `/events`,
//! without a reload. Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`
//! (Debian's `chromium` and `chromium-driver`; `FUSEBOX_CHROMIUM` and
//! `FUSEBOX_CHROMEDRIVER` point elsewhere). Without them the test says so
//! loudly on stderr and returns.
//!
//! Every wait polls against a generous deadline: a slow two-core machine
//! makes the test slower, not flaky.

mod support;

use std::io::Write as _;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fusebox::keyed::{KeyedBuilder, KeyedFuses, KeyedValves};
use fusebox::{FuseConfig, Fusebox, Heal, ValveConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// How long any one condition may take to come true in the browser.
const WAIT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to start Chromium (cold caches, 2 cores).
const START: Duration = Duration::from_secs(90);

fn binary(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Ends the session (which closes Chromium), kills chromedriver and removes
/// the profile, however the test ends: a failed assertion must not leave a
/// browser running.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
    /// The session to delete, if the test did not delete it itself.
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            delete_session_blocking(self.port, &id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE /session/{id}` over a plain socket: `Drop` cannot await.
fn delete_session_blocking(port: u16, id: &str) {
    use std::io::Read as _;
    let Ok(mut sock) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(20)));
    let req = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if sock.write_all(req.as_bytes()).is_err() {
        return;
    }
    // chromedriver may keep the socket open: read just the answer.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = sock.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return;
            }
        }
    }
}

/// A WebDriver client: JSON over HTTP to chromedriver.
struct WebDriver {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    session: Option<String>,
}

impl WebDriver {
    /// Sends a command; answers its `value`, or panics with the WebDriver
    /// error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        limit: Duration,
    ) -> Value {
        let (status, v) = self
            .try_call(method.clone(), path, body, limit)
            .await
            .unwrap_or_else(|e| {
                panic!("WebDriver {method} {path}: {e}");
            });
        assert!(status < 300, "WebDriver {method} {path}: {status} {v}");
        v["value"].clone()
    }

    async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        limit: Duration,
    ) -> Result<(u16, Value), String> {
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(body))
            .unwrap();
        let res = tokio::time::timeout(limit, async {
            let res = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let bytes = res.into_body().collect().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, bytes.to_bytes()))
        })
        .await
        .map_err(|_| format!("no answer in {limit:?}"))??;
        let v = serde_json::from_slice(&res.1).map_err(|e| format!("not JSON ({e})"))?;
        Ok((res.0, v))
    }

    fn session(&self) -> &str {
        self.session.as_deref().expect("a session")
    }

    async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session());
        self.call(method, &path, body, WAIT).await
    }

    /// Runs `body` as a JavaScript function body in the page.
    async fn js(&self, body: &str) -> Value {
        self.cmd(
            Method::POST,
            "/execute/sync",
            Some(json!({"script": body, "args": []})),
        )
        .await
    }

    /// Polls `script` until it returns `want`; panics with the last value
    /// after [`WAIT`].
    async fn wait_for(&self, what: &str, script: &str, want: Value) {
        let start = Instant::now();
        loop {
            let got = self.js(script).await;
            if got == want {
                eprintln!("dashboard: {what} after {:?}", start.elapsed());
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "dashboard: waited {WAIT:?} for {what}; last saw {got}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const FUSE_STATE: &str =
    "const t = document.querySelector('[data-fuse=\"db\"]'); return t ? t.dataset.state : null;";
const THROTTLE: &str = "const t = document.querySelector('[data-fuse=\"partner\"]'); \
    return t ? t.textContent.includes('rejects 90% (0 accepted of 9), ') : null;";
const LOAD_ID: &str = "return window.fusebox ? window.fusebox.loadId : null;";
const EVENTS: &str = "return window.fusebox.events;";
const CONN: &str = "return document.body.dataset.conn;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_follows_a_blow_and_a_heal_live() {
    let chromium = binary("FUSEBOX_CHROMIUM", "/usr/bin/chromium");
    let chromedriver = binary("FUSEBOX_CHROMEDRIVER", "/usr/bin/chromedriver");
    if !chromium.is_file() || !chromedriver.is_file() {
        // Straight to the process's stderr, past libtest's capture, so that
        // a skip is seen even when the test "passes".
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: dashboard browser test: chromium/chromedriver not found \
             ({} or {}) ***\n",
            chromium.display(),
            chromedriver.display()
        );
        return;
    }
    let began = Instant::now();

    // The Fusebox under watch, on the real clock; a short heal.
    let fb = Fusebox::new();
    fb.install(
        "db",
        FuseConfig::standard(2, Duration::from_secs(10)).heal(Heal::reset(Duration::from_secs(2))),
    )
    .unwrap();
    fb.install("cache", FuseConfig::standard(5, Duration::from_secs(10)))
        .unwrap();
    fb.install_valve("api", ValveConfig::new().concurrency(4).queue(16))
        .unwrap();
    // A throttling fuse whose dependency accepted nothing of nine asks.
    fb.install(
        "partner",
        FuseConfig::new(fusebox::Strategy::throttle(2.0, Duration::from_secs(600))),
    )
    .unwrap();
    for _ in 0..9 {
        let _ = fb.run("partner", || Err::<(), _>("down"));
    }
    // Keyed families: one blown host of two, a tenant refusing.
    let hosts: KeyedFuses<String> = KeyedBuilder::new(
        FuseConfig::standard(0, Duration::from_secs(10))
            .heal(Heal::reset(Duration::from_secs(600))),
    )
    .build(&fb, "hosts")
    .unwrap();
    assert_eq!(hosts.ask("a.example"), fusebox::Ask::Ok);
    hosts.melt("b.example");
    let tenants: KeyedValves<String> =
        KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
            .build(&fb, "tenants")
            .unwrap();
    let _held = tenants.try_acquire("acme").unwrap();
    assert!(tenants.try_acquire("acme").is_err());
    let server = support::start(fb.clone()).await;
    // The browser talks to the server through a proxy that the test can cut,
    // to see the page survive a dropped event stream.
    let proxy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy_listener.local_addr().unwrap();
    let mut proxy = tokio::spawn(run_proxy(proxy_listener, server.addr));
    // Some traffic, so that the rates and sparklines show something.
    let traffic = {
        let fb = fb.clone();
        tokio::spawn(async move {
            loop {
                for name in ["db", "cache"] {
                    let _ = fb.ask(name);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // chromedriver on a free port, Chromium in a fresh profile.
    let port = {
        let l = StdListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let profile = std::env::temp_dir().join(format!(
        "fusebox-dashboard-{}-{}",
        std::process::id(),
        began.elapsed().as_nanos() ^ u128::from(port)
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut driver = Driver {
        child,
        port,
        profile: profile.clone(),
        session: None,
    };
    let mut wd = WebDriver {
        base: format!("http://127.0.0.1:{port}"),
        client: Client::builder(TokioExecutor::new()).build_http(),
        session: None,
    };
    let start = Instant::now();
    loop {
        let ready = wd
            .try_call(Method::GET, "/status", None, Duration::from_secs(5))
            .await
            .is_ok_and(|(s, v)| s == 200 && v["value"]["ready"] == true);
        if ready {
            break;
        }
        assert!(start.elapsed() < WAIT, "chromedriver not ready in {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1280,900",
            ],
        },
    }}});
    let created = wd.call(Method::POST, "/session", Some(caps), START).await;
    wd.session = Some(
        created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned(),
    );
    driver.session.clone_from(&wd.session);
    eprintln!("dashboard: Chromium up after {:?}", began.elapsed());

    // Night mode, the way an operator at 3 a.m. sees it (chromedriver's
    // DevTools passthrough; the page follows `prefers-color-scheme`).
    let dark = json!({"cmd": "Emulation.setEmulatedMedia", "params": {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]}});
    wd.cmd(Method::POST, "/goog/cdp/execute", Some(dark)).await;
    let page = format!("http://{proxy_addr}/");
    wd.cmd(Method::POST, "/url", Some(json!({"url": page})))
        .await;
    wd.wait_for("db shown ok", FUSE_STATE, json!("ok")).await;
    wd.wait_for("the event stream open", CONN, json!("live"))
        .await;
    wd.wait_for("the throttle shown", THROTTLE, json!(true))
        .await;
    let load_id = wd.js(LOAD_ID).await;
    assert!(load_id.is_string(), "window.fusebox.loadId set: {load_id}");
    check_process_tile(&wd).await;
    check_keyed_tiles(&wd, &hosts).await;

    // Cut every connection: the page says so, and recovers by itself.
    proxy.abort();
    let _ = proxy.await;
    wd.wait_for("reconnecting shown", CONN, json!("reconnecting"))
        .await;
    let proxy_listener = tokio::net::TcpListener::bind(proxy_addr).await.unwrap();
    proxy = tokio::spawn(run_proxy(proxy_listener, server.addr));
    wd.wait_for("the event stream open again", CONN, json!("live"))
        .await;
    assert_eq!(wd.js(LOAD_ID).await, load_id, "the page reloaded");
    let events_before = wd.js(EVENTS).await.as_u64().unwrap();

    // A burst of melts blows db; the page must see it without a reload.
    for _ in 0..3 {
        fb.melt("db").unwrap();
    }
    assert_eq!(
        fb.state("db").unwrap().state,
        fusebox::fuse::FuseState::Blown
    );
    wd.wait_for("db shown blown", FUSE_STATE, json!("blown"))
        .await;
    assert_eq!(wd.js(LOAD_ID).await, load_id, "the page reloaded");
    let events_after = wd.js(EVENTS).await.as_u64().unwrap();
    assert!(
        events_after > events_before,
        "the blow came over /events ({events_before} -> {events_after} events)"
    );
    let text = wd
        .js("return document.querySelector('[data-fuse=\"db\"]').innerText;")
        .await;
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains("BLOWN"), "a big state label: {text:?}");
    save_screenshot(&wd, "dashboard-blown.png").await;

    // The heal (2 s) brings it back, again live.
    wd.wait_for("db healed, shown ok", FUSE_STATE, json!("ok"))
        .await;
    assert_eq!(wd.js(LOAD_ID).await, load_id, "the page reloaded");

    save_screenshot(&wd, "dashboard.png").await;

    let path = format!("/session/{}", wd.session());
    wd.call(Method::DELETE, &path, None, WAIT).await;
    wd.session = None;
    driver.session = None;
    traffic.abort();
    proxy.abort();
    eprintln!("dashboard: passed in {:?}", began.elapsed());
}

/// The process tile's figures as shown: RSS, threads, workers, tasks.
const PROCESS_TILE: &str = "const t = document.getElementById('process'); \
    const f = (n) => { const d = t.querySelector(`[data-field=\"${n}\"]`); return d ? d.textContent : null; }; \
    return {rss: f('rss'), threads: f('threads'), workers: f('workers'), tasks: f('tasks')};";

/// The process tile shows this process's memory (the server runs in the
/// test's process), within 10% of what the test reads itself.
async fn check_process_tile(wd: &WebDriver) {
    let start = Instant::now();
    let tile = loop {
        let tile = wd.js(PROCESS_TILE).await;
        if tile["rss"].as_str().is_some_and(|t| t.ends_with(" MiB")) {
            break tile;
        }
        assert!(
            start.elapsed() < WAIT,
            "dashboard: waited {WAIT:?} for the process tile's RSS; last saw {tile}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("dashboard: process tile {tile} after {:?}", start.elapsed());
    let number = |field: &str| -> f64 {
        let text = tile[field].as_str().unwrap_or_default();
        let digits: String = text
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("dashboard: {field} shows {text:?}"))
    };
    if cfg!(target_os = "linux") {
        let shown = number("rss") * 1048576.0;
        let own = support::own_rss() as f64;
        assert!(
            (shown - own).abs() <= own * 0.10,
            "dashboard: the tile shows an RSS of {shown} bytes, this process has {own}"
        );
    }
    // The server runs on the test's runtime of two workers.
    assert_eq!(number("workers"), 2.0, "{tile}");
    assert!(number("threads") >= 2.0, "{tile}");
    assert!(number("tasks") >= 1.0, "{tile}");
}

/// A keyed family's tile: `[kind, state, text]`, or null.
const KEYED_TILE: &str = "const t = document.querySelector(`[data-family=\"${arguments[0]}\"]`); \
    return t ? [t.dataset.kind, t.dataset.state, t.innerText] : null;";

/// The rows of a family's top keys table: `[key, state]` each.
const KEYED_ROWS: &str = "const t = document.querySelector(`[data-family=\"${arguments[0]}\"]`); \
    return t ? [...t.querySelectorAll('tr[data-key]')].map((r) => [r.dataset.key, r.dataset.state]) : null;";

/// The keyed section shows each family, its keys by state and its top
/// keys, and follows a new blow live.
async fn check_keyed_tiles(wd: &WebDriver, hosts: &KeyedFuses<String>) {
    let js = |script: &str, family: &str| json!({"script": script, "args": [family]});
    let rows = |family: &'static str| {
        let body = js(KEYED_ROWS, family);
        async move { wd.cmd(Method::POST, "/execute/sync", Some(body)).await }
    };
    let start = Instant::now();
    while rows("hosts").await != json!([["b.example", "blown"]]) {
        assert!(
            start.elapsed() < WAIT,
            "dashboard: waited {WAIT:?} for the hosts family's top keys; last saw {}",
            rows("hosts").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tile = wd
        .cmd(Method::POST, "/execute/sync", Some(js(KEYED_TILE, "hosts")))
        .await;
    assert_eq!(tile[0], "fuses", "{tile}");
    assert_eq!(tile[1], "blown", "{tile}");
    let text = tile[2].as_str().unwrap_or_default();
    assert!(text.contains("1 ok, 1 blown, 0 disabled"), "{text:?}");
    assert!(text.contains("1 melts, 1 blows"), "{text:?}");
    let tile = wd
        .cmd(
            Method::POST,
            "/execute/sync",
            Some(js(KEYED_TILE, "tenants")),
        )
        .await;
    assert_eq!(tile[0], "valves", "{tile}");
    let text = tile[2].as_str().unwrap_or_default();
    assert!(text.contains("1 busy, 0 idle"), "{text:?}");
    assert!(text.contains("busy 1"), "{text:?}");
    assert_eq!(rows("tenants").await, json!([["acme", "busy"]]));
    // A second host blows and is refused twice: it leads the table, live.
    hosts.melt("c.example");
    for _ in 0..2 {
        assert_eq!(hosts.ask("c.example"), fusebox::Ask::Blown);
    }
    let start = Instant::now();
    let want = json!([["c.example", "blown"], ["b.example", "blown"]]);
    while rows("hosts").await != want {
        assert!(
            start.elapsed() < WAIT,
            "dashboard: waited {WAIT:?} for c.example; last saw {}",
            rows("hosts").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "dashboard: keyed families shown after {:?}",
        start.elapsed()
    );
    wd.js("document.getElementById('h-keyed').scrollIntoView(); return true;")
        .await;
    save_screenshot(wd, "dashboard-keyed.png").await;
    wd.js("window.scrollTo(0, 0); return true;").await;
}

/// Saves the page as `target/<name>`.
async fn save_screenshot(wd: &WebDriver, name: &str) {
    let png = wd.cmd(Method::GET, "/screenshot", None).await;
    let png = decode_base64(png.as_str().expect("base64 screenshot"));
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let out = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")).join(name);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &png).unwrap();
    eprintln!("dashboard: screenshot in {}", out.display());
}

/// Forwards connections to `to` until aborted; aborting drops the listener
/// and, with the `JoinSet`, every connection open.
async fn run_proxy(listener: tokio::net::TcpListener, to: std::net::SocketAddr) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        conns.spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
        while conns.try_join_next().is_some() {}
    }
}

/// Standard base64 (WebDriver screenshots), no crate needed.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
