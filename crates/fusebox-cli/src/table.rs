//! Plain-text tables: a header row and columns padded to their widest cell,
//! text left-aligned and numbers right-aligned.

/// Renders `rows` under `header`, each line ending in a newline.
pub(crate) fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if i > 0 && looks_numeric(cell) {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Counts, rates and durations line up on the right.
fn looks_numeric(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_digit()) || cell == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns() {
        let t = render(
            &["name", "state", "melts"],
            &[
                vec!["db".into(), "ok".into(), "0".into()],
                vec!["search".into(), "blown".into(), "12".into()],
            ],
        );
        assert_eq!(
            t,
            "name    state  melts\ndb      ok         0\nsearch  blown     12\n"
        );
    }
}
