//! A snapshot's tablets a window at a time: consecutive pages of a paged manifest joined until the next page
//! would pass a bound on files, so that restore and verify hold one window's tables and plans, never the whole
//! manifest's. A version-1 manifest (whole, and small) is one window.
//!
//! Each window is checked as [`Manifest::check`] checks a whole manifest. What only the whole shows, names
//! unique across windows, is checked by digests of the names ([`super::repeats`]: a Bloom filter in the first
//! reading, the suspects it leaves counted in a second; a table, partition or index continued from the previous
//! window is the same node, as joining pages makes it); a digest counted twice is confirmed with the names
//! themselves, read again, before it is reported, so a collision costs a reading and never a refusal.

use std::collections::HashSet;
use std::ops::Range;

use rayon::prelude::*;

use super::repeats::{RepeatFilter, Suspects};
use super::window_names::{Last, Name, walk};
use crate::format::{self, ContentHash, Manifest, ManifestHead, StoredManifest, TabletEntry};
use crate::repo::Repository;
use crate::store::read_page;
use crate::tree::{Place, Tree};
use crate::{Error, ErrorKind, Result};

/// The manifest of a snapshot, whole or as its head.
#[derive(Clone, Copy)]
pub(crate) enum Snapshot<'a> {
    /// A whole manifest.
    Whole(&'a Manifest),
    /// A paged manifest's head: its tablets are read from its pages.
    Paged(&'a ManifestHead),
}

impl<'a> Snapshot<'a> {
    /// The snapshot `stored` holds.
    pub(crate) fn of(stored: &'a StoredManifest) -> Snapshot<'a> {
        match stored {
            StoredManifest::Whole(m) => Snapshot::Whole(m),
            StoredManifest::Paged(h) => Snapshot::Paged(h),
        }
    }

    /// The database backed up.
    pub(crate) fn database(&self) -> &'a str {
        match self {
            Snapshot::Whole(m) => &m.database,
            Snapshot::Paged(h) => &h.database,
        }
    }

    /// The label and timestamp.
    pub(crate) fn id(&self) -> (&'a str, &'a str) {
        match self {
            Snapshot::Whole(m) => (&m.label, &m.timestamp),
            Snapshot::Paged(h) => (&h.label, &h.timestamp),
        }
    }

    /// The chunk size files were split with.
    pub(crate) fn chunk_size(&self) -> u64 {
        match self {
            Snapshot::Whole(m) => m.chunk_size,
            Snapshot::Paged(h) => h.chunk_size,
        }
    }

    /// The index objects that locate the snapshot's chunks.
    pub(crate) fn indexes(&self) -> &'a [ContentHash] {
        match self {
            Snapshot::Whole(m) => &m.indexes,
            Snapshot::Paged(h) => &h.indexes,
        }
    }
}

/// A snapshot's windows: runs of consecutive pages of at most a number of files (a page larger than that is a
/// window alone).
pub(crate) struct Windows<'a> {
    repo: &'a dyn Repository,
    /// Decodes a window's pages in parallel.
    pool: &'a rayon::ThreadPool,
    key: &'a str,
    snapshot: Snapshot<'a>,
    /// The pages of each window (one empty range for a whole manifest).
    bounds: Vec<Range<usize>>,
}

