//! SHOW rendering: [`ResultSet`], and the rows of SHOW REPOSITORIES, SHOW SNAPSHOT, SHOW BACKUP and SHOW RESTORE.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Engine;
use crate::format::{StoredManifest, TabletEntry};
use crate::job::{self, JobInfo, JobKind};
use crate::repo::Repository;
use crate::sql::{self, NameFilter};
use crate::tree::Tree;
use crate::{Result, pack};

/// Doris's `FeConstants.null_string`, shown where a value is missing.
const NULL: &str = "\\N";

/// Rows with named columns, as SHOW returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ResultSet {
    /// The column names, Doris's.
    pub columns: Vec<String>,
    /// The rows, each as many values as columns.
    pub rows: Vec<Vec<String>>,
}

impl ResultSet {
    fn new(columns: &[&str]) -> ResultSet {
        ResultSet { columns: columns.iter().map(|c| (*c).to_owned()).collect(), rows: Vec::new() }
    }

    /// The value of `column` in row `row`.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        let c = self.columns.iter().position(|n| n == column)?;
        self.rows.get(row)?.get(c).map(String::as_str)
    }
}

impl Engine {
    /// The jobs of `kind` in `db` whose label `filter` selects, oldest first.
    pub(super) fn jobs_of(&self, db: &str, kind: JobKind, filter: Option<&NameFilter>) -> Vec<JobInfo> {
        self.inner.jobs.select(|j| j.kind == kind && j.database == db && filter.is_none_or(|f| f.matches(&j.label)))
    }

    /// SHOW BACKUP.
    pub(super) fn show_backup(&self, db: &str, filter: Option<&NameFilter>) -> ResultSet {
        let mut rs = ResultSet::new(job::BACKUP_COLUMNS);
        rs.rows = self.jobs_of(db, JobKind::Backup, filter).iter().map(JobInfo::backup_row).collect();
        rs
    }

    /// SHOW [BRIEF] RESTORE.
    pub(super) fn show_restore(&self, db: &str, filter: Option<&NameFilter>, brief: bool) -> ResultSet {
        let mut rs =
            if brief { ResultSet::new(&job::brief_restore_columns()) } else { ResultSet::new(job::RESTORE_COLUMNS) };
        rs.rows = self.jobs_of(db, JobKind::Restore, filter).iter().map(|j| j.restore_row(brief)).collect();
        rs
    }

    /// SHOW REPOSITORIES.
    pub(super) fn show_repositories(&self) -> ResultSet {
        let mut rs =
            ResultSet::new(&["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Broker", "Type", "ErrMsg"]);
        for (m, repo) in self.inner.registry.entries() {
            let err = pack::list_snapshots(repo.as_ref()).err().map_or("NULL".to_owned(), |e| e.to_string());
            rs.rows.push(vec![
                m.id.to_string(),
                m.name.clone(),
                job::time_text(Some(m.create_ms)),
                m.read_only.to_string(),
                m.location.clone(),
                "-".into(),
                m.kind.clone(),
                err,
            ]);
        }
        rs
    }

    /// SHOW SNAPSHOT ON `repository` [WHERE …].
    pub(super) fn show_snapshot(&self, repository: &str, filter: &sql::SnapshotFilter) -> Result<ResultSet> {
        let (_, repo) = self.inner.registry.get(repository)?;
        let snaps = pack::list_snapshots(repo.as_ref())?;
        let selected = snaps.iter().filter(|s| filter.snapshot.as_ref().is_none_or(|l| &s.label == l));
        if let Some(ts) = &filter.timestamp {
            let mut rs = ResultSet::new(&["Snapshot", "Timestamp", "Database", "Details", "Status"]);
            let mut found = false;
            for s in selected.filter(|s| &s.timestamp == ts) {
                found = true;
                let (db, details, status) = match snapshot_details(repo.as_ref(), &s.label, &s.timestamp) {
                    Ok((db, details)) => (db, details, "OK".to_owned()),
                    Err(e) => (String::new(), String::new(), format!("ERROR: {e}")),
                };
                rs.rows.push(vec![s.label.clone(), s.timestamp.clone(), db, details, status]);
            }
            if !found && let Some(label) = &filter.snapshot {
                // Doris answers a snapshot it cannot find with an error row, not an empty set.
                let status = format!("Failed to get info: snapshot {label} with timestamp {ts} does not exist");
                rs.rows.push(vec![label.clone(), ts.clone(), NULL.into(), NULL.into(), status]);
            }
            return Ok(rs);
        }
        let mut by_label: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in selected {
            by_label.entry(&s.label).or_default().push(&s.timestamp);
        }
        let mut rs = ResultSet::new(&["Snapshot", "Timestamp", "Status"]);
        if by_label.is_empty()
            && let Some(label) = &filter.snapshot
        {
            rs.rows.push(vec![label.clone(), NULL.into(), "ERROR: No info file found".into()]);
        }
        for (label, ts) in by_label {
            rs.rows.push(vec![label.to_owned(), ts.join("\n"), "OK".into()]);
        }
        Ok(rs)
    }
}

/// SHOW SNAPSHOT's Database and Details columns: the snapshot's tables and partitions, file and byte counts,
/// read from its manifest one page at a time (a snapshot of a million tablets is never whole in memory here).
fn snapshot_details(repo: &dyn Repository, label: &str, timestamp: &str) -> Result<(String, String)> {
    let key = crate::format::manifest_key(label, timestamp);
    let mut d = Details::default();
    let (database, label, timestamp, views) = match pack::load_stored_manifest(repo, label, timestamp)? {
        StoredManifest::Whole(m) => {
            d.add(&m.tables);
            (m.database, m.label, m.timestamp, m.views)
        }
        StoredManifest::Paged(h) => {
            h.for_each_page(
                &key,
                |_, page| crate::store::read_page(repo, page),
                |tree| {
                    d.add(&tree);
                    Ok(())
                },
            )?;
            (h.database, h.label, h.timestamp, h.views)
        }
    };
    let details = serde_json::json!({
        "database": database,
        "label": label,
        "backup_time": timestamp,
        "olap_table_list": d.tables.iter().map(|(name, partitions)| serde_json::json!({
            "name": name,
            "partition_names": partitions,
        })).collect::<Vec<_>>(),
        "view_list": views.iter().map(|v| serde_json::json!({ "name": v.name })).collect::<Vec<_>>(),
        "files": d.files,
        "bytes": d.bytes,
    })
    .to_string();
    Ok((database, details))
}

/// What SHOW SNAPSHOT's Details says of a snapshot's tablets, gathered page by page: tables in order with their
/// partitions (a page continues the previous one's last table and partition when it starts with their names).
#[derive(Default)]
struct Details {
    tables: Vec<(String, Vec<String>)>,
    files: u64,
    bytes: u64,
}

impl Details {
    fn add(&mut self, tree: &Tree<TabletEntry>) {
        for t in tree {
            if self.tables.last().is_none_or(|(name, _)| *name != t.name) {
                self.tables.push((t.name.clone(), Vec::new()));
            }
            let partitions = &mut self.tables.last_mut().expect("a table").1;
            for p in &t.partitions {
                if partitions.last() != Some(&p.name) {
                    partitions.push(p.name.clone());
                }
            }
        }
        for (_, tablet) in tree.tablets() {
            self.files += tablet.files.len() as u64;
            self.bytes += tablet.files.iter().map(|f| f.size).sum::<u64>();
        }
    }
}
