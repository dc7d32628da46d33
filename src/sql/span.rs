//! Byte spans into the source text and their line:column form.

use serde::Serialize;

/// A half-open byte range `[start, end)` into the statement text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A 1-based line and column (columns count characters, not bytes) of `offset` in `src`, with the text of that
/// line (without its line break).
pub(crate) fn locate(src: &str, offset: usize) -> (usize, usize, &str) {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let line_start = src[..offset].rfind('\n').map_or(0, |n| n + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |n| offset + n);
    let line = src[..line_start].bytes().filter(|&b| b == b'\n').count() + 1;
    let column = src[line_start..offset].chars().count() + 1;
    let text = src[line_start..line_end].trim_end_matches('\r');
    (line, column, text)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let src = "ab\ncé d\r\nx";
        assert_eq!(locate(src, 0), (1, 1, "ab"));
        assert_eq!(locate(src, 3), (2, 1, "cé d"));
        assert_eq!(locate(src, 7), (2, 4, "cé d"));
        assert_eq!(locate(src, src.len()), (3, 2, "x"));
    }
}
