//! End to end: an axum Router with the layers, served on 127.0.0.1, asked by
//! a real HTTP client (hyper-util). Concurrency is decided by a gate the
//! handlers wait on, never by sleeping.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use fusebox::{Ask, FuseConfig, Fusebox, ValveConfig};
use fusebox_tower::{FuseLayer, ValveLayer};
use support::{serve, until, Gate, HttpClient};
use tower::ServiceBuilder;

const WINDOW: Duration = Duration::from_secs(60);

/// `/ok` 200, `/missing` 404, `/bad` 400, `/broken` 500, each counted.
fn status_routes(hits: Arc<AtomicUsize>) -> Router {
    let route = |status: StatusCode| {
        let hits = hits.clone();
        get(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async move { (status, "from the handler") }
        })
    };
    Router::new()
        .route("/ok", route(StatusCode::OK))
        .route("/missing", route(StatusCode::NOT_FOUND))
        .route("/bad", route(StatusCode::BAD_REQUEST))
        .route("/broken", route(StatusCode::INTERNAL_SERVER_ERROR))
}

fn with_fuse(router: Router, fb: &Fusebox) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error))
            .layer(FuseLayer::http(fb.fuse("backend").unwrap())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_a_503_with_a_json_body() {
    let fb = Fusebox::new();
    fb.install("backend", FuseConfig::standard(0, WINDOW))
        .unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let client = HttpClient::new(serve(with_fuse(status_routes(hits.clone()), &fb)).await);

    assert_eq!(client.get("/ok").await.status, 200);
    fb.disable("backend").unwrap();
    let reply = client.get("/ok").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(!reply.headers.contains_key("retry-after"));
    assert_eq!(
        reply.body,
        r#"{"error":"fuse_disabled","fuse":"backend","reason":"disabled","message":"fuse \"backend\" is disabled"}"#
    );
    fb.enable("backend").unwrap();
    fb.melt("backend").unwrap();
    let reply = client.get("/ok").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        r#"{"error":"fuse_blown","fuse":"backend","reason":"blown","message":"fuse \"backend\" is blown"}"#
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the refused requests reached no handler"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_do_not_melt() {
    let fb = Fusebox::new();
    fb.install("backend", FuseConfig::standard(0, WINDOW))
        .unwrap(); // one melt would blow
    let hits = Arc::new(AtomicUsize::new(0));
    let client = HttpClient::new(serve(with_fuse(status_routes(hits.clone()), &fb)).await);

    for _ in 0..3 {
        assert_eq!(client.get("/missing").await.status, 404);
        assert_eq!(client.get("/bad").await.status, 400);
    }
    assert_eq!(
        client.get("/nowhere").await.status,
        404,
        "the router's fallback too"
    );
    assert_eq!(fb.ask("backend").unwrap(), Ask::Ok);
    assert_eq!(fb.state("backend").unwrap().counters.melts, 0);
    assert_eq!(client.get("/ok").await.status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_melt_and_blow() {
    let fb = Fusebox::new();
    fb.install("backend", FuseConfig::standard(1, WINDOW))
        .unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let client = HttpClient::new(serve(with_fuse(status_routes(hits.clone()), &fb)).await);

    let reply = client.get("/broken").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (500, "from the handler")
    );
    assert_eq!(
        fb.ask("backend").unwrap(),
        Ask::Ok,
        "one melt of max_melts 1"
    );
    assert_eq!(client.get("/broken").await.status, 500);
    assert_eq!(fb.ask("backend").unwrap(), Ask::Blown);

    // axum serves each connection and request with a clone of the router:
    // every clone saw the one fuse blow.
    for path in ["/ok", "/missing", "/broken"] {
        let reply = client.get(path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert!(reply.body.contains(r#""fuse":"backend""#));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

/// `/wait` passes the gate.
fn gated(gate: Arc<Gate>) -> Router {
    Router::new().route(
        "/wait",
        get(move || {
            let gate = gate.clone();
            async move {
                gate.pass().await;
                "served"
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_mode_refuses_the_n_plus_first_concurrent_request() {
    const N: usize = 3;
    let fb = Fusebox::new();
    fb.install_valve("api", ValveConfig::new().concurrency(N).queue(16))
        .unwrap();
    let api = fb.valve("api").unwrap();
    let gate = Gate::new();
    let app = gated(gate.clone()).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error))
            .layer(ValveLayer::reject(api.clone())),
    );
    let client = HttpClient::new(serve(app).await);

    let in_flight: Vec<_> = (0..N)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get("/wait").await })
        })
        .collect();
    gate.entered(N).await;
    assert_eq!(api.in_flight(), N);

    let reply = client.get("/wait").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(
        reply.body,
        r#"{"error":"valve_refused","valve":"api","reason":"busy","message":"valve \"api\" refused the request: busy"}"#
    );
    assert_eq!(
        gate.entered_now().await,
        0,
        "the refused request reached no handler"
    );

    gate.release(N);
    for task in in_flight {
        let reply = task.await.unwrap();
        assert_eq!((reply.status, reply.body.as_str()), (200, "served"));
    }
    until("the slots freed", || api.in_flight() == 0).await;
    assert_eq!(client.get("/nowhere").await.status, 404, "free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_mode_queues_the_request_and_serves_it_when_a_slot_frees() {
    let fb = Fusebox::new();
    fb.install_valve("api", ValveConfig::new().concurrency(1).queue(8))
        .unwrap();
    let api = fb.valve("api").unwrap();
    let gate = Gate::new();
    let app = gated(gate.clone()).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error))
            .layer(ValveLayer::wait(api.clone())),
    );
    let client = HttpClient::new(serve(app).await);

    let first = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/wait").await })
    };
    gate.entered(1).await;
    let second = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/wait").await })
    };
    until("the second request queued", || api.queued() == 1).await;
    assert_eq!(
        gate.entered_now().await,
        0,
        "it waits for the slot, not in the handler"
    );

    gate.release(1);
    assert_eq!(first.await.unwrap().status, 200);
    gate.entered(1).await; // the queued request got the slot
    assert_eq!((api.in_flight(), api.queued()), (1, 0));
    gate.release(1);
    let reply = second.await.unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (200, "served"));
    assert_eq!(api.snapshot().refused.total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_mode_refuses_when_the_queue_is_full() {
    let fb = Fusebox::new();
    fb.install_valve("api", ValveConfig::new().concurrency(1).queue(0))
        .unwrap();
    let api = fb.valve("api").unwrap();
    let gate = Gate::new();
    let app = gated(gate.clone()).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(fusebox_tower::axum::handle_error))
            .layer(ValveLayer::wait(api.clone())),
    );
    let client = HttpClient::new(serve(app).await);

    let first = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/wait").await })
    };
    gate.entered(1).await;
    let reply = client.get("/wait").await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.body.contains(r#""reason":"queue_full""#),
        "{}",
        reply.body
    );
    gate.release(1);
    assert_eq!(first.await.unwrap().status, 200);
}
