//! How the synchronous retry loop spends a wait: a trait of its own, so the
//! retry's state (`attempts.rs`) and its handle (`run.rs`) both name it and
//! neither needs the other for it.

use std::fmt;
use std::time::Duration;

use crate::clock::ManualClock;

/// How the synchronous [`Retry::run`](super::Retry::run) spends a wait between attempts.
///
/// [`ManualClock`] implements it by advancing itself: a retry on a manual
/// clock never really sleeps, and time moves exactly by each wait.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::retry::Sleep;
///
/// #[derive(Debug)]
/// struct Spin;
/// impl Sleep for Spin {
///     fn sleep(&self, d: Duration) {
///         let until = std::time::Instant::now() + d;
///         while std::time::Instant::now() < until { std::hint::spin_loop(); }
///     }
/// }
/// Spin.sleep(Duration::from_micros(1));
/// ```
pub trait Sleep: Send + Sync + fmt::Debug + 'static {
    /// Waits for `d`.
    fn sleep(&self, d: Duration);
}

/// Sleeps the calling thread ([`std::thread::sleep`]): the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleep;

impl Sleep for ThreadSleep {
    fn sleep(&self, d: Duration) {
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

impl Sleep for ManualClock {
    /// Advances the clock by `d` (running whatever fell due), at once.
    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}
