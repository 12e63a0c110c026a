//! The fuse layer at the tower level: admission, classification, clones,
//! cancellation. Inner services are `service_fn`s or tower-test mocks.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use fusebox::{fuse::FuseState, Ask, FuseConfig, Fusebox, Heal, ManualClock, Outcome, Step};
use fusebox_tower::{BoxError, FuseLayer, FuseService, FuseboxError};
use support::poll_once;
use tower::{service_fn, Layer, Service, ServiceExt};

const WINDOW: Duration = Duration::from_secs(60);

fn is_blown(err: &BoxError, name: &str) -> bool {
    matches!(err.downcast_ref(), Some(FuseboxError::Blown { fuse }) if &**fuse == name)
}

/// Counts its calls; `Err` for the request "fail".
fn counting(
    calls: Arc<AtomicUsize>,
) -> impl Service<&'static str, Response = &'static str, Error = &'static str, Future = impl Send>
       + Clone
       + Send
       + 'static {
    service_fn(move |req: &'static str| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if req == "fail" {
                Err("down")
            } else {
                Ok(req)
            }
        }
    })
}

#[tokio::test]
async fn a_blown_fuse_refuses_without_calling_the_inner_service() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, WINDOW)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = FuseLayer::new(fb.fuse("db").unwrap()).layer(counting(calls.clone()));

    fb.disable("db").unwrap();
    let err = svc.ready().await.unwrap().call("hi").await.unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(FuseboxError::Disabled { fuse }) if &**fuse == "db"),
        "{err}"
    );
    assert_eq!(err.to_string(), "fuse \"db\" is disabled");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    fb.enable("db").unwrap();
    fb.melt("db").unwrap();
    let err = svc.ready().await.unwrap().call("hi").await.unwrap_err();
    assert!(is_blown(&err, "db"), "{err}");
    assert_eq!(err.to_string(), "fuse \"db\" is blown");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    fb.reset("db").unwrap();

    fb.enable("db").unwrap();
    assert_eq!(svc.ready().await.unwrap().call("hi").await.unwrap(), "hi");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn by_default_ok_succeeds_and_err_melts() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(1, WINDOW)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = FuseService::new(counting(calls.clone()), fb.fuse("db").unwrap());

    assert_eq!(svc.ready().await.unwrap().call("a").await.unwrap(), "a");
    let err = svc.ready().await.unwrap().call("fail").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "down",
        "the inner error, boxed, not a refusal"
    );
    assert!(err.downcast_ref::<FuseboxError>().is_none());
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok, "one melt, max_melts 1");
    let _ = svc.ready().await.unwrap().call("fail").await.unwrap_err();
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown, "the second melt blows");
    let err = svc.ready().await.unwrap().call("a").await.unwrap_err();
    assert!(is_blown(&err, "db"));
    let snap = fb.state("db").unwrap();
    assert_eq!(snap.counters.successes, 1);
    assert_eq!(snap.counters.melts, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_closure_classifier_decides_what_melts() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, WINDOW)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    // "down" errors are the client's fault here: ignored; an Ok "slow" is a failure.
    let classify = |r: &Result<&'static str, &'static str>| match r {
        Err(_) => Outcome::Ignored,
        Ok("slow") => Outcome::Failure,
        Ok(_) => Outcome::Success,
    };
    let mut svc = FuseLayer::new(fb.fuse("db").unwrap())
        .classifier(classify)
        .layer(counting(calls));

    for _ in 0..5 {
        let _ = svc.ready().await.unwrap().call("fail").await.unwrap_err();
    }
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok, "ignored errors never melt");
    assert_eq!(fb.state("db").unwrap().counters.melts, 0);
    assert_eq!(
        svc.ready().await.unwrap().call("slow").await.unwrap(),
        "slow"
    );
    assert_eq!(
        fb.ask("db").unwrap(),
        Ask::Blown,
        "an Ok classified as failure melts"
    );
}

