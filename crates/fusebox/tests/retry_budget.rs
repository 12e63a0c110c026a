//! The retry budget against a plain reference, on generated traces.
//!
//! The reference keeps every first attempt and every retry with its time,
//! and decides a withdrawal by the rule documented in `retry/budget.rs`,
//! recounting the whole window from its lists:
//!
//! ```text
//!   slot = ttl / 10, k = ⌊now / slot⌋, window = slots k-9 ..= k
//!   allowed ⇔ 1000 · (R + 1) ≤ round(1000 · ratio) · F + min_per_sec · ttl_ms
//! ```
//!
//! Every decision must be the budget's, and two bounds must hold on every
//! trace:
//!
//! * R1, at each withdrawal, counting it: `R ≤ ratio · F + min_per_sec · ttl`
//!   over the window (in f64, against the ratio given, not the rounded one);
//! * R2, over every stretch of ten slots ending at slot `k`:
//!   `R(k-9..=k) ≤ ratio · F(k-19..=k) + min_per_sec · ttl` (a first attempt
//!   pays for retries in the window it falls in, which may reach into the
//!   next stretch).

use std::time::Duration;

use fusebox::retry::{Retry, RetryBudget, RetryPolicy, Stop};
use fusebox::{Clock, ManualClock};
use proptest::prelude::{
    prop, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig,
};
use proptest::strategy::Strategy as _;

#[derive(Debug, Clone, Copy)]
enum Op {
    Advance(u64),
    Deposit,
    Withdraw,
}

struct Reference {
    slot: u64,
    earn: u64,
    reserve: u64,
    firsts: Vec<u64>,
    retries: Vec<u64>,
}

impl Reference {
    fn new(ttl: Duration, min_per_sec: u32, ratio: f64) -> Self {
        Reference {
            slot: ttl.as_nanos() as u64 / 10,
            earn: (ratio * 1000.0).round() as u64,
            reserve: u64::from(min_per_sec) * ttl.as_millis() as u64,
            firsts: Vec::new(),
            retries: Vec::new(),
        }
    }

    fn in_slots(&self, list: &[u64], lo: u64, hi: u64) -> u64 {
        list.iter()
            .filter(|&&t| {
                let s = t / self.slot;
                s >= lo && s <= hi
            })
            .count() as u64
    }

    fn window(&self, now: u64) -> (u64, u64) {
        let k = now / self.slot;
        let lo = k.saturating_sub(9);
        (
            self.in_slots(&self.firsts, lo, k),
            self.in_slots(&self.retries, lo, k),
        )
    }

    fn withdraw(&mut self, now: u64) -> bool {
        let (f, r) = self.window(now);
        let ok = 1000 * (r + 1) <= self.earn * f + self.reserve;
        if ok {
            self.retries.push(now);
        }
        ok
    }
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        2 => (0u64..2_500).prop_map(|ms| Op::Advance(ms * 1_000_000)),
        5 => Just(Op::Deposit),
        4 => Just(Op::Withdraw),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_budget_decides_as_the_reference_and_the_bounds_hold(
        ttl_s in 1u64..20,
        min_per_sec in 0u32..3,
        ratio in prop::sample::select(vec![0.0, 0.1, 0.2, 0.25, 0.5, 1.0, 1.5, 0.333]),
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let ttl = Duration::from_secs(ttl_s);
        let budget = RetryBudget::new(ttl, min_per_sec, ratio).unwrap();
        let mut reference = Reference::new(ttl, min_per_sec, ratio);
        let floor = f64::from(min_per_sec) * ttl.as_secs_f64();
        let mut now = 0u64;
        let (mut made, mut refused) = (0u64, 0u64);
        for op in ops {
            match op {
                Op::Advance(d) => now += d,
                Op::Deposit => {
                    budget.deposit(Duration::from_nanos(now));
                    reference.firsts.push(now);
                }
                Op::Withdraw => {
                    let got = budget.try_withdraw(Duration::from_nanos(now));
                    prop_assert_eq!(got, reference.withdraw(now), "at {} ns", now);
                    if got {
                        made += 1;
                        // R1
                        let (f, r) = reference.window(now);
                        prop_assert!(r as f64 <= ratio * f as f64 + floor + 1e-9 * f as f64 + 0.5 * f as f64 / 1000.0,
                            "R1: {} retries > {} · {} + {}", r, ratio, f, floor);
                    } else {
                        refused += 1;
                    }
                }
            }
        }
        let stats = budget.stats();
        prop_assert_eq!(stats.withdrawals, made);
        prop_assert_eq!(stats.exhausted, refused);
        prop_assert_eq!(stats.deposits, reference.firsts.len() as u64);
        // R2, over every stretch of ten slots up to now.
        let last = now / reference.slot;
        for k in 0..=last {
            let r = reference.in_slots(&reference.retries, k.saturating_sub(9), k);
            let f = reference.in_slots(&reference.firsts, k.saturating_sub(19), k);
            prop_assert!(r as f64 <= ratio * f as f64 + floor + 0.5 * f as f64 / 1000.0,
                "R2 at slot {}: {} retries > {} · {} + {}", k, r, ratio, f, floor);
        }
    }
}

