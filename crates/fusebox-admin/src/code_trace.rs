//! Live tracing of the service's own code, `recon_trace`'s way: an operator
//! asks a running service for the `tracing` events of one corner of its
//! code, gets at most so many, at most so fast, for at most so long, and the
//! trace switches itself off.
//!
//! # Why
//!
//! A service logs at `info` in production; the `debug!` lines that would say
//! what the database layer is doing right now are compiled in but switched
//! off, because on all the time they would flood the logs. Turning the log
//! level up means a restart or a global change that floods anyway. Erlang's
//! `recon_trace` showed the way out: trace *calls*, live, with a pattern,
//! and make every trace bounded by a count and a rate so that it is safe to
//! point at a busy production node and it always ends. This module does that
//! for `tracing` events: [`CodeTrace::layer`] is added once to the service's
//! subscriber and costs (close to) nothing while no trace runs; an operator
//! starts a trace over the admin server (`POST /api/trace/code`, with the
//! bearer token) or with `fusebox trace --code 'myapp::db[query]=debug'`.
//!
//! # Installing the layer
//!
//! ```
//! use tracing_subscriber::filter::LevelFilter;
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::Layer;
//!
//! let tracer = fusebox_admin::code_trace::CodeTrace::new();
//! let subscriber = tracing_subscriber::registry()
//!     // The service's own logging, with a *per-layer* filter (see below).
//!     .with(tracing_subscriber::layer::Identity::new().with_filter(LevelFilter::INFO))
//!     .with(tracer.layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::debug!(target: "myapp::db", "not traced: no trace is running");
//! });
//!
//! // And give the handle to the admin router:
//! let config = fusebox_admin::AdminConfig::new().token("s3cret").code_trace(tracer);
//! # let _ = config;
//! ```
//!
//! (`Identity` stands in for `tracing_subscriber::fmt::layer()`, whose
//! feature this example does not build.)
//!
//! The layer needs a [`Registry`](tracing_subscriber::Registry) at the root
//! of the subscriber (for span lookup and per-layer filters). Its filter is
//! per-layer: it never disables an event for another layer. But the other
//! way round, a *global* filter (a filter added with `.with(filter)` rather
//! than `layer.with_filter(filter)`, or `fmt().with_max_level(..)`) vetoes
//! events for every layer, this one included: to trace `debug` events under
//! a service that logs at `info`, give the logging layer its level with
//! `with_filter`. Add the layer once; two copies would send each event twice.
//!
//! # What a trace sends
//!
//! `POST /api/trace/code` with a JSON body `{"spec": "...", "max": 50,
//! "rate": 10, "for": "30s"}` (every field but `spec` optional) answers a
//! `text/event-stream`:
//!
//! ```text
//! event: started   data {"spec", "max", "rate", "for_ms", "clamped": [..]}
//! event: trace     data {"seq", "time", "level", "target", "spans", "message", "fields"}
//! event: ended     data {"reason": "max|time|stopped", "sent", "over_rate", "lost", "failed"}
//! ```
//!
//! then the stream ends. Spans are those created since the trace began (a
//! span created earlier was never seen by this layer). `DELETE
//! /api/trace/code` (token) stops the running trace; a client that goes
//! away stops it too.
//!
//! # Bounds
//!
//! | what | default | ceiling | beyond it |
//! |---|---|---|---|
//! | `max` events | [`DEFAULT_MAX`] (100) | [`MAX_MAX`] (10 000) | clamped, named in `clamped` |
//! | `rate` per second | [`DEFAULT_RATE`] (10) | [`MAX_RATE`] (1 000) | clamped |
//! | `for`, the time limit | [`DEFAULT_FOR`] (60 s) | [`MAX_FOR`] (10 min) | clamped |
//! | traces at once | | 1 | 409 `"a code trace is running"` |
//! | buffer to a slow client | [`BUFFER`] (256 lines) | | a line is dropped, counted in `lost` |
//! | one line | 1 KiB a value, 8 KiB in all | | cut, ending in `…` |
//! | the spec | 1 KiB, 16 directives, 8 fields each | | 400 |
//!
//! Zero for `max`, `rate` or `for` is a 400, as is a spec that does not
//! parse (with `at`, the byte, and `kind`, the problem). Events over the
//! rate are dropped and counted (`over_rate`): consecutive events sent are
//! at least `1/rate` apart.
//!
//! # Cost
//!
//! Medians from `cargo bench -p fusebox-admin --bench code_trace` (divan;
//! an Intel Xeon VM, 2 shared cores, December 2026), a `Registry` with a
//! no-op logging layer filtered per layer, with this layer beside it and
//! without:
//!
//! | case, no trace running | without | with |
//! |---|---|---|
//! | `debug!` under logging at `info` (the static level check refuses it) | 0.13 ns | 0.13 ns |
//! | `debug!` in a target the logging filter turns off (the call site's cached `never`) | 0.40 ns | 0.40 ns |
//! | `debug!` the logging layer takes (the `Registry` asks both filters) | 8.7 ns | 14.2 ns |
//!
//! A disabled call site costs the same with the layer as without. An event
//! another layer takes costs about 5.5 ns more: where the filters disagree
//! (`always` for the logging layer, `never` for this one) the call site is
//! `sometimes` and every per-layer filter is asked per event; next to the
//! formatting that layer then does, it is small. While a trace runs, a
//! matching event the rate refuses costs about 100 ns, and an event sent
//! about 4 to 6 µs (printed, queued, and the stream's task woken), at most
//! `rate` times a second. While a trace of level `L` runs, the global level
//! is at least `L`, so elsewhere a call site at `L` is refused by its cached
//! `never` (0.40 ns) rather than by the static level check (0.13 ns), until
//! the trace ends.

