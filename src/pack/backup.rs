//! Backup: tablet files → chunks → (dedup) → zstd → crc32c → packs → index → manifest, a batch of tablets at a
//! time.
//!
//! The tablets are taken in batches of about [`super::PackerOptions::batch_files`] files: a batch's directories
//! are asked for ([`Tablets::open`]), listed, cut into units (one chunk of a large file, or a run of small files)
//! that the pool processes in parallel ([`super::pipeline`]), given back ([`Tablets::done`]), and its manifest
//! entries handed to the page writer, which puts each page of the manifest as soon as it is full. Packs go to the
//! I/O threads as they fill ([`super::upload`]) and are indexed as they are uploaded, in index objects of about
//! 8 MiB. So a backup holds one batch of file and chunk lists, a few packs and one page at a time, however many
//! tablets it takes. The manifest object is written last, with create-if-absent: it is the commit point; until
//! then its pages, packs and indexes are garbage a collection may remove (after this backup's lock is gone).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use rayon::prelude::*;

use super::dictionary::PackDictionary;
use super::files::{Files, list_batch};
use super::pipeline::{ChunkDone, Claimed, Pipeline, Unit};
use super::source::{Batches, Node, Tablets, check_directories, tablets_of};
use super::state::{KnownChunks, load_known_chunks, now_ms, open_repository, timestamp_utc};
use super::unchanged::Previous;
use super::upload::Uploads;
use super::worker::Worker;
use super::{BackupSource, CompressionMode, Counters, JobControl, Packer, check_relative_path};
use crate::format::{
    self, ContentHash, FileEntry, FileRef, IdHasher, Index, IndexPack, Manifest, ManifestHead, PageWriter, TabletEntry,
    TreeSink,
};
use crate::repo::{PutMode, PutOutcome, Repository};
use crate::store;
use crate::tree::Tree;
use crate::{Error, ErrorKind, Result};

/// A batch of small files is cut when it reaches this many bytes or files.
const BATCH_BYTES: u64 = 1 << 20;
const BATCH_FILES: usize = 256;
/// A backup writes its packs' index as objects of at most about this many bytes each.
const INDEX_BODY_TARGET: usize = 8 << 20;
/// At most this many I/O threads upload a backup's packs.
const MAX_IO_THREADS: usize = 4;
/// The first batch of a backup takes at most this many tablets; the next ones as many as make about
/// `batch_files` files at the files per tablet seen so far.
const FIRST_BATCH_TABLETS: usize = 1024;

/// What a backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The snapshot's label.
    pub label: String,
    /// The snapshot's backup timestamp.
    pub timestamp: String,
    /// Files backed up.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Chunks stored by this backup.
    pub chunks_new: u64,
    /// Chunks the repository already had.
    pub chunks_reused: u64,
    /// Packs uploaded.
    pub packs_written: u64,
    /// Bytes uploaded (packs, index and manifest).
    pub bytes_uploaded: u64,
}

impl Packer {
    /// Backs up `source` into `repo` as snapshot `label`.
    ///
    /// Chunks the repository already holds are not stored again (a second backup of unchanged data uploads
    /// only its index and manifest; a backup interrupted before its manifest is resumed by running it again).
    ///
    /// # Errors
    /// I/O errors naming the tablet file; repository errors naming the object (nothing is committed then);
    /// [`ErrorKind::AlreadyExists`] when the snapshot's manifest exists; [`ErrorKind::Cancelled`] /
    /// [`ErrorKind::TimedOut`] when `control.cancel` fires.
    pub fn backup(
        &self,
        repo: &dyn Repository,
        source: &BackupSource,
        label: &str,
        control: &JobControl,
    ) -> Result<BackupSummary> {
        self.backup_tablets(repo, source, label, control)
    }

