//! Client-side adaptive throttling: the window of the `throttle` strategy
//! and its formula.
//!
//! Google's SRE book ("Handling Overload", chapter 21 of *Site Reliability
//! Engineering*, O'Reilly 2016) has each client remember, over the last
//! couple of minutes, two counts: `requests`, every call the application
//! attempted (including those the client refused itself), and `accepts`,
//! those the backend answered. A new request is refused locally with
//! probability
//!
//! ```text
//!     p = max(0, (requests − K·accepts) / (requests + 1))
//! ```
//!
//! While the backend accepts everything, `requests = accepts` and `p = 0`
//! for any `K ≥ 1`. When it starts refusing, the client keeps sending about
//! `K` times what it accepts and refuses the rest at once, without a
//! round-trip: a capacity-limited backend keeps being offered a little more
//! than it can take (`K − 1` times more), and spends nothing on the rest.
//! The `+ 1` keeps `p` below 1: however bad things look, a trickle of
//! requests still goes out and can tell the client the backend is back.
//!
//! # The cap
//!
//! A trickle is about one request a window, and when the backend recovers
//! the accepts can only grow with what is sent: `1 + K·accepts` by a factor
//! `e^K` a window, so coming back from `p ≈ 1` with `R` requests in the
//! window takes about `ln(R) / K` windows (4.6 at `R` = 10,000 and `K` = 2),
//! refusing calls that would all succeed. Envoy's admission control filter
//! (`envoy.filters.http.admission_control`) bounds the same formula with
//! `max_rejection_probability` (80% by default): `p` never exceeds the cap,
//! so a share `1 − cap` of the requests always goes out as natural probes,
//! and recovery starts from that share. Here the cap is `max_reject`, 1 (no
//! cap, the book's formula) unless set:
//!
//! ```text
//!     p = min(max_reject, max(0, (requests − K·accepts) / (requests + 1)))
//! ```
//!
//! # The window
//!
//! As the `failure_rate` window (`rate.rs`): 10 time buckets of
//! `window / 10`, each with its two counts, O(1) per call and memory
//! independent of the call rate; the window slides in tenths of itself. A
//! request counts in the bucket of the instant it was asked; an accept in
//! the bucket of the instant it was reported.
//!
//! A call whose outcome is classified *ignored* (a client error, a caller
//! that gave up) counts toward nothing, here too: its request is taken back
//! out of the bucket it was counted in, if that bucket is still in the
//! window. So the ticket of a throttled call carries a *tag* of its bucket.
//!
//! ```text
//!   window = 1 s, buckets of 100 ms; K = 2
//!   t (ms)     0    50   120  130  140  150     (asks; 0 and 120 accepted)
//!   requests   1    2    3    4    5    6
//!   accepts    1    1    2    2    2    2
//!   p before   0    0    0    0    0    1/6     (5 − 2·2) / (5 + 1)
//!   at 1000 ms the bucket [0, 100) leaves: requests 4, accepts 1
//! ```

const BUCKETS: u64 = 10;

/// Tags identify a bucket number modulo this (one less than 2^26, the
/// ticket's room), plus one so that 0 means "no bucket".
const TAG_MODULUS: u64 = (1 << 26) - 1;

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    number: u64,
    requests: u64,
    accepts: u64,
}

/// Request and accept counts over a sliding time window.
#[derive(Debug, Default, Clone)]
pub(crate) struct ThrottleWindow {
    buckets: [Bucket; BUCKETS as usize],
}

/// The tag of bucket `number` (never 0).
fn tag_of(number: u64) -> u64 {
    number % TAG_MODULUS + 1
}

impl ThrottleWindow {
    fn width(window: u64) -> u64 {
        (window / BUCKETS).max(1)
    }

    /// The slot of the bucket holding `now`, emptied if it held an older one.
    fn slot(&mut self, now: u64, window: u64) -> &mut Bucket {
        let number = now / Self::width(window) + 1; // 0 marks an unused slot
        let slot = &mut self.buckets[(number % BUCKETS) as usize];
        if slot.number != number {
            *slot = Bucket {
                number,
                ..Bucket::default()
            };
        }
        slot
    }

    /// Counts a request at `now`; returns the tag of its bucket, for
    /// [`unrequest`](Self::unrequest).
    pub(crate) fn request(&mut self, now: u64, window: u64) -> u64 {
        let slot = self.slot(now, window);
        slot.requests += 1;
        tag_of(slot.number)
    }

    /// Counts an accept at `now`.
    pub(crate) fn accept(&mut self, now: u64, window: u64) {
        self.slot(now, window).accepts += 1;
    }

    /// Takes back a request counted in the bucket tagged `tag`, if that
    /// bucket is still in the window at `now`; otherwise it no longer counts
    /// anyway. Within one window the 10 bucket numbers are consecutive, so
    /// their tags differ; a bucket 2^26 − 1 buckets older than one in the
    /// window could share its tag (a call outstanding that long, through no
    /// blow or heal), and would only take one request out of the wrong tenth.
    pub(crate) fn unrequest(&mut self, tag: u64, now: u64, window: u64) {
        let current = now / Self::width(window) + 1;
        if let Some(b) = self.buckets.iter_mut().find(|b| {
            b.number != 0
                && b.number + BUCKETS > current
                && b.number <= current
                && tag_of(b.number) == tag
        }) {
            b.requests = b.requests.saturating_sub(1);
        }
    }

