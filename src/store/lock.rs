//! Repository locks: small objects under `locks/` that say who is using a repository, refreshed while they are
//! held, and judged stale when their process is gone or they have not been refreshed for a while.
//!
//! Backups, restores and verifies hold **shared** locks; a garbage collection holds an **exclusive** one. Only
//! create-if-absent, overwrite, list and delete are used, so the protocol works on every repository kind. The
//! rules (docs/FORMAT.md, "Concurrency"):
//! - a collector writes its exclusive lock, *then* reads every other lock; if any is live it removes its own
//!   and does nothing;
//! - a shared holder writes (or refreshes) its lock, *then* lists the locks; while a live exclusive lock is
//!   there it waits. Either the collector reads the holder's lock and backs off, or the holder sees the
//!   collector's lock and waits for it to go: they never both proceed.
//! - a holder refreshes its lock every [`LockPolicy::refresh_every`]; a collector stops deleting as soon as it
//!   has not refreshed its own lock for half of [`LockPolicy::stale_after`] (it may have been paused long
//!   enough for a writer to take it for dead).

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use super::process::{Liveness, ProcessId};
use crate::pack::now_ms;
use crate::repo::{ObjectInfo, PutMode, Repository, get};
use crate::{Error, ErrorKind, Result};

/// Prefix of lock objects.
pub const LOCKS_PREFIX: &str = "locks/";

/// The environment variable that sets [`LockPolicy::stale_after`] in seconds (default 600).
pub const STALE_ENV: &str = "TABSNAP_LOCK_STALE_SECS";

/// What a lock allows others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// Many at once: backups, restores, verifies.
    Shared,
    /// Alone: garbage collection.
    Exclusive,
}

/// The content of a lock object (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Shared or exclusive.
    pub kind: LockKind,
    /// What the holder does (`backup`, `restore`, `gc`, …), for messages.
    pub operation: String,
    /// The holder.
    pub process: ProcessId,
    /// When the lock was taken (ms since the epoch, the holder's clock).
    pub created_ms: u64,
    /// When it was last refreshed (ms since the epoch, the holder's clock).
    pub refreshed_ms: u64,
}

/// How long locks live without a refresh, and how often holders refresh them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// A lock not refreshed for this long is stale: it no longer blocks anyone.
    pub stale_after: Duration,
    /// How often a holder refreshes its lock.
    pub refresh_every: Duration,
    /// How long a shared holder waits for a collection to end before it gives up.
    pub wait_for_exclusive: Duration,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy::with_stale_after(Duration::from_secs(600))
    }
}

impl LockPolicy {
    /// A policy that refreshes five times per `stale_after` and waits up to `stale_after` for a collection.
    pub fn with_stale_after(stale_after: Duration) -> LockPolicy {
        let stale_after = stale_after.max(Duration::from_millis(500));
        LockPolicy { stale_after, refresh_every: stale_after / 5, wait_for_exclusive: stale_after }
    }

    /// The default policy, with `stale_after` from [`STALE_ENV`] when it is set.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] when the variable is set to anything but a positive number of seconds.
    pub fn from_env() -> Result<LockPolicy> {
        match std::env::var(STALE_ENV) {
            Err(_) => Ok(LockPolicy::default()),
            Ok(v) => match v.trim().parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs > 0.0 => {
                    Ok(LockPolicy::with_stale_after(Duration::from_secs_f64(secs)))
                }
                _ => Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{STALE_ENV}={v:?}: expected a positive number of seconds"),
                )),
            },
        }
    }
}

/// A lock found in a repository, and what it means now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The lock object's key.
    pub key: String,
    /// Its content; `None` when it could not be decoded.
    pub record: Option<LockRecord>,
    /// `None` when the lock is live; otherwise why it is stale.
    pub stale: Option<String>,
}

impl LockInfo {
    /// Whether the lock still blocks others.
    pub fn is_live(&self) -> bool {
        self.stale.is_none()
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.record {
            Some(r) => {
                let kind = match r.kind {
                    LockKind::Shared => "shared",
                    LockKind::Exclusive => "exclusive",
                };
                write!(f, "{} ({kind}, {} by {}", self.key, r.operation, r.process)?;
                let age = now_ms().saturating_sub(r.created_ms) / 1000;
                write!(f, ", taken {age} s ago")?;
            }
            None => write!(f, "{} (unreadable", self.key)?,
        }
        match &self.stale {
            Some(why) => write!(f, "; stale: {why})"),
            None => write!(f, ")"),
        }
    }
}

