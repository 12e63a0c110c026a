//! Durations as people write them, `"250ms"`, `"10s"`, `"1.5m"`: the one
//! codec of the configs, the admin API's JSON, the command line and the
//! demo.
//!
//! * [`parse`] reads `<number><unit>`, the unit one of `h`, `m`, `s`, `ms`,
//!   `us`, `ns`, the number with an optional fraction.
//! * [`format()`] writes a duration exactly, in the largest unit that divides
//!   it: `parse(&format(d)) == Ok(d)` for every `d` up to `u64::MAX`
//!   nanoseconds. The admin API writes every duration so.
//! * [`human`] writes it for a person reading a table: three significant
//!   digits, `420µs`, `5.3ms`, `12.3s`, `4m05s`. It rounds; it is not meant
//!   to be parsed back.
//!
//! With the `serde` feature, configs read a bare number as milliseconds
//! (Erlang fuse's unit) besides these strings.
//!
//! ```
//! use std::time::Duration;
//! use fusebox::duration;
//!
//! assert_eq!(duration::parse("250ms")?, Duration::from_millis(250));
//! assert_eq!(duration::format(Duration::from_secs(120)), "2m");
//! assert_eq!(duration::human(Duration::from_micros(5_312)), "5.31ms");
//! assert!(duration::parse("10").is_err()); // no unit
//! # Ok::<(), fusebox::duration::DurationError>(())
//! ```

use std::fmt;
use std::time::Duration;

const UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A duration that [`parse`] could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    message: String,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DurationError {}

fn error(message: String) -> DurationError {
    DurationError { message }
}

/// Parses `"<number><unit>"`, the unit one of h, m, s, ms, us, ns; the
/// number may have a fraction (`"1.5s"`); spaces around the text and before
/// the unit are allowed. The result is rounded to the nanosecond.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(fusebox::duration::parse("1.5s")?, Duration::from_millis(1500));
/// assert_eq!(fusebox::duration::parse(" 2 m ")?, Duration::from_secs(120));
/// # Ok::<(), fusebox::duration::DurationError>(())
/// ```
///
/// # Errors
///
/// No unit, an unknown unit, a number that is not one, a negative duration
/// or one beyond `u64::MAX` nanoseconds; the message says which and quotes
/// the text.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| error(format!("{text:?} has no unit (use h, m, s, ms, us or ns)")))?;
    let (num, unit) = text.split_at(split);
    let size = UNITS
        .iter()
        .find(|(u, _)| *u == unit.trim())
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            error(format!(
                "unknown unit {unit:?} in {text:?} (use h, m, s, ms, us or ns)"
            ))
        })?;
    let value: f64 = num
        .parse()
        .map_err(|_| error(format!("{num:?} is not a number in {text:?}")))?;
    let ns = value * size as f64;
    if !ns.is_finite() || ns < 0.0 || ns > u64::MAX as f64 {
        return Err(error(format!("{text:?} is out of range")));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

/// Formats a duration exactly, with the largest unit that divides it
/// (`"10s"`, `"1500ms"`, `"0s"`); [`parse`] reads it back.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(fusebox::duration::format(Duration::from_millis(1500)), "1500ms");
/// ```
pub fn format(d: Duration) -> String {
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

/// Formats a duration for people: three significant digits, trailing zeros
/// dropped (`"850ms"`, `"5.3ms"`, `"420µs"`, `"12.3s"`, `"1s"`, `"0s"`); whole
/// minutes and seconds from a minute on (`"4m05s"`), hours and minutes from
/// an hour on (`"2h03m"`). Rounds; see [`format()`] for the exact form.
///
/// ```
/// use std::time::Duration;
/// use fusebox::duration::human;
///
/// assert_eq!(human(Duration::from_micros(420)), "420µs");
/// assert_eq!(human(Duration::from_millis(12_340)), "12.3s");
/// assert_eq!(human(Duration::from_secs(245)), "4m05s");
/// assert_eq!(human(Duration::from_nanos(999_999)), "1ms");
/// ```
pub fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns >= 3_600_000_000_000 {
        let m = d.as_secs() / 60;
        return format!("{}h{:02}m", m / 60, m % 60);
    }
    if ns >= 60_000_000_000 {
        let s = d.as_secs();
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    // From µs to s: three significant digits, moving up a unit when the
    // rounding reaches 1000 of this one.
    let mut v = ns as f64 / 1e3;
    for unit in ["µs", "ms", "s"] {
        let text = significant(v);
        if text.parse::<f64>().is_ok_and(|r| r < 1000.0) {
            if unit == "s" && text.parse::<f64>().is_ok_and(|r| r >= 60.0) {
                return "1m00s".to_owned();
            }
            return format!("{text}{unit}");
        }
        v /= 1e3;
    }
    unreachable!("below a minute, seconds have at most two integer digits")
}

/// Three significant digits of `v` (at least 1), trailing zeros dropped.
fn significant(v: f64) -> String {
    let decimals = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for d in [
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::from_millis(250),
            Duration::from_micros(1500),
            Duration::from_nanos(7),
            Duration::from_secs(3600),
            Duration::from_secs(120),
            Duration::from_nanos(u64::MAX),
        ] {
            assert_eq!(parse(&format(d)).unwrap(), d, "{}", format(d));
        }
        assert_eq!(format(Duration::from_secs(120)), "2m");
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["10", "s", "10parsecs", "-1s", "1d", "1.2.3s", ""] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("1d").unwrap_err().to_string(),
            "unknown unit \"d\" in \"1d\" (use h, m, s, ms, us or ns)"
        );
    }

    #[test]
    fn human_rounds_to_three_digits() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(4_200), "4.2µs"),
            (Duration::from_micros(420), "420µs"),
            (Duration::from_nanos(999_600), "1ms"),
            (Duration::from_micros(5_300), "5.3ms"),
            (Duration::from_micros(12_340), "12.3ms"),
            (Duration::from_millis(850), "850ms"),
            (Duration::from_millis(1_000), "1s"),
            (Duration::from_millis(1_234), "1.23s"),
            (Duration::from_millis(12_340), "12.3s"),
            (Duration::from_millis(59_990), "1m00s"),
            (Duration::from_secs(245), "4m05s"),
            (Duration::from_secs(7_380), "2h03m"),
        ];
        for (d, text) in cases {
            assert_eq!(human(d), text, "{d:?}");
        }
    }

    #[test]
    fn human_never_panics_and_stays_short() {
        let mut ns = 1u64;
        while ns < u64::MAX / 3 {
            for d in [ns - 1, ns, ns + 1] {
                let text = human(Duration::from_nanos(d));
                assert!(
                    text.chars().count() <= 9 || d >= 3_600_000_000_000,
                    "{d}: {text}"
                );
            }
            ns = ns * 3 + 1;
        }
    }
}

/// Serde adapters for durations in this codec's form, for
/// `#[serde(with = "fusebox::duration::serde_duration")]` (and
/// `serde_duration::option` for an `Option<Duration>`): written `"250ms"`,
/// read so or as a bare number of milliseconds.
///
/// ```
/// use std::time::Duration;
///
/// #[derive(serde::Deserialize)]
/// struct Cfg {
///     #[serde(with = "fusebox::duration::serde_duration")]
///     wait: Duration,
/// }
/// let cfg: Cfg = serde_json::from_str(r#"{"wait": "90s"}"#).unwrap();
/// assert_eq!(cfg.wait, Duration::from_secs(90));
/// ```
#[cfg(feature = "serde")]
pub mod serde_duration;
