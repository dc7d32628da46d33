//! SHOW (BACKUP | RESTORE | SNAPSHOT | REPOSITORIES) and CANCEL (BACKUP | RESTORE).

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{cut, map, opt};
use nom::error::context;

use super::common::{filter, from_db, ident, kw};
use super::{Input, PResult};
use crate::sql::ast::{Cancel, ShowBackup, ShowRestore, ShowSnapshot, Statement};

/// `SHOW BACKUP [(FROM|IN) db] [filter]` | `SHOW [BRIEF | GLOBAL] RESTORE [(FROM|IN) db] [filter]`
/// | `SHOW SNAPSHOT ON repo [filter]` | `SHOW REPOSITORIES`
pub(super) fn show(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("SHOW")(i)?;
    let backup = |i| {
        let (i, ()) = kw("BACKUP")(i)?;
        let (i, (database, filter)) = cut(context("SHOW BACKUP", (from_db, filter))).parse(i)?;
        Ok((i, Statement::ShowBackup(ShowBackup { database, filter })))
    };
    let restore = |i| {
        let (i, modifier) = opt(alt((map(kw("BRIEF"), |()| "BRIEF"), map(kw("GLOBAL"), |()| "GLOBAL")))).parse(i)?;
        let (i, ()) = kw("RESTORE")(i)?;
        let (i, (database, filter)) = cut(context("SHOW RESTORE", (from_db, filter))).parse(i)?;
        let (brief, global) = (modifier == Some("BRIEF"), modifier == Some("GLOBAL"));
        Ok((i, Statement::ShowRestore(ShowRestore { brief, global, database, filter })))
    };
    let snapshot = |i| {
        let (i, ()) = kw("SNAPSHOT")(i)?;
        let (i, ((), repository, filter)) = cut(context("SHOW SNAPSHOT", (kw("ON"), ident, filter))).parse(i)?;
        Ok((i, Statement::ShowSnapshot(ShowSnapshot { repository, filter })))
    };
    let repositories = map(kw("REPOSITORIES"), |()| Statement::ShowRepositories);
    cut(alt((backup, restore, snapshot, repositories))).parse(i)
}

/// `CANCEL BACKUP [(FROM|IN) db] [filter]` | `CANCEL [GLOBAL] RESTORE [(FROM|IN) db] [filter]`
pub(super) fn cancel(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, ()) = kw("CANCEL")(i)?;
    let backup = |i| {
        let (i, ()) = kw("BACKUP")(i)?;
        let (i, (database, filter)) = cut(context("CANCEL BACKUP", (from_db, filter))).parse(i)?;
        Ok((i, Statement::CancelBackup(Cancel { global: false, database, filter })))
    };
    let restore = |i| {
        let (i, global) = opt(kw("GLOBAL")).parse(i)?;
        let (i, ()) = kw("RESTORE")(i)?;
        let (i, (database, filter)) = cut(context("CANCEL RESTORE", (from_db, filter))).parse(i)?;
        Ok((i, Statement::CancelRestore(Cancel { global: global.is_some(), database, filter })))
    };
    cut(alt((backup, restore))).parse(i)
}
