//! Where the chunks a restore or verify needs live, in compact tables: the chunks needed as one sorted list
//! (a chunk is named by its position there), pack ids interned to numbers, and one 32-byte [`Located`] per
//! chunk an index locates (a hash map of chunk → pack and entry took about five times as much).

use std::collections::HashMap;

use crate::format::{self, ChunkEntry, Compression, ContentHash, Index, IndexPack};
use crate::repo::{Repository, get};
use crate::{Error, ErrorKind, Result};

/// Marks "none" in the tables of chunk, slot and location numbers.
pub(crate) const NONE: u32 = u32::MAX;

fn too_many(what: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("a job over 2^32 - 1 {what} is not supported"))
}

/// A count or position as a table number, refusing one that does not fit.
pub(crate) fn number(n: usize, what: &str) -> Result<u32> {
    u32::try_from(n).ok().filter(|&n| n != NONE).ok_or_else(|| too_many(what))
}

/// The chunks a job needs, sorted and each once; a chunk is named by its position. A bitmap of 8 bits per
/// chunk, set by each one's first 8 bytes (content hashes are uniform), answers most "not needed" without a
/// search: a scan of the indexes asks that of every chunk they locate.
#[derive(Default)]
pub(crate) struct Needed {
    hashes: Vec<ContentHash>,
    filter: Vec<u64>,
}

/// The order of content hashes, deciding on the first 8 bytes as one number (as the bytes would) and comparing
/// the rest only when those are equal.
fn hash_order(a: &ContentHash, b: &ContentHash) -> std::cmp::Ordering {
    let head = |h: &ContentHash| u64::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3], h.0[4], h.0[5], h.0[6], h.0[7]]);
    head(a).cmp(&head(b)).then_with(|| a.0[8..].cmp(&b.0[8..]))
}

/// Where `hash` falls in a filter of `words` 64-bit words (a power of two): (word, bit).
fn filter_bit(hash: &ContentHash, words: usize) -> (usize, u64) {
    let mut head = [0u8; 8];
    head.copy_from_slice(&hash.0[..8]);
    let at = u64::from_le_bytes(head) as usize & (words * 64 - 1);
    (at / 64, 1 << (at % 64))
}

impl Needed {
    /// The chunks of `hashes`, each once.
    pub(crate) fn new(mut hashes: Vec<ContentHash>) -> Result<Needed> {
        hashes.sort_unstable_by(hash_order);
        hashes.dedup();
        hashes.shrink_to_fit();
        number(hashes.len(), "chunks")?;
        let mut filter = vec![0u64; hashes.len().next_power_of_two().max(8) / 8];
        for h in &hashes {
            let (word, bit) = filter_bit(h, filter.len());
            filter[word] |= bit;
        }
        Ok(Needed { hashes, filter })
    }

    /// How many chunks.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The position of `hash`, when it is needed.
    pub(crate) fn position(&self, hash: &ContentHash) -> Option<u32> {
        if !self.filter.is_empty() {
            let (word, bit) = filter_bit(hash, self.filter.len());
            if self.filter[word] & bit == 0 {
                return None;
            }
        }
        self.hashes.binary_search_by(|h| hash_order(h, hash)).ok().map(|i| i as u32)
    }

    /// The chunk at `position`.
    pub(crate) fn hash(&self, position: u32) -> &ContentHash {
        &self.hashes[position as usize]
    }
}

/// Pack ids, each numbered once.
#[derive(Default)]
pub(crate) struct PackIds {
    ids: Vec<ContentHash>,
    numbers: HashMap<ContentHash, u32>,
}

impl PackIds {
    /// The number of pack `id`, given it now if it has none.
    pub(crate) fn intern(&mut self, id: ContentHash) -> Result<u32> {
        if let Some(&n) = self.numbers.get(&id) {
            return Ok(n);
        }
        let n = number(self.ids.len(), "packs")?;
        self.ids.push(id);
        self.numbers.insert(id, n);
        Ok(n)
    }

    /// The pack numbered `n`.
    pub(crate) fn id(&self, n: u32) -> &ContentHash {
        &self.ids[n as usize]
    }

    /// Each pack's place in the order of pack ids, by pack number.
    pub(crate) fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.ids.len() as u32).collect();
        order.sort_unstable_by_key(|&n| self.ids[n as usize]);
        let mut rank = vec![0; order.len()];
        for (r, n) in order.into_iter().enumerate() {
            rank[n as usize] = r as u32;
        }
        rank
    }
}

