//! Heal programs, success-aware strategies, outcome classification, async
//! calls and generations: scenarios on a `ManualClock`, each asserting exact
//! outcomes (or, for random admission, bounds many sigmas wide).

#[path = "support/watchdog.rs"]
mod watchdog;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fusebox::{
    event::{Cause, EventKind, Subscription},
    fuse::FuseState,
    Ask, Event, Fuse, FuseConfig, Fusebox, Heal, ManualClock, Outcome, RunError, Step, Strategy,
};

const SEC: Duration = Duration::from_secs(1);

fn manual() -> (Fusebox, ManualClock) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder()
        .clock(clock.clone())
        .alarm_period(Duration::from_secs(1_000_000))
        .build();
    (fb, clock)
}

/// What happened, as short strings: `blow@30`, `step1:gradual@30`, `heal@50`.
fn story(sub: &Subscription) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(Event { kind, at, .. }) = sub.try_recv() {
        let t = at.as_secs_f64();
        match kind {
            EventKind::Transition { cause, to, .. } => match cause {
                Cause::Melt => out.push(format!("blow@{t}")),
                Cause::Heal => out.push(format!("heal@{t}")),
                Cause::Install => {}
                other => out.push(format!("{other}->{}@{t}", to.map_or("-", |s| s.as_str()))),
            },
            EventKind::HealStep { index, step } => {
                let name = match step {
                    Step::Delay(_) => "delay",
                    Step::Gradual(_) => "gradual",
                    Step::Probe(_) => "probe",
                    Step::Barrier => "barrier",
                    _ => "?",
                };
                out.push(format!("step{index}:{name}@{t}"));
            }
            _ => {}
        }
    }
    out
}

/// Share of `n` asks admitted.
fn admitted(fb: &Fusebox, name: &str, n: usize) -> f64 {
    (0..n).filter(|_| fb.ask(name).unwrap() == Ask::Ok).count() as f64 / n as f64
}

#[test]
fn a_flapping_dependency_heals_gradually_and_restarts_on_failure() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_flapping_dependency_heals_gradually_and_restarts_on_failure",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let sub = fb.subscribe();
    let program = Heal::program([
        Step::Delay(30 * SEC),
        Step::Gradual(0.1),
        Step::Delay(10 * SEC),
        Step::Gradual(0.5),
        Step::Delay(10 * SEC),
    ]);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(program))
        .unwrap();
    fb.melt("db").unwrap(); // blown at 0
    assert_eq!(story(&sub), ["blow@0", "step0:delay@0"]);
    clock.advance(30 * SEC - Duration::from_micros(1));
    assert_eq!(
        admitted(&fb, "db", 1_000),
        0.0,
        "the first delay admits nothing"
    );
    clock.advance(Duration::from_micros(1)); // 30 s
    assert_eq!(story(&sub), ["step1:gradual@30", "step2:delay@30"]);
    // 10% admitted: sigma over 20,000 asks is 0.0021; allow 0.03.
    let share = admitted(&fb, "db", 20_000);
    assert!((share - 0.1).abs() < 0.03, "gradual 0.1 admitted {share}");
    assert_eq!(fb.state("db").unwrap().state, FuseState::Blown);
    assert_eq!(fb.state("db").unwrap().heal_step, Some(2));

    // The dependency flaps: a failure during the program re-blows it, and the
    // program starts over from its first step.
    clock.advance(5 * SEC); // 35 s
    fb.melt("db").unwrap();
    assert_eq!(story(&sub), ["blow@35", "step0:delay@35"]);
    assert_eq!(admitted(&fb, "db", 1_000), 0.0);
    let snap = fb.state("db").unwrap();
    assert_eq!((snap.counters.blows, snap.attempt), (2, 2));

    // This time it stays up: 30 s, then 10% for 10 s, then 50% for 10 s.
    clock.advance(30 * SEC); // 65 s
    clock.advance(10 * SEC); // 75 s
    assert_eq!(
        story(&sub),
        [
            "step1:gradual@65",
            "step2:delay@65",
            "step3:gradual@75",
            "step4:delay@75"
        ]
    );
    let share = admitted(&fb, "db", 20_000);
    assert!((share - 0.5).abs() < 0.03, "gradual 0.5 admitted {share}");
    clock.advance(10 * SEC - Duration::from_micros(1));
    assert_eq!(fb.state("db").unwrap().state, FuseState::Blown);
    clock.advance(Duration::from_micros(1)); // 85 s: end of the program
    assert_eq!(story(&sub), ["heal@85"]);
    assert_eq!(admitted(&fb, "db", 1_000), 1.0);
    let snap = fb.state("db").unwrap();
    assert_eq!(
        (snap.state, snap.counters.heals, snap.heal_step),
        (FuseState::Ok, 1, None)
    );
}

