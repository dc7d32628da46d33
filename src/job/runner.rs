//! Running a job: one thread per job (timed out by the manager's one timer), the closing of its record with the
//! outcome, and the handle the job's work reports through.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{JobManager, JobState};
use crate::pack::{self, CancelToken, Progress, ProgressInfo};
use crate::{Error, ErrorKind, Result};

impl JobManager {
    /// Runs `body` on a thread of its own; the manager's one timer times the job out after `timeout_secs`
    /// (capped by the manager's maximum); the job's record is closed with the outcome.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        id: u64,
        token: CancelToken,
        timeout_secs: u64,
        body: impl FnOnce() -> Result<()> + Send + 'static,
    ) {
        let mut timeout = Duration::from_secs(timeout_secs);
        if let Some(cap) = self.max_timeout {
            timeout = timeout.min(cap);
        }
        // A deadline past what an Instant can hold is no deadline.
        if let Some(deadline) = Instant::now().checked_add(timeout) {
            self.timer.arm(id, deadline, token.clone());
        }
        let manager = self.clone();
        let spawned = std::thread::Builder::new().name(format!("tabsnap-job-{id}")).spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                .unwrap_or_else(|_| Err(Error::new(ErrorKind::Io, "the job panicked (internal error)")));
            manager.finish(id, result);
        });
        match spawned {
            Ok(handle) => {
                let mut threads = self.threads.lock();
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
            }
            Err(e) => {
                token.cancel();
                self.finish(id, Err(Error::new(ErrorKind::Io, format!("cannot start the job's thread: {e}"))));
            }
        }
    }

    /// Closes job `id`'s record with `result`: the end is saved (a failure to save is kept as a warning), then
    /// shown to `job` readers, then to the observer (no lock held), and only then to `wait`.
    fn finish(&self, id: u64, result: Result<()>) {
        self.timer.disarm(id);
        self.cancels.lock().remove(&id);
        let guard = self.save_lock.lock();
        {
            let mut table = self.jobs.lock();
            if let Some(j) = table.records.get_mut(&id) {
                j.finished_ms = Some(pack::now_ms());
                match result {
                    Ok(()) => {
                        j.state = JobState::Finished;
                        j.files_done = j.files_total;
                        j.bytes_done = j.bytes_total;
                    }
                    Err(e) => {
                        j.state = JobState::Cancelled;
                        let (status, msg) = match e.kind() {
                            ErrorKind::Cancelled => ("CANCELLED", "user cancelled".to_owned()),
                            ErrorKind::TimedOut => ("TIMEOUT", "the job ran past its timeout".to_owned()),
                            _ => ("COMMON_ERROR", e.to_string()),
                        };
                        j.status = status.into();
                        j.error = Some(msg);
                        j.error_kind = Some(e.kind());
                    }
                }
            }
            table.settling.insert(id);
        }
        if let Err(e) = self.save_locked() {
            self.warn(id, format!("saving the job state failed: {e}"));
        }
        drop(guard);
        self.changed.notify_all();
        if let Some(job) = self.get(id) {
            self.notify_end(&job);
        }
        self.jobs.lock().settling.remove(&id);
        self.changed.notify_all();
    }

    /// The handle job `id`'s work reports through.
    pub(crate) fn handle(self: &Arc<Self>, id: u64) -> JobHandle {
        JobHandle { manager: self.clone(), id }
    }
}

/// What a running job reports through: its state, its record, its progress.
pub(crate) struct JobHandle {
    manager: Arc<JobManager>,
    id: u64,
}

impl JobHandle {
    /// The job's id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Moves the job to `state`.
    pub(crate) fn set_state(&self, state: JobState) {
        self.manager.set_state(self.id, state);
    }

    /// Changes the job's record.
    pub(crate) fn update(&self, f: impl FnOnce(&mut super::JobInfo)) {
        self.manager.update(self.id, f);
    }

    /// Reports a failure that does not change the job's outcome (shown beside it, in TaskErrMsg).
    pub(crate) fn warn(&self, warning: String) {
        self.manager.warn(self.id, warning);
    }

    /// A progress sink that copies the packer's counters into the job's record.
    pub(crate) fn progress(&self) -> Arc<dyn Progress> {
        Arc::new(JobProgress {
            manager: self.manager.clone(),
            id: self.id,
            last_observed: Mutex::new(None),
            last_saved: Mutex::new(Instant::now()),
        })
    }
}

/// Feeds packer progress into the job record.
struct JobProgress {
    manager: Arc<JobManager>,
    id: u64,
    last_observed: Mutex<Option<Instant>>,
    last_saved: Mutex<Instant>,
}

/// How often a running job's progress is written to a shared state directory (for SHOW in other processes).
const SAVE_PROGRESS_EVERY: Duration = Duration::from_secs(1);

impl Progress for JobProgress {
    fn update(&self, info: &ProgressInfo) {
        self.manager.update(self.id, |j| j.set_progress(info));
        if self.manager.persistence.is_some() {
            let due = {
                let mut last = self.last_saved.lock();
                let due = last.elapsed() >= SAVE_PROGRESS_EVERY;
                if due {
                    *last = Instant::now();
                }
                due
            };
            // A failed progress save is retried at the next one; the job's state changes are saved with errors.
            if due {
                let _ = self.manager.save();
            }
        }
        if self.manager.observer.is_some() {
            let due = {
                let mut last = self.last_observed.lock();
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
                if due {
                    *last = Some(Instant::now());
                }
                due
            };
            if due {
                self.manager.notify_observer(self.id);
            }
        }
    }
}
