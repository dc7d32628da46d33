//! The nom grammar, over tokens.
//!
//! `Input` is a window of the token slice plus a shared tracker of the farthest failure. Every token-level parser
//! records what it expected at its position when it fails, so after a failed parse the tracker holds the farthest
//! position any branch reached and the merged set of what would have been accepted there, including what
//! optional parts (`opt`, `alt`) wanted. That is what the error reports.
//!
//! The grammar has no recursive rule, so no input, however deep or long, can overflow the stack; lists are
//! parsed by loops.

mod backup;
mod common;
mod repository;
mod show;

use std::cell::{Cell, RefCell};

use nom::error::{ContextError, ErrorKind};
use nom::{IResult, Needed};

use super::ast::Statement;
use super::error::{Expected, ParseError};
use super::span::Span;
use super::token::{Token, TokenKind};

/// The farthest failure seen during one parse.
#[derive(Default)]
pub(crate) struct Tracker {
    pos: Cell<usize>,
    expected: RefCell<Vec<Expected>>,
}

impl Tracker {
    fn record(&self, pos: usize, what: Expected) {
        let mut expected = self.expected.borrow_mut();
        if pos > self.pos.get() || expected.is_empty() {
            self.pos.set(pos);
            expected.clear();
            expected.push(what);
        } else if pos == self.pos.get() && !expected.contains(&what) {
            expected.push(what);
        }
    }
}

/// The parser's input: the tokens not consumed yet.
#[derive(Clone, Copy)]
pub(crate) struct Input<'a> {
    toks: &'a [Token<'a>],
    total: usize,
    tracker: &'a Tracker,
}

impl<'a> Input<'a> {
    fn pos(&self) -> usize {
        self.total - self.toks.len()
    }

    fn first(&self) -> Option<&'a Token<'a>> {
        self.toks.first()
    }

    fn advance(self, n: usize) -> Input<'a> {
        Input { toks: &self.toks[n..], ..self }
    }
}

impl<'a> nom::Input for Input<'a> {
    type Item = &'a Token<'a>;
    type Iter = std::slice::Iter<'a, Token<'a>>;
    type IterIndices = std::iter::Enumerate<std::slice::Iter<'a, Token<'a>>>;

    fn input_len(&self) -> usize {
        self.toks.len()
    }

    fn take(&self, index: usize) -> Self {
        Input { toks: &self.toks[..index], ..*self }
    }

    fn take_from(&self, index: usize) -> Self {
        Input { toks: &self.toks[index..], ..*self }
    }

    fn take_split(&self, index: usize) -> (Self, Self) {
        (self.take_from(index), self.take(index))
    }

    fn position<P>(&self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool,
    {
        self.toks.iter().position(predicate)
    }

    fn iter_elements(&self) -> Self::Iter {
        self.toks.iter()
    }

    fn iter_indices(&self) -> Self::IterIndices {
        self.toks.iter().enumerate()
    }

    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        if self.toks.len() >= count { Ok(count) } else { Err(Needed::new(count - self.toks.len())) }
    }
}

/// The grammar's error value: where it failed and the innermost statement context. What was expected lives in
/// the [`Tracker`].
#[derive(Debug)]
pub(crate) struct GrammarError {
    rest: usize,
    context: Option<&'static str>,
}

impl<'a> nom::error::ParseError<Input<'a>> for GrammarError {
    fn from_error_kind(input: Input<'a>, _kind: ErrorKind) -> Self {
        GrammarError { rest: input.toks.len(), context: None }
    }

    fn append(_input: Input<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    /// Keeps the farthest of two failures (the one with less input left).
    fn or(self, other: Self) -> Self {
        if other.rest < self.rest { other } else { self }
    }
}

impl<'a> ContextError<Input<'a>> for GrammarError {
    fn add_context(_input: Input<'a>, ctx: &'static str, mut other: Self) -> Self {
        other.context.get_or_insert(ctx);
        other
    }
}

pub(crate) type PResult<'a, T> = IResult<Input<'a>, T, GrammarError>;

/// Records that `what` was expected at `i` and fails (recoverably).
fn fail<'a, T>(i: Input<'a>, what: Expected) -> PResult<'a, T> {
    i.tracker.record(i.pos(), what);
    Err(nom::Err::Error(GrammarError { rest: i.toks.len(), context: None }))
}

/// Parses a whole script: statements separated by `;`, with empty statements allowed.
///
/// # Errors
/// A [`ParseError`] at the farthest position any alternative reached.
pub(crate) fn parse_script(src: &str, toks: &[Token<'_>]) -> Result<Vec<(Statement, Span)>, ParseError> {
    let tracker = Tracker::default();
    let input = Input { toks, total: toks.len(), tracker: &tracker };
    match common::script(input) {
        Ok((_, stmts)) => Ok(stmts),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(build_error(src, toks, &tracker, e.context)),
        Err(nom::Err::Incomplete(_)) => Err(build_error(src, toks, &tracker, None)),
    }
}

fn build_error(src: &str, toks: &[Token<'_>], tracker: &Tracker, context: Option<&'static str>) -> ParseError {
    let pos = tracker.pos.get().min(toks.len());
    let expected = tracker.expected.take();
    let Some(tok) = toks.get(pos) else {
        return ParseError::new(src, src.len(), 1, "end of input".into(), expected).with_context(context);
    };
    let found = match &tok.kind {
        TokenKind::Str(_) => format!("string literal {}", shorten(tok.text)),
        _ => format!("`{}`", shorten(tok.text)),
    };
    // Doris's errorCapturingIdentifier: `snapshot-1` is a name that needs backquotes.
    let hint = match (pos.checked_sub(1).and_then(|p| toks.get(p)), toks.get(pos + 1)) {
        (Some(prev), Some(next))
            if tok.text == "-"
                && matches!(prev.kind, TokenKind::Word | TokenKind::Number)
                && matches!(next.kind, TokenKind::Word | TokenKind::Number)
                && prev.span.end == tok.span.start
                && tok.span.end == next.span.start =>
        {
            let name = &src[prev.span.start..next.span.end];
            Some(format!("possibly unquoted identifier {name} detected; quote it with backquotes: `{name}`"))
        }
        _ => None,
    };
    ParseError::new(src, tok.span.start, tok.span.end - tok.span.start, found, expected)
        .with_context(context)
        .with_hint(hint)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
