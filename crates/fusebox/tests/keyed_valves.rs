//! Keyed valves on a manual clock: creation from the template, independent
//! limits per key, eviction after idle at exact times, never while a
//! permit is held or a task waits, the bound on keys, and a threaded test
//! of eviction racing acquisition. Also the bound on keyed fuses.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::keyed::{KeyedBuilder, KeyedFuses, KeyedValves};
use fusebox::{Ask, FuseConfig, Fusebox, ManualClock, Refused, ValveConfig};

const SEC: Duration = Duration::from_secs(1);

fn manual() -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    (fb, clock)
}

/// Two at a time and one waiting per tenant; forgotten after 10 s idle;
/// swept every second.
fn tenants(fb: &Fusebox, config: ValveConfig) -> KeyedValves<String> {
    KeyedBuilder::new(config)
        .idle_ttl(10 * SEC)
        .sweep_every(SEC)
        .build(fb, "tenants")
        .unwrap()
}

fn two() -> ValveConfig {
    ValveConfig::new().concurrency(2).queue(1)
}

#[test]
fn created_on_first_use_from_the_template() {
    let (fb, _clock) = manual();
    let t = tenants(&fb, two());
    assert_eq!(t.stats().keys, 0);
    assert!(t.snapshot("acme").is_none());
    let a = t.try_acquire("acme").unwrap();
    let b = t.try_acquire("acme").unwrap();
    assert_eq!(t.try_acquire("acme").unwrap_err(), Refused::Busy);
    let snap = t.snapshot("acme").unwrap();
    assert_eq!(snap.name, "tenants/acme");
    assert_eq!((snap.concurrency, snap.in_flight), (2, 2));
    assert_eq!(snap.config.queue, 1, "the template's queue");
    // Another key has limits of its own.
    let c = t.try_acquire("globex").unwrap();
    assert_eq!(t.stats().keys, 2);
    assert_eq!(t.stats().live, 2, "a valve key always holds its valve");
    assert_eq!(t.stats().promotions, 2);
    drop((a, b, c));
    assert_eq!(t.snapshot("acme").unwrap().in_flight, 0);
    assert!(fb.valve("tenants/acme").is_none(), "not in the registry");
}

#[test]
fn an_idle_key_is_evicted_at_the_first_sweep_after_its_ttl() {
    let (fb, clock) = manual();
    let t = tenants(&fb, two());
    drop(t.try_acquire("acme").unwrap()); // used at 0
    clock.advance(9 * SEC);
    assert_eq!(t.stats().keys, 1, "idle 9 s < 10 s");
    clock.advance(SEC); // the sweep at 10 s
    assert_eq!(t.stats().keys, 0);
    assert_eq!(t.stats().evictions, 1);
    // The next use starts afresh from the template.
    assert_eq!(t.run_blocking("acme", || 7), Ok(7));
    assert_eq!(t.stats().promotions, 2);
    assert_eq!(t.snapshot("acme").unwrap().admitted, 1, "a fresh valve");
}

#[test]
fn a_held_permit_keeps_the_key() {
    let (fb, clock) = manual();
    let t = tenants(&fb, two());
    let p = t.try_acquire("acme").unwrap();
    clock.advance(100 * SEC);
    assert_eq!(t.stats().keys, 1, "a permit is held");
    assert_eq!(t.snapshot("acme").unwrap().in_flight, 1);
    drop(p);
    // The release is no use: the key, unused for 100 s, goes at the next
    // sweep.
    clock.advance(SEC);
    assert_eq!(t.stats().keys, 0);
    assert_eq!(t.stats().evictions, 1);
}

#[test]
fn a_waiting_task_keeps_the_key() {
    let (fb, clock) = manual();
    // One token per 1000 s: the second task waits, with no permit held.
    let t = tenants(
        &fb,
        ValveConfig::new()
            .concurrency(8)
            .rate(1, 1_000 * SEC)
            .queue(4),
    );
    drop(t.try_acquire("acme").unwrap());
    let mut waiting = Box::pin(t.acquire("acme"));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    let snap = t.snapshot("acme").unwrap();
    assert_eq!((snap.in_flight, snap.queued), (0, 1));
    clock.advance(100 * SEC);
    assert_eq!(t.stats().keys, 1, "a task waits");
    drop(waiting); // leaves the queue
    assert_eq!(t.snapshot("acme").unwrap().queued, 0);
    clock.advance(SEC);
    assert_eq!(t.stats().keys, 0);
}

