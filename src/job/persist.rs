//! The state file: the repositories an engine was told about and its job table, kept in `state.json` under the
//! state directory so that they survive the process, and shared by every process that uses the directory.
//!
//! Every change is a read-modify-write under an exclusive lock of `state.lock` ([`StateFile::transact`]);
//! reads take a shared lock ([`StateFile::read`]). No process ever writes back a table it read before another
//! process changed it. What the state means (which jobs are still running, which repositories to open) is the
//! job manager's and the registry's business.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::JobInfo;
use crate::{Error, ErrorKind, Result};

/// A repository as CREATE REPOSITORY declared it, and as the state file keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RepoMeta {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) location: String,
    pub(crate) read_only: bool,
    pub(crate) create_ms: u64,
    /// The repository's properties (credentials among them: the state file is private to its owner, and
    /// nothing else ever shows them).
    #[serde(default)]
    pub(crate) properties: Vec<(String, String)>,
}

/// Everything the state file holds.
#[derive(Default, Clone, Serialize, Deserialize)]
pub(crate) struct SavedState {
    /// The next id to hand out (repositories and jobs share one sequence).
    pub(crate) next_id: u64,
    /// Repositories created by statement (attached ones are not saved).
    pub(crate) repositories: Vec<RepoMeta>,
    /// The job table.
    pub(crate) jobs: Vec<JobInfo>,
}

/// `state.json` in a state directory, and the `state.lock` that orders the processes changing it.
#[derive(Clone)]
pub(crate) struct StateFile {
    path: PathBuf,
    lock_path: PathBuf,
}

impl StateFile {
    /// The state file of directory `dir` (created at the first save).
    pub(crate) fn in_dir(dir: &Path) -> StateFile {
        StateFile { path: dir.join("state.json"), lock_path: dir.join("state.lock") }
    }

    /// Locks the state directory: exclusively to change the state, shared to read it. Released when the
    /// returned file is dropped (or the process dies).
    fn lock(&self, exclusive: bool) -> Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.lock_path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(|e| Error::io(format!("opening {}", self.lock_path.display()), e))?;
        let locked = if exclusive { f.lock() } else { f.lock_shared() };
        locked.map_err(|e| Error::io(format!("locking {}", self.lock_path.display()), e))?;
        Ok(f)
    }

    /// Reads the state under a shared lock.
    ///
    /// # Errors
    /// As [`StateFile::load`]; the lock file cannot be opened or locked.
    pub(crate) fn read(&self) -> Result<SavedState> {
        let _lock = self.lock(false)?;
        self.load()
    }

    /// Reads the state, lets `f` change it, and writes it back, all under the exclusive lock: the one way to
    /// change a state other processes may be changing too. Nothing is written when `f` fails.
    ///
    /// # Errors
    /// `f`'s error; the state cannot be read, locked or written.
    pub(crate) fn transact<R>(&self, f: impl FnOnce(&mut SavedState) -> Result<R>) -> Result<R> {
        let _lock = self.lock(true)?;
        let mut state = self.load()?;
        let r = f(&mut state)?;
        self.save(&state)?;
        Ok(r)
    }

    /// What was saved; the default (empty) state when nothing was. (No lock: callers lock.)
    ///
    /// # Errors
    /// A file that cannot be read or decoded.
    fn load(&self) -> Result<SavedState> {
        let path = &self.path;
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SavedState::default()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| Error::new(ErrorKind::Format, format!("{}: {e}", path.display())))
    }

    /// Replaces the saved state with `state`, atomically (write aside, fsync, rename). (No lock: callers lock.)
    ///
    /// # Errors
    /// The directory or the file cannot be written.
    fn save(&self, state: &SavedState) -> Result<()> {
        let path = &self.path;
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
        // Private to its owner: it holds repository credentials.
        let write = |p: &Path| -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(p)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        write(&tmp)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }
}
