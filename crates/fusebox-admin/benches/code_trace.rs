//! What the code-trace layer costs a service: a call site no trace matches,
//! with the layer installed and without it, and an event while a trace runs.
//!
//! `cargo bench -p fusebox-admin --bench code_trace`. Timing is reported,
//! never gated on. Every case runs on the bench thread under a subscriber of
//! its own (`set_default`): a `Registry` with a no-op layer standing in for
//! the service's logging, filtered per layer at `info` (or `trace`), and,
//! in the `with_layer` cases, `CodeTrace::layer()` beside it.
//!
//! * `disabled`: `debug!` under a service logging at `info`, no trace
//!   running. The layer's filter says `OFF`, so the global level stays
//!   `info` and the static level check refuses the event first: the same
//!   work with the layer as without.
//! * `disabled_by_target`: `debug!` in a target the logging layer's filter
//!   turns off while it takes every level elsewhere, no trace running. The
//!   global level passes it; the call site's cached `never` (both filters
//!   say never) refuses it, with the layer as without.
//! * `enabled_elsewhere`: `debug!` under a service logging at `trace` (the
//!   event goes to the logging layer), no trace running. Here the layer's
//!   `never` differs from the logging layer's `always`, so the `Registry`
//!   asks both filters per event: the layer's answer is one relaxed load,
//!   the `Registry`'s bookkeeping comes on top.
//! * `tracing`: a trace of `bench=debug` runs (through the admin router,
//!   its stream drained by a task). `matched_over_rate`: a matching event
//!   the rate refuses (the common case under a flood); `sent`: one event
//!   sent, formatted and queued, one per millisecond so the rate of
//!   1 000/s lets each through (divan measures one event per sample; its
//!   timer's precision, printed first, bounds what this case can resolve).

use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Identity, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use fusebox_admin::code_trace::CodeTrace;
use fusebox_admin::AdminConfig;

fn main() {
    divan::main();
}

/// The service's logging: a layer that does nothing, at `level`.
fn logging<S>(level: LevelFilter) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    Identity::new().with_filter(level)
}

/// Sets the bench thread's subscriber to a `Registry` with `logging` only;
/// it lasts as long as the returned guard.
fn without_layer_under<L>(logging: L) -> DefaultGuard
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    tracing::subscriber::set_default(tracing_subscriber::registry().with(logging))
}

/// Sets the bench thread's subscriber to a `Registry` with `logging` and a
/// fresh `CodeTrace`'s layer beside it; the tracer, and the guard the
/// subscriber lasts as long as.
fn with_layer_under<L>(logging: L) -> (CodeTrace, DefaultGuard)
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let tracer = CodeTrace::new();
    let subscriber = tracing_subscriber::registry()
        .with(logging)
        .with(tracer.layer());
    let default = tracing::subscriber::set_default(subscriber);
    (tracer, default)
}

mod disabled {
    use super::*;

    #[divan::bench]
    fn without_layer(b: divan::Bencher) {
        let _default = without_layer_under(logging(LevelFilter::INFO));
        b.bench_local(|| tracing::debug!(target: "bench::other", n = black_box(1), "disabled"));
    }

    #[divan::bench]
    fn with_layer(b: divan::Bencher) {
        let (_tracer, _default) = with_layer_under(logging(LevelFilter::INFO));
        b.bench_local(|| tracing::debug!(target: "bench::other", n = black_box(1), "disabled"));
    }
}

/// A level the logging layer takes, in a target its filter turns off: the
/// global level lets the event through to its call site, whose cached
/// interest (`never`, from both filters) refuses it.
mod disabled_by_target {
    use super::*;
    use tracing_subscriber::filter::Targets;

    fn logging() -> Targets {
        Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_target("bench::other", LevelFilter::OFF)
    }

    #[divan::bench]
    fn without_layer(b: divan::Bencher) {
        let _default = without_layer_under(Identity::new().with_filter(logging()));
        b.bench_local(|| tracing::debug!(target: "bench::other", n = black_box(1), "disabled"));
    }

    #[divan::bench]
    fn with_layer(b: divan::Bencher) {
        let (_tracer, _default) = with_layer_under(Identity::new().with_filter(logging()));
        b.bench_local(|| tracing::debug!(target: "bench::other", n = black_box(1), "disabled"));
    }
}

mod enabled_elsewhere {
    use super::*;

    #[divan::bench]
    fn without_layer(b: divan::Bencher) {
        let _default = without_layer_under(logging(LevelFilter::TRACE));
        b.bench_local(|| tracing::debug!(target: "bench::other", n = black_box(1), "logged"));
    }

    #[divan::bench]
    fn with_layer(b: divan::Bencher) {
        let (_tracer, _default) = with_layer_under(logging(LevelFilter::TRACE));
        b.bench_local(|| tracing::debug!(target: "bench::other", n = black_box(1), "logged"));
    }
}

mod tracing_on {
    use super::*;

    /// A running trace of `bench=debug` with the rate and count ceilings,
    /// its stream drained on `rt`; the runtime and the trace last as long
    /// as the returned runtime.
    fn trace(tracer: &CodeTrace) -> tokio::runtime::Runtime {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let app = fusebox_admin::router(
            fusebox::Fusebox::new(),
            AdminConfig::new().token("t").code_trace(tracer.clone()),
        );
        let req = Request::post("/api/trace/code")
            .header(header::AUTHORIZATION, "Bearer t")
            .body(Body::from(
                r#"{"spec": "bench=debug", "max": 10000, "rate": 1000, "for": "10m"}"#,
            ))
            .expect("a request");
        let res = rt.block_on(app.oneshot(req)).expect("an answer");
        assert_eq!(res.status(), 200);
        let mut body = res.into_body();
        rt.spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
        assert!(tracer.is_tracing());
        rt
    }

    #[divan::bench]
    fn matched_over_rate(b: divan::Bencher) {
        let (tracer, _default) = with_layer_under(logging(LevelFilter::INFO));
        let _rt = trace(&tracer);
        b.bench_local(|| tracing::debug!(target: "bench::db", n = black_box(1), "traced"));
    }

    #[divan::bench(sample_size = 1, sample_count = 2000)]
    fn sent(b: divan::Bencher) {
        let (tracer, _default) = with_layer_under(logging(LevelFilter::INFO));
        let _rt = trace(&tracer);
        b.with_inputs(|| std::thread::sleep(Duration::from_millis(1)))
            .bench_local_values(
                |()| tracing::debug!(target: "bench::db", n = black_box(1), "traced"),
            );
    }
}
