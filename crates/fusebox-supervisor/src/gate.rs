//! The gate before each (re)start: the child's own fuse (restart pacing,
//! with its heal program's backoff, jitter or barrier) and the fuses it
//! needs (dependency gating) must all be ok.
//!
//! While the gate is shut the supervisor waits without spinning: it sleeps
//! on the Fusebox's timer until the earliest heal a blown fuse announced,
//! or until the Fusebox publishes an event (an operator's unlock or reset,
//! a fuse installed), whichever comes first, and then looks again.

use std::sync::Arc;
use std::time::Duration;

use fusebox::{Ask, Fusebox};

/// Whether every fuse in `fuses` says ok; if not, how long until the
/// earliest announced heal (`None`: wait for an event).
pub(crate) fn check(fusebox: &Fusebox, fuses: &[Arc<str>]) -> Result<(), Option<Duration>> {
    let now = fusebox.now();
    let mut shut = false;
    let mut soonest: Option<Duration> = None;
    for name in fuses {
        match fusebox.ask(name) {
            Ok(Ask::Ok) => {}
            Ok(_) => {
                shut = true;
                if let Ok(s) = fusebox.state(name) {
                    if let Some(at) = s.next_heal {
                        let wait = at.saturating_sub(now);
                        soonest = Some(soonest.map_or(wait, |w| w.min(wait)));
                    }
                }
            }
            // A fuse that is not installed is not ok: the child waits for it.
            Err(_) => shut = true,
        }
    }
    if shut {
        Err(soonest)
    } else {
        Ok(())
    }
}
