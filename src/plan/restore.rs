//! Statement + snapshot manifest + target catalog → what a RESTORE writes, drops and commits, or Doris's error.

use std::collections::BTreeSet;

use super::analysis;
use crate::Result;
use crate::format::Manifest;
use crate::host::{RestoreCommit, TableInfo, TableKind};
use crate::sql::ast::{Restore, TableList, TableListKind};

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
    /// The views restored: (name in the snapshot, name after the restore, definition).
    pub views: Vec<(String, String, String)>,
    /// The properties every restored table is committed with.
    pub commit: RestoreCommit,
    /// `clean_tables`: the tables of the target database that are not restored, dropped after the commit.
    pub drop_tables: Vec<String>,
    /// `clean_partitions`: per restored table that exists, its partitions that are not restored, dropped after
    /// the commit.
    pub drop_partitions: Vec<(String, Vec<String>)>,
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

/// The choices of a RESTORE's properties that shape its plan.
pub struct RestoreChecks<'a> {
    /// The commit properties (`atomic_restore` among them).
    pub commit: RestoreCommit,
    /// `force_replace`: an existing table with another schema is replaced (needs `atomic_restore`).
    pub force_replace: bool,
    /// `clean_tables`.
    pub clean_tables: bool,
    /// `clean_partitions`.
    pub clean_partitions: bool,
    /// Whether the host restores views ([`crate::host::HostFeature::Views`]).
    pub views: bool,
    /// Whether the existing `target` table's schema differs from the snapshot table `source`'s, where the
    /// host can tell.
    pub schema_differs: &'a dyn Fn(&str, &str) -> Result<bool>,
}

/// Plans `stmt` (restoring into `database`) against the snapshot `manifest` and the target database's
/// `catalog` (empty when the database does not exist yet).
///
/// - `ON (t [PARTITION (…)] [AS a])`: those tables (partitions); each must be in the snapshot.
/// - `EXCLUDE (…)`: every table of the snapshot but those named; a name not in the snapshot is ignored, as
///   Doris ignores it; `EXCLUDE (t PARTITION (p1))` leaves out just those partitions of `t`.
///
/// # Errors
/// Doris's messages: "Table t does not exist in snapshot l", "Partition p of table t does not exist in
/// snapshot", "Table t already exist but with different schema".
pub fn plan_restore(
    stmt: &Restore,
    database: &str,
    manifest: &Manifest,
    catalog: &[TableInfo],
    checks: &RestoreChecks<'_>,
) -> Result<RestorePlan> {
    let label = &stmt.label.label;
    let mut tables = Vec::new();
    let mut views: Vec<(String, String, String)> = Vec::new();
    let snapshot_view = |name: &str| manifest.views.iter().find(|v| v.name == name);
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
                if let Some(v) = snapshot_view(&r.table) {
                    if r.partitions.is_some() {
                        return Err(analysis(format!("{} is a view: it has no partitions", r.table)));
                    }
                    let target = r.alias.clone().unwrap_or_else(|| r.table.clone());
                    views.push((v.name.clone(), target, v.definition.clone()));
                    continue;
                }
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
            for t in &manifest.tables {
                let excluded = refs.iter().find(|r| r.table == t.name).map(|r| r.partitions.as_ref());
                let partitions: Vec<String> = match excluded {
                    Some(None) => continue,
                    Some(Some(list)) => {
                        t.partitions.iter().filter(|p| !list.names.contains(&p.name)).map(|p| p.name.clone()).collect()
                    }
                    None => t.partitions.iter().map(|p| p.name.clone()).collect(),
                };
                if partitions.is_empty() && !t.partitions.is_empty() {
                    continue;
                }
                tables.push(RestoreTable { source: t.name.clone(), target: t.name.clone(), partitions });
            }
            for v in &manifest.views {
                if !refs.iter().any(|r| r.table == v.name) {
                    views.push((v.name.clone(), v.name.clone(), v.definition.clone()));
                }
            }
        }
        None => {
            for t in &manifest.tables {
                let partitions = t.partitions.iter().map(|p| p.name.clone()).collect();
                tables.push(RestoreTable { source: t.name.clone(), target: t.name.clone(), partitions });
            }
            for v in &manifest.views {
                views.push((v.name.clone(), v.name.clone(), v.definition.clone()));
            }
        }
    }
    if let Some((name, _, _)) = views.first()
        && !checks.views
    {
        return Err(analysis(format!(
            "Snapshot {label} holds view {name}: this host does not restore views (EXCLUDE it)"
        )));
    }
    for (_, target, _) in &views {
        if catalog.iter().any(|t| &t.name == target && t.kind != TableKind::View) {
            return Err(analysis(format!("Table {target} already exist but with different schema")));
        }
    }
    if checks.commit.atomic_replace {
        for (r, t) in stmt.tables.iter().flat_map(|l| l.tables.iter().map(move |t| (l, t))) {
            if r.kind == TableListKind::On && t.partitions.is_some() {
                return Err(analysis(format!(
                    "atomic_restore replaces table {} whole: it cannot be combined with a PARTITION list",
                    t.table
                )));
            }
        }
    }
    // A table restored into an existing one must have the same indexes and schema, unless it is replaced.
    for rt in &tables {
        let Some(existing) = catalog.iter().find(|t| t.name == rt.target) else { continue };
        if checks.force_replace {
            continue;
        }
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
        if existing.kind != TableKind::Olap
            || (!empty && snap_rollups != have_rollups)
            || (checks.schema_differs)(&rt.target, &rt.source)?
        {
            return Err(analysis(format!("Table {} already exist but with different schema", rt.target)));
        }
    }
    let mut targets = BTreeSet::new();
    for t in tables.iter().map(|t| &t.target).chain(views.iter().map(|v| &v.1)) {
        if !targets.insert(t.as_str()) {
            return Err(analysis(format!("Duplicated alias name: {t}")));
        }
    }
    if tables.is_empty() && views.is_empty() {
        return Err(analysis(format!("Nothing to restore from snapshot {label}")));
    }
    let drop_tables = if checks.clean_tables {
        catalog
            .iter()
            .filter(|t| t.kind == TableKind::Olap && !targets.contains(t.name.as_str()))
            .map(|t| t.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let mut drop_partitions = Vec::new();
    if checks.clean_partitions && !checks.commit.atomic_replace {
        for rt in &tables {
            let Some(existing) = catalog.iter().find(|t| t.name == rt.target) else { continue };
            let extra: Vec<String> = existing
                .partitions
                .iter()
                .filter(|p| !p.temporary && !rt.partitions.contains(&p.name))
                .map(|p| p.name.clone())
                .collect();
            if !extra.is_empty() {
                drop_partitions.push((rt.target.clone(), extra));
            }
        }
    }
    Ok(RestorePlan {
        database: database.into(),
        tables,
        views,
        commit: checks.commit.clone(),
        drop_tables,
        drop_partitions,
    })
}
