//! One job table for every process that shares a state directory.
//!
//! Each job record names its owner (host, pid, start time). A process writes only its own records, always as a
//! read-modify-write under the state file's lock, and takes every other record from the file. A job whose owner
//! no longer runs is marked CANCELLED with that reason; a CANCEL from another process sets the record's
//! `cancel_requested`, which the owner watches for. Admission (one BACKUP or RESTORE per database, one running
//! backup per label and repository) is decided on the shared table, inside the same lock.

use std::collections::HashSet;
use std::time::Duration;

use super::persist::{RepoMeta, SavedState, StateFile};
use super::{JobInfo, JobKind, JobManager, JobState};
use crate::pack::{self, CancelToken};
use crate::store::{Liveness, ProcessId};
use crate::{Error, ErrorKind, Result};

/// How often an owner looks for a CANCEL from another process.
const CANCEL_POLL: Duration = Duration::from_millis(200);

/// Whether a job's owner may still run (a job without an owner was saved by a process that is gone).
pub(super) fn owner_alive(owner: Option<&ProcessId>) -> bool {
    owner.is_some_and(|p| p.liveness() != Liveness::Dead)
}

/// Marks the jobs of owners that no longer run as CANCELLED.
fn reconcile(jobs: &mut [JobInfo]) {
    for j in jobs.iter_mut().filter(|j| !j.state.is_done() && !owner_alive(j.owner.as_ref())) {
        close_orphan(j);
    }
}

/// Closes the record of a job whose process is gone.
pub(super) fn close_orphan(j: &mut JobInfo) {
    j.state = JobState::Cancelled;
    j.status = "CANCELLED".into();
    j.error = Some("the process running the job exited before it finished".into());
    j.cancel_requested = false;
    j.finished_ms.get_or_insert(pack::now_ms());
}

/// Refuses `job` when the table holds a job it may not run beside (Doris's messages).
pub(super) fn check_admission(jobs: &[&JobInfo], job: &JobInfo) -> Result<()> {
    let analysis = |m: String| Error::new(ErrorKind::Analysis, m);
    if let Some(r) = jobs.iter().find(|j| j.database == job.database && !j.state.is_done()) {
        return Err(analysis(format!(
            "Can only run one backup or restore job of a database at same time, current running: label = {}, jobId = {}",
            r.label, r.id
        )));
    }
    if job.kind == JobKind::Backup
        && let Some(r) = jobs.iter().find(|j| {
            j.kind == JobKind::Backup && !j.state.is_done() && j.repository == job.repository && j.label == job.label
        })
    {
        return Err(analysis(format!("Snapshot with name '{}' already exist in repository (job {})", r.label, r.id)));
    }
    Ok(())
}

/// Keeps the last `history` finished jobs per database (and every job in `settling`: ended, but the observer
/// has not seen its end yet).
pub(super) fn prune_history(jobs: &mut Vec<JobInfo>, history: usize, settling: &HashSet<u64>) {
    let mut per_db: std::collections::HashMap<String, Vec<u64>> = std::collections::HashMap::new();
    for j in jobs.iter().filter(|j| j.state.is_done() && !settling.contains(&j.id)) {
        per_db.entry(j.database.clone()).or_default().push(j.id);
    }
    let mut drop = HashSet::new();
    for ids in per_db.values_mut() {
        ids.sort_unstable();
        drop.extend(ids.iter().take(ids.len().saturating_sub(history)).copied());
    }
    jobs.retain(|j| !drop.contains(&j.id));
}

impl JobManager {
    fn file(&self) -> Option<&StateFile> {
        self.persistence.as_ref().map(|p| &p.file)
    }

    /// Takes the shared table as this process's view: records this process owns stay as it knows them (while
    /// the file still has them, or while they run), every other record comes from the file.
    pub(super) fn absorb(&self, state: &SavedState) {
        let mut table = self.jobs.lock();
        let settling = table.settling.clone();
        let jobs = &mut table.records;
        let mine: Vec<JobInfo> = jobs
            .values()
            .filter(|j| {
                j.owner.as_ref() == Some(&self.me)
                    && (!j.state.is_done() || settling.contains(&j.id) || state.jobs.iter().any(|s| s.id == j.id))
            })
            .cloned()
            .collect();
        jobs.clear();
        for j in &state.jobs {
            let mut j = j.clone();
            if !j.state.is_done() && !owner_alive(j.owner.as_ref()) {
                close_orphan(&mut j);
            }
            jobs.insert(j.id, j);
        }
        for j in mine {
            jobs.insert(j.id, j);
        }
        drop(table);
        self.next_id.fetch_max(state.next_id, std::sync::atomic::Ordering::Relaxed);
    }

    /// Brings this process's view up to date with the shared table (a no-op without a state directory; the
    /// last view stays when the file cannot be read).
    pub(super) fn refresh(&self) {
        if let Some(file) = self.file()
            && let Ok(state) = file.read()
        {
            self.absorb(&state);
        }
    }