#[test]
fn a_melt_during_the_first_step_does_not_restart_it() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_melt_during_the_first_step_does_not_restart_it",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let heal = Heal::program([Step::Delay(10 * SEC), Step::Gradual(1.0), Step::Delay(SEC)]);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(heal))
        .unwrap();
    fb.melt("db").unwrap();
    clock.advance(5 * SEC);
    fb.melt("db").unwrap(); // recorded; the wait is neither extended nor restarted
    assert_eq!(fb.state("db").unwrap().counters.blows, 1);
    clock.advance(5 * SEC); // 10 s: gradual 1.0 admits everything
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    fb.melt("db").unwrap(); // but this one is after the first step: re-blow
    assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    assert_eq!(fb.state("db").unwrap().counters.blows, 2);
}

/// Runs on a multi-thread tokio runtime: 1,000 callers arrive together at a
/// fuse in its `probe(3)` step; each admitted call waits for a gate.
#[test]
fn a_stampede_against_probe_3_admits_exactly_3() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_stampede_against_probe_3_admits_exactly_3",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let heal = Heal::program([Step::Delay(SEC), Step::Probe(3)]);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(heal))
        .unwrap();
    fb.melt("db").unwrap();
    clock.advance(SEC); // now probing
    let fuse = fb.fuse("db").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let (admitted, refused) = rt.block_on(async {
        let start = Arc::new(tokio::sync::Barrier::new(1_000));
        let tasks: Vec<_> = (0..1_000)
            .map(|_| {
                let (fuse, gate, inside, start) =
                    (fuse.clone(), gate.clone(), inside.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    fuse.call(async {
                        inside.fetch_add(1, Ordering::SeqCst);
                        let _permit = gate.acquire().await.unwrap();
                        Ok::<(), ()>(())
                    })
                    .await
                })
            })
            .collect();
        // Wait until every refused caller has returned and the admitted
        // ones are parked at the gate.
        // (Bounded, so a bug fails the asserts below instead of hanging.)
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while (inside.load(Ordering::SeqCst) < 3
            || tasks.iter().filter(|t| t.is_finished()).count() < 997)
            && std::time::Instant::now() < deadline
        {
            tokio::task::yield_now().await;
        }
        assert_eq!(tasks.iter().filter(|t| t.is_finished()).count(), 997);
        assert_eq!(inside.load(Ordering::SeqCst), 3);
        gate.add_permits(3);
        let mut ok = 0;
        let mut blown = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(RunError::Blown) => blown += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        (ok, blown)
    });
    assert_eq!((admitted, refused), (3, 997));
    // Three successful probes end the program: healed.
    assert_eq!(fb.state("db").unwrap().state, FuseState::Ok);
}

/// A cancelled probe frees its slot at once and counts as neither outcome.
#[test]
fn a_dropped_probe_call_frees_its_slot() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_dropped_probe_call_frees_its_slot",
        std::time::Duration::from_secs(30),
    );
    let (_fb, _clock, fuse) = at_a_one_call_probe();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    {
        let never = fuse.call(std::future::pending::<Result<(), ()>>());
        let mut never = std::pin::pin!(never);
        assert!(never.as_mut().poll(&mut cx).is_pending()); // admitted, holds the slot
        assert_eq!(fuse.ask(), Ask::Blown, "the only slot is taken");
    } // dropped: the caller gave up
    let snap = fuse.snapshot().unwrap();
    assert_eq!((snap.state, snap.counters.melts), (FuseState::Blown, 1));
    // The slot is free again, and a success now ends the program.
    assert_eq!(fuse.run(|| Ok::<_, ()>(())), Ok(()));
    assert_eq!(fuse.snapshot().unwrap().state, FuseState::Ok);
}

