//! The pipelines built with a Fusebox: named, listed in its snapshot and
//! metrics, and sending events on its bus; held weakly (they are their
//! callers'), but for those it built itself from a config file, which it
//! keeps and hands out by name.

use super::{check_name, Fusebox};
use crate::error::ConfigError;
use crate::pipeline::{Home, Pipeline, PipelineBuilder, PipelineSnapshot};

impl Fusebox {
    /// Every live pipeline built with this Fusebox
    /// ([`PipelineBuilder::fusebox`]), sorted by name.
    ///
    /// ```
    /// use fusebox::Fusebox;
    /// use fusebox::pipeline::Pipeline;
    ///
    /// let fb = Fusebox::new();
    /// let p = Pipeline::builder("db").fusebox(&fb).build()?;
    /// assert_eq!(&*fb.pipelines()[0].name, "db");
    /// drop(p);                                   // its last clone
    /// assert!(fb.pipelines().is_empty());
    /// # Ok::<(), fusebox::ConfigError>(())
    /// ```
    pub fn pipelines(&self) -> Vec<PipelineSnapshot> {
        self.shared
            .pipelines
            .cores()
            .iter()
            .map(|c| c.snapshot())
            .collect()
    }

    /// The pipeline this Fusebox built from a config file under `name`
    /// ([`load_config`](Self::load_config), feature `toml`), a clone
    /// sharing its counters and budget. Pipelines you build yourself are
    /// yours to hand around: they are in [`pipelines`](Self::pipelines)
    /// but not here.
    ///
    /// A Fusebox keeps the pipelines it built (it is their only owner),
    /// so they stay in its snapshot and metrics for its lifetime, or until
    /// a later load replaces one under the same name.
    ///
    /// ```
    /// use fusebox::{Fusebox, ManualClock};
    ///
    /// let fb = Fusebox::builder().clock(ManualClock::new()).build();
    /// # #[cfg(feature = "toml")] {
    /// fb.load_config_str("[pipelines.db]\nretry = { attempts = 3 }\n")?;
    /// let db = fb.pipeline("db").unwrap();
    /// let mut calls = 0;
    /// let r = db.call_blocking(|| { calls += 1; if calls < 3 { Err("flaky") } else { Ok(calls) } });
    /// assert_eq!(r, Ok(3));
    /// drop(db);
    /// assert_eq!(fb.pipelines()[0].stats.retries, 2);  // still kept, counters and all
    /// # }
    /// assert!(fb.pipeline("nope").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pipeline(&self, name: &str) -> Option<Pipeline> {
        self.shared.pipelines.kept(name)
    }

    /// Builds `builder` with this Fusebox and keeps it (see
    /// [`pipeline`](Self::pipeline)).
    #[cfg_attr(not(feature = "toml"), allow(dead_code))]
    pub(crate) fn keep_pipeline(&self, builder: PipelineBuilder) -> Result<(), ConfigError> {
        let mut builder = builder.fusebox(self);
        if let Some(Ok(home)) = &mut builder.home {
            home.keep = true;
        }
        builder.build().map(drop)
    }
}

impl<F> PipelineBuilder<F> {
    /// Belongs to `fusebox`: reads its clock (unless
    /// [`clock`](Self::clock) says otherwise), sends its events on its bus,
    /// and appears in its [`Snapshot`](crate::Snapshot) and metrics for as
    /// long as the pipeline (a clone of it) lives. The name must then be a
    /// valid name (as a fuse's: it is a metric label), and
    /// [`build`](Self::build) refuses one a live pipeline of that Fusebox
    /// already has.
    pub fn fusebox(mut self, fusebox: &Fusebox) -> Self {
        let shared = &fusebox.shared;
        self.home = Some(
            check_name(&self.name)
                .map_err(ConfigError::for_pipeline)
                .map(|()| Home {
                    timebase: shared.env.timebase.clone(),
                    bus: shared.bus.clone(),
                    list: shared.pipelines.clone(),
                    keep: false,
                }),
        );
        self
    }
}
