//! Reading a file from disk, capped: a scenario or the fusebox config it
//! names is at most [`MAX_FILE_SIZE`] bytes of UTF-8, whatever the path
//! turns out to be (a device, a growing log), and a file that cannot be read
//! is an error with no line.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use super::{ScenarioError, MAX_FILE_SIZE};

/// Why a file could not be read.
pub(super) enum Unreadable {
    Io(io::Error),
    TooLarge,
    NotUtf8,
}

impl Unreadable {
    pub(super) fn message(&self) -> String {
        match self {
            Unreadable::Io(e) => format!("cannot read: {e}"),
            Unreadable::TooLarge => format!(
                "cannot read: larger than {} MiB",
                MAX_FILE_SIZE / (1024 * 1024)
            ),
            Unreadable::NotUtf8 => "cannot read: not UTF-8 text".to_owned(),
        }
    }

    pub(super) fn into_source(self) -> Option<io::Error> {
        match self {
            Unreadable::Io(e) => Some(e),
            _ => None,
        }
    }

    /// The error of a scenario file that could not be read: no line.
    pub(super) fn error(self, file: Arc<str>) -> ScenarioError {
        let message = self.message();
        let e = ScenarioError::at((0, 0), String::new(), message);
        match self.into_source() {
            Some(io) => e.with_io(io),
            None => e,
        }
        .in_file(file)
    }
}

/// Reads at most [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE) bytes (a device or a growing file cannot
/// make it read more).
pub(super) fn read_capped(path: &Path) -> Result<String, Unreadable> {
    let file = File::open(path).map_err(Unreadable::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Unreadable::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| Unreadable::NotUtf8)
}
