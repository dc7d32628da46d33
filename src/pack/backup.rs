//! Backup: tablet files → chunks → (dedup) → zstd → crc32c → packs → index → manifest.
//!
//! Work is cut into units (one chunk of a large file, or a batch of small files) that the pool processes in
//! parallel, each worker reading into and compressing from buffers it reuses. Each worker appends its compressed
//! chunks to the one open pack; the worker that fills it seals it and queues it for the I/O threads
//! ([`super::upload`]), so the cores compress while packs are written. About `bytes_in_flight / pack_size`
//! packs are in memory at any time; a worker that would exceed that waits. The manifest is written last, with
//! create-if-absent: it is the commit point.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use rayon::prelude::*;

use super::dictionary::{PackDictionary, SMALL_FILE_MAX};
use super::files::{Files, read_range_into, read_whole_into, walk};
use super::state::{KnownChunks, load_known_chunks, now_ms, open_repository, timestamp_utc};
use super::unchanged::{previous_files, reusable};
use super::upload::{OpenPack, Uploads};
use super::worker::Worker;
use super::{BackupSource, CompressionMode, Counters, JobControl, Packer, check_relative_path};
use crate::format::{self, ChunkEntry, Compression, ContentHash, FileEntry, IdHasher, Index, Manifest};
use crate::repo::{PutMode, PutOutcome, Repository};
use crate::store;
use crate::{Error, ErrorKind, Result};

/// A batch of small files is cut when it reaches this many bytes or files.
const BATCH_BYTES: u64 = 1 << 20;
const BATCH_FILES: usize = 256;
/// A pack is sealed at this many chunks whatever its size, so that its footer and its record in an index stay
/// bounded (3.5 MiB) however small the files.
const MAX_PACK_ENTRIES: usize = 1 << 16;
/// A backup writes its packs' index as objects of at most about this many bytes each.
const INDEX_BODY_TARGET: usize = 8 << 20;
/// At most this many I/O threads upload a backup's packs.
const MAX_IO_THREADS: usize = 4;

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

/// A unit of parallel work.
enum Unit {
    /// One chunk of a large file.
    Chunk { file: usize, index: usize, offset: u64, len: usize },
    /// Whole small files (each one chunk, or none when empty), by index.
    Small { files: Vec<usize> },
}

/// One chunk's result.
struct ChunkDone {
    file: usize,
    index: usize,
    hash: ContentHash,
    raw_crc: u32,
    len: u64,
}

