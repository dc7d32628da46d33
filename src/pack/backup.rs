//! Backup: tablet files → chunks → (dedup) → zstd → crc32c → packs → index → manifest, a batch of tablets at a
//! time.
//!
//! The tablets are taken in batches of about [`super::PackerOptions::batch_files`] files ([`super::batch`]): a
//! batch's directories are asked for ([`Tablets::open`]), listed, cut into units (one chunk of a large file, or a
//! run of small files) that the pool processes in parallel ([`super::pipeline`]), given back ([`Tablets::done`]),
//! and its manifest entries handed to the page writer, which puts each page of the manifest as soon as it is full.
//! Packs go to the I/O threads as they fill ([`super::upload`]) and are indexed as they are uploaded, in index
//! objects of about 8 MiB. So a backup holds one batch of file and chunk lists, a few packs and one page at a
//! time, however many tablets it takes. The manifest object is written last, with create-if-absent: it is the
//! commit point; until then its pages, packs and indexes are garbage a collection may remove (after this backup's
//! lock is gone).
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use super::batch::{Gathered, Job};
use super::pipeline::{Claimed, Pipeline};
use super::source::Tablets;
use super::state::{load_known_chunks, now_ms, open_repository, timestamp_utc};
use super::unchanged::Previous;
use super::upload::Uploads;
use super::worker::Workers;
use super::{BackupSource, Counters, JobControl, Packer, check_relative_path};
use crate::format::{self, ContentHash, IdHasher, Manifest, ManifestHead, PageWriter, TreeSink};
use crate::repo::{PutMode, PutOutcome, Repository};
use crate::store;
use crate::tree::Tree;
use crate::{Error, ErrorKind, Result};

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
            workers: Workers::new(self.opts.compression, self.opts.zstd_level),
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
            // The idle workers' senders go first: the I/O threads end once every sender is dropped.
            pipe.workers.clear();
            uploads.close();
            r
        });
        // An upload's own error comes first: the workers only saw that the backup stopped.
        let mut rest = uploads.finish()?;
        result?;
        control.cancel.check()?;

        // The last packs' index, with the orphan packs this backup adopts.
        rest.extend(orphans);
        gathered.uploaded(repo, ids, rest)?;
        gathered.index(repo, ids)?;
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

fn already_exists(label: &str, timestamp: &str) -> Error {
    Error::new(ErrorKind::AlreadyExists, format!("snapshot {label} with timestamp {timestamp} already exists"))
        .with_object(format::manifest_key(label, timestamp))
}
