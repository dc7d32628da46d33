//! One backup's batches of tablets, in order: each batch's directories opened, its files listed and split into
//! units the pool packs in parallel (unchanged files taken from the previous backup instead), its directories
//! given back, and its manifest entries handed to the page writer; and what the batches gather for the commit:
//! the packs the manifest needs, the indexes of the packs uploaded (written as they reach about 8 MiB).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::dictionary::PackDictionary;
use super::files::{Files, list_batch};
use super::pipeline::{ChunkDone, Pipeline, Unit};
use super::source::{Batches, Node, Tablets, check_directories, tablets_of};
use super::state::KnownChunks;
use super::unchanged::Previous;
use super::{CompressionMode, Packer};
use crate::format::{
    self, ContentHash, FileEntry, FileRef, IdHasher, Index, IndexPack, META_HEADER_LEN, ObjectKind, TabletEntry,
    TreeSink,
};
use crate::repo::{PutMode, Repository};
use crate::{Error, ErrorKind, Result};

/// A batch of small files is cut when it reaches this many bytes or files.
const BATCH_BYTES: u64 = 1 << 20;
const BATCH_FILES: usize = 256;
/// A backup writes its packs' index as objects of at most about this many bytes each.
const INDEX_BODY_TARGET: usize = 8 << 20;
/// The first batch of a backup takes at most this many tablets; the next ones as many as make about
/// `batch_files` files at the files per tablet seen so far.
const FIRST_BATCH_TABLETS: usize = 1024;

/// What a backup's batches gather for its manifest and commit.
#[derive(Default)]
pub(super) struct Gathered {
    /// Every pack the manifest needs (id, length): checked at the commit.
    pub(super) packs: HashMap<ContentHash, u64>,
    /// The indexes that locate the chunks taken from earlier backups.
    pub(super) indexes: BTreeSet<ContentHash>,
    /// Whether the manifest needs a chunk this backup stored.
    pub(super) uses_new: bool,
    /// The index object being written: the records of uploaded packs not indexed yet, encoded as they come,
    /// after room for the header (empty: none).
    pub(super) pending: Vec<u8>,
    /// The index objects this backup wrote.
    pub(super) new_indexes: Vec<ContentHash>,
    /// Bytes of index objects written.
    pub(super) bytes_uploaded: u64,
    /// Files and tablets listed so far.
    pub(super) files: u64,
    pub(super) tablets: u64,
}

impl Gathered {
    /// Takes uploaded `packs` for indexing: each pack's record is added to the index object being written,
    /// which is written first when the record would take its body past [`INDEX_BODY_TARGET`] bytes (a pack
    /// whose record alone is larger gets an index of its own). The index is never held twice, as packs and
    /// as their encoding.
    pub(super) fn uploaded(&mut self, repo: &dyn Repository, ids: IdHasher, packs: Vec<IndexPack>) -> Result<()> {
        for p in packs {
            let len = Index::record_len(&p);
            let body = self.pending.len().saturating_sub(META_HEADER_LEN);
            if body > 0 && body + len > INDEX_BODY_TARGET {
                self.index(repo, ids)?;
            }
            if self.pending.is_empty() {
                self.pending.reserve_exact(META_HEADER_LEN + len.max(INDEX_BODY_TARGET));
                self.pending.resize(META_HEADER_LEN, 0);
            }
            Index::encode_pack(&p, &mut self.pending);
            self.packs.insert(p.id, p.len);
        }
        Ok(())
    }

    /// Writes the index object being written, if it holds a pack.
    pub(super) fn index(&mut self, repo: &dyn Repository, ids: IdHasher) -> Result<()> {
        if self.pending.len() <= META_HEADER_LEN {
            return Ok(());
        }
        let mut data = std::mem::take(&mut self.pending);
        format::frame_meta_in_place(ObjectKind::Index, &mut data)?;
        let id = ids.hash(&data);
        let key = format::index_key(&id);
        repo.put(&key, &data, PutMode::CreateIfAbsent).map_err(|e| e.context("writing the backup's index"))?;
        self.bytes_uploaded += data.len() as u64;
        self.new_indexes.push(id);
        Ok(())
    }
}

