//! The state file: the repositories an engine was told about and its job table, kept in `state.json` under the
//! state directory so that they survive the process.
//!
//! A thin unit on purpose: [`StateFile::load`] gives back what was saved, [`StateFile::save`] replaces it. What
//! the state means (which jobs are still running, which repositories to open) is the job manager's and the
//! registry's business.

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
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct SavedState {
    /// The next id to hand out (repositories and jobs share one sequence).
    pub(crate) next_id: u64,
    /// Repositories created by statement (attached ones are not saved).
    pub(crate) repositories: Vec<RepoMeta>,
    /// The job table.
    pub(crate) jobs: Vec<JobInfo>,
}

/// `state.json` in a state directory.
pub(crate) struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file of directory `dir` (created at the first save).
    pub(crate) fn in_dir(dir: &Path) -> StateFile {
        StateFile { path: dir.join("state.json") }
    }

    /// What was saved; the default (empty) state when nothing was.
    ///
    /// # Errors
    /// A file that cannot be read or decoded.
    pub(crate) fn load(&self) -> Result<SavedState> {
        let path = &self.path;
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SavedState::default()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| Error::new(ErrorKind::Format, format!("{}: {e}", path.display())))
    }

    /// Replaces the saved state with `state`, atomically (write aside, fsync, rename).
    ///
    /// # Errors
    /// The directory or the file cannot be written.
    pub(crate) fn save(&self, state: &SavedState) -> Result<()> {
        let path = &self.path;
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
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
