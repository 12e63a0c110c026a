//! One running code trace: its spec, its budget, the bounded buffer to its
//! stream, and how it ended.
//!
//! The emitting threads and the stream meet here and nowhere else. Threads
//! offer lines with `try_send` into a bounded channel: a full buffer (a slow
//! client) drops the line and counts it, so a service thread never waits
//! and memory never grows. The trace ends once, by whichever comes first
//! (the count, the time limit, the operator, the client leaving): the first
//! `finish` wins and wakes the stream, later ones do nothing.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use super::budget::Budget;
use super::line::TraceLine;
use super::spec::TraceSpec;

/// Why a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum End {
    /// `max` events were sent.
    Max = 1,
    /// The time limit passed.
    Time = 2,
    /// An operator stopped it (`DELETE /api/trace/code`).
    Stopped = 3,
    /// The client went away, or the server shut down.
    Gone = 4,
}

impl End {
    fn from_u8(v: u8) -> Option<End> {
        Some(match v {
            1 => End::Max,
            2 => End::Time,
            3 => End::Stopped,
            4 => End::Gone,
            _ => return None,
        })
    }

    /// The reason as the `ended` event names it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            End::Max => "max",
            End::Time => "time",
            End::Stopped => "stopped",
            End::Gone => "gone",
        }
    }
}

/// The bounds a trace runs under, after clamping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub(crate) max: u64,
    pub(crate) rate: u64,
    pub(crate) time: Duration,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) spec: TraceSpec,
    pub(crate) bounds: Bounds,
    pub(crate) started: Instant,
    pub(crate) budget: Budget,
    tx: mpsc::Sender<TraceLine>,
    /// 0 while running, else an [`End`].
    end: AtomicU8,
    /// Lines dropped because the buffer was full.
    lost: AtomicU64,
    /// Events dropped because formatting them panicked.
    failed: AtomicU64,
    pub(crate) ended: Notify,
}

impl Session {
    /// A session and the receiving end of its buffer of `buffer` lines.
    pub(crate) fn new(
        spec: TraceSpec,
        bounds: Bounds,
        buffer: usize,
        now: Instant,
    ) -> (Session, mpsc::Receiver<TraceLine>) {
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let session = Session {
            spec,
            bounds,
            started: now,
            budget: Budget::new(bounds.max, bounds.rate),
            tx,
            end: AtomicU8::new(0),
            lost: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            ended: Notify::new(),
        };
        (session, rx)
    }

    /// Nanoseconds since the trace started.
    pub(crate) fn elapsed_ns(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.started).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Hands a line to the stream; a full buffer drops it, counted.
    pub(crate) fn offer(&self, line: TraceLine) {
        if self.tx.try_send(line).is_err() {
            // Relaxed: a statistic.
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ends the trace for `why`, if it has not ended yet; true if this call
    /// ended it.
    pub(crate) fn finish(&self, why: End) -> bool {
        // AcqRel: the stream reads `end` (Acquire) after `ended` wakes it,
        // and must then see every line offered before the finish; the lines
        // themselves are ordered by the channel.
        let first = self
            .end
            .compare_exchange(0, why as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            // A permit is stored if the stream is not waiting yet.
            self.ended.notify_one();
        }
        first
    }

    /// Why the trace ended, if it has.
    pub(crate) fn end(&self) -> Option<End> {
        // Acquire: pairs with `finish`.
        End::from_u8(self.end.load(Ordering::Acquire))
    }

    pub(crate) fn is_running(&self) -> bool {
        // Relaxed: a hint for the hot path. A stale "running" costs one
        // budget check, which refuses once the count is spent; after a time
        // or operator end it may let one more line into the buffer, sent if
        // the stream has not said `ended` yet, else dropped with the buffer.
        self.end.load(Ordering::Relaxed) == 0
    }

    pub(crate) fn count_failed(&self) {
        // Relaxed: a statistic.
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Lines dropped on a full buffer.
    pub(crate) fn lost(&self) -> u64 {
        // Relaxed: a statistic.
        self.lost.load(Ordering::Relaxed)
    }

    /// Events whose formatting panicked.
    pub(crate) fn failed(&self) -> u64 {
        // Relaxed: a statistic.
        self.failed.load(Ordering::Relaxed)
    }
}
