//! The pipeline layer at the tower level: retries through the layer (each
//! attempt on a readied clone of the inner service), refusals never
//! retried, a hedge that wins, a timeout, a fallback, chaos's errors, and
//! the HTTP classifier. Time is tokio's, paused, so every wait is exact
//! and instant.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use fusebox::fuse::Chaos;
use fusebox::pipeline::{Hedge, Pipeline, PipelineError};
use fusebox::retry::{Backoff, RetryPolicy};
use fusebox::{FuseConfig, Fusebox, Outcome};
use fusebox_tower::pipeline::PipelineLayer;
use fusebox_tower::{BoxError, FuseboxError};
use tower::{Layer, Service, ServiceExt};

const WINDOW: Duration = Duration::from_secs(60);

/// An inner service that counts its `poll_ready`s and calls, and answers
/// each call as `script(call number from 1, request)` says, after
/// `delay(call number)` (tokio's sleep).
#[derive(Clone)]
struct Scripted {
    readied: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    script: fn(usize, &'static str) -> Result<String, &'static str>,
    delay: fn(usize) -> Duration,
}

impl Scripted {
    fn new(script: fn(usize, &'static str) -> Result<String, &'static str>) -> Self {
        Scripted {
            readied: Arc::default(),
            calls: Arc::default(),
            script,
            delay: |_| Duration::ZERO,
        }
    }

    fn delayed(mut self, delay: fn(usize) -> Duration) -> Self {
        self.delay = delay;
        self
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<&'static str> for Scripted {
    type Response = String;
    type Error = &'static str;
    type Future = Pin<Box<dyn Future<Output = Result<String, &'static str>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.readied.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: &'static str) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let (script, delay) = (self.script, (self.delay)(n));
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            script(n, req)
        })
    }
}

