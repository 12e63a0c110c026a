//! The busiest fuses and valves: the top few by calls in the last window,
//! by calls in flight, or by refusals, as recon's `proc_count` ranks
//! processes by one attribute.
//!
//! Why a window: a counter's total says which fuse was busy since the
//! process started, not which one is busy now. The previous reading keeps
//! each fuse's and valve's counters (two numbers per name, sorted by name as
//! the snapshot is), so its memory follows the Fusebox's size, never the
//! number of clients or requests; the answer holds at most
//! [`MAX_TOP`](super::MAX_TOP) of each.

use std::cmp::Reverse;
use std::time::Duration;

use fusebox::Snapshot;
use serde::Serialize;

/// What the ranking is by; ties fall to the other two, then the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum By {
    /// Calls in the window: a fuse's asks, a valve's admissions and refusals.
    Calls,
    /// Calls in flight now (a valve's; a fuse has none).
    InFlight,
    /// Refusals in the window.
    Refused,
}

impl By {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "calls" => By::Calls,
            "in_flight" => By::InFlight,
            "refused" => By::Refused,
            _ => return None,
        })
    }
}

/// The totals of one fuse or valve: calls, and the refused among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Totals {
    calls: u64,
    refused: u64,
}

/// Every fuse's and valve's totals at one reading, sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counts {
    fuses: Vec<(String, Totals)>,
    valves: Vec<(String, Totals)>,
}

fn fuse_totals(f: &fusebox::fuse::FuseSnapshot) -> Totals {
    let c = &f.counters;
    let refused = c.asks_blown.saturating_add(c.throttled);
    Totals {
        calls: c.asks_ok.saturating_add(c.injected).saturating_add(refused),
        refused,
    }
}

fn valve_totals(v: &fusebox::valve::ValveSnapshot) -> Totals {
    let refused = v.refused.total();
    Totals {
        calls: v.admitted.saturating_add(refused),
        refused,
    }
}

impl Counts {
    pub(crate) fn of(snap: &Snapshot) -> Self {
        let mut counts = Counts {
            fuses: snap
                .fuses
                .iter()
                .map(|f| (f.name.to_string(), fuse_totals(f)))
                .collect(),
            valves: snap
                .valves
                .iter()
                .map(|v| (v.name.clone(), valve_totals(v)))
                .collect(),
        };
        // Sorted already; the lookups below must not depend on it.
        counts.fuses.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        counts.valves.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        counts
    }
}

/// What changed in the window: `None` for a name new since the last
/// reading, or whose counters went back (removed and installed again).
fn delta(then: Option<&[(String, Totals)]>, name: &str, now: Totals) -> Option<Totals> {
    let then = then?;
    let i = then.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()?;
    let old = then[i].1;
    Some(Totals {
        calls: now.calls.checked_sub(old.calls)?,
        refused: now.refused.checked_sub(old.refused)?,
    })
}

/// One of the busiest fuses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BusyFuse {
    pub(crate) name: String,
    pub(crate) state: String,
    /// Asks per second in the window; `null` for a fuse new in it.
    pub(crate) calls_per_second: Option<f64>,
    /// Refused asks (blown, disabled, throttled) per second.
    pub(crate) refused_per_second: Option<f64>,
    /// Asks since the fuse was installed.
    pub(crate) calls: u64,
    pub(crate) refused: u64,
}

/// One of the busiest valves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BusyValve {
    pub(crate) name: String,
    pub(crate) in_flight: usize,
    pub(crate) concurrency: usize,
    pub(crate) queued: usize,
    /// Admissions and refusals per second in the window.
    pub(crate) calls_per_second: Option<f64>,
    pub(crate) refused_per_second: Option<f64>,
    pub(crate) calls: u64,
    pub(crate) refused: u64,
}

/// A ranking key, reversed so that the largest sorts first.
type Rank = Reverse<(u64, u64, u64)>;

/// The ranking key, largest first: (primary, secondary, tertiary).
fn key(by: By, window: Option<Totals>, in_flight: usize) -> (u64, u64, u64) {
    let w = window.unwrap_or(Totals {
        calls: 0,
        refused: 0,
    });
    let f = in_flight as u64;
    match by {
        By::Calls => (w.calls, f, w.refused),
        By::InFlight => (f, w.calls, w.refused),
        By::Refused => (w.refused, w.calls, f),
    }
}

/// The `n` first of `items` by `rank` (largest first), then by name: a
/// partial selection, then a sort of the `n` kept.
fn top<T>(mut items: Vec<(Rank, T)>, n: usize, name: impl Fn(&T) -> &str) -> Vec<T> {
    let order =
        |a: &(Rank, T), b: &(Rank, T)| a.0.cmp(&b.0).then_with(|| name(&a.1).cmp(name(&b.1)));
    if n == 0 {
        return Vec::new();
    }
    if items.len() > n {
        items.select_nth_unstable_by(n - 1, order);
        items.truncate(n);
    }
    items.sort_unstable_by(order);
    items.into_iter().map(|(_, t)| t).collect()
}

