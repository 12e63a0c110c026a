//! When a fuse blows: its *strategy*.
//!
//! A strategy sees each failure (and, for some, each success) and says when
//! the fuse must blow. `standard` is Erlang fuse's melt window; the others
//! hear of successes too. Each rule is checked once, by
//! [`Strategy::validate`], when the config is installed.

use std::time::Duration;

use crate::error::ConfigError;

/// When a fuse blows.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::Strategy;
///
/// // More than 5 melts within 10 s blows the fuse.
/// let s = Strategy::Standard { max_melts: 5, window: Duration::from_secs(10) };
/// assert_eq!(s.window(), Some(Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum Strategy {
    /// After a melt at time `now`, count the melts `t` with `now - t < window`
    /// (a melt exactly `window` old is outside); more than `max_melts` blows.
    Standard {
        /// How many melts the window tolerates; `0` blows on the first melt.
        max_melts: u32,
        /// How far back melts count; must be greater than zero.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
    },
    /// As [`Standard`](Strategy::Standard), and while the fuse is ok each ask
    /// answers blown with probability `rate`: chaos testing in production, as
    /// Erlang fuse's `fault_injection`.
    FaultInjection {
        /// Probability in (0, 1] that an ask on an ok fuse is refused.
        rate: f64,
        /// As in `Standard`; must be at least 1.
        max_melts: u32,
        /// As in `Standard`.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
    },
    /// Blows after `failures` failures with no success in between (Polly's
    /// "consecutive failures" breaker). Needs success reports: use `run`, or
    /// [`Fuse::success`](crate::Fuse::success) with `ask`/`melt`.
    Consecutive {
        /// Failures in a row that blow the fuse; at least 1.
        failures: u32,
    },
    /// Blows when, over the last `window`, at least `min_calls` outcomes were
    /// reported and the share of failures is `ratio` or more. Outcomes are
    /// counted in 10 time buckets (O(1) per outcome, memory independent of
    /// the call rate). With `slow_call`, a successful call through `run` that
    /// took longer than it counts as a failure.
    FailureRate {
        /// Failure share in (0, 1] that blows the fuse.
        ratio: f64,
        /// How far back outcomes count; must be greater than zero.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
        /// Fewest outcomes in the window before the ratio is judged; at least 1.
        min_calls: u32,
        /// Calls slower than this count as failures.
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "crate::duration::serde_duration::option")
        )]
        slow_call: Option<Duration>,
    },
    /// Client-side adaptive throttling (Google SRE book, "Handling
    /// Overload"): over the last `window`, `requests` counts every ask (the
    /// ones this fuse refused included) and `accepts` the successes; while
    /// the fuse is ok, each ask is refused with probability
    ///
    /// ```text
    ///     p = min(max_reject, max(0, (requests − k·accepts) / (requests + 1)))
    /// ```
    ///
    /// computed before the ask is counted (`max_reject` is 1 unless set: the
    /// book's formula as it stands). A refusal answers as a blown fuse
    /// does ([`Ask::Blown`](crate::Ask::Blown), [`RunError::Blown`](crate::RunError::Blown)),
    /// is counted apart (`throttled`), and changes no state: the fuse stays
    /// ok, and no event is sent (throttling is per call; events are for
    /// state changes).
    ///
    /// * A failure is a request without an accept; a slow call (with
    ///   `slow_call`) is a failure. An *ignored* outcome counts nowhere: its
    ///   request is taken back out of the window.
    /// * Below `min_requests` requests in the window, `p` is 0 (0, the
    ///   default, is the book's formula as it stands).
    /// * `max_reject` caps `p` (Envoy's admission control filter,
    ///   `max_rejection_probability`, 80% by default there): however bad
    ///   things look, a share `1 − max_reject` of the asks goes out, as
    ///   probes that find the dependency back within a window instead of
    ///   the book's trickle of one call a window.
    /// * The throttle never blows the fuse by itself: it refuses in
    ///   proportion and keeps a trickle going, which is what lets it follow
    ///   the dependency back. With `blow_at`, a failure that leaves `p` (the
    ///   capped `p`) at `blow_at` or above (with at least `min_requests`
    ///   requests in the window) blows it, and the heal runs as for any
    ///   strategy; the heal empties the window. Without `blow_at` the heal is
    ///   never used. `blow_at` above `max_reject` could never be reached,
    ///   and is refused.
    /// * Counts come from `run`/`call` or from [`ask`](crate::Fuse::ask) +
    ///   [`success`](crate::Fuse::success)/[`melt`](crate::Fuse::melt): a
    ///   fuse told of failures only has no accepts, and refuses almost all.
    ///
    /// # Steady state
    ///
    /// Take a dependency that succeeds with probability `s` whatever the
    /// load, and `R` requests in the window (the ask rate times the
    /// window). A share `x = 1 − p` is sent, so `accepts = s·x·R`, and
    /// `p = (R − k·s·x·R) / (R + 1)` solves to
    ///
    /// ```text
    ///     x = 1                          if k·s ≥ 1
    ///     x = 1 / (1 + R·(1 − k·s))      otherwise
    ///
    ///     sent per window      x·R   → 1 / (1 − k·s)    as R grows
    ///     successes per window s·x·R → s / (1 − k·s)
    /// ```
    ///
    /// So with `k·s ≥ 1` nothing is refused, and below it the throttle
    /// falls to a trickle of about `1 / (1 − k·s)` calls a window, whatever
    /// the load: with `k = 2` a dependency that fails 90% of calls
    /// (`s = 0.1`) gets 1.25 calls a window and gives 0.125 successes. To
    /// keep sending everything to a dependency that still serves a share
    /// `s`, take `k ≥ 1 / s`.
    ///
    /// With a cap, `p ≤ max_reject`, so the share sent is the formula's but
    /// at least `1 − max_reject`:
    ///
    /// ```text
    ///     x = max(1 − max_reject, 1 / (1 + R·(1 − k·s)))      if k·s < 1
    ///
    ///     sent share           x     → 1 − max_reject         as R grows
    ///     sent per window      x·R   → (1 − max_reject)·R
    ///     successes per window s·x·R → s·(1 − max_reject)·R
    /// ```
    ///
    /// (the cap binds once `R·(1 − k·s) ≥ max_reject / (1 − max_reject)`;
    /// a capped `p` is constant, so this `x` is exact, not only a limit).
    /// The trickle now grows with the load: with `max_reject = 0.8`, `k = 2`
    /// and `s = 0.1` at 1,000 requests a window, 200 calls a window go out
    /// and 20 succeed. That is the price (a failing dependency keeps seeing
    /// `1 − max_reject` of the load) and the point: when the dependency
    /// recovers, its accepts climb from `(1 − max_reject)·R` a window, not
    /// from about one. Without the cap, `1 + k·accepts` grows by `e^k` a
    /// window, and `p` takes about `(window / k)·ln R` to fall back to 0
    /// (measured, `k = 2`, 10,000 requests a window: 4.6 to 5.8 windows);
    /// with `max_reject = 0.8`, about 1.4 windows whatever `R`.
    ///
    /// Against a dependency limited by *capacity*, that accepts at most `C`
    /// calls a window and refuses the rest, `accepts = C` once it is
    /// saturated, and the client sends `x·R = R·(1 + k·C) / (R + 1) ≈ k·C`
    /// (all of `R` while `R ≤ k·C`): `k` times what the dependency can take,
    /// the book's "K × accepts". [`Strategy::predicted_sent_share`] computes
    /// the first prediction.
    Throttle {
        /// `K`: how many requests per accept are still sent; finite, at
        /// least 1. The book's default is 2.
        k: f64,
        /// How far back requests and accepts count, in 10 buckets; must be
        /// greater than zero. The book suggests two minutes.
        #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
        window: Duration,
        /// Fewest requests in the window before anything is refused.
        #[cfg_attr(feature = "serde", serde(default))]
        min_requests: u32,
        /// A failure that leaves the reject probability at this or above
        /// blows the fuse; in (0, 1) (the probability never reaches 1), and
        /// at most `max_reject`.
        #[cfg_attr(feature = "serde", serde(default))]
        blow_at: Option<f64>,
        /// The highest the reject probability goes, in (0, 1]; 1, the
        /// default, is no cap. Envoy's admission control filter calls it
        /// `max_rejection_probability` and defaults it to 0.8.
        #[cfg_attr(feature = "serde", serde(default = "no_cap"))]
        max_reject: f64,
        /// Calls slower than this count as failures (not accepts).
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "crate::duration::serde_duration::option")
        )]
        slow_call: Option<Duration>,
    },
}

