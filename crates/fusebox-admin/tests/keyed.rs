//! Keyed families over HTTP: `/api/keyed`, `/api/keyed/{family}` with its
//! bounded `?top=`, `keyed` in `/api/snapshot`, and `/metrics` bounded with
//! thousands of keys blown.

mod support;

use std::time::Duration;

use fusebox::keyed::{KeyedBuilder, KeyedFuses, KeyedValves, MAX_TOP_KEYS, TOP_KEYS};
use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, ValveConfig};
use hyper::StatusCode;
use support::start;

const SEC: Duration = Duration::from_secs(1);

struct Families {
    hosts: KeyedFuses<String>,
    tenants: KeyedValves<String>,
}

/// `hosts`: blows at the first melt, heals 30 s after; `tenants`: one task
/// at a time per key, no queue.
fn families(fb: &Fusebox) -> Families {
    let hosts = KeyedBuilder::new(FuseConfig::standard(0, 10 * SEC).heal(Heal::reset(30 * SEC)))
        .build(fb, "hosts")
        .unwrap();
    let tenants = KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
        .build(fb, "tenants")
        .unwrap();
    Families { hosts, tenants }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_families_with_their_counts_and_top_keys() {
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    let f = families(&fb);
    assert_eq!(f.hosts.ask("a.example"), Ask::Ok);
    f.hosts.melt("b.example");
    for _ in 0..3 {
        assert_eq!(f.hosts.ask("b.example"), Ask::Blown);
    }
    f.hosts.disable("c.example");
    let held = f.tenants.try_acquire("acme").unwrap();
    assert!(f.tenants.try_acquire("acme").is_err());
    let s = start(fb).await;

    let r = s.get("/api/keyed").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    let v = r.json();
    let names = support::names(&v);
    assert_eq!(names, ["hosts", "tenants"]);
    let hosts = &v[0];
    assert_eq!(hosts["kind"], "fuses");
    assert_eq!(hosts["states"]["ok"], 1);
    assert_eq!(hosts["states"]["blown"], 1);
    assert_eq!(hosts["states"]["disabled"], 1);
    assert_eq!(hosts["stats"]["keys"], 3);
    assert_eq!(hosts["totals"]["refused"], 3);
    assert_eq!(hosts["totals"]["blows"], 1);
    assert_eq!(hosts["config"]["idle_ttl"], "5m");
    assert_eq!(hosts["config"]["fuse"]["strategy"]["max_melts"], 0);
    assert_eq!(hosts["top"][0]["key"], "b.example");
    assert_eq!(hosts["top"][0]["state"], "blown");
    assert_eq!(hosts["top"][0]["refused"], 3);
    assert_eq!(hosts["top"][0]["next_heal"], "30s");
    assert_eq!(hosts["top"][1]["key"], "c.example");
    assert_eq!(hosts["top"][1]["state"], "disabled");
    let tenants = &v[1];
    assert_eq!(tenants["kind"], "valves");
    assert_eq!(tenants["states"]["busy"], 1);
    assert_eq!(tenants["totals"]["admitted"], 1);
    assert_eq!(tenants["totals"]["refusals"]["busy"], 1);
    assert_eq!(tenants["totals"]["in_flight"], 1);
    assert_eq!(tenants["top"][0]["key"], "acme");

    // The snapshot carries the same list.
    let snap = s.get("/api/snapshot").await.json();
    assert_eq!(snap["keyed"], v);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_family_answers_a_bounded_top() {
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    let f = families(&fb);
    for i in 0..150 {
        f.hosts.melt(&format!("h{i:03}"));
    }
    let s = start(fb).await;
    let top = |v: &serde_json::Value| v["top"].as_array().unwrap().len();
    let v = s.get("/api/keyed/hosts").await.json();
    assert_eq!(v["name"], "hosts");
    assert_eq!(top(&v), TOP_KEYS);
    assert_eq!(v["top"][0]["key"], "h000", "ties by name");
    assert_eq!(top(&s.get("/api/keyed/hosts?top=3").await.json()), 3);
    assert_eq!(top(&s.get("/api/keyed/hosts?top=0").await.json()), 0);
    let most = s
        .get(&format!("/api/keyed/hosts?top={MAX_TOP_KEYS}"))
        .await
        .json();
    assert_eq!(top(&most), MAX_TOP_KEYS);
    assert_eq!(most["states"]["blown"], 150);
    // Beyond the bound, or not a number: 400 saying so.
    let e = s
        .get(&format!("/api/keyed/hosts?top={}", MAX_TOP_KEYS + 1))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(e["detail"].as_str().unwrap().contains("top must be"), "{e}");
    s.get("/api/keyed/hosts?top=x")
        .await
        .error(StatusCode::BAD_REQUEST);
    // Unknown and impossible names.
    let e = s.get("/api/keyed/nope").await.error(StatusCode::NOT_FOUND);
    assert_eq!(e["error"], "keyed family not found");
    assert_eq!(e["name"], "nope");
    s.get("/api/keyed/a%0Ab")
        .await
        .error(StatusCode::BAD_REQUEST);
    s.get(&format!("/api/keyed/{}", "x".repeat(300)))
        .await
        .error(StatusCode::BAD_REQUEST);
    // Percent-encoded names are decoded.
    assert_eq!(s.get("/api/keyed/h%6Fsts").await.json()["name"], "hosts");
    // A family whose last clone is gone is gone.
    drop(f);
    s.get("/api/keyed/hosts").await.error(StatusCode::NOT_FOUND);
    assert_eq!(s.get("/api/keyed").await.json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_stay_bounded_with_thousands_of_keys_blown() {
    let fb = Fusebox::builder().clock(ManualClock::new()).build();
    let f = families(&fb);
    let s = start(fb).await;
    let keyed_lines = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("fusebox_keyed_"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let none = keyed_lines(s.get("/metrics").await.text());
    for i in 0..5_000 {
        f.hosts.melt(&format!("h{i}"));
        let key = format!("t{i}");
        let _held = f.tenants.try_acquire(&key).unwrap();
        assert!(f.tenants.try_acquire(&key).is_err());
    }
    let text = s.get("/metrics").await.text().to_owned();
    let many = keyed_lines(&text);
    assert_eq!(many.len(), none.len() + 2 * TOP_KEYS, "{many:#?}");
    assert!(many.contains(&r#"fusebox_keyed_keys{family="hosts",state="blown"} 5000"#.to_owned()));
    assert!(many.contains(&r#"fusebox_keyed_fuse_blows_total{family="hosts"} 5000"#.to_owned()));
    assert!(many.contains(
        &r#"fusebox_keyed_valve_refused_total{family="tenants",reason="busy"} 5000"#.to_owned()
    ));
    assert!(
        many.contains(&r#"fusebox_keyed_top_key_refused{family="hosts",key="h0"} 0"#.to_owned())
    );
    assert!(text.contains("# TYPE fusebox_keyed_top_key_refused gauge\n"));
}
