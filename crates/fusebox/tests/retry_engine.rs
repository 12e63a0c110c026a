//! The retry engine on its own (`retry/attempts.rs`): `Retry::begin` and
//! the `Attempts` it returns, driven by hand with the time given, as the
//! simulator drives it on virtual time and a pipeline on its clock.
//!
//! * E1 after any sequence of attempts, hedge requests and other calls'
//!   deposits, the engine answers exactly what a naive reading of the rules
//!   answers (the oracle below, written from `retry/policy.rs`'s list: the
//!   class, then the attempts, then the deadline, then the budget, asked
//!   last; a hedge needs one left, the deadline not passed, the budget),
//!   and the budget is withdrawn from exactly when the oracle's twin budget
//!   is;
//! * E2 a hedge refused by the deadline or the budget ends the call's
//!   hedging.

use std::time::Duration;

use fusebox::retry::{Backoff, Class, Next, Retry, RetryBudget, RetryPolicy, Stop};
use proptest::prelude::*;

/// One thing that happens to a call, `dt` after the last.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// The running attempt ends so.
    End(Class),
    /// A hedge delay passed: may a copy start?
    Hedge,
    /// Another call begins (a deposit in the shared budget).
    Other,
}

fn op() -> impl Strategy<Value = (Op, u64)> {
    let kind = prop_oneof![
        6 => Just(Op::End(Class::Failure)),
        1 => Just(Op::End(Class::Success)),
        1 => Just(Op::End(Class::Refusal)),
        1 => Just(Op::End(Class::Ignored)),
        3 => Just(Op::Hedge),
        2 => Just(Op::Other),
    ];
    (kind, 0u64..300)
}

#[derive(Debug, Clone)]
struct Setup {
    max: u32,
    wait: Duration,
    deadline: Option<Duration>,
    budget: Option<(u32, f64)>,
    hedges: u32,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        1u32..6,
        0u64..150,
        proptest::option::of(50u64..1_500),
        proptest::option::of((0u32..3, 0.0f64..1.0)),
        0u32..4,
    )
        .prop_map(|(max, wait, deadline, budget, hedges)| Setup {
            max,
            wait: Duration::from_millis(wait),
            deadline: deadline.map(Duration::from_millis),
            budget,
            hedges,
        })
}

fn budget(b: (u32, f64)) -> RetryBudget {
    RetryBudget::new(Duration::from_secs(1), b.0, b.1).unwrap()
}

/// The rules, read naively.
struct Oracle {
    s: Setup,
    start: Duration,
    made: u32,
    hedges_left: u32,
    hedges_made: u32,
    budget: Option<RetryBudget>,
}

impl Oracle {
    fn pays(&self, now: Duration) -> bool {
        self.budget.as_ref().is_none_or(|b| b.try_withdraw(now))
    }

    fn past(&self, at: Duration) -> bool {
        self.s.deadline.is_some_and(|d| at >= self.start + d)
    }

    fn after(&mut self, class: Class, now: Duration) -> Next {
        match class {
            Class::Success | Class::Ignored => Next::Done(Stop::NotRetryable),
            Class::Refusal => Next::Done(Stop::Refused),
            _ => {
                if self.made >= self.s.max {
                    Next::Done(Stop::Exhausted)
                } else if self.past(now + self.s.wait) {
                    Next::Done(Stop::Deadline)
                } else if !self.pays(now) {
                    Next::Done(Stop::BudgetExhausted)
                } else {
                    self.made += 1;
                    Next::Again(self.s.wait)
                }
            }
        }
    }

    fn hedge(&mut self, now: Duration) -> Result<(), Stop> {
        if self.hedges_left == 0 {
            return Err(Stop::Exhausted);
        }
        if self.past(now) {
            self.hedges_left = 0;
            return Err(Stop::Deadline);
        }
        if !self.pays(now) {
            self.hedges_left = 0;
            return Err(Stop::BudgetExhausted);
        }
        self.hedges_left -= 1;
        self.hedges_made += 1;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn e1_the_engine_decides_as_the_rules_read(
        s in setup(),
        start in 0u64..5_000,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut policy = RetryPolicy::new(s.max).backoff(Backoff::constant(s.wait));
        if let Some(d) = s.deadline {
            policy = policy.deadline(d);
        }
        let mut b = Retry::builder(policy).seed(1);
        if let Some(p) = s.budget {
            b = b.budget(budget(p));
        }
        let retry = b.build().unwrap();
        let start = Duration::from_millis(start);
        let mut oracle = Oracle {
            s: s.clone(),
            start,
            made: 1,
            hedges_left: s.hedges,
            hedges_made: 0,
            budget: s.budget.map(budget),
        };
        if let Some(b) = &oracle.budget {
            b.deposit(start);
        }
        let mut call = retry.begin(start).hedges(s.hedges);
        let mut now = start;
        for (op, dt) in ops {
            now += Duration::from_millis(dt);
            match op {
                Op::Other => {
                    let _other = retry.begin(now);
                    if let Some(b) = &oracle.budget {
                        b.deposit(now);
                    }
                }
                Op::Hedge => {
                    prop_assert_eq!(call.hedge(now), oracle.hedge(now), "hedge at {:?}", now);
                    prop_assert_eq!(call.may_hedge(), oracle.hedges_left > 0);
                }
                Op::End(class) => {
                    let next = call.after(class, now);
                    prop_assert_eq!(next, oracle.after(class, now), "{:?} at {:?}", class, now);
                    prop_assert_eq!(call.made(), oracle.made);
                    match next {
                        Next::Again(wait) => now += wait,
                        _ => break,
                    }
                }
            }
            // The two budgets saw the same withdrawals.
            if let (Some(a), Some(b)) = (retry.budget(), &oracle.budget) {
                prop_assert_eq!(a.stats(), b.stats());
            }
        }
        prop_assert_eq!(call.hedges_made(), oracle.hedges_made);
    }
}

#[test]
fn e2_a_refused_hedge_ends_the_calls_hedging() {
    let ms = Duration::from_millis;
    // The deadline: no hedge at or after it, and none after that.
    let retry = Retry::new(RetryPolicy::new(3).deadline(ms(100))).unwrap();
    let mut call = retry.begin(ms(0)).hedges(3);
    assert_eq!(call.hedge(ms(40)), Ok(()));
    assert_eq!(call.hedge(ms(100)), Err(Stop::Deadline));
    assert!(!call.may_hedge());
    assert_eq!(call.hedge(ms(0)), Err(Stop::Exhausted));
    assert_eq!(call.hedges_made(), 1);

    // The budget: an empty one refuses, and the call asks it no more.
    let budget = RetryBudget::new(Duration::from_secs(1), 0, 0.0).unwrap();
    let retry = Retry::builder(RetryPolicy::new(3))
        .budget(budget)
        .build()
        .unwrap();
    let mut call = retry.begin(ms(0)).hedges(2);
    assert_eq!(call.hedge(ms(10)), Err(Stop::BudgetExhausted));
    assert!(!call.may_hedge());
    assert_eq!(call.hedges_made(), 0);
    // A retry still asks the budget (and is refused too).
    assert_eq!(
        call.after(Class::Failure, ms(20)),
        Next::Done(Stop::BudgetExhausted)
    );
}
