//! The pipelines built with a Fusebox: named, held weakly, listed in its
//! snapshot and metrics, and sending events on its bus.

use std::sync::{Arc, Weak};

use super::Fusebox;
use crate::error::ConfigError;
use crate::event::Bus;
use crate::pipeline::{Core, PipelineSnapshot};
use crate::sync;

impl Fusebox {
    /// Every live pipeline built with this Fusebox
    /// ([`PipelineBuilder::fusebox`](crate::pipeline::PipelineBuilder::fusebox)),
    /// sorted by name.
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
            .pipeline_cores()
            .iter()
            .map(|c| c.snapshot())
            .collect()
    }

    /// The bus a pipeline's events go to.
    pub(crate) fn bus(&self) -> Arc<Bus> {
        self.shared.bus.clone()
    }

    /// Lists `core` under its name, unless a live pipeline has it.
    pub(crate) fn register_pipeline(&self, core: &Arc<Core>) -> Result<(), ConfigError> {
        let mut map = sync::lock(&self.shared.pipelines);
        if map.get(&core.name).is_some_and(|w| w.strong_count() > 0) {
            return Err(ConfigError::pipeline(
                "name",
                &*core.name,
                "is the name of a live pipeline of this Fusebox",
            ));
        }
        map.insert(core.name.clone(), Arc::downgrade(core) as Weak<Core>);
        Ok(())
    }
}