/// A fuse blown once, now in the probe step of `[Delay(1 s), Probe(1)]`:
/// one call may go through.
fn at_a_one_call_probe() -> (Fusebox, ManualClock, Fuse) {
    let (fb, clock) = manual();
    let heal = Heal::program([Step::Delay(SEC), Step::Probe(1)]);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(heal))
        .unwrap();
    fb.melt("db").unwrap();
    clock.advance(SEC);
    let fuse = fb.fuse("db").unwrap();
    (fb, clock, fuse)
}

#[test]
fn a_panicking_probe_counts_as_a_failure_and_frees_its_slot() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_panicking_probe_counts_as_a_failure_and_frees_its_slot",
        std::time::Duration::from_secs(30),
    );
    let (_fb, clock, fuse) = at_a_one_call_probe();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fuse.run(|| -> Result<(), ()> { panic!("a bug in the call") })
    }));
    assert!(r.is_err(), "the panic keeps unwinding");
    // A failure during the probe step re-blows: back to the first delay.
    let snap = fuse.snapshot().unwrap();
    assert_eq!((snap.counters.blows, snap.heal_step), (2, Some(0)));
    clock.advance(SEC);
    assert_eq!(fuse.ask(), Ask::Ok, "the slot was given back");
}

/// The same for a classifier that panics: the call ran, but the pending
/// call unwinds unreported, so it counts as a failure and gives its probe
/// slot back (`Fuse::run` is the one attempt of `Pending`).
#[test]
fn a_panicking_classifier_counts_as_a_failure_and_frees_its_slot() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_panicking_classifier_counts_as_a_failure_and_frees_its_slot",
        std::time::Duration::from_secs(30),
    );
    let (_fb, clock, fuse) = at_a_one_call_probe();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fuse.run_classified(|| Ok::<(), ()>(()), |_| panic!("a bug in the classifier"))
    }));
    assert!(r.is_err(), "the panic keeps unwinding");
    let snap = fuse.snapshot().unwrap();
    assert_eq!((snap.counters.blows, snap.heal_step), (2, Some(0)));
    clock.advance(SEC);
    assert_eq!(fuse.ask(), Ask::Ok, "the slot was given back");
}

#[test]
fn a_barrier_waits_for_unlock() {
    let _watch = watchdog::watchdog(
        "heal_programs::a_barrier_waits_for_unlock",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let sub = fb.subscribe();
    let heal = Heal::program([Step::Delay(SEC), Step::Barrier, Step::Delay(SEC)]);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(heal))
        .unwrap();
    fb.melt("db").unwrap();
    clock.advance(3_600 * SEC);
    assert_eq!(
        fb.ask("db").unwrap(),
        Ask::Blown,
        "an hour later, still waiting"
    );
    assert_eq!(story(&sub), ["blow@0", "step0:delay@0", "step1:barrier@1"]);
    fb.unlock("db").unwrap();
    assert_eq!(story(&sub), ["step2:delay@3600"]);
    clock.advance(SEC);
    assert_eq!(story(&sub), ["heal@3601"]);
    assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    // unlock on a fuse without a barrier does nothing; unknown names are errors.
    fb.unlock("db").unwrap();
    assert!(fb.unlock("nope").is_err());
}

/// Blows `fb`'s fuse again right after each heal, and returns the wait
/// before each heal.
fn waits(fb: &Fusebox, clock: &ManualClock, blows: usize) -> Vec<Duration> {
    (0..blows)
        .map(|_| {
            fb.melt("db").unwrap();
            let s = fb.state("db").unwrap();
            let wait = s.next_heal.unwrap() - s.last_blow.unwrap();
            clock.advance(wait);
            assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
            wait
        })
        .collect()
}

#[test]
fn backoff_doubles_to_its_cap_and_jitter_stays_in_bounds() {
    let _watch = watchdog::watchdog(
        "heal_programs::backoff_doubles_to_its_cap_and_jitter_stays_in_bounds",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let heal = Heal::reset(SEC).backoff(2.0, 10 * SEC);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(heal))
        .unwrap();
    let s = |n: u32| n * SEC;
    assert_eq!(
        waits(&fb, &clock, 6),
        [s(1), s(2), s(4), s(8), s(10), s(10)]
    );
    // Healed for a full window (60 s): the count starts over.
    clock.advance(60 * SEC);
    assert_eq!(waits(&fb, &clock, 2), [s(1), s(2)]);

    // With jitter 0.5 each wait is within [d/2, d], and they differ.
    let heal = Heal::reset(SEC).backoff(2.0, 10 * SEC).jitter(0.5);
    fb.install("db", FuseConfig::standard(0, 60 * SEC).heal(heal))
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..20 {
        clock.advance(60 * SEC); // start over each round
        for (i, w) in waits(&fb, &clock, 5).into_iter().enumerate() {
            let d = [s(1), s(2), s(4), s(8), s(10)][i];
            assert!(
                w >= d / 2 && w <= d,
                "wait {w:?} outside [{:?}, {d:?}]",
                d / 2
            );
            seen.push(w);
        }
    }
    seen.sort();
    seen.dedup();
    assert!(
        seen.len() > 50,
        "jitter spread only {} distinct waits",
        seen.len()
    );
}

