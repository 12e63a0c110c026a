//! Reading one `[fuses.NAME]` or `[valves.NAME]` entry: its name, its shape
//! (serde, on its own subtree, so one bad entry hides no other) and its rules
//! (the validators', placed at the key they name or the closest that exists).

use std::collections::BTreeSet;

use serde::Deserialize;
use toml::de::ValueDeserializer;

use super::error::{ConfigFileError, Kind};
use super::lines::LineIndex;
use super::locate::{Locator, Seg, Spot};
use crate::error::ConfigError;
use crate::fuse::FuseConfig;
use crate::valve::ValveConfig;

pub(super) fn sorted(mut errors: Vec<ConfigFileError>) -> Vec<ConfigFileError> {
    errors.sort_by_key(ConfigFileError::position);
    errors
}

pub(super) fn entry_name(entry: &Locator<'_, '_>) -> String {
    match entry.path.0.last() {
        Some(Seg::Key(k)) => k.clone(),
        _ => String::new(),
    }
}

pub(super) fn read_fuse(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, '_>,
) -> Result<FuseConfig, ConfigFileError> {
    check_name(lines, entry)?;
    let cfg = deserialize::<FuseConfig>(lines, entry)?;
    cfg.validate().map_err(|e| {
        let field = segments(&e);
        rule_error(lines, entry, &field, e)
    })?;
    Ok(cfg)
}

pub(super) fn read_valve(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, '_>,
    fuses: &BTreeSet<String>,
) -> Result<ValveConfig, ConfigFileError> {
    check_name(lines, entry)?;
    let cfg = deserialize::<ValveConfig>(lines, entry)?;
    cfg.validate().map_err(|e| {
        let field = segments(&e);
        rule_error(lines, entry, &field, e)
    })?;
    if let Some(guard) = &cfg.guard {
        if !fuses.contains(guard) {
            let spot = entry.follow(&[Seg::Key("guard".into())]);
            return Err(ConfigFileError::new(
                lines.position(spot.span.start),
                entry.path.clone().key("guard").to_string(),
                format!("names no fuse declared in this file ({guard:?})"),
                Kind::Rule(None),
            ));
        }
    }
    Ok(cfg)
}

/// Deserializes one fuse or valve from its subtree, so that an error in one
/// does not hide the errors of the others.
pub(super) fn deserialize<'de, T: Deserialize<'de>>(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, 'de>,
) -> Result<T, ConfigFileError> {
    T::deserialize(ValueDeserializer::from(entry.value.clone())).map_err(|e| {
        let spot = match e.span() {
            Some(span) => entry.at_span(span, e.message()),
            None => entry.entry(),
        };
        error_at(lines, spot, e.message(), Kind::Shape)
    })
}

pub(super) fn error_at(
    lines: &LineIndex<'_>,
    spot: Spot,
    message: &str,
    kind: Kind,
) -> ConfigFileError {
    ConfigFileError::new(
        lines.position(spot.span.start),
        spot.path.to_string(),
        message,
        kind,
    )
}

/// A rule broken: the field is the one the rule names (whether or not the
/// file spells it out), the position that of the closest key that exists.
pub(super) fn rule_error(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, '_>,
    field: &[Seg],
    err: ConfigError,
) -> ConfigFileError {
    let spot = entry.follow(field);
    let mut path = entry.path.clone();
    path.0.extend(field.iter().cloned());
    ConfigFileError::new(
        lines.position(spot.span.start),
        path.to_string(),
        err.rule(),
        Kind::Rule(Some(err)),
    )
}

/// The keys a [`ConfigError`]'s path designates: the validators name the
/// fields as the file spells them, so this is a plain conversion.
pub(super) fn segments(err: &ConfigError) -> Vec<Seg> {
    super::locate::segments(err.path())
}

/// The registry's name rules ([`Fusebox::install`] checks them again), so
/// that a bad name is reported with its line like everything else.
pub(super) fn check_name(
    lines: &LineIndex<'_>,
    entry: &Locator<'_, '_>,
) -> Result<(), ConfigFileError> {
    let Err(err) = crate::registry::check_name(&entry_name(entry)) else {
        return Ok(());
    };
    let problem = format!("a name {}", err.rule());
    Err(ConfigFileError::new(
        lines.position(entry.key_span.start),
        entry.path.to_string(),
        problem,
        Kind::Rule(None),
    ))
}