    /// Writes this process's own records into the shared table.
    pub(super) fn save_own(&self) -> Result<()> {
        let Some(file) = self.file() else { return Ok(()) };
        let state = file.transact(|state| {
            let table = self.jobs.lock();
            for j in table.records.values().filter(|j| j.owner.as_ref() == Some(&self.me)) {
                match state.jobs.iter_mut().find(|s| s.id == j.id) {
                    Some(s) => {
                        let requested = s.cancel_requested && !j.state.is_done();
                        *s = j.clone();
                        s.cancel_requested = requested;
                    }
                    None if !j.state.is_done() => state.jobs.push(j.clone()),
                    // Pruned from the history by another process.
                    None => {}
                }
            }
            drop(table);
            state.next_id = state.next_id.max(self.next_id.load(std::sync::atomic::Ordering::Relaxed));
            reconcile(&mut state.jobs);
            Ok(state.clone())
        })?;
        self.absorb(&state);
        Ok(())
    }

    /// Admission on the shared table: the rules, the id and the new record, in one transaction.
    pub(super) fn admit_shared(&self, file: &StateFile, mut job: JobInfo) -> Result<u64> {
        job.owner = Some(self.me.clone());
        let (id, state) = file.transact(|state| {
            reconcile(&mut state.jobs);
            check_admission(&state.jobs.iter().collect::<Vec<_>>(), &job)?;
            let id = state.next_id.max(self.next_id.load(std::sync::atomic::Ordering::Relaxed)).max(1);
            state.next_id = id + 1;
            job.id = id;
            state.jobs.push(job.clone());
            let settling = self.jobs.lock().settling.clone();
            prune_history(&mut state.jobs, self.history, &settling);
            Ok((id, state.clone()))
        })?;
        self.jobs.lock().records.insert(id, job);
        self.absorb(&state);
        Ok(id)
    }

    /// Removes job `id`, admitted but never started, from the shared table (best effort: its start could not be
    /// saved, so the table may not be writable).
    pub(super) fn forget_shared(&self, id: u64) {
        if let Some(file) = self.file() {
            let _ = file.transact(|state| {
                state.jobs.retain(|j| j.id != id);
                Ok(())
            });
        }
    }

    /// A new id from the shared sequence.
    pub(super) fn next_shared_id(&self, file: &StateFile) -> Result<u64> {
        file.transact(|state| {
            let id = state.next_id.max(self.next_id.load(std::sync::atomic::Ordering::Relaxed)).max(1);
            state.next_id = id + 1;
            self.next_id.fetch_max(id + 1, std::sync::atomic::Ordering::Relaxed);
            Ok(id)
        })
    }

    /// Asks the process running job `id` to cancel it; returns whether the job is running somewhere.
    pub(super) fn cancel_elsewhere(&self, id: u64) -> Result<bool> {
        let Some(file) = self.file() else { return Ok(false) };
        let state = file.transact(|state| {
            reconcile(&mut state.jobs);
            let found = state.jobs.iter_mut().find(|j| j.id == id && !j.state.is_done()).map(|j| {
                j.cancel_requested = true;
            });
            Ok((found.is_some(), state.clone()))
        })?;
        self.absorb(&state.1);
        Ok(state.0)
    }

    /// Watches the shared table for a CANCEL of job `id` from another process, until the job ends (in the
    /// table), or at the latest a minute after its `lifetime` (its timeout), when it has ended in any case.
    pub(super) fn watch_for_cancel(&self, id: u64, token: CancelToken, lifetime: Duration) {
        let Some(file) = self.file().cloned() else { return };
        let deadline = std::time::Instant::now().checked_add(lifetime + Duration::from_secs(60));
        let spawned = std::thread::Builder::new().name(format!("tabsnap-job-{id}-cancel")).spawn(move || {
            while deadline.is_none_or(|d| std::time::Instant::now() < d) {
                std::thread::sleep(CANCEL_POLL);
                let Ok(state) = file.read() else { continue };
                match state.jobs.iter().find(|j| j.id == id) {
                    Some(j) if j.state.is_done() => return,
                    Some(j) if j.cancel_requested => {
                        token.cancel();
                        return;
                    }
                    Some(_) => {}
                    None => return,
                }
            }
        });
        // Without the watcher, CANCEL from this process still works; from others it waits for the job's end.
        drop(spawned);
    }

    /// The repositories saved in the state directory (`None` without one).
    ///
    /// # Errors
    /// The state cannot be read.
    pub(crate) fn saved_repositories(&self) -> Result<Option<Vec<RepoMeta>>> {
        self.file().map(|f| f.read().map(|s| s.repositories)).transpose()
    }

    /// Changes the saved repositories with `f`, in one transaction (`None` without a state directory).
    ///
    /// # Errors
    /// `f`'s error; the state cannot be read or written.
    pub(crate) fn change_repositories<R>(&self, f: impl FnOnce(&mut Vec<RepoMeta>) -> Result<R>) -> Result<Option<R>> {
        self.file().map(|file| file.transact(|state| f(&mut state.repositories))).transpose()
    }
}