mod budget;
mod filter;
mod line;
mod session;
mod sink;
mod spec;

pub(crate) mod route;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tracing_core::Subscriber;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use spec::{SpecError, TraceSpec, MAX_DIRECTIVES, MAX_FIELDS, MAX_SPEC_LEN};

pub(crate) use session::{Bounds, End, Session};

/// `max` when the request names none.
pub const DEFAULT_MAX: u64 = 100;
/// The most events one trace sends.
pub const MAX_MAX: u64 = 10_000;
/// `rate` (events per second) when the request names none.
pub const DEFAULT_RATE: u64 = 10;
/// The highest rate.
pub const MAX_RATE: u64 = 1_000;
/// The time limit when the request names none.
pub const DEFAULT_FOR: Duration = Duration::from_secs(60);
/// The longest time limit.
pub const MAX_FOR: Duration = Duration::from_secs(600);
/// Lines buffered between the service and a trace's client.
pub const BUFFER: usize = 256;

/// The handle to a service's code tracing: make the layer with it, give it
/// to the admin router with
/// [`AdminConfig::code_trace`](crate::AdminConfig::code_trace). Clones share
/// one state. See the [module documentation](self).
///
/// # Example
///
/// ```
/// let tracer = fusebox_admin::code_trace::CodeTrace::new();
/// assert!(!tracer.is_tracing());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CodeTrace {
    shared: Arc<Shared>,
}

/// Two handles are equal when they share one state.
impl PartialEq for CodeTrace {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for CodeTrace {}

/// What the handle, the filter, the sink and the route share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// True while a session is in the slot: the first, cheapest check of
    /// every hook.
    on: AtomicBool,
    slot: RwLock<Option<Arc<Session>>>,
    /// How many dispatchers the layer was registered with.
    installs: AtomicUsize,
}

impl Shared {
    pub(crate) fn is_on(&self) -> bool {
        // Relaxed: a hint; the slot's lock orders the session's contents. A
        // stale true costs a lock; a stale false drops an event at the very
        // start of a trace, before its interest rebuild has finished.
        self.on.load(Ordering::Relaxed)
    }

    /// Calls `f` with the running session, if there is one, under the
    /// slot's read lock: `f` only reads (the filter's questions); anything that
    /// wakes or ends the session takes [`running`](Self::running) instead.
    pub(crate) fn with_running<T>(&self, f: impl FnOnce(&Session) -> T) -> Option<T> {
        let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
        slot.as_deref().filter(|s| s.is_running()).map(f)
    }

    /// The running session, if there is one.
    pub(crate) fn running(&self) -> Option<Arc<Session>> {
        let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().filter(|s| s.is_running()).cloned()
    }

