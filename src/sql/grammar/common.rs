//! Token-level parsers and the pieces shared by several statements: names, labels, PROPERTIES, ON / EXCLUDE
//! lists, FROM db and WHERE filters, and the script (statements separated by `;`).

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{cut, map, opt};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};

use super::{Input, PResult, fail};
use crate::sql::ast::{
    CompareOp, Filter, LabelName, PartitionList, Predicate, Properties, Property, Statement, TableList, TableListKind,
    TableRef,
};
use crate::sql::error::Expected;
use crate::sql::print::is_reserved;
use crate::sql::span::Span;
use crate::sql::token::TokenKind;

/// A keyword (any case): `BACKUP`, `backup`, …
pub(super) fn kw<'a>(word: &'static str) -> impl Fn(Input<'a>) -> PResult<'a, ()> {
    move |i: Input<'a>| match i.first() {
        Some(t) if t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(word) => Ok((i.advance(1), ())),
        _ => fail(i, Expected::Keyword(word)),
    }
}

/// A punctuation token.
fn punct<'a>(kind: TokenKind, text: &'static str) -> impl Fn(Input<'a>) -> PResult<'a, ()> {
    move |i: Input<'a>| match i.first() {
        Some(t) if t.kind == kind => Ok((i.advance(1), ())),
        _ => fail(i, Expected::Literal(text)),
    }
}

