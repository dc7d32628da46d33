//! Paged manifests (metadata version 2): the manifest object holds everything but the tablets and names its
//! *pages*, each a run of the snapshot's tablets in manifest order of at most [`PAGE_BODY_TARGET`] bytes of
//! JSON, so that no metadata object grows with the number of tablets. The manifest object stays the commit
//! point: pages are written first, under names that hash their content (`trees/<h>`), and a page no manifest
//! names is garbage.
//!
//! A reader reads a version-1 manifest whole (`tables` inside it) and a version-2 one by fetching its pages in
//! order and joining their trees: a page's first table continues the previous page's last one when their names
//! are equal (names are unique where they name directories, so equal names are the same node), and the same for
//! its first partition and index. The joined manifest is then checked as a whole ([`Manifest::check`]).

use serde::{Deserialize, Serialize};

use crate::format::{
    ContentHash, Manifest, ObjectKind, PAGED_MANIFEST_VERSION, SNAPSHOTS_PREFIX, TabletEntry, ViewEntry,
    decode_meta_version, manifest_key, tree_key,
};
use crate::tree::Tree;
use crate::{Error, ErrorKind, Result};

/// The most JSON a writer puts in one page before it starts the next: 4 MiB (about 20,000 files; a page of
/// one tablet larger than this holds that tablet alone). Pages are cut where the tablets' names say, so most
/// are 1/8 to all of this, about half on average.
pub const PAGE_BODY_TARGET: usize = 4 << 20;

/// A page as its manifest names it: its id and how many tablets and files it holds (checked on reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    /// The page object's name: the hash of the whole object (keyed in an encrypted repository).
    pub id: ContentHash,
    /// Tablets in the page.
    pub tablets: u64,
    /// Files in the page.
    pub files: u64,
}

/// A version-2 manifest object: everything of the [`Manifest`] but its tablets, which its pages hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestHead {
    /// The database backed up.
    pub database: String,
    /// The snapshot label.
    pub label: String,
    /// The backup timestamp, `yyyy-MM-dd-HH-mm-ss` (UTC).
    pub timestamp: String,
    /// Milliseconds since the Unix epoch when the backup started.
    pub created_ms: u64,
    /// The chunk size files were split with.
    pub chunk_size: u64,
    /// The pages, in manifest order.
    pub pages: Vec<PageRef>,
    /// The index objects that locate every chunk referenced.
    pub indexes: Vec<ContentHash>,
    /// The host's metadata, hex-encoded.
    pub host_metadata: String,
    /// The views backed up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<ViewEntry>,
}

/// A manifest object as stored: whole (version 1) or a head naming its pages (version 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredManifest {
    /// A version-1 manifest, tablets and all (already checked).
    Whole(Manifest),
    /// A version-2 manifest: [`ManifestHead::assemble`] reads its pages.
    Paged(ManifestHead),
}

#[derive(Deserialize)]
struct PageIn {
    tables: Tree<TabletEntry>,
}

impl StoredManifest {
    /// Decodes the manifest object stored under `key` (either version). A whole manifest is checked
    /// ([`Manifest::check`]); a head is checked for the label and timestamp its key names (its tablets are
    /// checked when [`ManifestHead::assemble`] joins its pages).
    ///
    /// # Errors
    /// [`ErrorKind::Format`], [`ErrorKind::Corruption`] or [`ErrorKind::InvalidArgument`], naming `key`.
    pub fn decode(key: &str, data: &[u8]) -> Result<StoredManifest> {
        if data.get(5) != Some(&PAGED_MANIFEST_VERSION) {
            return Manifest::decode(key, data).map(StoredManifest::Whole);
        }
        let (_, body) = decode_meta_version(ObjectKind::Manifest, &[PAGED_MANIFEST_VERSION], key, data)?;
        let head: ManifestHead = serde_json::from_slice(&body)
            .map_err(|e| Error::new(ErrorKind::Format, format!("manifest {key}: {e}")).with_object(key))?;
        if key.starts_with(SNAPSHOTS_PREFIX) && key != manifest_key(&head.label, &head.timestamp) {
            return Err(Error::new(
                ErrorKind::Format,
                format!("manifest {key}: records snapshot {} {} instead", head.label, head.timestamp),
            )
            .with_object(key));
        }
        Ok(StoredManifest::Paged(head))
    }