fn judge(record: &LockRecord, policy: &LockPolicy, now: u64) -> Option<String> {
    if record.process.liveness() == Liveness::Dead {
        return Some(format!("{} exited", record.process));
    }
    let idle = now.saturating_sub(record.refreshed_ms);
    if u128::from(idle) > policy.stale_after.as_millis() {
        return Some(format!("not refreshed for {} s", idle / 1000));
    }
    None
}

/// Every lock in `repo`, judged by `policy`.
///
/// # Errors
/// Repository errors.
pub fn list_locks(repo: &dyn Repository, policy: &LockPolicy) -> Result<Vec<LockInfo>> {
    let mut out = Vec::new();
    for ObjectInfo { key, .. } in repo.list(LOCKS_PREFIX)? {
        let data = match get(repo, &key) {
            Ok(d) => d,
            // Released between the listing and the read.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let info = match serde_json::from_slice::<LockRecord>(&data) {
            Ok(record) => {
                let stale = judge(&record, policy, now_ms());
                LockInfo { key, record: Some(record), stale }
            }
            // Some object stores keep what a killed writer had sent: an empty or cut-off object.
            Err(_) if data.is_empty() => {
                LockInfo { key, record: None, stale: Some("empty: its writer was killed while writing it".into()) }
            }
            Err(e) => LockInfo { key, record: None, stale: Some(format!("not a lock: {e}")) },
        };
        out.push(info);
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Removes the stale locks of `repo` and returns them; live ones are left alone.
///
/// # Errors
/// Repository errors.
pub fn remove_stale_locks(repo: &dyn Repository, policy: &LockPolicy) -> Result<Vec<LockInfo>> {
    let stale: Vec<LockInfo> = list_locks(repo, policy)?.into_iter().filter(|l| !l.is_live()).collect();
    for l in &stale {
        repo.delete(&l.key)?;
    }
    Ok(stale)
}

/// A lock this process holds. A thread refreshes it while the closure given to [`with_lock`] runs.
pub struct Lock<'r> {
    repo: &'r dyn Repository,
    key: String,
    record: Mutex<LockRecord>,
    policy: LockPolicy,
    last_refresh: Mutex<Instant>,
    failure: Mutex<Option<String>>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// Why an exclusive lock could not be taken: the live locks of others, and the stale ones ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Locks that block the caller.
    pub live: Vec<LockInfo>,
}

/// Runs `f` while holding a lock of `kind` on `repo`; the lock is refreshed meanwhile and removed afterwards.
///
/// A shared lock waits (up to [`LockPolicy::wait_for_exclusive`]) while a live exclusive lock exists. An
/// exclusive lock is refused when any other live lock exists: `Ok(Err(Busy))`.
///
/// # Errors
/// Repository errors; [`ErrorKind::Repository`] when a collection holds the repository for too long; `f`'s
/// errors.
pub fn with_lock<T>(
    repo: &dyn Repository,
    kind: LockKind,
    operation: &str,
    f: impl FnOnce(&Lock<'_>) -> Result<T>,
) -> Result<std::result::Result<T, Busy>> {
    let policy = LockPolicy::from_env()?;
    let lock = Lock::write(repo, kind, operation, policy)?;
    let admitted: Result<Option<Busy>> = match kind {
        LockKind::Exclusive => list_locks(repo, &policy).map(|locks| {
            let live: Vec<LockInfo> = locks.into_iter().filter(|l| l.key != lock.key && l.is_live()).collect();
            (!live.is_empty()).then_some(Busy { live })
        }),
        LockKind::Shared => lock.wait_for_collections().map(|()| None),
    };
    match admitted {
        Ok(None) => {}
        Ok(Some(busy)) => {
            let _ = lock.release();
            return Ok(Err(busy));
        }
        Err(e) => {
            let _ = lock.release();
            return Err(e);
        }
    }
    let result = std::thread::scope(|s| {
        let refresher = std::thread::Builder::new()
            .name("tabsnap-lock-refresh".into())
            .spawn_scoped(s, || lock.refresh_loop())
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the lock's refresh thread: {e}")));
        let stop = StopOnDrop(&lock);
        let result = refresher.and_then(|_| f(&lock));
        drop(stop);
        result
    });
    // A lock left behind (the delete failed) is harmless: it goes stale and `unlock` removes it.
    let _ = lock.release();
    result.map(Ok)
}

struct StopOnDrop<'a, 'r>(&'a Lock<'r>);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        *self.0.stopped.lock() = true;
        self.0.wake.notify_all();
    }
}