/// One backup's batches, run in order on the packer's pool while the I/O threads upload.
pub(super) struct Job<'a, 'p, S: Tablets> {
    pub(super) packer: &'a Packer,
    pub(super) repo: &'a dyn Repository,
    pub(super) src: &'a S,
    pub(super) pipe: &'a Pipeline<'p>,
    pub(super) previous: &'a mut Previous<'p>,
    pub(super) sink: &'a mut dyn TreeSink,
    pub(super) gathered: &'a mut Gathered,
}

impl<S: Tablets> Job<'_, '_, S> {
    pub(super) fn run(&mut self) -> Result<()> {
        let mut batches = Batches::new(self.src.tree());
        let mut size = FIRST_BATCH_TABLETS.min(self.packer.opts.batch_files);
        let src = self.src;
        let list = |place: crate::tree::Place<'_>| src.index_tablets(place);
        while let Some(nodes) = batches.next(size, &list)? {
            self.pipe.control.cancel.check()?;
            let tablets = tablets_of(&nodes);
            let dirs = if tablets.is_empty() { Vec::new() } else { self.src.open(&tablets)? };
            check_directories(dirs.len(), tablets.len())?;
            let entries = self.batch(&tablets, &dirs)?;
            self.src.done();
            drop(dirs);
            self.emit(nodes, entries)?;
            let uploaded = self.pipe.uploads.take_written();
            self.gathered.uploaded(self.repo, self.pipe.ids, uploaded)?;
            // As many tablets as make about `batch_files` files at the files per tablet seen so far.
            let per_tablet = self.gathered.files.div_ceil(self.gathered.tablets.max(1)).max(1);
            size = usize::try_from(self.packer.opts.batch_files as u64 / per_tablet).unwrap_or(usize::MAX).max(1);
        }
        self.pipe.seal_and_upload_rest()
    }

