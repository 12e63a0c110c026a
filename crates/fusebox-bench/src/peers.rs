//! The peers, each set up closed (healthy) or open (refusing), behind one
//! shape: a closure that makes one call and says whether it was admitted.
//!
//! Every breaker wraps the same trivial operation (return the input, or fail
//! on input 0), so what is measured is the breaker's own cost. The async
//! peers (seatbelt, tower-resilience-circuitbreaker) are polled once with a
//! no-op waker: their futures complete at once because the inner operation
//! does, so no executor cost is charged to them.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::{FuseConfig, Fusebox, Heal};

/// Open breakers stay open this long: far beyond any run of the suite.
pub const HOUR: Duration = Duration::from_secs(3600);

/// Polls a future that must be ready at once.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a benchmarked call did not complete at once"),
    }
}

/// The operation every breaker wraps: input 0 fails, anything else succeeds.
#[inline]
pub fn op(x: u64) -> Result<u64, u8> {
    if x == 0 {
        Err(0)
    } else {
        Ok(x)
    }
}

/// A fusebox whose fuse `"db"` is healthy and never blows by accident, or
/// blown for an hour.
pub fn fusebox(open: bool) -> (Fusebox, fusebox::Fuse) {
    let fb = Fusebox::new();
    let cfg = if open {
        FuseConfig::standard(0, HOUR)
    } else {
        FuseConfig::standard(u32::MAX - 1, HOUR)
    };
    fb.install("db", cfg.heal(Heal::reset(HOUR)))
        .expect("valid config");
    let fuse = fb.fuse("db").expect("installed");
    if open {
        fuse.melt();
        assert!(!fuse.ask().is_ok(), "fusebox did not open");
    }
    (fb, fuse)
}

/// recloser: a closed breaker, or one opened by failures.
pub fn recloser(open: bool) -> recloser::Recloser {
    let r = recloser::Recloser::custom()
        .closed_len(if open { 1 } else { 100 })
        .open_wait(HOUR)
        .build();
    if open {
        for _ in 0..3 {
            let _ = r.call(|| op(0));
        }
        assert!(
            matches!(r.call(|| op(1)), Err(recloser::Error::Rejected)),
            "recloser did not open"
        );
    }
    r
}

/// failsafe's breaker type with its defaults replaced by a consecutive
/// failures policy and a constant backoff.
pub type Failsafe = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

/// failsafe: opens after `threshold` consecutive failures.
pub fn failsafe(open: bool, threshold: u32) -> Failsafe {
    use failsafe::CircuitBreaker;
    let cb = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            threshold,
            failsafe::backoff::constant(HOUR),
        ))
        .build();
    if open {
        for _ in 0..threshold {
            let _ = cb.call(|| op(0));
        }
        assert!(!cb.is_call_permitted(), "failsafe did not open");
    }
    cb
}

/// seatbelt (Microsoft oxidizer): a `Breaker` layer over an `Execute`.
pub mod seatbelt_peer {
    use super::*;
    use layered::{Execute, Service, Stack};
    use seatbelt::breaker::Breaker;
    use seatbelt::{RecoveryInfo, ResilienceContext};

    /// A ready-to-call seatbelt stack; `call` answers `Some` if admitted.
    pub struct Peer {
        call: Box<dyn Fn(u64) -> Option<Result<u64, u8>>>,
        // Keeps the clock's driver alive as long as the service.
        _driver: tick::runtime::ClockDriver,
    }

    impl std::fmt::Debug for Peer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("seatbelt::Breaker")
        }
    }

    impl Peer {
        /// One call through the breaker.
        #[inline]
        pub fn call(&self, x: u64) -> Option<Result<u64, u8>> {
            (self.call)(x)
        }
    }

    /// A closed breaker, or one opened by failures.
    pub fn new(open: bool) -> Peer {
        let (clock, driver) =
            tick::runtime::InactiveClock::default().activate(Waker::noop().clone());
        let context = ResilienceContext::new(&clock);
        let stack = (
            Breaker::layer("bench", &context)
                .recovery_with(|out: &Result<u64, u8>, _| match out {
                    Ok(_) => RecoveryInfo::never(),
                    Err(_) => RecoveryInfo::retry(),
                })
                // Rejections answer 1, failures of the operation 0.
                .rejected_input_error(|_, _| 1u8)
                .failure_threshold(0.5)
                .min_throughput(2)
                .break_duration(HOUR),
            Execute::new(|x: u64| async move { op(x) }),
        );
        let service = stack.into_service();
        let call = move |x: u64| match ready(service.execute(x)) {
            Err(1) => None,
            other => Some(other),
        };
        if open {
            for _ in 0..10 {
                let _ = call(0);
            }
            assert_eq!(call(1), None, "seatbelt did not open");
        }
        Peer {
            call: Box::new(call),
            _driver: driver,
        }
    }
}

/// tower-resilience-circuitbreaker: a tower `Service` over `service_fn`.
pub mod tower_resilience_peer {
    use super::*;
    use tower::{service_fn, Service};
    use tower_resilience_circuitbreaker::{CircuitBreakerError, CircuitBreakerLayer};

    type Inner = tower::util::ServiceFn<fn(u64) -> std::future::Ready<Result<u64, u8>>>;

    /// A closed or opened breaker; `call` answers `Some` if admitted.
    pub struct Peer {
        service: tower_resilience_circuitbreaker::CircuitBreaker<
            Inner,
            tower_resilience_circuitbreaker::DefaultClassifier,
        >,
        // tokio's `Sleep`, which the breaker may create, needs a runtime context.
        _rt: tokio::runtime::Runtime,
    }

    impl std::fmt::Debug for Peer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tower_resilience_circuitbreaker::CircuitBreaker")
        }
    }

    impl Peer {
        /// poll_ready, call, and poll the response once: what a tower stack does.
        #[inline]
        pub fn call(&mut self, x: u64) -> Option<Result<u64, u8>> {
            let _g = self._rt.enter();
            let ready_now = self
                .service
                .poll_ready(&mut Context::from_waker(Waker::noop()));
            assert!(ready_now.is_ready(), "tower breaker not ready");
            match ready(self.service.call(x)) {
                Ok(v) => Some(Ok(v)),
                Err(CircuitBreakerError::Inner(e)) => Some(Err(e)),
                Err(_) => None,
            }
        }
    }

    /// A closed breaker, or one opened by a failure.
    pub fn new(open: bool) -> Peer {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        let layer = CircuitBreakerLayer::builder()
            .consecutive_failures(1)
            .wait_duration_in_open(HOUR)
            .build()
            .expect("valid breaker config");
        let inner: Inner =
            service_fn((|x| std::future::ready(op(x))) as fn(u64) -> std::future::Ready<_>);
        let mut peer = Peer {
            service: layer.layer_fn(inner),
            _rt: rt,
        };
        if open {
            let _ = peer.call(0);
            let _ = peer.call(0);
            assert_eq!(peer.call(1), None, "tower-resilience did not open");
        }
        peer
    }
}
