//! Behaviour the state-machine test does not drive: a child that ignores
//! cancellation (real clock), escalation through a nested supervisor,
//! dependency gating and restart pacing on a `ManualClock`, and 100,000
//! crash/restart cycles with the task count and memory flat.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusebox::{FuseConfig, Fusebox, Heal, ManualClock};
use fusebox_supervisor::{
    ChildSpec, ChildState, Exit, Record, Shutdown, Stopped, Supervisor, SupervisorSpec,
};

async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_child_ignoring_cancellation_is_aborted_at_its_timeout() {
    let spec = SupervisorSpec::new("root").child(
        ChildSpec::new("stubborn", |_token| async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            #[allow(unreachable_code)]
            Ok::<(), String>(())
        })
        .shutdown(Shutdown::Graceful(Duration::from_millis(300))),
    );
    let sup = Supervisor::start(spec, &Fusebox::new()).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t0 = Instant::now();
    let report = sup.shutdown().await.unwrap();
    let took = t0.elapsed();
    assert_eq!(report.stopped[0].how, Stopped::Aborted);
    assert!(
        took >= Duration::from_millis(300),
        "aborted early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "aborted late: {took:?}");
    eprintln!("aborted after {took:?} (timeout 300 ms)");
}

#[tokio::test(flavor = "current_thread")]
async fn a_child_supervisor_giving_up_is_a_crash_its_parent_restarts() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    let inner = SupervisorSpec::new("inner")
        .intensity(0, Duration::from_secs(5))
        .child(ChildSpec::new("worker", move |token| {
            // Ordering: a test counter, read after the runtime settled.
            let n = r.fetch_add(1, Ordering::Relaxed);
            async move {
                if n == 0 {
                    return Err("first run fails".to_owned());
                }
                token.cancelled().await;
                Ok(())
            }
        }));
    let outer = SupervisorSpec::new("outer")
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::supervisor(inner));
    let sup = Supervisor::start_with_timer(outer, &fb, clock.clone()).unwrap();
    settle().await;
    let c = &sup.children()[0];
    assert_eq!((c.state, c.restarts), (ChildState::Running, 1));
    assert!(matches!(&c.last_exit, Some(Exit::GaveUp(m)) if m.contains("first run fails")));
    let report = sup.shutdown().await.unwrap();
    let order: Vec<_> = report
        .stopped
        .iter()
        .map(|s| (&*s.supervisor, &*s.child))
        .collect();
    assert_eq!(order, [("inner", "worker"), ("outer", "inner")]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_child_waits_for_the_fuse_it_needs_and_no_restart_is_counted() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    fb.install(
        "db",
        FuseConfig::standard(0, Duration::from_secs(1)).heal(Heal::reset(Duration::from_secs(60))),
    )
    .unwrap();
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    let crash = Arc::new(tokio::sync::Notify::new());
    let c = crash.clone();
    let spec = SupervisorSpec::new("root")
        .intensity(1, Duration::from_secs(1))
        .child(
            ChildSpec::new("consumer", move |token| {
                // Ordering: a test counter.
                let n = r.fetch_add(1, Ordering::Relaxed);
                let c = c.clone();
                async move {
                    if n == 0 {
                        c.notified().await;
                        return Err("db is down".to_owned());
                    }
                    token.cancelled().await;
                    Ok(())
                }
            })
            .needs("db"),
        );
    let sup = Supervisor::start_with_timer(spec, &fb, clock.clone()).unwrap();
    settle().await;
    fb.melt("db").unwrap(); // the dependency fails, the consumer crashes
    crash.notify_one();
    settle().await;
    let counted = || fb.state("root/intensity").unwrap().melts_in_window;
    assert_eq!(sup.children()[0].state, ChildState::Waiting);
    assert_eq!(counted(), 0, "a held-back restart was counted");
    clock.advance(Duration::from_secs(59));
    settle().await;
    assert_eq!(sup.children()[0].state, ChildState::Waiting);
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    clock.advance(Duration::from_secs(1)); // "db" heals: the consumer starts
    settle().await;
    assert_eq!(sup.children()[0].state, ChildState::Running);
    assert_eq!(runs.load(Ordering::Relaxed), 2);
    assert_eq!(counted(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_crash_looping_child_is_paced_by_its_heal_program() {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).build();
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    let spec = SupervisorSpec::new("root")
        .intensity(100, Duration::from_secs(1))
        .child(
            ChildSpec::new("looper", move |_| {
                // Ordering: a test counter.
                r.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>("crash") }
            })
            .fuse(
                FuseConfig::standard(0, Duration::from_secs(1))
                    .heal(Heal::reset(Duration::from_secs(5))),
            ),
        );
    let sup = Supervisor::start_with_timer(spec, &fb, clock.clone()).unwrap();
    settle().await;
    assert_eq!(
        runs.load(Ordering::Relaxed),
        1,
        "restarted while its fuse was blown"
    );
    for k in 2..=4u64 {
        clock.advance(Duration::from_millis(4_999));
        settle().await;
        assert_eq!(runs.load(Ordering::Relaxed), k - 1);
        clock.advance(Duration::from_millis(1));
        settle().await;
        assert_eq!(runs.load(Ordering::Relaxed), k, "not restarted at its heal");
    }
    assert!(!sup.is_finished());
    assert!(sup
        .history()
        .iter()
        .any(|r| matches!(r, Record::Exited(_, Exit::Failed(m)) if m == "crash")));
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn a_hundred_thousand_crash_restart_cycles_leave_tasks_and_memory_flat() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let starts = Arc::new(AtomicU64::new(0));
        let park_at = Arc::new(AtomicU64::new(10_000));
        let gate = Arc::new(tokio::sync::Notify::new());
        let (s, p, g) = (starts.clone(), park_at.clone(), gate.clone());
        let spec = SupervisorSpec::new("churn")
            .intensity(1_000, Duration::from_nanos(1))
            .child(ChildSpec::new("crasher", move |_| {
                // Ordering: test counters, no data published through them.
                let n = s.fetch_add(1, Ordering::Relaxed) + 1;
                let park = n == p.load(Ordering::Relaxed);
                let g = g.clone();
                async move {
                    if park {
                        g.notified().await;
                    }
                    Err::<(), _>("crash")
                }
            }));
        let sup = Supervisor::start(spec, &Fusebox::new()).unwrap();
        let metrics = tokio::runtime::Handle::current().metrics();
        let wait_for = |n: u64| {
            let starts = starts.clone();
            async move {
                while starts.load(Ordering::Relaxed) < n {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                settle().await;
            }
        };
        wait_for(10_000).await;
        let (tasks0, rss0) = (metrics.num_alive_tasks(), rss_bytes());
        park_at.store(110_000, Ordering::Relaxed);
        gate.notify_one();
        wait_for(110_000).await;
        let (tasks1, rss1) = (metrics.num_alive_tasks(), rss_bytes());
        eprintln!(
            "after 10k cycles: {tasks0} tasks, {rss0} B; after 110k: {tasks1} tasks, {rss1} B"
        );
        assert_eq!(tasks0, tasks1, "tasks leaked");
        assert!(
            rss1 < rss0 + 16 * 1024 * 1024,
            "memory grew: {rss0} -> {rss1}"
        );
        assert_eq!(sup.children()[0].restarts, 109_999);
        gate.notify_one();
        drop(sup);
    });
}
