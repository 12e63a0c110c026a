//! The rows of the suite: one operation each, fusebox and its peers.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};

use fusebox::{FuseConfig, Fusebox, Heal};

use crate::harness::Contender;
use crate::peers::{self, op, HOUR};

/// One operation, measured on every contender that offers it.
#[derive(Debug)]
pub struct Row {
    /// Stable id (JSON key, `--filter`).
    pub id: &'static str,
    /// What the row measures, for the table.
    pub title: String,
    /// Who is measured.
    pub contenders: Vec<Contender>,
    /// A contender whose median is subtracted from the others before ratios
    /// are taken: the bare operation, so ratios compare breaker *overhead*.
    pub baseline: Option<&'static str>,
}

/// The breaker rows (closed path, open path, melt, ask by name).
pub fn breaker_rows() -> Vec<Row> {
    let mut rows = vec![ask_ok(), run_ok(), ask_blown(), refusal()];
    for n in [100, 100_000] {
        rows.push(melt(n));
    }
    for n in [10, 1_000, 100_000] {
        rows.push(ask_by_name(n));
    }
    rows.push(valve_acquire());
    rows.push(valve_acquire_async());
    rows.push(valve_rate());
    rows
}

/// A Fusebox with one valve, `"v"`, that never runs out of slots here.
fn fusebox_valve(config: fusebox::ValveConfig) -> (Fusebox, fusebox::Valve) {
    let fb = Fusebox::new();
    fb.install_valve("v", config).expect("a valid valve");
    let v = fb.valve("v").expect("installed");
    (fb, v)
}

fn valve_acquire() -> Row {
    let (_fb, v) = fusebox_valve(fusebox::ValveConfig::new().concurrency(64).queue(64));
    let sem = tokio::sync::Semaphore::new(64);
    Row {
        id: "valve_acquire",
        title: "valve: uncontended acquire + release, without waiting".into(),
        contenders: vec![
            Contender::new("fusebox", "Valve::try_acquire, drop", move || {
                let _keep = &_fb;
                black_box(&v).try_acquire().is_ok()
            }),
            Contender::new("tokio", "Semaphore::try_acquire, drop", move || {
                black_box(&sem).try_acquire().is_ok()
            }),
        ],
        baseline: None,
    }
}

fn valve_acquire_async() -> Row {
    use tower::{Service, ServiceExt};
    let (_fb, v) = fusebox_valve(fusebox::ValveConfig::new().concurrency(64).queue(64));
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut limited = tower::limit::ConcurrencyLimit::new(
        tower::service_fn(|x: u64| std::future::ready(op(x))),
        64,
    );
    Row {
        id: "valve_acquire_async",
        title: "valve: uncontended async acquire + call + release, polled once".into(),
        contenders: vec![
            Contender::new("fusebox", "Valve::acquire().await, drop", move || {
                let _keep = &_fb;
                let p = peers::ready(black_box(&v).acquire()).ok();
                let out = op(black_box(1));
                drop(p);
                out
            }),
            Contender::new("tokio", "Semaphore::acquire().await, drop", move || {
                let p = peers::ready(black_box(&sem).acquire()).ok();
                let out = op(black_box(1));
                drop(p);
                out
            }),
            Contender::new("tower", "ConcurrencyLimit ready + call", move || {
                let svc = peers::ready(black_box(&mut limited).ready()).expect("ready");
                peers::ready(svc.call(black_box(1)))
            }),
        ],
        baseline: None,
    }
}

fn valve_rate() -> Row {
    use std::num::NonZeroU32;
    // Rates far above what a loop can spend, so every check passes.
    let (_fb, v) = fusebox_valve(
        fusebox::ValveConfig::new()
            .concurrency(64)
            .rate(1_000_000_000, std::time::Duration::from_secs(1)),
    );
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("nonzero"));
    let limiter = governor::RateLimiter::direct(quota);
    Row {
        id: "valve_rate",
        title: "rate check that passes (token bucket)".into(),
        contenders: vec![
            Contender::new("fusebox", "rate-limited Valve::try_pass", {
                let v = v.clone();
                move || black_box(&v).try_pass().is_ok()
            }),
            Contender::new(
                "fusebox permit",
                "rate-limited Valve::try_acquire, drop",
                move || {
                    let _keep = &_fb;
                    black_box(&v).try_acquire().is_ok()
                },
            ),
            Contender::new("governor", "RateLimiter::check", move || {
                black_box(&limiter).check().is_ok()
            }),
        ],
        baseline: None,
    }
}

