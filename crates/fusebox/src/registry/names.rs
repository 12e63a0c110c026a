//! What a name may be: not empty, at most [`MAX_NAME_LEN`] bytes, no control
//! characters (names go into metrics labels, logs and URLs).

use crate::error::ConfigError;

/// The longest name a fuse or valve may have, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Checks a name against the rules; the error names the rule broken.
pub(crate) fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::new("name", name, "must not be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ConfigError::new(
            "name",
            format_args!("{}…", &name[..name.floor_char_boundary_compat(32)]),
            "must be at most 256 bytes",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "name",
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
