//! What a RESTORE job does: a target from the host for every tablet, the packer from the repository, the
//! restored tables committed (or the uncommitted ones aborted).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::Inner;
use crate::Result;
use crate::format::Manifest;
use crate::host::TabletRef;
use crate::job::{JobHandle, JobState};
use crate::pack::{self, CancelToken, JobControl};
use crate::plan::RestorePlan;
use crate::repo::Repository;
use crate::tree::Place;

/// Runs the restore `plan` of `manifest` as job `job`. When it fails, every table not yet committed is aborted;
/// a failure to abort is reported beside the job's error as a warning.
pub(super) fn run_restore(
    inner: &Inner,
    job: &JobHandle,
    plan: RestorePlan,
    manifest: Manifest,
    repo: Arc<dyn Repository>,
    cancel: CancelToken,
) -> Result<()> {
    let db = plan.database.clone();
    let id = job.id();
    job.set_state(JobState::Snapshoting);
    let mut committed: Vec<&str> = Vec::new();
    let result = (|| -> Result<()> {
        // Prepare a target for every tablet restored, keyed by the manifest's own names (no copy of four names
        // per tablet, and none made to look one up).
        let mut targets: HashMap<(&str, &str, &str, &str), PathBuf> = HashMap::new();
        for (place, tablet) in manifest.tables.tablets() {
            let Some(target) = plan.target_of(place.table, place.partition) else { continue };
            cancel.check()?;
            let index = if place.index == place.table { target } else { place.index };
            let r = TabletRef::new(Place { table: target, index, ..place }, &tablet.id);
            let dir = inner.host.restore_target(&db, id, &r)?;
            targets.insert((place.table, place.partition, place.index, &tablet.id), dir);
        }
        job.update(|j| {
            j.snapshot_finished_ms = Some(pack::now_ms());
            j.tablets = targets.len() as u64;
        });
        job.set_state(JobState::Download);
        job.set_state(JobState::Downloading);
        let control = JobControl { progress: Some(job.progress()), cancel: cancel.clone(), timestamp: None };
        // Under a shared lock: no garbage collection runs while the packs are read.
        crate::store::with_shared_lock(repo.as_ref(), "restore", |_| {
            inner.packer.restore(
                repo.as_ref(),
                &manifest,
                &|place, tablet| targets.get(&(place.table, place.partition, place.index, tablet.id.as_str())).cloned(),
                &control,
            )
        })?;
        job.update(|j| j.transfer_finished_ms = Some(pack::now_ms()));
        job.set_state(JobState::Commit);
        cancel.check()?;
        job.set_state(JobState::Committing);
        let metadata = manifest.host_metadata_bytes();
        for t in &plan.tables {
            inner.host.commit_restore_with(&db, id, &t.target, &t.source, &metadata, &plan.commit)?;
            committed.push(&t.target);
        }
        for (_, view, definition) in &plan.views {
            inner.host.create_view(&db, id, view, definition)?;
        }
        // clean_tables / clean_partitions: what the snapshot does not hold goes once every table is committed.
        for table in &plan.drop_tables {
            inner.host.drop_table(&db, id, table)?;
        }
        for (table, partitions) in &plan.drop_partitions {
            inner.host.drop_partitions(&db, id, table, partitions)?;
        }
        Ok(())
    })();
    if result.is_err() {
        for t in plan.tables.iter().filter(|t| !committed.contains(&t.target.as_str())) {
            if let Err(e) = inner.host.abort_restore(&db, id, &t.target) {
                job.warn(format!("aborting the restore of table {} failed: {e}", t.target));
            }
        }
    }
    result
}

/// The backup a RESTORE names: its `backup_timestamp` property, or, for `"latest"` (tabsnap's extension; Doris
/// requires a timestamp), the label's newest backup in `repo`.
///
/// # Errors
/// An analysis error when `"latest"` is asked of a label with no backup in `repo`.
pub(super) fn backup_timestamp(
    repo: &dyn Repository,
    label: &str,
    properties: &crate::sql::ast::Properties,
) -> Result<String> {
    let given = properties.get("backup_timestamp").unwrap_or_default();
    if !pack::is_latest(given) {
        return Ok(given.to_owned());
    }
    pack::latest_snapshot(repo, label).map(|s| s.timestamp).map_err(|e| {
        crate::Error::new(
            crate::ErrorKind::Analysis,
            format!(
                "Failed to get info of snapshot '{label}' because: {} (\"backup_timestamp\" = \"{given}\")",
                e.message()
            ),
        )
    })
}