impl<'r> Lock<'r> {
    fn write(repo: &'r dyn Repository, kind: LockKind, operation: &str, policy: LockPolicy) -> Result<Lock<'r>> {
        let process = ProcessId::current();
        let now = now_ms();
        let seed = format!("{process:?} {now} {:?} {:?}", std::thread::current().id(), Instant::now());
        let key = format!("{LOCKS_PREFIX}{}", &crate::format::ContentHash::of(seed.as_bytes()).to_hex()[..32]);
        let record = LockRecord { kind, operation: operation.into(), process, created_ms: now, refreshed_ms: now };
        let lock = Lock {
            repo,
            key,
            record: Mutex::new(record),
            policy,
            last_refresh: Mutex::new(Instant::now()),
            failure: Mutex::new(None),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        };
        let data = lock.encode()?;
        repo.put(&lock.key, &data, PutMode::CreateIfAbsent).map_err(|e| e.context("writing a lock"))?;
        Ok(lock)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&*self.record.lock()).map_err(|e| Error::new(ErrorKind::Io, format!("encoding a lock: {e}")))
    }

    /// The lock object's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy this lock follows.
    pub fn policy(&self) -> &LockPolicy {
        &self.policy
    }

    /// Writes the lock again with the current time (recreating it if someone removed it).
    fn refresh(&self) -> Result<()> {
        self.record.lock().refreshed_ms = now_ms();
        let data = self.encode()?;
        self.repo.put(&self.key, &data, PutMode::Overwrite).map_err(|e| e.context("refreshing a lock"))?;
        *self.last_refresh.lock() = Instant::now();
        Ok(())
    }

    fn refresh_loop(&self) {
        let mut stopped = self.stopped.lock();
        while !*stopped {
            self.wake.wait_for(&mut stopped, self.policy.refresh_every);
            if *stopped {
                break;
            }
            drop(stopped);
            let result = self.refresh();
            *self.failure.lock() = result.err().map(|e| e.to_string());
            stopped = self.stopped.lock();
        }
    }

