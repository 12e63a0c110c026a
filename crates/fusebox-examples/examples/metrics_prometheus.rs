//! The `metrics` feature with a real exporter: fusebox publishes through the
//! [`metrics`](https://docs.rs/metrics) facade, and the application chooses
//! the recorder, here `metrics-exporter-prometheus`. The core never depends
//! on an exporter and never installs a recorder.
//!
//! A fuse is melted until it blows and then refuses; a valve serves, queues
//! and refuses a few tasks; the Prometheus text of it all is printed.
//!
//! ```sh
//! cargo run -p fusebox-examples --example metrics_prometheus
//! ```

use std::thread;
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox, Heal, Refused, RunError, ValveConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// `pub(crate)`: `tests/examples.rs` runs this example too.
pub(crate) fn main() {
    // The application's choice of recorder. `install_recorder` keeps the
    // exporter off the network: the handle renders the text on demand, as a
    // service's own `/metrics` handler would. (Installed after the Fusebox
    // was built, it would receive everything from the next tick all the same.)
    // Buckets make the valve's waiting and service times Prometheus
    // histograms (without them this exporter renders summaries).
    let buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
        .expect("buckets given")
        .install_recorder()
        .expect("no other recorder installed");

    // Published every 100 ms by the Fusebox's timer, and on demand below.
    let fb = Fusebox::builder()
        .metrics_interval(Duration::from_millis(100))
        .build();

    // A fuse: more than 2 failures within 10 s blow it.
    fb.install(
        "card-gateway",
        FuseConfig::standard(2, Duration::from_secs(10)).heal(Heal::reset(Duration::from_secs(60))),
    )
    .expect("a valid config");
    let gateway = fb.fuse("card-gateway").expect("installed");
    let _ = gateway.run(|| Ok::<_, &str>("charged"));
    for attempt in 1..=5 {
        match gateway.run(|| Err::<(), _>("gateway timeout")) {
            Err(RunError::Failed(e)) => println!("attempt {attempt}: failed ({e}), melted"),
            Err(RunError::Blown) => println!("attempt {attempt}: refused, the fuse is blown"),
            other => println!("attempt {attempt}: {other:?}"),
        }
    }

    // A valve: one task at a time, one may wait.
    fb.install_valve("cart", ValveConfig::new().concurrency(1).queue(1))
        .expect("a valid config");
    let cart = fb.valve("cart").expect("installed");
    let running = cart.try_acquire().expect("a free slot");
    let waiter = {
        let cart = cart.clone();
        thread::spawn(move || cart.run_blocking(|| thread::sleep(Duration::from_millis(5))))
    };
    while cart.queued() == 0 {
        thread::yield_now(); // until the waiter stands in the queue
    }
    assert_eq!(cart.try_acquire().unwrap_err(), Refused::Busy);
    assert_eq!(cart.acquire_blocking().unwrap_err(), Refused::QueueFull);
    thread::sleep(Duration::from_millis(20)); // the waiter's sojourn
    drop(running);
    waiter.join().expect("no panic").expect("served");

    fb.publish_metrics();
    let text = prometheus.render();
    println!("\n# the fusebox_* lines of the Prometheus text:");
    for line in text.lines().filter(|l| l.contains("fusebox_")) {
        println!("{line}");
    }

    assert!(text.contains(r#"fusebox_fuse_blows_total{fuse="card-gateway"} 1"#));
    assert!(text.contains(r#"fusebox_fuse_state{fuse="card-gateway"} 1"#));
    assert!(text.contains(r#"fusebox_valve_admitted_total{valve="cart"} 2"#));
    assert!(text.contains(r#"fusebox_valve_refused_total{valve="cart",reason="busy"} 1"#));
    assert!(text.contains(r#"fusebox_valve_sojourn_seconds_count{valve="cart"} 2"#));
}
