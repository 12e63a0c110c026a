//! Keyed fuses on a manual clock: creation from the template, independence
//! of keys, eviction after idle at exact times, blown keys kept while they
//! matter, the sweep's bound, and a threaded stress test.

use std::time::Duration;

use fusebox::keyed::{KeyedBuilder, KeyedFuses};
use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, RunError, Strategy};

const SEC: Duration = Duration::from_secs(1);

fn manual() -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    (fb, clock)
}

/// Blows on the second melt in 10 s, heals 1 s after the blow; forgotten
/// after 10 s idle; swept every second.
fn hosts(fb: &Fusebox) -> KeyedFuses<String> {
    KeyedBuilder::new(FuseConfig::standard(1, 10 * SEC).heal(Heal::reset(SEC)))
        .idle_ttl(10 * SEC)
        .sweep_every(SEC)
        .build(fb, "hosts")
        .unwrap()
}

#[test]
fn created_on_first_use_from_the_template() {
    let (fb, _clock) = manual();
    let h = hosts(&fb);
    assert_eq!(h.stats().keys, 0);
    assert_eq!(h.ask("a"), Ask::Ok);
    assert_eq!(h.stats().keys, 1);
    assert_eq!(h.stats().live, 0, "a healthy key holds no engine");
    h.melt("a");
    assert_eq!(h.stats().live, 1);
    assert_eq!(h.ask("a"), Ask::Ok, "the template allows one melt");
    h.melt("a");
    assert_eq!(h.ask("a"), Ask::Blown);
    let snap = h.snapshot("a").unwrap();
    assert_eq!(&*snap.name, "hosts/a");
    assert_eq!(snap.config.strategy.max_melts(), Some(1));
}

#[test]
fn keys_are_independent() {
    let (fb, _clock) = manual();
    let h = hosts(&fb);
    h.melt("a");
    h.melt("a");
    assert_eq!(h.ask("a"), Ask::Blown);
    assert_eq!(h.ask("b"), Ask::Ok);
    h.melt("b");
    assert_eq!(h.ask("b"), Ask::Ok);
    assert_eq!(h.run("b", || Ok::<_, ()>(2)), Ok(2));
    assert_eq!(h.run("a", || Ok::<_, ()>(2)), Err(RunError::Blown));
}

#[test]
fn an_idle_key_is_evicted_at_the_first_sweep_after_its_ttl() {
    let (fb, clock) = manual();
    let h = hosts(&fb);
    assert_eq!(h.ask("a"), Ask::Ok); // last used at 0
    clock.advance(9 * SEC);
    assert_eq!(h.stats().keys, 1, "idle 9 s < 10 s");
    clock.advance(SEC); // the sweep at 10 s: idle for exactly the TTL
    assert_eq!(h.stats().keys, 0);
    assert_eq!(h.stats().evictions, 1);
}

#[test]
fn a_use_restarts_the_idle_time() {
    let (fb, clock) = manual();
    let h = hosts(&fb);
    assert_eq!(h.ask("a"), Ask::Ok);
    clock.advance(5 * SEC);
    assert_eq!(h.ask("a"), Ask::Ok); // used at 5 s
    clock.advance(9 * SEC); // 14 s
    assert_eq!(h.stats().keys, 1);
    clock.advance(SEC); // 15 s
    assert_eq!(h.stats().keys, 0);
}

#[test]
fn a_blown_key_is_kept_until_healed_for_the_ttl() {
    let (fb, clock) = manual();
    let h = hosts(&fb);
    h.melt("a");
    h.melt("a"); // blown at 0, heals at 1 s
    clock.advance(20 * SEC);
    // Idle 20 s, healed at 1 s, but the melts at 0 are in the window until
    // 10 s, so nothing kept it longer than heal + ttl = 11 s.
    assert_eq!(h.stats().keys, 0);

    // A key blown and kept blown by its heal program: a barrier.
    let locked: KeyedFuses<String> = KeyedBuilder::new(
        FuseConfig::standard(0, SEC).heal(Heal::program([fusebox::Step::Barrier])),
    )
    .idle_ttl(SEC)
    .sweep_every(SEC)
    .build(&fb, "locked")
    .unwrap();
    locked.melt("x");
    clock.advance(100 * SEC);
    assert_eq!(locked.ask("x"), Ask::Blown, "kept blown after 100 s idle");
    assert_eq!(locked.stats().keys, 1);
    locked.unlock("x"); // healed now: t0 + 100 s
    clock.advance(SEC - Duration::from_nanos(1));
    assert_eq!(locked.stats().keys, 1);
    clock.advance(SEC); // the next sweep, more than 1 s after the heal and the last use
    assert_eq!(
        locked.stats().keys,
        0,
        "healed and idle for the TTL: forgotten"
    );
}

#[test]
fn a_key_that_blew_is_kept_for_the_ttl_after_its_heal() {
    let (fb, clock) = manual();
    // Window 1 s, heal after 5 s, TTL 10 s.
    let h: KeyedFuses<String> =
        KeyedBuilder::new(FuseConfig::standard(0, SEC).heal(Heal::reset(5 * SEC)))
            .idle_ttl(10 * SEC)
            .sweep_every(SEC)
            .build(&fb, "h")
            .unwrap();
    h.melt("a"); // blown at 0, heals at 5 s
    clock.advance(14 * SEC);
    assert_eq!(h.stats().keys, 1, "healed at 5 s, 9 s ago");
    assert_eq!(h.stats().live, 1);
    clock.advance(SEC); // 15 s = heal + ttl
    assert_eq!(h.stats().keys, 0);
}