    /// Waits while a live exclusive lock exists.
    fn wait_for_collections(&self) -> Result<()> {
        let start = Instant::now();
        let poll = (self.policy.refresh_every / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        loop {
            let collectors: Vec<LockInfo> = list_locks(self.repo, &self.policy)?
                .into_iter()
                .filter(|l| {
                    l.key != self.key && l.is_live() && l.record.as_ref().is_some_and(|r| r.kind == LockKind::Exclusive)
                })
                .collect();
            let Some(first) = collectors.first() else { return Ok(()) };
            if start.elapsed() > self.policy.wait_for_exclusive {
                return Err(Error::new(
                    ErrorKind::Repository,
                    format!(
                        "{} is held by a garbage collection for over {} s: {first}",
                        self.repo.describe(),
                        self.policy.wait_for_exclusive.as_secs()
                    ),
                ));
            }
            if self.last_refresh.lock().elapsed() >= self.policy.refresh_every {
                self.refresh()?;
            }
            std::thread::sleep(poll);
        }
    }

    /// The commit gate of a shared holder: refreshes the lock, then waits until no live collection runs.
    /// After it returns, no collector deletes anything until this lock is released or goes stale, so what the
    /// caller checks next stays true while it commits. Earlier refreshes that failed (the lock may have been
    /// taken for stale meanwhile) do not matter here: the caller's re-check of what it references finds out
    /// whether anything was collected.
    ///
    /// # Errors
    /// This refresh's failure; repository errors; a collection that holds on for too long.
    pub fn gate(&self) -> Result<()> {
        self.refresh()?;
        self.wait_for_collections()
    }

    /// For an exclusive holder, before each deletion: whether the lock is certainly still honoured (refreshed
    /// within half the stale time, by this process's monotonic clock).
    ///
    /// # Errors
    /// [`ErrorKind::Repository`] when it may no longer be.
    pub fn check_held(&self) -> Result<()> {
        let since = self.last_refresh.lock().elapsed();
        if since < self.policy.stale_after / 2 {
            return Ok(());
        }
        let why = self.failure.lock().clone().unwrap_or_else(|| "the process was paused".into());
        Err(Error::new(
            ErrorKind::Repository,
            format!("lost the lock {}: not refreshed for {} ms ({why}); stopped", self.key, since.as_millis()),
        ))
    }

    fn release(&self) -> Result<()> {
        self.repo.delete(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::MemoryRepository;

    #[test]
    fn exclusive_is_refused_while_shared_is_held_and_locks_are_removed_after() {
        let repo = MemoryRepository::new();
        let r = with_lock(&repo, LockKind::Shared, "backup", |_| {
            let busy = with_lock(&repo, LockKind::Exclusive, "gc", |_| Ok(())).unwrap().unwrap_err();
            assert_eq!(busy.live.len(), 1);
            assert!(busy.live[0].to_string().contains("backup by process"), "{}", busy.live[0]);
            // Two shared holders coexist.
            with_lock(&repo, LockKind::Shared, "restore", |_| Ok(7))
                .unwrap()
                .map_err(|_| Error::new(ErrorKind::Io, "busy"))
        });
        assert_eq!(r.unwrap().unwrap(), 7);
        assert!(repo.list(LOCKS_PREFIX).unwrap().is_empty());
        assert_eq!(with_lock(&repo, LockKind::Exclusive, "gc", |l| l.check_held().map(|()| 1)).unwrap().unwrap(), 1);
    }

    #[test]
    fn stale_and_dead_locks_do_not_block_and_are_removed_by_unlock() {
        let repo = MemoryRepository::new();
        let policy = LockPolicy::default();
        let mut dead = ProcessId::current();
        dead.start_ticks += 1; // the same pid, another start: a process that exited
        let old = now_ms() - 3_600_000;
        let other_host = ProcessId { host: "elsewhere.example".into(), ..ProcessId::current() };
        for (key, process, refreshed_ms) in
            [("locks/a", dead, now_ms()), ("locks/b", other_host.clone(), old), ("locks/c", other_host, now_ms())]
        {
            let r = LockRecord {
                kind: LockKind::Shared,
                operation: "backup".into(),
                process,
                created_ms: refreshed_ms,
                refreshed_ms,
            };
            repo.put(key, &serde_json::to_vec(&r).unwrap(), PutMode::CreateIfAbsent).unwrap();
        }
        repo.put("locks/d", b"garbage", PutMode::CreateIfAbsent).unwrap();
        repo.put("locks/e", b"", PutMode::CreateIfAbsent).unwrap();
        let locks = list_locks(&repo, &policy).unwrap();
        let live: Vec<&str> = locks.iter().filter(|l| l.is_live()).map(|l| l.key.as_str()).collect();
        if ProcessId::current().boot_id.is_empty() {
            return;
        }
        assert_eq!(live, ["locks/c"]);
        assert!(locks[0].stale.as_deref().unwrap_or("").contains("exited"));
        assert!(locks[1].stale.as_deref().unwrap_or("").contains("not refreshed"));
        assert!(locks[3].stale.as_deref().unwrap_or("").starts_with("not a lock"));
        assert!(locks[4].stale.as_deref().unwrap_or("").starts_with("empty: its writer was killed"));
        let busy = with_lock(&repo, LockKind::Exclusive, "gc", |_| Ok(())).unwrap().unwrap_err();
        assert_eq!(busy.live.len(), 1);
        let removed = remove_stale_locks(&repo, &policy).unwrap();
        assert_eq!(removed.len(), 4);
        assert_eq!(repo.list(LOCKS_PREFIX).unwrap().len(), 1);
    }
}
