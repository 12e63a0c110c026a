//! A time bound for a test: if the guard is still alive after its limit,
//! the whole test process aborts with a message, so a hang (a valve that
//! never grants, a deadline never checked) fails in seconds instead of
//! holding CI until its own timeout. Limits are generous: ten times what
//! the test takes on a loaded 2-core machine.

#![allow(unreachable_pub, dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Dropping it ends the watch.
#[must_use = "the watch ends when this is dropped"]
pub struct Watchdog {
    _done: mpsc::Sender<()>,
}

/// Starts watching `what`: aborts the process after `limit` unless the
/// returned guard was dropped first.
pub fn watchdog(what: &'static str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(format!("watchdog: {what}"))
        .spawn(move || {
            // A disconnect (the guard dropped) ends the watch; a timeout is a hang.
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // Straight to the descriptor: `eprintln!` in a thread spawned
                // by a test goes to that test's captured output, which an
                // abort throws away.
                use std::io::Write;
                let msg =
                    format!("\n*** {what}: still running after {limit:?}: a hang; aborting ***\n");
                let _ = std::io::stderr().write_all(msg.as_bytes());
                std::process::abort();
            }
        })
        .expect("a watchdog thread");
    Watchdog { _done: tx }
}
