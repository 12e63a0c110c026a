//! What the protected run promises, phase by phase, checked against what it
//! did: the figures an operator reads in the morning, each with the bound it
//! is held to and whether it held.
//!
//! The bounds are adaptive protection's (fusebox's issue 15): close to the
//! best possible over the run; in the slow episode most of the database's
//! capacity served, at the slow latency; in the error episode the successes
//! the throttling formula predicts and few wasted calls; the healthy phases'
//! latency kept; a quick recovery.
//!
//! # On the real clock
//!
//! On virtual time the demo replays its one seed exactly, and three bounds
//! are as tight as that replay: recovery within 100 ms, the slow episode's
//! served p99 under the slow latency plus 100 ms, errors within 1.06× the
//! best possible. They rest on the seed's luck in one thing, when the slow
//! episode's last queries end. When the episode ends, its last slow queries
//! still hold the database's connections (a database runs what it started),
//! for up to [`Scenario::longest_slow_query`]; until two or so are free the
//! valve refuses. On the demo's seed they end soon after the episode; over
//! 60 other seeds on virtual time the recovery took 0 to 635 ms (42 within
//! 100 ms), the served p99 reached 904 ms and the errors 1.095×. A real
//! clock's timer lateness (a millisecond or more a query, more on a busy
//! machine) moves when those queries end, as another seed would. So on the
//! real clock each of the three is held to what the mechanism allows:
//!
//! * recovery: the longest a slow query holds a connection, plus one
//!   throttle window for the throttle to forget the episode;
//! * served p99: the longest slow query plus the valve's longest wait for a
//!   connection;
//! * errors: 1.06× the best possible plus the requests arriving during the
//!   longer recovery allowed (all of them refused, at worst).
//!
//! The other checks have one bound on both clocks.

use std::time::Duration;

use fusebox::duration::human;

use crate::scenario::{Phase, Scenario};
use crate::summary::PhaseFigures;
use crate::DemoReport;

/// One promise: what, the figure, the bound, whether it held.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Check {
    /// The phase it is about (`None`: the whole run).
    pub phase: Option<Phase>,
    /// What is measured.
    pub what: String,
    /// The figure.
    pub figure: String,
    /// The bound it is held to.
    pub bound: String,
    /// Whether it held.
    pub holds: bool,
}

fn phase(figures: &[PhaseFigures], p: Phase) -> &PhaseFigures {
    figures
        .iter()
        .find(|f| f.phase == p)
        .expect("a summary has every phase")
}

/// The three bounds that differ between the clocks (see the module's
/// essay).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    /// Longest time to recover.
    recover: Duration,
    /// The slow episode's served p99 is below this (virtual time) or at
    /// most this (real clock: a longest case, reached or not).
    served_p99: Duration,
    /// Most client errors, as a multiple of the best possible.
    errors_ratio: f64,
}

impl Bounds {
    /// On virtual time: as tight as the demo's one seed.
    fn tight(s: &Scenario) -> Bounds {
        Bounds {
            recover: Duration::from_millis(100),
            served_p99: s.slow_latency + Duration::from_millis(100),
            errors_ratio: 1.06,
        }
    }

    /// On the real clock: what the mechanism allows, given `floor`, the
    /// best possible client errors.
    fn real(s: &Scenario, floor: u64) -> Bounds {
        let tight = Bounds::tight(s);
        let recover = s.longest_slow_query() + s.throttle_window;
        let longer = recover.saturating_sub(tight.recover).as_secs_f64();
        Bounds {
            recover,
            served_p99: s.longest_slow_query() + s.valve_max_wait,
            errors_ratio: tight.errors_ratio + f64::from(s.rate) * longer / floor.max(1) as f64,
        }
    }

    fn of(report: &DemoReport) -> Bounds {
        if report.virtual_time {
            Bounds::tight(&report.scenario)
        } else {
            Bounds::real(&report.scenario, report.best_possible_errors())
        }
    }
}

