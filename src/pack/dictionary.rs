//! A backup's zstd dictionary for small files, and the reading of the dictionaries packs hold.
//!
//! Compressed alone, a file of a few KiB compresses poorly: zstd starts every frame knowing nothing. When a
//! backup has many small files, it samples them spread evenly across the job, trains one dictionary, and
//! compresses each small file with it. Every pack holding such a chunk holds the dictionary too, as its
//! dictionary entry (docs/FORMAT.md, "Packs"), so a pack decodes alone: garbage collection keeps a dictionary
//! with its pack, and a later backup that reuses a chunk reuses the pack that can decode it.
//!
//! Readers read a pack's dictionary through the pack's footer, check it like a chunk (crc32c, content hash),
//! and keep a bounded number of them prepared, one per pack.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rayon::prelude::*;
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe;

use super::files::{Files, read_range_into};
use super::state::{check_len, read_pack_footer};
use crate::format::{self, ChunkEntry, Compression, ContentHash, IdHasher};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};

/// Files of at most this many bytes are compressed with the dictionary.
pub(super) const SMALL_FILE_MAX: u64 = 128 << 10;
/// A backup trains a dictionary when at least this many small files are to be stored.
const MIN_FILES: usize = 256;
/// The dictionary's size.
const DICTIONARY_SIZE: usize = 32 << 10;
/// Sampled bytes in all: more samples train a better dictionary, and training time grows with them.
const SAMPLE_BYTES: u64 = 2 << 20;
/// Each sampled file gives at most its first this many bytes.
const SAMPLE_MAX: u64 = 16 << 10;
/// Prepared dictionaries a reader keeps (one per pack): at most this many times the format's largest.
const CACHED: usize = 32;

/// A backup's trained dictionary: the bytes every pack that uses it stores, and the prepared form workers
/// compress with.
pub(super) struct PackDictionary {
    bytes: Vec<u8>,
    hash: ContentHash,
    crc: u32,
    encoder: EncoderDictionary<'static>,
}

impl PackDictionary {
    /// Trains a dictionary on samples of the small files among `stored` (indexes into `files` of the files to
    /// store whole), spread evenly across them, or `None` when they are too few or training fails (the backup
    /// then compresses each file alone). Reads the samples on the current rayon pool.
    pub(super) fn train(
        files: &Files<'_>,
        stored: impl Iterator<Item = usize>,
        level: i32,
        ids: IdHasher,
    ) -> Option<PackDictionary> {
        let small: Vec<usize> = stored.filter(|&i| (1..=SMALL_FILE_MAX).contains(&files.size(i))).collect();
        if small.len() < MIN_FILES {
            return None;
        }
        let bytes: u64 = small.iter().map(|&i| files.size(i).min(SAMPLE_MAX)).sum();
        let step = bytes.div_ceil(SAMPLE_BYTES).max(1) as usize;
        let picked: Vec<usize> = small.iter().step_by(step).copied().collect();
        let samples: Vec<Vec<u8>> = picked
            .par_iter()
            .filter_map(|&i| {
                let mut buf = Vec::new();
                // A file that cannot be read here is not sampled; the backup reports it when it reads it.
                read_range_into(&files.path(i), 0, files.size(i).min(SAMPLE_MAX) as usize, &mut buf).ok()?;
                Some(buf)
            })
            .collect();
        let sizes: Vec<usize> = samples.iter().map(Vec::len).collect();
        let bytes = zstd::dict::from_continuous(&samples.concat(), &sizes, DICTIONARY_SIZE).ok()?;
        PackDictionary::new(bytes, level, ids)
    }

    /// A dictionary of `bytes`, prepared for compression at `level`.
    pub(super) fn new(bytes: Vec<u8>, level: i32, ids: IdHasher) -> Option<PackDictionary> {
        if bytes.is_empty() || bytes.len() as u64 > format::limits::MAX_DICTIONARY_SIZE {
            return None;
        }
        Some(PackDictionary {
            hash: ids.hash(&bytes),
            crc: crc32c::crc32c(&bytes),
            encoder: EncoderDictionary::copy(&bytes, level),
            bytes,
        })
    }

    /// A compressor for one worker: frames made with the dictionary, without the dictionary's id (a pack holds
    /// one dictionary, so frames need not name it).
    pub(super) fn compressor(&self) -> std::io::Result<zstd::bulk::Compressor<'_>> {
        let mut z = zstd::bulk::Compressor::with_prepared_dictionary(&self.encoder)?;
        z.set_parameter(zstd_safe::CParameter::DictIdFlag(false))?;
        Ok(z)
    }

    /// Appends the dictionary to a pack's chunk bytes `data` and returns its entry.
    pub(super) fn append_to(&self, data: &mut Vec<u8>) -> ChunkEntry {
        let offset = data.len() as u64;
        data.extend_from_slice(&self.bytes);
        let len = self.bytes.len() as u32;
        ChunkEntry {
            hash: self.hash,
            offset,
            stored_len: len,
            raw_len: len,
            crc32c: self.crc,
            compression: Compression::Dictionary,
        }
    }
}

