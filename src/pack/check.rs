//! The checks restore and verify share, so that verify refuses exactly what a restore would refuse or get
//! wrong: a manifest's files against the chunks its indexes locate (every chunk located, raw lengths that fit
//! the file and the chunk size, no two located chunks overlapping in a pack), the reading of chunks in bounded
//! ranged reads (crc32c before decompressing, a hard bound on the output, the content hash after; a chunk
//! compressed with its pack's dictionary after that dictionary passed the same checks), and the whole-file
//! crc32c.

use std::collections::{BTreeMap, HashMap};

use crate::format::{self, ChunkEntry, Compression, ContentHash, FileEntry};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};

use super::dictionary::{PackDecoder, PackDictionaries};
use super::state::check_len;

/// Reads of one pack closer than this are merged into one ranged get.
const MERGE_GAP: u64 = 256 << 10;
/// A merged read is cut at this size (one chunk alone may pass it, up to the largest chunk).
const MAX_READ: u64 = 8 << 20;

/// Where a file's manifest finds a chunk: the pack and its entry.
pub(crate) type Location = (ContentHash, ChunkEntry);

/// A file of a snapshot whose chunks are to be read.
pub(crate) struct PlannedFile<'m> {
    /// The manifest's entry.
    pub entry: &'m FileEntry,
    /// The chunk size of its manifest.
    pub chunk_size: u64,
    /// The key of its manifest.
    pub manifest: String,
    /// How messages name it (`db.table tablet id file path`).
    pub label: String,
}

/// Where one chunk of one file goes.
pub(crate) struct Use {
    /// The file, as an index into the planned files.
    pub file: usize,
    /// The offset of the chunk in the file.
    pub offset: u64,
}

/// A located chunk and every place it goes.
pub(crate) struct Slot {
    /// The pack holding it.
    pub pack: ContentHash,
    /// Its entry.
    pub entry: ChunkEntry,
    /// Where it goes.
    pub uses: Vec<Use>,
}

/// One ranged read of a pack and the slots it covers, in pack order.
pub(crate) struct Read {
    /// The pack.
    pub pack: ContentHash,
    /// The first byte read.
    pub start: u64,
    /// One past the last byte read.
    pub end: u64,
    /// The slots, as indexes into [`ChunkPlan::slots`].
    pub slots: Vec<usize>,
}

/// Every chunk the planned files need, where it is, and the reads that fetch them.
#[derive(Default)]
pub(crate) struct ChunkPlan {
    /// The located chunks.
    pub slots: Vec<Slot>,
    /// The reads, grouped by pack.
    pub reads: Vec<Read>,
    /// The dictionaries of the packs read, for chunks compressed with them.
    pub dictionaries: PackDictionaries,
}

