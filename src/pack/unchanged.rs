//! Files unchanged since the label's previous backup: their size, modification time and inode are what that
//! backup recorded, so their chunks are taken from its manifest instead of reading and hashing them again
//! (tablet files are immutable once written; a host's snapshot hard-links them, keeping the inode). Only chunks
//! the repository's indexes still locate are taken; anything else is read as usual.

use std::collections::{HashMap, VecDeque};

use super::state::{KnownChunks, list_snapshots, load_stored_manifest};
use crate::format::{self, FileEntry, FileRef, ManifestHead, PageRef, StoredManifest, TabletEntry};
use crate::repo::Repository;
use crate::tree::{Place, Tree};

/// The previous backup of a label, read a page at a time as a backup's batches go. Opening it reads its pages
/// once, keeping for each tablet only which page holds it (20 bytes a tablet, sorted); a batch then reads the
/// pages its tablets are in, keeping the last [`CACHED_PAGES`] read, with their files by [`key_of`] (paths left
/// empty: the key holds them). Both backups list the tablets in the catalog's order, so a batch mostly finds its
/// tablets in the pages the last one read; tablets in any other order are found too, at the cost of reading
/// their pages again.
pub(super) struct Previous<'r> {
    repo: &'r dyn Repository,
    /// The previous manifest's key and pages (none when there is no previous backup, it was taken with another
    /// chunk size, or a page could not be read: then every file is read).
    key: String,
    pages: Vec<PageRef>,
    /// Each previous tablet's page, by [`tablet_key`], sorted.
    tablets: Vec<(TabletKey, u32)>,
    /// The pages read last (page number, files), the most recent last.
    cache: VecDeque<(u32, HashMap<FileKey, FileEntry>)>,
    /// A version-1 manifest: whole, its files all held (such manifests are small).
    whole: Option<HashMap<FileKey, FileEntry>>,
}

/// The pages of the previous manifest a backup holds at once.
const CACHED_PAGES: usize = 3;

impl<'r> Previous<'r> {
    /// The previous backup of `label` in `database` taken with `chunk_size`.
    pub(super) fn open(repo: &'r dyn Repository, label: &str, database: &str, chunk_size: u64) -> Previous<'r> {
        let mut p = Previous {
            repo,
            key: String::new(),
            pages: Vec::new(),
            tablets: Vec::new(),
            cache: VecDeque::new(),
            whole: None,
        };
        let Some(s) = list_snapshots(repo).ok().and_then(|snaps| snaps.into_iter().rfind(|s| s.label == label)) else {
            return p;
        };
        let Ok(stored) = load_stored_manifest(repo, &s.label, &s.timestamp) else { return p };
        if stored.database() != database || stored.chunk_size() != chunk_size {
            return p;
        }
        match stored {
            StoredManifest::Whole(m) => p.whole = Some(files_of(&m.tables)),
            StoredManifest::Paged(h) => {
                let key = format::manifest_key(&s.label, &s.timestamp);
                let mut tablets = Vec::new();
                let mut page = 0u32;
                let read = h.for_each_page(
                    &key,
                    |_, obj| crate::store::read_page(repo, obj),
                    |tree| {
                        tablets.extend(tree.tablets().map(|(place, t)| (tablet_key(place, &t.id), page)));
                        page += 1;
                        Ok(())
                    },
                );
                // A page that cannot be read: every file is read as if there were no previous backup.
                if read.is_ok() {
                    tablets.sort_unstable();
                    tablets.shrink_to_fit();
                    (p.key, p.pages, p.tablets) = (key, h.pages, tablets);
                }
            }
        }
        p
    }

    /// The files of page `n`, read unless cached; `None` when it cannot be read (then the previous backup is
    /// given up: every file is read).
    fn page(&mut self, n: u32) -> Option<&mut HashMap<FileKey, FileEntry>> {
        if let Some(i) = self.cache.iter().position(|(p, _)| *p == n) {
            let hit = self.cache.remove(i)?;
            self.cache.push_back(hit);
        } else {
            let r = *self.pages.get(n as usize)?;
            let mut files = None;
            let repo = self.repo;
            let read = ManifestHead::for_pages(
                std::slice::from_ref(&r),
                &self.key,
                |_, obj| crate::store::read_page(repo, obj),
                |tree| {
                    files = Some(files_of(&tree));
                    Ok(())
                },
            );
            let Some(files) = files.filter(|_| read.is_ok()) else {
                (self.pages, self.tablets, self.cache) = (Vec::new(), Vec::new(), VecDeque::new());
                return None;
            };
            if self.cache.len() >= CACHED_PAGES {
                self.cache.pop_front();
            }
            self.cache.push_back((n, files));
        }
        self.cache.back_mut().map(|(_, files)| files)
    }

    /// The previous entry of `file`, taken out of what is held.
    fn take(&mut self, file: &FileRef<'_>) -> Option<FileEntry> {
        if let Some(files) = &mut self.whole {
            return files.remove(&key_of(file));
        }
        let tablet = tablet_key(file.place, &file.tablet.id);
        let i = self.tablets.binary_search_by(|(k, _)| k.cmp(&tablet)).ok()?;
        let page = self.tablets[i].1;
        self.page(page)?.remove(&key_of(file))
    }

    /// For each of `files` (in order): the previous entry to take its chunks from, when the file is unchanged and
    /// every one of its chunks is indexed.
    pub(super) fn reusable<'a>(
        &mut self,
        files: impl Iterator<Item = FileRef<'a>>,
        known: &KnownChunks,
    ) -> Vec<Option<Box<FileEntry>>> {
        files
            .map(|f| {
                let prev = self.take(&f)?;
                let same = prev.size == f.file.size && prev.seen.is_some() && prev.seen == f.file.seen;
                (same && prev.chunks.iter().all(|h| known.contains(h))).then(|| Box::new(prev))
            })
            .collect()
    }
}

/// The files of `tree` by [`key_of`], their paths left empty.
fn files_of(tree: &Tree<TabletEntry>) -> HashMap<FileKey, FileEntry> {
    let mut files = HashMap::new();
    for (place, tablet) in tree.tablets() {
        for file in &tablet.files {
            let entry = FileEntry { path: String::new(), ..file.clone() };
            files.insert(key_of(&FileRef { place, tablet, file }), entry);
        }
    }
    files
}

/// A tablet's identity across two manifests of one label: table, partition, index and id, hashed (128 bits of
/// BLAKE3 over the length-prefixed names).
type TabletKey = [u8; 16];

fn tablet_key(place: Place<'_>, id: &str) -> TabletKey {
    digest([place.table, place.partition, place.index, id])
}

fn digest<const N: usize>(parts: [&str; N]) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    for part in parts {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&h.finalize().as_bytes()[..16]);
    key
}

/// A file's identity across two manifests of one label: table, partition, index, tablet and path, hashed (128
/// bits of BLAKE3 over the length-prefixed names: a map of a million files keeps 16 bytes a key, not five
/// strings).
type FileKey = [u8; 16];

fn key_of(f: &FileRef<'_>) -> FileKey {
    digest([f.place.table, f.place.partition, f.place.index, &f.tablet.id, &f.file.path])
}