/// Where an index locates a needed chunk: [`ChunkEntry`] with the chunk and the pack as numbers (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located {
    /// The chunk, as its position in [`Needed`].
    pub chunk: u32,
    /// The pack, as its number in [`PackIds`].
    pub pack: u32,
    /// Offset of the stored bytes in the pack.
    pub offset: u64,
    /// Length of the stored bytes.
    pub stored_len: u32,
    /// Length of the raw bytes.
    pub raw_len: u32,
    /// crc32c of the stored bytes.
    pub crc32c: u32,
    /// How the stored bytes encode the raw bytes.
    pub compression: Compression,
}

impl Located {
    /// The index entry this was made from.
    pub(crate) fn entry(&self, needed: &Needed) -> ChunkEntry {
        ChunkEntry {
            hash: *needed.hash(self.chunk),
            offset: self.offset,
            stored_len: self.stored_len,
            raw_len: self.raw_len,
            crc32c: self.crc32c,
            compression: self.compression,
        }
    }

    /// One past its last stored byte.
    pub(crate) fn end(&self) -> u64 {
        self.offset + u64::from(self.stored_len)
    }
}

/// How [`load_locations`] reads the index objects.
pub(crate) struct Scan<'a> {
    /// Stop reading once every needed chunk is located (the first place found is the one kept, so the
    /// indexes after that change nothing).
    pub stop_when_all_found: bool,
    /// The position in the list of indexes to read first: the scan goes on to the end of the list, then from
    /// its beginning. A window of a big snapshot finds its chunks in the indexes the window before it ended
    /// at (a backup writes its indexes in the order of its tablets), so it starts there
    /// ([`next_start`]) instead of reading every index before them again.
    pub start: usize,
    /// What to do with an index that cannot be read or decoded: `Err` stops the scan; `Ok` goes on without it.
    pub failed: &'a mut dyn FnMut(&ContentHash, Error) -> Result<()>,
}

/// Where each of `needed` lives, from the index objects `indexes` (each checked against its name), read in
/// the order [`Scan::start`] says: one [`Located`] per chunk found, sorted by chunk; of two places of one
/// chunk, the first read's (and in it the first pack's) is kept. Packs are numbered in `packs`. Also returns
/// the positions in `indexes` of the indexes that located a chunk kept, in the order they were read: reading
/// only those, in that order, locates the same chunks at the same places.
pub(crate) fn load_locations(
    repo: &dyn Repository,
    indexes: &[ContentHash],
    needed: &Needed,
    packs: &mut PackIds,
    scan: Scan<'_>,
) -> Result<(Vec<Located>, Vec<u32>)> {
    let mut out = Vec::new();
    let mut used = Vec::new();
    let mut found = vec![false; needed.len()];
    let ids = format::IdHasher::new(repo.hash_key());
    let start = scan.start.min(indexes.len());
    for at in (start..indexes.len()).chain(0..start) {
        let id = &indexes[at];
        if scan.stop_when_all_found && out.len() == needed.len() {
            break;
        }
        let before = out.len();
        let read = read_index(repo, &ids, id, |p| {
            let mut pack = None;
            for c in p.chunks {
                let Some(chunk) = needed.position(&c.hash) else { continue };
                if std::mem::replace(&mut found[chunk as usize], true) {
                    continue;
                }
                let pack = match pack {
                    Some(n) => n,
                    None => *pack.insert(packs.intern(p.id)?),
                };
                let (offset, stored_len, raw_len, crc32c) = (c.offset, c.stored_len, c.raw_len, c.crc32c);
                out.push(Located { chunk, pack, offset, stored_len, raw_len, crc32c, compression: c.compression });
            }
            Ok(())
        });
        if let Err(e) = read {
            // The packs read before the damage located nothing: the index is left out whole.
            for l in out.drain(before..) {
                found[l.chunk as usize] = false;
            }
            (scan.failed)(id, e)?;
            continue;
        }
        if out.len() > before {
            used.push(at as u32);
        }
    }
    out.sort_unstable_by_key(|l| l.chunk);
    out.shrink_to_fit();
    Ok((out, used))
}

/// Index object `id`, checked against its name, decoded a pack at a time and handed to `visit`
/// ([`Index::for_each_pack`]): its packs' entries are never all decoded at once.
pub(crate) fn read_index(
    repo: &dyn Repository,
    ids: &format::IdHasher,
    id: &ContentHash,
    visit: impl FnMut(IndexPack) -> Result<()>,
) -> Result<()> {
    let key = format::index_key(id);
    let data = get(repo, &key)?;
    if ids.hash(&data) != *id {
        return Err(
            Error::new(ErrorKind::Corruption, format!("index {key}: content does not match its name")).with_object(key)
        );
    }
    Index::for_each_pack(&key, &data, visit)
}

