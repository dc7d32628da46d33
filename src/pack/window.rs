//! A snapshot's tablets a window at a time: consecutive pages of a paged manifest joined until the next page
//! would pass a bound on files, so that restore and verify hold one window's tables and plans, never the whole
//! manifest's. A version-1 manifest (whole, and small) is one window.
//!
//! Each window is checked as [`Manifest::check`] checks a whole manifest. What only the whole shows, names
//! unique across windows, is checked with an 8-byte digest per name (a table, partition or index continued
//! from the previous window is the same node, as joining pages makes it); a digest seen twice is confirmed with
//! the names themselves, read again, before it is reported, so a collision costs a reading and never a refusal.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;

use rayon::prelude::*;

use crate::format::{self, ContentHash, Manifest, ManifestHead, StoredManifest, TabletEntry};
use crate::repo::Repository;
use crate::store::read_page;
use crate::tree::Tree;
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
        mut visit: impl FnMut(usize, &Tree<TabletEntry>) -> Result<()>,
    ) -> Result<()> {
        let head = match self.snapshot {
            Snapshot::Whole(m) => {
                m.check(self.key)?;
                return visit(0, &m.tables);
            }
            Snapshot::Paged(h) => h,
        };
        // What the head holds beside the tablets: chunk size, views, host metadata.
        let mut alone = window_manifest(head, Tree::new());
        alone.views.clone_from(&head.views);
        alone.host_metadata.clone_from(&head.host_metadata);
        alone.check(self.key)?;
        drop(alone);
        let mut names = Digests::with_capacity(if across { tablet_count(head) } else { 0 });
        let mut last = Last::default();
        for w in 0..self.len() {
            let tables = self.read(w)?;
            let m = window_manifest(head, tables);
            m.check(self.key)?;
            if across {
                walk(&m.tables, &mut last, &mut |name| names.push(name.digest()));
            }
            visit(w, &m.tables)?;
        }
        if across && self.len() > 1 {
            for v in &head.views {
                names.push(Name::View(&v.name).digest());
            }
            let suspects = names.repeated();
            if !suspects.is_empty() {
                self.confirm_names(head, &suspects)?;
            }
        }
        Ok(())
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

/// How many tablets the pages of `head` hold.
fn tablet_count(head: &ManifestHead) -> usize {
    head.pages.iter().map(|p| usize::try_from(p.tablets).unwrap_or(0)).sum()
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

/// A name that must be unique where it is: tables and views together, partitions in their table, indexes in
/// their partition, tablet ids in their table.
#[derive(Clone, Copy)]
enum Name<'a> {
    Table(&'a str),
    View(&'a str),
    Partition(&'a str, &'a str),
    Index(&'a str, &'a str, &'a str),
    Tablet(&'a str, &'a str),
}

impl Name<'_> {
    /// The namespace and the names that make it unique (tables and views share one).
    fn parts(&self) -> (u8, Vec<&str>) {
        match *self {
            Name::Table(t) | Name::View(t) => (0, vec![t]),
            Name::Partition(t, p) => (1, vec![t, p]),
            Name::Index(t, p, i) => (2, vec![t, p, i]),
            Name::Tablet(t, id) => (3, vec![t, id]),
        }
    }

    fn digest(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.parts().hash(&mut h);
        h.finish()
    }

    fn owned(&self) -> (u8, Vec<String>) {
        let (ns, names) = self.parts();
        (ns, names.into_iter().map(str::to_owned).collect())
    }

    /// What [`Manifest::check`] says of this name repeated.
    fn message(&self) -> String {
        match *self {
            Name::Table(t) => format!("table {t:?} appears twice"),
            Name::View(v) => format!("view {v:?} appears twice"),
            Name::Partition(t, p) => format!("table {t} partition {p:?} appears twice"),
            Name::Index(t, p, i) => format!("table {t} partition {p} index {i:?} appears twice"),
            Name::Tablet(t, id) => format!("table {t} tablet {id:?} appears twice"),
        }
    }
}

/// The last table, partition and index of the windows walked so far: a window's first nodes continue them
/// when their names are equal.
#[derive(Default)]
struct Last {
    table: Option<String>,
    partition: Option<String>,
    index: Option<String>,
}

/// Hands every name of `tables` to `each`, in manifest order, but for the nodes that continue `last`; then
/// makes `last` this window's last nodes.
fn walk(tables: &Tree<TabletEntry>, last: &mut Last, each: &mut dyn FnMut(Name<'_>)) {
    for (ti, t) in tables.iter().enumerate() {
        let same_t = ti == 0 && last.table.as_deref() == Some(t.name.as_str());
        if !same_t {
            each(Name::Table(&t.name));
        }
        for (pi, p) in t.partitions.iter().enumerate() {
            let same_p = same_t && pi == 0 && last.partition.as_deref() == Some(p.name.as_str());
            if !same_p {
                each(Name::Partition(&t.name, &p.name));
            }
            for (ii, i) in p.indexes.iter().enumerate() {
                if !(same_p && ii == 0 && last.index.as_deref() == Some(i.name.as_str())) {
                    each(Name::Index(&t.name, &p.name, &i.name));
                }
                for tablet in &i.tablets {
                    each(Name::Tablet(&t.name, &tablet.id));
                }
            }
        }
    }
    if let Some(t) = tables.last() {
        let p = t.partitions.last();
        *last = Last {
            table: Some(t.name.clone()),
            partition: p.map(|p| p.name.clone()),
            index: p.and_then(|p| p.indexes.last()).map(|i| i.name.clone()),
        };
    }
}

/// 8-byte digests of names or paths, to find the repeated ones at the end (8 bytes each, whatever the names).
#[derive(Default)]
pub(crate) struct Digests(Vec<u64>);

impl Digests {
    /// Room for `n` digests.
    pub(crate) fn with_capacity(n: usize) -> Digests {
        Digests(Vec::with_capacity(n))
    }

    /// Adds one.
    pub(crate) fn push(&mut self, digest: u64) {
        self.0.push(digest);
    }

    /// The digests added more than once, sorted, each once.
    pub(crate) fn repeated(mut self) -> Vec<u64> {
        self.0.sort_unstable();
        let mut out: Vec<u64> = self.0.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
        out.dedup();
        out
    }
}

/// The digest of a directory, equal for paths that are equal as [`std::path::Path`]s are (by components).
pub(crate) fn path_digest(path: &std::path::Path) -> u64 {
    let mut h = DefaultHasher::new();
    for c in path.components() {
        c.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{IndexEntry, PartitionEntry, TableEntry};

    fn tree(nodes: &[(&str, &str, &str, &[&str])]) -> Tree<TabletEntry> {
        let mut t = Tree::new();
        for (table, part, index, ids) in nodes {
            let tablets = ids.iter().map(|id| TabletEntry { id: (*id).into(), files: Vec::new() }).collect();
            let node =
                TableEntry::new(*table, vec![PartitionEntry::new(*part, vec![IndexEntry::new(*index, tablets)])]);
            format::join(&mut t, Tree::from(vec![node]));
        }
        t
    }

    fn names(windows: &[Tree<TabletEntry>]) -> Vec<String> {
        let mut last = Last::default();
        let mut out = Vec::new();
        for w in windows {
            walk(w, &mut last, &mut |n| out.push(n.message()));
        }
        out
    }

    #[test]
    fn a_node_continued_in_the_next_window_is_named_once_and_a_repeat_is_found() {
        let a = tree(&[("t", "p1", "t", &["1", "2"])]);
        let b = tree(&[("t", "p1", "t", &["3"]), ("t", "p2", "t", &["4"]), ("u", "p1", "u", &["1"])]);
        let walked = names(&[a.clone(), b.clone()]);
        assert_eq!(walked.iter().filter(|n| n.starts_with("table \"t\"")).count(), 1, "{walked:?}");
        assert_eq!(walked.iter().filter(|n| n.contains("partition \"p1\"")).count(), 2, "t.p1 and u.p1: {walked:?}");
        let digests = |ws: &[Tree<TabletEntry>]| {
            let (mut d, mut last) = (Digests::default(), Last::default());
            for w in ws {
                walk(w, &mut last, &mut |n| d.push(n.digest()));
            }
            d.repeated()
        };
        assert!(digests(&[a.clone(), b]).is_empty());
        // Partition p1 of t again after p2 (not continuing it), its index and tablet 2 with it.
        let c = tree(&[("t", "p1", "t", &["2"])]);
        let mid = tree(&[("t", "p2", "t", &["5"])]);
        assert_eq!(digests(&[a, mid, c]).len(), 3);
    }

    #[test]
    fn paths_equal_by_components_have_one_digest() {
        use std::path::Path;
        assert_eq!(path_digest(Path::new("/r/t/1")), path_digest(Path::new("/r/t/1/")));
        assert_ne!(path_digest(Path::new("/r/t/1")), path_digest(Path::new("/r/t/2")));
    }
}
