//! The simulated dependency: a number of connections with a first-come,
//! first-served queue in front of them, a latency distribution, and the
//! episode script saying how it misbehaves over time.
//!
//! A call that starts is served to its end even if its caller gave up
//! (the dependency cannot know): that is what makes a pile-up outlive the
//! episode that caused it, and what a fuse saves.

use std::collections::VecDeque;
use std::time::Duration;

use fusebox::rng::SplitMix64;

use crate::scenario::{self, Condition, Latency, Stragglers};

/// How one call to the dependency ends, decided when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    Error,
}

/// A call waiting for a connection: which request, and its own draws.
#[derive(Debug, Clone, Copy)]
struct Queued {
    req: u32,
    /// The request's generation when it called: the call answers that
    /// attempt, even if the request's slot is someone else's by then.
    gen: u32,
    draws: u64,
    since: Duration,
}

/// The dependency's state.
#[derive(Debug)]
pub(crate) struct Dependency {
    latency: Latency,
    thrash_backlog: Option<f64>,
    stragglers: Option<Stragglers>,
    /// Calls started so far (the even error pattern counts them).
    started: u64,
    busy: u32,
    queue: VecDeque<Queued>,
    /// Most calls it queues; beyond, a call fails at once.
    queue_cap: usize,
}

/// What the engine must do after the dependency moved: a call started and
/// will end at `at` with `answer`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    pub(crate) req: u32,
    /// The generation of the attempt that made the call.
    pub(crate) gen: u32,
    pub(crate) after: Duration,
    pub(crate) answer: Answer,
    /// Whether it holds a connection (a call to a dependency that is down
    /// fails without one).
    pub(crate) holds: bool,
    /// How long it waited for a connection (zero if one was free).
    pub(crate) waited: Duration,
}

impl Dependency {
    pub(crate) fn new(d: &scenario::Dependency) -> Self {
        Dependency {
            latency: d.latency,
            thrash_backlog: d.thrash_backlog,
            stragglers: d.stragglers,
            started: 0,
            busy: 0,
            queue: VecDeque::new(),
            queue_cap: 1 << 20,
        }
    }

    /// Connections in use.
    pub(crate) fn busy(&self) -> u32 {
        self.busy
    }

    /// A call arrives in condition `c`: it starts now, waits, or (down, or
    /// its queue is full) fails without a connection.
    pub(crate) fn call(
        &mut self,
        req: u32,
        gen: u32,
        draws: u64,
        c: Condition,
        now: Duration,
    ) -> Option<Started> {
        if c.down || self.queue.len() >= self.queue_cap {
            return Some(Started {
                req,
                gen,
                after: c.down_after,
                answer: Answer::Error,
                holds: false,
                waited: Duration::ZERO,
            });
        }
        if self.busy < c.connections && self.queue.is_empty() {
            return Some(self.start(req, gen, draws, c, Duration::ZERO));
        }
        self.queue.push_back(Queued {
            req,
            gen,
            draws,
            since: now,
        });
        None
    }

    /// A call ended and gave back its connection: the next ones start, as
    /// many as the condition `c` now allows.
    pub(crate) fn release(&mut self, c: Condition, now: Duration, out: &mut Vec<Started>) {
        self.busy -= 1;
        self.drain(c, now, out);
    }

    /// Starts queued calls while connections are free (also after the
    /// number of connections grew).
    pub(crate) fn drain(&mut self, c: Condition, now: Duration, out: &mut Vec<Started>) {
        while self.busy < c.connections || c.down {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let waited = now.saturating_sub(q.since);
            if c.down {
                out.push(Started {
                    req: q.req,
                    gen: q.gen,
                    after: c.down_after,
                    answer: Answer::Error,
                    holds: false,
                    waited,
                });
                continue;
            }
            out.push(self.start(q.req, q.gen, q.draws, c, waited));
        }
    }

    fn start(&mut self, req: u32, gen: u32, draws: u64, c: Condition, waited: Duration) -> Started {
        self.busy += 1;
        let mut rng = SplitMix64::new(draws);
        // The calls still waiting behind this one make it dearer.
        let thrash = self
            .thrash_backlog
            .map_or(1.0, |b| 1.0 + self.queue.len() as f64 / b);
        let latency = match self.stragglers {
            Some(st) if rng.chance(st.share) => st.latency,
            _ => self.latency,
        };
        let healthy = sample(latency, &mut rng).mul_f64(c.latency_multiplier * thrash);
        self.started += 1;
        let fails = c
            .error_pattern
            .fails(c.error_rate, self.started, || rng.unit());
        let (after, answer) = if fails {
            // Errors come back fast: a tenth of the healthy latency, unless
            // the episode says how long.
            let after = c.error_latency.map_or(healthy / 10, |d| d.mul_f64(thrash));
            (after, Answer::Error)
        } else {
            let extra = c
                .extra_latency
                .map_or(Duration::ZERO, |l| sample(l, &mut rng));
            (healthy + extra, Answer::Ok)
        };
        Started {
            req,
            gen,
            after,
            answer,
            holds: true,
            waited,
        }
    }
}

/// One latency from `l`.
pub(crate) fn sample(l: Latency, rng: &mut SplitMix64) -> Duration {
    match l {
        Latency::Constant { value } => value,
        Latency::Exponential { mean, shift, max } => {
            let d = shift + mean.mul_f64(exponential(rng));
            max.map_or(d, |m| d.min(m))
        }
        Latency::Uniform { min, max } => min + (max - min).mul_f64(rng.unit()),
        Latency::LogNormal { median, p99 } => {
            // ln X ~ N(ln median, sigma), with the 99th percentile at z = 2.3263.
            let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / 2.326_347_874;
            median.mul_f64((sigma * normal(rng)).exp().min(1e6))
        }
    }
}

/// An exponential draw of mean 1.
pub(crate) fn exponential(rng: &mut SplitMix64) -> f64 {
    -(1.0 - rng.unit()).ln()
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
