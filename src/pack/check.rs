//! The checks restore and verify share, so that verify refuses exactly what a restore would refuse or get
//! wrong: a manifest's files against the chunks its indexes locate (in [`super::chunk_plan`]), the reading of chunks in bounded
//! ranged reads (crc32c before decompressing, a hard bound on the output, the content hash after; a chunk
//! compressed with its pack's dictionary after that dictionary passed the same checks), and the whole-file
//! crc32c.

use crate::format::{self, ChunkEntry, Compression};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};

use super::chunk_plan::{ChunkPlan, PlannedFiles, Read};
use super::dictionary::PackDecoder;
use super::locate::NONE;
use super::state::check_len;

/// Reads `read` with one ranged get and hands each of its chunks to `each`: the checked raw bytes, or why they
/// could not be had. Returns the bytes read; fails when the read itself fails or `each` does.
pub(crate) fn read_chunks(
    repo: &dyn Repository,
    plan: &ChunkPlan,
    read: &Read,
    zstd: &mut zstd::bulk::Decompressor<'static>,
    each: &mut dyn FnMut(usize, Result<Vec<u8>>) -> Result<()>,
) -> Result<u64> {
    let pack = plan.pack_id(read.pack);
    let key = format::pack_key(pack);
    let ids = format::IdHasher::new(repo.hash_key());
    let data = repo.get_range(&key, read.start, Some(read.end - read.start))?;
    check_len(&key, &data, read.end - read.start)?;
    let mut dictionary: Option<PackDecoder> = None;
    for i in read.slots.clone() {
        let i = i as usize;
        let entry = &plan.entry(i);
        let at = entry.offset - read.start;
        let stored = usize::try_from(at)
            .ok()
            .and_then(|at| data.get(at..at.checked_add(entry.stored_len as usize)?))
            .ok_or_else(|| {
                Error::new(ErrorKind::Corruption, format!("pack {key} chunk {}: outside the read", entry.hash.short()))
                    .with_object(key.clone())
            });
        let raw = stored.and_then(|s| {
            if entry.compression == Compression::ZstdDictionary && dictionary.is_none() {
                let needs = || format!("pack {key} chunk {} needs the pack's dictionary", entry.hash.short());
                let d = plan.dictionaries.get(repo, pack, ids).map_err(|e| e.context(needs()))?;
                dictionary = Some(PackDecoder::new(d)?);
            }
            decode_chunk(&key, entry, s, zstd, dictionary.as_mut(), ids)
        });
        each(i, raw)?;
    }
    Ok(data.len() as u64)
}

/// Checks a stored chunk and returns its raw bytes: crc32c of the stored bytes first, then decompression to at
/// most the declared raw length (with `dictionary`, the pack's, for a chunk compressed with it), then the
/// content hash of the result (as the repository's `ids` name chunks).
pub(crate) fn decode_chunk(
    pack_key: &str,
    entry: &ChunkEntry,
    stored: &[u8],
    zstd: &mut zstd::bulk::Decompressor<'static>,
    dictionary: Option<&mut PackDecoder>,
    ids: format::IdHasher,
) -> Result<Vec<u8>> {
    let corrupt = |what: String| {
        Error::new(ErrorKind::Corruption, format!("pack {pack_key} chunk {}: {what}", entry.hash.short()))
            .with_object(pack_key)
    };
    if u64::from(entry.raw_len) > format::limits::MAX_CHUNK_SIZE {
        return Err(corrupt(format!("declares {} raw bytes, over the format's limit", entry.raw_len)));
    }
    let crc = crc32c::crc32c(stored);
    if crc != entry.crc32c {
        return Err(corrupt(format!("crc32c mismatch (stored {:#010x}, computed {crc:#010x})", entry.crc32c)));
    }
    let raw = match entry.compression {
        Compression::None | Compression::Dictionary => stored.to_vec(),
        Compression::Zstd => {
            zstd.decompress(stored, entry.raw_len as usize).map_err(|e| corrupt(format!("cannot decompress: {e}")))?
        }
        Compression::ZstdDictionary => dictionary
            .ok_or_else(|| corrupt("needs the pack's dictionary, which was not read".into()))?
            .decompress(stored, entry.raw_len as usize)
            .map_err(|e| corrupt(format!("cannot decompress with the pack's dictionary: {e}")))?,
    };
    if raw.len() != entry.raw_len as usize {
        return Err(corrupt(format!("decompressed to {} bytes, {} expected", raw.len(), entry.raw_len)));
    }
    if ids.hash(&raw) != entry.hash {
        return Err(corrupt("content hash mismatch".into()));
    }
    Ok(raw)
}

/// Checks each file's whole-content crc32c, combined from the crc32c of its chunks' raw bytes (`chunk_crc` per
/// slot, `None` for a chunk that could not be read: its file is skipped, its problem already named). Returns a
/// problem per file whose crc32c differs from its manifest's, naming the manifest.
pub(crate) fn check_file_crcs(files: &PlannedFiles<'_>, plan: &ChunkPlan, chunk_crc: &[Option<u32>]) -> Vec<Error> {
    let mut problems = Vec::new();
    for fi in 0..files.len() {
        let slots = plan.file_slots(files, fi);
        if slots.contains(&NONE) {
            continue; // a chunk was not located: already a problem
        }
        let mut crc = 0u32;
        let mut ok = true;
        for (i, &slot) in slots.iter().enumerate() {
            match chunk_crc.get(slot as usize).copied().flatten() {
                // The first chunk's crc32c is the file's so far (combining with the empty start costs as much as
                // any other combination, and most files are one chunk).
                Some(c) if i == 0 => crc = c,
                Some(c) => crc = crc32c::crc32c_combine(crc, c, plan.slot(slot as usize).raw_len as usize),
                None => ok = false,
            }
        }
        let entry = files.entry(fi);
        if ok && crc != entry.crc32c {
            let key = files.manifest_key(fi);
            problems.push(
                Error::new(
                    ErrorKind::Corruption,
                    format!(
                        "manifest {key}: {} has crc32c {crc:#010x}, the manifest records {:#010x}",
                        files.label(fi),
                        entry.crc32c
                    ),
                )
                .with_object(key),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    #[test]
    fn crcs_combine_from_empty() {
        let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
        let whole = crc32c::crc32c(b"hello world");
        let c = crc32c::crc32c_combine(0, crc32c::crc32c(a), a.len());
        assert_eq!(crc32c::crc32c_combine(c, crc32c::crc32c(b), b.len()), whole);
    }
}
