//! What happens after a fuse blows: its *heal*.
//!
//! Erlang fuse healed fully after a fixed wait. A heal program (the design of
//! fuse issue #9, never shipped in Erlang) lets traffic back in steps:
//! delays, a fraction of asks, a few concurrent probes, an operator's
//! barrier; `backoff` and `jitter` spread repeated blows.

use std::time::Duration;

use crate::error::ConfigError;

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
/// use fusebox::{Ask, FuseConfig, Fusebox, Heal, ManualClock, Step, fuse::FuseState};
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
    Delay(#[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))] Duration),
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
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
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

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.steps.is_empty() {
            return Err(ConfigError::new(
                "heal.steps",
                "[]",
                "must have at least one step",
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            match *step {
                Step::Delay(d) if d.is_zero() => {
                    return Err(ConfigError::step(
                        i,
                        "delay",
                        d,
                        "must be greater than zero",
                    ));
                }
                Step::Gradual(f) if !(f > 0.0 && f <= 1.0) => {
                    return Err(ConfigError::step(i, "gradual", f, "must be in (0, 1]"));
                }
                Step::Probe(n) if n == 0 || n > MAX_PROBES => {
                    return Err(ConfigError::step(i, "probe", n, "must be in 1..=1023"));
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