#[test]
fn a_full_family_refuses_new_keys() {
    let (fb, clock) = manual();
    let t: KeyedValves<String> = KeyedBuilder::new(two())
        .idle_ttl(10 * SEC)
        .sweep_every(SEC)
        .max_keys(2)
        .build(&fb, "tenants")
        .unwrap();
    drop(t.try_acquire("a").unwrap());
    let held = t.try_acquire("b").unwrap();
    assert_eq!(t.try_acquire("c").unwrap_err(), Refused::TooManyKeys);
    assert_eq!(t.run_blocking("c", || ()), Err(Refused::TooManyKeys));
    assert!(t.try_acquire("a").is_ok(), "a key held is served");
    assert_eq!((t.stats().keys, t.stats().full), (2, 2));
    clock.advance(10 * SEC); // "a" goes; "b" holds a permit
    assert_eq!(t.stats().keys, 1);
    assert!(t.try_acquire("c").is_ok(), "room again");
    assert_eq!(t.stats().keys, 2);
    drop(held);
    assert!(KeyedBuilder::new(two())
        .max_keys(0)
        .build::<String>(&fb, "zero")
        .is_err());
}

#[test]
fn a_full_keyed_fuse_family_answers_new_keys_as_fresh_fuses() {
    let (fb, _clock) = manual();
    let h: KeyedFuses<String> = KeyedBuilder::new(FuseConfig::standard(0, 10 * SEC))
        .max_keys(1)
        .build(&fb, "hosts")
        .unwrap();
    h.melt("a");
    assert_eq!(h.ask("a"), Ask::Blown);
    assert_eq!(h.ask("b"), Ask::Ok, "no room: answered as a fresh fuse");
    h.melt("b");
    assert_eq!(h.ask("b"), Ask::Ok, "its melts are not recorded");
    assert_eq!(h.run("b", || Ok::<_, ()>(1)), Ok(1));
    let s = h.stats();
    assert_eq!((s.keys, s.full), (1, 4));
}

#[test]
fn async_run_and_the_template_guard() {
    let (fb, _clock) = manual();
    fb.install("upstream", FuseConfig::standard(0, 10 * SEC))
        .unwrap();
    let t = tenants(&fb, two().guard("upstream"));
    let mut cx = Context::from_waker(Waker::noop());
    let mut run = Box::pin(t.run("acme", async { 42 }));
    assert_eq!(run.as_mut().poll(&mut cx), Poll::Ready(Ok(42)));
    fb.melt("upstream").unwrap(); // blows the guard of every key
    assert_eq!(t.try_acquire("acme").unwrap_err(), Refused::Blown);
    assert_eq!(t.try_acquire("other").unwrap_err(), Refused::Blown);
    assert!(KeyedBuilder::new(two().guard("nope"))
        .build::<String>(&fb, "bad")
        .is_err());
}

/// Threads acquire a few keys while the sweep, with a TTL of one tick,
/// retires them as fast as it can: a key never runs more than its limit at
/// once (a valve retired with a permit held would let a fresh one admit a
/// second task), and no acquisition is refused but for `Busy`.
#[test]
fn eviction_racing_acquisition_keeps_the_limit() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let t: KeyedValves<u32> = KeyedBuilder::new(ValveConfig::new().concurrency(1).queue(0))
        .idle_ttl(Duration::from_nanos(1))
        .sweep_every(Duration::from_nanos(1))
        .build(&fb, "race")
        .unwrap();
    let running: Arc<[AtomicUsize; 2]> = Arc::new(Default::default());
    let workers: Vec<_> = (0..4u32)
        .map(|w| {
            let (t, running) = (t.clone(), running.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                // Until the sweep has evicted often enough to race us.
                while i < 20_000 || t.stats().evictions < 200 {
                    i += 1;
                    let key = (i + w) % 2;
                    match t.try_acquire(&key) {
                        Ok(p) => {
                            let n = running[key as usize].fetch_add(1, Ordering::SeqCst);
                            assert_eq!(n, 0, "key {key} ran two at once");
                            std::hint::spin_loop();
                            running[key as usize].fetch_sub(1, Ordering::SeqCst);
                            drop(p);
                        }
                        Err(Refused::Busy) => {}
                        Err(e) => panic!("refused: {e}"),
                    }
                }
            })
        })
        .collect();
    // Until every worker is done (or one panicked: then its join fails).
    while !workers.iter().all(|w| w.is_finished()) {
        clock.advance(Duration::from_nanos(1));
        t.sweep();
    }
    for w in workers {
        w.join().unwrap();
    }
    let s = t.stats();
    assert!(s.evictions >= 200, "{s:?}");
    assert_eq!(s.promotions, s.evictions + s.keys as u64);
}