/// The shared state of one backup's workers.
struct Pipeline<'a> {
    /// How the repository names chunks and packs.
    ids: IdHasher,
    /// The dictionary small files are compressed with, when the backup trained one.
    dictionary: Option<&'a PackDictionary>,
    pack_size: usize,
    open: Mutex<OpenPack>,
    uploads: &'a Uploads<'a>,
    known: &'a KnownChunks,
    claimed: Mutex<HashSet<ContentHash>>,
    stats: &'a Counters,
    control: &'a JobControl,
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
        store::with_shared_lock(repo, "backup", |lock| {
            let Staged { manifest, mut summary, packs } = self.stage(repo, source, label, control)?;
            // The commit re-check (docs/FORMAT.md, "Concurrency"): no collection runs from here to the commit,
            // and everything the manifest needs is still there.
            lock.gate()?;
            store::check_objects(repo, &manifest.indexes, &packs)?;
            // Its pages go first (no collection runs before the commit, so they stay), the manifest last.
            let manifest_key = format::manifest_key(label, &summary.timestamp);
            let page = self.opts.manifest_page_size;
            match store::write_manifest(repo, &manifest_key, &manifest, PutMode::CreateIfAbsent, page)? {
                (PutOutcome::Written, bytes) => summary.bytes_uploaded += bytes,
                (PutOutcome::AlreadyExists, _) => return Err(already_exists(label, &summary.timestamp)),
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
            self.stage(repo, source, label, control).map(|s| (s.manifest, s.summary))
        })
    }

    /// Stores `source`'s data and returns the manifest that would commit it, with the packs it needs.
    fn stage(&self, repo: &dyn Repository, source: &BackupSource, label: &str, control: &JobControl) -> Result<Staged> {
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

        // 1. The file tree, and the manifest skeleton that mirrors it.
        let (mut manifest, tasks) = walk(source, label, &timestamp, started, self.opts.chunk_size as u64)?;
        let mut known = load_known_chunks(repo)?;
        control.cancel.check()?;

        // 2. Work units, for the files not unchanged since the label's previous backup.
        let previous = previous_files(repo, label, &source.database, self.opts.chunk_size as u64);
        let reused = reusable(&manifest, &previous, &known);
        drop(previous);
        let chunk = self.opts.chunk_size as u64;
        let files = Files::new(source, &manifest, tasks);
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

        // 3. The dictionary for small files, then the parallel pipeline.
        let ids = IdHasher::new(repo.hash_key());
        let small = units.iter().filter_map(|u| if let Unit::Small { files } = u { Some(files) } else { None });
        let small = small.flatten().copied();
        let level = match self.opts.compression {
            CompressionMode::Zstd(level) => Some(level),
            CompressionMode::None => None,
            CompressionMode::Auto => Some(self.opts.zstd_level),
        };
        let dictionary = level
            .filter(|_| self.opts.small_file_dictionary)
            .and_then(|level| self.pool.install(|| PackDictionary::train(&files, small, level, ids)));
        let mut claimed = HashSet::new();
        let orphans = std::mem::take(&mut known.orphans);
        for p in &orphans {
            claimed.extend(p.chunks.iter().map(|c| c.hash));
        }
        let stats = Counters::default();
        stats.files_total.store(files.len() as u64, Ordering::Relaxed);
        stats.bytes_total.store(files.sizes().sum(), Ordering::Relaxed);
        // Unchanged files are done already: their chunks are the repository's.
        for (size, _) in files.sizes().zip(&reused).filter(|(_, r)| r.is_some()) {
            stats.files_done.fetch_add(1, Ordering::Relaxed);
            stats.bytes_done.fetch_add(size, Ordering::Relaxed);
        }
        let reused_chunks: usize = reused.iter().flatten().map(|e| e.chunks.len()).sum();
        stats.chunks_reused.fetch_add(reused_chunks as u64, Ordering::Relaxed);
        // Sealed packs waiting for an I/O thread: the memory budget less the packs being filled and uploaded.
        let packs_in_flight = (self.opts.bytes_in_flight / self.opts.pack_size).max(2);
        let io_threads = (packs_in_flight / 2).clamp(1, MAX_IO_THREADS);
        // Buffers alive at once: the open pack, one a worker has sealed, `queued` waiting and one per I/O thread.
        let queued = packs_in_flight.saturating_sub(io_threads + 2);
        let uploads = Uploads::new(repo, ids, &stats, control, queued, self.opts.pack_size + self.opts.chunk_size);
        let pipe = Pipeline {
            ids,
            dictionary: dictionary.as_ref(),
            pack_size: self.opts.pack_size,
            open: Mutex::new(uploads.open_pack()),
            uploads: &uploads,
            known: &known,
            claimed: Mutex::new(claimed),
            stats: &stats,
            control,
        };
        let (mode, auto_level) = (self.opts.compression, self.opts.zstd_level);
        let (results, rest) = std::thread::scope(|scope| {
            for k in 0..io_threads {
                let uploads = &uploads;
                let spawned = std::thread::Builder::new()
                    .name(format!("tabsnap-io-{k}"))
                    .spawn_scoped(scope, move || uploads.run());
                if let Err(e) = spawned {
                    uploads.close();
                    return (Err(Error::new(ErrorKind::Io, format!("cannot start I/O threads: {e}"))), Ok(()));
                }
            }
            let results: Result<Vec<Vec<ChunkDone>>> = self.pool.install(|| {
                units
                    .par_iter()
                    .map_init(
                        || Worker::new(mode, auto_level, uploads.sender(), dictionary.as_ref()),
                        |worker, unit| {
                            let worker = worker
                                .as_mut()
                                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start zstd: {e}")))?;
                            pipe.process(unit, &files, chunk, worker)
                        },
                    )
                    .collect()
            });
            let rest = if results.is_ok() { pipe.seal_and_upload_rest() } else { Ok(()) };
            uploads.close();
            (results, rest)
        });
        // An upload's own error comes first: the workers only saw that the backup stopped.
        let mut new_packs = uploads.finish()?;
        let results = results?;
        rest?;
        control.cancel.check()?;

        let file_count = files.len() as u64;
        // The manifest's paths were borrowed to read the files; from here on its entries get their chunks.
        drop(files);

        // 4. The indexes of this backup's packs (and of orphan packs it adopted), each a bounded object.
        new_packs.extend(orphans);
        let mut packs: HashMap<ContentHash, u64> = new_packs.iter().map(|p| (p.id, p.len)).collect();
        let mut bytes_uploaded = stats.bytes_stored.load(Ordering::Relaxed);
        new_packs.sort_by_key(|p| p.id);
        let mut new_indexes = Vec::new();
        for group in Index::split(new_packs, INDEX_BODY_TARGET) {
            let data = group.encode()?;
            let id = pipe.ids.hash(&data);
            let key = format::index_key(&id);
            repo.put(&key, &data, PutMode::CreateIfAbsent).map_err(|e| e.context("writing the backup's index"))?;
            bytes_uploaded += data.len() as u64;
            new_indexes.push(id);
        }

        // 5. The manifest: chunk lists per file, and the indexes that locate them. One sorted list of every
        // chunk done (not a list per file: a job of many small files would pay an allocation for each).
        let mut done: Vec<ChunkDone> = results.into_iter().flatten().collect();
        done.sort_unstable_by_key(|d| (d.file, d.index));
        let mut done = done.into_iter().peekable();
        let mut indexes = BTreeSet::new();
        let mut uses_new = false;
        let mut entries = manifest.tables.iter_mut().flat_map(|t| {
            t.partitions
                .iter_mut()
                .flat_map(|p| p.indexes.iter_mut().flat_map(|i| i.tablets.iter_mut().flat_map(|t| t.files.iter_mut())))
        });
        for (file, reuse) in reused.into_iter().enumerate() {
            let Some(entry) = entries.next() else { break };
            if let Some(prev) = reuse {
                for hash in &prev.chunks {
                    let (index, (pack, len)) = pipe.known.locate(hash).ok_or_else(|| {
                        Error::new(ErrorKind::Io, "an unchanged file's chunk has no index (internal error)".to_owned())
                    })?;
                    packs.insert(pack, len);
                    indexes.insert(index);
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
                match pipe.known.locate(&d.hash) {
                    Some((index, (pack, len))) => {
                        packs.insert(pack, len);
                        indexes.insert(index);
                    }
                    None => uses_new = true,
                };
            }
            entry.crc32c = crc;
        }
        if uses_new {
            if new_indexes.is_empty() {
                return Err(Error::new(ErrorKind::Io, "a new chunk has no index (internal error)".to_owned()));
            }
            indexes.extend(new_indexes);
        }
        manifest.indexes = indexes.into_iter().collect();
        let s = &stats;
        let summary = BackupSummary {
            label: label.into(),
            timestamp,
            files: file_count,
            bytes: s.bytes_total.load(Ordering::Relaxed),
            chunks_new: s.chunks_new.load(Ordering::Relaxed),
            chunks_reused: s.chunks_reused.load(Ordering::Relaxed),
            packs_written: s.objects.load(Ordering::Relaxed),
            bytes_uploaded,
        };
        Ok(Staged { manifest, summary, packs })
    }
}

