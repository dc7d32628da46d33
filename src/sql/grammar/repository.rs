//! CREATE and ALTER REPOSITORY, and DROP (REPOSITORY | SNAPSHOT).

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{cut, map, opt};
use nom::error::context;

use super::common::{filter, ident, kw, label_name, properties, string};
use super::{Input, PResult};
use crate::sql::ast::{AlterRepository, CreateRepository, DropRepository, DropSnapshot, Statement, StorageKind};

/// `CREATE [READ ONLY] REPOSITORY name WITH (S3 | HDFS | LOCAL | BROKER name) ON LOCATION 'uri' [PROPERTIES (…)]`
pub(super) fn create(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("CREATE")(i)?;
    cut(context("CREATE REPOSITORY", |i| {
        let (i, read_only) = opt((kw("READ"), cut(kw("ONLY")))).parse(i)?;
        let (i, ()) = kw("REPOSITORY")(i)?;
        let (i, name) = ident(i)?;
        let (i, ()) = kw("WITH")(i)?;
        let (i, storage) = alt((
            map(kw("S3"), |()| StorageKind::S3),
            map(kw("HDFS"), |()| StorageKind::Hdfs),
            map(kw("LOCAL"), |()| StorageKind::Local),
            map((kw("BROKER"), cut(ident)), |((), b)| StorageKind::Broker(b)),
        ))
        .parse(i)?;
        let (i, ()) = kw("ON")(i)?;
        let (i, ()) = kw("LOCATION")(i)?;
        let (i, location) = string(i)?;
        let (i, properties) = properties(i)?;
        let read_only = read_only.is_some();
        Ok((i, Statement::CreateRepository(CreateRepository { read_only, name, storage, location, properties })))
    }))
    .parse(i)
}

/// `ALTER REPOSITORY name [PROPERTIES (…)]`
pub(super) fn alter(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("ALTER")(i)?;
    cut(context("ALTER REPOSITORY", |i| {
        let (i, ()) = kw("REPOSITORY")(i)?;
        let (i, name) = ident(i)?;
        let (i, properties) = properties(i)?;
        Ok((i, Statement::AlterRepository(AlterRepository { name, properties })))
    }))
    .parse(i)
}

/// `DROP REPOSITORY name` | `DROP SNAPSHOT [db.]label FROM repo [WHERE TIMESTAMP = '…']`
pub(super) fn drop(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("DROP")(i)?;
    let repository = |i| {
        let (i, ()) = kw("REPOSITORY")(i)?;
        let (i, name) = cut(context("DROP REPOSITORY", ident)).parse(i)?;
        Ok((i, Statement::DropRepository(DropRepository { name })))
    };
    let snapshot = |i| {
        let (i, ()) = kw("SNAPSHOT")(i)?;
        cut(context("DROP SNAPSHOT", |i| {
            let (i, label) = label_name(i)?;
            let (i, ()) = kw("FROM")(i)?;
            let (i, repository) = ident(i)?;
            let (i, filter) = filter(i)?;
            Ok((i, Statement::DropSnapshot(DropSnapshot { label, repository, filter })))
        }))
        .parse(i)
    };
    cut(alt((repository, snapshot))).parse(i)
}