#[test]
fn consecutive_failures_blow_and_a_success_breaks_the_run() {
    let _watch = watchdog::watchdog(
        "heal_programs::consecutive_failures_blow_and_a_success_breaks_the_run",
        std::time::Duration::from_secs(30),
    );
    let (fb, _clock) = manual();
    fb.install("db", FuseConfig::new(Strategy::consecutive(3)))
        .unwrap();
    let db = fb.fuse("db").unwrap();
    for _ in 0..10 {
        let _ = db.run(|| Err::<(), _>("e"));
        let _ = db.run(|| Err::<(), _>("e"));
        assert_eq!(db.run(|| Ok::<_, ()>(1)), Ok(1));
    }
    assert_eq!(db.ask(), Ask::Ok, "never 3 in a row");
    let _ = db.run(|| Err::<(), _>("e"));
    let _ = db.run(|| Err::<(), _>("e"));
    let _ = db.run(|| Err::<(), _>("e"));
    assert_eq!(db.ask(), Ask::Blown);
}

#[test]
fn failure_rate_judges_the_window_with_min_calls_and_slow_calls() {
    let _watch = watchdog::watchdog(
        "heal_programs::failure_rate_judges_the_window_with_min_calls_and_slow_calls",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let strategy = Strategy::failure_rate(0.5, 10 * SEC, 10).slow_call(SEC);
    fb.install("db", FuseConfig::new(strategy)).unwrap();
    let db = fb.fuse("db").unwrap();
    // 9 failures: below min_calls, however bad.
    for _ in 0..9 {
        let _ = db.run(|| Err::<(), _>("e"));
    }
    assert_eq!(db.ask(), Ask::Ok);
    // They leave the window; 6 successes and 4 failures: 40% < 50%.
    clock.advance(10 * SEC);
    for _ in 0..6 {
        db.run(|| Ok::<_, ()>(())).unwrap();
    }
    for _ in 0..4 {
        let _ = db.run(|| Err::<(), _>("e"));
    }
    assert_eq!(db.ask(), Ask::Ok);
    // Two slow successes count as failures: 6 of 12 = 50%.
    for _ in 0..2 {
        let r = db.run(|| {
            clock.advance(SEC + Duration::from_millis(1));
            Ok::<_, ()>(())
        });
        assert_eq!(r, Ok(()), "a slow call still returns its result");
    }
    assert_eq!(db.ask(), Ask::Blown);
}

#[test]
fn ignored_outcomes_count_nowhere() {
    let _watch = watchdog::watchdog(
        "heal_programs::ignored_outcomes_count_nowhere",
        std::time::Duration::from_secs(30),
    );
    let (fb, _clock) = manual();
    fb.install("api", FuseConfig::new(Strategy::consecutive(1)))
        .unwrap();
    let api = fb.fuse("api").unwrap();
    let client_error = |_: &Result<(), u16>| Outcome::Ignored;
    for _ in 0..100 {
        assert_eq!(
            api.run_classified(|| Err(404), client_error),
            Err(RunError::Failed(404))
        );
    }
    let snap = api.snapshot().unwrap();
    assert_eq!((snap.state, snap.counters.melts), (FuseState::Ok, 0));
}

/// A call admitted before a blow and heal reports after them: its failure
/// belongs to a generation that is gone, and does not count.
#[test]
fn outcomes_of_an_older_generation_do_not_count() {
    let _watch = watchdog::watchdog(
        "heal_programs::outcomes_of_an_older_generation_do_not_count",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    fb.install(
        "db",
        FuseConfig::standard(0, 60 * SEC).heal(Heal::reset(SEC)),
    )
    .unwrap();
    let db = fb.fuse("db").unwrap();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let slow = db.call(std::future::poll_fn(move |_| match rx.try_recv() {
        Ok(()) => std::task::Poll::Ready(Err::<(), _>("late failure")),
        Err(_) => std::task::Poll::Pending,
    }));
    let mut slow = std::pin::pin!(slow);
    assert!(slow.as_mut().poll(&mut cx).is_pending()); // admitted in generation 0
    fb.melt("db").unwrap(); // blow: generation 1
    clock.advance(SEC); // heal: generation 2
    tx.send(()).unwrap();
    assert_eq!(
        slow.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err(RunError::Failed("late failure")))
    );
    // max_melts = 0 would have blown on a current failure; this one is stale.
    let snap = db.snapshot().unwrap();
    assert_eq!(
        (snap.state, snap.melts_in_window, snap.counters.blows),
        (FuseState::Ok, 0, 1)
    );
}

#[test]
fn call_timeout_counts_as_a_failure() {
    let _watch = watchdog::watchdog(
        "heal_programs::call_timeout_counts_as_a_failure",
        std::time::Duration::from_secs(30),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::new(Strategy::consecutive(2)))
        .unwrap();
    let db = fb.fuse("db").unwrap();
    rt.block_on(async {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<(), ()>(())
        };
        let ms = Duration::from_millis(20);
        assert_eq!(db.call_timeout(ms, slow()).await, Err(RunError::Timeout));
        assert_eq!(db.ask(), Ask::Ok);
        assert_eq!(db.call_timeout(ms, slow()).await, Err(RunError::Timeout));
        assert_eq!(db.ask(), Ask::Blown, "two timeouts in a row");
        assert_eq!(db.call_timeout(ms, slow()).await, Err(RunError::Blown));
    });
}

