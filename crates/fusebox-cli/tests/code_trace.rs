//! Issue 17's done-means: a small instrumented service (an admin server in
//! this process, and a thread emitting `tracing` events that match a spec
//! and events that must not), traced live through the `fusebox` binary.
//!
//! What it proves: exactly `--max` matching events arrive, spaced by the
//! rate (so 20 at 10/s take at least 1.9 s by the events' own timestamps);
//! the trace ends by itself and the binary says why; the service's layer
//! goes back to idle; no event of a wrong target, span or level is ever
//! sent (each carries a `marker` field that must never appear); and the
//! service's own logging layer keeps seeing its `info` events, and none of
//! the `debug` ones the trace enabled.
//!
//! The timing assertions are lower bounds, which no slow machine can break
//! (the budget spaces the events, whatever the scheduler does); waits have
//! generous deadlines and poll for a state, never sleep for one.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fusebox::Fusebox;
use fusebox_admin::code_trace::CodeTrace;
use fusebox_admin::AdminConfig;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use support::{fusebox, looping, serve, Looping, TOKEN};

/// The service's own logging: counts the events it is given, by level.
#[derive(Debug, Default)]
struct Logging {
    info: AtomicU64,
    debug: AtomicU64,
}

struct Counting(Arc<Logging>);

impl<S: tracing::Subscriber> Layer<S> for Counting {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let counter = match *event.metadata().level() {
            tracing::Level::INFO => &self.0.info,
            tracing::Level::DEBUG | tracing::Level::TRACE => &self.0.debug,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The service: its tracer, its logging, its admin URL. One per test
/// process (the subscriber is the global default); the tests that start a
/// trace take `ONE_TRACE`, as the server allows one at a time.
struct Service {
    tracer: CodeTrace,
    logging: Arc<Logging>,
    url: String,
    _rt: tokio::runtime::Runtime,
}

static ONE_TRACE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let tracer = CodeTrace::new();
        let logging = Arc::new(Logging::default());
        let subscriber = tracing_subscriber::registry()
            .with(Counting(logging.clone()).with_filter(LevelFilter::INFO))
            .with(tracer.layer());
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        let (url, rt) = serve(
            Fusebox::new(),
            AdminConfig::new().token(TOKEN).code_trace(tracer.clone()),
        );
        Service {
            tracer,
            logging,
            url,
            _rt: rt,
        }
    })
}

fn one(kind: u64, i: u64) {
    let request = tracing::info_span!(target: "myapp::web", "request", id = i);
    let _request = request.enter();
    let in_query = |f: &dyn Fn()| {
        let query = tracing::debug_span!(target: "myapp::db", "query");
        let _query = query.enter();
        f();
    };
    match kind {
        0 => in_query(&|| tracing::debug!(target: "myapp::db", rows = i, "matched")),
        1 => in_query(&|| tracing::debug!(target: "myapp::db::pool", rows = i, "matched below")),
        2 => {
            in_query(&|| tracing::trace!(target: "myapp::db", marker = "NOPE-level", "too verbose"))
        }
        3 => {
            in_query(&|| tracing::debug!(target: "myapp::dbx", marker = "NOPE-target", "a sibling"))
        }
        4 => in_query(&|| tracing::debug!(target: "other", marker = "NOPE-other", "elsewhere")),
        5 => tracing::debug!(target: "myapp::db", marker = "NOPE-span", "outside the query"),
        _ => tracing::info!(target: "myapp::web", marker = "NOPE-info", "logged, not traced"),
    }
}

/// Emits, until dropped, about a thousand rounds a second of seven events:
/// two that `myapp::db[query]=debug` matches, five that it must not (each
/// with a `marker`). Each round starts at the next kind, so whichever event
/// comes first after the rate lets one through is sometimes a non-matching
/// one: a filter that let it match would send it.
fn emit() -> Looping {
    let mut i = 0u64;
    looping(move || {
        i += 1;
        for k in 0..7 {
            one((i + k) % 7, i);
        }
        // Pacing, not synchronisation: far more matches than the rate.
        std::thread::sleep(Duration::from_millis(1));
    })
}

