//! The registry's own periodic work on the Fusebox's timer: the alarm
//! monitor's look at every fuse and, with the `metrics` feature, the tick that
//! publishes statistics. Each reschedules itself a period after the instant
//! it was due, so a late driver (a `ManualClock` advanced by hours) runs
//! every look in order, each at its own time.

use std::sync::Weak;

use super::shared::Shared;
use crate::clock::duration_nanos;
use crate::timer::Due;

/// The registry's periodic jobs: the message its timer tasks carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    /// The alarm monitor looks at every fuse.
    Look,
    /// Statistics go to the `metrics` facade.
    #[cfg(feature = "metrics")]
    Metrics,
}

impl Shared {
    pub(super) fn schedule_look(&self, from: u64) {
        let next = from.saturating_add(duration_nanos(self.monitor.period));
        self.schedule(next, Tick::Look);
    }

    #[cfg(feature = "metrics")]
    pub(super) fn schedule_metrics(&self, from: u64) {
        let next = from.saturating_add(duration_nanos(self.metrics_interval));
        self.schedule(next, Tick::Metrics);
    }

    fn schedule(&self, at: u64, tick: Tick) {
        let me: Weak<Shared> = self.me.clone();
        self.env.timers.schedule(at, move |due| {
            if let Some(shared) = me.upgrade() {
                shared.tick(tick, due);
            }
        });
    }

    /// One alarm look (or metrics tick), then the next one a period later.
    fn tick(&self, tick: Tick, due: Due) {
        match tick {
            #[cfg(feature = "metrics")]
            Tick::Metrics => {
                self.publish_metrics();
                self.schedule_metrics(due.at);
            }
            Tick::Look => {
                // Look as of the tick the look was due, not as of when the driver got to it:
                // a ManualClock advance of several periods fires every look in order, and
                // each must see the fuses (and stamp `since`) at its own time.
                {
                    let map = self.fuses.pin();
                    let fuses = map
                        .iter()
                        .map(|(name, core)| (name.clone(), core.refusing_at(due.at)));
                    self.monitor.look(due.at, fuses, &self.bus);
                }
                self.schedule_look(due.at);
            }
        }
    }

    #[cfg(feature = "metrics")]
    pub(super) fn publish_metrics(&self) {
        // `peek`, not `snapshot`: a tick must not apply due heal steps (a
        // ManualClock runs it late, and the steps' own timers come in order).
        let fuses: Vec<crate::fuse::FuseSnapshot> =
            self.fuse_cores().iter().filter_map(|c| c.peek()).collect();
        let pipelines: Vec<crate::pipeline::PipelineSnapshot> = self
            .pipelines
            .cores()
            .iter()
            .map(|p| p.snapshot())
            .collect();
        let keyed: Vec<crate::keyed_snapshot::KeyedSnapshot> = self
            .keyed
            .all()
            .iter()
            .map(|f| f.snapshot(crate::keyed_snapshot::TOP_KEYS))
            .collect();
        self.exporter.publish(
            &fuses,
            &self.valve_cores(),
            &self.monitor.alarms(),
            &pipelines,
            &keyed,
        );
    }
}
