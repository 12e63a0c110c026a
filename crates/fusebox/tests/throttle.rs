//! The throttle strategy against a plain reference of the SRE book's
//! formula, on generated traces, and its steady state against the
//! prediction documented on `Strategy::Throttle`.
//!
//! The reference keeps every request and accept with its time, counts the
//! ones in the window by the 10-bucket rule, computes
//! `min(max_reject, max(0, (requests − K·accepts) / (requests + 1)))` in
//! f64 (the cap is Envoy's `max_rejection_probability`), and follows the
//! seeded Fusebox's draw stream (a draw only when the probability is above
//! 0; refused when the draw is below `p · 2^32`). Every answer, every
//! reject probability and every count must be the fuse's, exactly.

use std::time::Duration;

use fusebox::rng::SplitMix64;
use fusebox::{FuseConfig, Fusebox, ManualClock, Outcome, RunError, Strategy};
use proptest::prelude::{any, prop, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy as _;

/// What the reference remembers.
struct Reference {
    k: f64,
    window: u64,
    min_requests: u32,
    max_reject: f64,
    now: u64,
    requests: Vec<u64>,
    accepts: Vec<u64>,
    draws: SplitMix64,
    throttled: u64,
}

impl Reference {
    fn in_window(&self, t: u64) -> bool {
        let width = (self.window / 10).max(1);
        let current = self.now / width + 1;
        let b = t / width + 1;
        b + 10 > current && b <= current
    }

    fn totals(&self) -> (u64, u64) {
        let count = |v: &[u64]| v.iter().filter(|&&t| self.in_window(t)).count() as u64;
        (count(&self.requests), count(&self.accepts))
    }

    fn p(&self) -> f64 {
        let (r, a) = self.totals();
        if r < u64::from(self.min_requests) {
            return 0.0;
        }
        let r = r as f64;
        let p = ((r - self.k * a as f64) / (r + 1.0)).max(0.0);
        if p > self.max_reject {
            self.max_reject
        } else {
            p
        }
    }

    /// An ask: `Some(time of its request)` if admitted.
    fn ask(&mut self) -> Option<u64> {
        let p = self.p();
        self.requests.push(self.now);
        if p > 0.0 && ((self.draws.next_u64() >> 32) as f64) < p * 4_294_967_296.0 {
            self.throttled += 1;
            return None;
        }
        Some(self.now)
    }

    fn end(&mut self, at: u64, outcome: Outcome) {
        match outcome {
            Outcome::Success => self.accepts.push(self.now),
            Outcome::Ignored => {
                let i = self.requests.iter().position(|&t| t == at).unwrap();
                self.requests.remove(i);
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Nanoseconds.
    Advance(u64),
    /// `run_classified` with this outcome.
    Run(Outcome),
    /// `ask`, then `success` or `melt` if admitted.
    AskThen(bool),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        2 => prop_oneof![0u64..2_000_000, 0u64..2_000_000_000].prop_map(Op::Advance),
        6 => prop::sample::select(vec![
            Outcome::Success,
            Outcome::Success,
            Outcome::Failure,
            Outcome::Ignored
        ])
        .prop_map(Op::Run),
        2 => any::<bool>().prop_map(Op::AskThen),
    ]
}

/// A seeded Fusebox on a manual clock with one throttling fuse, `"t"`.
fn fusebox(strategy: Strategy, seed: u64) -> (Fusebox, ManualClock, fusebox::Fuse) {
    let clock = ManualClock::new();
    let fb = Fusebox::builder().clock(clock.clone()).seed(seed).build();
    fb.install("t", FuseConfig::new(strategy)).unwrap();
    let fuse = fb.fuse("t").unwrap();
    (fb, clock, fuse)
}

fn run(fuse: &fusebox::Fuse, outcome: Outcome) -> Result<(), RunError<()>> {
    fuse.run_classified(|| Ok::<(), ()>(()), |_| outcome)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn throttle_matches_the_formula(
        k in 1.0f64..4.0,
        window_us in prop_oneof![1u64..20_000, 20_000u64..5_000_000],
        min_requests in prop_oneof![Just(0u32), 0u32..20],
        max_reject in prop_oneof![
            2 => Just(1.0f64),
            2 => prop::sample::select(vec![0.5f64, 0.8, 0.9]),
            1 => 0.01f64..1.0,
        ],
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let window = window_us * 1_000;
        let strategy = Strategy::throttle(k, Duration::from_micros(window_us))
            .min_requests(min_requests)
            .max_reject(max_reject);
        let (_fb, clock, fuse) = fusebox(strategy, seed);
        let mut r = Reference {
            k, window, min_requests, max_reject, now: 0,
            requests: Vec::new(), accepts: Vec::new(),
            draws: SplitMix64::new(seed), throttled: 0,
        };
        for op in ops {
            match op {
                Op::Advance(d) => {
                    clock.advance(Duration::from_nanos(d));
                    r.now += d;
                }
                Op::Run(outcome) => {
                    let want = r.ask();
                    let got = run(&fuse, outcome);
                    prop_assert_eq!(got == Err(RunError::Blown), want.is_none(), "{:?}", op);
                    if let Some(at) = want {
                        r.end(at, outcome);
                    }
                }
                Op::AskThen(ok) => {
                    let want = r.ask();
                    prop_assert_eq!(fuse.ask().is_ok(), want.is_some(), "{:?}", op);
                    if let Some(at) = want {
                        if ok { fuse.success() } else { fuse.melt() }
                        r.end(at, if ok { Outcome::Success } else { Outcome::Failure });
                    }
                }
            }
            let snap = fuse.snapshot().unwrap();
            let t = snap.throttle.unwrap();
            let (requests, accepts) = r.totals();
            prop_assert_eq!((t.requests, t.accepts), (requests, accepts));
            prop_assert_eq!(t.reject_probability.to_bits(), r.p().to_bits());
            prop_assert_eq!(snap.counters.throttled, r.throttled);
            prop_assert_eq!(snap.melts_in_window, requests.saturating_sub(accepts));
        }
    }

    /// A dependency that always succeeds is never throttled, whatever `K ≥ 1`
    /// and however the asks are spread in time.
    #[test]
    fn always_succeeding_is_never_throttled(
        k in 1.0f64..4.0,
        window_ms in 1u64..5_000,
        gaps in prop::collection::vec(0u64..50_000_000, 1..300),
    ) {
        let strategy = Strategy::throttle(k, Duration::from_millis(window_ms));
        let (_fb, clock, fuse) = fusebox(strategy, 1);
        for gap in gaps {
            clock.advance(Duration::from_nanos(gap));
            prop_assert_eq!(run(&fuse, Outcome::Success), Ok(()));
            let t = fuse.snapshot().unwrap().throttle.unwrap();
            prop_assert_eq!(t.reject_probability, 0.0);
        }
        prop_assert_eq!(fuse.snapshot().unwrap().counters.throttled, 0);
    }
}

/// Drives a fuse with `strategy` with one ask every `gap` against a
/// dependency that succeeds with probability `success`, for `warm_up` then
/// `measure`; returns (share of asks sent, mean requests in the window,
/// successes) over the measured part.
fn steady_state(
    strategy: Strategy,
    gap: Duration,
    success: f64,
    warm_up: Duration,
    measure: Duration,
    seed: u64,
) -> (f64, f64, u64) {
    let (_fb, clock, fuse) = fusebox(strategy, seed);
    let mut dependency = SplitMix64::new(seed ^ 0xD1CE);
    let mut ask = |count: bool, stats: &mut (u64, u64, u64, u64)| {
        if count && stats.0 % 64 == 0 {
            stats.3 += fuse.snapshot().unwrap().throttle.unwrap().requests;
        }
        let ok = dependency.chance(success);
        match fuse.run(|| if ok { Ok(()) } else { Err(()) }) {
            Err(RunError::Blown) => {}
            _ if count => {
                stats.1 += 1;
                stats.2 += u64::from(ok);
            }
            _ => {}
        }
        if count {
            stats.0 += 1;
        }
        clock.advance(gap);
    };
    let mut stats = (0, 0, 0, 0); // asks, sent, successes, sum of requests seen
    let n = |d: Duration| (d.as_nanos() / gap.as_nanos()) as u64;
    for _ in 0..n(warm_up) {
        ask(false, &mut stats);
    }
    for _ in 0..n(measure) {
        ask(true, &mut stats);
    }
    let (asks, sent, successes, requests) = stats;
    (
        sent as f64 / asks as f64,
        requests as f64 / asks.div_ceil(64) as f64,
        successes,
    )
}

#[test]
fn an_always_failing_dependency_gets_a_trickle() {
    // 1,000 asks a second, a window of 1 s: about 950 requests in the
    // window (it slides in tenths), and each ask goes out with probability
    // 1 / (R + 1): about one call a window.
    let window = Duration::from_secs(1);
    let mut sent = 0.0;
    let mut predicted = 0.0;
    for seed in 1..=4 {
        let (share, requests, successes) = steady_state(
            Strategy::throttle(2.0, window),
            Duration::from_millis(1),
            0.0,
            Duration::from_secs(5),
            Duration::from_secs(50),
            seed,
        );
        assert_eq!(successes, 0);
        sent += share;
        predicted += 1.0 / (requests + 1.0);
    }
    let ratio = sent / predicted;
    eprintln!(
        "always failing: sent share {:.5}, 1/(R+1) {:.5}, ratio {ratio:.3}",
        sent / 4.0,
        predicted / 4.0
    );
    assert!(
        (0.7..1.3).contains(&ratio),
        "sent {sent}, predicted {predicted}"
    );
}

/// The documented steady state: sent share `1 / (1 + R·(1 − K·s))` below
/// `K·s = 1`, everything above it, and with a cap at least
/// `1 − max_reject`; within 15% in 8 runs of 400 windows each (1,000 asks
/// a second, a window of 1 s), away from `K·s = 1`.
#[test]
fn the_steady_state_is_the_documented_one() {
    const SEEDS: u64 = 8;
    const MEASURE: u64 = 400;
    let window = Duration::from_secs(1);
    let mut rows = Vec::new();
    for (k, s, cap) in [
        (2.0, 0.1, 1.0),
        (2.0, 0.25, 1.0),
        (2.0, 0.4, 1.0),
        (2.0, 0.45, 1.0),
        (2.0, 0.5, 1.0),
        (2.0, 0.55, 1.0),
        (2.0, 0.6, 1.0),
        (2.0, 0.9, 1.0),
        (3.0, 0.2, 1.0),
        (10.0, 0.1, 1.0),
        (12.0, 0.1, 1.0),
        // Capped: the share sent is 1 − max_reject where the book's is
        // smaller, and the cap changes nothing at K·s ≥ 1.
        (2.0, 0.1, 0.8),
        (2.0, 0.25, 0.9),
        (2.0, 0.0, 0.5),
        (2.0, 0.6, 0.8),
    ] {
        let strategy = Strategy::throttle(k, window).max_reject(cap);
        let (mut share, mut requests, mut successes) = (0.0, 0.0, 0);
        for seed in 1..=SEEDS {
            let (x, r, n) = steady_state(
                strategy.clone(),
                Duration::from_millis(1),
                s,
                Duration::from_secs(60),
                Duration::from_secs(MEASURE),
                seed,
            );
            share += x / SEEDS as f64;
            requests += r / SEEDS as f64;
            successes += n;
        }
        let predicted = strategy.predicted_sent_share(s, requests).unwrap();
        let expected_successes = predicted * s * (MEASURE * 1_000 * SEEDS) as f64;
        rows.push((
            k,
            s,
            cap,
            requests,
            share,
            predicted,
            successes,
            expected_successes,
        ));
    }
    eprintln!("    K     s   cap      R   sent share  predicted  successes  predicted");
    for (k, s, cap, r, share, predicted, succ, want) in &rows {
        eprintln!(
            "{k:5.1} {s:5.2} {cap:5.2} {r:6.0}   {share:9.5}  {predicted:9.5}  {succ:9}  {want:9.0}"
        );
    }
    for (k, s, cap, _, share, predicted, succ, want) in rows {
        // At K·s = 1 the throttle is critical (nothing pulls the share back
        // up from below): the prediction does not hold there, and the rows
        // are printed, not checked.
        if (k * s - 1.0).abs() < 0.05 {
            continue;
        }
        let tolerance = 0.15;
        assert!(
            (share / predicted - 1.0).abs() < tolerance,
            "K {k}, s {s}, cap {cap}: sent share {share}, predicted {predicted}"
        );
        if s > 0.0 {
            assert!(
                (succ as f64 / want - 1.0).abs() < tolerance,
                "K {k}, s {s}, cap {cap}: successes {succ}, predicted {want}"
            );
        } else {
            assert_eq!(succ, 0);
        }
    }
}

/// Seconds, to the tenth, until a throttle with `strategy` (window 1 s,
/// one ask every `gap`) sends 99% of a tenth's asks again, after 10 s
/// against a dependency that succeeds 10% of the time, once it succeeds
/// every time.
fn seconds_to_recover(strategy: Strategy, gap: Duration, seed: u64) -> f64 {
    let (_fb, clock, fuse) = fusebox(strategy, seed);
    let mut dependency = SplitMix64::new(seed ^ 0xD1CE);
    let tenth = (Duration::from_millis(100).as_nanos() / gap.as_nanos()) as usize;
    for _ in 0..100 * tenth {
        let ok = dependency.chance(0.1);
        let _ = fuse.run(|| if ok { Ok(()) } else { Err(()) });
        clock.advance(gap);
    }
    for tenths in 1..=600 {
        let sent = (0..tenth)
            .filter(|_| {
                let sent = run(&fuse, Outcome::Success) != Err(RunError::Blown);
                clock.advance(gap);
                sent
            })
            .count();
        if sent * 100 >= tenth * 99 {
            return f64::from(tenths) / 10.0;
        }
    }
    panic!("not recovered in 60 s");
}

/// What the cap is for. Coming back from the book's trickle, accepts grow
/// as `1 + K·A ∝ e^(K·t/window)`, so `p` falls to 0 after about
/// `(window / K)·ln R` (2.3 windows at R = 100, 4.6 at R = 10,000); with a
/// cap of 0.8 a fifth of the asks are probes, and recovery takes about
/// `(window / K)·ln(1 / (1 − 0.8))` (0.8 windows) after a short linear
/// climb, whatever `R`.
#[test]
fn the_cap_recovers_in_a_window_or_two() {
    let window = Duration::from_secs(1);
    for (gap, seeds) in [
        (Duration::from_millis(10), 4),
        (Duration::from_micros(100), 2),
    ] {
        for seed in 1..=seeds {
            let book = seconds_to_recover(Strategy::throttle(2.0, window), gap, seed);
            let capped =
                seconds_to_recover(Strategy::throttle(2.0, window).max_reject(0.8), gap, seed);
            eprintln!(
                "{} asks/s, seed {seed}: recovered in {book} s uncapped, {capped} s capped at 0.8",
                1_000_000_000 / gap.as_nanos()
            );
            // Measured (release, seeds 1..=4 / 1..=2): uncapped 2.3 to 6.7 s
            // at 100 asks/s, 4.6 and 5.8 s at 10,000; capped 1.0 to 1.6 s.
            assert!(capped <= 2.0, "capped: {capped} s");
            assert!(book > capped, "uncapped {book} s, capped {capped} s");
            if gap < Duration::from_millis(1) {
                assert!(book >= 2.0 * capped, "uncapped {book} s, capped {capped} s");
            }
        }
    }
}
