//! Lines and columns of byte offsets, in time independent of the file's size.
//!
//! Every fuse and valve of a file gets a position (where it is declared, for
//! errors found at install), and so does every error. Counting newlines from
//! the start of the text for each of them made `check` quadratic: a 2 MB file
//! of 18,000 entries took seconds, a 50 MB one did not finish. A
//! [`LineIndex`] is built in one pass over the text and then answers each
//! position by a binary search over the line starts.
//!
//! Columns are in characters, not bytes, so a line's bytes must still be
//! decoded to count them; on one long line (a whole file of inline tables)
//! that count alone would be quadratic again. The index therefore also keeps
//! the number of characters before every [`BLOCK`]-th byte, so a count never
//! scans more than one block: O(log lines + BLOCK) per position, O(n / BLOCK)
//! extra memory.
//!
//! The rules are those of the naive scan it replaces (kept in the tests as
//! the oracle): 1-based, an offset inside a character counts from that
//! character's start, and an offset past the end, or just after a final
//! newline, lies on the last line.

/// Bytes between two character-count checkpoints.
const BLOCK: usize = 256;

/// The line starts and character checkpoints of one text: lines and
/// columns of byte offsets (a TOML span's start, say), for anything that
/// reports errors in a file the way `fusebox check` does.
///
/// ```
/// use fusebox::config_file::LineIndex;
///
/// let text = "a = 1\nb = \"é\"\n";
/// let index = LineIndex::new(text);
/// assert_eq!(index.position(0), (1, 1));
/// // The closing quote, byte 13: columns count characters (é is two bytes).
/// assert_eq!(index.position(13), (2, 7));
/// // Past the end: on the last line, after its last character.
/// assert_eq!(index.position(1_000), (2, 8));
/// ```
#[derive(Debug)]
pub struct LineIndex<'t> {
    text: &'t str,
    /// The byte offset where each line starts; `starts[0] == 0`.
    starts: Vec<usize>,
    /// `chars[i]`: the characters in `text[..i * BLOCK]`.
    chars: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    /// Indexes `text`, in one pass.
    pub fn new(text: &'t str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut chars = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut count = 0;
        for (block_start, block) in (0..).step_by(BLOCK).zip(bytes.chunks(BLOCK)) {
            chars.push(count);
            count += char_starts(block);
            for (i, &b) in block.iter().enumerate() {
                if b == b'\n' {
                    starts.push(block_start + i + 1);
                }
            }
        }
        // A checkpoint at the very end too, so any block index is in range.
        chars.push(count);
        LineIndex {
            text,
            starts,
            chars,
        }
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    ///
    /// An offset past the end (an error "at end of input") is moved back
    /// onto the last line, so the line always exists.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let text = self.text;
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The position just after a final newline is on no line of its own.
        if offset == text.len() && text.ends_with('\n') {
            offset -= 1;
            if text[..offset].ends_with('\r') {
                offset -= 1;
            }
        }
        // The lines starting at or before `offset`; there is one at least.
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        let column = self.chars_before(offset) - self.chars_before(line_start) + 1;
        (line, column)
    }

    /// The characters in `text[..offset]`, `offset` on a char boundary.
    fn chars_before(&self, offset: usize) -> usize {
        let block = offset / BLOCK;
        self.chars[block] + char_starts(&self.text.as_bytes()[block * BLOCK..offset])
    }
}

/// The bytes of `bytes` that start a character (not UTF-8 continuations).
fn char_starts(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The scan `LineIndex` replaces, from the start of the text for every
    /// offset: the oracle.
    fn naive(text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset == text.len() && text.ends_with('\n') {
            offset -= 1;
            if text[..offset].ends_with('\r') {
                offset -= 1;
            }
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    fn position(text: &str, offset: usize) -> (usize, usize) {
        LineIndex::new(text).position(offset)
    }

    #[test]
    fn positions_are_one_based_and_on_a_line() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 4), (1, 5));
        assert_eq!(position(text, 6), (2, 1));
        assert_eq!(position(text, 9), (2, 3)); // after the two-byte é
        assert_eq!(position(text, 8), (2, 2)); // inside é: its start
        assert_eq!(position(text, text.len()), (2, 7));
        assert_eq!(position(text, 1_000), (2, 7));
        assert_eq!(position("", 0), (1, 1));
        assert_eq!(position("\n", 1), (1, 1));
        assert_eq!(position("x\r\n", 3), (1, 2));
    }

    #[test]
    fn long_lines_cross_checkpoints() {
        // Multi-byte characters straddling block boundaries, on one line and
        // on many.
        let line: String = "é€a😀".repeat(300);
        let text = format!("{line}\n{line}\nend");
        let index = LineIndex::new(&text);
        for offset in (0..=text.len() + 2).step_by(7) {
            assert_eq!(index.position(offset), naive(&text, offset), "{offset}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_naive_scan(
            text in "([a\n\r é€😀]){0,700}",
            offsets in proptest::collection::vec(0usize..800, 1..20),
        ) {
            let index = LineIndex::new(&text);
            for offset in offsets {
                prop_assert_eq!(index.position(offset), naive(&text, offset));
            }
        }
    }
}