    /// The database backed up.
    pub fn database(&self) -> &str {
        match self {
            StoredManifest::Whole(m) => &m.database,
            StoredManifest::Paged(h) => &h.database,
        }
    }

    /// The chunk size files were split with.
    pub fn chunk_size(&self) -> u64 {
        match self {
            StoredManifest::Whole(m) => m.chunk_size,
            StoredManifest::Paged(h) => h.chunk_size,
        }
    }

    /// Milliseconds since the Unix epoch when the backup started.
    pub fn created_ms(&self) -> u64 {
        match self {
            StoredManifest::Whole(m) => m.created_ms,
            StoredManifest::Paged(h) => h.created_ms,
        }
    }

    /// The index objects the manifest names.
    pub fn indexes(&self) -> &[ContentHash] {
        match self {
            StoredManifest::Whole(m) => &m.indexes,
            StoredManifest::Paged(h) => &h.indexes,
        }
    }

    /// The pages the manifest names (none for a whole one).
    pub fn pages(&self) -> &[PageRef] {
        match self {
            StoredManifest::Whole(_) => &[],
            StoredManifest::Paged(h) => &h.pages,
        }
    }

    /// The whole manifest: a version-1 one as it is, a version-2 one with its pages, each read by `page` (given
    /// the page's id and key).
    ///
    /// # Errors
    /// As [`ManifestHead::assemble`].
    pub fn into_manifest(self, key: &str, page: impl FnMut(&ContentHash, &str) -> Result<Vec<u8>>) -> Result<Manifest> {
        match self {
            StoredManifest::Whole(m) => Ok(m),
            StoredManifest::Paged(h) => h.assemble(key, page),
        }
    }
}

impl ManifestHead {
    /// Joins the pages (each read by `page`, given its id and key) into the whole manifest stored under `key`,
    /// and checks it ([`Manifest::check`]).
    ///
    /// # Errors
    /// [`ErrorKind::Format`] or [`ErrorKind::Corruption`] naming the page (and the manifest) when a page is
    /// damaged, not a page, or holds other counts of tablets or files than the manifest says; the errors of
    /// `page` (a missing page is named with the manifest that needs it); those of [`Manifest::check`].
    pub fn assemble(self, key: &str, page: impl FnMut(&ContentHash, &str) -> Result<Vec<u8>>) -> Result<Manifest> {
        let mut tables: Tree<TabletEntry> = Tree::new();
        self.for_each_page(key, page, |next| {
            join(&mut tables, next);
            Ok(())
        })?;
        // Joining grew the lists of tablets that ran across pages.
        compact(&mut tables);
        let m = Manifest {
            database: self.database,
            label: self.label,
            timestamp: self.timestamp,
            created_ms: self.created_ms,
            chunk_size: self.chunk_size,
            tables,
            indexes: self.indexes,
            host_metadata: self.host_metadata,
            views: self.views,
        };
        m.check(key)?;
        Ok(m)
    }

    /// Reads the pages in order (each by `page`, given its id and key) and hands each one's tree to `visit`,
    /// holding one page at a time. Each page is checked alone (kind, version, checksum, counts); what only the
    /// whole manifest shows (names unique across pages, [`Manifest::check`]) is [`ManifestHead::assemble`]'s.
    ///
    /// # Errors
    /// As [`ManifestHead::assemble`], and those of `visit`.
    pub fn for_each_page(
        &self,
        key: &str,
        page: impl FnMut(&ContentHash, &str) -> Result<Vec<u8>>,
        visit: impl FnMut(Tree<TabletEntry>) -> Result<()>,
    ) -> Result<()> {
        Self::for_pages(&self.pages, key, page, visit)
    }