    /// Backs up the files of one batch of tablets (in `dirs`) and returns their manifest entries.
    fn batch(
        &mut self,
        tablets: &[(crate::tree::Place<'_>, &S::Tablet)],
        dirs: &[PathBuf],
    ) -> Result<Vec<TabletEntry>> {
        let (packer, pipe) = (self.packer, self.pipe);
        let ids: Vec<&str> = tablets.iter().map(|(_, t)| S::id(t)).collect();
        let (mut entries, tasks) = list_batch(&packer.pool, &ids, dirs, self.src.metadata_only())?;
        drop(ids);
        self.gathered.tablets += entries.len() as u64;
        self.gathered.files += tasks.len() as u64;
        let refs = tablets.iter().zip(&entries).flat_map(|((place, _), tablet)| {
            tablet.files.iter().map(move |file| FileRef { place: *place, tablet, file })
        });
        let reused = self.previous.reusable(refs, pipe.known);
        let chunk = packer.opts.chunk_size as u64;
        let files = Files::new(dirs, &entries, tasks);
        let units = units_of(&files, &reused, chunk);
        self.train_dictionary(&files, &units);

        let stats = pipe.stats;
        stats.files_total.fetch_add(files.len() as u64, Ordering::Relaxed);
        stats.bytes_total.fetch_add(files.sizes().sum(), Ordering::Relaxed);
        // Unchanged files are done already: their chunks are the repository's.
        for (size, _) in files.sizes().zip(&reused).filter(|(_, r)| r.is_some()) {
            stats.files_done.fetch_add(1, Ordering::Relaxed);
            stats.bytes_done.fetch_add(size, Ordering::Relaxed);
        }
        let reused_chunks: usize = reused.iter().flatten().map(|e| e.chunks.len()).sum();
        stats.chunks_reused.fetch_add(reused_chunks as u64, Ordering::Relaxed);

        let results: Result<Vec<Vec<ChunkDone>>> = packer.pool.install(|| {
            units
                .par_iter()
                .map_init(
                    || pipe.workers.lend(|| pipe.uploads.sender(), pipe.dictionary.get()),
                    |lent, unit| pipe.process(unit, &files, chunk, lent.get()?),
                )
                .collect()
        });
        let results = results?;
        // The entries' paths were borrowed to read the files; from here on they get their chunks.
        drop(files);
        self.fill(&mut entries, reused, results, chunk)?;
        Ok(entries)
    }

    /// Trains the dictionary for small files on the first batch that has enough of them, when the backup
    /// compresses with one.
    fn train_dictionary(&self, files: &Files<'_>, units: &[Unit]) {
        let opts = &self.packer.opts;
        let level = match opts.compression {
            CompressionMode::Zstd(level) => level,
            CompressionMode::None => return,
            CompressionMode::Auto => opts.zstd_level,
        };
        if !opts.small_file_dictionary || self.pipe.dictionary.get().is_some() {
            return;
        }
        let small = units.iter().filter_map(|u| if let Unit::Small { files } = u { Some(files) } else { None });
        let small = small.flatten().copied();
        let ids = self.pipe.ids;
        if let Some(d) = self.packer.pool.install(|| PackDictionary::train(files, small, level, ids)) {
            let _ = self.pipe.dictionary.set(d);
        }
    }

    /// Gives each file of `entries` its chunks and whole-content crc32c: an unchanged file's from its previous
    /// entry, the others' from what the workers did (`results`), and notes the packs and indexes they need.
    fn fill(
        &mut self,
        entries: &mut [TabletEntry],
        reused: Vec<Option<Box<FileEntry>>>,
        results: Vec<Vec<ChunkDone>>,
        chunk: u64,
    ) -> Result<()> {
        let known: &KnownChunks = self.pipe.known;
        let g = &mut *self.gathered;
        // One sorted list of every chunk done (not a list per file: a batch of many small files would pay an
        // allocation for each).
        let mut done: Vec<ChunkDone> = results.into_iter().flatten().collect();
        done.sort_unstable_by_key(|d| (d.file, d.index));
        let mut done = done.into_iter().peekable();
        let mut entries = entries.iter_mut().flat_map(|t| t.files.iter_mut());
        for (file, reuse) in reused.into_iter().enumerate() {
            let Some(entry) = entries.next() else { break };
            if let Some(prev) = reuse {
                for hash in &prev.chunks {
                    let (index, (pack, len)) = known.locate(hash).ok_or_else(|| {
                        Error::new(ErrorKind::Io, "an unchanged file's chunk has no index (internal error)".to_owned())
                    })?;
                    g.packs.insert(pack, len);
                    g.indexes.insert(index);
                }
                let FileEntry { chunks, crc32c, .. } = *prev;
                entry.chunks = chunks;
                entry.crc32c = crc32c;
                continue;
            }
            entry.chunks.reserve_exact(usize::try_from(entry.size.div_ceil(chunk)).unwrap_or(0));
            let mut crc = 0u32;
            while let Some(d) = done.next_if(|d| d.file == file) {
                crc = if entry.chunks.is_empty() {
                    d.raw_crc
                } else {
                    crc32c::crc32c_combine(crc, d.raw_crc, d.len as usize)
                };
                entry.chunks.push(d.hash);
                match known.locate(&d.hash) {
                    Some((index, (pack, len))) => {
                        g.packs.insert(pack, len);
                        g.indexes.insert(index);
                    }
                    None => g.uses_new = true,
                };
            }
            entry.crc32c = crc;
        }
        Ok(())
    }

    /// Hands a batch's nodes to the manifest's sink, its tablets with their `entries`.
    fn emit(&mut self, nodes: Vec<Node<'_, S::Tablet>>, entries: Vec<TabletEntry>) -> Result<()> {
        let mut entries = entries.into_iter();
        for node in nodes {
            match node {
                Node::Table(t) => self.sink.table(&t.name, &t.kind)?,
                Node::Partition(p) => self.sink.partition(&p.name, p.temporary)?,
                Node::Index(_, i) => self.sink.index(&i.name)?,
                Node::Tablet(..) => {
                    let entry = entries.next().ok_or_else(|| {
                        Error::new(ErrorKind::Io, "a batch lost a tablet's entry (internal error)".to_owned())
                    })?;
                    self.sink.tablet(entry)?;
                }
            }
        }
        Ok(())
    }
}

/// The work units of a batch's `files`, leaving out those `reused` from the previous backup: each chunk of a
/// file over `chunk` bytes, and runs of small files.
fn units_of(files: &Files<'_>, reused: &[Option<Box<FileEntry>>], chunk: u64) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    for (i, size) in files.sizes().enumerate() {
        if reused[i].is_some() {
            continue;
        }
        if size > chunk {
            let n = size.div_ceil(chunk);
            for c in 0..n {
                let offset = c * chunk;
                let len = usize::try_from(chunk.min(size - offset)).unwrap_or(usize::MAX);
                units.push(Unit::Chunk { file: i, index: c as usize, offset, len });
            }
        } else {
            batch.push(i);
            batch_bytes += size;
            if batch_bytes >= BATCH_BYTES || batch.len() >= BATCH_FILES {
                units.push(Unit::Small { files: std::mem::take(&mut batch) });
                batch_bytes = 0;
            }
        }
    }
    if !batch.is_empty() {
        units.push(Unit::Small { files: batch });
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChunkEntry, Compression};
    use crate::repo::MemoryRepository;

    fn pack(n: u32, chunks: usize) -> IndexPack {
        let entry = |i: usize| ChunkEntry {
            hash: ContentHash::of(&[n.to_le_bytes(), (i as u32).to_le_bytes()].concat()),
            offset: i as u64 * 10,
            stored_len: 10,
            raw_len: 10,
            crc32c: 0,
            compression: Compression::None,
        };
        IndexPack {
            id: ContentHash::of(&n.to_le_bytes()),
            len: chunks as u64 * (10 + 56) + 16,
            chunks: (0..chunks).map(entry).collect(),
        }
    }

    #[test]
    fn uploaded_packs_are_indexed_in_bounded_objects_in_the_order_they_came() {
        let repo = MemoryRepository::new();
        let ids = IdHasher::new(repo.hash_key());
        let mut g = Gathered::default();
        // About 2.5 targets of packs of 10,000 chunks, then a pack whose record alone passes the target.
        let per_pack = Index::record_len(&pack(0, 10_000));
        let n = (INDEX_BODY_TARGET * 5 / 2 / per_pack) as u32;
        let mut sent: Vec<IndexPack> = (0..n).map(|i| pack(i, 10_000)).collect();
        sent.push(pack(n, INDEX_BODY_TARGET / 56 + 1));
        sent.push(pack(n + 1, 3));
        for group in sent.chunks(7) {
            g.uploaded(&repo, ids, group.to_vec()).unwrap();
        }
        g.index(&repo, ids).unwrap();
        g.index(&repo, ids).unwrap();
        assert_eq!(g.new_indexes.len(), 5, "two full, one with the rest, the big pack alone, the last pack");
        let mut got = Vec::new();
        for id in &g.new_indexes {
            let data = crate::repo::get(&repo, &format::index_key(id)).unwrap();
            assert_eq!(ids.hash(&data), *id);
            let index = Index::decode("i", &data).unwrap();
            let body: usize = index.packs.iter().map(Index::record_len).sum();
            assert!(body <= INDEX_BODY_TARGET || index.packs.len() == 1, "{body} bytes in {} packs", index.packs.len());
            got.extend(index.packs);
        }
        assert_eq!(got, sent);
        assert_eq!(g.packs.len(), sent.len());
    }
}
