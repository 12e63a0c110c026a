//! The `metrics` feature: every counter, gauge and histogram of the
//! contract's metric names (`fusebox::_contract`, section 4.5), published
//! through the [`metrics`] facade.
//!
//! Nothing is recorded per call. Fuses and valves keep their own counters
//! (per-thread striped for fuses), and a periodic tick of the Fusebox's
//! timer copies them to the facade: counters with `absolute`, gauges with
//! `set`, histograms as the new samples of each bucket since the last tick
//! (`record_many`). The facade's recorder is looked up at every tick, so a
//! recorder the application installs *after* building the Fusebox receives
//! everything from its first tick on; the library never installs one.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `fusebox_fuse_asks_total` | counter | `fuse`, `result` = `ok` \| `blown` \| `injected` |
//! | `fusebox_fuse_melts_total` | counter | `fuse` |
//! | `fusebox_fuse_blows_total` | counter | `fuse` |
//! | `fusebox_fuse_successes_total` | counter | `fuse` |
//! | `fusebox_fuse_state` | gauge: 0 ok, 1 blown, 2 disabled | `fuse` |
//! | `fusebox_valve_in_flight` | gauge | `valve` |
//! | `fusebox_valve_queued` | gauge | `valve` |
//! | `fusebox_valve_admitted_total` | counter | `valve` |
//! | `fusebox_valve_refused_total` | counter | `valve`, `reason` |
//! | `fusebox_valve_sojourn_seconds` | histogram | `valve` |
//! | `fusebox_valve_service_seconds` | histogram (sampled, 1 task in 64) | `valve` |
//! | `fusebox_alarm_active` | gauge: 1 while set, 0 once cleared | `alarm`, `fuse` |

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};

use crate::event::Alarm;
use crate::fuse::{FuseSnapshot, FuseState};
use crate::stats::histogram::{upper_bound_secs, BUCKETS};
use crate::valve::engine::{ValveCore, REASONS};

/// How often the Fusebox publishes its metrics unless told otherwise.
pub const DEFAULT_METRICS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// What was published last, so histograms get only new samples and cleared
/// alarms go to 0.
#[derive(Debug, Default)]
pub(crate) struct Exporter {
    last: Mutex<Last>,
}

