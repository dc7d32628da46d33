//! The commit re-check: before a manifest (or a part of one) is written, every index it names and every pack
//! it needs must still be in the repository. Run after [`super::Lock::gate`], the check stays true until the
//! commit: no collector deletes anything while the caller's lock is live.

use std::collections::{HashMap, HashSet};

use crate::format::{self, ContentHash, INDEX_PREFIX, Index, Manifest, PACKS_PREFIX, PageRef};
use crate::repo::{Repository, get};
use crate::{Error, ErrorKind, Result};

/// Checks that every index in `indexes` and every pack in `packs` (id, length) exists, with one listing of
/// `index/` and one of `packs/`.
///
/// # Errors
/// [`ErrorKind::NotFound`] naming the first missing object (the caller must not commit); repository errors.
pub fn check_objects(repo: &dyn Repository, indexes: &[ContentHash], packs: &HashMap<ContentHash, u64>) -> Result<()> {
    if !indexes.is_empty() {
        let present: HashSet<ContentHash> =
            repo.list(INDEX_PREFIX)?.into_iter().filter_map(|o| format::index_id_from_key(&o.key)).collect();
        if let Some(missing) = indexes.iter().find(|id| !present.contains(id)) {
            return Err(gone(&format::index_key(missing)));
        }
    }
    if !packs.is_empty() {
        let present: HashMap<ContentHash, u64> = repo
            .list(PACKS_PREFIX)?
            .into_iter()
            .filter_map(|o| format::pack_id_from_key(&o.key).map(|id| (id, o.size)))
            .collect();
        for (id, len) in packs {
            if present.get(id) != Some(len) {
                return Err(gone(&format::pack_key(id)));
            }
        }
    }
    Ok(())
}

/// Checks that every page of a manifest about to be committed is still in the repository.
///
/// # Errors
/// [`ErrorKind::NotFound`] naming the first missing page (the caller must not commit); repository errors.
pub fn check_pages(repo: &dyn Repository, pages: &[PageRef]) -> Result<()> {
    if pages.is_empty() {
        return Ok(());
    }
    let present: HashSet<ContentHash> =
        repo.list(format::TREES_PREFIX)?.into_iter().filter_map(|o| format::tree_id_from_key(&o.key)).collect();
    match pages.iter().find(|p| !present.contains(&p.id)) {
        Some(missing) => Err(gone(&format::tree_key(&missing.id))),
        None => Ok(()),
    }
}

/// Checks a manifest's references: its indexes, and the packs that hold its chunks (read from those indexes).
///
/// # Errors
/// As [`check_objects`]; [`ErrorKind::NotFound`] when a chunk is in none of the indexes; format errors of the
/// indexes.
pub fn check_manifest(repo: &dyn Repository, manifest: &Manifest) -> Result<()> {
    let mut needed: HashSet<ContentHash> = manifest.files().flat_map(|f| f.file.chunks.iter().copied()).collect();
    let mut packs = HashMap::new();
    for id in &manifest.indexes {
        let key = format::index_key(id);
        let index = match get(repo, &key) {
            Ok(data) => Index::decode(&key, &data)?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(gone(&key)),
            Err(e) => return Err(e),
        };
        for p in index.packs {
            // Every chunk of the pack is taken off the list (no short-circuit).
            let hits = p.chunks.iter().filter(|c| needed.remove(&c.hash)).count();
            if hits > 0 {
                packs.insert(p.id, p.len);
            }
        }
    }
    if let Some(chunk) = needed.iter().next() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "chunk {} of snapshot {} is in none of its indexes; nothing was committed",
                chunk.to_hex(),
                manifest.label
            ),
        ));
    }
    check_objects(repo, &manifest.indexes, &packs)
}

fn gone(key: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "{key}, which this snapshot needs, is no longer in the repository (a garbage collection took this \
             job's lock for stale); nothing was committed: run the job again"
        ),
    )
    .with_object(key)
}
