//! The job manager: the job table, admission (one BACKUP or RESTORE per database), history, cancel, wait,
//! shutdown, observers and saving the table.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::persist::{SavedState, StateFile};
use super::{JobInfo, JobState, shared};
use crate::pack::CancelToken;
use crate::store::{Liveness, ProcessId};
use crate::{Error, ErrorKind, Result};

/// Called with a job's record when its state changes and, at most every 100 ms, as its progress moves.
pub type JobObserver = Arc<dyn Fn(&JobInfo) + Send + Sync>;

/// Where the job table is saved (shared with every process that uses the same state directory).
pub(crate) struct Persistence {
    /// The state file.
    pub(crate) file: StateFile,
}

/// How a [`JobManager`] behaves.
pub(crate) struct ManagerOptions {
    /// Finished jobs kept per database.
    pub(crate) history: usize,
    /// A cap on every job's timeout.
    pub(crate) max_timeout: Option<Duration>,
    /// Watches every job.
    pub(crate) observer: Option<JobObserver>,
}

/// The jobs of one engine.
pub(crate) struct JobManager {
    pub(super) jobs: Mutex<BTreeMap<u64, JobInfo>>,
    pub(super) cancels: Mutex<HashMap<u64, CancelToken>>,
    pub(super) changed: Condvar,
    pub(super) next_id: AtomicU64,
    pub(super) history: usize,
    pub(super) max_timeout: Option<Duration>,
    pub(super) observer: Option<JobObserver>,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(super) persistence: Option<Persistence>,
    /// This process, the owner of the jobs it runs.
    pub(super) me: ProcessId,
    /// Held while the state is written; `wait` takes it after seeing a job end, so that it returns only once
    /// the end is saved.
    pub(super) save_lock: Mutex<()>,
}

impl JobManager {
    /// A manager holding the jobs of `saved` (jobs whose process no longer runs are marked CANCELLED), handing
    /// out ids from `saved.next_id`.
    pub(crate) fn new(options: ManagerOptions, saved: SavedState, persistence: Option<Persistence>) -> JobManager {
        let mut jobs = BTreeMap::new();
        for mut j in saved.jobs {
            let alive = persistence.is_some() && j.owner.as_ref().is_some_and(|p| p.liveness() != Liveness::Dead);
            if !j.state.is_done() && !alive {
                shared::close_orphan(&mut j);
            }
            jobs.insert(j.id, j);
        }
        JobManager {
            jobs: Mutex::new(jobs),
            cancels: Mutex::new(HashMap::new()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(saved.next_id.max(1)),
            history: options.history,
            max_timeout: options.max_timeout,
            observer: options.observer,
            threads: Mutex::new(Vec::new()),
            persistence,
            me: ProcessId::current(),
            save_lock: Mutex::new(()),
        }
    }

    /// A new id (repositories and jobs share the sequence, across the processes of one state directory).
    ///
    /// # Errors
    /// The state file cannot be changed.
    pub(crate) fn next_id(&self) -> Result<u64> {
        match &self.persistence {
            Some(p) => self.next_shared_id(&p.file),
            None => Ok(self.next_id.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// The job `id` (of any process sharing the state directory).
    pub(crate) fn get(&self, id: u64) -> Option<JobInfo> {
        self.refresh();
        self.jobs.lock().get(&id).cloned()
    }

    /// Every job, oldest first.
    pub(crate) fn all(&self) -> Vec<JobInfo> {
        self.refresh();
        self.jobs.lock().values().cloned().collect()
    }

    /// The jobs `keep` selects, oldest first.
    pub(crate) fn select(&self, keep: impl Fn(&JobInfo) -> bool) -> Vec<JobInfo> {
        self.refresh();
        self.jobs.lock().values().filter(|j| keep(j)).cloned().collect()
    }

    /// Whether a job that has not ended uses repository `name`.
    pub(crate) fn any_running_on(&self, name: &str) -> bool {
        self.refresh();
        self.jobs.lock().values().any(|j| !j.state.is_done() && j.repository == name)
    }

    /// Waits until job `id` ends or `timeout` passes, and returns it as it is then.
    pub(crate) fn wait(&self, id: u64, timeout: Duration) -> Result<JobInfo> {
        let deadline = Instant::now().checked_add(timeout);
        let mut jobs = self.jobs.lock();
        loop {
            let job = jobs.get(&id).ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no job {id}")))?;
            if job.state.is_done() {
                let job = job.clone();
                drop(jobs);
                // Returns only once the job's end is saved (see `finish`).
                drop(self.save_lock.lock());
                return Ok(job);
            }
            match deadline {
                Some(d) if Instant::now() >= d => return Ok(job.clone()),
                Some(d) => {
                    self.changed.wait_until(&mut jobs, d);
                }
                None => self.changed.wait(&mut jobs),
            }
        }
    }

    /// Cancels job `id` if it is still running, here or in another process sharing the state directory;
    /// returns whether it was.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        if let Some(t) = self.cancels.lock().get(&id) {
            t.cancel();
            return true;
        }
        self.cancel_elsewhere(id).unwrap_or(false)
    }

    /// Cancels every running job and waits until every job thread has ended.
    pub(crate) fn shutdown(&self) {
        for t in self.cancels.lock().values() {
            t.cancel();
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }

    /// Registers a new job for its database unless one is running there; returns its id and cancel token.
    ///
    /// # Errors
    /// Doris's messages: a job of the same database is running; a backup of the same label into the same
    /// repository is running.
    pub(crate) fn admit(&self, mut job: JobInfo) -> Result<(u64, CancelToken)> {
        let id = match &self.persistence {
            Some(p) => self.admit_shared(&p.file, job)?,
            None => {
                let mut jobs = self.jobs.lock();
                shared::check_admission(&jobs.values().collect::<Vec<_>>(), &job)?;
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                job.id = id;
                jobs.insert(id, job);
                let mut kept: Vec<JobInfo> = std::mem::take(&mut *jobs).into_values().collect();
                shared::prune_history(&mut kept, self.history);
                jobs.extend(kept.into_iter().map(|j| (j.id, j)));
                id
            }
        };
        let token = CancelToken::new();
        self.cancels.lock().insert(id, token.clone());
        self.watch_for_cancel(id, token.clone());
        Ok((id, token))
    }

    /// Changes job `id`'s record with `f` and wakes its waiters.
    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut JobInfo)) {
        if let Some(j) = self.jobs.lock().get_mut(&id) {
            f(j);
        }
        self.changed.notify_all();
    }

    /// Moves job `id` to `state`, saves, and tells the observer.
    pub(crate) fn set_state(&self, id: u64, state: JobState) {
        self.update(id, |j| j.state = state);
        let _ = self.save();
        self.notify_observer(id);
    }

    pub(super) fn notify_observer(&self, id: u64) {
        if let Some(observe) = &self.observer
            && let Some(job) = self.jobs.lock().get(&id).cloned()
        {
            observe(&job);
        }
    }

    /// Saves the job table and the repositories beside it (nothing without a state directory).
    ///
    /// # Errors
    /// The state file cannot be written.
    pub(crate) fn save(&self) -> Result<()> {
        let _guard = self.save_lock.lock();
        self.save_locked()
    }

    pub(super) fn save_locked(&self) -> Result<()> {
        self.save_own()
    }
}
