//! Every endpoint against a real server, the happy paths and the refusals.

mod support;

use std::time::Duration;

use fusebox::{event::EventKind, FuseConfig, Fusebox, Heal, Step, ValveConfig};
use fusebox_admin::AdminConfig;
use hyper::body::Bytes;
use hyper::StatusCode;
use support::{start, start_with, TOKEN};

fn fusebox() -> Fusebox {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(5, Duration::from_secs(10)))
        .unwrap();
    fb.install("cache", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    fb
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_fuses() {
    let s = start(fusebox()).await;
    s.fb.melt("db").unwrap();
    let r = s.get("/api/fuses").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    let v = r.json();
    let names = support::names(&v);
    assert_eq!(names, ["cache", "db"]);
    assert_eq!(v[1]["state"], "ok");
    assert_eq!(v[1]["melts_in_window"], 1);
    assert_eq!(v[1]["counters"]["melts"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fuse_and_unknown_names() {
    let s = start(fusebox()).await;
    s.fb.melt("cache").unwrap();
    let v = s.get("/api/fuses/cache").await.json();
    assert_eq!(v["name"], "cache");
    assert_eq!(v["state"], "blown");

    let e = s.get("/api/fuses/nope").await.error(StatusCode::NOT_FOUND);
    assert_eq!(e["name"], "nope");
    // Percent-encoded names are decoded: "d%62" is "db".
    assert_eq!(s.get("/api/fuses/d%62").await.json()["name"], "db");
    // A name no fuse can have.
    s.get(&format!("/api/fuses/{}", "x".repeat(300)))
        .await
        .error(StatusCode::BAD_REQUEST);
    s.get("/api/fuses/a%0Ab")
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_paths_are_400() {
    let s = start(fusebox()).await;
    // Invalid UTF-8 after decoding.
    let e = s
        .get("/api/fuses/%FF%FE")
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(e["detail"].as_str().unwrap().contains("UTF-8"), "{e}");
    // Not percent-encoding at all.
    s.get("/api/fuses/%ZZ").await.error(StatusCode::BAD_REQUEST);
    s.get("/api/fuses/db%").await.error(StatusCode::BAD_REQUEST);
    s.control("/api/fuses/%C3%28/reset")
        .await
        .error(StatusCode::BAD_REQUEST);
    s.control("/api/fuses/%G0/reset")
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods() {
    let s = start(fusebox()).await;
    s.get("/nope").await.error(StatusCode::NOT_FOUND);
    s.get("/api").await.error(StatusCode::NOT_FOUND);
    s.get("/api/fuses/db/state/extra")
        .await
        .error(StatusCode::NOT_FOUND);
    s.post("/api/fuses", None, "")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
    s.post("/metrics", None, "")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
    let r = s.get("/api/fuses/db/reset").await;
    r.error(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "POST");
    // An unknown action is 404 whatever the method.
    s.get("/api/fuses/db/explode")
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valves() {
    let fb = fusebox();
    fb.install_valve("api", ValveConfig::new().concurrency(3).queue(8))
        .unwrap();
    let s = start(fb).await;
    let _permit = s.fb.valve("api").unwrap().try_acquire().unwrap();
    let r = s.get("/api/valves").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v[0]["name"], "api");
    assert_eq!(v[0]["concurrency"], 3);
    assert_eq!(v[0]["queue"], 8);
    assert_eq!(v[0]["in_flight"], 1);
    assert_eq!(v[0]["admitted"], 1);
    assert!(
        v[0].get("limit").is_none(),
        "a fixed limit has no controller"
    );
}

/// An adaptive valve shows its learned limit and its controller's state,
/// in the JSON and as `fusebox_valve_limit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_valves_show_their_limit() {
    let fb = fusebox();
    let limit = fusebox::valve::Adaptive::aimd().initial(7).max(50);
    fb.install_valve("db", ValveConfig::new().limit(limit).queue(8))
        .unwrap();
    let s = start(fb).await;
    let v = s.get("/api/valves").await.json();
    assert_eq!(v[0]["concurrency"], 7);
    assert_eq!(v[0]["limit"]["kind"], "aimd");
    assert_eq!(v[0]["limit"]["limit"], 7);
    assert_eq!(v[0]["limit"]["max"], 50);
    let m = s.get("/metrics").await;
    assert!(
        m.text().contains("fusebox_valve_limit{valve=\"db\"} 7\n"),
        "{}",
        m.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms() {
    let fb = Fusebox::builder()
        .alarm_period(Duration::from_millis(10))
        .build();
    fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)))
        .unwrap();
    let s = start(fb).await;
    assert_eq!(s.get("/api/alarms").await.json(), serde_json::json!([]));

    let events = s.fb.subscribe();
    s.fb.melt("db").unwrap();
    // Wait for the monitor's look, by its event rather than by sleeping.
    let set = tokio::time::timeout(support::DEADLINE, async {
        loop {
            let e = events.recv_async().await.unwrap();
            if matches!(e.kind, EventKind::AlarmSet { .. }) {
                return e;
            }
        }
    })
    .await
    .expect("alarm set in time");
    assert_eq!(&*set.name, "db");

    let v = s.get("/api/alarms").await.json();
    assert_eq!(v[0]["name"], "db");
    assert_eq!(v[0]["kind"], "fuse_blown");
    let m = s.get("/metrics").await;
    assert!(
        m.text()
            .contains("fusebox_alarm_active{alarm=\"fuse_blown\",fuse=\"db\"} 1\n"),
        "{}",
        m.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics() {
    let fb = fusebox();
    fb.install(
        "we\"ird\\name",
        FuseConfig::standard(1, Duration::from_secs(1)),
    )
    .unwrap();
    fb.install_valve("api", ValveConfig::new().concurrency(2))
        .unwrap();
    assert!(fb.ask("db").unwrap().is_ok());
    assert!(fb.ask("db").unwrap().is_ok());
    fb.melt("cache").unwrap();
    assert!(!fb.ask("cache").unwrap().is_ok());
    let s = start(fb).await;
    let r = s.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let t = r.text();
    for line in [
        "# HELP fusebox_fuse_asks_total Asks of a fuse, by result.",
        "# TYPE fusebox_fuse_asks_total counter",
        "fusebox_fuse_asks_total{fuse=\"db\",result=\"ok\"} 2",
        "fusebox_fuse_asks_total{fuse=\"cache\",result=\"blown\"} 1",
        "fusebox_fuse_asks_total{fuse=\"db\",result=\"injected\"} 0",
        "# TYPE fusebox_fuse_melts_total counter",
        "fusebox_fuse_melts_total{fuse=\"cache\"} 1",
        "fusebox_fuse_blows_total{fuse=\"cache\"} 1",
        "# TYPE fusebox_fuse_state gauge",
        "fusebox_fuse_state{fuse=\"cache\"} 1",
        "fusebox_fuse_state{fuse=\"db\"} 0",
        "fusebox_fuse_state{fuse=\"we\\\"ird\\\\name\"} 0",
        "fusebox_valve_in_flight{valve=\"api\"} 0",
        "fusebox_valve_queued{valve=\"api\"} 0",
        "fusebox_valve_refused_total{valve=\"api\",reason=\"queue_full\"} 0",
        "# TYPE fusebox_fuse_heals_total counter",
        "fusebox_fuse_heals_total{fuse=\"cache\"} 0",
        "# TYPE fusebox_valve_tokens gauge",
        "# TYPE fusebox_valve_sojourn_seconds histogram",
        "fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"0.000001\"} 0",
        "fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"10\"} 0",
        "fusebox_valve_sojourn_seconds_bucket{valve=\"api\",le=\"+Inf\"} 0",
        "fusebox_valve_sojourn_seconds_sum{valve=\"api\"} 0",
        "fusebox_valve_sojourn_seconds_count{valve=\"api\"} 0",
        "# TYPE fusebox_valve_service_seconds histogram",
        "fusebox_valve_service_seconds_count{valve=\"api\"} 0",
        "# TYPE fusebox_alarm_active gauge",
    ] {
        assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
    }
    // Every sample line is `name{labels} value`, every family has HELP and
    // TYPE, a histogram's lines end in `_bucket`, `_sum` or `_count`.
    for l in t.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = l.rsplit_once(' ').unwrap();
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad sample {l:?}"));
        let name = &l[..l.find('{').unwrap()];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let base = name.strip_suffix(s)?;
                t.contains(&format!("# TYPE {base} histogram\n"))
                    .then_some(base)
            })
            .unwrap_or(name);
        assert!(t.contains(&format!("# TYPE {family} ")), "{name}");
        assert!(t.contains(&format!("# HELP {family} ")), "{name}");
    }
    // The catalog's every metric, with its help and type, and nothing else.
    for m in fusebox::catalog::ALL {
        let head = format!(
            "# HELP {0} {1}\n# TYPE {0} {2}\n",
            m.name,
            m.help,
            m.kind.as_str()
        );
        assert!(t.contains(&head), "{head:?} missing in\n{t}");
    }
    assert_eq!(
        t.lines().filter(|l| l.starts_with("# TYPE ")).count(),
        fusebox::catalog::ALL.len()
    );
    assert!(!t.contains("quantile"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_actions() {
    let fb = fusebox();
    fb.install(
        "gate",
        FuseConfig::standard(0, Duration::from_secs(10)).heal(Heal::program([Step::Barrier])),
    )
    .unwrap();
    let s = start(fb).await;

    let v = s.control("/api/fuses/db/disable").await.json();
    assert_eq!(v["state"], "disabled");
    assert_eq!(s.fb.state("db").unwrap().state.as_str(), "disabled");
    let v = s.control("/api/fuses/db/enable").await.json();
    assert_eq!(v["state"], "ok");

    s.fb.melt("cache").unwrap();
    assert_eq!(s.fb.state("cache").unwrap().state.as_str(), "blown");
    let r = s.control("/api/fuses/cache/reset").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["state"], "ok");

    s.fb.melt("gate").unwrap();
    assert_eq!(s.fb.state("gate").unwrap().state.as_str(), "blown");
    let v = s.control("/api/fuses/gate/unlock").await.json();
    assert_eq!(v["state"], "ok");

    // A JSON object body is accepted (its fields are ignored).
    let auth = format!("Bearer {TOKEN}");
    let r = s
        .post(
            "/api/fuses/db/disable",
            Some(&auth),
            r#"{"reason":"maintenance"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The scheme is case-insensitive.
    let r = s
        .post("/api/fuses/db/enable", Some(&format!("bearer {TOKEN}")), "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_refusals() {
    let s = start(fusebox()).await;
    // No token, a wrong one, a prefix of the right one, another scheme.
    for auth in [
        None,
        Some("Bearer wrong".to_string()),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_string()),
        Some("Bearer ".to_string()),
    ] {
        let e = s.post("/api/fuses/db/disable", auth.as_deref(), "").await;
        e.error(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        s.fb.state("db").unwrap().state.as_str(),
        "ok",
        "nothing changed"
    );
    // Unknown names are checked after the token: 401 without it, 404 with it.
    s.post("/api/fuses/nope/reset", None, "")
        .await
        .error(StatusCode::UNAUTHORIZED);
    let e = s
        .control("/api/fuses/nope/reset")
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(e["name"], "nope");
    // Unknown actions.
    let e = s
        .control("/api/fuses/db/explode")
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(e["action"], "explode");
    s.control("/api/fuses/db/")
        .await
        .error(StatusCode::NOT_FOUND);
    // Malformed bodies.
    let auth = format!("Bearer {TOKEN}");
    for body in ["not json", "[1,2]", "\"reset\"", "{", "\u{0}"] {
        s.post("/api/fuses/db/reset", Some(&auth), body)
            .await
            .error(StatusCode::BAD_REQUEST);
    }
    let invalid_utf8 = Bytes::from_static(&[0xff, 0xfe, b'{']);
    s.post("/api/fuses/db/reset", Some(&auth), invalid_utf8)
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let s = start(fusebox()).await;
    let auth = format!("Bearer {TOKEN}");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(fusebox_admin::BODY_LIMIT));
    let e = s
        .post("/api/fuses/db/reset", Some(&auth), big.clone())
        .await;
    e.error(StatusCode::PAYLOAD_TOO_LARGE);
    // Without a token too: the body is refused before anything else.
    s.post("/api/fuses/db/reset", None, big)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    // Just under the limit passes.
    let fits = format!(
        "{{\"pad\":\"{}\"}}",
        "x".repeat(fusebox_admin::BODY_LIMIT - 100)
    );
    assert_eq!(
        s.post("/api/fuses/db/reset", Some(&auth), fits)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_control_is_disabled() {
    let s = start_with(fusebox(), AdminConfig::new()).await;
    for auth in [None, Some("Bearer anything"), Some("Bearer ")] {
        let e = s
            .post("/api/fuses/db/disable", auth, "")
            .await
            .error(StatusCode::FORBIDDEN);
        assert_eq!(e["error"], "control disabled");
    }
    // An empty token is no token.
    let s = start_with(fusebox(), AdminConfig::new().token("")).await;
    s.post("/api/fuses/db/disable", Some("Bearer "), "")
        .await
        .error(StatusCode::FORBIDDEN);
    // Reads still work.
    assert_eq!(s.get("/api/fuses/db").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binds_the_configured_address() {
    // Taken already: serve reports the bind error instead of panicking.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = AdminConfig::new().bind(taken.local_addr().unwrap());
    let err = fusebox_admin::serve(Fusebox::new(), config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(AdminConfig::default().bind, fusebox_admin::DEFAULT_BIND);
    assert!(fusebox_admin::DEFAULT_BIND.ip().is_loopback());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounted_under_a_prefix() {
    let fb = fusebox();
    let app = axum::Router::new().nest(
        "/admin",
        fusebox_admin::router(fb.clone(), AdminConfig::new().token(TOKEN)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let s = support::Server {
        addr,
        fb,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
    };
    assert_eq!(s.get("/admin/api/fuses/db").await.json()["name"], "db");
    assert_eq!(
        s.control("/admin/api/fuses/db/disable").await.json()["state"],
        "disabled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_page() {
    let s = start(fusebox()).await;
    let r = s.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    let ct = r.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("text/html"), "{ct}");
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let page = r.text();
    assert!(page.contains("EventSource"), "the page follows /events");
    assert!(page.contains("api/snapshot"), "the page fetches snapshots");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_has_everything_and_its_time() {
    let s = start(fusebox()).await;
    s.fb.melt("db").unwrap();
    let v = s.get("/api/snapshot").await.json();
    assert!(v["at"].as_str().is_some_and(|t| t.ends_with('s')), "{v}");
    assert!(
        v["fuses"].is_array() && v["valves"].is_array() && v["alarms"].is_array(),
        "{v}"
    );
    let db = v["fuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "db")
        .expect("db listed");
    assert_eq!(db["counters"]["melts"], 1);
}
