//! `GET /api/runtime` against a live server in this very process, so the
//! test can check the figures against what it reads itself: its resident
//! memory from `/proc/self/status`, its CPU time from `getrusage`, the
//! tasks it spawns and parks.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fusebox::{FuseConfig, Fusebox, ValveConfig};
use fusebox_admin::AdminConfig;
use hyper::StatusCode;
use serde_json::Value;
use support::{own_rss, start, start_with};

/// How long a figure may take to settle (each request takes half a second).
const SETTLE: Duration = Duration::from_secs(20);

/// User plus system CPU time of this process, from `getrusage`.
fn own_cpu() -> f64 {
    // SAFETY: getrusage writes one rusage into the zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Keeps a thread busy for `d`.
fn spin(d: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn fb() -> Fusebox {
    let fb = Fusebox::new();
    for name in ["db", "cache", "search"] {
        fb.install(name, FuseConfig::standard(1000, Duration::from_secs(10)))
            .unwrap();
    }
    fb.install_valve("api", ValveConfig::new().concurrency(4).queue(0))
        .unwrap();
    fb.install_valve("batch", ValveConfig::new().concurrency(2).queue(0))
        .unwrap();
    fb
}

async fn report(s: &support::Server, path: &str) -> Value {
    let r = s.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/json");
    r.json()
}

fn num(v: &Value, path: &str) -> f64 {
    let mut at = v;
    for key in path.split('.') {
        at = &at[key];
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {at} in {v}"))
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_figures_match_what_the_process_reads_itself() {
    let s = start(fb()).await;
    // Some CPU time, so that a wrong tick rate shows.
    spin(Duration::from_millis(400));
    let (rss_before, cpu_before) = (own_rss(), own_cpu());
    let v = report(&s, "/api/runtime").await;
    let (rss_after, cpu_after) = (own_rss(), own_cpu());
    eprintln!("{v:#}");

    let p = &v["process"];
    assert!(p["note"].is_null(), "{v}");
    let rss = num(&v, "process.rss_bytes");
    // Other tests of this file run beside it: within 10% of the range.
    let (low, high) = (rss_before.min(rss_after), rss_before.max(rss_after));
    assert!(
        rss >= low as f64 * 0.9 && rss <= high as f64 * 1.1,
        "the server's RSS {rss} is not within 10% of ours ({rss_before}, {rss_after})"
    );
    assert!(num(&v, "process.rss_peak_bytes") >= rss);
    let cpu = num(&v, "process.cpu_user_seconds") + num(&v, "process.cpu_system_seconds");
    // The server read between our two readings; /proc counts in 10 ms ticks.
    assert!(
        cpu >= cpu_before - 0.03 && cpu <= cpu_after + 0.03,
        "CPU time {cpu} s, getrusage said {cpu_before}..{cpu_after} s"
    );
    assert!(num(&v, "process.cpu_percent") >= 0.0);

    let workers = num(&v, "runtime.workers");
    assert_eq!(workers, 2.0, "{v}");
    assert_eq!(v["runtime"]["flavor"], "multi_thread");
    assert_eq!(v["runtime"]["source"], "server");
    assert!(num(&v, "process.threads") >= workers, "{v}");
    assert!(num(&v, "process.open_fds") >= 3.0, "{v}");
    // Listener, the client's connection and the server's end of it, at least.
    assert!(num(&v, "process.open_fds") >= 6.0, "{v}");
    let busy = num(&v, "runtime.busy_percent");
    assert!((0.0..=100.0).contains(&busy), "{v}");
    assert!(num(&v, "window_seconds") >= 0.5, "{v}");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_percent_follows_a_busy_thread() {
    let s = start(fb()).await;
    report(&s, "/api/runtime?top=0").await;
    // One thread busy for a whole window: about 100% of one core (less on
    // a machine that other builds share).
    let spinner = std::thread::spawn(|| spin(Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let v = report(&s, "/api/runtime?top=0").await;
    spinner.join().unwrap();
    let cpu = num(&v, "process.cpu_percent");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert!(
        cpu >= 25.0 && cpu <= 100.0 * cores + 10.0,
        "cpu_percent {cpu} with a thread spinning"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alive_tasks_count_the_tasks_spawned_on_the_server_runtime() {
    const N: usize = 200;
    let s = start(fb()).await;
    let base = num(&report(&s, "/api/runtime").await, "runtime.alive_tasks");
    let (open, gate) = tokio::sync::watch::channel(false);
    let parked = Arc::new(tokio::sync::Barrier::new(N + 1));
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (mut gate, parked) = (gate.clone(), parked.clone());
            tokio::spawn(async move {
                parked.wait().await;
                let _ = gate.wait_for(|open| *open).await;
            })
        })
        .collect();
    parked.wait().await;
    let during = num(&report(&s, "/api/runtime").await, "runtime.alive_tasks");
    assert!(
        during >= base + N as f64,
        "{N} parked tasks: alive tasks {base} -> {during}"
    );
    open.send_replace(true);
    for t in tasks {
        t.await.unwrap();
    }
    let start = Instant::now();
    loop {
        let after = num(&report(&s, "/api/runtime").await, "runtime.alive_tasks");
        if after <= during - N as f64 {
            break;
        }
        assert!(
            start.elapsed() < SETTLE,
            "released {N} tasks: alive tasks {during} -> {after}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_runtime_is_the_one_reported() {
    let work = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    let s = start_with(fb(), AdminConfig::new().runtime(work.handle().clone())).await;
    let (open, gate) = tokio::sync::watch::channel(false);
    for _ in 0..50 {
        let mut gate = gate.clone();
        work.spawn(async move {
            let _ = gate.wait_for(|open| *open).await;
        });
    }
    let v = report(&s, "/api/runtime").await;
    assert_eq!(v["runtime"]["source"], "registered");
    assert_eq!(v["runtime"]["id"], work.handle().id().to_string());
    assert_eq!(num(&v, "runtime.workers"), 3.0, "{v}");
    // The 50 parked there, none of the server's own connection tasks.
    assert_eq!(num(&v, "runtime.alive_tasks"), 50.0, "{v}");
    open.send_replace(true);
    // Dropping a runtime inside another's context would panic.
    work.shutdown_background();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_busiest_fuses_and_valves_over_the_window() {
    let fb = fb();
    for i in 0..100 {
        fb.install(
            format!("idle-{i:03}"),
            FuseConfig::standard(1, Duration::from_secs(1)),
        )
        .unwrap();
    }
    // A lot of traffic before the window, none in it: not busy now.
    for _ in 0..500 {
        let _ = fb.ask("cache");
    }
    let s = start(fb).await;
    report(&s, "/api/runtime").await;
    for _ in 0..40 {
        let _ = s.fb.ask("search");
    }
    for _ in 0..10 {
        let _ = s.fb.ask("db");
    }
    let api = s.fb.valve("api").unwrap();
    let _held: Vec<_> = (0..3).map(|_| api.try_acquire().unwrap()).collect();
    let batch = s.fb.valve("batch").unwrap();
    for _ in 0..5 {
        drop(batch.try_acquire().unwrap());
    }
    let v = report(&s, "/api/runtime?top=2").await;
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let b = &v["busiest"];
    assert_eq!(b["by"], "calls");
    assert_eq!(names(&b["fuses"]), ["search", "db"], "{v}");
    let window = num(&v, "window_seconds");
    let rate = num(&b["fuses"][0], "calls_per_second");
    assert!(
        (rate - 40.0 / window).abs() < 1e-6,
        "{rate} vs 40 in {window} s"
    );
    assert_eq!(names(&b["valves"]), ["batch", "api"], "{v}");

    let v = report(&s, "/api/runtime?by=in_flight&top=1").await;
    assert_eq!(names(&v["busiest"]["valves"]), ["api"]);
    assert_eq!(v["busiest"]["valves"][0]["in_flight"], 3);
    // Never more than asked, however many there are.
    let v = report(&s, "/api/runtime?top=50").await;
    assert_eq!(v["busiest"]["fuses"].as_array().unwrap().len(), 50);
    let v = report(&s, "/api/runtime?top=0").await;
    assert_eq!(v["busiest"]["fuses"], Value::Array(vec![]));

    s.get("/api/runtime?top=51")
        .await
        .error(StatusCode::BAD_REQUEST);
    s.get("/api/runtime?by=memory")
        .await
        .error(StatusCode::BAD_REQUEST);
    s.post("/api/runtime", None, "")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_a_whole_window() {
    let s = Arc::new(start(fb()).await);
    let asks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { report(&s, "/api/runtime").await })
        })
        .collect();
    for a in asks {
        let v = a.await.unwrap();
        assert!(num(&v, "window_seconds") >= 0.5, "{v}");
    }
}
