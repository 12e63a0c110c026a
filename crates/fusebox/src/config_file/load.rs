//! Installing a config file into a Fusebox: every fuse, then every valve,
//! then every pipeline, each error placed at its declaration in the file.

use std::path::Path as FsPath;

use super::{ConfigFile, ConfigFileError};
use crate::registry::Fusebox;

#[cfg_attr(docsrs, doc(cfg(feature = "toml")))]
impl Fusebox {
    /// Installs every fuse of `config`, then every valve (a valve's guard
    /// must be installed first), each as [`install`](Self::install) and
    /// [`install_valve`](Self::install_valve) would: a fuse already
    /// installed under a name is reconfigured and reset (and stays
    /// disabled if it was), a valve is reconfigured live. Fuses and valves
    /// the file does not name are left alone.
    ///
    /// Then it builds every pipeline, with this Fusebox
    /// ([`PipelineBuilder::fusebox`](crate::pipeline::PipelineBuilder::fusebox):
    /// its clock, its bus, its snapshot), on the fuse and valve it names
    /// (of the file, or installed before), and **keeps** it: unlike a
    /// pipeline you build, which leaves the Fusebox with its last clone,
    /// one built from a file lives as long as the Fusebox, and
    /// [`pipeline`](Self::pipeline) hands out clones of it. Loading a file
    /// again replaces it under its name (clones of the old one keep their
    /// policies, but leave the snapshot). Its timer is the Fusebox's clock
    /// if that is a [`ManualClock`](crate::ManualClock) (time moves when a
    /// test says), else tokio's with the `tokio` feature; without either,
    /// a pipeline that waits (a hedge, a timeout, a backoff) is refused
    /// with the builder's `timer` error. A name held by a live pipeline you
    /// built is refused too.
    ///
    /// The config was validated when parsed, so this fails only if the
    /// registry refuses what the file checks could not foresee; what was
    /// installed before the failure stays installed.
    ///
    /// ```
    /// use fusebox::{ConfigFile, Fusebox};
    ///
    /// let file = ConfigFile::parse(r#"
    ///     [fuses.db]
    ///     strategy = { kind = "standard", max_melts = 0, window = "1s" }
    ///     heal = { steps = ["barrier"] }
    /// "#)?;
    /// let fb = Fusebox::new();
    /// fb.load_config(&file)?;
    /// fb.melt("db")?;
    /// assert!(!fb.ask("db")?.is_ok());    // blown until an operator unlocks it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_config(&self, config: &ConfigFile) -> Result<(), ConfigFileError> {
        for (name, cfg) in &config.fuses {
            self.install(name, cfg.clone())
                .map_err(|e| config.install_error("fuses", name, e))?;
        }
        for (name, cfg) in &config.valves {
            self.install_valve(name, cfg.clone())
                .map_err(|e| config.install_error("valves", name, e))?;
        }
        for (name, spec) in &config.pipelines {
            let err = |e| config.install_error("pipelines", name, e);
            let mut b = spec.builder(name).map_err(err)?;
            if let Some(f) = &spec.fuse {
                let fuse = self
                    .fuse(f)
                    .ok_or_else(|| config.missing(name, "fuse", f))?;
                b = b.fuse(fuse);
            }
            if let Some(v) = &spec.valve {
                let valve = self
                    .valve(v)
                    .ok_or_else(|| config.missing(name, "valve", v))?;
                b = b.valve(valve);
            }
            self.keep_pipeline(b).map_err(err)?;
        }
        Ok(())
    }

    /// Parses `text` as a [`ConfigFile`] and [loads](Self::load_config) it;
    /// nothing is installed if the text has an error.
    ///
    /// ```
    /// use fusebox::Fusebox;
    ///
    /// let fb = Fusebox::new();
    /// fb.load_config_str("[valves.api]\nconcurrency = 4\nqueue = 16\n")?;
    /// assert_eq!(fb.valves()[0].queue, 16);
    /// # Ok::<(), fusebox::config_file::ConfigFileError>(())
    /// ```
    pub fn load_config_str(&self, text: &str) -> Result<(), ConfigFileError> {
        self.load_config(&ConfigFile::parse(text)?)
    }

    /// A new Fusebox (on the monotonic clock) with the fuses and valves of
    /// the file at `path`. For another clock or alarm settings, build the
    /// Fusebox with [`Fusebox::builder`] and call
    /// [`load_config`](Self::load_config).
    ///
    /// ```no_run
    /// let fb = fusebox::Fusebox::from_config_file("fusebox.toml")?;
    /// # Ok::<(), fusebox::config_file::ConfigFileError>(())
    /// ```
    pub fn from_config_file(path: impl AsRef<FsPath>) -> Result<Fusebox, ConfigFileError> {
        let file = ConfigFile::read(path)?;
        let fb = Fusebox::new();
        fb.load_config(&file)?;
        Ok(fb)
    }
}