    /// As [`ManifestHead::for_each_page`], for `pages` (a run of this manifest's pages) only.
    ///
    /// # Errors
    /// As [`ManifestHead::for_each_page`].
    pub fn for_pages(
        pages: &[PageRef],
        key: &str,
        mut page: impl FnMut(&ContentHash, &str) -> Result<Vec<u8>>,
        mut visit: impl FnMut(Tree<TabletEntry>) -> Result<()>,
    ) -> Result<()> {
        for r in pages {
            let pkey = tree_key(&r.id);
            let data = page(&r.id, &pkey).map_err(|e| {
                let msg = format!("manifest page {pkey} of {key}: {}", e.message());
                Error::new(e.kind(), msg).with_object(pkey.clone())
            })?;
            // A page is stored compressed: its body is a buffer of its own, and the object is dropped first.
            let body = decode_meta_version(ObjectKind::Page, &[PAGED_MANIFEST_VERSION], &pkey, &data)
                .map(|(_, body)| body.into_owned())
                .map_err(|e| Error::new(e.kind(), format!("{} (of {key})", e.message())).with_object(pkey.clone()))?;
            drop(data);
            let p: PageIn = serde_json::from_slice(&body).map_err(|e| {
                Error::new(ErrorKind::Format, format!("manifest page {pkey} of {key}: {e}")).with_object(pkey.clone())
            })?;
            let (tablets, files) =
                p.tables.tablets().fold((0u64, 0u64), |(t, f), (_, tab)| (t + 1, f + tab.files.len() as u64));
            if (tablets, files) != (r.tablets, r.files) {
                return Err(Error::new(
                    ErrorKind::Format,
                    format!(
                        "manifest page {pkey} of {key} holds {tablets} tablets and {files} files; the manifest \
                         says {} and {}",
                        r.tablets, r.files
                    ),
                )
                .with_object(pkey));
            }
            let mut tables = p.tables;
            compact(&mut tables);
            visit(tables)?;
        }
        Ok(())
    }
}

/// Gives every list of a decoded tree its exact size: decoding grows them by doubling (a tablet of 2 files
/// keeps room for 4, a file of one chunk room for 4 hashes), which for many tablets is more than the tree.
pub(crate) fn compact(tree: &mut Tree<TabletEntry>) {
    for t in tree.iter_mut() {
        for p in &mut t.partitions {
            for i in &mut p.indexes {
                i.tablets.shrink_to_fit();
                for tablet in &mut i.tablets {
                    tablet.files.shrink_to_fit();
                    for f in &mut tablet.files {
                        f.chunks.shrink_to_fit();
                    }
                }
            }
        }
    }
}

/// Appends `next`'s tables to `tree`, continuing `tree`'s last table, partition and index where `next` starts
/// with the same names.
pub(crate) fn join(tree: &mut Tree<TabletEntry>, next: Tree<TabletEntry>) {
    for mut t in next {
        if let Some(last) = tree.last_mut().filter(|l| l.name == t.name) {
            let mut parts = std::mem::take(&mut t.partitions).into_iter();
            if let Some(mut p) = parts.next() {
                if let Some(lp) = last.partitions.last_mut().filter(|lp| lp.name == p.name) {
                    let mut idx = std::mem::take(&mut p.indexes).into_iter();
                    if let Some(i) = idx.next() {
                        match lp.indexes.last_mut().filter(|li| li.name == i.name) {
                            Some(li) => li.tablets.extend(i.tablets),
                            None => lp.indexes.push(i),
                        }
                    }
                    lp.indexes.extend(idx);
                } else {
                    last.partitions.push(p);
                }
            }
            last.partitions.extend(parts);
        } else {
            tree.push(t);
        }
    }
}

#[cfg(test)]
#[path = "manifest_pages_tests.rs"]
mod tests;
