//! The `tracing` feature: which events, at which level, under which target.
//! A minimal subscriber of our own records them (the library depends on no
//! subscriber, and neither does this test).
#![cfg(all(feature = "tracing", not(loom)))]

#[path = "support/watchdog.rs"]
mod watchdog;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox, Heal, ManualClock, ValveConfig};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const SEC: Duration = Duration::from_secs(1);

/// Every event as (level, target, message).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut m = Message(String::new());
        e.record(&mut m);
        let meta = e.metadata();
        self.0
            .lock()
            .unwrap()
            .push((*meta.level(), meta.target().to_string(), m.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn blows_warn_heals_inform_melts_debug_and_asks_say_nothing() {
    let _watch = watchdog::watchdog(
        "tracing_events::blows_warn_heals_inform_melts_debug_and_asks_say_nothing",
        std::time::Duration::from_secs(30),
    );
    let rec = Recorder::default();
    let seen = rec.0.clone();
    tracing::subscriber::with_default(rec, || {
        let clock = ManualClock::new();
        let fb = Fusebox::builder()
            .clock(clock.clone())
            .alarm_period(1_000 * SEC)
            .build();
        fb.install(
            "db",
            FuseConfig::standard(0, 10 * SEC).heal(Heal::reset(5 * SEC)),
        )
        .unwrap();
        for _ in 0..1_000 {
            let _ = fb.ask("db").unwrap(); // nothing per ask
        }
        fb.melt("db").unwrap();
        clock.advance(5 * SEC); // heals
        fb.disable("db").unwrap();
        fb.install_valve("api", ValveConfig::new()).unwrap();
    });
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(_, target, _)| target == "fusebox"),
        "{seen:#?}"
    );
    let log: Vec<(Level, &str)> = seen.iter().map(|(l, _, m)| (*l, m.as_str())).collect();
    assert_eq!(
        log,
        [
            (Level::INFO, "fuse db: absent -> ok (install)"),
            (Level::WARN, "fuse db is blown (melt)"),
            (Level::DEBUG, "melt on fuse db"),
            (Level::INFO, "fuse db: blown -> ok (heal)"),
            (Level::WARN, "fuse db is disabled (disable)"),
            (Level::INFO, "valve api: Installed"),
        ]
    );
}
