//! What a fuse is told at install: a *strategy* (when does it blow) and a
//! *heal* (what happens after).
//!
//! Building a config never fails; [`FuseConfig::validate`] (called by
//! [`Fusebox::install`](crate::Fusebox::install)) checks it once and names the
//! field and the rule of anything wrong, as Erlang fuse validated its options
//! once, at install.

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
        #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
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
        #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
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
        #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
        window: Duration,
        /// Fewest outcomes in the window before the ratio is judged; at least 1.
        min_calls: u32,
        /// Calls slower than this count as failures.
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "crate::duration_serde::option")
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

    /// Adds a slow-call threshold to a `failure_rate` strategy (other
    /// strategies are returned unchanged).
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
            other => other,
        }
    }

    /// True if the strategy needs success reports to work.
    pub fn counts_successes(&self) -> bool {
        matches!(
            self,
            Strategy::Consecutive { .. } | Strategy::FailureRate { .. }
        )
    }

    /// The melt window, for strategies that have one.
    pub fn window(&self) -> Option<Duration> {
        match self {
            Strategy::Standard { window, .. }
            | Strategy::FaultInjection { window, .. }
            | Strategy::FailureRate { window, .. } => Some(*window),
            Strategy::Consecutive { .. } => None,
        }
    }

    /// The melt budget, for strategies that have one.
    pub fn max_melts(&self) -> Option<u32> {
        match self {
            Strategy::Standard { max_melts, .. } | Strategy::FaultInjection { max_melts, .. } => {
                Some(*max_melts)
            }
            Strategy::Consecutive { .. } | Strategy::FailureRate { .. } => None,
        }
    }

    /// The injected refusal rate, for fault injection.
    pub fn injection_rate(&self) -> Option<f64> {
        match self {
            Strategy::FaultInjection { rate, .. } => Some(*rate),
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
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
                if slow_call.is_some_and(|d| d.is_zero()) {
                    return Err(ConfigError::new(
                        "strategy.slow_call",
                        Duration::ZERO,
                        "must be greater than zero",
                    ));
                }
                check_window(window)
            }
        }
    }
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

/// One step of a heal program.
///
/// A program runs its steps in order from the blow; the end of the list
/// heals the fuse. While it runs, the fuse is `blown` and admits what the
/// last admission step says: nothing at first, a fraction after `gradual`,
/// a few concurrent calls during `probe`.
///
/// # Examples
///
/// Each step on a [`ManualClock`](crate::ManualClock), from a fuse that blows
/// on its first melt:
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Ask, FuseConfig, FuseState, Fusebox, Heal, ManualClock, Step};
///
/// let s = Duration::from_secs;
/// let clock = ManualClock::new();
/// let fb = Fusebox::builder().clock(clock.clone()).build();
/// let install = |name, steps: &[Step]| {
///     let heal = Heal::program(steps.iter().copied());
///     fb.install(name, FuseConfig::standard(0, s(10)).heal(heal)).unwrap();
///     fb.melt(name).unwrap();
/// };
///
/// // Delay: wait, then (end of the list) heal. The same as Heal::reset(10 s).
/// install("delay", &[Step::Delay(s(10))]);
/// clock.advance(s(9));
/// assert_eq!(fb.ask("delay").unwrap(), Ask::Blown);
/// clock.advance(s(1));
/// assert_eq!(fb.ask("delay").unwrap(), Ask::Ok);
///
/// // Gradual: after 10 s a quarter of asks get through, for 10 s.
/// install("gradual", &[Step::Delay(s(10)), Step::Gradual(0.25), Step::Delay(s(10))]);
/// clock.advance(s(10));
/// let through = (0..1000).filter(|_| fb.ask("gradual").unwrap().is_ok()).count();
/// assert!((150..350).contains(&through), "{through} of 1000");
/// clock.advance(s(10));
/// assert_eq!(fb.state("gradual").unwrap().state, FuseState::Ok);
///
/// // Probe: after 1 s one trial call at a time; its success heals.
/// install("probe", &[Step::Delay(s(1)), Step::Probe(1)]);
/// clock.advance(s(1));
/// assert_eq!(fb.ask("probe").unwrap(), Ask::Ok);     // takes the one slot
/// assert_eq!(fb.ask("probe").unwrap(), Ask::Blown);  // no second probe
/// fb.success("probe").unwrap();                      // gives it back, counts
/// assert_eq!(fb.state("probe").unwrap().state, FuseState::Ok);
///
/// // Barrier: blown until an operator unlocks it, however long that takes.
/// install("barrier", &[Step::Barrier]);
/// clock.advance(s(86_400));
/// assert_eq!(fb.ask("barrier").unwrap(), Ask::Blown);
/// fb.unlock("barrier").unwrap();
/// assert_eq!(fb.ask("barrier").unwrap(), Ask::Ok);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Step {
    /// Stay as we are for this long.
    Delay(#[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))] Duration),
    /// From now on let this fraction, in (0, 1], of asks through; go on at once.
    Gradual(f64),
    /// Let at most this many calls through at once; after that many
    /// successes, go on. A probe whose caller gives up frees its slot.
    Probe(u32),
    /// Stay blown until an operator calls `unlock`.
    Barrier,
}

