//! Files unchanged since the label's previous backup: their size, modification time and inode are what that
//! backup recorded, so their chunks are taken from its manifest instead of reading and hashing them again
//! (tablet files are immutable once written; a host's snapshot hard-links them, keeping the inode). Only chunks
//! the repository's indexes still locate are taken; anything else is read as usual.

use std::collections::HashMap;

use super::state::{KnownChunks, list_snapshots, load_stored_manifest};
use crate::format::{self, FileEntry, FileRef, StoredManifest, TabletEntry};
use crate::repo::Repository;
use crate::tree::Tree;

/// The previous backup's files of `label` in `database`, by [`key_of`] (their paths left empty: the key holds
/// them); empty when there is none, it was taken with another chunk size, or it cannot be read (then every file
/// is read).
pub(super) fn previous_files(
    repo: &dyn Repository,
    label: &str,
    database: &str,
    chunk_size: u64,
) -> HashMap<FileKey, FileEntry> {
    let mut files = HashMap::new();
    let Some(s) = list_snapshots(repo).ok().and_then(|snaps| snaps.into_iter().rfind(|s| s.label == label)) else {
        return files;
    };
    let Ok(stored) = load_stored_manifest(repo, &s.label, &s.timestamp) else { return files };
    if stored.database() != database || stored.chunk_size() != chunk_size {
        return files;
    }
    let mut add = |tree: &Tree<TabletEntry>| {
        for (place, tablet) in tree.tablets() {
            for file in &tablet.files {
                let entry = FileEntry { path: String::new(), ..file.clone() };
                files.insert(key_of(&FileRef { place, tablet, file }), entry);
            }
        }
    };
    // A page at a time: the previous backup's manifest is never whole in memory beside this one.
    let read = match stored {
        StoredManifest::Whole(m) => {
            add(&m.tables);
            Ok(())
        }
        StoredManifest::Paged(h) => {
            let key = format::manifest_key(&s.label, &s.timestamp);
            h.for_each_page(
                &key,
                |_, page| crate::store::read_page(repo, page),
                |tree| {
                    add(&tree);
                    Ok(())
                },
            )
        }
    };
    // A page that cannot be read: every file is read as if there were no previous backup.
    if read.is_err() {
        return HashMap::new();
    }
    files
}

/// For each of `files` (in order): the previous entry to take its chunks from, when the file is unchanged and
/// every one of its chunks is indexed.
pub(super) fn reusable<'a>(
    files: impl Iterator<Item = FileRef<'a>>,
    previous: &HashMap<FileKey, FileEntry>,
    known: &KnownChunks,
) -> Vec<Option<Box<FileEntry>>> {
    files
        .map(|f| {
            if previous.is_empty() {
                return None;
            }
            let prev = previous.get(&key_of(&f))?;
            let same = prev.size == f.file.size && prev.seen.is_some() && prev.seen == f.file.seen;
            (same && prev.chunks.iter().all(|h| known.contains(h))).then(|| Box::new(prev.clone()))
        })
        .collect()
}

/// A file's identity across two manifests of one label: table, partition, index, tablet and path, hashed (128
/// bits of BLAKE3 over the length-prefixed names: a map of a million files keeps 16 bytes a key, not five
/// strings).
pub(super) type FileKey = [u8; 16];

fn key_of(f: &FileRef<'_>) -> FileKey {
    let mut h = blake3::Hasher::new();
    for part in [f.place.table, f.place.partition, f.place.index, &f.tablet.id, &f.file.path] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&h.finalize().as_bytes()[..16]);
    key
}