#[test]
fn invalid_programs_are_refused_with_their_field() {
    let _watch = watchdog::watchdog(
        "heal_programs::invalid_programs_are_refused_with_their_field",
        std::time::Duration::from_secs(30),
    );
    let (fb, _clock) = manual();
    let cases = [
        (Heal::program([]), "heal.steps"),
        (Heal::program([Step::Gradual(0.5)]), "heal.steps"),
        (
            Heal::program([Step::Gradual(0.0), Step::Delay(SEC)]),
            "heal.steps[0].gradual",
        ),
        (
            Heal::program([Step::Delay(SEC), Step::Gradual(1.5), Step::Delay(SEC)]),
            "heal.steps[1].gradual",
        ),
        (Heal::program([Step::Probe(0)]), "heal.steps[0].probe"),
        (Heal::program([Step::Probe(5_000)]), "heal.steps[0].probe"),
        (
            Heal::program([Step::Delay(Duration::ZERO)]),
            "heal.steps[0].delay",
        ),
        (Heal::reset(SEC).backoff(0.5, SEC), "heal.backoff.factor"),
        (
            Heal::reset(SEC).backoff(2.0, Duration::ZERO),
            "heal.backoff.max",
        ),
        (Heal::reset(SEC).jitter(1.0), "heal.jitter"),
        (Heal::reset(SEC).jitter(-0.1), "heal.jitter"),
    ];
    for (heal, field) in cases {
        let err = fb
            .install("db", FuseConfig::standard(1, SEC).heal(heal.clone()))
            .unwrap_err();
        assert_eq!(err.field(), field, "{heal:?}");
    }
    let strategies = [
        (Strategy::consecutive(0), "strategy.failures"),
        (Strategy::failure_rate(0.0, SEC, 1), "strategy.ratio"),
        (Strategy::failure_rate(0.5, SEC, 0), "strategy.min_calls"),
        (
            Strategy::failure_rate(0.5, Duration::ZERO, 1),
            "strategy.window",
        ),
        (
            Strategy::failure_rate(0.5, SEC, 1).slow_call(Duration::ZERO),
            "strategy.slow_call",
        ),
    ];
    for (strategy, field) in strategies {
        let err = fb
            .install("db", FuseConfig::new(strategy.clone()))
            .unwrap_err();
        assert_eq!(err.field(), field, "{strategy:?}");
    }
    assert!(fb.names().is_empty(), "nothing was installed");
}