impl<'a> Windows<'a> {
    /// The windows of `snapshot`, stored under `key` in `repo`, of at most `max_files` files each; pages are
    /// decoded on `pool`.
    pub(crate) fn new(
        repo: &'a dyn Repository,
        pool: &'a rayon::ThreadPool,
        key: &'a str,
        snapshot: Snapshot<'a>,
        max_files: u64,
    ) -> Windows<'a> {
        let mut bounds = Vec::new();
        match snapshot {
            Snapshot::Whole(_) => bounds.push(0..0),
            Snapshot::Paged(h) => {
                let (mut start, mut files) = (0, 0u64);
                for (i, p) in h.pages.iter().enumerate() {
                    if i > start && files.saturating_add(p.files) > max_files {
                        bounds.push(start..i);
                        (start, files) = (i, 0);
                    }
                    files = files.saturating_add(p.files);
                }
                if start < h.pages.len() || bounds.is_empty() {
                    bounds.push(start..h.pages.len());
                }
            }
        }
        Windows { repo, pool, key, snapshot, bounds }
    }

    /// How many windows.
    pub(crate) fn len(&self) -> usize {
        self.bounds.len()
    }

    /// The manifest's key.
    pub(crate) fn key(&self) -> &'a str {
        self.key
    }

    /// The snapshot.
    pub(crate) fn snapshot(&self) -> Snapshot<'a> {
        self.snapshot
    }

    /// Hands each window's tables to `visit` (with the window's number), in manifest order, each checked as
    /// [`Manifest::check`] checks a whole manifest before it is handed over. With `across`, names are also
    /// checked across windows, after the last one (a repeat fails then, after every window was visited).
    ///
    /// # Errors
    /// Those of reading and joining pages ([`ManifestHead::for_each_page`]), of the checks (naming the
    /// manifest), and of `visit`.
    pub(crate) fn for_each(
        &self,
        across: bool,
        visit: impl FnMut(usize, &Tree<TabletEntry>) -> Result<()>,
    ) -> Result<()> {
        let pending = self.first_reading(across, visit)?;
        self.settle(pending, None).map(drop)
    }

    /// The first reading of [`Windows::for_each`]: every window checked and visited; what is left of the
    /// check of names across windows is returned, for [`Windows::settle`].
    pub(crate) fn first_reading(
        &self,
        across: bool,
        mut visit: impl FnMut(usize, &Tree<TabletEntry>) -> Result<()>,
    ) -> Result<Pending> {
        let head = match self.snapshot {
            Snapshot::Whole(m) => {
                m.check(self.key)?;
                visit(0, &m.tables)?;
                return Ok(Pending(None));
            }
            Snapshot::Paged(h) => h,
        };
        // What the head holds beside the tablets: chunk size, views, host metadata.
        let mut alone = window_manifest(head, Tree::new());
        alone.views.clone_from(&head.views);
        alone.host_metadata.clone_from(&head.host_metadata);
        alone.check(self.key)?;
        drop(alone);
        let across = across && self.len() > 1;
        let mut names = RepeatFilter::new(if across { self.tablets() } else { 0 });
        let mut last = Last::default();
        for w in 0..self.len() {
            let tables = self.read(w)?;
            let m = window_manifest(head, tables);
            m.check(self.key)?;
            if across {
                walk(&m.tables, &mut last, &mut |name| names.add(name.digest()));
            }
            visit(w, &m.tables)?;
        }
        if !across {
            return Ok(Pending(None));
        }
        for v in &head.views {
            names.add(Name::View(&v.name).digest());
        }
        Ok(Pending(Some(names.into_suspects())))
    }

    /// Ends the checks of a first reading: when names (`pending`), or the values of `tablets` (a digest of
    /// each tablet's value that must be unique, a restore's directory, with the suspects of its first
    /// reading), may repeat, every window is read again, once, to count them; a name counted twice is
    /// confirmed and fails here. Returns the digests of `tablets` counted twice, for the caller to confirm.
    ///
    /// # Errors
    /// Those of reading pages, and a name repeated across windows (naming the manifest).
    pub(crate) fn settle(&self, pending: Pending, mut tablets: Option<TabletValues<'_>>) -> Result<Vec<u64>> {
        let mut names = pending.0;
        let names_left = names.as_ref().is_some_and(|n| !n.is_empty());
        let tablets_left = tablets.as_ref().is_some_and(|t| !t.suspects.is_empty());
        if !names_left && !tablets_left {
            return Ok(Vec::new());
        }
        let mut last = Last::default();
        for w in 0..self.len() {
            let tables = self.read(w)?;
            if let Some(names) = names.as_mut().filter(|_| names_left) {
                walk(&tables, &mut last, &mut |name| names.count(name.digest()));
            }
            if let Some(t) = tablets.as_mut().filter(|_| tablets_left) {
                for (place, tablet) in tables.tablets() {
                    if let Some(d) = (t.digest)(place, tablet) {
                        t.suspects.count(d);
                    }
                }
            }
        }
        if let (Some(names), Snapshot::Paged(head)) = (names.as_mut().filter(|_| names_left), self.snapshot) {
            for v in &head.views {
                names.count(Name::View(&v.name).digest());
            }
            let repeated = names.repeated();
            if !repeated.is_empty() {
                self.confirm_names(head, &repeated)?;
            }
        }
        Ok(tablets.map(|t| t.suspects.repeated()).unwrap_or_default())
    }

    /// How many tablets the snapshot's pages say they hold (what sizes the filters of its checks).
    pub(crate) fn tablets(&self) -> usize {
        match self.snapshot {
            Snapshot::Whole(m) => m.tables.tablets().count(),
            // Saturating: the counts are the head's word until the pages are read.
            Snapshot::Paged(head) => head
                .pages
                .iter()
                .fold(0usize, |n, p| n.saturating_add(usize::try_from(p.tablets).unwrap_or(usize::MAX))),
        }
    }

    /// The tables of window `w`, its pages read and decoded in parallel and joined in order, unchecked.
    pub(crate) fn read(&self, w: usize) -> Result<Tree<TabletEntry>> {
        let Snapshot::Paged(head) = self.snapshot else {
            return Err(Error::new(ErrorKind::InvalidArgument, "a whole manifest is read whole"));
        };
        let pages = &head.pages[self.bounds[w].clone()];
        let decoded: Vec<Result<Tree<TabletEntry>>> = self.pool.install(|| {
            pages
                .par_iter()
                .map(|p| {
                    let mut tree = Tree::new();
                    let one = std::slice::from_ref(p);
                    ManifestHead::for_pages(
                        one,
                        self.key,
                        |_, page| read_page(self.repo, page),
                        |t| {
                            tree = t;
                            Ok(())
                        },
                    )?;
                    Ok(tree)
                })
                .collect()
        });
        let mut tables = Tree::new();
        for next in decoded {
            format::join(&mut tables, next?);
        }
        // Joining grew the lists of tablets that ran across pages.
        format::compact(&mut tables);
        Ok(tables)
    }

    /// Reads every window again and fails on the first name (in manifest order) that is one before it and
    /// whose digest is among `suspects`; a digest repeated by different names passes.
    fn confirm_names(&self, head: &ManifestHead, suspects: &[u64]) -> Result<()> {
        let mut seen: HashSet<(u8, Vec<String>)> = HashSet::new();
        let mut last = Last::default();
        let mut repeat = None;
        let mut check = |name: Name<'_>| {
            if repeat.is_none() && suspects.binary_search(&name.digest()).is_ok() && !seen.insert(name.owned()) {
                repeat = Some(name.message());
            }
        };
        for w in 0..self.len() {
            let tables = self.read(w)?;
            walk(&tables, &mut last, &mut check);
        }
        for v in &head.views {
            check(Name::View(&v.name));
        }
        match repeat {
            Some(what) => {
                Err(Error::new(ErrorKind::InvalidArgument, format!("manifest {}: {what}", self.key))
                    .with_object(self.key))
            }
            None => Ok(()),
        }
    }
}