/// The `n` busiest fuses and valves of `now`, by `by`, over the `wall`
/// time since `then` was read.
pub(crate) fn busiest(
    then: Option<&Counts>,
    now: &Snapshot,
    wall: Duration,
    n: usize,
    by: By,
) -> (Vec<BusyFuse>, Vec<BusyValve>) {
    let secs = wall.as_secs_f64();
    let per_second = |d: Option<u64>| d.filter(|_| secs > 0.0).map(|d| d as f64 / secs);
    let fuses = now
        .fuses
        .iter()
        .map(|f| {
            let total = fuse_totals(f);
            let window = delta(then.map(|c| &c.fuses[..]), &f.name, total);
            let busy = BusyFuse {
                name: f.name.to_string(),
                state: f.state.to_string(),
                calls_per_second: per_second(window.map(|w| w.calls)),
                refused_per_second: per_second(window.map(|w| w.refused)),
                calls: total.calls,
                refused: total.refused,
            };
            (Reverse(key(by, window, 0)), busy)
        })
        .collect();
    let valves = now
        .valves
        .iter()
        .map(|v| {
            let total = valve_totals(v);
            let window = delta(then.map(|c| &c.valves[..]), &v.name, total);
            let busy = BusyValve {
                name: v.name.clone(),
                in_flight: v.in_flight,
                concurrency: v.concurrency,
                queued: v.queued,
                calls_per_second: per_second(window.map(|w| w.calls)),
                refused_per_second: per_second(window.map(|w| w.refused)),
                calls: total.calls,
                refused: total.refused,
            };
            (Reverse(key(by, window, v.in_flight)), busy)
        })
        .collect();
    (
        top(fuses, n, |f: &BusyFuse| &f.name),
        top(valves, n, |v: &BusyValve| &v.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusebox::{FuseConfig, Fusebox, ValveConfig};

    fn fb() -> Fusebox {
        let fb = Fusebox::new();
        for name in ["a", "b", "c", "d"] {
            fb.install(name, FuseConfig::standard(100, Duration::from_secs(10)))
                .unwrap();
        }
        fb.install_valve("v", ValveConfig::new().concurrency(2).queue(0))
            .unwrap();
        fb.install_valve("w", ValveConfig::new().concurrency(2).queue(0))
            .unwrap();
        fb
    }

    fn asks(fb: &Fusebox, name: &str, n: usize) {
        for _ in 0..n {
            let _ = fb.ask(name);
        }
    }

    #[test]
    fn ranks_by_calls_in_the_window_not_totals() {
        let fb = fb();
        asks(&fb, "a", 50); // busy before the window only
        let then = Counts::of(&fb.snapshot());
        asks(&fb, "b", 3);
        asks(&fb, "c", 7);
        asks(&fb, "a", 1);
        let (fuses, _) = busiest(
            Some(&then),
            &fb.snapshot(),
            Duration::from_secs(2),
            2,
            By::Calls,
        );
        let names: Vec<_> = fuses.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["c", "b"]);
        assert_eq!(fuses[0].calls_per_second, Some(3.5));
        assert_eq!(fuses[1].calls, 3);
    }

    #[test]
    fn no_previous_reading_ranks_by_name_with_null_rates() {
        let fb = fb();
        asks(&fb, "d", 5);
        let (fuses, valves) = busiest(None, &fb.snapshot(), Duration::from_secs(1), 3, By::Calls);
        let names: Vec<_> = fuses.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(fuses.iter().all(|f| f.calls_per_second.is_none()));
        assert_eq!(valves.len(), 2);
        let (fuses, _) = busiest(None, &fb.snapshot(), Duration::from_secs(1), 0, By::Calls);
        assert!(fuses.is_empty());
    }

    #[test]
    fn valves_by_in_flight_and_refusals() {
        let fb = fb();
        let then = Counts::of(&fb.snapshot());
        let w = fb.valve("w").unwrap();
        let _held = (w.try_acquire().unwrap(), w.try_acquire().unwrap());
        assert!(w.try_acquire().is_err());
        let v = fb.valve("v").unwrap();
        for _ in 0..4 {
            drop(v.try_acquire().unwrap());
        }
        let snap = fb.snapshot();
        let wall = Duration::from_secs(1);
        let (_, by_flight) = busiest(Some(&then), &snap, wall, 1, By::InFlight);
        assert_eq!(
            (by_flight[0].name.as_str(), by_flight[0].in_flight),
            ("w", 2)
        );
        let (_, by_calls) = busiest(Some(&then), &snap, wall, 1, By::Calls);
        assert_eq!(by_calls[0].name, "v");
        let (_, by_refused) = busiest(Some(&then), &snap, wall, 2, By::Refused);
        assert_eq!(by_refused[0].name, "w");
        assert_eq!(by_refused[0].refused_per_second, Some(1.0));
    }

    #[test]
    fn counters_that_went_back_have_no_rate() {
        let then = Totals {
            calls: 10,
            refused: 2,
        };
        let list = vec![("x".to_owned(), then)];
        let now = Totals {
            calls: 4,
            refused: 0,
        };
        assert_eq!(delta(Some(&list), "x", now), None);
        assert_eq!(delta(Some(&list), "y", now), None);
        let later = Totals {
            calls: 15,
            refused: 2,
        };
        assert_eq!(
            delta(Some(&list), "x", later),
            Some(Totals {
                calls: 5,
                refused: 0
            })
        );
    }
}