/// A backup's data, stored but not committed: the manifest that would commit it, and the packs (id, length)
/// it needs.
struct Staged {
    manifest: Manifest,
    summary: BackupSummary,
    packs: HashMap<ContentHash, u64>,
}

fn already_exists(label: &str, timestamp: &str) -> Error {
    Error::new(ErrorKind::AlreadyExists, format!("snapshot {label} with timestamp {timestamp} already exists"))
        .with_object(format::manifest_key(label, timestamp))
}

impl Pipeline<'_> {
    fn process(&self, unit: &Unit, files: &Files<'_>, chunk: u64, w: &mut Worker) -> Result<Vec<ChunkDone>> {
        self.control.cancel.check()?;
        self.uploads.check()?;
        let mut out = Vec::new();
        let mut read = std::mem::take(&mut w.read);
        let result = (|| -> Result<()> {
            match unit {
                Unit::Chunk { file, index, offset, len } => {
                    let path = files.path(*file);
                    read_range_into(&path, *offset, *len, &mut read)?;
                    out.push(self.chunk(&read, *file, *index, false, w).map_err(|e| e.context(path.display()))?);
                    if (*index as u64 + 1) * chunk >= files.size(*file) {
                        self.stats.files_done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Unit::Small { files: list } => {
                    for &i in list {
                        let size = files.size(i);
                        if size > 0 {
                            let path = files.path(i);
                            read_whole_into(&path, size, &mut read)?;
                            let small = size <= SMALL_FILE_MAX;
                            out.push(self.chunk(&read, i, 0, small, w).map_err(|e| e.context(path.display()))?);
                        }
                        self.stats.files_done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(())
        })();
        w.read = read;
        result?;
        if let Some(p) = &self.control.progress {
            p.update(&self.stats.info());
        }
        Ok(out)
    }

    /// Hashes one chunk; stores it unless the repository or this backup already has it. A `small` file's chunk
    /// is compressed with the backup's dictionary when there is one.
    fn chunk(&self, raw: &[u8], file: usize, index: usize, small: bool, w: &mut Worker) -> Result<ChunkDone> {
        let hash = self.ids.hash(raw);
        let raw_crc = crc32c::crc32c(raw);
        let len = raw.len() as u64;
        self.stats.bytes_done.fetch_add(len, Ordering::Relaxed);
        let done = ChunkDone { file, index, hash, raw_crc, len };
        if self.known.contains(&hash) || !self.claimed.lock().insert(hash) {
            self.stats.chunks_reused.fetch_add(1, Ordering::Relaxed);
            return Ok(done);
        }
        let (stored, compression) = w.encode(raw, small)?;
        let stored = stored.unwrap_or(raw);
        let raw_len =
            u32::try_from(raw.len()).map_err(|_| Error::new(ErrorKind::InvalidArgument, "chunk over 4 GiB"))?;
        let stored_len = u32::try_from(stored.len()).unwrap_or(u32::MAX);
        let crc = crc32c::crc32c(stored);
        self.stats.chunks_new.fetch_add(1, Ordering::Relaxed);
        let sealed = {
            let mut open = self.open.lock();
            if let Some(d) =
                self.dictionary.filter(|_| compression == Compression::ZstdDictionary && !open.has_dictionary)
            {
                let entry = d.append_to(&mut open.data);
                open.entries.push(entry);
                open.has_dictionary = true;
            }
            let offset = open.data.len() as u64;
            open.data.extend_from_slice(stored);
            open.entries.push(ChunkEntry { hash, offset, stored_len, raw_len, crc32c: crc, compression });
            if open.data.len() >= self.pack_size || open.entries.len() >= MAX_PACK_ENTRIES {
                Some(std::mem::replace(&mut *open, self.uploads.open_pack()))
            } else {
                None
            }
        };
        if let Some(pack) = sealed {
            let tx = w.tx.as_ref().ok_or_else(|| Error::new(ErrorKind::Io, "the upload queue is closed"))?;
            self.uploads.submit(tx, pack)?;
        }
        Ok(done)
    }

    fn seal_and_upload_rest(&self) -> Result<()> {
        let pack = std::mem::replace(&mut *self.open.lock(), OpenPack::new(Vec::new()));
        if pack.entries.is_empty() { Ok(()) } else { self.uploads.submit_last(pack) }
    }
}