#[test]
fn a_call_that_takes_exactly_the_slow_call_threshold_is_not_slow() {
    let _watch = watchdog::watchdog(
        "heal_programs::slow_call_threshold",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    // One call is enough to judge (min_calls 1); half of the calls failing blows.
    let strategy = || Strategy::failure_rate(0.5, 10 * SEC, 1).slow_call(SEC);
    fb.install("exact", FuseConfig::new(strategy())).unwrap();
    fb.install("over", FuseConfig::new(strategy())).unwrap();
    let took = |d: Duration| {
        let clock = clock.clone();
        move || {
            clock.advance(d);
            Ok::<_, ()>(())
        }
    };
    assert_eq!(fb.run("exact", took(SEC)), Ok(()));
    assert_eq!(
        fb.ask("exact").unwrap(),
        Ask::Ok,
        "exactly the threshold is not slow"
    );
    assert_eq!(
        fb.run("over", took(SEC + Duration::from_nanos(1))),
        Ok(()),
        "a slow call still returns its result"
    );
    assert_eq!(
        fb.ask("over").unwrap(),
        Ask::Blown,
        "a nanosecond more is slow"
    );
}

#[test]
fn a_success_that_completes_min_calls_while_the_ratio_holds_blows() {
    let _watch = watchdog::watchdog(
        "heal_programs::success_completes_min_calls",
        std::time::Duration::from_secs(30),
    );
    let (fb, _clock) = manual();
    // 60% failures over at least 5 calls blows.
    fb.install(
        "db",
        FuseConfig::new(Strategy::failure_rate(0.6, 10 * SEC, 5)),
    )
    .unwrap();
    let db = fb.fuse("db").unwrap();
    for _ in 0..3 {
        let _ = db.run(|| Err::<(), _>("e"));
    }
    assert_eq!(db.run(|| Ok::<_, ()>(())), Ok(()));
    assert_eq!(db.ask(), Ask::Ok, "4 calls: below min_calls");
    // The fifth call is a success: 3 of 5 failed (60%), and the minimum is met.
    assert_eq!(db.run(|| Ok::<_, ()>(())), Ok(()));
    assert_eq!(
        db.ask(),
        Ask::Blown,
        "judged after the success as after a failure"
    );
    // A success reported outside `run` is judged the same way.
    fb.install(
        "by_report",
        FuseConfig::new(Strategy::failure_rate(0.6, 10 * SEC, 5)),
    )
    .unwrap();
    for _ in 0..3 {
        fb.melt("by_report").unwrap();
    }
    fb.success("by_report").unwrap();
    assert_eq!(fb.ask("by_report").unwrap(), Ask::Ok);
    fb.success("by_report").unwrap();
    assert_eq!(fb.ask("by_report").unwrap(), Ask::Blown);
}

#[test]
fn jitter_spreads_waits_over_its_whole_range() {
    let _watch = watchdog::watchdog(
        "heal_programs::jitter_spread",
        std::time::Duration::from_secs(30),
    );
    let (fb, clock) = manual();
    let d = 100 * SEC;
    // jitter(0.5): each wait uniform in [d/2, d].
    let mut waits = Vec::new();
    for _ in 0..500 {
        // A reinstall starts every blow at the first attempt: no backoff.
        fb.install(
            "db",
            FuseConfig::standard(0, SEC).heal(Heal::reset(d).jitter(0.5)),
        )
        .unwrap();
        fb.melt("db").unwrap();
        let s = fb.state("db").unwrap();
        waits.push((s.next_heal.unwrap() - s.last_blow.unwrap()).as_secs_f64() / d.as_secs_f64());
        clock.advance(SEC);
    }
    assert!(
        waits.iter().all(|w| (0.5..=1.0).contains(w)),
        "a wait outside [d/2, d]"
    );
    let lo = waits.iter().cloned().fold(f64::MAX, f64::min);
    let hi = waits.iter().cloned().fold(f64::MIN, f64::max);
    let mean = waits.iter().sum::<f64>() / waits.len() as f64;
    // For 500 uniform draws on [0.5, 1]: P(min > 0.52) = 0.96^500 ~ 1e-9, and
    // the mean's standard deviation is 0.0065 (the bound is over 6 of them).
    assert!(lo < 0.52, "the low end is never reached: min {lo:.3}");
    assert!(hi > 0.98, "the high end is never reached: max {hi:.3}");
    assert!((mean - 0.75).abs() < 0.04, "mean {mean:.3}, not 0.75");
}
