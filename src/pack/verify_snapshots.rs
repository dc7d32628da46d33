//! Verifying a repository's snapshots as an operator asks for them: all of them, every backup of a label, or
//! one backup (its timestamp, or [`super::LATEST`]), under a shared lock so no collection removes what is being
//! checked. The CLI's `tabsnap verify`, [`crate::Engine::verify`], C and Python all come here.

use super::verify::{Part, VerifyRun};
use super::window::{Snapshot, Windows};
use super::{Packer, Problem, VerifyReport, is_latest, latest_snapshot, list_snapshots, load_stored_manifest};
use crate::format;
use crate::repo::Repository;
use crate::store;
use crate::{Error, ErrorKind, Result};

impl Packer {
    /// Verifies the snapshots of `repo` that `label` and `timestamp` select (`None`: every one; `timestamp` may
    /// be `"latest"`) with [`Packer::verify`]'s checks, one snapshot at a time and each a window of its pages at
    /// a time (see [`Packer::restore_stored`]), so memory does not grow with the snapshots. A pack's own checks
    /// are made once; a chunk two snapshots share is read for each. A manifest (or page) that cannot be read or
    /// fails its checks is a problem of its own, and the other snapshots are still checked.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] when nothing matches (naming the repository and what was asked); repository
    /// errors listing the snapshots or taking the lock.
    pub fn verify_snapshots(
        &self,
        repo: &dyn Repository,
        label: Option<&str>,
        timestamp: Option<&str>,
        quick: bool,
    ) -> Result<VerifyReport> {
        store::with_shared_lock(repo, "verify", |_| {
            let snaps = match (label, timestamp) {
                (Some(l), Some(t)) if is_latest(t) => vec![latest_snapshot(repo, l)?],
                (None, Some(_)) => {
                    return Err(Error::new(ErrorKind::InvalidArgument, "a timestamp needs the label it belongs to"));
                }
                _ => list_snapshots(repo)?
                    .into_iter()
                    .filter(|s| label.is_none_or(|l| s.label == l) && timestamp.is_none_or(|t| s.timestamp == t))
                    .collect(),
            };
            if snaps.is_empty() {
                let what = match (label, timestamp) {
                    (Some(l), Some(t)) => format!("snapshot {l} with timestamp {t}"),
                    (Some(l), None) => format!("snapshot {l}"),
                    _ => "snapshot".to_owned(),
                };
                return Err(Error::new(ErrorKind::NotFound, format!("{} holds no {what}", repo.describe())));
            }
            // One snapshot at a time, a window of its pages at a time.
            let mut run = VerifyRun::default();
            let mut unreadable = Vec::new();
            for s in &snaps {
                let key = format::manifest_key(&s.label, &s.timestamp);
                let result = load_stored_manifest(repo, &s.label, &s.timestamp).and_then(|stored| {
                    let snapshot = Snapshot::of(&stored);
                    let (label, timestamp) = snapshot.id();
                    let prefix = format!("{label}/{timestamp}: {}", snapshot.database());
                    let windows = Windows::new(repo, &self.pool, &key, snapshot, self.opts.window_files);
                    windows.for_each(true, |_, tables| {
                        let (chunk_size, indexes) = (snapshot.chunk_size(), snapshot.indexes());
                        let part = Part { key: key.clone(), prefix: prefix.clone(), chunk_size, indexes, tables };
                        self.verify_window(repo, std::slice::from_ref(&part), quick, &mut run);
                        Ok(())
                    })?;
                    run.read_unread_indexes(repo, snapshot.indexes());
                    Ok(())
                });
                if let Err(e) = result {
                    unreadable.push(Problem {
                        object: e.object().map_or(key, str::to_owned),
                        chunk: None,
                        files: Vec::new(),
                        message: e.message().to_owned(),
                    });
                }
            }
            let mut report = run.finish();
            report.snapshots = snaps.len() as u64;
            report.problems.splice(0..0, unreadable);
            Ok(report)
        })
    }
}
