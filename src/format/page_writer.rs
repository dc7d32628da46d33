//! Writing a paged manifest as its tree arrives: a backup hands over its tables, partitions, indexes and
//! tablets in manifest order as it finishes them ([`TreeSink`]), and [`PageWriter`] cuts them into pages and
//! puts each one as soon as it is full, so a backup holds one page of its manifest at a time however many
//! tablets it takes. [`Manifest::encode_paged`] is the same writer fed from a whole manifest: both make the
//! same pages.

use std::io;

use serde::Serialize;

use super::manifest_pages::{ManifestHead, PageRef};
use crate::format::{
    ContentHash, IdHasher, Manifest, ObjectKind, PAGED_MANIFEST_VERSION, TabletEntry, encode_meta_version,
};
use crate::tree::{IndexNode, PartitionNode, TableKind, TableNode, Tree};
use crate::{Error, ErrorKind, Result};

/// Receives a manifest's tree node by node, in manifest order: a table, then each of its partitions, each
/// followed by its indexes, each followed by its tablets. Empty nodes are handed over too.
pub trait TreeSink {
    /// The next table.
    ///
    /// # Errors
    /// Those of the sink (a page that cannot be written).
    fn table(&mut self, name: &str, kind: &TableKind) -> Result<()>;
    /// The next partition of the last table.
    ///
    /// # Errors
    /// As [`TreeSink::table`].
    fn partition(&mut self, name: &str, temporary: bool) -> Result<()>;
    /// The next index of the last partition.
    ///
    /// # Errors
    /// As [`TreeSink::table`].
    fn index(&mut self, name: &str) -> Result<()>;
    /// The next tablet of the last index.
    ///
    /// # Errors
    /// As [`TreeSink::table`].
    fn tablet(&mut self, tablet: TabletEntry) -> Result<()>;
}

/// Collecting the tree whole.
impl TreeSink for Tree<TabletEntry> {
    fn table(&mut self, name: &str, kind: &TableKind) -> Result<()> {
        self.push(TableNode { name: name.into(), kind: kind.clone(), partitions: Vec::new() });
        Ok(())
    }

    fn partition(&mut self, name: &str, temporary: bool) -> Result<()> {
        let t = self.last_mut().ok_or_else(|| out_of_order("a partition"))?;
        t.partitions.push(PartitionNode { name: name.into(), temporary, indexes: Vec::new() });
        Ok(())
    }

    fn index(&mut self, name: &str) -> Result<()> {
        let p = self.last_mut().and_then(|t| t.partitions.last_mut()).ok_or_else(|| out_of_order("an index"))?;
        p.indexes.push(IndexNode::new(name, Vec::new()));
        Ok(())
    }

    fn tablet(&mut self, tablet: TabletEntry) -> Result<()> {
        last_index(self).ok_or_else(|| out_of_order("a tablet"))?.tablets.push(tablet);
        Ok(())
    }
}

fn out_of_order(what: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("{what} before its parent node (internal error)"))
}

fn last_index(tree: &mut Tree<TabletEntry>) -> Option<&mut IndexNode<TabletEntry>> {
    tree.last_mut().and_then(|t| t.partitions.last_mut()).and_then(|p| p.indexes.last_mut())
}

