//! One traced event as the operator reads it: time, level, target, span
//! path, message and fields, formatted on the emitting thread (the event's
//! values live only as long as the `tracing` call) into a line of bounded
//! size.
//!
//! Why bounded here: the buffer between the service and a slow client holds
//! lines, and a field's `Debug` can be as large as the user's data. Each
//! value is cut at [`MAX_VALUE`] bytes and a whole line's message and fields
//! at [`MAX_LINE`], so the buffer's memory is bounded by its length times
//! that. A cut value ends with `…`. The writer stops a `Debug` impl as soon
//! as the budget is spent (it answers `fmt::Error`), so a huge value costs
//! no more than its first bytes.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tracing_core::field::{Field, Visit};
use tracing_core::Level;

/// The most bytes of one field value (or the message) kept.
pub(crate) const MAX_VALUE: usize = 1024;
/// The most bytes of message and field values kept for one event.
pub(crate) const MAX_LINE: usize = 8 * 1024;

/// What the `trace` server-sent events carry, as JSON.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TraceLine {
    /// 1 for the first event sent, 2 for the next, ...
    pub(crate) seq: u64,
    /// Wall-clock time of the event, RFC 3339 UTC with milliseconds.
    pub(crate) time: String,
    pub(crate) level: &'static str,
    pub(crate) target: &'static str,
    /// Enclosing spans, outermost first.
    pub(crate) spans: Vec<&'static str>,
    pub(crate) message: String,
    /// The other fields in the order of the call, values printed.
    pub(crate) fields: Vec<(&'static str, String)>,
}

pub(crate) fn level_str(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        _ => "TRACE",
    }
}

/// An event's fields, printed within the budget.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) message: String,
    pub(crate) fields: Vec<(&'static str, String)>,
    left: usize,
}

impl Fields {
    pub(crate) fn new() -> Self {
        Fields {
            left: MAX_LINE,
            ..Fields::default()
        }
    }

    /// The printed value of `name` (`message` included).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        if name == "message" {
            return Some(&self.message);
        }
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn put(&mut self, field: &Field, value: impl FnOnce(&mut Capped<'_>) -> fmt::Result) {
        let mut text = String::new();
        let mut w = Capped {
            out: &mut text,
            left: self.left.min(MAX_VALUE),
            cut: false,
        };
        // An error is the budget spent (or a Debug impl that failed): keep
        // what was written.
        let _ = value(&mut w);
        if w.cut {
            text.push('…');
        }
        self.left = self.left.saturating_sub(text.len());
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.push((field.name(), text));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |w| w.write_str(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |w| write!(w, "{value:?}"));
    }
}

/// A writer that keeps at most `left` bytes, cut at a char boundary.
struct Capped<'a> {
    out: &'a mut String,
    left: usize,
    cut: bool,
}

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.out.push_str(s);
            self.left -= s.len();
            return Ok(());
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.left = 0;
        self.cut = true;
        Err(fmt::Error)
    }
}

/// `now` as RFC 3339 UTC with milliseconds: `2026-12-01T14:20:00.123Z`.
pub(crate) fn rfc3339(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01: count 400-year
/// eras of 146 097 days from 0000-03-01, so that the leap day ends a year.
fn civil(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01 (719 468 days before the epoch).
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    // Years of the era: 365 days each, less the leap days.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March, of 31,30,31,30,31 | 31,30,31,30,31 | 31,28/29 days:
    // (153 m + 2) / 5 days before month m.
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_against_known_days() {
        let at = |secs: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(951_868_800), "2000-03-01T00:00:00.000Z");
        assert_eq!(at(1_709_164_800), "2024-02-29T00:00:00.000Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59.000Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_796_135_696_789)),
            "2026-12-01T14:34:56.789Z"
        );
    }

    #[test]
    fn every_day_follows_the_one_before() {
        // Against a naive day-by-day calendar over 1970..2400.
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..157_000 {
            assert_eq!(civil(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn the_writer_cuts_at_a_char_boundary_and_stops() {
        let mut out = String::new();
        let mut w = Capped {
            out: &mut out,
            left: 4,
            cut: false,
        };
        assert!(w.write_str("ab").is_ok());
        assert!(w.write_str("éé").is_err()); // 4 bytes, 2 left: one é fits
        assert!(w.cut);
        assert_eq!(out, "abé");
    }
}
