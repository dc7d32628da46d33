//! Syntax errors, reported like a compiler's: where, what was found, what was expected, and the line with a caret.

use std::fmt;

use super::span::locate;

/// One thing the parser would have accepted at the error position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Expected {
    /// A keyword, spelled in upper case.
    Keyword(&'static str),
    /// A punctuation mark or other fixed text.
    Literal(&'static str),
    /// An identifier (bare or backquoted).
    Identifier,
    /// A string literal.
    String,
    /// A number.
    Number,
    /// A statement keyword (CREATE, BACKUP, …).
    Statement,
    /// The end of the statement text.
    EndOfInput,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Keyword(k) | Expected::Literal(k) => write!(f, "`{k}`"),
            Expected::Identifier => f.write_str("an identifier"),
            Expected::String => f.write_str("a string literal"),
            Expected::Number => f.write_str("a number"),
            Expected::Statement => f.write_str("a statement"),
            Expected::EndOfInput => f.write_str("end of input"),
        }
    }
}

/// A syntax error at a position of the statement text.
///
/// `Display` prints the one-line message followed by the source line and a caret under the offending token:
///
/// ```text
/// line 1, column 52: unexpected `PARTITON`, expected `)`, `,`, `AS`, `PARTITION`, `PARTITIONS`, `TEMPORARY`, or an identifier
///   |
/// 1 | BACKUP SNAPSHOT db.l TO repo ON (t1 PARTITON (p1))
///   |                                     ^^^^^^^^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    offset: usize,
    len: usize,
    line: usize,
    column: usize,
    source_line: String,
    found: String,
    expected: Vec<Expected>,
    message: Option<&'static str>,
    context: Option<&'static str>,
    hint: Option<String>,
}

impl ParseError {
    pub(crate) fn new(src: &str, offset: usize, len: usize, found: String, mut expected: Vec<Expected>) -> Self {
        expected.sort();
        expected.dedup();
        let (line, column, text) = locate(src, offset);
        // A password or secret key on the line is never echoed (in the line or as the token found).
        let (source_line, hidden) = super::secrets::mask(text);
        let found = hidden.iter().fold(found, |f, h| f.replace(h.as_str(), &"*".repeat(h.chars().count())));
        ParseError(Box::new(Inner {
            offset,
            len,
            line,
            column,
            source_line,
            found,
            expected,
            message: None,
            context: None,
            hint: None,
        }))
    }

    /// An error of the lexer (an unterminated construct) at `offset`.
    pub(crate) fn lexical(src: &str, offset: usize, message: &'static str, expected: Expected) -> Self {
        let mut e = ParseError::new(src, offset, 1, String::new(), vec![expected]);
        e.0.message = Some(message);
        e
    }

    pub(crate) fn with_context(mut self, context: Option<&'static str>) -> Self {
        self.0.context = context;
        self
    }

    pub(crate) fn with_hint(mut self, hint: Option<String>) -> Self {
        self.0.hint = hint;
        self
    }

    /// 1-based line of the error.
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// 1-based column of the error, in characters.
    pub fn column(&self) -> usize {
        self.0.column
    }

    /// Byte offset of the error in the statement text.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    /// What the parser found there: the token's text in backquotes, a literal's kind, or `end of input`.
    pub fn found(&self) -> &str {
        &self.0.found
    }

    /// What the parser would have accepted there (sorted, without duplicates).
    pub fn expected(&self) -> &[Expected] {
        &self.0.expected
    }

    /// The statement being parsed when the error happened, if the parser knew (`BACKUP SNAPSHOT`, …).
    pub fn context(&self) -> Option<&'static str> {
        self.0.context
    }

    /// The one-line form of the error: `line L, column C: unexpected …, expected …`.
    pub fn message(&self) -> String {
        let mut s = format!("line {}, column {}: ", self.0.line, self.0.column);
        match self.0.message {
            Some(m) => {
                s.push_str(m);
                s.push_str(", expected ");
            }
            None => {
                s.push_str("unexpected ");
                s.push_str(&self.0.found);
                if !self.0.expected.is_empty() {
                    s.push_str(", expected ");
                }
            }
        }
        let n = self.0.expected.len();
        for (i, e) in self.0.expected.iter().enumerate() {
            if i > 0 {
                s.push_str(if n == 2 {
                    " or "
                } else if i + 1 == n {
                    ", or "
                } else {
                    ", "
                });
            }
            s.push_str(&e.to_string());
        }
        if let Some(c) = self.0.context {
            s.push_str(" (while parsing ");
            s.push_str(c);
            s.push(')');
        }
        if let Some(h) = &self.0.hint {
            s.push_str("; ");
            s.push_str(h);
        }
        s
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self.0.line.to_string().len();
        let pad = " ".repeat(gutter);
        // Tabs are kept so the caret lines up under them in a terminal.
        let lead: String =
            self.0.source_line.chars().take(self.0.column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let width = self.0.source_line.chars().skip(self.0.column - 1).count().min(self.0.len.max(1)).max(1);
        writeln!(f, "{}", self.message())?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{} | {}", self.0.line, self.0.source_line)?;
        write!(f, "{pad} | {lead}{}", "^".repeat(width))
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        let e = ParseError::new("x y", 2, 1, "`y`".into(), vec![Expected::EndOfInput]);
        assert_eq!(e.message(), "line 1, column 3: unexpected `y`, expected end of input");
        let e = ParseError::new("x y", 2, 1, "`y`".into(), vec![Expected::Literal("("), Expected::EndOfInput]);
        assert_eq!(e.message(), "line 1, column 3: unexpected `y`, expected `(` or end of input");
        let e = ParseError::new(
            "x y",
            2,
            1,
            "`y`".into(),
            vec![Expected::EndOfInput, Expected::Keyword("ON"), Expected::Literal(";"), Expected::Keyword("ON")],
        );
        assert_eq!(e.message(), "line 1, column 3: unexpected `y`, expected `ON`, `;`, or end of input");
    }

    #[test]
    fn display_shows_the_line_and_a_caret() {
        let e = ParseError::new("SHOW\n  BAKUP x", 7, 5, "`BAKUP`".into(), vec![Expected::Keyword("BACKUP")]);
        assert_eq!(
            e.to_string(),
            "line 2, column 3: unexpected `BAKUP`, expected `BACKUP`\n  |\n2 |   BAKUP x\n  |   ^^^^^"
        );
    }
}