/// Why a pack's dictionary cannot be used, kept so that every chunk that needs it is refused alike.
type Fault = (ErrorKind, String);

/// One pack's dictionary, read once by whichever reader needs it first.
type Slot = Arc<OnceLock<std::result::Result<Arc<DecoderDictionary<'static>>, Fault>>>;

/// The dictionaries of the packs a restore or verify reads: each read and checked once, the [`CACHED`] most
/// recently first needed kept.
#[derive(Default)]
pub(crate) struct PackDictionaries {
    slots: Mutex<VecDeque<(ContentHash, Slot)>>,
}

impl PackDictionaries {
    /// The prepared dictionary of `pack`: its footer's dictionary entry, read and checked (crc32c, then the
    /// content hash as `ids` names chunks).
    ///
    /// # Errors
    /// [`ErrorKind::Format`] when the footer lists no dictionary; [`ErrorKind::Corruption`] when the entry fails
    /// its checks; repository errors. Each names the pack; the message names the dictionary entry.
    pub(crate) fn get(
        &self,
        repo: &dyn Repository,
        pack: &ContentHash,
        ids: IdHasher,
    ) -> Result<Arc<DecoderDictionary<'static>>> {
        let slot = {
            let mut slots = self.slots.lock();
            match slots.iter().find(|(p, _)| p == pack) {
                Some((_, s)) => s.clone(),
                None => {
                    if slots.len() >= CACHED {
                        slots.pop_front();
                    }
                    let s = Slot::default();
                    slots.push_back((*pack, s.clone()));
                    s
                }
            }
        };
        let key = format::pack_key(pack);
        slot.get_or_init(|| load(repo, pack, ids).map_err(|e| (e.kind(), e.message().to_owned())))
            .clone()
            .map_err(|(kind, message)| Error::new(kind, message).with_object(key))
    }
}

/// Reads and checks the dictionary entry of `pack`.
fn load(repo: &dyn Repository, pack: &ContentHash, ids: IdHasher) -> Result<Arc<DecoderDictionary<'static>>> {
    let key = format::pack_key(pack);
    let len = repo.size(&key)?.ok_or_else(|| {
        Error::new(ErrorKind::NotFound, format!("pack {key} is missing (reading its dictionary)")).with_object(&key)
    })?;
    let footer = read_pack_footer(repo, pack, len)?;
    let entry = footer.iter().find(|e| e.compression == Compression::Dictionary).ok_or_else(|| {
        Error::new(ErrorKind::Format, "the pack's footer lists no dictionary entry".to_owned()).with_object(&key)
    })?;
    let bytes = repo.get_range(&key, entry.offset, Some(u64::from(entry.stored_len)))?;
    check_len(&key, &bytes, u64::from(entry.stored_len))?;
    let damaged = |what: String| {
        Error::new(ErrorKind::Corruption, format!("dictionary entry {} {what}", entry.hash.short())).with_object(&key)
    };
    let crc = crc32c::crc32c(&bytes);
    if crc != entry.crc32c {
        return Err(damaged(format!("fails its crc32c (stored {:#010x}, computed {crc:#010x})", entry.crc32c)));
    }
    if ids.hash(&bytes) != entry.hash {
        return Err(damaged("does not match its content hash".into()));
    }
    Ok(Arc::new(DecoderDictionary::copy(&bytes)))
}

/// Decompresses chunks of one pack made with its dictionary.
pub(crate) struct PackDecoder {
    dictionary: Arc<DecoderDictionary<'static>>,
    dctx: zstd_safe::DCtx<'static>,
}

impl PackDecoder {
    /// A decoder for `dictionary`.
    ///
    /// # Errors
    /// When zstd cannot allocate its context.
    pub(crate) fn new(dictionary: Arc<DecoderDictionary<'static>>) -> Result<PackDecoder> {
        let dctx = zstd_safe::DCtx::try_create().ok_or_else(|| Error::new(ErrorKind::Io, "cannot start zstd"))?;
        Ok(PackDecoder { dictionary, dctx })
    }

    /// The frame `stored` decompressed, at most `max` bytes (never more is allocated).
    pub(crate) fn decompress(&mut self, stored: &[u8], max: usize) -> std::result::Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(max);
        self.dctx
            .decompress_using_ddict(&mut out, stored, self.dictionary.as_ddict())
            .map_err(|code| zstd_safe::get_error_name(code).to_owned())?;
        Ok(out)
    }
}
