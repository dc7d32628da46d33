//! The job manager: the job table, admission (one BACKUP or RESTORE per database), history, cancel, wait,
//! shutdown, observers and saving the table.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::persist::{SavedState, StateFile};
use super::timer::Timer;
use super::{JobInfo, JobState, shared};
use crate::pack::CancelToken;
use crate::store::ProcessId;
use crate::{Error, ErrorKind, Result};

/// Called with a job's record when its state changes and, at most every 100 ms, as its progress moves.
///
/// It is called with no lock of the engine held, so it may call any engine function (`job`, `wait`, `execute`,
/// `cancel`), except `shutdown`. Its last call for a job (the job's end) comes before [`crate::Engine::wait`]
/// returns that end; a `wait` for the same job from inside that last call returns at once.
pub type JobObserver = Arc<dyn Fn(&JobInfo) + Send + Sync>;

thread_local! {
    /// The job whose final observer call runs on this thread, if any.
    static OBSERVING_END: Cell<Option<u64>> = const { Cell::new(None) };
}

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

/// The job table: the records, and the jobs that have ended but whose end the observer has not seen yet.
#[derive(Default)]
pub(super) struct Table {
    pub(super) records: BTreeMap<u64, JobInfo>,
    pub(super) settling: HashSet<u64>,
}

/// The jobs of one engine.
///
/// Lock order: `save_lock`, then the state file's lock (while saving), then `jobs`, then `cancels`. No lock is held while
/// the observer runs.
pub(crate) struct JobManager {
    pub(super) jobs: Mutex<Table>,
    pub(super) cancels: Mutex<HashMap<u64, CancelToken>>,
    pub(super) changed: Condvar,
    pub(super) next_id: AtomicU64,
    pub(super) history: usize,
    pub(super) max_timeout: Option<Duration>,
    pub(super) observer: Option<JobObserver>,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Every job's timeout.
    pub(super) timer: Timer,
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
        let mut jobs = Table::default();
        for mut j in saved.jobs {
            let alive = persistence.is_some() && shared::owner_alive(j.owner.as_ref());
            if !j.state.is_done() && !alive {
                shared::close_orphan(&mut j);
            }
            jobs.records.insert(j.id, j);
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
            timer: Timer::default(),
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

    /// The job `id`.
    pub(crate) fn get(&self, id: u64) -> Option<JobInfo> {
        self.refresh();
        self.jobs.lock().records.get(&id).cloned()
    }

    /// Every job, oldest first.
    pub(crate) fn all(&self) -> Vec<JobInfo> {
        self.refresh();
        self.jobs.lock().records.values().cloned().collect()
    }

    /// The jobs `keep` selects, oldest first.
    pub(crate) fn select(&self, keep: impl Fn(&JobInfo) -> bool) -> Vec<JobInfo> {
        self.refresh();
        self.jobs.lock().records.values().filter(|j| keep(j)).cloned().collect()
    }

    /// Whether a job that has not ended uses repository `name`.
    pub(crate) fn any_running_on(&self, name: &str) -> bool {
        self.refresh();
        self.jobs.lock().records.values().any(|j| !j.state.is_done() && j.repository == name)
    }

    /// Waits until job `id` ends or `timeout` passes, and returns it as it is then. A job's end is returned once
    /// it is saved and the observer has seen it (see `finish`).
    pub(crate) fn wait(&self, id: u64, timeout: Duration) -> Result<JobInfo> {
        let deadline = Instant::now().checked_add(timeout);
        let observing = OBSERVING_END.with(Cell::get) == Some(id);
        let mut jobs = self.jobs.lock();
        loop {
            let settled = !jobs.settling.contains(&id) || observing;
            let job = jobs.records.get(&id).ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no job {id}")))?;
            if job.state.is_done() && settled {
                return Ok(job.clone());
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
    fn admit(&self, mut job: JobInfo) -> Result<(u64, CancelToken)> {
        let mut lifetime = Duration::from_secs(job.timeout_secs);
        if let Some(cap) = self.max_timeout {
            lifetime = lifetime.min(cap);
        }
        let id = match &self.persistence {
            Some(p) => self.admit_shared(&p.file, job)?,
            None => {
                let mut table = self.jobs.lock();
                let Table { records: jobs, settling } = &mut *table;
                shared::check_admission(&jobs.values().collect::<Vec<_>>(), &job)?;
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                job.id = id;
                jobs.insert(id, job);
                let mut kept: Vec<JobInfo> = std::mem::take(jobs).into_values().collect();
                shared::prune_history(&mut kept, self.history, settling);
                jobs.extend(kept.into_iter().map(|j| (j.id, j)));
                id
            }
        };
        let token = CancelToken::new();
        self.cancels.lock().insert(id, token.clone());
        self.watch_for_cancel(id, token.clone(), lifetime);
        Ok((id, token))
    }

    /// Forgets job `id`, admitted but never started (its start could not be saved).
    pub(crate) fn discard(&self, id: u64) {
        self.forget_shared(id);
        self.jobs.lock().records.remove(&id);
        self.cancels.lock().remove(&id);
        self.changed.notify_all();
    }

    /// Registers a new job as [`JobManager::admit`] does and saves the table; a job whose start cannot be
    /// saved is not started.
    ///
    /// # Errors
    /// As `admit`; the state file cannot be written.
    pub(crate) fn admit_and_save(&self, job: JobInfo) -> Result<(u64, CancelToken)> {
        let (id, token) = self.admit(job)?;
        if let Err(e) = self.save() {
            self.discard(id);
            return Err(e);
        }
        Ok((id, token))
    }

    /// Changes job `id`'s record with `f` and wakes its waiters.
    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut JobInfo)) {
        if let Some(j) = self.jobs.lock().records.get_mut(&id) {
            f(j);
        }
        self.changed.notify_all();
    }

    /// Adds `warning` to job `id`'s record (once).
    pub(crate) fn warn(&self, id: u64, warning: String) {
        self.update(id, |j| {
            if !j.warnings.contains(&warning) {
                j.warnings.push(warning);
            }
        });
    }

    /// Moves job `id` to `state`, saves, and tells the observer. A failure to save is kept as a warning.
    pub(crate) fn set_state(&self, id: u64, state: JobState) {
        self.update(id, |j| j.state = state);
        if let Err(e) = self.save() {
            self.warn(id, format!("saving the job state failed: {e}"));
        }
        self.notify_observer(id);
    }

    /// Calls the observer with job `id`'s record, with no lock held.
    pub(super) fn notify_observer(&self, id: u64) {
        if let Some(observe) = &self.observer {
            let job = self.jobs.lock().records.get(&id).cloned();
            if let Some(job) = job {
                observe(&job);
            }
        }
    }

    /// Calls the observer with a job's final record, marking the thread so that a `wait` for that job from
    /// inside the observer returns at once.
    pub(super) fn notify_end(&self, job: &JobInfo) {
        if let Some(observe) = &self.observer {
            let before = OBSERVING_END.with(|o| o.replace(Some(job.id)));
            observe(job);
            OBSERVING_END.with(|o| o.set(before));
        }
    }

    /// Saves this process's jobs into the shared table (nothing without a state directory).
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
