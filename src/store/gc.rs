//! Garbage collection: removes the manifest pages and index objects no snapshot needs and the packs only they
//! (or no index at all) list, under the repository's exclusive lock, so that nothing a live backup may still
//! reference is removed.
//!
//! Order matters for a collection killed at any point: pages go first, then indexes, then packs. An index that
//! survives always has all its packs; a pack left without an index is adopted by the next backup or removed by
//! the next collection.

use std::collections::HashSet;

use super::lock::{Busy, LockInfo, LockKind, list_locks, with_lock};
use crate::Result;
use crate::format::{self, INDEX_PREFIX, Index, PACKS_PREFIX, StoredManifest, TREES_PREFIX};
use crate::pack::cluster::PARTS_PREFIX;
use crate::pack::{list_snapshots, load_stored_manifest};
use crate::repo::{ObjectInfo, Repository, get};

/// What a collection removed, or would remove (`dry_run`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Nothing was removed: this is what a collection would remove now.
    pub dry_run: bool,
    /// Manifest pages removed (of snapshots dropped, or written by backups that never committed).
    pub pages: Vec<ObjectInfo>,
    /// Index objects removed.
    pub indexes: Vec<ObjectInfo>,
    /// Packs removed.
    pub packs: Vec<ObjectInfo>,
    /// Bytes freed (pages, indexes and packs).
    pub bytes: u64,
    /// Stale locks that did not block the collection (`tabsnap unlock` removes them).
    pub stale_locks: Vec<LockInfo>,
    /// Leftovers of unfinished writes of dead processes (a local repository's temporary files) removed, and
    /// their bytes (not in `bytes`).
    pub leftovers: (u64, u64),
}

/// The result of [`collect_garbage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcOutcome {
    /// The collection ran.
    Collected(GcReport),
    /// Others use the repository (backups, restores, verifies or another collection): nothing was removed; a
    /// later collection frees the space.
    Busy(Busy),
}

/// Collects garbage in `repo` under its exclusive lock (see [`crate::store`]); with `dry_run`, only reports.
///
/// # Errors
/// Repository errors; a manifest or index that cannot be read stops the collection before anything is removed;
/// [`crate::ErrorKind::Repository`] when the lock is lost mid-way (the collection stops; what it removed was
/// garbage).
pub fn collect_garbage(repo: &dyn Repository, dry_run: bool) -> Result<GcOutcome> {
    let op = if dry_run { "gc --dry-run" } else { "gc" };
    let outcome = with_lock(repo, LockKind::Exclusive, op, |lock| {
        let mut report = GcReport { dry_run, ..GcReport::default() };
        report.stale_locks = list_locks(repo, lock.policy())?.into_iter().filter(|l| !l.is_live()).collect();
        let (pages, indexes, packs) = garbage(repo)?;
        let kinds = [(pages, &mut report.pages), (indexes, &mut report.indexes), (packs, &mut report.packs)];
        for (doomed, removed) in kinds {
            for obj in doomed {
                if !dry_run {
                    lock.check_held()?;
                    repo.delete(&obj.key)?;
                }
                report.bytes += obj.size;
                removed.push(obj);
            }
        }
        if !dry_run {
            lock.check_held()?;
        }
        report.leftovers = repo.remove_leftovers(dry_run)?;
        Ok(report)
    })?;
    Ok(match outcome {
        Ok(report) => GcOutcome::Collected(report),
        Err(busy) => GcOutcome::Busy(busy),
    })
}

/// The manifest pages, indexes and packs no snapshot (and no part of a multi-node backup) needs.
fn garbage(repo: &dyn Repository) -> Result<(Vec<ObjectInfo>, Vec<ObjectInfo>, Vec<ObjectInfo>)> {
    let mut keep_indexes = HashSet::new();
    let mut keep_pages = HashSet::new();
    let mut keep = |m: StoredManifest| {
        keep_indexes.extend(m.indexes().iter().copied());
        keep_pages.extend(m.pages().iter().map(|p| p.id));
    };
    for s in list_snapshots(repo)? {
        keep(load_stored_manifest(repo, &s.label, &s.timestamp)?);
    }
    for obj in repo.list(PARTS_PREFIX)? {
        keep(super::read_stored_manifest(repo, &obj.key)?);
    }
    let doomed_pages = repo
        .list(TREES_PREFIX)?
        .into_iter()
        .filter(|obj| format::tree_id_from_key(&obj.key).is_some_and(|id| !keep_pages.contains(&id)))
        .collect();
    let mut keep_packs = HashSet::new();
    let mut doomed_indexes = Vec::new();
    for obj in repo.list(INDEX_PREFIX)? {
        let Some(id) = format::index_id_from_key(&obj.key) else { continue };
        if keep_indexes.contains(&id) {
            let index = Index::decode(&obj.key, &get(repo, &obj.key)?)?;
            keep_packs.extend(index.packs.iter().map(|p| p.id));
        } else {
            doomed_indexes.push(obj);
        }
    }
    let doomed_packs = repo
        .list(PACKS_PREFIX)?
        .into_iter()
        .filter(|obj| format::pack_id_from_key(&obj.key).is_some_and(|id| !keep_packs.contains(&id)))
        .collect();
    Ok((doomed_pages, doomed_indexes, doomed_packs))
}
