//! Driving a future by hand on a `ManualClock`: the pipeline and hedge tests
//! both poll a call once per simulated millisecond and note when it answered.
#![allow(unreachable_pub, dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox::{Clock, ManualClock};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls `fut` after every millisecond the clock advances until it is
/// ready; the answer and the time it came.
pub fn drive<F: Future>(clock: &ManualClock, fut: F, limit: u64) -> (F::Output, Duration) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..=limit {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return (v, clock.now());
        }
        clock.advance(ms(1));
    }
    panic!("not done after {limit} ms");
}