    fn count_install(&self) {
        // Relaxed: a count read only to tell "never installed" apart.
        self.installs.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a trace could not start.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The layer was never added to a subscriber.
    NotInstalled,
    /// Another trace is running; it ends within this long.
    Busy(Duration),
}

impl CodeTrace {
    /// A handle with no trace running.
    pub fn new() -> Self {
        CodeTrace::default()
    }

    /// The layer to add to the service's subscriber, once. It needs a
    /// [`Registry`](tracing_subscriber::Registry) below it.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let tracer = fusebox_admin::code_trace::CodeTrace::new();
    /// let subscriber = tracing_subscriber::registry().with(tracer.layer());
    /// # let _ = subscriber;
    /// ```
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let filter = filter::TraceFilter {
            shared: self.shared.clone(),
        };
        sink::TraceSink {
            shared: self.shared.clone(),
        }
        .with_filter(filter)
    }

    /// True while a trace runs.
    pub fn is_tracing(&self) -> bool {
        self.shared.with_running(|_| ()).is_some()
    }

    /// Starts a trace, if none is running: the session, its buffer's
    /// receiving end, and the guard that ends it when dropped.
    pub(crate) fn start(
        &self,
        spec: TraceSpec,
        bounds: Bounds,
    ) -> Result<
        (
            Arc<Session>,
            tokio::sync::mpsc::Receiver<line::TraceLine>,
            TraceGuard,
        ),
        Refusal,
    > {
        // Relaxed: see `count_install`.
        if self.shared.installs.load(Ordering::Relaxed) == 0 {
            return Err(Refusal::NotInstalled);
        }
        let now = Instant::now();
        let (session, rx) = Session::new(spec, bounds, BUFFER, now);
        let session = Arc::new(session);
        {
            let mut slot = self.shared.slot.write().unwrap_or_else(|e| e.into_inner());
            if let Some(running) = slot.as_ref() {
                let ends = running.started + running.bounds.time;
                return Err(Refusal::Busy(ends.saturating_duration_since(now)));
            }
            *slot = Some(session.clone());
            // Relaxed: the slot's lock publishes the session; see `is_on`.
            self.shared.on.store(true, Ordering::Relaxed);
        }
        // Outside the lock: the rebuild calls the filter, which reads it.
        tracing_core::callsite::rebuild_interest_cache();
        let guard = TraceGuard {
            shared: self.shared.clone(),
            session: session.clone(),
        };
        Ok((session, rx, guard))
    }

    /// Ends the running trace as stopped by an operator; false if none was
    /// running.
    pub(crate) fn stop(&self) -> bool {
        // Finished with the slot's lock released: `finish` wakes the
        // trace's stream, which may run at once and empty the slot (a
        // write of the lock this thread would still hold for reading).
        self.shared
            .running()
            .is_some_and(|session| session.finish(End::Stopped))
    }

    /// The filter's answer for a call site, for tests of the interest.
    #[cfg(test)]
    fn interest(&self, meta: &'static tracing_core::Metadata<'static>) -> &'static str {
        let f = filter::TraceFilter {
            shared: self.shared.clone(),
        };
        let i = <filter::TraceFilter as tracing_subscriber::layer::Filter<
            tracing_subscriber::Registry,
        >>::callsite_enabled(&f, meta);
        if i.is_always() {
            "always"
        } else if i.is_never() {
            "never"
        } else {
            "sometimes"
        }
    }
}

