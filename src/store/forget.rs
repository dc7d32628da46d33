//! Forget: applies a [`RetentionPolicy`] to a repository's snapshots, per database, deletes the manifests of
//! the snapshots it drops, and frees their space through a garbage collection (which defers when the
//! repository is in use: the snapshots are gone at once, their space is freed by a later collection).

use std::collections::BTreeMap;

use super::gc::{GcOutcome, collect_garbage};
use super::retention::RetentionPolicy;
use crate::Result;
use crate::format::manifest_key;
use crate::pack::{list_snapshots, load_stored_manifest};
use crate::repo::Repository;

/// What [`forget`] decided for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgetDecision {
    /// The snapshot's database.
    pub database: String,
    /// Its label.
    pub label: String,
    /// Its backup timestamp.
    pub timestamp: String,
    /// Whether it is kept.
    pub keep: bool,
    /// The rules that keep it; empty when dropped.
    pub reasons: Vec<&'static str>,
}

/// What [`forget`] did.
#[derive(Debug, Clone)]
pub struct ForgetReport {
    /// Nothing was removed.
    pub dry_run: bool,
    /// One decision per snapshot considered, by database, newest first.
    pub decisions: Vec<ForgetDecision>,
    /// The garbage collection that freed the dropped snapshots' space (`None` in a dry run or when nothing
    /// was dropped); [`GcOutcome::Busy`] when the repository was in use and the space waits for a later one.
    pub gc: Option<GcOutcome>,
}

impl ForgetReport {
    /// The decisions that drop their snapshot.
    pub fn dropped(&self) -> impl Iterator<Item = &ForgetDecision> {
        self.decisions.iter().filter(|d| !d.keep)
    }
}

/// Which snapshots [`forget`] considers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForgetScope {
    /// Only this database's snapshots.
    pub database: Option<String>,
    /// Only snapshots with this label.
    pub label: Option<String>,
}

/// Applies `policy` to the snapshots of `repo` in `scope`, each database's separately: deletes the manifests
/// of those it drops (unless `dry_run`), then collects garbage. Snapshots of other databases and labels are
/// not touched.
///
/// # Errors
/// A manifest that cannot be read (named; nothing is deleted then); an empty policy; repository errors.
pub fn forget(
    repo: &dyn Repository,
    policy: &RetentionPolicy,
    scope: &ForgetScope,
    dry_run: bool,
) -> Result<ForgetReport> {
    let mut groups: BTreeMap<String, Vec<(String, String, u64)>> = BTreeMap::new();
    for s in list_snapshots(repo)? {
        if scope.label.as_ref().is_some_and(|l| *l != s.label) {
            continue;
        }
        let m = load_stored_manifest(repo, &s.label, &s.timestamp)?;
        if scope.database.as_ref().is_some_and(|d| d != m.database()) {
            continue;
        }
        groups.entry(m.database().to_owned()).or_default().push((s.label, s.timestamp, m.created_ms()));
    }
    let mut decisions = Vec::new();
    for (database, mut snapshots) in groups {
        // Snapshots of one second are ordered by when their backups started.
        snapshots.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
        let timestamps: Vec<&str> = snapshots.iter().map(|(_, t, _)| t.as_str()).collect();
        for d in policy.select(&timestamps)? {
            let (label, timestamp, _) = &snapshots[d.index];
            decisions.push(ForgetDecision {
                database: database.clone(),
                label: label.clone(),
                timestamp: timestamp.clone(),
                keep: d.keep,
                reasons: d.reasons,
            });
        }
    }
    let mut report = ForgetReport { dry_run, decisions, gc: None };
    if dry_run || report.dropped().next().is_none() {
        return Ok(report);
    }
    for d in report.decisions.iter().filter(|d| !d.keep) {
        repo.delete(&manifest_key(&d.label, &d.timestamp))?;
    }
    report.gc = Some(collect_garbage(repo, false)?);
    Ok(report)
}
