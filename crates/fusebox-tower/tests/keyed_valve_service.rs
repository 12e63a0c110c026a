//! The keyed valve layer: one valve per key of the request, independent
//! limits, refusals that name the key's valve, permits freed with the
//! response, a full family refused.

use std::time::Duration;

use fusebox::keyed::{KeyedBuilder, KeyedValves};
use fusebox::{Fusebox, ManualClock, Refused, ValveConfig};
use fusebox_tower::keyed::KeyedValveLayer;
use fusebox_tower::FuseboxError;
use tower::{service_fn, Layer, ServiceExt};

/// A request: the tenant it is for.
type Req = &'static str;

fn refusal(err: &fusebox_tower::BoxError) -> (String, Refused) {
    match err.downcast_ref::<FuseboxError>() {
        Some(FuseboxError::Refused { valve, reason }) => (valve.to_string(), *reason),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn each_tenant_has_its_own_valve() {
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    let tenants: KeyedValves<String> =
        KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
            .max_keys(2)
            .idle_ttl(Duration::from_secs(60))
            .build(&fb, "tenants")
            .unwrap();
    let seen = tenants.clone();
    let inner = service_fn(move |t: Req| {
        // The request holds its key's permit while the inner service runs.
        let in_flight = seen.snapshot(t).map_or(0, |s| s.in_flight);
        async move {
            assert_eq!(in_flight, 1, "{t} runs under its permit");
            Ok::<_, std::io::Error>(t.len())
        }
    });
    let svc = KeyedValveLayer::new(tenants.clone(), |t: &Req| t.to_string()).layer(inner);

    assert_eq!(svc.clone().oneshot("acme").await.unwrap(), 4);
    assert_eq!(
        tenants.snapshot("acme").unwrap().in_flight,
        0,
        "freed with the response"
    );
    let held = tenants.try_acquire("acme").unwrap(); // acme's only slot
    let err = svc.clone().oneshot("acme").await.unwrap_err();
    assert_eq!(refusal(&err), ("tenants/acme".into(), Refused::QueueFull));
    assert_eq!(
        svc.clone().oneshot("globex").await.unwrap(),
        6,
        "its own slot"
    );
    let err = svc.clone().oneshot("initech").await.unwrap_err();
    assert_eq!(
        refusal(&err),
        ("tenants/initech".into(), Refused::TooManyKeys)
    );
    drop(held);
    assert_eq!(svc.oneshot("acme").await.unwrap(), 4);
    assert_eq!(tenants.snapshot("acme").unwrap().admitted, 3);
}
