//! The valve layer at the tower level: both modes, clones, cancellation.
//! Inner services are tower-test mocks, answered by the test.

mod support;

use std::future::poll_fn;
use std::task::Poll;

use fusebox::{Fusebox, Refused, Valve, ValveConfig};
use fusebox_tower::{BoxError, FuseboxError, Mode, ValveLayer, ValveService};
use support::poll_once;
use tower::{Layer, Service, ServiceExt};
use tower_test::mock::{self, Mock};

type Svc = ValveService<Mock<&'static str, &'static str>>;

fn valve(concurrency: usize, queue: usize) -> (Fusebox, Valve) {
    let fb = Fusebox::new();
    fb.install_valve(
        "api",
        ValveConfig::new().concurrency(concurrency).queue(queue),
    )
    .unwrap();
    let v = fb.valve("api").unwrap();
    (fb, v)
}

fn refusal(err: &BoxError) -> Option<Refused> {
    match err.downcast_ref::<FuseboxError>() {
        Some(FuseboxError::Refused { valve, reason }) if &**valve == "api" => Some(*reason),
        _ => None,
    }
}

/// One poll of `svc.poll_ready`.
fn ready_once(svc: &mut Svc) -> Poll<Result<(), BoxError>> {
    let mut f = std::pin::pin!(poll_fn(|cx| Service::<&'static str>::poll_ready(svc, cx)));
    poll_once(&mut f)
}

#[tokio::test]
async fn reject_mode_refuses_at_once_when_busy() {
    let (_fb, api) = valve(1, 8);
    let (mock, mut handle) = mock::pair::<&'static str, &'static str>();
    let mut svc = ValveLayer::reject(api.clone()).layer(mock);
    assert_eq!(svc.mode(), Mode::Reject);

    let held = api.try_acquire().unwrap();
    let err = svc.ready().await.unwrap().call("x").await.unwrap_err();
    assert_eq!(refusal(&err), Some(Refused::Busy));
    assert_eq!(err.to_string(), "valve \"api\" refused the request: busy");
    assert!(
        matches!(handle.poll_request(), Poll::Pending),
        "inner service not called"
    );
    assert_eq!(api.queued(), 0, "reject mode never queues");
    drop(held);

    let fut = svc.ready().await.unwrap().call("y");
    let (req, reply) = handle.next_request().await.unwrap();
    assert_eq!(req, "y");
    reply.send_response("ok");
    assert_eq!(fut.await.unwrap(), "ok");
}

#[tokio::test]
async fn the_permit_is_held_until_the_response_is_ready() {
    let (_fb, api) = valve(2, 0);
    let (mock, mut handle) = mock::pair::<&'static str, &'static str>();
    let mut svc = ValveLayer::reject(api.clone()).layer(mock);

    let a = svc.ready().await.unwrap().call("a");
    let b = svc.ready().await.unwrap().call("b");
    assert_eq!(api.in_flight(), 2);
    let err = svc.ready().await.unwrap().call("c").await.unwrap_err();
    assert_eq!(refusal(&err), Some(Refused::Busy), "the third of two");

    let (_, reply_a) = handle.next_request().await.unwrap();
    let (_, reply_b) = handle.next_request().await.unwrap();
    reply_a.send_response("A");
    assert_eq!(a.await.unwrap(), "A");
    assert_eq!(api.in_flight(), 1);
    reply_b.send_error("boom");
    assert_eq!(
        b.await.unwrap_err().to_string(),
        "boom",
        "an inner error passes through"
    );
    assert_eq!(api.in_flight(), 0);
}

#[tokio::test]
async fn wait_mode_waits_in_poll_ready_and_the_permit_goes_into_the_call() {
    let (_fb, api) = valve(1, 4);
    let (mock, mut handle) = mock::pair::<&'static str, &'static str>();
    let mut first = ValveLayer::wait(api.clone()).layer(mock);
    let mut second = first.clone();

    assert!(matches!(ready_once(&mut first), Poll::Ready(Ok(()))));
    assert_eq!(api.in_flight(), 1, "poll_ready took the permit");
    let fut = first.call("a");

    assert!(ready_once(&mut second).is_pending(), "no slot: waits");
    assert_eq!(api.queued(), 1);

    let (_, reply) = handle.next_request().await.unwrap();
    reply.send_response("A");
    assert_eq!(fut.await.unwrap(), "A");
    assert!(
        matches!(ready_once(&mut second), Poll::Ready(Ok(()))),
        "the freed slot went to the waiter"
    );
    assert_eq!((api.in_flight(), api.queued()), (1, 0));
    let fut = second.call("b");
    let (_, reply) = handle.next_request().await.unwrap();
    reply.send_response("B");
    assert_eq!(fut.await.unwrap(), "B");
    assert_eq!(api.in_flight(), 0);
}

#[tokio::test]
async fn a_clone_does_not_share_the_held_permit() {
    let (_fb, api) = valve(1, 4);
    let (mock, _handle) = mock::pair::<&'static str, &'static str>();
    let mut holder = ValveLayer::wait(api.clone()).layer(mock);
    assert!(matches!(ready_once(&mut holder), Poll::Ready(Ok(()))));

    let mut clone = holder.clone();
    assert!(
        ready_once(&mut clone).is_pending(),
        "the clone starts without a permit"
    );
    assert_eq!((api.in_flight(), api.queued()), (1, 1));

    drop(holder); // a readied service dropped unused frees its permit
    assert!(matches!(ready_once(&mut clone), Poll::Ready(Ok(()))));
    assert_eq!((api.in_flight(), api.queued()), (1, 0));
}

#[tokio::test]
async fn wait_mode_refusals_come_from_poll_ready() {
    let (_fb, api) = valve(1, 0);
    let (mock, _handle) = mock::pair::<&'static str, &'static str>();
    let mut svc = ValveLayer::wait(api.clone()).layer(mock);
    let _held = api.try_acquire().unwrap();
    match ready_once(&mut svc) {
        Poll::Ready(Err(e)) => assert_eq!(refusal(&e), Some(Refused::QueueFull)),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The refusal was this request's: the service can try again.
    assert!(matches!(ready_once(&mut svc), Poll::Ready(Err(_))));
}

#[tokio::test]
async fn a_dropped_response_future_frees_the_slot() {
    for mode in [Mode::Reject, Mode::Wait] {
        let (_fb, api) = valve(1, 4);
        let (mock, mut handle) = mock::pair::<&'static str, &'static str>();
        let mut svc = ValveLayer::new(api.clone(), mode).layer(mock);
        let mut fut = svc.ready().await.unwrap().call("a");
        assert!(poll_once(&mut fut).is_pending());
        let _request = handle.next_request().await.unwrap();
        assert_eq!(api.in_flight(), 1, "{mode:?}");
        drop(fut);
        assert_eq!(api.in_flight(), 0, "{mode:?}: dropped, freed");
        assert!(api.try_acquire().is_ok());
    }
}

#[tokio::test]
async fn a_service_dropped_while_waiting_leaves_the_queue() {
    let (_fb, api) = valve(1, 4);
    let (mock, _handle) = mock::pair::<&'static str, &'static str>();
    let held = api.try_acquire().unwrap();
    let mut svc = ValveLayer::wait(api.clone()).layer(mock);
    assert!(ready_once(&mut svc).is_pending());
    assert_eq!(api.queued(), 1);
    drop(svc);
    assert_eq!(api.queued(), 0);
    drop(held);
    assert_eq!(api.in_flight(), 0, "no slot granted to the dropped waiter");
}