/// tower issue #794: clones of tower's `RateLimit` each kept a state of their
/// own. Clones of a FuseService, and services made by one layer, share one fuse.
#[tokio::test]
async fn clones_share_one_fuse() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(2, WINDOW)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = FuseLayer::new(fb.fuse("db").unwrap());
    let mut a = layer.layer(counting(calls.clone()));
    let mut b = a.clone();
    let mut c = layer.layer(counting(calls.clone())); // another service from the layer

    let _ = a.ready().await.unwrap().call("fail").await.unwrap_err();
    let _ = b.ready().await.unwrap().call("fail").await.unwrap_err();
    assert_eq!(fb.state("db").unwrap().melts_in_window, 2);
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    let _ = c.ready().await.unwrap().call("fail").await.unwrap_err();
    assert_eq!(
        fb.ask("db").unwrap(),
        Ask::Blown,
        "three melts through three services"
    );

    for svc in [&mut a, &mut b, &mut c] {
        let err = svc.ready().await.unwrap().call("x").await.unwrap_err();
        assert!(is_blown(&err, "db"));
    }
    let mut d = a.clone(); // a clone made after the blow sees it too
    assert!(is_blown(
        &d.ready().await.unwrap().call("x").await.unwrap_err(),
        "db"
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// A heal program probing with one slot: a response future dropped while it
/// holds the slot (a client that hung up) gives it back and melts nothing.
#[tokio::test]
async fn a_dropped_response_future_frees_its_probe_slot() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let heal = Heal::program([Step::Delay(Duration::from_secs(1)), Step::Probe(1)]);
    fb.install("db", FuseConfig::standard(0, WINDOW).heal(heal))
        .unwrap();
    fb.melt("db").unwrap();
    clock.advance(Duration::from_secs(1)); // now probing, one slot

    let (mock, mut handle) = tower_test::mock::pair::<&'static str, &'static str>();
    let mut svc = FuseLayer::new(fb.fuse("db").unwrap()).layer(mock);

    let mut first = svc.ready().await.unwrap().call("probe 1");
    assert!(
        poll_once(&mut first).is_pending(),
        "admitted, waiting on the inner service"
    );
    let (req, _never_answered) = handle.next_request().await.unwrap();
    assert_eq!(req, "probe 1");

    let mut second = svc.ready().await.unwrap().call("probe 2");
    match poll_once(&mut second) {
        Poll::Ready(Err(e)) => assert!(is_blown(&e, "db"), "{e}"),
        other => panic!("the only probe slot is taken, expected a refusal: {other:?}"),
    }

    drop(first); // the caller gives up
    assert_eq!(
        fb.state("db").unwrap().counters.melts,
        1,
        "a cancellation is not a melt"
    );

    let mut third = svc.ready().await.unwrap().call("probe 3");
    assert!(
        poll_once(&mut third).is_pending(),
        "the slot was given back"
    );
    let (req, reply) = handle.next_request().await.unwrap();
    assert_eq!(req, "probe 3");
    reply.send_response("fine");
    assert_eq!(third.await.unwrap(), "fine");
    assert_eq!(
        fb.state("db").unwrap().state,
        FuseState::Ok,
        "one probe success heals Probe(1)"
    );
}

#[tokio::test]
async fn poll_ready_is_the_inner_services() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, WINDOW)).unwrap();
    let (mock, mut handle) = tower_test::mock::pair::<(), ()>();
    let mut svc = FuseLayer::new(fb.fuse("db").unwrap()).layer(mock);
    handle.allow(0);
    let mut ready = std::pin::pin!(std::future::poll_fn(|cx| {
        Service::<()>::poll_ready(&mut svc, cx)
    }));
    assert!(poll_once(&mut ready).is_pending());
    handle.allow(1);
    assert!(matches!(poll_once(&mut ready), Poll::Ready(Ok(()))));
}

#[tokio::test]
async fn an_error_injected_by_chaos_is_not_a_refusal() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(5, WINDOW)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = FuseLayer::new(fb.fuse("db").unwrap()).layer(counting(calls.clone()));
    fb.set_chaos("db", fusebox::fuse::Chaos::new().error(1.0))
        .unwrap();
    let err = svc.oneshot("hi").await.unwrap_err();
    let e = err.downcast_ref::<FuseboxError>().expect("a FuseboxError");
    assert_eq!(e, &FuseboxError::Injected { fuse: "db".into() });
    assert!(!e.is_refusal());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