/// Locates every chunk of `files` (`locate(file, chunk)` gives the pack and entry that file's manifest
/// finds for it) and checks that the entries fit the files: every chunk located; a file's chunks but the last
/// exactly `chunk_size` raw bytes and the last one the rest of the file; two different entries never at
/// overlapping places of one pack. Returns the plan and every problem found (a restore fails on the first).
pub(crate) fn plan_chunks(
    files: &[PlannedFile<'_>],
    locate: &dyn Fn(usize, &ContentHash) -> Option<Location>,
) -> (ChunkPlan, Vec<Error>) {
    let mut problems = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut by_place: HashMap<(ContentHash, u64), usize> = HashMap::new();
    for (fi, f) in files.iter().enumerate() {
        let n = f.entry.chunks.len() as u64;
        for (ci, hash) in f.entry.chunks.iter().enumerate() {
            let Some((pack, entry)) = locate(fi, hash) else {
                problems.push(
                    Error::new(
                        ErrorKind::Corruption,
                        format!(
                            "manifest {}: chunk {} of {} is in no index of the snapshot",
                            f.manifest,
                            hash.short(),
                            f.label
                        ),
                    )
                    .with_object(f.manifest.clone()),
                );
                continue;
            };
            let offset = ci as u64 * f.chunk_size;
            let want = if ci as u64 + 1 < n { f.chunk_size } else { f.entry.size.saturating_sub(offset) };
            if u64::from(entry.raw_len) != want {
                let key = format::pack_key(&pack);
                problems.push(
                    Error::new(
                        ErrorKind::Corruption,
                        format!(
                            "pack {key} chunk {}: its index declares {} raw bytes, {} needs {want} at offset {offset} \
                             (manifest {})",
                            hash.short(),
                            entry.raw_len,
                            f.label,
                            f.manifest
                        ),
                    )
                    .with_object(key),
                );
                continue;
            }
            let slot = *by_place.entry((pack, entry.offset)).or_insert_with(|| {
                slots.push(Slot { pack, entry, uses: Vec::new() });
                slots.len() - 1
            });
            if slots[slot].entry != entry {
                let key = format::pack_key(&pack);
                problems.push(
                    Error::new(
                        ErrorKind::Corruption,
                        format!(
                            "pack {key}: chunks {} and {} are both located at offset {} (needed by {})",
                            slots[slot].entry.hash.short(),
                            hash.short(),
                            entry.offset,
                            f.label
                        ),
                    )
                    .with_object(key),
                );
                continue;
            }
            slots[slot].uses.push(Use { file: fi, offset });
        }
    }
    let mut by_pack: BTreeMap<ContentHash, Vec<usize>> = BTreeMap::new();
    for (i, s) in slots.iter().enumerate() {
        by_pack.entry(s.pack).or_default().push(i);
    }
    let mut reads = Vec::new();
    for (pack, mut members) in by_pack {
        members.sort_by_key(|&i| slots[i].entry.offset);
        let key = || format::pack_key(&pack);
        let mut current: Vec<usize> = Vec::new();
        let (mut start, mut end) = (0u64, 0u64);
        for i in members {
            let e = &slots[i].entry;
            let e_end = e.offset + u64::from(e.stored_len);
            if let Some(&prev) = current.last() {
                let p = &slots[prev].entry;
                if e.offset < p.offset + u64::from(p.stored_len) {
                    problems.push(
                        Error::new(
                            ErrorKind::Corruption,
                            format!(
                                "pack {}: chunks {} and {} overlap (offsets {} and {})",
                                key(),
                                p.hash.short(),
                                e.hash.short(),
                                p.offset,
                                e.offset
                            ),
                        )
                        .with_object(key()),
                    );
                    continue;
                }
                if e.offset > end + MERGE_GAP || e_end - start > MAX_READ {
                    reads.push(Read { pack, start, end, slots: std::mem::take(&mut current) });
                }
            }
            if current.is_empty() {
                start = e.offset;
            }
            end = end.max(e_end);
            current.push(i);
        }
        if !current.is_empty() {
            reads.push(Read { pack, start, end, slots: current });
        }
    }
    (ChunkPlan { slots, reads, dictionaries: PackDictionaries::default() }, problems)
}

/// Reads `read` with one ranged get and hands each of its chunks to `each`: the checked raw bytes, or why they
/// could not be had. Returns the bytes read; fails when the read itself fails or `each` does.
pub(crate) fn read_chunks(
    repo: &dyn Repository,
    plan: &ChunkPlan,
    read: &Read,
    zstd: &mut zstd::bulk::Decompressor<'static>,
    each: &mut dyn FnMut(usize, Result<Vec<u8>>) -> Result<()>,
) -> Result<u64> {
    let key = format::pack_key(&read.pack);
    let ids = format::IdHasher::new(repo.hash_key());
    let data = repo.get_range(&key, read.start, Some(read.end - read.start))?;
    check_len(&key, &data, read.end - read.start)?;
    let mut dictionary: Option<PackDecoder> = None;
    for &i in &read.slots {
        let entry = &plan.slots[i].entry;
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
                let d = plan.dictionaries.get(repo, &read.pack, ids).map_err(|e| e.context(needs()))?;
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
pub(crate) fn check_file_crcs(files: &[PlannedFile<'_>], plan: &ChunkPlan, chunk_crc: &[Option<u32>]) -> Vec<Error> {
    let mut parts: Vec<Vec<(u64, usize)>> = files.iter().map(|_| Vec::new()).collect();
    for (i, slot) in plan.slots.iter().enumerate() {
        for u in &slot.uses {
            parts[u.file].push((u.offset, i));
        }
    }
    let mut problems = Vec::new();
    for (f, mut chunks) in files.iter().zip(parts) {
        if chunks.len() != f.entry.chunks.len() {
            continue; // a chunk was not located: already a problem
        }
        chunks.sort_unstable();
        let mut crc = 0u32;
        let mut ok = true;
        for (i, (_, slot)) in chunks.into_iter().enumerate() {
            match chunk_crc.get(slot).copied().flatten() {
                // The first chunk's crc32c is the file's so far (combining with the empty start costs as much as
                // any other combination, and most files are one chunk).
                Some(c) if i == 0 => crc = c,
                Some(c) => crc = crc32c::crc32c_combine(crc, c, plan.slots[slot].entry.raw_len as usize),
                None => ok = false,
            }
        }
        if ok && crc != f.entry.crc32c {
            problems.push(
                Error::new(
                    ErrorKind::Corruption,
                    format!(
                        "manifest {}: {} has crc32c {crc:#010x}, the manifest records {:#010x}",
                        f.manifest, f.label, f.entry.crc32c
                    ),
                )
                .with_object(f.manifest.clone()),
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
