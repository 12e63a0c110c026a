//! A retry pipeline's success path against tower's `Retry` with a budget:
//! what retrying costs a call that never needs it, which is nearly every
//! call.
//!
//! Both sides wrap the same operation (`peers::op`, ready at once) in a
//! policy of 3 attempts paid from a budget of 20 % of first attempts plus
//! 10 a second over 10 s: fusebox's [`Pipeline`] with a
//! [`RetryBudget`], and tower 0.5's
//! [`Retry`](tower::retry::Retry) whose policy deposits into a
//! [`TpsBudget`] per request and
//! withdraws per retry (tower's own budget, the way its docs pair them).
//! The bare operation is the baseline, so the ratios compare overheads.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use fusebox::pipeline::Pipeline;
use fusebox::retry::{RetryBudget, RetryPolicy};
use tower::retry::budget::{Budget, TpsBudget};

use crate::harness::Contender;
use crate::peers::{self, op};
use crate::rows::Row;

/// The retry rows.
pub fn retry_rows() -> Vec<Row> {
    vec![retry_ok()]
}

/// tower's retry policy with a budget: retry a failure if the budget pays.
#[derive(Clone)]
struct Budgeted(Arc<TpsBudget>);

impl tower::retry::Policy<u64, u64, u8> for Budgeted {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _: &mut u64, result: &mut Result<u64, u8>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(_) => self.0.withdraw().then(|| std::future::ready(())),
        }
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        // Called once per request before its first attempt: the deposit.
        self.0.deposit();
        Some(*req)
    }
}

fn retry_ok() -> Row {
    use tower::{Service, ServiceExt};
    let ttl = Duration::from_secs(10);
    let pipeline = Pipeline::builder("db")
        .retry(RetryPolicy::new(3))
        .budget(RetryBudget::new(ttl, 10, 0.2).expect("a valid budget"))
        .timer(fusebox::pipeline::TokioTimer)
        .build()
        .expect("a valid pipeline");
    let blocking = pipeline.clone();
    let mut retry = tower::retry::Retry::new(
        Budgeted(Arc::new(TpsBudget::new(ttl, 10, 0.2))),
        tower::service_fn(|x: u64| std::future::ready(op(x))),
    );
    Row {
        id: "retry_ok",
        title: "retry: a call that succeeds at once, 3 attempts and a budget".into(),
        contenders: vec![
            Contender::new(
                "fusebox",
                "Pipeline::call(op).await, polled once",
                move || peers::ready(pipeline.call(|| std::future::ready(op(black_box(1))))).ok(),
            ),
            Contender::new("fusebox sync", "Pipeline::call_blocking(op)", move || {
                blocking.call_blocking(|| op(black_box(1))).ok()
            }),
            Contender::new("tower", "Retry<TpsBudget policy> ready + call", move || {
                let svc = peers::ready(black_box(&mut retry).ready()).expect("ready");
                peers::ready(svc.call(black_box(1))).ok()
            }),
            Contender::new("bare", "op(1)", || op(black_box(1)).ok()),
        ],
        baseline: Some("bare"),
    }
}