/// Exponential backoff of a heal's first delay over consecutive blows.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Backoff {
    /// Growth per consecutive blow; at least 1.
    pub factor: f64,
    /// The longest first delay.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration_serde"))]
    pub max: Duration,
}

/// What happens after a fuse blows: a program of [`Step`]s, with optional
/// backoff and jitter of its first delay.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{Heal, Step};
///
/// // Heal fully one minute after the blow, like Erlang fuse's {reset, 60000}.
/// let h = Heal::reset(Duration::from_secs(60));
/// assert_eq!(h.base_delay(), Duration::from_secs(60));
///
/// // Recover gradually: wait 30 s, let 10% through for 10 s, then 50% for
/// // 10 s, then heal; a failure on the way starts over. Repeated blows wait
/// // 30 s, 60 s, 120 s, ... up to 10 minutes, minus up to 20% at random.
/// let s = Duration::from_secs;
/// let h = Heal::program([
///     Step::Delay(s(30)), Step::Gradual(0.1), Step::Delay(s(10)),
///     Step::Gradual(0.5), Step::Delay(s(10)),
/// ])
/// .backoff(2.0, s(600))
/// .jitter(0.2);
/// assert_eq!(h.steps().len(), 5);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Heal {
    steps: Vec<Step>,
    #[cfg_attr(feature = "serde", serde(default))]
    backoff: Option<Backoff>,
    #[cfg_attr(feature = "serde", serde(default))]
    jitter: f64,
}

/// The most probes a `probe` step may admit at once.
pub const MAX_PROBES: u32 = 1023;

impl Heal {
    /// Heal fully `after` the blow: the program `[delay(after)]`.
    pub fn reset(after: Duration) -> Self {
        Heal::program([Step::Delay(after)])
    }

    /// A heal program.
    pub fn program(steps: impl IntoIterator<Item = Step>) -> Self {
        Heal {
            steps: steps.into_iter().collect(),
            backoff: None,
            jitter: 0.0,
        }
    }

    /// The n-th consecutive blow waits `min(first delay * factor^(n-1), max)`.
    /// The count returns to 1 once the fuse has stayed healed for a full
    /// window (for a strategy without one, for the base delay).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::Heal;
    ///
    /// let s = Duration::from_secs;
    /// let h = Heal::reset(s(30)).backoff(2.0, s(100));
    /// let waits: Vec<_> = (1..=4).map(|n| h.delay_for_attempt(n)).collect();
    /// assert_eq!(waits, [s(30), s(60), s(100), s(100)]);
    /// ```
    pub fn backoff(mut self, factor: f64, max: Duration) -> Self {
        self.backoff = Some(Backoff { factor, max });
        self
    }

    /// Shortens each first delay by a random share of up to `fraction`, so a
    /// fleet of services does not retry in step: with `jitter(0.2)` a 30 s
    /// delay becomes one between 24 s and 30 s. `fraction` is in [0, 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox::{FuseConfig, Fusebox, Heal, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let fb = Fusebox::builder().clock(clock.clone()).build();
    /// let heal = Heal::reset(Duration::from_secs(30)).jitter(0.2);
    /// fb.install("db", FuseConfig::standard(0, Duration::from_secs(10)).heal(heal)).unwrap();
    /// fb.melt("db").unwrap();
    /// let heals_at = fb.state("db").unwrap().next_heal.unwrap();
    /// assert!(heals_at >= Duration::from_secs(24) && heals_at <= Duration::from_secs(30));
    /// ```
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The backoff, if any.
    pub fn backoff_config(&self) -> Option<Backoff> {
        self.backoff
    }

    /// The jitter fraction (0 for none).
    pub fn jitter_fraction(&self) -> f64 {
        self.jitter
    }

    /// The first delay of the program (zero if it does not start with one).
    pub fn base_delay(&self) -> Duration {
        match self.steps.first() {
            Some(Step::Delay(d)) => *d,
            _ => Duration::ZERO,
        }
    }

