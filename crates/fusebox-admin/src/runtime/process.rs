//! The process's own figures (resident memory, CPU time, threads, open
//! descriptors), read from `/proc/self` on Linux.
//!
//! Why `/proc` and not a crate: the three files needed are small text files
//! the kernel writes in memory, so reading them costs microseconds, needs no
//! `unsafe` and no dependency, and holds no lock of the application's. Each
//! read is bounded: a line longer than [`LINE_MAX`] is skipped, not
//! buffered; `/proc/self/stat` is one short line read into a fixed buffer;
//! the descriptors are counted, not collected, and counting stops at
//! [`MAX_FDS_COUNTED`]. Any failure becomes a [`ProcError`] naming the file,
//! never a panic, and on other systems every figure is `None`.
//!
//! CPU times in `/proc/self/stat` are in clock ticks of `USER_HZ`, which
//! the kernel fixes at 100 per second for user space on every architecture
//! Rust targets (`include/asm-generic/param.h`; only Alpha differed), the
//! value `sysconf(_SC_CLK_TCK)` answers (proc(5)).

use std::fmt;
use std::time::Duration;

/// The longest line of `/proc/self/status` kept; longer ones (a `Groups:`
/// line of thousands of groups) are skipped.
pub(crate) const LINE_MAX: usize = 256;

/// Descriptors counted at most; a process with more reports this many.
pub(crate) const MAX_FDS_COUNTED: u64 = 1 << 20;

/// What the process uses now, each figure `None` where it could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    /// Resident set size, bytes (`VmRSS`).
    pub(crate) rss_bytes: Option<u64>,
    /// The most the resident set has been, bytes (`VmHWM`).
    pub(crate) rss_peak_bytes: Option<u64>,
    /// CPU time in user mode, every thread, dead ones included.
    pub(crate) cpu_user: Option<Duration>,
    /// CPU time in the kernel on the process's behalf.
    pub(crate) cpu_system: Option<Duration>,
    /// Threads of the process.
    pub(crate) threads: Option<u64>,
    /// Open file descriptors (sockets included), up to [`MAX_FDS_COUNTED`].
    pub(crate) open_fds: Option<u64>,
}

impl Usage {
    /// User and system CPU time together.
    pub(crate) fn cpu(&self) -> Option<Duration> {
        Some(self.cpu_user? + self.cpu_system?)
    }
}

/// A figure that could not be read: which file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcError {
    file: &'static str,
    reason: String,
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.file, self.reason)
    }
}

impl std::error::Error for ProcError {}

/// Reads everything it can; the errors of what it could not (at most one
/// per file).
pub(crate) fn read() -> (Usage, Vec<ProcError>) {
    imp::read()
}

