//! The keyed fuse layer: one fuse per key of the request, independent keys,
//! refusals that name the key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fusebox::keyed::{KeyedBuilder, KeyedFuses};
use fusebox::{Ask, FuseConfig, Fusebox, ManualClock};
use fusebox_tower::keyed::KeyedFuseLayer;
use fusebox_tower::FuseboxError;
use tower::{service_fn, Layer, ServiceExt};

/// A request: the host it is for, and whether the host fails it.
type Req = (&'static str, bool);

#[tokio::test]
async fn each_host_has_its_own_fuse() {
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    let hosts: KeyedFuses<String> =
        KeyedBuilder::new(FuseConfig::standard(0, Duration::from_secs(10)))
            .build(&fb, "hosts")
            .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let inner = service_fn(move |(_, fail): Req| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            if fail {
                Err(std::io::Error::other("down"))
            } else {
                Ok("ok")
            }
        }
    });
    let svc = KeyedFuseLayer::new(hosts.clone(), |r: &Req| r.0.to_string()).layer(inner);

    assert!(svc.clone().oneshot(("a", true)).await.is_err()); // melts a, blows it
    assert_eq!(hosts.ask("a"), Ask::Blown);
    let err = svc.clone().oneshot(("a", false)).await.unwrap_err();
    match err.downcast_ref::<FuseboxError>() {
        Some(FuseboxError::Blown { fuse }) => assert_eq!(&**fuse, "hosts/a"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a refusal never reaches the host"
    );
    assert_eq!(svc.clone().oneshot(("b", false)).await.unwrap(), "ok");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