fn refusal(err: &BoxError) -> Option<&FuseboxError> {
    err.downcast_ref::<FuseboxError>()
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_retried_through_the_layer_each_attempt_on_a_readied_service() {
    let pipeline = Pipeline::builder("db")
        .retry(RetryPolicy::new(3).backoff(Backoff::constant(Duration::from_millis(10))))
        .build()
        .unwrap();
    let inner = Scripted::new(|n, req| {
        if n < 3 {
            Err("connection reset")
        } else {
            Ok(format!("{req} #{n}"))
        }
    });
    let svc = PipelineLayer::new(pipeline.clone()).layer(inner.clone());
    let t0 = tokio::time::Instant::now();
    assert_eq!(svc.oneshot("select").await.unwrap(), "select #3");
    assert_eq!(inner.calls(), 3);
    // The layer's own poll_ready, then one per attempt: the first attempt
    // readies the service the layer readied again, the others their clone.
    assert_eq!(inner.readied.load(Ordering::SeqCst), 1 + 3);
    assert_eq!(pipeline.stats().retries, 2);
    assert_eq!(t0.elapsed(), Duration::from_millis(20), "two backoffs");

    // Attempts exhausted: the last attempt's own error, not a refusal.
    let down = Scripted::new(|n, _| Err(if n < 3 { "reset" } else { "refused" }));
    let err = PipelineLayer::new(pipeline)
        .layer(down.clone())
        .oneshot("select")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "refused");
    assert!(refusal(&err).is_none(), "{err}");
    assert_eq!(down.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_what_is_retried() {
    let pipeline = Pipeline::builder("api")
        .retry(RetryPolicy::new(4))
        .build()
        .unwrap();
    // "busy" answers are Ok but failures (retried); "missing" errors are
    // ignored (answered at once).
    let inner = Scripted::new(|n, req| match (n, req) {
        (_, "missing") => Err("not found"),
        (1 | 2, _) => Ok("busy".to_owned()),
        _ => Ok("done".to_owned()),
    });
    let classify = |r: &Result<String, &'static str>| match r {
        Ok(s) if s == "busy" => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Ignored,
    };
    let svc = PipelineLayer::new(pipeline)
        .classifier(classify)
        .layer(inner.clone());
    assert_eq!(svc.clone().oneshot("get").await.unwrap(), "done");
    assert_eq!(inner.calls(), 3);
    let err = svc.oneshot("missing").await.unwrap_err();
    assert_eq!(err.to_string(), "not found");
    assert_eq!(inner.calls(), 4, "an ignored result is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_blown_fuse_refuses_and_is_not_retried() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(0, WINDOW)).unwrap(); // the first melt blows it
    let pipeline = Pipeline::builder("db")
        .retry(RetryPolicy::new(5))
        .fuse(fb.fuse("db").unwrap())
        .build()
        .unwrap();
    let inner = Scripted::new(|_, _| Err("down"));
    let svc = PipelineLayer::new(pipeline.clone()).layer(inner.clone());

    let err = svc.clone().oneshot("q").await.unwrap_err();
    assert_eq!(
        refusal(&err),
        Some(&FuseboxError::Blown { fuse: "db".into() }),
        "the retry after the melt is refused: {err}"
    );
    assert_eq!(inner.calls(), 1);

    // Refused before the inner service is called at all.
    let err = svc.clone().oneshot("q").await.unwrap_err();
    assert!(refusal(&err).is_some_and(FuseboxError::is_refusal), "{err}");
    assert_eq!(inner.calls(), 1);

    fb.disable("db").unwrap();
    let err = svc.oneshot("q").await.unwrap_err();
    assert_eq!(
        refusal(&err),
        Some(&FuseboxError::Disabled { fuse: "db".into() })
    );
}

#[tokio::test(start_paused = true)]
async fn a_hedge_wins_over_a_slow_first_attempt() {
    let pipeline = Pipeline::builder("search")
        .hedge(Hedge::after(Duration::from_millis(50)))
        .build()
        .unwrap();
    // The first call hangs for a minute; the second (the hedge) answers in 5 ms.
    let inner = Scripted::new(|n, _| Ok(format!("answer #{n}"))).delayed(|n| {
        if n == 1 {
            Duration::from_secs(60)
        } else {
            Duration::from_millis(5)
        }
    });
    let svc = PipelineLayer::new(pipeline.clone()).layer(inner.clone());
    let t0 = tokio::time::Instant::now();
    assert_eq!(svc.oneshot("q").await.unwrap(), "answer #2");
    assert_eq!(t0.elapsed(), Duration::from_millis(55));
    let stats = pipeline.stats();
    assert_eq!((stats.hedges, stats.hedge_wins), (1, 1));
    assert_eq!(inner.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_cuts_each_attempt_and_says_so() {
    let pipeline = Pipeline::builder("db")
        .retry(RetryPolicy::new(2))
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let inner = Scripted::new(|_, _| Ok("late".to_owned())).delayed(|_| Duration::from_secs(1));
    let svc = PipelineLayer::new(pipeline).layer(inner.clone());
    let t0 = tokio::time::Instant::now();
    let err = svc.oneshot("q").await.unwrap_err();
    let e = refusal(&err).expect("a FuseboxError");
    assert_eq!(
        e,
        &FuseboxError::TimedOut {
            pipeline: "db".into()
        }
    );
    assert!(!e.is_refusal(), "the inner service was called");
    assert_eq!((e.name(), e.reason()), ("db", "timed_out"));
    assert_eq!(inner.calls(), 2, "a timeout is retried");
    assert_eq!(t0.elapsed(), Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn a_fallback_answers_for_a_refusal_and_for_a_failure() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(5, WINDOW)).unwrap();
    let pipeline = Pipeline::builder("db")
        .fuse(fb.fuse("db").unwrap())
        .fallback(|e: PipelineError<&'static str>| {
            if e.is_refusal() {
                "cached".to_owned()
            } else {
                format!("default ({})", e.into_failed().unwrap_or("?"))
            }
        })
        .build()
        .unwrap();
    let inner = Scripted::new(|_, _| Err("down"));
    let svc = PipelineLayer::new(pipeline.clone()).layer(inner.clone());

    assert_eq!(svc.clone().oneshot("q").await.unwrap(), "default (down)");
    assert_eq!(inner.calls(), 1);
    fb.disable("db").unwrap();
    assert_eq!(svc.oneshot("q").await.unwrap(), "cached");
    assert_eq!(inner.calls(), 1, "the inner service was not called");
    assert_eq!(pipeline.stats().fallbacks.total(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_error_injected_by_chaos_is_retried_and_named() {
    let fb = Fusebox::new();
    fb.install("db", FuseConfig::standard(5, WINDOW)).unwrap();
    let pipeline = Pipeline::builder("db")
        .retry(RetryPolicy::new(3))
        .fuse(fb.fuse("db").unwrap())
        .build()
        .unwrap();
    let inner = Scripted::new(|_, _| Ok("fresh".to_owned()));
    let svc = PipelineLayer::new(pipeline).layer(inner.clone());

    fb.set_chaos("db", Chaos::new().error(1.0)).unwrap();
    let err = svc.clone().oneshot("q").await.unwrap_err();
    let e = refusal(&err).expect("a FuseboxError");
    assert_eq!(e, &FuseboxError::Injected { fuse: "db".into() });
    assert!(!e.is_refusal());
    assert_eq!(inner.calls(), 0, "the call was never made");
    assert_eq!(
        fb.state("db").unwrap().counters.chaos_errors,
        3,
        "each attempt"
    );

    fb.set_chaos("db", Chaos::new()).unwrap();
    assert_eq!(svc.oneshot("q").await.unwrap(), "fresh");
}

#[tokio::test(start_paused = true)]
async fn over_http_5xx_are_retried_and_4xx_answered_at_once() {
    let pipeline = Pipeline::builder("api")
        .retry(RetryPolicy::new(3))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let inner = tower::service_fn(move |path: &'static str| {
        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
        let status = match (path, n) {
            ("/missing", _) => 404,
            (_, 1) => 503,
            _ => 200,
        };
        async move {
            Ok::<_, std::io::Error>(http::Response::builder().status(status).body(()).unwrap())
        }
    });
    let svc = PipelineLayer::http(pipeline).layer(inner);
    let resp = svc.clone().oneshot("/orders").await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), calls.load(Ordering::SeqCst)),
        (200, 2)
    );
    let resp = svc.oneshot("/missing").await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), calls.load(Ordering::SeqCst)),
        (404, 3)
    );
}