/// Why every figure is `None` here, if it is: `Some` off Linux.
pub(crate) const UNSUPPORTED: Option<&str> = imp::UNSUPPORTED;

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io::{BufRead, BufReader, Read};
    use std::time::Duration;

    use super::{ProcError, Usage, LINE_MAX, MAX_FDS_COUNTED};

    pub(super) const UNSUPPORTED: Option<&str> = None;

    /// Clock ticks per second of the times in `/proc/self/stat`.
    const USER_HZ: u64 = 100;
    /// `/proc/self/stat` is one line of 52 numbers and a name of at most 64
    /// bytes: well under this.
    const STAT_MAX: usize = 4096;

    pub(super) fn read() -> (Usage, Vec<ProcError>) {
        let mut usage = Usage::default();
        let mut errors = Vec::new();
        match status() {
            Ok(s) => {
                usage.rss_bytes = s.rss_bytes;
                usage.rss_peak_bytes = s.rss_peak_bytes;
                usage.threads = s.threads;
            }
            Err(e) => errors.push(e),
        }
        match stat() {
            Ok((user, system, threads)) => {
                usage.cpu_user = Some(user);
                usage.cpu_system = Some(system);
                usage.threads = usage.threads.or(Some(threads));
            }
            Err(e) => errors.push(e),
        }
        match fds() {
            Ok(n) => usage.open_fds = Some(n),
            Err(e) => errors.push(e),
        }
        (usage, errors)
    }

    fn error(file: &'static str, reason: impl ToString) -> ProcError {
        ProcError {
            file,
            reason: reason.to_string(),
        }
    }

    #[derive(Default)]
    struct Status {
        rss_bytes: Option<u64>,
        rss_peak_bytes: Option<u64>,
        threads: Option<u64>,
    }

    /// `VmRSS`, `VmHWM` and `Threads` of `/proc/self/status`, line by line
    /// through a buffer of [`LINE_MAX`].
    fn status() -> Result<Status, ProcError> {
        const FILE: &str = "/proc/self/status";
        let file = File::open(FILE).map_err(|e| error(FILE, e))?;
        let mut reader = BufReader::with_capacity(LINE_MAX, file);
        let mut line = Vec::with_capacity(LINE_MAX);
        let mut out = Status::default();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(LINE_MAX as u64)
                .read_until(b'\n', &mut line)
                .map_err(|e| error(FILE, e))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') && n == LINE_MAX {
                // Too long to be one of ours: skip the rest of it.
                reader.skip_until(b'\n').map_err(|e| error(FILE, e))?;
                continue;
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                continue;
            };
            let Some((key, value)) = text.split_once(':') else {
                continue;
            };
            let kib = || parse_kib(value);
            match key {
                "VmRSS" => out.rss_bytes = kib(),
                "VmHWM" => out.rss_peak_bytes = kib(),
                "Threads" => out.threads = value.trim().parse().ok(),
                _ => {}
            }
        }
        if out.rss_bytes.is_none() {
            // Kernel threads have no VmRSS; a process always has.
            return Err(error(FILE, "no VmRSS line"));
        }
        Ok(out)
    }

    /// `"  123456 kB"` in bytes.
    pub(super) fn parse_kib(value: &str) -> Option<u64> {
        let number = value.trim().strip_suffix("kB")?.trim();
        number.parse::<u64>().ok()?.checked_mul(1024)
    }

    /// User time, system time and threads from `/proc/self/stat`.
    fn stat() -> Result<(Duration, Duration, u64), ProcError> {
        const FILE: &str = "/proc/self/stat";
        let mut buf = [0u8; STAT_MAX];
        let mut file = File::open(FILE).map_err(|e| error(FILE, e))?;
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(error(FILE, e)),
            }
        }
        parse_stat(&buf[..len]).ok_or_else(|| error(FILE, "unexpected format"))
    }

    /// Fields 14 (utime), 15 (stime) and 20 (num_threads) of proc(5),
    /// counted after the command name, which is in parentheses and may hold
    /// spaces and parentheses itself.
    pub(super) fn parse_stat(bytes: &[u8]) -> Option<(Duration, Duration, u64)> {
        let text = std::str::from_utf8(bytes).ok()?;
        let rest = &text[text.rfind(')')? + 1..];
        // Field 3 (the state) is the first after the name: field k is at
        // index k - 3.
        let fields: Vec<&str> = rest.split_whitespace().take(18).collect();
        let field = |k: usize| -> Option<u64> { fields.get(k - 3)?.parse().ok() };
        let (utime, stime, threads) = (field(14)?, field(15)?, field(20)?);
        let ticks = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000 / USER_HZ));
        Some((ticks(utime), ticks(stime), threads))
    }

    /// The entries of `/proc/self/fd`, less the one the listing itself
    /// holds open, up to [`MAX_FDS_COUNTED`].
    fn fds() -> Result<u64, ProcError> {
        const FILE: &str = "/proc/self/fd";
        let dir = std::fs::read_dir(FILE).map_err(|e| error(FILE, e))?;
        let mut n = 0u64;
        for entry in dir {
            entry.map_err(|e| error(FILE, e))?;
            n += 1;
            if n > MAX_FDS_COUNTED {
                break;
            }
        }
        Ok(n.saturating_sub(1).min(MAX_FDS_COUNTED))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{ProcError, Usage};

    pub(super) const UNSUPPORTED: Option<&str> =
        Some("process figures are read from /proc/self, on Linux only");

    pub(super) fn read() -> (Usage, Vec<ProcError>) {
        (Usage::default(), Vec::new())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::imp::{parse_kib, parse_stat};
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        // A name with spaces and a parenthesis, as a thread may be called.
        let mut line = String::from("4242 (a b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 ");
        // Fields 14 and 15: 250 and 30 ticks; 16..19, then 20: 7 threads.
        line.push_str("250 30 0 0 20 0 7 0 123 456 789");
        let (user, system, threads) = parse_stat(line.as_bytes()).unwrap();
        assert_eq!(user, Duration::from_millis(2500));
        assert_eq!(system, Duration::from_millis(300));
        assert_eq!(threads, 7);
        assert_eq!(parse_stat(b"4242 (x) S 1 2"), None);
        assert_eq!(parse_stat(b"no name at all"), None);
    }

    #[test]
    fn kib_values() {
        assert_eq!(parse_kib("    1234 kB"), Some(1234 * 1024));
        assert_eq!(parse_kib("1234"), None);
        assert_eq!(parse_kib("x kB"), None);
    }

    #[test]
    fn reads_this_process() {
        let (usage, errors) = read();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(usage.rss_bytes.unwrap() > 1 << 20, "{usage:?}");
        assert!(usage.rss_peak_bytes.unwrap() >= usage.rss_bytes.unwrap());
        assert!(usage.threads.unwrap() >= 1);
        // stdin, stdout, stderr at least.
        assert!(usage.open_fds.unwrap() >= 3, "{usage:?}");
        assert!(usage.cpu().is_some());
    }
}