pub(super) fn lparen(i: Input<'_>) -> PResult<'_, ()> {
    punct(TokenKind::LParen, "(")(i)
}

pub(super) fn rparen(i: Input<'_>) -> PResult<'_, ()> {
    punct(TokenKind::RParen, ")")(i)
}

fn comma(i: Input<'_>) -> PResult<'_, ()> {
    punct(TokenKind::Comma, ",")(i)
}

fn dot(i: Input<'_>) -> PResult<'_, ()> {
    punct(TokenKind::Dot, ".")(i)
}

fn eq(i: Input<'_>) -> PResult<'_, ()> {
    punct(TokenKind::Eq, "=")(i)
}

/// `ident := word | '`' … '`'` — a bare word that Doris does not reserve, or any backquoted name.
pub(super) fn ident(i: Input<'_>) -> PResult<'_, String> {
    match i.first() {
        Some(t) if t.kind == TokenKind::Word && !is_reserved(t.text) => Ok((i.advance(1), t.text.to_owned())),
        Some(t) => match &t.kind {
            TokenKind::QuotedIdent(v) => Ok((i.advance(1), v.clone())),
            _ => fail(i, Expected::Identifier),
        },
        None => fail(i, Expected::Identifier),
    }
}

/// `string := '…' | "…"`
pub(super) fn string(i: Input<'_>) -> PResult<'_, String> {
    match i.first().map(|t| &t.kind) {
        Some(TokenKind::Str(v)) => Ok((i.advance(1), v.clone())),
        _ => fail(i, Expected::String),
    }
}

/// `property_atom := string | number | word | ident` — Doris's `propertyKey` / `propertyValue`
/// (`identifier | constant`).
fn property_atom(i: Input<'_>) -> PResult<'_, String> {
    match i.first() {
        Some(t) => match &t.kind {
            TokenKind::Str(v) | TokenKind::QuotedIdent(v) => Ok((i.advance(1), v.clone())),
            TokenKind::Word | TokenKind::Number => Ok((i.advance(1), t.text.to_owned())),
            _ => fail(i, Expected::String),
        },
        None => fail(i, Expected::String),
    }
}

/// `label := ident ['.' ident]`
pub(super) fn label_name(i: Input<'_>) -> PResult<'_, LabelName> {
    let (i, first) = ident(i)?;
    let (i, second) = opt(preceded(dot, cut(ident))).parse(i)?;
    Ok((
        i,
        match second {
            Some(label) => LabelName { database: Some(first), label },
            None => LabelName { database: None, label: first },
        },
    ))
}

/// `props := PROPERTIES '(' key '=' value (',' key '=' value)* ')'` — optional; absent is empty.
pub(super) fn properties(i: Input<'_>) -> PResult<'_, Properties> {
    let item = map((property_atom, cut(eq), cut(property_atom)), |(key, (), value)| Property { key, value });
    let list = delimited(lparen, separated_list1(comma, item), cut(rparen));
    map(opt(preceded(kw("PROPERTIES"), cut(list))), |p| Properties(p.unwrap_or_default())).parse(i)
}

/// `partitions := [TEMPORARY] PARTITION (name | '(' name, … ')') | [TEMPORARY] PARTITIONS '(' name, … ')'`
fn partitions(i: Input<'_>) -> PResult<'_, PartitionList> {
    let name_list = |i| delimited(lparen, separated_list1(comma, ident), cut(rparen)).parse(i);
    let one_or_list = |i| alt((name_list, map(ident, |n| vec![n]))).parse(i);
    let body =
        |i| alt((preceded(kw("PARTITIONS"), cut(name_list)), preceded(kw("PARTITION"), cut(one_or_list)))).parse(i);
    alt((
        map(preceded(kw("TEMPORARY"), cut(body)), |names| PartitionList { temporary: true, names }),
        map(body, |names| PartitionList { temporary: false, names }),
    ))
    .parse(i)
}

/// An alias without AS: a name directly followed by `,` or `)`. Looking ahead keeps a misspelt keyword
/// (`t1 PARTITON (p1)`) reported where it is, rather than taken as an alias with the error one token later.
fn bare_alias(i: Input<'_>) -> PResult<'_, String> {
    let followed_by_end = matches!(i.toks.get(1).map(|t| &t.kind), Some(TokenKind::Comma | TokenKind::RParen));
    match i.first() {
        Some(t) if followed_by_end && (t.kind == TokenKind::Word || matches!(t.kind, TokenKind::QuotedIdent(_))) => {
            ident(i)
        }
        // Nothing recorded: AS and the partition keywords already say what fits here.
        _ => Err(nom::Err::Error(super::GrammarError { rest: i.toks.len(), context: None })),
    }
}

/// `table_ref := ident ['.' ident] [partitions] [[AS] ident]`
fn table_ref(i: Input<'_>) -> PResult<'_, TableRef> {
    let (i, name) = label_name(i)?;
    let (i, partitions) = opt(partitions).parse(i)?;
    let (i, alias) = opt(alt((preceded(kw("AS"), cut(ident)), bare_alias))).parse(i)?;
    Ok((i, TableRef { database: name.database, table: name.label, partitions, alias }))
}

/// `tables := (ON | EXCLUDE) '(' table_ref (',' table_ref)* ')'` — optional.
pub(super) fn table_list(i: Input<'_>) -> PResult<'_, Option<TableList>> {
    let kind = alt((map(kw("ON"), |()| TableListKind::On), map(kw("EXCLUDE"), |()| TableListKind::Exclude)));
    let list = delimited(lparen, separated_list1(comma, table_ref), cut(rparen));
    opt(map((kind, cut(list)), |(kind, tables)| TableList { kind, tables })).parse(i)
}

/// `from_db := [(FROM | IN) ident]`
pub(super) fn from_db(i: Input<'_>) -> PResult<'_, Option<String>> {
    opt(preceded(alt((kw("FROM"), kw("IN"))), cut(ident))).parse(i)
}

/// `filter := [LIKE string | WHERE pred (AND pred)* (OR pred (AND pred)*)*]`, `pred := ident (= | LIKE) string`
pub(super) fn filter(i: Input<'_>) -> PResult<'_, Option<Filter>> {
    let op = alt((map(eq, |()| CompareOp::Eq), map(kw("LIKE"), |()| CompareOp::Like)));
    let pred = map((ident, cut(op), cut(string)), |(column, op, value)| Predicate { column, op, value });
    let conj = separated_list1(kw("AND"), pred);
    let disj = separated_list1(kw("OR"), conj);
    opt(alt((
        map(preceded(kw("LIKE"), cut(string)), Filter::Like),
        map(preceded(kw("WHERE"), cut(disj)), Filter::Where),
    )))
    .parse(i)
}

/// `script := [';'…] [stmt (';' [';'…] stmt)*] [';'…] EOF` — each statement with its source span.
pub(super) fn script(mut i: Input<'_>) -> PResult<'_, Vec<(Statement, Span)>> {
    let mut out = Vec::new();
    loop {
        while let Some(t) = i.first() {
            if t.kind != TokenKind::Semicolon {
                break;
            }
            i = i.advance(1);
        }
        if i.first().is_none() {
            if out.is_empty() {
                return fail(i, Expected::Statement);
            }
            return Ok((i, out));
        }
        let (rest, stmt) = statement(i)?;
        let consumed = i.toks.len() - rest.toks.len();
        let span = Span::new(i.toks[0].span.start, i.toks[consumed.max(1) - 1].span.end);
        out.push((stmt, span));
        i = rest;
        match i.first() {
            None => return Ok((i, out)),
            Some(t) if t.kind == TokenKind::Semicolon => {}
            Some(_) => {
                i.tracker.record(i.pos(), Expected::Literal(";"));
                return fail(i, Expected::EndOfInput);
            }
        }
    }
}

/// `stmt := create_repo | drop | show | backup | restore | cancel`
fn statement(i: Input<'_>) -> PResult<'_, Statement> {
    alt((
        super::backup::backup,
        super::backup::restore,
        super::show::show,
        super::show::cancel,
        super::repository::create,
        super::repository::drop,
        super::repository::alter,
    ))
    .parse(i)
}