    /// The first delay before the `attempt`-th consecutive blow, before jitter.
    pub fn delay_for_attempt(&self, attempt: u32) -> Duration {
        let base = self.base_delay();
        match self.backoff {
            Some(Backoff { factor, max }) if attempt > 1 => {
                let grown = base.as_secs_f64() * factor.powi((attempt - 1).min(1_000) as i32);
                if grown.is_finite() && grown < max.as_secs_f64() {
                    Duration::from_secs_f64(grown)
                } else {
                    max.max(base)
                }
            }
            _ => base,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.steps.is_empty() {
            return Err(ConfigError::new(
                "heal.steps",
                "[]",
                "must have at least one step",
            ));
        }
        for step in &self.steps {
            match *step {
                Step::Delay(d) if d.is_zero() => {
                    return Err(ConfigError::new(
                        "heal.after",
                        d,
                        "must be greater than zero",
                    ));
                }
                Step::Gradual(f) if !(f > 0.0 && f <= 1.0) => {
                    return Err(ConfigError::new("heal.gradual", f, "must be in (0, 1]"));
                }
                Step::Probe(n) if n == 0 || n > MAX_PROBES => {
                    return Err(ConfigError::new("heal.probe", n, "must be in 1..=1023"));
                }
                _ => {}
            }
        }
        if !self
            .steps
            .iter()
            .any(|s| matches!(s, Step::Delay(_) | Step::Probe(_) | Step::Barrier))
        {
            // Only gradual steps: the program would heal at the instant of the blow.
            return Err(ConfigError::new(
                "heal.steps",
                format_args!("{:?}", self.steps),
                "must wait somewhere (a delay, probe or barrier)",
            ));
        }
        if let Some(Backoff { factor, max }) = self.backoff {
            if !(factor >= 1.0 && factor.is_finite()) {
                return Err(ConfigError::new(
                    "heal.backoff.factor",
                    factor,
                    "must be a finite number of at least 1",
                ));
            }
            if max.is_zero() {
                return Err(ConfigError::new(
                    "heal.backoff.max",
                    max,
                    "must be greater than zero",
                ));
            }
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(ConfigError::new(
                "heal.jitter",
                self.jitter,
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }
}

/// A fuse's configuration: a [`Strategy`] and a [`Heal`].
///
/// The heal defaults to [`Heal::reset`] after 60 seconds, as in Erlang fuse's
/// documentation.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use fusebox::{FuseConfig, Heal};
///
/// let cfg = FuseConfig::standard(5, Duration::from_secs(10))
///     .heal(Heal::reset(Duration::from_secs(30)));
/// assert!(cfg.validate().is_ok());
/// assert!(FuseConfig::fault_injection(1.5, 5, Duration::from_secs(1)).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct FuseConfig {
    /// When the fuse blows.
    pub strategy: Strategy,
    /// What happens after it blows.
    pub heal: Heal,
}

/// The heal a config gets unless told otherwise.
pub const DEFAULT_HEAL_AFTER: Duration = Duration::from_secs(60);

impl FuseConfig {
    /// Blow when more than `max_melts` melts fall within `window`.
    pub fn standard(max_melts: u32, window: Duration) -> Self {
        Self::new(Strategy::Standard { max_melts, window })
    }

    /// As [`standard`](Self::standard), refusing each ask on an ok fuse with
    /// probability `rate`.
    pub fn fault_injection(rate: f64, max_melts: u32, window: Duration) -> Self {
        Self::new(Strategy::FaultInjection {
            rate,
            max_melts,
            window,
        })
    }

    /// A config from a strategy, with the default heal.
    pub fn new(strategy: Strategy) -> Self {
        FuseConfig {
            strategy,
            heal: Heal::reset(DEFAULT_HEAL_AFTER),
        }
    }

    /// Replaces the heal.
    pub fn heal(mut self, heal: Heal) -> Self {
        self.heal = heal;
        self
    }

    /// Checks every rule; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.strategy.validate()?;
        self.heal.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_their_field() {
        let s = Duration::from_secs(1);
        let cases = [
            (FuseConfig::standard(1, Duration::ZERO), "strategy.window"),
            (FuseConfig::fault_injection(0.0, 1, s), "strategy.rate"),
            (FuseConfig::fault_injection(1.01, 1, s), "strategy.rate"),
            (FuseConfig::fault_injection(f64::NAN, 1, s), "strategy.rate"),
            (FuseConfig::fault_injection(0.5, 0, s), "strategy.max_melts"),
            (
                FuseConfig::standard(1, s).heal(Heal::reset(Duration::ZERO)),
                "heal.after",
            ),
        ];
        for (cfg, field) in cases {
            assert_eq!(cfg.validate().unwrap_err().field(), field, "{cfg:?}");
        }
        assert!(FuseConfig::standard(0, s).validate().is_ok());
        assert!(FuseConfig::fault_injection(1.0, 1, s).validate().is_ok());
    }
}