/// The manifest `head` describes with `tables` alone (no views, no host metadata, no indexes).
fn window_manifest(head: &ManifestHead, tables: Tree<TabletEntry>) -> Manifest {
    Manifest {
        database: String::new(),
        label: head.label.clone(),
        timestamp: head.timestamp.clone(),
        created_ms: head.created_ms,
        chunk_size: head.chunk_size,
        tables,
        indexes: Vec::new(),
        host_metadata: String::new(),
        views: Vec::new(),
    }
}

/// What is left to check after [`Windows::first_reading`]: the suspects of names repeated across windows
/// (none: nothing).
pub(crate) struct Pending(Option<Suspects>);

/// A value of each tablet that must be unique across windows, as the tablet's name is (a restore's directory).
pub(crate) struct TabletValues<'a> {
    /// The digest of a tablet's value (None: the tablet is left out).
    pub digest: &'a (dyn Fn(Place<'_>, &TabletEntry) -> Option<u64> + Sync),
    /// The suspects of the first reading, where the caller added each tablet's digest.
    pub suspects: Suspects,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{IndexEntry, PartitionEntry, TableEntry};

    #[test]
    fn settling_counts_the_suspects_of_tablet_values_and_of_names_in_one_more_reading() {
        use crate::format::FileEntry;
        use crate::repo::{MemoryRepository, PutMode};
        // 40 tablets of one file each, in pages of a few tablets, in windows of 8 files.
        let file = FileEntry { path: "f".into(), size: 1, crc32c: 0, chunks: vec![ContentHash::of(b"x")], seen: None };
        let tablets: Vec<TabletEntry> =
            (0..40).map(|i| TabletEntry { id: i.to_string(), files: vec![file.clone()] }).collect();
        let partitions = vec![PartitionEntry::new("p", vec![IndexEntry::new("t", tablets)])];
        let manifest = Manifest {
            database: "db".into(),
            label: "l".into(),
            timestamp: "2024-01-01-00-00-00".into(),
            created_ms: 0,
            chunk_size: 1 << 20,
            tables: Tree::from(vec![TableEntry::new("t", partitions)]),
            indexes: Vec::new(),
            host_metadata: String::new(),
            views: Vec::new(),
        };
        let repo = MemoryRepository::new();
        let key = format::manifest_key("l", "2024-01-01-00-00-00");
        crate::store::write_manifest(&repo, &key, &manifest, PutMode::CreateIfAbsent, 1 << 9).unwrap();
        let stored = crate::pack::load_stored_manifest(&repo, "l", "2024-01-01-00-00-00").unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let windows = Windows::new(&repo, &pool, &key, Snapshot::of(&stored), 8);
        assert!(windows.len() >= 5, "{} windows", windows.len());
        assert_eq!(windows.tablets(), 40);
        // Digests whose low 12 bits are zero set the same bits of a filter of 4,096: every tablet after the
        // first is a suspect, and only real repeats come back.
        let settle = |value: &(dyn Fn(&str) -> u64 + Sync)| {
            let mut filter = RepeatFilter::new(1);
            let pending = windows
                .first_reading(true, |_, tables| {
                    tables.tablets().for_each(|(_, t)| filter.add(value(&t.id) << 12));
                    Ok(())
                })
                .unwrap();
            let suspects = filter.into_suspects();
            assert!(!suspects.is_empty());
            let digest = |_: Place<'_>, t: &TabletEntry| Some(value(&t.id) << 12);
            let repeated = windows.settle(pending, Some(TabletValues { digest: &digest, suspects })).unwrap();
            repeated.into_iter().map(|d| d >> 12).collect::<Vec<u64>>()
        };
        assert_eq!(settle(&|id| id.parse::<u64>().unwrap()), Vec::<u64>::new());
        // Tablets 3 and 33 have one value; so have 5, 15 and 25.
        let value = |id: &str| match id.parse::<u64>().unwrap() {
            33 => 3,
            15 | 25 => 5,
            n => n,
        };
        assert_eq!(settle(&value), [3, 5]);
    }
}
