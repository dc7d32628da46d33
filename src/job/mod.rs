//! Jobs: the BACKUP and RESTORE state machines and the rows SHOW prints, and the job manager that
//! admits, runs, times out, cancels, waits for and saves them.
//!
//! - `record.rs`: [`JobInfo`], [`JobKind`], [`JobState`], SHOW's columns.
//! - `manager.rs`: the job table, admission (one BACKUP or RESTORE per database), history, cancel, wait,
//!   shutdown, observers.
//! - `runner.rs`: one thread per job, closing a job's record, the handle a job reports through.
//! - `timer.rs`: one timer thread for every job's timeout.
//! - `persist.rs`: the state file, read and changed under a file lock.
//! - `shared.rs`: one job table for every process sharing a state directory (ownership, orphans, CANCEL
//!   across processes, admission on the shared table).

mod manager;
pub(crate) mod persist;
mod record;
mod runner;
mod shared;
mod timer;

pub use manager::JobObserver;
pub(crate) use manager::{JobManager, ManagerOptions, Persistence};
pub use record::{BACKUP_COLUMNS, JobInfo, JobKind, JobState, RESTORE_COLUMNS, brief_restore_columns, time_text};
pub(crate) use runner::JobHandle;
