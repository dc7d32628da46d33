//! Statement + catalog → the exact tablets a BACKUP takes or a RESTORE writes, or Doris's error.

mod restore;

use std::collections::BTreeMap;

pub use restore::{RestoreChecks, RestorePlan, RestoreTable, plan_restore};

use crate::host::{PartitionInfo, TableInfo, TableKind, TabletInfo, TabletRef};
use crate::sql::ast::{Backup, TableList, TableListKind};
use crate::tree::Tree;
use crate::{Error, ErrorKind, Result};

fn analysis(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Analysis, msg)
}

/// What a BACKUP takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPlan {
    /// The database.
    pub database: String,
    /// The tables, with the partitions taken; each partition carries all its indexes (base, rollups,
    /// synchronous MVs), once.
    pub tables: Tree<TabletInfo>,
    /// The objects as SHOW BACKUP's BackupObjs names them: `db.t`, or `db.t PARTITIONS (p1, p2)` when only
    /// some partitions are taken.
    pub objects: Vec<String>,
    /// The views backed up (their definitions go with the snapshot).
    pub views: Vec<String>,
    /// `"content" = "metadata_only"`: the snapshot records the tables and the host's metadata, no data.
    pub metadata_only: bool,
    /// The tables left out and why (views, materialized views, and with `ignore_unsupported` every table that
    /// is not an OLAP table); the job reports them in TaskErrMsg.
    pub skipped: Vec<String>,
}

impl BackupPlan {
    /// Every tablet, in plan order.
    pub fn tablets(&self) -> Vec<TabletRef> {
        self.tables.tablets().map(|(place, t)| TabletRef::new(place, &t.id)).collect()
    }

    /// The tables' names.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.iter().map(|t| t.name.clone()).collect()
    }
}

/// What a BACKUP does with a table that is not an OLAP table.
fn unsupported_kind(t: &TableInfo) -> Option<String> {
    match &t.kind {
        TableKind::Olap => None,
        TableKind::View => Some(format!(
            "Table '{}' is a view: tabsnap backs up OLAP tables only (Doris 2.x backs views up; not supported here)",
            t.name
        )),
        TableKind::AsyncMaterializedView | TableKind::Other(_) => {
            Some(format!("Table '{}' is not a OLAP table", t.name))
        }
    }
}

