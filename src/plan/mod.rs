//! Statement + catalog → the exact tablets a BACKUP takes or a RESTORE writes, or Doris's error.

use std::collections::{BTreeMap, BTreeSet};

use crate::format::Manifest;
use crate::host::{PartitionInfo, TableInfo, TableKind, TabletRef};
use crate::sql::ast::{Backup, Restore, TableList, TableListKind};
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
    pub tables: Vec<(String, Vec<PartitionInfo>)>,
}

impl BackupPlan {
    /// Every tablet, in plan order.
    pub fn tablets(&self) -> Vec<TabletRef> {
        let mut out = Vec::new();
        for (table, partitions) in &self.tables {
            for p in partitions {
                for i in &p.indexes {
                    for t in &i.tablets {
                        out.push(TabletRef {
                            table: table.clone(),
                            partition: p.name.clone(),
                            index: i.name.clone(),
                            tablet: t.id.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The tables' names.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.iter().map(|(t, _)| t.clone()).collect()
    }
}

/// Plans `stmt` against the tables of `database`.
///
/// # Errors
/// Doris's messages: "Unknown table 't'", "Table 't' is not a OLAP table", "Unknown partition p in tablet",
/// "Do not support backup table with temp partitions", and an error when nothing is left to back up.
pub fn plan_backup(stmt: &Backup, database: &str, catalog: &[TableInfo]) -> Result<BackupPlan> {
    let by_name: BTreeMap<&str, &TableInfo> = catalog.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut chosen: Vec<(&TableInfo, Option<&[String]>)> = Vec::new();
    match &stmt.tables {
        Some(TableList { kind: TableListKind::On, tables }) => {
            for r in tables {
                let t =
                    by_name.get(r.table.as_str()).ok_or_else(|| analysis(format!("Unknown table '{}'", r.table)))?;
                if t.kind != TableKind::Olap {
                    return Err(analysis(format!("Table '{}' is not a OLAP table", r.table)));
                }
                chosen.push((t, r.partitions.as_ref().map(|p| p.names.as_slice())));
            }
        }
        Some(TableList { kind: TableListKind::Exclude, tables }) => {
            let excluded: BTreeSet<&str> = tables.iter().map(|r| r.table.as_str()).collect();
            chosen.extend(
                catalog
                    .iter()
                    .filter(|t| t.kind == TableKind::Olap && !excluded.contains(t.name.as_str()))
                    .map(|t| (t, None)),
            );
        }
        None => chosen.extend(catalog.iter().filter(|t| t.kind == TableKind::Olap).map(|t| (t, None))),
    }
    let mut tables = Vec::new();
    for (t, partitions) in chosen {
        let parts = match partitions {
            None => {
                if t.partitions.iter().any(|p| p.temporary) {
                    return Err(analysis("Do not support backup table with temp partitions"));
                }
                t.partitions.clone()
            }
            Some(names) => {
                let mut out = Vec::new();
                for n in names {
                    let p = t
                        .partitions
                        .iter()
                        .find(|p| &p.name == n)
                        .ok_or_else(|| analysis(format!("Unknown partition {n} in table{}", t.name)))?;
                    if p.temporary {
                        return Err(analysis("Do not support backup temp partitions"));
                    }
                    out.push(p.clone());
                }
                out
            }
        };
        tables.push((t.name.clone(), parts));
    }
    if tables.is_empty() {
        return Err(analysis(format!("No OLAP table to back up in database {database}")));
    }
    Ok(BackupPlan { database: database.into(), tables })
}

/// One table a RESTORE writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreTable {
    /// Its name in the snapshot.
    pub source: String,
    /// Its name after the restore (the alias, or the same name).
    pub target: String,
    /// The partitions restored.
    pub partitions: Vec<String>,
}

/// What a RESTORE writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    /// The target database.
    pub database: String,
    /// The tables.
    pub tables: Vec<RestoreTable>,
}

impl RestorePlan {
    /// The target table of snapshot table `source` and whether partition `partition` is restored.
    pub fn target_of(&self, source: &str, partition: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|t| t.source == source && t.partitions.iter().any(|p| p == partition))
            .map(|t| t.target.as_str())
    }
}

/// Plans `stmt` (restoring into `database`) against the snapshot `manifest` and the target database's
/// `catalog` (empty when the database does not exist yet).
///
/// # Errors
/// Doris's messages: "Table t does not exist in snapshot l", "Partition p of table t does not exist in
/// snapshot", "Table t already exist but with different schema".
pub fn plan_restore(stmt: &Restore, database: &str, manifest: &Manifest, catalog: &[TableInfo]) -> Result<RestorePlan> {
    let label = &stmt.label.label;
    let mut tables = Vec::new();
    let snapshot_table = |name: &str| {
        manifest
            .tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| analysis(format!("Table {name} does not exist in snapshot {label}")))
    };
    match &stmt.tables {
        Some(TableList { kind: TableListKind::On, tables: refs }) => {
            for r in refs {
                let t = snapshot_table(&r.table)?;
                let partitions = match &r.partitions {
                    None => t.partitions.iter().map(|p| p.name.clone()).collect(),
                    Some(list) => {
                        for n in &list.names {
                            if !t.partitions.iter().any(|p| &p.name == n) {
                                return Err(analysis(format!(
                                    "Partition {n} of table {} does not exist in snapshot",
                                    r.table
                                )));
                            }
                        }
                        list.names.clone()
                    }
                };
                let target = r.alias.clone().unwrap_or_else(|| r.table.clone());
                tables.push(RestoreTable { source: r.table.clone(), target, partitions });
            }
        }
        Some(TableList { kind: TableListKind::Exclude, tables: refs }) => {
            for r in refs {
                snapshot_table(&r.table)?;
            }
            for t in &manifest.tables {
                if !refs.iter().any(|r| r.table == t.name) {
                    let partitions = t.partitions.iter().map(|p| p.name.clone()).collect();
                    tables.push(RestoreTable { source: t.name.clone(), target: t.name.clone(), partitions });
                }
            }
        }
        None => {
            for t in &manifest.tables {
                let partitions = t.partitions.iter().map(|p| p.name.clone()).collect();
                tables.push(RestoreTable { source: t.name.clone(), target: t.name.clone(), partitions });
            }
        }
    }
    // A table restored into an existing one must have the same indexes.
    for rt in &tables {
        if let Some(existing) = catalog.iter().find(|t| t.name == rt.target) {
            let snap = snapshot_table(&rt.source)?;
            let snap_rollups: BTreeSet<&str> = snap
                .partitions
                .iter()
                .flat_map(|p| p.indexes.iter().map(|i| i.name.as_str()))
                .filter(|n| *n != rt.source)
                .collect();
            let have_rollups: BTreeSet<&str> = existing
                .partitions
                .iter()
                .flat_map(|p| p.indexes.iter().map(|i| i.name.as_str()))
                .filter(|n| *n != rt.target)
                .collect();
            let empty = existing.partitions.is_empty();
            if existing.kind != TableKind::Olap || (!empty && snap_rollups != have_rollups) {
                return Err(analysis(format!("Table {} already exist but with different schema", rt.target)));
            }
        }
    }
    let mut targets = BTreeSet::new();
    for t in &tables {
        if !targets.insert(t.target.as_str()) {
            return Err(analysis(format!("Duplicated alias name: {}", t.target)));
        }
    }
    if tables.is_empty() {
        return Err(analysis(format!("Nothing to restore from snapshot {label}")));
    }
    Ok(RestorePlan { database: database.into(), tables })
}
