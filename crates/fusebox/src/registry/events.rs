//! What a Fusebox tells its observers: event subscriptions, alarms, and the
//! aggregate snapshot of everything it holds.

use std::time::Duration;

use super::builder::DEFAULT_EVENT_CAPACITY;
use super::Fusebox;
use crate::catalog;
use crate::event::{Alarm, CallbackSubscriber, Event, RecvError, Subscription};
use crate::fuse::FuseSnapshot;
use crate::keyed_snapshot::KeyedSnapshot;
use crate::pipeline::PipelineSnapshot;
use crate::valve::ValveSnapshot;

/// Every fuse and alarm of a Fusebox.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Snapshot {
    /// The time of the snapshot, on the Fusebox's clock.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde_duration"))]
    pub at: Duration,
    /// Every fuse, sorted by name.
    pub fuses: Vec<FuseSnapshot>,
    /// Every valve, sorted by name.
    pub valves: Vec<ValveSnapshot>,
    /// Active alarms, sorted by name.
    pub alarms: Vec<Alarm>,
    /// The live pipelines built with this Fusebox, sorted by name (absent
    /// from snapshots serialized before pipelines existed).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pipelines: Vec<PipelineSnapshot>,
    /// The live keyed families built with this Fusebox, sorted by name,
    /// each with at most [`TOP_KEYS`](crate::keyed::TOP_KEYS) top keys
    /// (absent from snapshots serialized before families were listed).
    #[cfg_attr(feature = "serde", serde(default))]
    pub keyed: Vec<KeyedSnapshot>,
}

impl Snapshot {
    /// Every metric sample of this snapshot, in the order of the metric
    /// catalog ([`catalog::ALL`]): what the admin's `/metrics` renders and
    /// the `metrics` feature publishes.
    pub fn samples(&self) -> Vec<catalog::Sample<'_>> {
        let mut out = catalog::samples_of(&self.fuses, &self.valves, &self.alarms);
        out.extend(catalog::pipeline_samples(&self.pipelines));
        out.extend(catalog::keyed_samples(&self.keyed));
        out
    }
}

impl Fusebox {
    /// Every fuse and valve (sorted by name), every active alarm, and the
    /// live pipelines and keyed families built with this Fusebox.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            at: self.now(),
            fuses: self.fuses(),
            valves: self.valves(),
            alarms: self.alarms(),
            pipelines: self.pipelines(),
            keyed: self.keyed(),
        }
    }

    /// Publishes every fuse's and valve's statistics to the `metrics`
    /// facade now (the Fusebox also does so every
    /// [`metrics_interval`](crate::registry::FuseboxBuilder::metrics_interval)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// let fb = Fusebox::new();
    /// fb.install("db", FuseConfig::standard(1, Duration::from_secs(10))).unwrap();
    /// fb.publish_metrics();   // to whatever recorder the application installed, if any
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn publish_metrics(&self) {
        self.shared.publish_metrics();
    }

    /// The active alarms, sorted by name.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.shared.monitor.alarms()
    }

    /// A new subscriber to every event, buffering up to
    /// [`DEFAULT_EVENT_CAPACITY`] events.
    ///
    /// The buffer grows only as events wait in it, and dropping the
    /// [`Subscription`] leaves the bus at once: an idle or departed
    /// subscriber costs the publishers (the melting callers) nothing.
    pub fn subscribe(&self) -> Subscription {
        self.subscribe_with_capacity(DEFAULT_EVENT_CAPACITY)
    }

    /// A new subscriber buffering up to `capacity` events (at least 1),
    /// allocated on demand.
    pub fn subscribe_with_capacity(&self, capacity: usize) -> Subscription {
        self.shared.bus.subscribe(capacity)
    }

    /// Calls `f` with every event (or lag notice) on a thread of its own. A
    /// panic in `f` drops this subscriber and touches nothing else.
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fusebox::{FuseConfig, Fusebox};
    /// let fb = Fusebox::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let _sub = fb.subscribe_fn(move |e| { let _ = tx.send(e); }).unwrap();
    /// fb.install("db", FuseConfig::standard(0, Duration::from_secs(1))).unwrap();
    /// let first = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    /// assert_eq!(&*first.name, "db");
    /// ```
    pub fn subscribe_fn<F>(&self, f: F) -> std::io::Result<CallbackSubscriber>
    where
        F: FnMut(Result<Event, RecvError>) + Send + 'static,
    {
        CallbackSubscriber::spawn(self.subscribe(), f)
    }
}
