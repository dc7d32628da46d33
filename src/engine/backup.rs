//! What a BACKUP job does: tablet snapshots from the host, the packer into the repository, the snapshots
//! released.

use std::sync::Arc;

use super::Inner;
use crate::Result;
use crate::host::{Host, TabletRef};
use crate::job::{JobHandle, JobState};
use crate::pack::{self, BackupSource, CancelToken, JobControl, Packer, TabletSource};
use crate::plan::BackupPlan;
use crate::repo::Repository;
use crate::store::RetentionPolicy;

/// The tablet snapshots a backup holds: released exactly once, by [`Snapshots::release`] or, on a panic, when
/// dropped.
struct Snapshots<'a> {
    host: &'a dyn Host,
    database: &'a str,
    tablets: &'a [TabletRef],
    held: bool,
}

impl Snapshots<'_> {
    fn release(mut self) -> Result<()> {
        self.held = false;
        self.host.release(self.database, self.tablets)
    }
}

impl Drop for Snapshots<'_> {
    fn drop(&mut self) {
        if self.held {
            let _ = self.host.release(self.database, self.tablets);
        }
    }
}

/// Where a backup goes: the repository, the retention policy applied after it, and the packer with the
/// backup's compression.
pub(super) struct BackupTarget {
    pub repo: Arc<dyn Repository>,
    pub retention: Option<RetentionPolicy>,
    pub packer: Packer,
}

/// Runs the backup `plan` as job `job`: snapshots, packs and uploads, commits the manifest, releases.
///
/// The snapshots are released on every path once taken (success, failure, cancel, timeout, shutdown, panic).
/// Once the manifest is committed the backup stands: a failure to release is reported beside it as a warning,
/// never instead of it. Then the repository's `retention` policy, if any, is applied to the database's
/// snapshots (a failure there is a warning too).
pub(super) fn run_backup(
    inner: &Inner,
    job: &JobHandle,
    plan: BackupPlan,
    label: &str,
    target: BackupTarget,
    timestamp: String,
    cancel: CancelToken,
) -> Result<()> {
    let BackupTarget { repo, retention, packer } = target;
    let db = plan.database.clone();
    job.set_state(JobState::Snapshoting);
    cancel.check()?;
    let tablets = plan.tablets();
    let dirs = inner.host.snapshot(&db, &tablets)?;
    let snapshots = Snapshots { host: inner.host.as_ref(), database: &db, tablets: &tablets, held: true };
    let result = (|| -> Result<()> {
        // The host's directories come in the order of `tablets`, which is the plan's: no map from tablet to
        // directory (at a million tablets, a table of four names and a path for each).
        if dirs.len() != tablets.len() {
            return Err(crate::Error::new(
                crate::ErrorKind::Callback,
                format!("the host's snapshot returned {} directories for {} tablets", dirs.len(), tablets.len()),
            ));
        }
        let mut dirs = dirs.into_iter();
        let tables = plan.tables.map(|_, t| TabletSource::new(t.id.clone(), dirs.next().unwrap_or_default()));
        let source = BackupSource {
            database: db.clone(),
            tables,
            host_metadata: inner.host.metadata(&db, &plan.table_names())?,
            metadata_only: plan.metadata_only,
            views: plan
                .views
                .iter()
                .map(|v| Ok((v.clone(), inner.host.view_definition(&db, v)?)))
                .collect::<Result<_>>()?,
        };
        job.update(|j| j.snapshot_finished_ms = Some(pack::now_ms()));
        job.set_state(JobState::UploadSnapshot);
        job.set_state(JobState::Uploading);
        let control = JobControl { progress: Some(job.progress()), cancel: cancel.clone(), timestamp: Some(timestamp) };
        packer.backup(repo.as_ref(), &source, label, &control)?;
        job.update(|j| j.transfer_finished_ms = Some(pack::now_ms()));
        job.set_state(JobState::SaveMeta);
        job.set_state(JobState::UploadInfo);
        Ok(())
    })();
    if let Err(e) = snapshots.release() {
        job.warn(format!("releasing the tablet snapshots failed: {e}"));
    }
    if let (Ok(()), Some(policy)) = (&result, &retention) {
        super::retention::apply(repo.as_ref(), policy, &db, job);
    }
    result
}
