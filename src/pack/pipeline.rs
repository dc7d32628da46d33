//! The backup's workers: each unit of work (one chunk of a large file, or a batch of small files) is read,
//! hashed, checked against what the repository and this backup already hold, compressed and appended to the
//! one open pack; the worker that fills the pack seals it and queues it for the I/O threads
//! ([`super::upload`]).

use std::collections::HashSet;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use super::dictionary::{PackDictionary, SMALL_FILE_MAX};
use super::files::{Files, read_range_into, read_whole_into};
use super::state::KnownChunks;
use super::upload::{OpenPack, Uploads};
use super::worker::{Worker, Workers};
use super::{Counters, JobControl};
use crate::format::{ChunkEntry, Compression, ContentHash, IdHasher};
use crate::{Error, ErrorKind, Result};

/// A pack is sealed at this many chunks whatever its size, so that its footer and its record in an index stay
/// bounded (3.5 MiB) however small the files.
const MAX_PACK_ENTRIES: usize = 1 << 16;
/// The chunks a backup remembers having stored itself, in each of two generations (see [`Claimed`]).
const CLAIMED_GENERATION: usize = 1 << 16;

/// A unit of parallel work.
pub(super) enum Unit {
    /// One chunk of a large file.
    Chunk { file: usize, index: usize, offset: u64, len: usize },
    /// Whole small files (each one chunk, or none when empty), by index.
    Small { files: Vec<usize> },
}

/// One chunk's result.
pub(super) struct ChunkDone {
    pub file: usize,
    pub index: usize,
    pub hash: ContentHash,
    pub raw_crc: u32,
    pub len: u64,
}

/// The chunks this backup stored, so that a chunk met again is stored once: the most recent ones, in two
/// generations of at most [`CLAIMED_GENERATION`] (about 4 MiB each), the older dropped when the newer is full.
/// A chunk met again after that many others is stored a second time, in another pack; an index keeps both
/// places and readers take the first. So the memory of a backup does not grow with its number of chunks; the
/// chunks of earlier backups are deduplicated exactly, through the repository's indexes ([`KnownChunks`]).
#[derive(Default)]
pub(super) struct Claimed {
    current: HashSet<ContentHash>,
    previous: HashSet<ContentHash>,
}

impl Claimed {
    /// Claims `hash`: false when this backup stored it recently.
    pub(super) fn insert(&mut self, hash: ContentHash) -> bool {
        if self.current.contains(&hash) || self.previous.contains(&hash) {
            return false;
        }
        if self.current.len() >= CLAIMED_GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(hash)
    }
}

/// The shared state of one backup's workers.
pub(super) struct Pipeline<'a> {
    /// How the repository names chunks and packs.
    pub ids: IdHasher,
    /// The dictionary small files are compressed with, once the backup has trained one.
    pub dictionary: &'a OnceLock<PackDictionary>,
    pub pack_size: usize,
    pub open: Mutex<OpenPack>,
    pub uploads: &'a Uploads<'a>,
    pub known: &'a KnownChunks,
    /// The chunks of packs no index lists (left by an interrupted backup), sorted: this backup lists them.
    pub orphans: Vec<ContentHash>,
    pub claimed: Mutex<Claimed>,
    pub stats: &'a Counters,
    pub control: &'a JobControl,
    /// The workers, kept from batch to batch.
    pub workers: Workers<'a>,
}

impl Pipeline<'_> {
    pub(super) fn process(&self, unit: &Unit, files: &Files<'_>, chunk: u64, w: &mut Worker) -> Result<Vec<ChunkDone>> {
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
        if self.known.contains(&hash) || self.orphans.binary_search(&hash).is_ok() || !self.claimed.lock().insert(hash)
        {
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
                self.dictionary.get().filter(|_| compression == Compression::ZstdDictionary && !open.has_dictionary)
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

    pub(super) fn seal_and_upload_rest(&self) -> Result<()> {
        let pack = std::mem::replace(&mut *self.open.lock(), OpenPack::new(Vec::new()));
        if pack.entries.is_empty() { Ok(()) } else { self.uploads.submit_last(pack) }
    }
}