impl Strategy {
    /// Blow after `failures` failures in a row.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Ask, FuseConfig, Fusebox, Strategy};
    ///
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::new(Strategy::consecutive(3))).unwrap();
    /// fb.melt("db").unwrap();
    /// fb.melt("db").unwrap();
    /// fb.success("db").unwrap();          // the run of failures is broken
    /// fb.melt("db").unwrap();
    /// fb.melt("db").unwrap();
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);
    /// fb.melt("db").unwrap();             // the third in a row
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    /// ```
    pub fn consecutive(failures: u32) -> Self {
        Strategy::Consecutive { failures }
    }

    /// Blow when at least `min_calls` outcomes in `window` are `ratio` or
    /// more failures.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{Ask, FuseConfig, Fusebox, Strategy};
    ///
    /// let fb = Fusebox::new();
    /// let half = Strategy::failure_rate(0.5, Duration::from_secs(10), 4);
    /// fb.install("db", FuseConfig::new(half)).unwrap();
    /// fb.success("db").unwrap();
    /// fb.melt("db").unwrap();
    /// fb.success("db").unwrap();
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Ok);   // 3 calls: below min_calls
    /// fb.melt("db").unwrap();                       // 2 of 4 failed: 50%
    /// assert_eq!(fb.ask("db").unwrap(), Ask::Blown);
    /// ```
    pub fn failure_rate(ratio: f64, window: Duration, min_calls: u32) -> Self {
        Strategy::FailureRate {
            ratio,
            window,
            min_calls,
            slow_call: None,
        }
    }

    /// Adaptive throttling with `k` over `window`: no warm-up, never blows
    /// by itself (see [`Strategy::Throttle`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{fuse::FuseState, FuseConfig, Fusebox, RunError, Strategy};
    ///
    /// let fb = Fusebox::builder().seed(7).build();
    /// fb.install("db", FuseConfig::new(Strategy::throttle(2.0, Duration::from_secs(10)))).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// // A healthy dependency: nothing is refused.
    /// for _ in 0..100 {
    ///     assert!(db.run(|| Ok::<_, ()>(())).is_ok());
    /// }
    /// // It stops answering: soon most asks are refused at once, a few go out.
    /// let sent = (0..1_000)
    ///     .filter(|_| db.run(|| Err::<(), _>("down")) != Err(RunError::Blown))
    ///     .count();
    /// assert!((350..550).contains(&sent), "{sent} sent");   // about 440
    /// let snap = db.snapshot().unwrap();
    /// let t = snap.throttle.unwrap();
    /// assert_eq!((t.requests, t.accepts), (1_100, 100));
    /// assert_eq!(t.reject_probability, (1_100.0 - 2.0 * 100.0) / 1_101.0);
    /// assert_eq!(snap.counters.throttled, 1_000 - sent as u64);
    /// assert_eq!(snap.state, FuseState::Ok);     // throttling is no blow
    /// ```
    pub fn throttle(k: f64, window: Duration) -> Self {
        Strategy::Throttle {
            k,
            window,
            min_requests: 0,
            blow_at: None,
            max_reject: 1.0,
            slow_call: None,
        }
    }

    /// Sets a throttle's warm-up: nothing is refused below `n` requests in
    /// the window (other strategies are returned unchanged).
    pub fn min_requests(self, n: u32) -> Self {
        match self {
            Strategy::Throttle {
                k,
                window,
                blow_at,
                max_reject,
                slow_call,
                ..
            } => Strategy::Throttle {
                k,
                window,
                min_requests: n,
                blow_at,
                max_reject,
                slow_call,
            },
            other => other,
        }
    }

    /// Lets a throttle blow its fuse: a failure that leaves the reject
    /// probability at `p` or above blows it (other strategies are returned
    /// unchanged).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{FuseConfig, Fusebox, Heal, Strategy, fuse::FuseState};
    ///
    /// let fb = Fusebox::builder().seed(1).build();
    /// let s = Strategy::throttle(2.0, Duration::from_secs(10)).min_requests(20).blow_at(0.9);
    /// fb.install("db", FuseConfig::new(s).heal(Heal::reset(Duration::from_secs(5)))).unwrap();
    /// while fb.state("db").unwrap().state == FuseState::Ok {
    ///     let _ = fb.run("db", || Err::<(), _>("down"));
    /// }
    /// let snap = fb.state("db").unwrap();
    /// assert_eq!(snap.counters.blows, 1);
    /// assert!(snap.throttle.unwrap().reject_probability >= 0.9);
    /// ```
    pub fn blow_at(self, p: f64) -> Self {
        match self {
            Strategy::Throttle {
                k,
                window,
                min_requests,
                max_reject,
                slow_call,
                ..
            } => Strategy::Throttle {
                k,
                window,
                min_requests,
                blow_at: Some(p),
                max_reject,
                slow_call,
            },
            other => other,
        }
    }

    /// Caps a throttle's reject probability at `p` (other strategies are
    /// returned unchanged): a share `1 − p` of the asks always goes out, and
    /// a recovered dependency is seen at once. As Envoy's admission control
    /// filter (`max_rejection_probability`); without it the cap is 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{FuseConfig, Fusebox, RunError, Strategy};
    ///
    /// let fb = Fusebox::builder().seed(3).build();
    /// let s = Strategy::throttle(2.0, Duration::from_secs(10)).max_reject(0.8);
    /// fb.install("db", FuseConfig::new(s)).unwrap();
    /// let db = fb.fuse("db").unwrap();
    /// // The dependency is down: 1 ask in 5 still goes out (uncapped: about 7 of the 1,000).
    /// let sent = (0..1_000)
    ///     .filter(|_| db.run(|| Err::<(), _>("down")) != Err(RunError::Blown))
    ///     .count();
    /// assert!((150..260).contains(&sent), "{sent} sent");
    /// assert_eq!(db.snapshot().unwrap().throttle.unwrap().reject_probability, 0.8);
    /// ```
    pub fn max_reject(self, p: f64) -> Self {
        match self {
            Strategy::Throttle {
                k,
                window,
                min_requests,
                blow_at,
                slow_call,
                ..
            } => Strategy::Throttle {
                k,
                window,
                min_requests,
                blow_at,
                max_reject: p,
                slow_call,
            },
            other => other,
        }
    }

    /// The share of asks a [`Throttle`](Strategy::Throttle) sends in its
    /// steady state, against a dependency that succeeds with probability
    /// `success` whatever the load, with `requests` requests in the window
    /// (the ask rate times the window): `1` if `k·success ≥ 1`, else
    /// `1 / (1 + requests·(1 − k·success))`, but never less than
    /// `1 − max_reject`. `None` for other strategies.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::Strategy;
    ///
    /// let s = Strategy::throttle(2.0, Duration::from_secs(2));
    /// // 500 asks a second, a window of 2 s: R = 1000.
    /// assert_eq!(s.predicted_sent_share(0.6, 1000.0), Some(1.0));
    /// let x = s.predicted_sent_share(0.1, 1000.0).unwrap();
    /// assert!((x - 1.0 / 801.0).abs() < 1e-15);   // 1.25 calls a window
    /// // With a cap of 0.8, a fifth always goes out: 200 calls a window.
    /// let capped = s.max_reject(0.8).predicted_sent_share(0.1, 1000.0).unwrap();
    /// assert!((capped - 0.2).abs() < 1e-15);
    /// ```
    pub fn predicted_sent_share(&self, success: f64, requests: f64) -> Option<f64> {
        match *self {
            Strategy::Throttle { k, max_reject, .. } => Some(
                super::throttle::predicted_sent_share(k, success, requests, max_reject),
            ),
            _ => None,
        }
    }

    /// Adds a slow-call threshold to a `failure_rate` or `throttle`
    /// strategy (other strategies are returned unchanged).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::Strategy;
    ///
    /// let s = Strategy::failure_rate(0.5, Duration::from_secs(10), 20)
    ///     .slow_call(Duration::from_millis(500));
    /// assert!(matches!(s, Strategy::FailureRate { slow_call: Some(_), .. }));
    /// ```
    pub fn slow_call(self, threshold: Duration) -> Self {
        match self {
            Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                ..
            } => Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                slow_call: Some(threshold),
            },
            Strategy::Throttle {
                k,
                window,
                min_requests,
                blow_at,
                max_reject,
                ..
            } => Strategy::Throttle {
                k,
                window,
                min_requests,
                blow_at,
                max_reject,
                slow_call: Some(threshold),
            },
            other => other,
        }
    }

    /// True if the strategy needs success reports to work.
    pub fn counts_successes(&self) -> bool {
        matches!(
            self,
            Strategy::Consecutive { .. } | Strategy::FailureRate { .. } | Strategy::Throttle { .. }
        )
    }

    /// The slow-call threshold, for strategies that have one.
    pub fn slow_call_threshold(&self) -> Option<Duration> {
        match *self {
            Strategy::FailureRate { slow_call, .. } | Strategy::Throttle { slow_call, .. } => {
                slow_call
            }
            _ => None,
        }
    }

    /// The melt window, for strategies that have one.
    pub fn window(&self) -> Option<Duration> {
        match self {
            Strategy::Standard { window, .. }
            | Strategy::FaultInjection { window, .. }
            | Strategy::FailureRate { window, .. }
            | Strategy::Throttle { window, .. } => Some(*window),
            Strategy::Consecutive { .. } => None,
        }
    }

    /// The melt budget, for strategies that have one.
    pub fn max_melts(&self) -> Option<u32> {
        match self {
            Strategy::Standard { max_melts, .. } | Strategy::FaultInjection { max_melts, .. } => {
                Some(*max_melts)
            }
            Strategy::Consecutive { .. }
            | Strategy::FailureRate { .. }
            | Strategy::Throttle { .. } => None,
        }
    }

    /// The injected refusal rate, for fault injection.
    pub fn injection_rate(&self) -> Option<f64> {
        match self {
            Strategy::FaultInjection { rate, .. } => Some(*rate),
            _ => None,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Strategy::Standard { window, .. } => check_window(window),
            Strategy::FaultInjection {
                rate,
                max_melts,
                window,
            } => {
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(ConfigError::new("strategy.rate", rate, "must be in (0, 1]"));
                }
                if max_melts == 0 {
                    return Err(ConfigError::new(
                        "strategy.max_melts",
                        max_melts,
                        "must be at least 1 with fault injection",
                    ));
                }
                check_window(window)
            }
            Strategy::Consecutive { failures } => {
                if failures == 0 {
                    return Err(ConfigError::new(
                        "strategy.failures",
                        failures,
                        "must be at least 1",
                    ));
                }
                Ok(())
            }
            Strategy::FailureRate {
                ratio,
                window,
                min_calls,
                slow_call,
            } => {
                if !(ratio > 0.0 && ratio <= 1.0) {
                    return Err(ConfigError::new(
                        "strategy.ratio",
                        ratio,
                        "must be in (0, 1]",
                    ));
                }
                if min_calls == 0 {
                    return Err(ConfigError::new(
                        "strategy.min_calls",
                        min_calls,
                        "must be at least 1",
                    ));
                }
                check_slow_call(slow_call)?;
                check_window(window)
            }
            Strategy::Throttle {
                k,
                window,
                blow_at,
                max_reject,
                slow_call,
                ..
            } => {
                if !(k.is_finite() && k >= 1.0) {
                    return Err(ConfigError::new(
                        "strategy.k",
                        k,
                        "must be finite and at least 1",
                    ));
                }
                // Written so that NaN fails too; infinities are outside.
                if !(max_reject > 0.0 && max_reject <= 1.0) {
                    return Err(ConfigError::new(
                        "strategy.max_reject",
                        max_reject,
                        "must be finite and in (0, 1]",
                    ));
                }
                if let Some(p) = blow_at {
                    if !(p > 0.0 && p < 1.0) {
                        return Err(ConfigError::new(
                            "strategy.blow_at",
                            p,
                            "must be in (0, 1): the reject probability never reaches 1",
                        ));
                    }
                    if p > max_reject {
                        return Err(ConfigError::new(
                            "strategy.blow_at",
                            p,
                            "must be at most strategy.max_reject: the reject probability \
                             never goes above it, so the fuse could never blow",
                        ));
                    }
                }
                check_slow_call(slow_call)?;
                check_window(window)
            }
        }
    }
}

/// `max_reject`'s default: no cap.
#[cfg(feature = "serde")]
fn no_cap() -> f64 {
    1.0
}

fn check_slow_call(slow_call: Option<Duration>) -> Result<(), ConfigError> {
    if slow_call.is_some_and(|d| d.is_zero()) {
        return Err(ConfigError::new(
            "strategy.slow_call",
            Duration::ZERO,
            "must be greater than zero",
        ));
    }
    Ok(())
}

fn check_window(window: Duration) -> Result<(), ConfigError> {
    if window.is_zero() {
        return Err(ConfigError::new(
            "strategy.window",
            window,
            "must be greater than zero",
        ));
    }
    Ok(())
}