/// The arithmetic of the rule, by hand: ratio 0.2 and 1 retry/s over 10 s.
#[test]
fn budget_arithmetic_by_hand() {
    let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.2).unwrap();
    let t = Duration::from_secs;
    // The floor alone: 1/s · 10 s = 10 retries with no traffic.
    assert_eq!(budget.available(t(0)), 10);
    for _ in 0..10 {
        assert!(budget.try_withdraw(t(0)));
    }
    assert!(!budget.try_withdraw(t(0)));
    // 4 first attempts earn 0.8 of a retry: not yet one.
    for _ in 0..4 {
        budget.deposit(t(0));
    }
    assert!(!budget.try_withdraw(t(0)));
    // The fifth makes 1.0.
    budget.deposit(t(0));
    assert!(budget.try_withdraw(t(0)));
    assert_eq!(budget.available(t(9)), 0);
    // After 10 s the first slot has left the window: the floor is back.
    assert_eq!(budget.available(t(10)), 10);
    assert_eq!(budget.stats().withdrawals, 11);
    assert_eq!(budget.stats().exhausted, 2);
}

#[test]
fn invalid_budgets_are_refused() {
    let e = RetryBudget::new(Duration::ZERO, 1, 0.2).unwrap_err();
    assert_eq!(e.field(), "budget.ttl");
    assert_eq!(e.subject().as_str(), "retry");
    let e = RetryBudget::new(Duration::from_secs(10), 1, -0.1).unwrap_err();
    assert_eq!(e.field(), "budget.ratio");
    assert!(RetryBudget::new(Duration::from_secs(10), 1, f64::NAN).is_err());
    assert!(RetryBudget::new(Duration::from_secs(10), 0, 0.0).is_ok());
}

/// The issue's outage: every call fails, clients retry up to 3 times.
/// Without a budget the dependency sees 4× the offered load; with a budget
/// of ratio 0.2 and no floor it sees at most `(1 + 2 · 0.2)` times it (the
/// provable bound: each ten-slot stretch pays with the first attempts of
/// itself and the one before), and in fact about 1.2×.
#[test]
fn an_outage_with_a_budget_stays_near_one_plus_ratio() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.2).unwrap();
    let with = Retry::builder(RetryPolicy::new(4))
        .clock(clock.clone())
        .budget(budget.clone())
        .build()
        .unwrap();
    let without = Retry::builder(RetryPolicy::new(4))
        .clock(clock.clone())
        .build()
        .unwrap();
    let (mut calls_with, mut calls_without) = (0u64, 0u64);
    let offered = 60 * 100; // 100 requests/s for 60 s
    let mut budget_stops = 0;
    for _ in 0..offered {
        let e = with
            .run(|| {
                calls_with += 1;
                Err::<(), _>("down")
            })
            .unwrap_err();
        if e.stop() == Stop::BudgetExhausted {
            budget_stops += 1;
        }
        let _ = without.run(|| {
            calls_without += 1;
            Err::<(), _>("down")
        });
        clock.advance(Duration::from_millis(10));
    }
    assert_eq!(calls_without, 4 * offered);
    let ratio = calls_with as f64 / offered as f64;
    eprintln!("outage: offered {offered}, with budget {calls_with} calls ({ratio:.3}x), without {calls_without}; budget stops {budget_stops}; now {:?}", clock.now());
    assert!(ratio <= 1.0 + 2.0 * 0.2, "{ratio}");
    assert!(ratio <= 1.21, "in a steady outage about 1.2x: {ratio}");
    assert_eq!(with.stats().budget_exhausted, budget_stops);
}
