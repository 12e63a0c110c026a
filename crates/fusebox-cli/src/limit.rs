//! Every read this command makes has a ceiling.
//!
//! An operator's tool is pointed at whatever answers on a port or sits at a
//! path, and at 3 a.m. that is not always a fusebox admin server or a config
//! file: a proxy's error page that never ends, a misrouted download,
//! `/dev/zero`. Read whole without a limit, any of them grows the process
//! until the kernel kills it (an endless 200 body reached 3.9 GB in 10 s).
//! So every body, every event of a stream and every file is read into a
//! [`Capped`] buffer, which refuses the byte past its limit instead of
//! allocating for it; the command then fails saying which limit, and which
//! flag raises it. The limits are generous (an admin answer of a thousand
//! fuses is well under a megabyte), so they only ever stop the pathological.
//!
//! What hyper reads before the body (the status line and headers) is bounded
//! by hyper itself.

use std::fmt;
use std::io::{self, Read};

/// The default `--max-body`: the largest HTTP answer, or event of a stream.
pub(crate) const DEFAULT_MAX_BODY: ByteSize = ByteSize(16 << 20);

/// The default `--max-size` of `check`: the largest config file.
pub(crate) const DEFAULT_MAX_FILE: ByteSize = ByteSize(64 << 20);

/// A size in bytes, as given on the command line: `16MiB`, `512KiB`, `1G`,
/// `4096`. Suffixes are powers of 1024.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSize(u64);

impl ByteSize {
    /// The size in bytes, as a `usize` (a parsed size always fits).
    pub(crate) fn bytes(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// Parses a size; the empty string is `default` (so an empty
    /// environment variable means "not set", as for `FUSEBOX_URL`).
    pub(crate) fn parse_or(text: &str, default: ByteSize) -> Result<ByteSize, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(default);
        }
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: expected a number of bytes, such as 16MiB or 4096"))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kib" => 10,
            "m" | "mib" => 20,
            "g" | "gib" => 30,
            "kb" | "mb" | "gb" => {
                return Err(format!(
                    "{text:?}: say KiB, MiB or GiB (sizes here are powers of 1024)"
                ))
            }
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?} (use KiB, MiB, GiB)"
                ))
            }
        };
        let bytes = number
            .checked_mul(1 << shift)
            .filter(|&b| usize::try_from(b).is_ok())
            .ok_or_else(|| format!("{text:?}: too large"))?;
        if bytes == 0 {
            return Err(format!("{text:?}: must be at least one byte"));
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n >= 1 << shift && n % (1 << shift) == 0 {
                return write!(f, "{} {unit}", n >> shift);
            }
        }
        if n == 1 {
            f.write_str("1 byte")
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// `--max-body`'s parser (empty: the default).
pub(crate) fn parse_max_body(text: &str) -> Result<ByteSize, String> {
    ByteSize::parse_or(text, DEFAULT_MAX_BODY)
}

/// `--max-size`'s parser (empty: the default).
pub(crate) fn parse_max_file(text: &str) -> Result<ByteSize, String> {
    ByteSize::parse_or(text, DEFAULT_MAX_FILE)
}

/// More bytes were offered than the limit allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded;

/// A byte buffer that never holds, nor allocates for, more than its limit.
#[derive(Debug)]
pub(crate) struct Capped {
    buf: Vec<u8>,
    limit: usize,
}

impl Capped {
    pub(crate) fn new(limit: usize) -> Self {
        Capped {
            buf: Vec::new(),
            limit,
        }
    }

    /// Appends `bytes`, or refuses them all if they would pass the limit.
    pub(crate) fn extend(&mut self, bytes: &[u8]) -> Result<(), Exceeded> {
        let len = self.buf.len();
        let needed = len.checked_add(bytes.len()).ok_or(Exceeded)?;
        if needed > self.limit {
            return Err(Exceeded);
        }
        if needed > self.buf.capacity() {
            // Doubling, as `Vec` would, but never past the limit: a buffer
            // filled to its limit takes the limit, not twice it.
            let target = needed.max(len.saturating_mul(2)).min(self.limit);
            self.buf.reserve_exact(target - len);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads `reader` to its end, or fails with [`Exceeded`] at the first byte
/// past `limit`: at most `limit + 1` bytes are read, whatever the source
/// (`/dev/zero` included; nothing is asked of its metadata).
pub(crate) fn read_to_limit(
    reader: impl Read,
    limit: usize,
) -> io::Result<Result<Vec<u8>, Exceeded>> {
    let mut reader = reader.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1));
    let mut out = Capped::new(limit);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(Ok(out.into_inner())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.extend(&chunk[..n]).is_err() {
            return Ok(Err(Exceeded));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ByteSize, String> {
        ByteSize::parse_or(text, DEFAULT_MAX_BODY)
    }

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse("4096"), Ok(ByteSize(4096)));
        assert_eq!(parse("10b"), Ok(ByteSize(10)));
        assert_eq!(parse("512KiB"), Ok(ByteSize(512 << 10)));
        assert_eq!(parse("16 MiB"), Ok(ByteSize(16 << 20)));
        assert_eq!(parse("16m"), Ok(ByteSize(16 << 20)));
        assert_eq!(parse("1G"), Ok(ByteSize(1 << 30)));
        assert_eq!(parse(""), Ok(DEFAULT_MAX_BODY));
        assert_eq!(parse(" "), Ok(DEFAULT_MAX_BODY));
        assert!(parse("0").unwrap_err().contains("at least one byte"));
        assert!(parse("16MB").unwrap_err().contains("MiB"));
        assert!(parse("16 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("MiB").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("99999999999999999999").is_err());
        assert!(parse("17179869184GiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_display_in_the_largest_exact_unit() {
        assert_eq!(DEFAULT_MAX_BODY.to_string(), "16 MiB");
        assert_eq!(DEFAULT_MAX_FILE.to_string(), "64 MiB");
        assert_eq!(ByteSize(1536).to_string(), "1536 bytes");
        assert_eq!(ByteSize(3 << 10).to_string(), "3 KiB");
        assert_eq!(ByteSize(2 << 30).to_string(), "2 GiB");
        assert_eq!(ByteSize(1).to_string(), "1 byte");
    }

    #[test]
    fn capped_refuses_the_byte_past_the_limit_and_allocates_no_more() {
        let mut c = Capped::new(10);
        assert_eq!(c.extend(b"12345"), Ok(()));
        assert_eq!(c.extend(b"67890"), Ok(()));
        assert_eq!(c.extend(b"x"), Err(Exceeded));
        assert!(c.buf.capacity() <= 10, "{}", c.buf.capacity());
        assert_eq!(c.into_inner(), b"1234567890");
    }

    #[test]
    fn reads_stop_one_byte_past_the_limit() {
        assert_eq!(
            read_to_limit(&b"hello"[..], 5).unwrap(),
            Ok(b"hello".to_vec())
        );
        assert_eq!(read_to_limit(&b"hello!"[..], 5).unwrap(), Err(Exceeded));
        // An endless source ends at the limit.
        assert_eq!(
            read_to_limit(io::repeat(0), 1 << 20).unwrap(),
            Err(Exceeded)
        );
    }
}
