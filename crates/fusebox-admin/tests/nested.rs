//! The admin router mounted inside an application's router: with
//! `nest_service` it answers at its prefix with and without the trailing
//! slash; with `Router::nest`, axum routes only the bare prefix to it, and
//! the dashboard prints the URL it was loaded from (never one that 404s).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use fusebox::Fusebox;
use fusebox_admin::AdminConfig;
use tower::ServiceExt;

async fn status(app: &Router, path: &str) -> StatusCode {
    let req = Request::get(path).body(Body::empty()).unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

fn app(nest: impl FnOnce(Router, Router) -> Router) -> Router {
    let admin = fusebox_admin::router(Fusebox::new(), AdminConfig::new());
    let app = Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
    nest(app, admin)
}

#[tokio::test]
async fn nest_service_answers_with_and_without_the_slash() {
    let app = app(|app, admin| app.nest_service("/admin", admin));
    for path in [
        "/admin",
        "/admin/",
        "/admin/api/fuses",
        "/admin/metrics",
        "/hello",
    ] {
        assert_eq!(status(&app, path).await, StatusCode::OK, "{path}");
    }
    assert_eq!(status(&app, "/admin/nope").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn router_nest_answers_at_the_prefix_and_under_it() {
    let app = app(|app, admin| app.nest("/admin", admin));
    for path in ["/admin", "/admin/api/fuses", "/admin/metrics", "/hello"] {
        assert_eq!(status(&app, path).await, StatusCode::OK, "{path}");
    }
    assert_eq!(status(&app, "/admin/nope").await, StatusCode::NOT_FOUND);
}

#[test]
fn the_dashboard_prints_the_url_it_was_loaded_from() {
    let js = include_str!("../src/dashboard/dashboard.js");
    assert!(js.contains(r#"$("url").textContent = location.origin + location.pathname;"#));
}