#[test]
fn a_disabled_key_is_never_evicted() {
    let (fb, clock) = manual();
    let h = hosts(&fb);
    h.disable("a");
    clock.advance(1000 * SEC);
    assert_eq!(h.ask("a"), Ask::Blown);
    h.enable("a");
    assert_eq!(h.ask("a"), Ask::Ok);
}

#[test]
fn a_healthy_engine_is_demoted_while_its_key_is_in_use() {
    let (fb, clock) = manual();
    let h = hosts(&fb);
    h.melt("a"); // one melt, not blown: an engine
    assert_eq!(h.stats().live, 1);
    for _ in 0..12 {
        clock.advance(SEC);
        assert_eq!(h.ask("a"), Ask::Ok);
    }
    // The melt left the window at 10 s; the sweep then gave the engine back.
    let st = h.stats();
    assert_eq!(
        (st.keys, st.live, st.promotions, st.demotions, st.evictions),
        (1, 0, 1, 1, 0)
    );
    // And the key still answers as the template would.
    h.melt("a");
    h.melt("a");
    assert_eq!(h.ask("a"), Ask::Blown);
}

#[test]
fn the_sweep_is_bounded() {
    let (fb, clock) = manual();
    let h: KeyedFuses<u64> = KeyedBuilder::new(FuseConfig::standard(0, SEC))
        .idle_ttl(SEC)
        .sweep_every(3600 * SEC)
        .sweep_budget(100)
        .build(&fb, "many")
        .unwrap();
    for k in 0..1000u64 {
        assert_eq!(h.ask(&k), Ask::Ok);
    }
    clock.advance(2 * SEC);
    let mut passes = 0;
    while h.stats().keys > 0 {
        assert!(h.sweep() <= 100);
        passes += 1;
        assert!(passes <= 20, "the cursor must move on");
    }
    assert_eq!(h.stats().evictions, 1000);
    assert!(passes >= 10, "1000 keys at 100 a sweep: {passes}");
}

#[test]
fn a_fresh_key_failure_counts_as_a_melt() {
    let (fb, _clock) = manual();
    let h = hosts(&fb);
    assert_eq!(h.run("a", || Err::<(), _>(1)), Err(RunError::Failed(1)));
    assert_eq!(h.run("a", || Err::<(), _>(2)), Err(RunError::Failed(2)));
    assert_eq!(h.ask("a"), Ask::Blown);
    assert_eq!(h.snapshot("a").unwrap().counters.melts, 2);
}

#[test]
fn a_panic_counts_as_a_failure() {
    let (fb, _clock) = manual();
    let h = hosts(&fb);
    for _ in 0..2 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.run("a", || -> Result<(), ()> { panic!("boom") })
        }));
        assert!(r.is_err());
    }
    assert_eq!(h.ask("a"), Ask::Blown);
}

#[test]
fn strategies_that_count_calls_get_an_engine_at_once() {
    let (fb, _clock) = manual();
    let h: KeyedFuses<String> =
        KeyedBuilder::new(FuseConfig::new(Strategy::failure_rate(0.5, 10 * SEC, 4)))
            .build(&fb, "rate")
            .unwrap();
    for _ in 0..2 {
        assert_eq!(h.run("a", || Ok::<_, ()>(())), Ok(()));
    }
    for _ in 0..2 {
        let _ = h.run("a", || Err::<(), _>(()));
    }
    assert_eq!(h.ask("a"), Ask::Blown, "2 of 4 failed: 0.5");
    assert_eq!(h.stats().live, 1);
}

#[test]
fn bad_settings_are_refused() {
    let fb = Fusebox::new();
    let b = || KeyedBuilder::new(FuseConfig::standard(0, SEC));
    let e = b()
        .idle_ttl(Duration::ZERO)
        .build::<u64>(&fb, "x")
        .unwrap_err();
    assert_eq!(e.field(), "keyed.idle_ttl");
    let e = b().sweep_budget(0).build::<u64>(&fb, "x").unwrap_err();
    assert_eq!(e.field(), "keyed.sweep_budget");
    let e = KeyedBuilder::new(FuseConfig::fault_injection(2.0, 1, SEC))
        .build::<u64>(&fb, "x")
        .unwrap_err();
    assert_eq!(e.field(), "strategy.rate");
}

/// Many threads on few keys, with the sweep racing them on a clock that
/// moves: every key must end where its own melts put it.
#[test]
fn threads_and_the_sweep_agree() {
    let (fb, clock) = manual();
    // Never heals on its own within the test: a blow is final.
    let h: KeyedFuses<u64> =
        KeyedBuilder::new(FuseConfig::standard(3, 3600 * SEC).heal(Heal::reset(3600 * SEC)))
            .idle_ttl(Duration::from_millis(1))
            .sweep_every(Duration::from_millis(1))
            .sweep_budget(8)
            .build(&fb, "stress")
            .unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let h = h.clone();
            s.spawn(move || {
                for i in 0..2000u64 {
                    let k = (i + t) % 16;
                    let _ = h.ask(&k);
                    // Keys 0..8 get 4 melts in all, from different threads.
                    if k < 8 && i < 16 {
                        h.melt(&k);
                    }
                    let _ = h.run(&(100 + k), || Ok::<_, ()>(()));
                }
            });
        }
        let clock = clock.clone();
        s.spawn(move || {
            for _ in 0..500 {
                clock.advance(Duration::from_millis(1));
            }
        });
    });
    for k in 0..16u64 {
        let melts = (0..4u64)
            .filter(|t| (0..16u64).any(|i| (i + t) % 16 == k))
            .count();
        let want = if k < 8 && melts >= 4 {
            Ask::Blown
        } else {
            Ask::Ok
        };
        assert_eq!(h.ask(&k), want, "key {k}");
    }
}
