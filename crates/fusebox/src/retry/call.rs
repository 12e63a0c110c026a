//! The async forms of [`Retry`]: the same engine as [`Retry::run`], with
//! each wait awaited instead of slept.
//!
//! [`Retry::call_with`] needs no runtime: it takes the timer as a function
//! from a duration to a future (`tokio::time::sleep`, `async_io::Timer`, or
//! a test's own). With the `tokio` feature, [`Retry::call`] and
//! [`Retry::call_fuse`] use tokio's timer.

use std::future::Future;
use std::time::Duration;

#[cfg(feature = "tokio")]
use crate::error::RunError;
#[cfg(feature = "tokio")]
use crate::fuse::Fuse;

use super::attempts::{Attempts, Next};
use super::{Class, Retry, RetryError};

impl Retry {
    /// Awaits `make()` until it succeeds or a rule of the policy stops it,
    /// awaiting `sleep(d)` for each wait; only a [`Class::Failure`] (as
    /// `classify` says) is retried.
    ///
    /// # Cancel safety
    ///
    /// The returned future may be dropped at any point, and nothing leaks:
    /// the attempt in flight (or the wait) is dropped with it, and no
    /// further attempt is made. What was already counted stays counted:
    /// the first attempt's deposit in the budget, and a retry withdrawn
    /// from the budget before its wait began (as in tower's `Retry`, a
    /// withdrawal is not given back). An attempt made through
    /// [`Fuse::call`](crate::Fuse::call) and dropped counts, for the fuse,
    /// as ignored and frees its probe slot.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::retry::{Class, Retry, RetryPolicy};
    ///
    /// let retry = Retry::new(RetryPolicy::new(3))?;
    /// let mut n = 0;
    /// let fut = retry.call_with(
    ///     || { n += 1; let k = n; async move { if k < 2 { Err("flaky") } else { Ok(k) } } },
    ///     Class::of_result,
    ///     |_d: Duration| async {},          // a test's timer: no wait
    /// );
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// assert_eq!(block_on(fut), Ok(2));      // fut.await on a runtime
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub async fn call_with<T, E, F, Fut, S, SFut>(
        &self,
        mut make: F,
        classify: impl Fn(&Result<T, E>) -> Class,
        mut sleep: S,
    ) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        S: FnMut(Duration) -> SFut,
        SFut: Future<Output = ()>,
    {
        let mut attempts = Attempts::begin(&self.inner);
        loop {
            let out = make().await;
            match attempts.after_with(classify(&out), || self.inner.clock.now()) {
                Next::Again(d) => sleep(d).await,
                Next::Done(stop) => return attempts.finish(out, stop),
            }
        }
    }

    /// [`call_with`](Self::call_with) on tokio's timer, every `Err` a
    /// failure. Needs a tokio runtime with time enabled.
    ///
    /// # Cancel safety
    ///
    /// As [`call_with`](Self::call_with): dropping the future drops the
    /// attempt or the wait in flight and makes no further attempt; deposits
    /// and withdrawals already made stay counted.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn call<T, E, F, Fut>(&self, make: F) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(make, Class::of_result, tokio::time::sleep)
            .await
    }

    /// Each attempt through [`Fuse::call`](crate::Fuse::call), on tokio's
    /// timer: a refusal by the fuse ends the retries at once; an `Err` is a
    /// melt and is retried. `make` builds each attempt's future before the
    /// fuse is asked (as [`Fuse::call`](crate::Fuse::call) takes a future);
    /// a refused attempt's future is dropped unpolled, so put the call's
    /// effects inside the future, not in `make`.
    ///
    /// # Cancel safety
    ///
    /// As [`call_with`](Self::call_with); an attempt dropped in flight is
    /// reported to the fuse as ignored, and a probe slot it held is freed.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn call_fuse<T, E, F, Fut>(
        &self,
        fuse: &Fuse,
        mut make: F,
    ) -> Result<T, RetryError<RunError<E>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(|| fuse.call(make()), Class::of_run, tokio::time::sleep)
            .await
    }
}