#[derive(Debug, Default)]
struct Last {
    /// Per valve: sojourn buckets (with the never-waited zeros folded into
    /// bucket 0) and service buckets.
    valves: HashMap<Arc<str>, ([u64; BUCKETS], [u64; BUCKETS])>,
    alarms: BTreeSet<(Arc<str>, &'static str)>,
}

fn describe() {
    describe_counter!(
        "fusebox_fuse_asks_total",
        Unit::Count,
        "Asks of a fuse, by result."
    );
    describe_counter!(
        "fusebox_fuse_melts_total",
        Unit::Count,
        "Melts (failures) reported to a fuse."
    );
    describe_counter!(
        "fusebox_fuse_blows_total",
        Unit::Count,
        "Times a fuse blew."
    );
    describe_counter!(
        "fusebox_fuse_successes_total",
        Unit::Count,
        "Successes reported to a fuse."
    );
    describe_gauge!(
        "fusebox_fuse_state",
        "A fuse's state: 0 ok, 1 blown, 2 disabled."
    );
    describe_gauge!(
        "fusebox_valve_in_flight",
        Unit::Count,
        "Tasks running under a valve."
    );
    describe_gauge!(
        "fusebox_valve_queued",
        Unit::Count,
        "Tasks waiting at a valve."
    );
    describe_counter!(
        "fusebox_valve_admitted_total",
        Unit::Count,
        "Tasks a valve let start."
    );
    describe_counter!(
        "fusebox_valve_refused_total",
        Unit::Count,
        "Tasks a valve refused, by reason."
    );
    describe_histogram!(
        "fusebox_valve_sojourn_seconds",
        Unit::Seconds,
        "Time from arrival at a valve to start, of the tasks it admitted."
    );
    describe_histogram!(
        "fusebox_valve_service_seconds",
        Unit::Seconds,
        "Time a task held its valve slot (one task in 64 sampled)."
    );
    describe_gauge!(
        "fusebox_alarm_active",
        "1 while an alarm is set, 0 once cleared."
    );
}

impl Exporter {
    /// Publishes everything once.
    pub(crate) fn publish(
        &self,
        fuses: &[FuseSnapshot],
        valves: &[Arc<ValveCore>],
        alarms: &[Alarm],
    ) {
        describe();
        for f in fuses {
            let name = f.name.to_string();
            let c = &f.counters;
            for (result, v) in [
                ("ok", c.asks_ok),
                ("blown", c.asks_blown),
                ("injected", c.injected),
            ] {
                counter!("fusebox_fuse_asks_total", "fuse" => name.clone(), "result" => result)
                    .absolute(v);
            }
            counter!("fusebox_fuse_melts_total", "fuse" => name.clone()).absolute(c.melts);
            counter!("fusebox_fuse_blows_total", "fuse" => name.clone()).absolute(c.blows);
            counter!("fusebox_fuse_successes_total", "fuse" => name.clone()).absolute(c.successes);
            let state = match f.state {
                FuseState::Ok => 0.0,
                FuseState::Blown => 1.0,
                FuseState::Disabled => 2.0,
            };
            gauge!("fusebox_fuse_state", "fuse" => name).set(state);
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = HashMap::new();
        for v in valves {
            use std::sync::atomic::Ordering::Relaxed;
            let name = v.name.to_string();
            let st = &v.stats;
            gauge!("fusebox_valve_in_flight", "valve" => name.clone()).set(v.in_flight() as f64);
            gauge!("fusebox_valve_queued", "valve" => name.clone()).set(v.queued() as f64);
            // Ordering: statistics.
            let admitted = st.admitted.load(Relaxed);
            counter!("fusebox_valve_admitted_total", "valve" => name.clone()).absolute(admitted);
            for (i, r) in REASONS.iter().enumerate() {
                counter!("fusebox_valve_refused_total", "valve" => name.clone(), "reason" => r.as_str())
                    .absolute(st.refused[i].load(Relaxed));
            }
            let mut sojourn = st.sojourn.buckets();
            // Tasks admitted at once waited zero; they are not in the histogram.
            sojourn[0] += admitted.saturating_sub(sojourn.iter().sum());
            let service = st.service.buckets();
            let (old_sojourn, old_service) = last
                .valves
                .get(&v.name)
                .copied()
                .unwrap_or(([0; BUCKETS], [0; BUCKETS]));
            let h = histogram!("fusebox_valve_sojourn_seconds", "valve" => name.clone());
            for i in 0..BUCKETS {
                let new = sojourn[i].saturating_sub(old_sojourn[i]);
                if new > 0 {
                    h.record_many(upper_bound_secs(i), new as usize);
                }
            }
            let h = histogram!("fusebox_valve_service_seconds", "valve" => name);
            for i in 0..BUCKETS {
                let new = service[i].saturating_sub(old_service[i]);
                if new > 0 {
                    h.record_many(upper_bound_secs(i), new as usize);
                }
            }
            seen.insert(v.name.clone(), (sojourn, service));
        }
        // A removed valve's history goes; a reinstalled one starts over.
        last.valves = seen;
        let now: BTreeSet<(Arc<str>, &'static str)> = alarms
            .iter()
            .map(|a| (a.name.clone(), a.kind.as_str()))
            .collect();
        for (fuse, alarm) in last.alarms.difference(&now) {
            gauge!("fusebox_alarm_active", "alarm" => *alarm, "fuse" => fuse.to_string()).set(0.0);
        }
        for (fuse, alarm) in &now {
            gauge!("fusebox_alarm_active", "alarm" => *alarm, "fuse" => fuse.to_string()).set(1.0);
        }
        last.alarms = now;
    }
}
