//! BACKUP and RESTORE.

use nom::Parser;
use nom::combinator::{cut, opt};
use nom::error::context;

use super::common::{ident, kw, label_name, properties, table_list};
use super::{Input, PResult};
use crate::sql::ast::{Backup, Restore, Statement};

/// `BACKUP [GLOBAL] SNAPSHOT [db.]label TO repo [(ON | EXCLUDE) (table_ref, …)] [PROPERTIES (…)]`
pub(super) fn backup(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("BACKUP")(i)?;
    cut(context("BACKUP SNAPSHOT", |i| {
        let (i, global) = opt(kw("GLOBAL")).parse(i)?;
        let (i, ()) = kw("SNAPSHOT")(i)?;
        let (i, label) = label_name(i)?;
        let (i, ()) = kw("TO")(i)?;
        let (i, repository) = ident(i)?;
        let (i, tables) = table_list(i)?;
        let (i, properties) = properties(i)?;
        Ok((i, Statement::Backup(Backup { global: global.is_some(), label, repository, tables, properties })))
    }))
    .parse(i)
}

/// `RESTORE [GLOBAL] SNAPSHOT [db.]label FROM repo [(ON | EXCLUDE) (table_ref, …)] [PROPERTIES (…)]`
pub(super) fn restore(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("RESTORE")(i)?;
    cut(context("RESTORE SNAPSHOT", |i| {
        let (i, global) = opt(kw("GLOBAL")).parse(i)?;
        let (i, ()) = kw("SNAPSHOT")(i)?;
        let (i, label) = label_name(i)?;
        let (i, ()) = kw("FROM")(i)?;
        let (i, repository) = ident(i)?;
        let (i, tables) = table_list(i)?;
        let (i, properties) = properties(i)?;
        Ok((i, Statement::Restore(Restore { global: global.is_some(), label, repository, tables, properties })))
    }))
    .parse(i)
}