fn ask_ok() -> Row {
    let (_fb, fuse) = peers::fusebox(false);
    let cb = peers::failsafe(false, 5);
    Row {
        id: "ask_ok",
        title: "ask, closed (healthy) breaker".into(),
        contenders: vec![
            Contender::new("fusebox", "Fuse::ask", move || {
                let _keep = &_fb;
                black_box(&fuse).ask()
            }),
            Contender::new("failsafe", "is_call_permitted", move || {
                failsafe::CircuitBreaker::is_call_permitted(black_box(&cb))
            }),
        ],
        baseline: None,
    }
}

fn run_ok() -> Row {
    let (_fb, fuse) = peers::fusebox(false);
    let rc = peers::recloser(false);
    let fs = peers::failsafe(false, 5);
    let sb = peers::seatbelt_peer::new(false);
    let mut tr = peers::tower_resilience_peer::new(false);
    Row {
        id: "run_ok",
        title: "run(closure returning Ok), closed breaker".into(),
        contenders: vec![
            Contender::new("bare call", "op(x), no breaker", || op(black_box(1))),
            Contender::new("fusebox", "Fuse::run", move || {
                let _keep = &_fb;
                black_box(&fuse).run(|| op(black_box(1)))
            }),
            Contender::new("recloser", "Recloser::call", move || {
                black_box(&rc).call(|| op(black_box(1)))
            }),
            Contender::new("failsafe", "CircuitBreaker::call", move || {
                failsafe::CircuitBreaker::call(black_box(&fs), || op(black_box(1)))
            }),
            Contender::new("seatbelt", "Breaker execute, polled once", move || {
                sb.call(black_box(1))
            }),
            Contender::new(
                "tower-resilience",
                "poll_ready + call, polled once",
                move || tr.call(black_box(1)),
            ),
        ],
        baseline: Some("bare call"),
    }
}

fn ask_blown() -> Row {
    let (_fb, fuse) = peers::fusebox(true);
    let cb = peers::failsafe(true, 1);
    Row {
        id: "ask_blown",
        title: "ask, open (blown) breaker".into(),
        contenders: vec![
            Contender::new("fusebox", "Fuse::ask", move || {
                let _keep = &_fb;
                black_box(&fuse).ask()
            }),
            Contender::new("failsafe", "is_call_permitted", move || {
                failsafe::CircuitBreaker::is_call_permitted(black_box(&cb))
            }),
        ],
        baseline: None,
    }
}

fn refusal() -> Row {
    let (_fb, fuse) = peers::fusebox(true);
    let rc = peers::recloser(true);
    let fs = peers::failsafe(true, 1);
    let sb = peers::seatbelt_peer::new(true);
    let mut tr = peers::tower_resilience_peer::new(true);
    Row {
        id: "refusal",
        title: "run refused by an open (blown) breaker".into(),
        contenders: vec![
            Contender::new("fusebox", "Fuse::run", move || {
                let _keep = &_fb;
                black_box(&fuse).run(|| op(black_box(1)))
            }),
            Contender::new("recloser", "Recloser::call", move || {
                black_box(&rc).call(|| op(black_box(1)))
            }),
            Contender::new("failsafe", "CircuitBreaker::call", move || {
                failsafe::CircuitBreaker::call(black_box(&fs), || op(black_box(1)))
            }),
            Contender::new("seatbelt", "Breaker execute, polled once", move || {
                sb.call(black_box(1))
            }),
            Contender::new(
                "tower-resilience",
                "poll_ready + call, polled once",
                move || tr.call(black_box(1)),
            ),
        ],
        baseline: None,
    }
}

/// One failure recorded into a window holding `n` failures. fusebox:
/// `standard(n, 1 h)` melted `n + 1` times keeps exactly `n + 1` timestamps,
/// so each melt pushes one and drops one. failsafe (consecutive failures,
/// never reaching its threshold) has no window: its O(1) counter is the floor.
fn melt(n: u32) -> Row {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(n, HOUR).heal(Heal::reset(HOUR)))
        .expect("valid config");
    let fuse = fb.fuse("db").expect("installed");
    for _ in 0..=n {
        fuse.melt();
    }
    let fs = peers::failsafe(false, u32::MAX);
    Row {
        id: if n == 100 { "melt_100" } else { "melt_100000" },
        title: format!("record a failure, {n} in the window"),
        contenders: vec![
            Contender::new("fusebox", "Fuse::melt", move || {
                let _keep = &fb;
                black_box(&fuse).melt()
            }),
            Contender::new("failsafe", "call(Err), consecutive", move || {
                failsafe::CircuitBreaker::call(black_box(&fs), || op(black_box(0)))
            }),
        ],
        baseline: None,
    }
}