/// Plans `stmt` against the tables of `database`. `ignore_unsupported` is Doris's
/// `ignore_backup_not_support_table_type`: a table that is not an OLAP table is skipped (and named in
/// [`BackupPlan::skipped`]) instead of failing the statement. `views`: whether the host backs views up
/// ([`crate::host::HostFeature::Views`]); then views are taken as tables are, as Doris 2.x does.
///
/// - `ON (…)`: each table named; one that is not an OLAP table is refused (Doris's "Table 't' is not a OLAP
///   table").
/// - the whole database, or `EXCLUDE (…)`: every table but those excluded. Asynchronous materialized views
///   (and views, when the host cannot back them up) are skipped and named in [`BackupPlan::skipped`]; any other
///   kind fails the statement as in Doris.
/// - `EXCLUDE (t PARTITION (p1))` excludes just those partitions of `t`; `t` goes without them (and is left
///   out when no partition is left).
///
/// # Errors
/// Doris's messages: "Unknown table 't'", "Table 't' is not a OLAP table", "Unknown partition p in tablet",
/// "Do not support backup table with temp partitions", and an error when nothing is left to back up.
pub fn plan_backup(
    stmt: &Backup,
    database: &str,
    catalog: Vec<TableInfo>,
    ignore_unsupported: bool,
    views: bool,
) -> Result<BackupPlan> {
    let by_name: BTreeMap<&str, &TableInfo> = catalog.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut chosen: Vec<(&TableInfo, Option<Vec<String>>)> = Vec::new();
    let mut skipped = Vec::new();
    let mut view_list = Vec::new();
    let mut skip_or_fail = |t: &TableInfo, named: bool| -> Result<()> {
        if views && t.kind == TableKind::View {
            view_list.push(t.name.clone());
            return Ok(());
        }
        let Some(msg) = unsupported_kind(t) else { return Ok(()) };
        let quiet = !named && matches!(t.kind, TableKind::View | TableKind::AsyncMaterializedView);
        if ignore_unsupported || quiet {
            skipped.push(format!("{msg}: skipped"));
            Ok(())
        } else {
            Err(analysis(msg))
        }
    };
    match &stmt.tables {
        Some(TableList { kind: TableListKind::On, tables }) => {
            for r in tables {
                let t =
                    by_name.get(r.table.as_str()).ok_or_else(|| analysis(format!("Unknown table '{}'", r.table)))?;
                if t.kind != TableKind::Olap {
                    if r.partitions.is_some() {
                        return Err(analysis(format!("Table '{}' is not a OLAP table: it has no partitions", r.table)));
                    }
                    skip_or_fail(t, true)?;
                    continue;
                }
                chosen.push((t, r.partitions.as_ref().map(|p| p.names.clone())));
            }
        }
        Some(TableList { kind: TableListKind::Exclude, tables }) => {
            for t in &catalog {
                let excluded = tables.iter().find(|r| r.table == t.name);
                match excluded.map(|r| &r.partitions) {
                    Some(None) => continue,
                    _ if t.kind != TableKind::Olap => skip_or_fail(t, false)?,
                    None => chosen.push((t, None)),
                    Some(Some(list)) => {
                        for n in &list.names {
                            if !t.partitions.iter().any(|p| &p.name == n) {
                                return Err(analysis(format!("Unknown partition {n} in table{}", t.name)));
                            }
                        }
                        let rest: Vec<String> = t
                            .partitions
                            .iter()
                            .filter(|p| !p.temporary && !list.names.contains(&p.name))
                            .map(|p| p.name.clone())
                            .collect();
                        if !rest.is_empty() {
                            chosen.push((t, Some(rest)));
                        }
                    }
                }
            }
        }
        None => {
            for t in &catalog {
                if t.kind == TableKind::Olap {
                    chosen.push((t, None));
                } else {
                    skip_or_fail(t, false)?;
                }
            }
        }
    }
    // The selection borrows the catalog; the plan takes the chosen tables and partitions out of it (a catalog of
    // a million tablets is not copied).
    let chosen: Vec<(usize, Option<Vec<String>>)> = chosen
        .into_iter()
        .map(|(t, parts)| (catalog.iter().position(|c| std::ptr::eq(c, t)).unwrap_or(usize::MAX), parts))
        .collect();
    let mut catalog: Vec<Option<TableInfo>> = catalog.into_iter().map(Some).collect();
    let mut tables = Vec::new();
    for (i, partitions) in chosen {
        let Some(mut t) = catalog.get_mut(i).and_then(Option::take) else { continue };
        let all = t.partitions.len();
        let parts = match partitions {
            None => {
                if t.partitions.iter().any(|p| p.temporary) {
                    return Err(analysis("Do not support backup table with temp partitions"));
                }
                std::mem::take(&mut t.partitions)
            }
            Some(names) => {
                let mut out = Vec::new();
                for n in &names {
                    let p = t
                        .partitions
                        .iter_mut()
                        .find(|p| &p.name == n)
                        .ok_or_else(|| analysis(format!("Unknown partition {n} in table{}", t.name)))?;
                    if p.temporary {
                        return Err(analysis("Do not support backup temp partitions"));
                    }
                    out.push(PartitionInfo {
                        name: p.name.clone(),
                        temporary: false,
                        indexes: std::mem::take(&mut p.indexes),
                    });
                }
                out
            }
        };
        let partial = parts.len() < all;
        tables.push((TableInfo { partitions: parts, ..t }, partial));
    }
    if tables.is_empty() && view_list.is_empty() {
        return Err(analysis(format!("No OLAP table to back up in database {database}")));
    }
    let objects: Vec<String> = tables
        .iter()
        .map(|(t, partial)| {
            if *partial {
                let names: Vec<&str> = t.partitions.iter().map(|p| p.name.as_str()).collect();
                format!("{database}.{} PARTITIONS ({})", t.name, names.join(", "))
            } else {
                format!("{database}.{}", t.name)
            }
        })
        .chain(view_list.iter().map(|v| format!("{database}.{v}")))
        .collect();
    let tables = tables.into_iter().map(|(t, _)| t).collect();
    let metadata_only = stmt.properties.get("content").is_some_and(|c| c.eq_ignore_ascii_case("metadata_only"));
    Ok(BackupPlan { database: database.into(), tables, views: view_list, objects, metadata_only, skipped })
}
