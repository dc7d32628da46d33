//! Many writers, one collector: the locks, the garbage collection and the commit re-check that keep every
//! committed snapshot restorable while any number of processes back up, restore, verify, drop snapshots and
//! collect garbage in one repository (docs/FORMAT.md, "Concurrency", states the protocol).
//!
//! - Backups, restores and verifies run under a shared [`Lock`]; a backup commits only after [`Lock::gate`]
//!   and [`check_objects`] / [`check_manifest`].
//! - [`collect_garbage`] runs under the exclusive lock, only when no live lock exists, and stops if its own
//!   lock may have gone stale.
//! - Stale locks (their process exited, or they were not refreshed for [`LockPolicy::stale_after`]) block
//!   nobody; [`list_locks`] reports them and [`remove_stale_locks`] removes them.
//! - [`forget`] applies a [`RetentionPolicy`] (restic's `forget` rules) and frees space through
//!   [`collect_garbage`].

mod commit;
mod forget;
mod gc;
mod lock;
mod manifests;
mod process;
mod retention;

pub use commit::{check_manifest, check_objects, check_pages};
pub use forget::{ForgetDecision, ForgetReport, ForgetScope, forget};
pub use gc::{GcOutcome, GcReport, collect_garbage};
pub use lock::{
    Busy, LOCKS_PREFIX, Lock, LockInfo, LockKind, LockPolicy, LockRecord, STALE_ENV, list_locks, remove_stale_locks,
    with_lock,
};
pub use manifests::{read_manifest, read_page, read_stored_manifest, table_names, with_pages, write_manifest};
pub use process::{Liveness, ProcessId};
pub use retention::{Decision, RetentionPolicy};

use crate::{Error, ErrorKind, Result};

/// Runs `f` under a shared lock of `repo` (see [`with_lock`]).
///
/// # Errors
/// As [`with_lock`].
pub fn with_shared_lock<T>(
    repo: &dyn crate::repo::Repository,
    operation: &str,
    f: impl FnOnce(&Lock<'_>) -> Result<T>,
) -> Result<T> {
    with_lock(repo, LockKind::Shared, operation, f)?
        .map_err(|_| Error::new(ErrorKind::Repository, "a shared lock was refused (internal error)"))
}