    /// [`Packer::backup`] of `tablets`, whose directories are asked for a batch at a time.
    pub(crate) fn backup_tablets<S: Tablets>(
        &self,
        repo: &dyn Repository,
        tablets: &S,
        label: &str,
        control: &JobControl,
    ) -> Result<BackupSummary> {
        store::with_shared_lock(repo, "backup", |lock| {
            let ids = IdHasher::new(repo.hash_key());
            let mut page_bytes = 0u64;
            let mut pages = PageWriter::new(&ids, self.opts.manifest_page_size, |id, obj| {
                repo.put(&format::tree_key(id), obj, PutMode::CreateIfAbsent)
                    .map_err(|e| e.context("writing a manifest page"))?;
                page_bytes += obj.len() as u64;
                Ok(())
            });
            let staged = self.stage(repo, tablets, label, control, &mut pages)?;
            let pages = pages.finish()?;
            let Staged { mut summary, packs, indexes, created_ms } = staged;
            // The commit re-check (docs/FORMAT.md, "Concurrency"): no collection runs from here to the commit,
            // and everything the manifest needs is still there.
            lock.gate()?;
            store::check_objects(repo, &indexes, &packs)?;
            store::check_pages(repo, &pages)?;
            let head = ManifestHead {
                database: tablets.database().into(),
                label: label.into(),
                timestamp: summary.timestamp.clone(),
                created_ms,
                chunk_size: self.opts.chunk_size as u64,
                pages,
                indexes,
                host_metadata: Manifest::encode_host_metadata(tablets.host_metadata()),
                views: views_of(tablets),
            };
            let obj = head.encode()?;
            let manifest_key = format::manifest_key(label, &summary.timestamp);
            match repo
                .put(&manifest_key, &obj, PutMode::CreateIfAbsent)
                .map_err(|e| e.context("writing the manifest"))?
            {
                PutOutcome::Written => summary.bytes_uploaded += page_bytes + obj.len() as u64,
                PutOutcome::AlreadyExists => return Err(already_exists(label, &summary.timestamp)),
            }
            Ok(summary)
        })
    }

    /// Stores `source`'s data (packs and their index) in `repo` and returns the manifest that would commit it,
    /// without writing it: one node's share of a backup that several nodes run (see [`crate::pack::cluster`]).
    /// [`Packer::backup`] is this plus the manifest.
    ///
    /// # Errors
    /// As [`Packer::backup`].
    pub fn backup_part(
        &self,
        repo: &dyn Repository,
        source: &BackupSource,
        label: &str,
        control: &JobControl,
    ) -> Result<(Manifest, BackupSummary)> {
        store::with_shared_lock(repo, "backup part", |_| {
            let mut tables = Tree::new();
            let Staged { summary, indexes, created_ms, .. } = self.stage(repo, source, label, control, &mut tables)?;
            let manifest = Manifest {
                database: source.database.clone(),
                label: label.into(),
                timestamp: summary.timestamp.clone(),
                created_ms,
                chunk_size: self.opts.chunk_size as u64,
                tables,
                indexes,
                host_metadata: Manifest::encode_host_metadata(&source.host_metadata),
                views: views_of(source),
            };
            Ok((manifest, summary))
        })
    }

