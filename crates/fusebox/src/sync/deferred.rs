//! What must wait until this thread holds none of the crate's locks: wakes,
//! the drop of a waker (the executor's code), calls into a tracing
//! subscriber.
//!
//! Each guard of `sync.rs` opens a deferral; a thread's deferrals nest
//! (a valve's lock taken under a fuse's, say). While one is open, [`wake`],
//! [`wake_dropped`] and [`later`] keep their work in a per-thread list; when
//! the outermost closes, after its lock is released, the list runs in the
//! order it was filled. What that work does (take the same locks again, even
//! on this thread) is then safe. Nothing is lost: a panic in one item is
//! caught, the rest still run, and the first panic is raised again
//! afterwards (unless the thread is already unwinding).
//!
//! Cost: two thread-local counter updates per lock taken; the list is
//! touched only when something was deferred.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Waker;

/// One piece of deferred work.
enum Later {
    Wake(Waker),
    Drop(Waker),
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    Call(Box<dyn FnOnce()>),
}

impl Later {
    fn run(self) {
        match self {
            Later::Wake(w) => w.wake(),
            Later::Drop(w) => drop(w),
            Later::Call(f) => f(),
        }
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static PENDING: RefCell<Vec<Later>> = const { RefCell::new(Vec::new()) };
}

#[cfg(loom)]
loom::thread_local! {
    static DEPTH: Cell<usize> = Cell::new(0);
    static PENDING: RefCell<Vec<Later>> = RefCell::new(Vec::new());
}

/// An open deferral; closing the outermost runs what was deferred.
pub(crate) struct Deferral {
    /// Not `Send`: it belongs to the thread whose counter it raised.
    _thread: PhantomData<*const ()>,
}

impl fmt::Debug for Deferral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferral")
    }
}

impl Deferral {
    #[inline]
    pub(crate) fn open() -> Self {
        // A thread that is exiting has no counter left; then nothing is
        // deferred and every item runs at once (see `defer`).
        let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
        Deferral {
            _thread: PhantomData,
        }
    }
}

impl Drop for Deferral {
    #[inline]
    fn drop(&mut self) {
        let outermost = DEPTH
            .try_with(|d| {
                let n = d.get().saturating_sub(1);
                d.set(n);
                n == 0
            })
            .unwrap_or(false);
        if outermost {
            flush();
        }
    }
}

/// Runs the deferred work of this thread, and what that work defers in
/// turn, until none is left.
#[cold]
fn flush() {
    let mut first_panic = None;
    loop {
        let batch = PENDING
            .try_with(|p| std::mem::take(&mut *p.borrow_mut()))
            .unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for item in batch {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| item.run())) {
                first_panic.get_or_insert(payload);
            }
        }
    }
    if let Some(payload) = first_panic {
        if !std::thread::panicking() {
            resume_unwind(payload);
        }
    }
}

fn defer(item: Later) {
    let mut item = Some(item);
    if DEPTH.try_with(Cell::get).unwrap_or(0) > 0 {
        let _ = PENDING.try_with(|p| p.borrow_mut().extend(item.take()));
    }
    // No lock held (or the thread is exiting and keeps no list): now.
    if let Some(item) = item {
        item.run();
    }
}

/// Wakes `w`, now if this thread holds none of the crate's locks, else as
/// soon as it holds none.
pub(crate) fn wake(w: Waker) {
    defer(Later::Wake(w));
}

/// Drops a waker that is no longer needed (its drop is the executor's code)
/// once this thread holds none of the crate's locks.
pub(crate) fn wake_dropped(w: Waker) {
    defer(Later::Drop(w));
}

/// Calls `f` (a tracing subscriber, say) once this thread holds none of the
/// crate's locks.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn later(f: impl FnOnce() + 'static) {
    defer(Later::Call(Box::new(f)));
}
