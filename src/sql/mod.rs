//! The statement family, as Doris users write it: parsing, canonical printing and statement-local analysis.
//!
//! ```
//! let stmts = tabsnap::sql::parse("backup snapshot db1.`label-1` to repo on (t1 partitions (p1, p2));")?;
//! assert_eq!(stmts[0].to_string(), "BACKUP SNAPSHOT db1.`label-1` TO repo ON (t1 PARTITION (p1, p2))");
//! tabsnap::sql::validate(&stmts[0])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The grammar is Doris's (`DorisParser.g4` and its lexer): keywords in any case and usable as names unless
//! Doris reserves them, backquoted names with `` `` `` for a backtick, `'…'` / `"…"` strings with backslash
//! escapes and doubled quotes, `--` and `/* */` comments, `=` or `==`, and several statements separated by `;`.

pub mod ast;
mod error;
mod grammar;
mod print;
mod secrets;
mod span;
mod token;
mod validate;

pub use ast::Statement;
pub use error::{Expected, ParseError};
pub use span::Span;
pub use validate::{
    AnalysisError, DEFAULT_TIMEOUT_SECS, KEEP_ON_LOCAL_REPOSITORY, LABEL_REGEX, NameFilter, SnapshotFilter,
    drop_snapshot_filter, like, read_name_filter, resolve_database, snapshot_filter, timeout_secs, validate,
};

/// Parses one or more statements separated by `;`.
///
/// # Errors
/// A [`ParseError`] with the line, column, found token and expected set of the farthest failure.
pub fn parse(sql: &str) -> Result<Vec<Statement>, ParseError> {
    Ok(parse_spanned(sql)?.into_iter().map(|(s, _)| s).collect())
}

/// Parses one or more statements separated by `;`, each with the span of its text (without the `;`).
///
/// # Errors
/// A [`ParseError`], as [`parse`].
pub fn parse_spanned(sql: &str) -> Result<Vec<(Statement, Span)>, ParseError> {
    let tokens = token::tokenize(sql)?;
    grammar::parse_script(sql, &tokens)
}

/// Parses exactly one statement (a trailing `;` is allowed).
///
/// # Errors
/// A [`ParseError`]; also when the text holds more than one statement (at the start of the second).
pub fn parse_one(sql: &str) -> Result<Statement, ParseError> {
    let mut stmts = parse_spanned(sql)?;
    if stmts.len() == 1 {
        return Ok(stmts.remove(0).0);
    }
    let second = stmts[1].1;
    let found = format!("`{}`", sql[second.start..].split_whitespace().next().unwrap_or_default());
    Err(ParseError::new(sql, second.start, 1, found, vec![Expected::EndOfInput]))
}