    /// Stores the data of `src` batch by batch, handing its manifest's tree to `sink` as each batch is done, and
    /// returns what the manifest needs besides.
    fn stage<S: Tablets>(
        &self,
        repo: &dyn Repository,
        src: &S,
        label: &str,
        control: &JobControl,
        sink: &mut dyn TreeSink,
    ) -> Result<Staged> {
        open_repository(repo)?;
        let started = now_ms();
        let timestamp = control.timestamp.clone().unwrap_or_else(|| timestamp_utc(started));
        if super::is_latest(&timestamp) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{timestamp:?} cannot be a backup timestamp: it names a label's newest backup"),
            ));
        }
        let manifest_key = format::manifest_key(label, &timestamp);
        check_relative_path(&manifest_key)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("label {label:?} cannot name a snapshot")))?;
        if repo.size(&manifest_key)?.is_some() {
            return Err(already_exists(label, &timestamp));
        }
        let mut known = load_known_chunks(repo)?;
        control.cancel.check()?;
        let chunk = self.opts.chunk_size as u64;
        let mut previous = Previous::open(repo, label, src.database(), chunk);

        let ids = IdHasher::new(repo.hash_key());
        let orphans = std::mem::take(&mut known.orphans);
        let mut orphan_chunks: Vec<ContentHash> =
            orphans.iter().flat_map(|p| p.chunks.iter().map(|c| c.hash)).collect();
        orphan_chunks.sort_unstable();
        orphan_chunks.dedup();
        let stats = Counters::default();
        // Sealed packs waiting for an I/O thread: the memory budget less the packs being filled and uploaded.
        let packs_in_flight = (self.opts.bytes_in_flight / self.opts.pack_size).max(2);
        let io_threads = (packs_in_flight / 2).clamp(1, MAX_IO_THREADS);
        // Buffers alive at once: the open pack, one a worker has sealed, `queued` waiting and one per I/O thread.
        let queued = packs_in_flight.saturating_sub(io_threads + 2);
        let uploads = Uploads::new(repo, ids, &stats, control, queued, self.opts.pack_size + self.opts.chunk_size);
        let dictionary = OnceLock::new();
        let pipe = Pipeline {
            ids,
            dictionary: &dictionary,
            pack_size: self.opts.pack_size,
            open: Mutex::new(uploads.open_pack()),
            uploads: &uploads,
            known: &known,
            orphans: orphan_chunks,
            claimed: Mutex::new(Claimed::default()),
            stats: &stats,
            control,
        };
        let mut gathered = Gathered::default();
        let result = std::thread::scope(|scope| {
            for k in 0..io_threads {
                let uploads = &uploads;
                let spawned = std::thread::Builder::new()
                    .name(format!("tabsnap-io-{k}"))
                    .spawn_scoped(scope, move || uploads.run());
                if let Err(e) = spawned {
                    uploads.close();
                    return Err(Error::new(ErrorKind::Io, format!("cannot start I/O threads: {e}")));
                }
            }
            let mut job =
                Job { packer: self, repo, src, pipe: &pipe, previous: &mut previous, sink, gathered: &mut gathered };
            let r = job.run();
            uploads.close();
            r
        });
        // An upload's own error comes first: the workers only saw that the backup stopped.
        let mut rest = uploads.finish()?;
        result?;
        control.cancel.check()?;

        // The last packs' index, with the orphan packs this backup adopts.
        rest.extend(orphans);
        gathered.index(repo, ids, rest)?;
        let Gathered { packs, mut indexes, uses_new, new_indexes, bytes_uploaded, files, .. } = gathered;
        if uses_new {
            if new_indexes.is_empty() {
                return Err(Error::new(ErrorKind::Io, "a new chunk has no index (internal error)".to_owned()));
            }
            indexes.extend(new_indexes);
        }
        let s = &stats;
        let summary = BackupSummary {
            label: label.into(),
            timestamp,
            files,
            bytes: s.bytes_total.load(Ordering::Relaxed),
            chunks_new: s.chunks_new.load(Ordering::Relaxed),
            chunks_reused: s.chunks_reused.load(Ordering::Relaxed),
            packs_written: s.objects.load(Ordering::Relaxed),
            bytes_uploaded: bytes_uploaded + s.bytes_stored.load(Ordering::Relaxed),
        };
        Ok(Staged { summary, packs, indexes: indexes.into_iter().collect(), created_ms: started })
    }
}

/// The views of `src`, as a manifest records them.
fn views_of<S: Tablets>(src: &S) -> Vec<format::ViewEntry> {
    src.views()
        .iter()
        .map(|(name, definition)| format::ViewEntry { name: name.clone(), definition: definition.clone() })
        .collect()
}

