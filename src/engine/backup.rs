//! What a BACKUP job does: tablet snapshots from the host, the packer into the repository, the snapshots
//! released.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::Inner;
use crate::Result;
use crate::host::{Host, HostFeature, TabletInfo, TabletRef};
use crate::job::{JobHandle, JobState};
use crate::pack::{self, CancelToken, JobControl, Packer};
use crate::plan::BackupPlan;
use crate::repo::Repository;
use crate::store::RetentionPolicy;
use crate::tree::{Place, Tree};

/// A backup's tablets as the packer takes them: the plan's tree, and the host's snapshot of each batch, taken
/// when the packer asks for the batch and released when it is done with it. A batch still held when the backup
/// ends (a failure, CANCEL, a timeout, a panic) is released then: every snapshot taken is released exactly once.
struct HostTablets<'a> {
    host: &'a dyn Host,
    plan: &'a BackupPlan,
    host_metadata: Vec<u8>,
    views: Vec<(String, String)>,
    /// The batch whose snapshot is held.
    held: Mutex<Option<Vec<TabletRef>>>,
    /// Releases that failed: warnings beside the job's outcome.
    failed: Mutex<Vec<String>>,
}

impl HostTablets<'_> {
    fn release(&self) {
        if let Some(tablets) = self.held.lock().take()
            && let Err(e) = self.host.release(&self.plan.database, &tablets)
        {
            self.failed.lock().push(e.to_string());
        }
    }
}

impl Drop for HostTablets<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

impl pack::source::Tablets for HostTablets<'_> {
    type Tablet = TabletInfo;

    fn database(&self) -> &str {
        &self.plan.database
    }

    fn tree(&self) -> &Tree<TabletInfo> {
        &self.plan.tables
    }

    fn id(tablet: &TabletInfo) -> &str {
        &tablet.id
    }

    fn host_metadata(&self) -> &[u8] {
        &self.host_metadata
    }

    fn views(&self) -> &[(String, String)] {
        &self.views
    }

    fn metadata_only(&self) -> bool {
        self.plan.metadata_only
    }

    fn index_tablets(&self, place: Place<'_>) -> Result<Option<Vec<TabletInfo>>> {
        index_tablets(self.host, &self.plan.database, place)
    }

    fn open(&self, batch: &[(Place<'_>, &TabletInfo)]) -> Result<Vec<PathBuf>> {
        self.release();
        let tablets: Vec<TabletRef> = batch.iter().map(|(place, t)| TabletRef::new(*place, &t.id)).collect();
        let dirs = self.host.snapshot(&self.plan.database, &tablets)?;
        *self.held.lock() = Some(tablets);
        Ok(dirs)
    }

    fn done(&self) {
        self.release();
    }
}

/// Where a backup goes: the repository, the retention policy applied after it, and the packer with the
/// backup's compression.
pub(super) struct BackupTarget {
    pub repo: Arc<dyn Repository>,
    pub retention: Option<RetentionPolicy>,
    pub packer: Packer,
}

/// Runs the backup `plan` as job `job`: the host's metadata, then for each batch of tablets their snapshots,
/// packed and uploaded, released; then the manifest is committed.
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
    let host = inner.host.as_ref();
    let tablets = HostTablets {
        host,
        plan: &plan,
        host_metadata: host.metadata(&db, &plan.table_names())?,
        views: plan.views.iter().map(|v| Ok((v.clone(), host.view_definition(&db, v)?))).collect::<Result<_>>()?,
        held: Mutex::new(None),
        failed: Mutex::new(Vec::new()),
    };
    // The snapshots are taken a batch at a time while the packer uploads (Host::snapshot's contract), each
    // released before the next is taken: SNAPSHOTING covers the host's metadata only.
    job.update(|j| j.snapshot_finished_ms = Some(pack::now_ms()));
    job.set_state(JobState::UploadSnapshot);
    job.set_state(JobState::Uploading);
    let control = JobControl { progress: Some(job.progress()), cancel: cancel.clone(), timestamp: Some(timestamp) };
    let result = packer.backup_tablets(repo.as_ref(), &tablets, label, &control).map(|_| ());
    if result.is_ok() {
        job.update(|j| j.transfer_finished_ms = Some(pack::now_ms()));
        job.set_state(JobState::SaveMeta);
        job.set_state(JobState::UploadInfo);
    }
    tablets.release();
    for e in tablets.failed.lock().drain(..) {
        job.warn(format!("releasing the tablet snapshots failed: {e}"));
    }
    if let (Ok(()), Some(policy)) = (&result, &retention) {
        super::retention::apply(repo.as_ref(), policy, &db, job);
    }
    result
}

/// The tablets of the index at `place` when `host` lists them on demand ([`HostFeature::IndexTablets`]), else
/// `None` (the catalog's list is the index's).
pub(super) fn index_tablets(host: &dyn Host, database: &str, place: Place<'_>) -> Result<Option<Vec<TabletInfo>>> {
    if host.supports(HostFeature::IndexTablets) { host.index_tablets(database, place).map(Some) } else { Ok(None) }
}

/// How many tablets `plan` takes: the catalog's lists, and those of the indexes `host` lists on demand, asked
/// one index at a time.
pub(super) fn count_tablets(host: &dyn Host, plan: &BackupPlan) -> Result<u64> {
    let mut n = 0u64;
    for t in plan.tables.iter() {
        for p in &t.partitions {
            for i in &p.indexes {
                let place = Place { table: &t.name, partition: &p.name, index: &i.name };
                let listed = if i.tablets.is_empty() {
                    index_tablets(host, &plan.database, place)?.map_or(0, |l| l.len())
                } else {
                    i.tablets.len()
                };
                n += listed as u64;
            }
        }
    }
    Ok(n)
}
