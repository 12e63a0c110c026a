//! Durations on the command line, written as in config files: `"1s"`,
//! `"250ms"`, `"1.5s"`, `"2m"`. The core's parser is private to it, and the
//! command line wants only a few units, so this is a small one of its own.

use std::time::Duration;

const UNITS: [(&str, f64); 6] = [
    ("ms", 1e-3),
    ("us", 1e-6),
    ("ns", 1e-9),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

/// Parses `<number><unit>`, unit one of h, m, s, ms, us, ns (the
/// admin API writes durations so).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} has no unit (use h, m, s, ms or us)"))?;
    let (num, unit) = text.split_at(split);
    let scale = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, s)| *s)
        .ok_or_else(|| format!("unknown unit {unit:?} (use h, m, s, ms or us)"))?;
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{num:?} is not a number"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("{text:?} is out of range"))
}

/// Formats a duration for a table: `850ms`, `12.3s`, `4m05s`.
pub(crate) fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
        assert!(parse("10").is_err());
        assert!(parse("s").is_err());
        assert!(parse("1d").is_err());
        assert!(parse("1.2.3s").is_err());
    }

    #[test]
    fn formats_for_tables() {
        assert_eq!(format(Duration::from_millis(850)), "850ms");
        assert_eq!(format(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format(Duration::from_secs(245)), "4m05s");
    }
}