    /// (requests, accepts) in the window at `now`.
    pub(crate) fn totals(&self, now: u64, window: u64) -> (u64, u64) {
        let current = now / Self::width(window) + 1;
        self.buckets
            .iter()
            .filter(|b| b.number != 0 && b.number + BUCKETS > current && b.number <= current)
            .fold((0, 0), |(r, a), b| (r + b.requests, a + b.accepts))
    }

    pub(crate) fn clear(&mut self) {
        *self = ThrottleWindow::default();
    }
}

/// The SRE book's reject probability for these counts, capped:
/// `min(max_reject, max(0, (requests − k·accepts) / (requests + 1)))`, and 0
/// while fewer than `min_requests` requests are in the window (the warm-up).
pub(crate) fn reject_probability(
    requests: u64,
    accepts: u64,
    k: f64,
    min_requests: u32,
    max_reject: f64,
) -> f64 {
    if requests < u64::from(min_requests) {
        return 0.0;
    }
    let r = requests as f64;
    ((r - k * accepts as f64) / (r + 1.0))
        .max(0.0)
        .min(max_reject)
}

/// The share of requests the throttle lets through in its steady state,
/// against a backend that succeeds with probability `success` whatever the
/// load, with `requests` requests in the window: the book's share, but at
/// least `1 − max_reject` (see [`Strategy::Throttle`](super::Strategy::Throttle)
/// for the derivation).
pub(crate) fn predicted_sent_share(k: f64, success: f64, requests: f64, max_reject: f64) -> f64 {
    let deficit = 1.0 - k * success;
    let uncapped = if deficit <= 0.0 {
        1.0
    } else {
        1.0 / (1.0 + requests.max(0.0) * deficit)
    };
    uncapped.max(1.0 - max_reject)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 10_000; // buckets of 1,000

    #[test]
    fn counts_inside_the_window_only() {
        let mut t = ThrottleWindow::default();
        t.request(0, W);
        t.accept(500, W);
        t.request(9_999, W);
        assert_eq!(t.totals(9_999, W), (2, 1));
        assert_eq!(t.totals(10_000, W), (1, 0));
        assert_eq!(t.totals(19_000, W), (0, 0));
    }

    #[test]
    fn unrequest_takes_back_from_its_own_bucket() {
        let mut t = ThrottleWindow::default();
        let first = t.request(0, W);
        let second = t.request(5_000, W);
        assert_ne!(first, second);
        t.unrequest(first, 6_000, W);
        assert_eq!(t.totals(6_000, W), (1, 0));
        // Its bucket left the window: nothing to take back.
        t.unrequest(second, 15_000, W);
        assert_eq!(t.totals(14_999, W), (1, 0));
        // A tag that matches no bucket in the window changes nothing.
        t.unrequest(tag_of(1), 6_000, W);
        assert_eq!(t.totals(6_000, W), (1, 0));
    }

    #[test]
    fn the_formula() {
        assert_eq!(reject_probability(0, 0, 2.0, 0, 1.0), 0.0);
        assert_eq!(reject_probability(1, 0, 2.0, 0, 1.0), 0.5);
        assert_eq!(reject_probability(9, 0, 2.0, 0, 1.0), 0.9);
        assert_eq!(reject_probability(9, 0, 2.0, 10, 1.0), 0.0);
        assert_eq!(reject_probability(10, 5, 2.0, 0, 1.0), 0.0);
        assert_eq!(reject_probability(11, 5, 2.0, 0, 1.0), 1.0 / 12.0);
        assert!(reject_probability(u64::MAX, 0, 1.0, 0, 1.0) < 1.0 + f64::EPSILON);
    }

    #[test]
    fn the_cap() {
        // Above the cap the cap; below it the formula, to the bit.
        assert_eq!(reject_probability(9, 0, 2.0, 0, 0.8), 0.8);
        assert_eq!(reject_probability(9, 0, 2.0, 0, 0.9), 0.9);
        assert_eq!(reject_probability(11, 5, 2.0, 0, 0.5), 1.0 / 12.0);
        assert_eq!(reject_probability(9, 0, 2.0, 10, 0.5), 0.0);
        assert_eq!(reject_probability(u64::MAX, 0, 1.0, 0, 0.5), 0.5);
    }

    #[test]
    fn the_prediction() {
        assert_eq!(predicted_sent_share(2.0, 0.5, 1000.0, 1.0), 1.0);
        assert_eq!(predicted_sent_share(2.0, 0.0, 99.0, 1.0), 0.01);
        let x = predicted_sent_share(2.0, 0.25, 100.0, 1.0);
        assert!((x - 1.0 / 51.0).abs() < 1e-12);
        // The cap is a floor on the share sent...
        let x = predicted_sent_share(2.0, 0.0, 99.0, 0.8);
        assert!((x - 0.2).abs() < 1e-12);
        // ...that does not bind while the formula sends more.
        let x = predicted_sent_share(2.0, 0.4, 10.0, 0.8);
        assert!((x - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(predicted_sent_share(2.0, 0.5, 1000.0, 0.5), 1.0);
    }
}