/// Hands a whole tree to `sink`, node by node.
///
/// # Errors
/// Those of `sink`.
pub fn feed(tree: &Tree<TabletEntry>, sink: &mut impl TreeSink) -> Result<()> {
    for t in tree {
        sink.table(&t.name, &t.kind)?;
        for p in &t.partitions {
            sink.partition(&p.name, p.temporary)?;
            for i in &p.indexes {
                sink.index(&i.name)?;
                for tablet in &i.tablets {
                    sink.tablet(tablet.clone())?;
                }
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct PageOut<'a> {
    tables: &'a Tree<TabletEntry>,
}

/// Whether a page starts at `tablet` (of `bytes` bytes of JSON, in the table, partition and index `place`) when
/// the page being filled is large enough: chosen from the tablet's names alone, with a chance that makes pages
/// about half of `target` long on average. Cuts that depend on content rather than on offsets keep the pages of
/// unchanged tablets the same objects from one backup to the next: a changed, added or removed tablet changes its
/// own page and perhaps one or two beside it, not every page after it.
fn starts_page(place: [&str; 3], tablet: &TabletEntry, bytes: usize, target: usize) -> bool {
    let mut h = blake3::Hasher::new();
    for name in place.iter().copied().chain([tablet.id.as_str()]) {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
    }
    let draw = u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
    // P(cut) = bytes / (target / 2), as a fraction of 2^64.
    let chance = (u128::try_from(bytes).unwrap_or(u128::MAX) << 64) / (target as u128 / 2).max(1);
    u128::from(draw) < chance
}

/// Counts the bytes written to it.
struct Count(usize);

impl io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn json_err(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("cannot encode manifest: {e}"))
}

/// Cuts a tree into pages of about `target` bytes of JSON as it arrives and hands each page object to `put`
/// (with its id) as soon as it is full; [`PageWriter::finish`] puts the last one and returns them all, in order.
pub struct PageWriter<'a, P: FnMut(&ContentHash, &[u8]) -> Result<()>> {
    ids: &'a IdHasher,
    target: usize,
    put: P,
    refs: Vec<PageRef>,
    /// The page being filled.
    tables: Tree<TabletEntry>,
    bytes: usize,
    tablets: u64,
    files: u64,
    /// The table, partition and index the next tablet goes in (a new page opens copies of them).
    table: (String, TableKind),
    partition: (String, bool),
    index: String,
}

impl<'a, P: FnMut(&ContentHash, &[u8]) -> Result<()>> PageWriter<'a, P> {
    /// A writer of pages of about `target` bytes, named by `ids`, each handed to `put`.
    pub fn new(ids: &'a IdHasher, target: usize, put: P) -> Self {
        PageWriter {
            ids,
            target,
            put,
            refs: Vec::new(),
            tables: Tree::new(),
            bytes: 0,
            tablets: 0,
            files: 0,
            table: (String::new(), TableKind::Olap),
            partition: (String::new(), false),
            index: String::new(),
        }
    }

    /// Puts the page being filled and starts the next one empty.
    fn flush(&mut self) -> Result<()> {
        let body = serde_json::to_vec(&PageOut { tables: &self.tables }).map_err(json_err)?;
        let obj = encode_meta_version(ObjectKind::Page, PAGED_MANIFEST_VERSION, &body, true)?;
        let id = self.ids.hash(&obj);
        (self.put)(&id, &obj)?;
        self.refs.push(PageRef { id, tablets: self.tablets, files: self.files });
        self.tables = Tree::new();
        (self.bytes, self.tablets, self.files) = (0, 0, 0);
        Ok(())
    }

    /// Puts the last page and returns every page, in order.
    ///
    /// # Errors
    /// Those of `put`; [`ErrorKind::InvalidArgument`] if a page cannot be encoded.
    pub fn finish(mut self) -> Result<Vec<PageRef>> {
        if !self.tables.is_empty() {
            self.flush()?;
        }
        Ok(self.refs)
    }
}

impl<P: FnMut(&ContentHash, &[u8]) -> Result<()>> TreeSink for PageWriter<'_, P> {
    fn table(&mut self, name: &str, kind: &TableKind) -> Result<()> {
        self.table = (name.into(), kind.clone());
        TreeSink::table(&mut self.tables, name, kind)
    }

    fn partition(&mut self, name: &str, temporary: bool) -> Result<()> {
        self.partition = (name.into(), temporary);
        self.tables.partition(name, temporary)
    }

    fn index(&mut self, name: &str) -> Result<()> {
        self.index = name.into();
        self.tables.index(name)
    }

    fn tablet(&mut self, tablet: TabletEntry) -> Result<()> {
        let mut n = Count(0);
        serde_json::to_writer(&mut n, &tablet).map_err(json_err)?;
        let full = self.bytes + n.0 > self.target;
        let boundary = self.bytes >= self.target / 8
            && starts_page([&self.table.0, &self.partition.0, &self.index], &tablet, n.0, self.target);
        if self.tablets > 0 && (full || boundary) {
            self.flush()?;
            // The next page continues the table, partition and index this tablet is in.
            TreeSink::table(&mut self.tables, &self.table.0, &self.table.1)?;
            self.tables.partition(&self.partition.0, self.partition.1)?;
            self.tables.index(&self.index)?;
        }
        self.bytes += n.0 + 1;
        self.tablets += 1;
        self.files += tablet.files.len() as u64;
        self.tables.tablet(tablet)
    }
}

impl Manifest {
    /// Encodes this manifest as version 2: cuts its tablets into pages of about `target` bytes of JSON each,
    /// hands each page object to `put` (with its id, from `ids`) as soon as it is made, and returns the
    /// manifest object that names them. At most one page is held encoded at a time.
    ///
    /// # Errors
    /// Those of `put`; [`ErrorKind::InvalidArgument`] if an object cannot be encoded.
    pub fn encode_paged(
        &self,
        ids: &IdHasher,
        target: usize,
        put: impl FnMut(&ContentHash, &[u8]) -> Result<()>,
    ) -> Result<Vec<u8>> {
        let mut pages = PageWriter::new(ids, target, put);
        feed(&self.tables, &mut pages)?;
        ManifestHead::of(self, pages.finish()?).encode()
    }
}

impl ManifestHead {
    /// The head of `manifest` (everything but its tablets), naming `pages`.
    pub fn of(manifest: &Manifest, pages: Vec<PageRef>) -> ManifestHead {
        ManifestHead {
            database: manifest.database.clone(),
            label: manifest.label.clone(),
            timestamp: manifest.timestamp.clone(),
            created_ms: manifest.created_ms,
            chunk_size: manifest.chunk_size,
            pages,
            indexes: manifest.indexes.clone(),
            host_metadata: manifest.host_metadata.clone(),
            views: manifest.views.clone(),
        }
    }

    /// The version-2 manifest object.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] if it cannot be encoded.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_vec(self).map_err(json_err)?;
        encode_meta_version(ObjectKind::Manifest, PAGED_MANIFEST_VERSION, &body, true)
    }
}
