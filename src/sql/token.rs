//! The lexer: SQL text → tokens, following Doris's `DorisLexer.g4`.
//!
//! Keywords are not recognised here: every bare word is a [`TokenKind::Word`] and the grammar decides whether it
//! is a keyword or a name (most keywords of this statement family are non-reserved in Doris). Comments and
//! whitespace are dropped. Characters that belong to no token of this family become [`TokenKind::Other`], so the
//! grammar can report them as "unexpected `-`" at their exact position instead of failing here.

use super::error::{Expected, ParseError};
use super::span::Span;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An unquoted word: a keyword or an identifier (`[A-Za-z0-9_$]` and any non-ASCII character).
    Word,
    /// A backquoted identifier; the value has `` `` `` already turned into one backtick.
    QuotedIdent(String),
    /// A string literal (`'…'`, `"…"`, `R'…'`); the value has escapes resolved.
    Str(String),
    /// A number (digits only).
    Number,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `;`
    Semicolon,
    /// `=` or `==`
    Eq,
    /// Any other character.
    Other,
}

/// A token with its place in the source.
#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind,
    pub span: Span,
    /// The exact source text of the token.
    pub text: &'a str,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// Splits `src` into tokens.
///
/// # Errors
/// An unterminated string literal, backquoted identifier or block comment is an error at its opening character.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::with_capacity(src.len() / 4 + 1);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Whitespace.
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // `-- comment` to the end of the line.
        if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = src[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            continue;
        }
        // `/* comment */`, nested as Doris's BRACKETED_COMMENT allows.
        if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(src, i)?;
            continue;
        }
        let start = i;
        let kind = match b {
            b'(' => single(&mut i, TokenKind::LParen),
            b')' => single(&mut i, TokenKind::RParen),
            b',' => single(&mut i, TokenKind::Comma),
            b'.' => single(&mut i, TokenKind::Dot),
            b';' => single(&mut i, TokenKind::Semicolon),
            b'=' => {
                i += if bytes.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                TokenKind::Eq
            }
            b'`' => {
                let (value, end) = quoted_ident(src, i)?;
                i = end;
                TokenKind::QuotedIdent(value)
            }
            b'\'' | b'"' => {
                let (value, end) = string_literal(src, i, false)?;
                i = end;
                TokenKind::Str(value)
            }
            b'r' | b'R' if matches!(bytes.get(i + 1), Some(b'\'' | b'"')) => {
                let (value, end) = string_literal(src, i + 1, true)?;
                i = end;
                TokenKind::Str(value)
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or('\u{fffd}');
                if is_word_char(c) {
                    let end = src[i..].find(|c: char| !is_word_char(c)).map_or(src.len(), |n| i + n);
                    let all_digits = src[i..end].bytes().all(|b| b.is_ascii_digit());
                    i = end;
                    if all_digits { TokenKind::Number } else { TokenKind::Word }
                } else {
                    i += c.len_utf8();
                    TokenKind::Other
                }
            }
        };
        tokens.push(Token { kind, span: Span::new(start, i), text: &src[start..i] });
    }
    Ok(tokens)
}

fn single(i: &mut usize, kind: TokenKind) -> TokenKind {
    *i += 1;
    kind
}

fn skip_block_comment(src: &str, start: usize) -> Result<usize, ParseError> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err(ParseError::lexical(src, start, "unterminated comment", Expected::Literal("*/")))
}

fn quoted_ident(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut value = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        if c == '`' {
            if src[start + 1 + off + 1..].starts_with('`') {
                value.push('`');
                chars.next();
            } else {
                return Ok((value, start + 1 + off + 1));
            }
        } else {
            value.push(c);
        }
    }
    Err(ParseError::lexical(src, start, "unterminated quoted identifier", Expected::Literal("`")))
}

/// Reads a string literal whose opening quote is at `start`. Escapes follow Doris (and MySQL): `\0 \b \n \r \t
/// \Z \\ \' \"` are resolved, `\%` and `\_` keep their backslash, any other `\x` is `x`; a doubled quote is one
/// quote. Raw strings (`R'…'`) resolve nothing but the doubled quote.
fn string_literal(src: &str, start: usize, raw: bool) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[start] as char;
    let mut value = String::new();
    let body = &src[start + 1..];
    let mut chars = body.char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        if c == quote {
            if chars.peek().map(|&(_, n)| n) == Some(quote) {
                value.push(quote);
                chars.next();
                continue;
            }
            return Ok((value, start + 1 + off + 1));
        }
        if c == '\\' && !raw {
            let Some((_, e)) = chars.next() else { break };
            match e {
                '0' => value.push('\0'),
                'b' => value.push('\u{8}'),
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'Z' => value.push('\u{1a}'),
                '%' | '_' => {
                    value.push('\\');
                    value.push(e);
                }
                other => value.push(other),
            }
            continue;
        }
        value.push(c);
    }
    let what = if quote == '\'' { "'" } else { "\"" };
    Err(ParseError::lexical(src, start, "unterminated string literal", Expected::Literal(what)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn words_numbers_and_punctuation() {
        use TokenKind::*;
        assert_eq!(
            kinds("BACKUP db.l1 (a, 1) = == ;"),
            vec![Word, Word, Dot, Word, LParen, Word, Comma, Number, RParen, Eq, Eq, Semicolon]
        );
        assert_eq!(kinds("1repo $x 数据"), vec![Word, Word, Word]);
        assert_eq!(kinds("snapshot-1"), vec![Word, Other, Number]);
    }

    #[test]
    fn quoted_identifiers_and_strings() {
        assert_eq!(kinds("`a``b`"), vec![TokenKind::QuotedIdent("a`b".into())]);
        assert_eq!(kinds("`表 名`"), vec![TokenKind::QuotedIdent("表 名".into())]);
        assert_eq!(
            kinds(r#"'it''s' "a\"b" 'x\ny' '\%' r'a\n'"#),
            vec![
                TokenKind::Str("it's".into()),
                TokenKind::Str("a\"b".into()),
                TokenKind::Str("x\ny".into()),
                TokenKind::Str("\\%".into()),
                TokenKind::Str("a\\n".into()),
            ]
        );
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(kinds("a -- x\n/* y /* nested */ */ b--"), vec![TokenKind::Word, TokenKind::Word]);
    }

    #[test]
    fn unterminated_constructs_are_positioned_errors() {
        let e = tokenize("SHOW x 'abc").unwrap_err();
        assert_eq!((e.line(), e.column()), (1, 8));
        assert!(e.to_string().contains("unterminated string literal"), "{e}");
        let e = tokenize("a\n  `abc").unwrap_err();
        assert_eq!((e.line(), e.column()), (2, 3));
        let e = tokenize("/* never closed").unwrap_err();
        assert_eq!((e.line(), e.column()), (1, 1));
    }
}
