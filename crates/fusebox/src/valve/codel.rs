//! CoDel's dequeue law (RFC 8289, "Controlled Delay Active Queue
//! Management"), for waiters instead of packets: each waiter about to be
//! served is judged by how long it waited (its sojourn time).
//!
//! While sojourn times stay below `target`, nothing happens. Once they have
//! stayed at or above `target` for a whole `interval`, CoDel enters its
//! dropping state: it sheds the head, and keeps shedding one waiter per
//! `interval / sqrt(count)` (the control law) until a served waiter's
//! sojourn falls below `target`. Re-entering the dropping state soon after
//! leaving it resumes near the previous rate instead of starting over.

/// CoDel's verdict on the waiter at the head of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Serve,
    Shed,
}

/// CoDel's state; all times in ns on the valve's clock.
#[derive(Debug, Clone)]
pub(crate) struct Codel {
    target: u64,
    interval: u64,
    /// When sojourn times will have been above target for an interval.
    first_above: Option<u64>,
    dropping: bool,
    drop_next: u64,
    count: u32,
    last_count: u32,
    /// A waiter was shed while dropping: `drop_next` moves on by the
    /// control law only if the next waiter judged is still above target
    /// (RFC 8289's `dequeue` loop), else dropping ends where it stands.
    advance_pending: bool,
}

impl Codel {
    pub(crate) fn new(target: u64, interval: u64) -> Self {
        Codel {
            target,
            interval,
            first_above: None,
            dropping: false,
            drop_next: 0,
            count: 0,
            last_count: 0,
            advance_pending: false,
        }
    }

    /// Keeps the control state across a reconfiguration.
    pub(crate) fn retune(&mut self, target: u64, interval: u64) {
        self.target = target;
        self.interval = interval;
    }

    /// RFC 8289's `dodequeue`: has the sojourn been above target for an
    /// interval?
    fn ok_to_drop(&mut self, sojourn: u64, now: u64) -> bool {
        if sojourn < self.target {
            self.first_above = None;
            return false;
        }
        match self.first_above {
            None => {
                self.first_above = Some(now.saturating_add(self.interval));
                false
            }
            Some(at) => now >= at,
        }
    }

    /// `t + interval / sqrt(count)`.
    fn control_law(&self, t: u64) -> u64 {
        let step = self.interval as f64 / f64::from(self.count.max(1)).sqrt();
        t.saturating_add(step as u64)
    }

    /// Judges the head waiter, which has waited `sojourn` ns, at `now`.
    pub(crate) fn judge(&mut self, sojourn: u64, now: u64) -> Verdict {
        let ok_to_drop = self.ok_to_drop(sojourn, now);
        if self.dropping {
            let advance = std::mem::take(&mut self.advance_pending);
            if !ok_to_drop {
                self.dropping = false;
                return Verdict::Serve;
            }
            if advance {
                self.drop_next = self.control_law(self.drop_next);
            }
            if now >= self.drop_next {
                self.count = self.count.saturating_add(1);
                self.advance_pending = true;
                return Verdict::Shed;
            }
            return Verdict::Serve;
        }
        if ok_to_drop {
            self.dropping = true;
            // Resume near the last rate if dropping stopped only recently.
            let delta = self.count.saturating_sub(self.last_count);
            let recent = now.saturating_sub(self.drop_next) < self.interval.saturating_mul(16);
            self.count = if delta > 1 && recent { delta } else { 1 };
            self.drop_next = self.control_law(now);
            self.last_count = self.count;
            return Verdict::Shed;
        }
        Verdict::Serve
    }

    /// The queue ran empty: RFC 8289 leaves the dropping state.
    pub(crate) fn idle(&mut self) {
        self.first_above = None;
        self.dropping = false;
        self.advance_pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn below_target_never_sheds() {
        let mut c = Codel::new(5 * MS, 100 * MS);
        for t in 0..1_000 {
            assert_eq!(c.judge(4 * MS, t * MS), Verdict::Serve);
        }
    }

    #[test]
    fn sheds_after_an_interval_above_target_then_faster() {
        let mut c = Codel::new(5 * MS, 100 * MS);
        assert_eq!(c.judge(10 * MS, 0), Verdict::Serve); // starts the interval
        assert_eq!(c.judge(10 * MS, 99 * MS), Verdict::Serve);
        assert_eq!(c.judge(10 * MS, 100 * MS), Verdict::Shed); // enters dropping
        assert_eq!(c.judge(10 * MS, 150 * MS), Verdict::Serve);
        assert_eq!(c.judge(10 * MS, 200 * MS), Verdict::Shed); // count 2
                                                               // Next at 200 + 100/sqrt(2) = 270.7 ms.
        assert_eq!(c.judge(10 * MS, 270 * MS), Verdict::Serve);
        assert_eq!(c.judge(10 * MS, 271 * MS), Verdict::Shed);
        // A waiter below target ends the dropping state.
        assert_eq!(c.judge(MS, 280 * MS), Verdict::Serve);
        assert_eq!(c.judge(10 * MS, 281 * MS), Verdict::Serve);
    }
}