/// Ends its trace when dropped (by the stream that sends it: the client
/// left, the server shut down, or the trace ran out), empties the slot and
/// rebuilds the interest cache, so that every call site goes back to
/// `never`.
#[derive(Debug)]
pub(crate) struct TraceGuard {
    shared: Arc<Shared>,
    session: Arc<Session>,
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        self.session.finish(End::Gone);
        {
            let mut slot = self.shared.slot.write().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.session)) {
                *slot = None;
                // Relaxed: as in `start`.
                self.shared.on.store(false, Ordering::Relaxed);
            }
        }
        tracing_core::callsite::rebuild_interest_cache();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn bounds() -> Bounds {
        Bounds {
            max: 5,
            rate: 1_000,
            time: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_trace_needs_the_layer_and_runs_one_at_a_time() {
        let tracer = CodeTrace::new();
        let spec = || TraceSpec::parse("x").unwrap();
        assert!(matches!(
            tracer.start(spec(), bounds()),
            Err(Refusal::NotInstalled)
        ));
        let subscriber = tracing_subscriber::registry().with(tracer.layer());
        let _default = tracing::subscriber::set_default(subscriber);
        let (_session, _rx, guard) = tracer.start(spec(), bounds()).unwrap();
        assert!(tracer.is_tracing());
        assert!(matches!(
            tracer.start(spec(), bounds()),
            Err(Refusal::Busy(_))
        ));
        assert!(tracer.stop());
        assert!(!tracer.is_tracing(), "stopped");
        assert!(!tracer.stop(), "already");
        drop(guard);
        assert!(tracer.start(spec(), bounds()).is_ok(), "the slot is free");
    }

    /// The trace's stream may run as soon as `stop` wakes it, on the same
    /// thread (an executor that polls inline), and its guard then empties
    /// the slot, a write of the lock `stop` must no longer hold.
    #[test]
    fn stop_wakes_the_stream_after_the_slot_lock() {
        use std::future::Future;
        use std::sync::{mpsc, Mutex};
        use std::task::{Context, Wake, Waker};

        struct DropGuard(Mutex<Option<TraceGuard>>);
        impl Wake for DropGuard {
            fn wake(self: Arc<Self>) {
                let guard = self.0.lock().unwrap().take();
                drop(guard);
            }
        }

        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let tracer = CodeTrace::new();
            let subscriber = tracing_subscriber::registry().with(tracer.layer());
            let _default = tracing::subscriber::set_default(subscriber);
            let (session, _rx, guard) = tracer
                .start(TraceSpec::parse("x").unwrap(), bounds())
                .unwrap();
            let stream = Arc::new(DropGuard(Mutex::new(Some(guard))));
            let waker = Waker::from(stream.clone());
            let mut ended = Box::pin(session.ended.notified());
            assert!(ended
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            let stopped = tracer.stop();
            let guard_dropped = stream.0.lock().unwrap().is_none();
            done.send((stopped, guard_dropped, tracer.is_tracing()))
                .unwrap();
        });
        let (stopped, guard_dropped, tracing) = finished
            .recv_timeout(Duration::from_secs(20))
            .expect("stop deadlocked: it woke the stream under the slot's lock");
        assert!(stopped && guard_dropped);
        assert!(!tracing, "the slot is empty");
    }

    #[test]
    fn interest_follows_the_running_spec() {
        struct Cs;
        impl tracing_core::Callsite for Cs {
            fn set_interest(&self, _: tracing_core::subscriber::Interest) {}
            fn metadata(&self) -> &tracing_core::Metadata<'_> {
                &DB
            }
        }
        static CS: Cs = Cs;
        static DB: tracing_core::Metadata<'static> = tracing_core::metadata! {
            name: "db event",
            target: "myapp::db::pool",
            level: tracing_core::Level::DEBUG,
            fields: &["message", "table"],
            callsite: &CS,
            kind: tracing_core::metadata::Kind::EVENT,
        };
        let tracer = CodeTrace::new();
        let subscriber = tracing_subscriber::registry().with(tracer.layer());
        let _default = tracing::subscriber::set_default(subscriber);
        assert_eq!(tracer.interest(&DB), "never", "no trace running");
        let cases = [
            ("myapp::db=debug", "always"),
            ("myapp::db=info", "never"),
            ("myapp::dbx", "never"),
            ("myapp[query]=debug", "sometimes"),
            ("myapp{table}", "always"),
            ("myapp{table=users}", "sometimes"),
            ("myapp{row}", "never"),
            ("other,myapp{table=users},debug", "always"),
        ];
        for (spec, want) in cases {
            let (_s, _rx, guard) = tracer
                .start(TraceSpec::parse(spec).unwrap(), bounds())
                .unwrap();
            assert_eq!(tracer.interest(&DB), want, "{spec}");
            drop(guard);
            assert_eq!(tracer.interest(&DB), "never", "after {spec}");
        }
    }
}
