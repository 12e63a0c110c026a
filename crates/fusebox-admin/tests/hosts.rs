//! The `Host` allow-list (the contract, section 4.1): a DNS-rebinding page's
//! requests carry its own name in `Host`, and are refused with 421.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fusebox::Fusebox;
use fusebox_admin::AdminConfig;
use support::raw::{self, connect, read_reply};
use support::start_with;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_loopback_names_by_default() {
    let s = start_with(Fusebox::new(), AdminConfig::new()).await;
    let port = s.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".to_string(),
        "localhost".to_string(),
    ] {
        let reply = raw::get(s.addr, "/api/fuses", Some(&host)).await;
        assert_eq!(reply.status, 200, "Host: {host}");
    }
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        "localhost.evil.example".to_string(),
        "192.168.1.10".to_string(),
        "not a host".to_string(),
    ] {
        for path in [
            "/api/fuses",
            "/",
            "/events",
            "/metrics",
            "/api/fuses/db/disable",
        ] {
            let v = raw::get(s.addr, path, Some(&host)).await.error(421);
            assert_eq!(v["error"], "misdirected request");
            assert_eq!(v["host"], host.as_str());
        }
    }
    // No Host at all (HTTP/1.0 style): no browser sends that; answered.
    assert_eq!(raw::get(s.addr, "/api/fuses", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_or_an_absolute_target_elsewhere_are_refused() {
    let s = start_with(Fusebox::new(), AdminConfig::new()).await;
    let mut c = connect(s.addr).await;
    c.write_all(b"GET http://evil.example/api/fuses HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    read_reply(&mut c).await.error(421);
    let mut c = connect(s.addr).await;
    c.write_all(b"GET /api/fuses HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n")
        .await
        .unwrap();
    read_reply(&mut c).await.error(421);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_host_is_answered() {
    let config = AdminConfig::new().allow_host("admin.example.com");
    let s = start_with(Fusebox::new(), config).await;
    for host in ["admin.example.com", "Admin.Example.COM:9797", "localhost"] {
        assert_eq!(
            raw::get(s.addr, "/api/fuses", Some(host)).await.status,
            200,
            "{host}"
        );
    }
    raw::get(s.addr, "/api/fuses", Some("evil.example"))
        .await
        .error(421);

    let s = start_with(Fusebox::new(), AdminConfig::new().allow_any_host()).await;
    assert_eq!(
        raw::get(s.addr, "/api/fuses", Some("evil.example"))
            .await
            .status,
        200
    );
}

/// The router checks `Host` itself, so an application that mounts it in a
/// server of its own keeps the defence.
#[tokio::test]
async fn the_router_checks_host_where_it_is_mounted() {
    let admin = fusebox_admin::router(Fusebox::new(), AdminConfig::new());
    let app = axum::Router::new().nest_service("/admin", admin);
    let get = |host: &'static str| {
        Request::get("/admin/api/fuses")
            .header("host", host)
            .body(Body::empty())
            .unwrap()
    };
    let res = app.clone().oneshot(get("evil.example")).await.unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/json");
    let res = app.clone().oneshot(get("localhost:8080")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // In-process, with no Host: answered.
    let res = app
        .oneshot(
            Request::get("/admin/api/fuses")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// `serve_router` checks every route, the application's merged ones too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_router_checks_merged_routes_too() {
    let config = AdminConfig::new();
    let app = fusebox_admin::router(Fusebox::new(), config.clone())
        .route("/mine", axum::routing::get(|| async { "mine" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(fusebox_admin::serve_router(
        listener,
        app,
        config,
        std::future::pending(),
    ));
    raw::get(addr, "/mine", Some("evil.example"))
        .await
        .error(421);
    let ok = raw::get(addr, "/mine", Some("localhost")).await;
    assert_eq!((ok.status, &ok.body[..]), (200, &b"mine"[..]));
}
