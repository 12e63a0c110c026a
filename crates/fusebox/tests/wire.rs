//! The wire vocabulary reads what it writes: a snapshot and the events of a
//! scenario with blows, heal steps, alarms and valve traffic, serialised to
//! JSON and read back into the same types, give the same JSON. The CLI and
//! the dashboard read exactly these shapes.

#[path = "support/watchdog.rs"]
mod watchdog;

use std::time::Duration;

use fusebox::event::Event;
use fusebox::{FuseConfig, Fusebox, Heal, ManualClock, Snapshot, Step, ValveConfig};

const SEC: Duration = Duration::from_secs(1);

fn scenario() -> (Fusebox, ManualClock, fusebox::event::Subscription) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(SEC)
        .build();
    let events = fb.subscribe();
    fb.install("ok", FuseConfig::standard(5, SEC)).unwrap();
    let heal = Heal::program([Step::Delay(SEC), Step::Gradual(0.5), Step::Delay(SEC)]);
    fb.install("flaky", FuseConfig::standard(0, SEC).heal(heal))
        .unwrap();
    fb.install("off", FuseConfig::standard(0, SEC)).unwrap();
    fb.disable("off").unwrap();
    fb.melt("flaky").unwrap();
    clock.advance(SEC + Duration::from_millis(1));
    fb.install_valve("api", ValveConfig::new().concurrency(1).queue(1))
        .unwrap();
    let api = fb.valve("api").unwrap();
    let held = api.try_acquire().unwrap();
    assert!(api.try_acquire().is_err());
    drop(held);
    (fb, clock, events)
}

#[test]
fn a_snapshot_reads_back_as_it_was_written() {
    let _watch = watchdog::watchdog(
        "wire::a_snapshot_reads_back_as_it_was_written",
        std::time::Duration::from_secs(30),
    );
    let (fb, _clock, _events) = scenario();
    let snap = fb.snapshot();
    assert!(!snap.alarms.is_empty(), "the scenario raises an alarm");
    assert!(snap.fuses.iter().any(|f| f.next_heal.is_none()));
    assert!(snap.fuses.iter().any(|f| f.heal_step.is_some()));
    let json = serde_json::to_string(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.fuses, snap.fuses);
    assert_eq!(back.alarms, snap.alarms);
}

#[test]
fn events_read_back_as_they_were_written() {
    let _watch = watchdog::watchdog(
        "wire::events_read_back_as_they_were_written",
        std::time::Duration::from_secs(30),
    );
    let (_fb, _clock, events) = scenario();
    let mut seen = 0;
    while let Ok(e) = events.try_recv() {
        let json = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e, "{json}");
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} events");
}
