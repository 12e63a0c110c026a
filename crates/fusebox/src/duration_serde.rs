//! Durations in configs and snapshots, written the way people write them:
//! `"250ms"`, `"10s"`, `"1m"`. A bare number is milliseconds (Erlang fuse's
//! unit). Serialization picks the largest unit that is exact.

use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

const UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Formats a duration with the largest unit that divides it exactly.
pub(crate) fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in UNITS {
        if ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    unreachable!("the ns unit divides everything")
}

/// Parses `"<number><unit>"` with unit one of h, m, s, ms, us, ns; the number
/// may have a fraction (`"1.5s"`).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} has no unit (use h, m, s, ms, us or ns)"))?;
    let (num, unit) = text.split_at(split);
    let size = UNITS
        .iter()
        .find(|(u, _)| *u == unit.trim())
        .map(|(_, s)| *s)
        .ok_or_else(|| format!("unknown unit {unit:?} in {text:?} (use h, m, s, ms, us or ns)"))?;
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{num:?} is not a number in {text:?}"))?;
    let ns = value * size as f64;
    if !ns.is_finite() || ns < 0.0 || ns > u64::MAX as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for d in [
            Duration::from_secs(10),
            Duration::from_millis(250),
            Duration::from_micros(1500),
            Duration::from_nanos(7),
            Duration::from_secs(3600),
            Duration::from_secs(120),
        ] {
            assert_eq!(parse(&format(d)).unwrap(), d, "{}", format(d));
        }
        assert_eq!(format(Duration::from_secs(120)), "2m");
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse("10").is_err());
        assert!(parse("10parsecs").is_err());
        assert!(parse("-1s").is_err());
    }
}
