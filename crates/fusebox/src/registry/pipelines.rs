//! The pipelines built with a Fusebox: named, held weakly, listed in its
//! snapshot and metrics, and sending events on its bus.

use super::{check_name, Fusebox};
use crate::error::ConfigError;
use crate::pipeline::{Home, PipelineBuilder, PipelineSnapshot};

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
                }),
        );
        self
    }
}