/// A backup's data, stored but not committed: what its manifest needs besides its tablets, and the packs (id,
/// length) it needs.
struct Staged {
    summary: BackupSummary,
    packs: HashMap<ContentHash, u64>,
    indexes: Vec<ContentHash>,
    created_ms: u64,
}

/// What a backup's batches gather for its manifest and commit.
#[derive(Default)]
struct Gathered {
    /// Every pack the manifest needs (id, length): checked at the commit.
    packs: HashMap<ContentHash, u64>,
    /// The indexes that locate the chunks taken from earlier backups.
    indexes: BTreeSet<ContentHash>,
    /// Whether the manifest needs a chunk this backup stored.
    uses_new: bool,
    /// Uploaded packs not indexed yet, and the bytes of index they make.
    pending: Vec<IndexPack>,
    pending_len: usize,
    /// The index objects this backup wrote.
    new_indexes: Vec<ContentHash>,
    /// Bytes of index objects written.
    bytes_uploaded: u64,
    /// Files and tablets listed so far.
    files: u64,
    tablets: u64,
}

impl Gathered {
    /// Takes uploaded `packs` for indexing; writes the index once about [`INDEX_BODY_TARGET`] is pending.
    fn uploaded(&mut self, repo: &dyn Repository, ids: IdHasher, packs: Vec<IndexPack>) -> Result<()> {
        self.pending_len += packs.iter().map(|p| 44 + p.chunks.len() * format::PACK_ENTRY_LEN).sum::<usize>();
        self.pending.extend(packs);
        if self.pending_len >= INDEX_BODY_TARGET {
            let pending = std::mem::take(&mut self.pending);
            self.index(repo, ids, pending)?;
        }
        Ok(())
    }

    /// Writes the index of the pending packs and `packs`, in objects of about [`INDEX_BODY_TARGET`] bytes.
    fn index(&mut self, repo: &dyn Repository, ids: IdHasher, packs: Vec<IndexPack>) -> Result<()> {
        let mut packs = if self.pending.is_empty() {
            packs
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend(packs);
            pending
        };
        self.pending_len = 0;
        packs.sort_by_key(|p| p.id);
        self.packs.extend(packs.iter().map(|p| (p.id, p.len)));
        for group in Index::split(packs, INDEX_BODY_TARGET) {
            let data = group.encode()?;
            let id = ids.hash(&data);
            let key = format::index_key(&id);
            repo.put(&key, &data, PutMode::CreateIfAbsent).map_err(|e| e.context("writing the backup's index"))?;
            self.bytes_uploaded += data.len() as u64;
            self.new_indexes.push(id);
        }
        Ok(())
    }
}

/// One backup's batches, run in order on the packer's pool while the I/O threads upload.
struct Job<'a, 'p, S: Tablets> {
    packer: &'a Packer,
    repo: &'a dyn Repository,
    src: &'a S,
    pipe: &'a Pipeline<'p>,
    previous: &'a mut Previous<'p>,
    sink: &'a mut dyn TreeSink,
    gathered: &'a mut Gathered,
}

impl<S: Tablets> Job<'_, '_, S> {
    fn run(&mut self) -> Result<()> {
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

        let (mode, auto_level) = (packer.opts.compression, packer.opts.zstd_level);
        let results: Result<Vec<Vec<ChunkDone>>> = packer.pool.install(|| {
            units
                .par_iter()
                .map_init(
                    || Worker::new(mode, auto_level, pipe.uploads.sender(), pipe.dictionary.get()),
                    |worker, unit| {
                        let worker = worker
                            .as_mut()
                            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start zstd: {e}")))?;
                        pipe.process(unit, &files, chunk, worker)
                    },
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

fn already_exists(label: &str, timestamp: &str) -> Error {
    Error::new(ErrorKind::AlreadyExists, format!("snapshot {label} with timestamp {timestamp} already exists"))
        .with_object(format::manifest_key(label, timestamp))
}