/// Every promise of the protected run.
pub(crate) fn checks(report: &DemoReport) -> Vec<Check> {
    let s = &report.scenario;
    let (u, p) = (&report.unprotected, &report.protected);
    let bounds = Bounds::of(report);
    let mut out = Vec::new();
    let mut check = |phase: Option<Phase>, what: &str, figure: String, bound: String, holds| {
        out.push(Check {
            phase,
            what: what.to_string(),
            figure,
            bound,
            holds,
        })
    };

    let floor = report.best_possible_errors();
    let ratio = p.client_errors as f64 / floor.max(1) as f64;
    check(
        None,
        "client errors / best possible",
        format!("{} / {} = {ratio:.3}", p.client_errors, floor),
        if report.virtual_time {
            format!("≤ {:.2}", bounds.errors_ratio)
        } else {
            format!("≤ {:.3}", bounds.errors_ratio)
        },
        ratio <= bounds.errors_ratio,
    );

    let slow = phase(&p.phases, Phase::Slow);
    let capacity = s.slow_capacity() * (s.slow_end - s.slow_start).as_secs_f64();
    let served = slow.succeeded as f64 / capacity;
    check(
        Some(Phase::Slow),
        "served / database capacity",
        format!(
            "{} / {capacity:.0} = {:.0}%",
            slow.succeeded,
            served * 100.0
        ),
        "≥ 80%".into(),
        served >= 0.8,
    );
    let bound = bounds.served_p99;
    let (relation, below) = if report.virtual_time {
        ("<", slow.p99_served < bound)
    } else {
        ("≤", slow.p99_served <= bound)
    };
    check(
        Some(Phase::Slow),
        "p99 of the served",
        human(slow.p99_served),
        format!("{relation} {}", human(bound)),
        slow.succeeded > 0 && below,
    );

    let errors = phase(&p.phases, Phase::Errors);
    let strategy = crate::protection::fuse(s).map(|f| f.strategy);
    let success = 1.0 - s.error_share;
    let window = strategy
        .as_ref()
        .ok()
        .and_then(|st| st.window())
        .unwrap_or(s.throttle_window)
        .as_secs_f64();
    let requests = f64::from(s.rate) * window;
    if let Some(share) = strategy
        .as_ref()
        .ok()
        .and_then(|st| st.predicted_sent_share(success, requests))
    {
        // The formula's steady state, after the episode's first window: in
        // that one the window still holds the healthy phase's accepts, and
        // everything goes out (averaged over 12 seeds on virtual time, the
        // steady state alone under-predicts by a quarter).
        let n = errors.requests as f64;
        let first = requests.min(n);
        let predicted = success * (first + share * (n - first));
        let off = (errors.succeeded as f64 - predicted).abs() / predicted.max(1.0);
        check(
            Some(Phase::Errors),
            "successes / throttling prediction",
            format!("{} / {predicted:.1}", errors.succeeded),
            "within 20%".into(),
            off <= 0.2,
        );
    }
    let wasted_u = phase(&u.phases, Phase::Errors).wasted_calls;
    check(
        Some(Phase::Errors),
        "wasted calls / unprotected's",
        format!(
            "{} / {wasted_u} = {:.0}%",
            errors.wasted_calls,
            100.0 * errors.wasted_calls as f64 / wasted_u.max(1) as f64
        ),
        "≤ 25%".into(),
        errors.wasted_calls * 4 <= wasted_u,
    );

    let healthy = phase(&p.phases, Phase::Healthy).p99;
    for ph in [Phase::Healthy, Phase::Errors, Phase::Recovered] {
        let f = phase(&p.phases, ph);
        check(
            Some(ph),
            "p99 / healthy p99",
            format!("{} / {}", human(f.p99), human(healthy)),
            "< 2×".into(),
            f.p99 < healthy * 2,
        );
    }
    let limit = bounds.recover;
    check(
        Some(Phase::Recovered),
        "time to recover",
        p.time_to_recover
            .map_or_else(|| "not in the run".into(), human),
        format!("≤ {}", human(limit)),
        p.time_to_recover.is_some_and(|t| t <= limit),
    );
    out
}

/// Why three bounds are wider on the real clock, for the end of the
/// demo's output; `None` on virtual time.
pub(crate) fn real_clock_note(report: &DemoReport) -> Option<String> {
    if report.virtual_time {
        return None;
    }
    let s = &report.scenario;
    let tight = Bounds::tight(s);
    let real = Bounds::of(report);
    Some(format!(
        "on the real clock three bounds are wider than on virtual time ({}, {}, {:.2}): when the\n\
         slow episode ends, its last queries still hold the connections, for up to {} (a slow\n\
         query); virtual time replays one seed, on which they end early, a real clock's timer\n\
         lateness moves them as another seed would (over 60 seeds on virtual time: recovery\n\
         0 to 635 ms). Recovery: a slow query plus a throttle window ({}); served p99: a slow\n\
         query plus the valve's longest wait ({}); errors: {:.2}x plus the requests of that\n\
         longer recovery ({:.3}x).\n",
        human(tight.recover),
        human(tight.served_p99),
        tight.errors_ratio,
        human(s.longest_slow_query()),
        human(real.recover),
        human(real.served_p99),
        tight.errors_ratio,
        real.errors_ratio,
    ))
}