/// Where the scan of the next window begins ([`Scan::start`]) after one that began at `start` and read
/// chunks from the indexes at `used`: the furthest of them before the scan went back to the beginning of the
/// list (chunks found after that are older ones, shared with earlier backups, and say nothing of where the
/// next window's new chunks are).
pub(crate) fn next_start(start: usize, used: &[u32]) -> usize {
    used.iter().map(|&u| u as usize).filter(|&u| u >= start).max().unwrap_or(start)
}

/// The place of needed chunk `chunk` in `located` (sorted by chunk, one each), as its position there.
pub(crate) fn find(located: &[Located], chunk: u32) -> Option<u32> {
    located.binary_search_by_key(&chunk, |l| l.chunk).ok().map(|i| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_needed_chunk_is_found_through_the_filter_and_no_other() {
        let hash = |i: u32| ContentHash::of(&i.to_le_bytes());
        let needed = Needed::new((0..1000).map(hash).chain((0..10).map(hash)).collect()).unwrap();
        assert_eq!(needed.len(), 1000);
        for i in 0..1000 {
            let at = needed.position(&hash(i)).unwrap();
            assert_eq!(*needed.hash(at), hash(i));
        }
        assert!((1000..5000).all(|i| needed.position(&hash(i)).is_none()));
        assert_eq!(Needed::default().position(&hash(0)), None);
    }

    #[test]
    fn an_index_damaged_after_a_good_pack_locates_nothing_and_the_next_index_is_read() {
        use crate::format::IndexPack;
        use crate::repo::{MemoryRepository, PutMode};
        let hash = |i: u32| ContentHash::of(&i.to_le_bytes());
        let pack = |n: u32, chunks: &[u32]| IndexPack {
            id: hash(1000 + n),
            len: chunks.len() as u64 * (10 + 56) + 16,
            chunks: chunks
                .iter()
                .enumerate()
                .map(|(i, &c)| ChunkEntry {
                    hash: hash(c),
                    offset: i as u64 * 10,
                    stored_len: 10,
                    raw_len: 10,
                    crc32c: 0,
                    compression: Compression::None,
                })
                .collect(),
        };
        let repo = MemoryRepository::new();
        let ids = format::IdHasher::new(repo.hash_key());
        let store = |data: &[u8]| {
            let id = ids.hash(data);
            repo.put(&format::index_key(&id), data, PutMode::CreateIfAbsent).unwrap();
            id
        };
        // The first pack of `bad` is sound; the second declares more entries than the body holds. Its name is
        // its content's, so only decoding finds the damage, after the first pack was handed over.
        let mut bad = Index { packs: vec![pack(1, &[1, 2]), pack(2, &[3])] }.encode().unwrap();
        let at = 16 + 44 + 2 * 56 + 40;
        bad[at] = 9;
        let body_crc = crc32c::crc32c(&bad[16..]);
        bad[12..16].copy_from_slice(&body_crc.to_le_bytes());
        let bad = store(&bad);
        let good = store(&Index { packs: vec![pack(3, &[2, 1])] }.encode().unwrap());
        let needed = Needed::new(vec![hash(1), hash(2)]).unwrap();
        let mut failures = Vec::new();
        let scan = Scan {
            stop_when_all_found: false,
            start: 0,
            failed: &mut |id, e| {
                failures.push((*id, e.message().to_owned()));
                Ok(())
            },
        };
        let (located, used) = load_locations(&repo, &[bad, good], &needed, &mut PackIds::default(), scan).unwrap();
        assert_eq!(failures.len(), 1);
        assert!(failures[0].0 == bad && failures[0].1.contains("truncated body"), "{failures:?}");
        // Both chunks come from the good index (its pack, offsets 10 and 0), none from the damaged one.
        assert_eq!(used, [1]);
        let places: Vec<(u32, u64)> = located.iter().map(|l| (l.chunk, l.offset)).collect();
        let at = |i: u32| needed.position(&hash(i)).unwrap();
        let mut want = vec![(at(1), 10), (at(2), 0)];
        want.sort_unstable();
        assert_eq!(places, want);
    }

    #[test]
    fn the_next_window_starts_at_the_furthest_index_before_the_scan_wrapped() {
        assert_eq!(next_start(0, &[]), 0);
        assert_eq!(next_start(2, &[2, 5, 3]), 5);
        // Chunks found only after wrapping (older indexes) leave the start where it was.
        assert_eq!(next_start(4, &[0, 1]), 4);
        assert_eq!(next_start(4, &[6, 0]), 6);
    }
}
