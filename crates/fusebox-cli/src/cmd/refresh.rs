//! What `fusebox watch` and `fusebox top` share as views refreshed every
//! interval: how a refresh begins (the screen cleared on a terminal, a
//! blank line between tables when piped) and how it is written (a closed
//! pipe, as with `| head`, ends the command quietly).

use std::io::Write;

/// Begins refresh number `shown` (from 0) in `out`: the ANSI clear
/// (`ESC[H ESC[2J`) if `clear`, else a blank line after the previous one.
pub(crate) fn begin(out: &mut String, clear: bool, shown: u64) {
    if clear {
        out.push_str("\x1b[H\x1b[2J");
    } else if shown > 0 {
        out.push('\n');
    }
}

/// Writes a refresh to stdout and flushes it; false if stdout is closed,
/// which ends the view.
pub(crate) fn show(out: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok()
}