/// The checks as text: one line each.
pub(crate) fn text(checks: &[Check]) -> String {
    let mut out = String::from("the protected run against its promises\n");
    for c in checks {
        let phase = c.phase.map_or("whole run", Phase::as_str);
        out.push_str(&format!(
            "  {:<4} {phase:<10} {:<36} {:>26}  {}\n",
            if c.holds { "ok" } else { "MISS" },
            c.what,
            c.figure,
            c.bound
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(virtual_time: bool) -> DemoReport {
        let scenario = Scenario::for_run(crate::REFERENCE_RUN);
        let (unprotected, protected) = crate::simulated::runs(&scenario).expect("simulates");
        DemoReport {
            unprotected,
            protected,
            report_path: "report.html".into(),
            scenario,
            dashboard_url: None,
            virtual_time,
        }
    }

    fn holds(report: &DemoReport, what: &str) -> bool {
        let c = report.checks();
        c.iter().find(|c| c.what == what).expect(what).holds
    }

    #[test]
    fn the_real_clock_bounds_are_the_mechanisms() {
        let s = Scenario::for_run(crate::REFERENCE_RUN);
        let real = Bounds::real(&s, 2161);
        let ms = Duration::from_millis;
        // 880 + 17 ms of a slow query, then a throttle window of 250 ms.
        assert_eq!(real.recover, ms(1147));
        // The slow query, then the valve's 20 ms.
        assert_eq!(real.served_p99, ms(917));
        // 1.06, plus 200/s for the 1,047 ms the recovery may take longer.
        assert!((real.errors_ratio - (1.06 + 209.4 / 2161.0)).abs() < 1e-9);
        let tight = Bounds::tight(&s);
        assert!(real.recover > tight.recover && real.served_p99 > tight.served_p99);
        assert!(real.errors_ratio > tight.errors_ratio);
    }

    #[test]
    fn virtual_time_keeps_the_tight_bounds_and_the_real_clock_the_wider() {
        for (virtual_time, wide) in [(true, false), (false, true)] {
            let mut r = report(virtual_time);
            assert!(r.checks().iter().all(|c| c.holds), "{}", r.table());
            assert_eq!(verdict_note(&r), !virtual_time);
            // A recovery of 600 ms and a served p99 of 905 ms: what another
            // seed gives on virtual time, a miss there, within the real
            // clock's bounds.
            r.protected.time_to_recover = Some(Duration::from_millis(600));
            let slow = r
                .protected
                .phases
                .iter_mut()
                .find(|f| f.phase == Phase::Slow)
                .unwrap();
            slow.p99_served = Duration::from_millis(905);
            assert_eq!(holds(&r, "time to recover"), wide);
            assert_eq!(holds(&r, "p99 of the served"), wide);
            // Past the real clock's bounds: a miss on both clocks.
            r.protected.time_to_recover = Some(Duration::from_millis(1148));
            assert!(!holds(&r, "time to recover"));
            r.protected.time_to_recover = None;
            assert!(!holds(&r, "time to recover"));
            let slow = r
                .protected
                .phases
                .iter_mut()
                .find(|f| f.phase == Phase::Slow)
                .unwrap();
            slow.p99_served = Duration::from_millis(918);
            assert!(!holds(&r, "p99 of the served"));
            r.protected.client_errors = (r.best_possible_errors() as f64 * 1.16) as u64;
            assert!(!holds(&r, "client errors / best possible"));
            r.protected.client_errors = (r.best_possible_errors() as f64 * 1.1) as u64;
            assert_eq!(holds(&r, "client errors / best possible"), wide);
        }
    }

    fn verdict_note(r: &DemoReport) -> bool {
        let note = real_clock_note(r);
        let table = r.table();
        note.is_some_and(|n| table.ends_with(&n))
    }
}
