//! The fuse: a named circuit breaker.
//!
//! ```text
//!              melt × (max_melts + 1) within window
//!     ┌────┐ ─────────────────────────────────────▶ ┌───────┐
//!     │ ok │                                        │ blown │
//!     └────┘ ◀───────────────────────────────────── └───────┘
//!       ▲  │        heal deadline passes, or reset      │
//!       │  │ disable                            disable │
//!       │  ▼                                            ▼
//!     ┌──────────┐   (disable dominates: only enable or remove leave it)
//!     │ disabled │ ─── enable ──▶ ok, empty history
//!     └──────────┘
//! ```
//!
//! A [`Fuse`] is a cheap handle (a clone of an `Arc`) to one fuse of a
//! [`Fusebox`](crate::Fusebox); keep one where calls are hot and skip the
//! by-name lookup.

pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod window;
pub(crate) mod word;

use std::sync::Arc;

pub use config::{FuseConfig, Heal, Strategy, DEFAULT_HEAL_AFTER};
use engine::{Answer, FuseCore};

use crate::error::RunError;
use crate::snapshot::FuseSnapshot;

/// The answer to [`ask`](Fuse::ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Ask {
    /// Go ahead.
    Ok,
    /// Do not call the dependency now.
    Blown,
}

impl Ask {
    /// True for [`Ask::Ok`].
    #[inline]
    pub fn is_ok(self) -> bool {
        self == Ask::Ok
    }
}

/// A handle to one installed fuse.
///
/// Cloning is cheap; all clones and the [`Fusebox`](crate::Fusebox) see one
/// fuse. Reinstalling the name changes the fuse the handle points to in
/// place. After [`remove`](crate::Fusebox::remove), a handle answers
/// [`Ask::Blown`] to every ask and ignores melts; look the name up again if
/// it is reinstalled.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Ask, FuseConfig, Fusebox};
///
/// let fb = Fusebox::new();
/// fb.install("db", FuseConfig::standard(1, Duration::from_secs(10))).unwrap();
/// let db = fb.fuse("db").expect("installed");
/// assert_eq!(db.ask(), Ask::Ok);
/// db.melt();
/// db.melt();                        // the second melt in the window blows it
/// assert_eq!(db.ask(), Ask::Blown);
/// ```
#[derive(Clone)]
pub struct Fuse {
    core: Arc<FuseCore>,
}

impl std::fmt::Debug for Fuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl Fuse {
    pub(crate) fn from_core(core: Arc<FuseCore>) -> Self {
        Fuse { core }
    }

    /// The fuse's name.
    pub fn name(&self) -> &str {
        self.core.name()
    }

    /// Ok or blown. On a healthy fuse: one atomic load, no lock, no clock.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{Ask, FuseConfig, Fusebox};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(1, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// if db.ask().is_ok() {
    ///     // call the database
    /// }
    /// ```
    #[inline]
    pub fn ask(&self) -> Ask {
        match self.core.ask() {
            Answer::Ok => Ask::Ok,
            Answer::Blown | Answer::Removed => Ask::Blown,
        }
    }

    /// Reports one failure, timestamped by the fuse's clock. May blow it.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{Ask, FuseConfig, Fusebox};
    /// # let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// db.melt();
    /// assert_eq!(db.ask(), Ask::Blown);
    /// ```
    pub fn melt(&self) {
        let _ = self.core.melt();
    }

    /// Reports one success (counted; strategies that need successes use it).
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// db.success();
    /// assert_eq!(db.snapshot().unwrap().counters.successes, 1);
    /// ```
    pub fn success(&self) {
        self.core.success();
    }

    /// Asks; if blown, refuses without calling `f`; if ok, calls `f` and melts
    /// on `Err`. A panic in `f` counts as a melt and keeps unwinding.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox, RunError};
    /// # let fb = Fusebox::new();
    /// # fb.install("db", FuseConfig::standard(0, Duration::from_secs(10))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// let row: Result<u32, RunError<&str>> = db.run(|| Ok(7));
    /// assert_eq!(row, Ok(7));
    /// let row: Result<u32, RunError<&str>> = db.run(|| Err("down"));
    /// assert_eq!(row, Err(RunError::Failed("down")));
    /// assert_eq!(db.run(|| Ok::<_, ()>(1)), Err(RunError::Blown));
    /// ```
    #[inline]
    pub fn run<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, RunError<E>> {
        self.core.run(f).map_err(|e| match e {
            RunError::NotFound(_) => RunError::Blown,
            e => e,
        })
    }

    /// Heals now: ok, empty history, pending heal cancelled. A disabled fuse
    /// stays disabled.
    pub fn reset(&self) {
        let _ = self.core.reset();
    }

    /// Blown until [`enable`](Self::enable), whatever else happens.
    pub fn disable(&self) {
        let _ = self.core.disable();
    }

    /// Ends a [`disable`](Self::disable): ok, empty history. Idempotent.
    pub fn enable(&self) {
        let _ = self.core.enable();
    }

    /// The fuse's state, melts, config, counters and timing; `None` once removed.
    pub fn snapshot(&self) -> Option<FuseSnapshot> {
        self.core.snapshot()
    }
}