const PROBES: usize = 16;

/// `Fusebox::ask(name)` with `n` fuses installed, against the registry one
/// would write by hand: a `RwLock<HashMap<String, Fuse>>`.
fn ask_by_name(n: usize) -> Row {
    let fb = Fusebox::new();
    let names: Vec<String> = (0..n).map(|i| format!("fuse-{i}")).collect();
    let mut by_hand = HashMap::new();
    for name in &names {
        fb.install(name, FuseConfig::standard(5, HOUR))
            .expect("valid config");
        by_hand.insert(name.clone(), fb.fuse(name).expect("installed"));
    }
    let by_hand = Arc::new(RwLock::new(by_hand));
    // Rotate through 16 names spread over the map: a service's hot set. (With
    // hundreds of names in rotation the figure measures cache misses on the
    // fuses themselves, about 1 KiB each with their per-thread counters, not
    // the registry.)
    let probes: Arc<[String]> = (0..PROBES).map(|i| names[(i * 7919) % n].clone()).collect();
    let (p1, p2) = (probes.clone(), probes);
    let (mut i, mut j) = (0usize, 0usize);
    Row {
        id: match n {
            10 => "ask_by_name_10",
            1_000 => "ask_by_name_1000",
            _ => "ask_by_name_100000",
        },
        title: format!("ask by name, {n} fuses installed"),
        contenders: vec![
            Contender::new("fusebox", "Fusebox::ask(name)", move || {
                i = (i + 1) % PROBES;
                black_box(&fb).ask(&p1[i])
            }),
            Contender::new("RwLock<HashMap>", "read lock, get, Fuse::ask", move || {
                j = (j + 1) % PROBES;
                let map = by_hand.read().expect("not poisoned");
                map.get(&p2[j]).map(|f| f.ask())
            }),
        ],
        baseline: None,
    }
}

/// The keyed rows whose id contains `filter`, built only then. The
/// million-key row installs a million named fuses to compare with (about
/// 2 GB, a few seconds), so it runs only when a filter names it
/// (`--filter keyed`), not in a run of everything.
pub fn keyed_rows(filter: &str) -> Vec<Row> {
    [(1_000, "keyed_ask_1000"), (1_000_000, "keyed_ask_1000000")]
        .into_iter()
        .filter(|(n, id)| id.contains(filter) && (*n < 1_000_000 || !filter.is_empty()))
        .map(|(n, _)| keyed_ask(n))
        .collect()
}

/// `KeyedFuses::ask(key)` with `n` keys, against `Fusebox::ask(name)` with
/// `n` fuses installed (the ratio column: keyed / by name). The keyed keys
/// are compact (healthy, never melted), the common case of a family.
fn keyed_ask(n: usize) -> Row {
    use fusebox::keyed::{KeyedBuilder, KeyedFuses};
    let fb = Fusebox::new();
    let names: Vec<String> = (0..n).map(|i| format!("fuse-{i}")).collect();
    let keyed: KeyedFuses<String> = KeyedBuilder::new(FuseConfig::standard(5, HOUR))
        .idle_ttl(HOUR)
        .build(&fb, "hosts")
        .expect("valid config");
    for name in &names {
        fb.install(name, FuseConfig::standard(5, HOUR))
            .expect("valid config");
        let _ = keyed.ask(name.as_str());
    }
    // The same hot set as `ask_by_name`.
    let probes: Arc<[String]> = (0..PROBES).map(|i| names[(i * 7919) % n].clone()).collect();
    let (p1, p2) = (probes.clone(), probes);
    let (mut i, mut j) = (0usize, 0usize);
    let fb2 = fb.clone();
    Row {
        id: match n {
            1_000 => "keyed_ask_1000",
            _ => "keyed_ask_1000000",
        },
        title: format!("keyed ask, {n} keys, against ask by name with {n} fuses"),
        contenders: vec![
            Contender::new("fusebox", "Fusebox::ask(name)", move || {
                i = (i + 1) % PROBES;
                black_box(&fb).ask(&p1[i])
            }),
            Contender::new("fusebox keyed", "KeyedFuses::ask(key)", move || {
                let _keep = &fb2;
                j = (j + 1) % PROBES;
                black_box(&keyed).ask(p2[j].as_str())
            }),
        ],
        baseline: None,
    }
}
