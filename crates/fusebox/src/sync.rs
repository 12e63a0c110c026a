//! The atomics and locks of the engine, swapped for loom's under
//! `--cfg loom` so loom can explore every interleaving (the same trick as
//! tokio's `src/loom/mod.rs` and crossbeam's `primitive`). Every lock in this
//! crate — a fuse's, a valve's, the timer heap's, the event bus's, a keyed
//! family's — is taken here, so loom sees them all.
//!
//! # Nothing foreign runs under a lock
//!
//! A [`Waker`](std::task::Waker) may do anything when woken: run the woken
//! task inline, drop another future, release a permit. If it did that while
//! we hold a lock it needs, the thread would deadlock on itself. So every
//! guard this module hands out ([`Locked`], [`Read`], [`Written`]) opens a
//! *deferral* (`deferred.rs`): a wake, a dropped waker or a call into a
//! tracing subscriber issued while any of this thread's locks is held is kept
//! until the last of them is released, and runs then. tokio's batch
//! semaphore does the same with an explicit list of wakers; here the list
//! lives with the lock, so no path can forget it. Code in this crate wakes
//! through [`wake`] and never calls `Waker::wake` itself (the architecture
//! test checks).

mod deferred;

#[cfg(feature = "tracing")]
pub(crate) use deferred::later;
pub(crate) use deferred::{wake, wake_dropped};

use std::ops::{Deref, DerefMut};

use deferred::Deferral;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, RwLock};
#[cfg(loom)]
use loom::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, RwLock};
#[cfg(not(loom))]
use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

/// A held mutex. Wakes and calls deferred while it is held run when the last
/// lock of this thread is released (the guard is dropped before the
/// deferral, by field order).
#[derive(Debug)]
pub(crate) struct Locked<'a, T> {
    guard: MutexGuard<'a, T>,
    _deferral: Deferral,
}

/// A read-locked reader-writer lock, deferring as [`Locked`] does.
#[derive(Debug)]
pub(crate) struct Read<'a, T> {
    guard: RwLockReadGuard<'a, T>,
    _deferral: Deferral,
}

/// A write-locked reader-writer lock, deferring as [`Locked`] does.
#[derive(Debug)]
pub(crate) struct Written<'a, T> {
    guard: RwLockWriteGuard<'a, T>,
    _deferral: Deferral,
}

/// Locks a mutex, ignoring poison: every critical section in this crate
/// leaves its data consistent before it can panic (user code never runs
/// under a lock of this crate), so a poisoned lock carries no broken
/// invariant.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> Locked<'_, T> {
    // The deferral opens before the lock is taken and closes after it is
    // released.
    let deferral = Deferral::open();
    Locked {
        guard: m.lock().unwrap_or_else(|e| e.into_inner()),
        _deferral: deferral,
    }
}

/// Reads a reader-writer lock, ignoring poison as [`lock`] does.
#[inline]
pub(crate) fn read<T>(l: &RwLock<T>) -> Read<'_, T> {
    let deferral = Deferral::open();
    Read {
        guard: l.read().unwrap_or_else(|e| e.into_inner()),
        _deferral: deferral,
    }
}

/// Writes a reader-writer lock, ignoring poison as [`lock`] does.
#[inline]
pub(crate) fn write<T>(l: &RwLock<T>) -> Written<'_, T> {
    let deferral = Deferral::open();
    Written {
        guard: l.write().unwrap_or_else(|e| e.into_inner()),
        _deferral: deferral,
    }
}

/// Waits on a condition variable, ignoring poison as [`lock`] does. What was
/// deferred before the wait stays deferred until the guard is released.
pub(crate) fn wait<'a, T>(cv: &Condvar, locked: Locked<'a, T>) -> Locked<'a, T> {
    let Locked { guard, _deferral } = locked;
    Locked {
        guard: cv.wait(guard).unwrap_or_else(|e| e.into_inner()),
        _deferral,
    }
}

/// Waits on a condition variable for at most `d`, ignoring poison.
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    locked: Locked<'a, T>,
    d: std::time::Duration,
) -> Locked<'a, T> {
    let Locked { guard, _deferral } = locked;
    let guard = match cv.wait_timeout(guard, d) {
        Ok((g, _)) => g,
        Err(e) => e.into_inner().0,
    };
    Locked { guard, _deferral }
}

macro_rules! guard_deref {
    ($($guard:ident),*) => {$(
        impl<T> Deref for $guard<'_, T> {
            type Target = T;
            #[inline]
            fn deref(&self) -> &T {
                &self.guard
            }
        }
    )*};
}
guard_deref!(Locked, Read, Written);

impl<T> DerefMut for Locked<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> DerefMut for Written<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