/// Waits (polling, with a deadline) until no trace runs.
fn until_idle(tracer: &CodeTrace) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tracer.is_tracing() {
        assert!(Instant::now() < deadline, "the trace never switched off");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Milliseconds of the day of an RFC 3339 time, `....T14:00:01.250Z`.
fn millis_of_day(time: &str) -> u64 {
    let clock = &time[time.find('T').expect("a time") + 1..time.len() - 1];
    let (hms, ms) = clock.split_once('.').expect("milliseconds");
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().unwrap());
    let (h, m, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    ((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().unwrap()
}

#[test]
fn a_code_trace_sends_max_matching_events_at_the_rate_and_ends_by_itself() {
    let _one = ONE_TRACE.lock().unwrap_or_else(|e| e.into_inner());
    let s = service();
    let _emitter = emit();
    let info_before = s.logging.info.load(Ordering::Relaxed);
    let run = fusebox(&[
        "trace",
        "--code",
        "myapp::db[query]=debug",
        "--max",
        "20",
        "--rate",
        "10",
        "--for",
        "50s",
        "--url",
        &s.url,
        "--token",
        TOKEN,
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(
        run.stderr.contains("tracing myapp::db[query]=debug on"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("at most 20 events, 10/s, for 50s"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("trace ended: the count was reached; 20 events printed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("dropped over the rate"),
        "{}",
        run.stderr
    );

    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 20, "exactly max:\n{}", run.stdout);
    assert!(
        !run.stdout.contains("NOPE"),
        "a non-matching event was sent:\n{}",
        run.stdout
    );
    for l in &lines {
        assert!(
            l.contains(" DEBUG request:query: myapp::db: matched rows=")
                || l.contains(" DEBUG request:query: myapp::db::pool: matched below rows="),
            "{l}"
        );
    }
    // At most the rate: 20 events at 10/s span 1.9 s, by the budget's
    // monotonic clock; the wall-clock stamps of the first and the last, each
    // taken just after its budget check, must show at least 1.5 s (slack
    // for a thread preempted between the two).
    let ms = |l: &str| millis_of_day(l.split_whitespace().next().unwrap());
    let day = 86_400_000;
    let span = (ms(lines[19]) + day - ms(lines[0])) % day;
    assert!(span >= 1_500, "20 events within {span} ms:\n{}", run.stdout);
    assert!(run.took >= Duration::from_millis(1_900), "{:?}", run.took);

    // Off by itself: the layer is idle again, and the service's logging
    // kept its info events and never saw a debug one.
    until_idle(&s.tracer);
    assert!(s.logging.info.load(Ordering::Relaxed) > info_before);
    assert_eq!(s.logging.debug.load(Ordering::Relaxed), 0);
}

#[test]
fn a_code_trace_ends_at_its_time_limit_with_nothing_matched() {
    let _one = ONE_TRACE.lock().unwrap_or_else(|e| e.into_inner());
    let s = service();
    let _emitter = emit();
    let run = fusebox(&[
        "trace",
        "--code",
        "myapp::nothing=trace",
        "--for",
        "1s",
        "--url",
        &s.url,
        "--token",
        TOKEN,
    ]);
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(run.stdout, "", "nothing matches");
    assert!(
        run.stderr
            .contains("trace ended: the time limit was reached; 0 events printed"),
        "{}",
        run.stderr
    );
    assert!(run.took >= Duration::from_secs(1), "{:?}", run.took);
    until_idle(&s.tracer);
}

#[test]
fn bad_requests_are_refused_with_what_is_wrong() {
    let _one = ONE_TRACE.lock().unwrap_or_else(|e| e.into_inner());
    let s = service();
    let run = fusebox(&[
        "trace",
        "--code",
        "myapp=verbose",
        "--url",
        &s.url,
        "--token",
        TOKEN,
    ]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("HTTP 400: bad trace spec"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("at byte 6: unknown level `verbose`"),
        "{}",
        run.stderr
    );

    let run = fusebox(&["trace", "--code", "myapp=debug", "--url", &s.url]);
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
    assert!(run.stderr.contains("--token"), "{}", run.stderr);

    let run = fusebox(&[
        "trace", "--code", "myapp", "--max", "0", "--url", &s.url, "--token", TOKEN,
    ]);
    assert_eq!(run.code(), Some(2), "clap refuses --max 0: {run:?}");

    let run = fusebox(&["trace", "db", "--for", "1s", "--url", &s.url]);
    assert_eq!(run.code(), Some(1), "--for needs --code: {run:?}");
    assert!(
        run.stderr.contains("--for is for code traces"),
        "{}",
        run.stderr
    );
    assert!(!s.tracer.is_tracing());
}
