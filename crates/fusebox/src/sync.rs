//! The atomics and locks of the fuse engine, swapped for loom's under
//! `--cfg loom` so loom can explore every interleaving of the hot path
//! (the same trick as tokio's `src/loom/mod.rs` and crossbeam's `primitive`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU64;
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poison: every critical section in this crate
/// leaves its data consistent before it can panic (user code never runs
/// under a fuse lock), so a poisoned lock carries no broken invariant.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicUsize;
#[cfg(loom)]
pub(crate) use loom::sync::Condvar;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicUsize;
#[cfg(not(loom))]
pub(crate) use std::sync::Condvar;

/// Waits on a condition variable, ignoring poison as [`lock`] does.
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    #[cfg(loom)]
    {
        cv.wait(guard).unwrap()
    }
    #[cfg(not(loom))]
    {
        cv.wait(guard).unwrap_or_else(|e| e.into_inner())
    }
}
