//! The valve's queue: who is served next when a slot frees (fifo, lifo,
//! adaptive LIFO), who is shed (CoDel, RFC 8289, at dequeue), who has waited
//! too long (`max_wait`), and the one timer that moves the queue when nothing
//! else does (the earliest deadline or the next token).

use std::sync::atomic::Ordering;
use std::sync::Weak;

use super::codel::Verdict;
use super::config::Discipline;
use super::engine::{guard_refuses, reason_index, Slow, ValveCore};
use super::waiter::{WaitState, Waiter};
use super::Refused;
use crate::clock::duration_nanos;

impl ValveCore {
    /// Hands free slots to waiters, refusing the expired and the shed.
    pub(super) fn dispatch(&self, s: &mut Slow, now: u64) {
        // Every expired waiter, wherever it stands: deadlines follow queue
        // order only while max_wait stays the same, and one left behind a
        // live waiter would re-arm a timer in the past forever (`arm` takes
        // the earliest deadline of the whole queue). `now` is the same for
        // the whole dispatch, so one pass suffices.
        if s.queue.iter().any(|w| w.deadline <= now) {
            s.queue.retain(|w| {
                if w.deadline <= now {
                    self.refuse(w, Refused::Timeout);
                    false
                } else {
                    true
                }
            });
        }
        loop {
            if s.queue.is_empty() {
                if let Some(c) = &mut s.codel {
                    c.idle();
                }
                break;
            }
            if guard_refuses(s, now) {
                self.refuse_all(s, Refused::Blown);
                break;
            }
            if !self.can_start(now) {
                break;
            }
            let back = match s.config.discipline {
                Discipline::Lifo => true,
                Discipline::AdaptiveLifo { standing } => s
                    .queue
                    .front()
                    .is_some_and(|w| now.saturating_sub(w.since) > duration_nanos(standing)),
                Discipline::Fifo | Discipline::Codel { .. } => false,
            };
            let w = if back {
                s.queue.pop_back()
            } else {
                s.queue.pop_front()
            }
            .expect("not empty");
            let sojourn = now.saturating_sub(w.since);
            if let Some(c) = &mut s.codel {
                if c.judge(sojourn, now) == Verdict::Shed {
                    self.refuse(&w, Refused::Overload);
                    continue;
                }
            }
            // Take the slot before the waiter can see it is granted.
            let Some(in_flight) = self.try_start(s, now) else {
                // The fast path took the slot meanwhile: back in line.
                if back {
                    s.queue.push_back(w);
                } else {
                    s.queue.push_front(w);
                }
                break;
            };
            if w.settle(WaitState::Granted { at: now, in_flight }) {
                self.stats.sojourn.record(sojourn);
            } else {
                // Not waiting any more (cannot happen: a cancelled waiter
                // leaves the queue under this lock); give the slot back.
                self.slots.give_back();
            }
        }
        self.queued.store(s.queue.len(), Ordering::SeqCst);
        self.arm(s, now);
    }

    pub(super) fn refuse(&self, w: &Waiter, r: Refused) {
        if w.settle(WaitState::Refused(r)) {
            // Ordering: a statistic.
            self.stats.refused[reason_index(r)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn refuse_all(&self, s: &mut Slow, r: Refused) {
        for w in std::mem::take(&mut s.queue) {
            self.refuse(&w, r);
        }
        self.queued.store(0, Ordering::SeqCst);
    }

    /// Arms a timer for the next moment the queue can move by itself: the
    /// oldest waiter's deadline, or the next token.
    pub(super) fn arm(&self, s: &mut Slow, now: u64) {
        if s.queue.is_empty() {
            return;
        }
        let deadline = s.queue.iter().map(|w| w.deadline).min().unwrap_or(u64::MAX);
        let slot_free = {
            let w = self.slots.load();
            w.in_flight() < w.limit()
        };
        let token = if slot_free && self.bucket.on() {
            self.bucket.next_token_at(now)
        } else {
            u64::MAX
        };
        let at = deadline.min(token);
        if at < s.timer_at {
            s.timer_at = at;
            let me: Weak<ValveCore> = self.me.clone();
            self.env.timers.schedule(at, move |due| {
                if let Some(core) = me.upgrade() {
                    core.timer_due(due);
                }
            });
        }
    }
}
