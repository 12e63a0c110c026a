//! Serde for durations in configs and snapshots, through the one codec,
//! [`crate::duration`]: written `"250ms"`, `"10s"`, `"1m"` (the largest unit
//! that is exact), read so or as a bare number of milliseconds (Erlang
//! fuse's unit).

use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

use super::{format, parse};

/// Writes `d` in the codec's form (`"250ms"`).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

/// Reads a duration string, or a bare number of milliseconds.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration such as \"250ms\" or \"10s\", or a number of milliseconds")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_millis(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_millis)
                .map_err(|_| E::custom(format!("{v} ms is negative")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            if v.is_finite() && v >= 0.0 {
                Ok(Duration::from_nanos((v * 1e6).round() as u64))
            } else {
                Err(E::custom(format!("{v} ms is not a valid duration")))
            }
        }
    }
    d.deserialize_any(V)
}

/// The same for `Option<Duration>`.
pub mod option {
    use super::*;

    /// Writes `Some(d)` as [`serialize`](super::serialize) does, `None` as null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Reads null as `None`, anything else as [`deserialize`](super::deserialize) does.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        /// A duration in the codec's form, so that `null` reads as `None`.
        #[derive(serde::Deserialize)]
        struct Coded(#[serde(deserialize_with = "super::deserialize")] Duration);
        let coded: Option<Coded> = serde::Deserialize::deserialize(d)?;
        Ok(coded.map(|Coded(d)| d))
    }
}
