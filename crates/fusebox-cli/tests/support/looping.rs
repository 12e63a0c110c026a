//! A background thread that repeats one round until dropped: how the tests
//! keep a stream of fuse transitions or `tracing` events going while the
//! binary runs, and stop it (joined, not leaked) when the test ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs its round again and again on its own thread until dropped; the
/// drop stops it after the current round and joins the thread.
pub(crate) struct Looping {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a thread that calls `round` until the returned [`Looping`] is
/// dropped. Any pacing is the round's own.
pub(crate) fn looping(mut round: impl FnMut() + Send + 'static) -> Looping {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            round();
        }
    });
    Looping {
        stop,
        thread: Some(thread),
    }
}

impl Drop for Looping {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
