//! Durations as people write them, `"250ms"`, `"10s"`, `"1.5m"`: the one
//! codec of the configs, the admin API's JSON, the command line and the
//! demo.
//!
//! * [`parse`] reads `<number><unit>`, the unit one of `h`, `m`, `s`, `ms`,
//!   `us`, `ns`, the number with an optional fraction. The decimal is read
//!   exactly, in integers, never through a float (whose 53 bits lose
//!   nanoseconds past 2^53 ns, about 104 days), and rounded to the
//!   nanosecond, half up.
//! * [`format()`] writes a duration exactly, in the largest unit that divides
//!   it: `parse(&format(d)) == Ok(d)` for every `d` a `Duration` holds, up to
//!   [`Duration::MAX`]. The admin API writes every duration so.
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
/// number may have a fraction (`"1.5s"`, `".5s"`, `"1.s"`), of any length;
/// spaces around the text and before the unit are allowed. The decimal is
/// read exactly and rounded to the nanosecond, half up (`"0.5ns"` is 1 ns,
/// `"0.4999ns"` is 0).
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
/// or one beyond [`Duration::MAX`]; the message says which and quotes the
/// text.
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
    let not_a_number = || error(format!("{num:?} is not a number in {text:?}"));
    let (whole, fraction) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(not_a_number());
    }
    let out_of_range = || error(format!("{text:?} is out of range"));
    // The whole part, in the unit, then in nanoseconds: u128 holds
    // Duration::MAX's 1.8e28 ns with room to spare, and `checked_*` refuses
    // anything past it before it can wrap.
    let mut ns: u128 = 0;
    for d in whole.bytes() {
        ns = ns
            .checked_mul(10)
            .and_then(|n| n.checked_add(u128::from(d - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let ns = ns
        .checked_mul(size)
        .and_then(|n| n.checked_add(fraction_ns(fraction, size)))
        .ok_or_else(out_of_range)?;
    if ns > Duration::MAX.as_nanos() {
        return Err(out_of_range());
    }
    let secs = u64::try_from(ns / 1_000_000_000).map_err(|_| out_of_range())?;
    Ok(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

/// `0.<digits>` of a unit of `size` nanoseconds, in whole nanoseconds,
/// rounded half up, exactly.
///
/// Schoolbook multiplication of the decimal by `size`, from its last digit
/// to its first: each step keeps one digit of the product's fraction and
/// carries the rest. The carry left at the end is the whole nanoseconds;
/// the last digit kept is the first of the fraction of a nanosecond, so
/// "half or more" is that digit being 5 or more. The carry stays below
/// `size` (at most 3.6e12), so no digit count can overflow it.
fn fraction_ns(digits: &str, size: u128) -> u128 {
    let mut carry: u128 = 0;
    let mut first = 0;
    for d in digits.bytes().rev() {
        let t = u128::from(d - b'0') * size + carry;
        first = t % 10;
        carry = t / 10;
    }
    carry + u128::from(first >= 5)
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
    fn past_2_to_the_53_nanoseconds_nothing_is_lost() {
        // A float's 53 bits lost these: 2^53 + 1 ns read back as 2^53 ns.
        for ns in [(1u64 << 53) + 1, (1 << 60) + 7, u64::MAX - 1] {
            let d = Duration::from_nanos(ns);
            assert_eq!(parse(&format(d)).unwrap(), d, "{}", format(d));
        }
        assert_eq!(format(Duration::MAX), "18446744073709551615999999999ns");
        assert_eq!(parse(&format(Duration::MAX)).unwrap(), Duration::MAX);
        // One nanosecond past the largest Duration, in every unit's way.
        for text in [
            "18446744073709551616000000000ns",
            "18446744073709551616s",
            "5124095576030431.1h",
            "99999999999999999999999999999999999999999h",
        ] {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                format!("{text:?} is out of range")
            );
        }
        assert_eq!(parse("0.5ns").unwrap(), Duration::from_nanos(1));
        assert_eq!(
            parse("0.4999999999999999999999999ns").unwrap(),
            Duration::ZERO
        );
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1.s").unwrap(), Duration::from_secs(1));
        for bad in [".s", "..5s", "1..s"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Any Duration: any seconds (to u64::MAX) and nanoseconds, whole
        /// nanoseconds (to u64::MAX), and round numbers of each unit, so
        /// that every unit `format` writes is drawn.
        fn any_duration() -> impl Strategy<Value = Duration> {
            prop_oneof![
                (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
                any::<u64>().prop_map(Duration::from_nanos),
                (0usize..5, any::<u64>()).prop_map(|(u, n)| {
                    let ns = u128::from(n) * UNITS[u].1;
                    let secs = (ns / 1_000_000_000).min(u128::from(u64::MAX)) as u64;
                    Duration::new(secs, (ns % 1_000_000_000) as u32)
                }),
                Just(Duration::MAX),
                Just(Duration::ZERO),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// The codec's promise: what `format` writes, `parse` reads
            /// back to the nanosecond, over every Duration.
            #[test]
            fn parse_reads_back_what_format_writes(d in any_duration()) {
                prop_assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
            }

            /// A decimal with a fraction is the nearest nanosecond, half
            /// up, against a second way to compute it (one division of the
            /// whole product, in u128: fractions up to 25 digits).
            #[test]
            fn a_fraction_is_rounded_to_the_nearest_nanosecond(
                whole in prop_oneof![0u64..1_000, any::<u32>().prop_map(u64::from)],
                fraction in "[0-9]{0,25}",
                unit in 0usize..6,
            ) {
                let (name, size) = UNITS[unit];
                let text = format!("{whole}.{fraction}{name}");
                let k = fraction.len() as u32;
                let f: u128 = if fraction.is_empty() { 0 } else { fraction.parse().unwrap() };
                let product = f * size;
                let scale = 10u128.pow(k);
                let rounded = product / scale + u128::from(2 * (product % scale) >= scale);
                let ns = u128::from(whole) * size + rounded;
                let want = Duration::new((ns / 1_000_000_000) as u64, (ns % 1_000_000_000) as u32);
                prop_assert_eq!(parse(&text), Ok(want), "{}", text);
            }
        }
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
