//! SHOW rendering: [`ResultSet`], and the rows of SHOW REPOSITORIES, SHOW SNAPSHOT, SHOW BACKUP and SHOW RESTORE.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Engine;
use crate::format::Manifest;
use crate::job::{self, JobInfo, JobKind};
use crate::sql::{self, NameFilter};
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
                let (db, details, status) = match pack::load_manifest(repo.as_ref(), &s.label, &s.timestamp) {
                    Ok(m) => (m.database.clone(), manifest_details(&m), "OK".to_owned()),
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

/// SHOW SNAPSHOT's Details column: the snapshot's tables and partitions, file and byte counts.
fn manifest_details(m: &Manifest) -> String {
    let files = m.files().count();
    let bytes: u64 = m.files().map(|f| f.file.size).sum();
    serde_json::json!({
        "database": m.database,
        "label": m.label,
        "backup_time": m.timestamp,
        "olap_table_list": m.tables.iter().map(|t| serde_json::json!({
            "name": t.name,
            "partition_names": t.partitions.iter().map(|p| &p.name).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "view_list": m.views.iter().map(|v| serde_json::json!({ "name": v.name })).collect::<Vec<_>>(),
        "files": files,
        "bytes": bytes,
    })
    .to_string()
}
