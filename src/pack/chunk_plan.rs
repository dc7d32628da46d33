//! The files a restore or verify reads and the plan of chunks that fetches them, in tables whose size per file
//! and per chunk is a few numbers: a file is its manifest entry and its tablet's number, a chunk of a file is
//! one slot number, a located chunk 32 bytes ([`Located`]), and names for messages are made only when a
//! message needs one.
//!
//! The checks: every chunk located; a file's chunks but the last exactly `chunk_size` raw bytes and the last
//! one the rest of the file; two different entries never at the same place of a pack, nor at overlapping places.

use std::ops::Range;

use crate::format::{self, ChunkEntry, ContentHash, FileEntry, TabletEntry};
use crate::{Error, ErrorKind, Result};

use super::dictionary::PackDictionaries;
use super::locate::{Located, NONE, Needed, PackIds, number};

/// Reads of one pack closer than this are merged into one ranged get.
const MERGE_GAP: u64 = 256 << 10;
/// A merged read is cut at this size (one chunk alone may pass it, up to the largest chunk).
const MAX_READ: u64 = 8 << 20;

/// A file to read: its manifest entry, its tablet and the position of its first chunk among all files' chunks.
struct PlannedFile<'m> {
    entry: &'m FileEntry,
    tablet: u32,
    first: u32,
}

/// A tablet whose files are read: the entry, its table and its manifest.
struct PlannedTablet<'m> {
    tablet: &'m TabletEntry,
    table: &'m str,
    manifest: u32,
}

/// A manifest whose files are read: its key, chunk size and how messages name its files (`db` or
/// `label/timestamp: db`, followed by `.table tablet id file path`).
struct PlannedManifest {
    key: String,
    chunk_size: u64,
    prefix: String,
}

/// The files of a job whose chunks are to be read, tablet by tablet.
#[derive(Default)]
pub(crate) struct PlannedFiles<'m> {
    files: Vec<PlannedFile<'m>>,
    tablets: Vec<PlannedTablet<'m>>,
    manifests: Vec<PlannedManifest>,
    chunks: usize,
}

impl<'m> PlannedFiles<'m> {
    /// Adds a manifest (its key, chunk size and the start of its files' names); returns its number.
    pub(crate) fn add_manifest(&mut self, key: String, chunk_size: u64, prefix: String) -> u32 {
        self.manifests.push(PlannedManifest { key, chunk_size, prefix });
        self.manifests.len() as u32 - 1
    }

    /// Adds the files of `tablet` of table `table` of manifest `manifest`; returns the tablet's number.
    pub(crate) fn add_tablet(&mut self, manifest: u32, table: &'m str, tablet: &'m TabletEntry) -> Result<u32> {
        let t = number(self.tablets.len(), "tablets")?;
        self.tablets.push(PlannedTablet { tablet, table, manifest });
        for entry in &tablet.files {
            let first = number(self.chunks, "chunks")?;
            number(self.files.len(), "files")?;
            self.files.push(PlannedFile { entry, tablet: t, first });
            self.chunks += entry.chunks.len();
        }
        Ok(t)
    }

    /// How many files.
    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    /// The manifest entry of file `file`.
    pub(crate) fn entry(&self, file: usize) -> &'m FileEntry {
        self.files[file].entry
    }

    /// The tablet of file `file`.
    pub(crate) fn tablet_of(&self, file: usize) -> usize {
        self.files[file].tablet as usize
    }

    /// The number of the manifest of file `file`.
    pub(crate) fn manifest_number(&self, file: usize) -> usize {
        self.tablets[self.tablet_of(file)].manifest as usize
    }

    fn manifest_of(&self, file: usize) -> &PlannedManifest {
        &self.manifests[self.tablets[self.tablet_of(file)].manifest as usize]
    }

    /// The key of the manifest of file `file`.
    pub(crate) fn manifest_key(&self, file: usize) -> &str {
        &self.manifest_of(file).key
    }

    /// How messages name file `file` (`db.table tablet id file path`, after `label/timestamp: ` in verify).
    pub(crate) fn label(&self, file: usize) -> String {
        let t = &self.tablets[self.tablet_of(file)];
        let prefix = &self.manifests[t.manifest as usize].prefix;
        format!("{prefix}.{} tablet {} file {}", t.table, t.tablet.id, self.files[file].entry.path)
    }

    /// The offset of chunk `chunk` in file `file`.
    pub(crate) fn offset(&self, file: usize, chunk: u32) -> u64 {
        u64::from(chunk) * self.manifest_of(file).chunk_size
    }

    /// The file whose chunks include position `position` of all files' chunks.
    fn file_at(&self, position: u32) -> usize {
        self.files.partition_point(|f| f.first <= position) - 1
    }

    /// Every chunk the files need, each once.
    pub(crate) fn needed(&self) -> Result<Needed> {
        Needed::new(self.files.iter().flat_map(|f| f.entry.chunks.iter().copied()).collect())
    }
}

/// One ranged read of a pack and the slots it covers, in pack order.
pub(crate) struct Read {
    /// The pack, as its number.
    pub pack: u32,
    /// The first byte read.
    pub start: u64,
    /// One past the last byte read.
    pub end: u64,
    /// The slots.
    pub slots: Range<u32>,
}

/// Every chunk the planned files need, where it is, and the reads that fetch them. A slot is a place of a pack
/// to read a chunk from, once for every file chunk that needs it.
pub(crate) struct ChunkPlan {
    needed: Needed,
    packs: PackIds,
    located: Vec<Located>,
    /// The located chunk of each slot: first those the reads cover, in read order, then those left out (a
    /// chunk overlapping another).
    slots: Vec<u32>,
    /// The slot of each chunk of each file, file after file, or [`NONE`] for a chunk that cannot be read.
    file_slots: Vec<u32>,
    /// Where the uses of each slot start in `uses` (one more entry than slots).
    use_start: Vec<u32>,
    /// The positions in `file_slots` that use each slot, slot by slot, in file order.
    uses: Vec<u32>,
    /// The reads, grouped by pack.
    pub reads: Vec<Read>,
    /// The dictionaries of the packs read, for chunks compressed with them.
    pub dictionaries: PackDictionaries,
}

impl ChunkPlan {
    /// How many slots.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Where slot `slot` is.
    pub(crate) fn slot(&self, slot: usize) -> &Located {
        &self.located[self.slots[slot] as usize]
    }

    /// The index entry of slot `slot`.
    pub(crate) fn entry(&self, slot: usize) -> ChunkEntry {
        self.slot(slot).entry(&self.needed)
    }

    /// The chunk of slot `slot`.
    pub(crate) fn hash(&self, slot: usize) -> ContentHash {
        *self.needed.hash(self.slot(slot).chunk)
    }

    /// The pack numbered `pack`.
    pub(crate) fn pack_id(&self, pack: u32) -> &ContentHash {
        self.packs.id(pack)
    }

    /// The file chunks slot `slot` goes to, in file order: (file, offset in the file).
    pub(crate) fn uses<'a>(
        &'a self,
        files: &'a PlannedFiles<'_>,
        slot: usize,
    ) -> impl Iterator<Item = (usize, u64)> + 'a {
        let range = self.use_start[slot] as usize..self.use_start[slot + 1] as usize;
        self.uses[range].iter().map(move |&at| {
            let file = files.file_at(at);
            (file, files.offset(file, at - files.files[file].first))
        })
    }

    /// The slot of each chunk of file `file`, in order ([`NONE`] for one that cannot be read).
    pub(crate) fn file_slots(&self, files: &PlannedFiles<'_>, file: usize) -> &[u32] {
        let first = files.files[file].first as usize;
        &self.file_slots[first..first + files.files[file].entry.chunks.len()]
    }

    /// The slots of each pack, by pack id.
    pub(crate) fn by_pack(&self) -> Vec<(ContentHash, Vec<u32>)> {
        let mut order: Vec<u32> = (0..self.slots.len() as u32).collect();
        order.sort_by_key(|&s| (self.pack_id(self.slot(s as usize).pack), s));
        let mut out: Vec<(ContentHash, Vec<u32>)> = Vec::new();
        for s in order {
            let pack = *self.pack_id(self.slot(s as usize).pack);
            match out.last_mut() {
                Some((p, slots)) if *p == pack => slots.push(s),
                _ => out.push((pack, vec![s])),
            }
        }
        out
    }
}

/// How a file's manifest finds a needed chunk: `locate(located, file, chunk)` is the chunk's place in
/// `located`.
pub(crate) type Locate<'a> = dyn Fn(&[Located], usize, u32) -> Option<u32> + 'a;

/// Locates every chunk of `files` (`locate(located, file, chunk)` gives the place in `located` that the file's
/// manifest finds for needed chunk `chunk`) and checks that the places fit the files. Returns the plan and every problem
/// found, in file order then pack order (a restore fails on the first).
pub(crate) fn plan_chunks(
    files: &PlannedFiles<'_>,
    needed: Needed,
    packs: PackIds,
    located: Vec<Located>,
    locate: &Locate<'_>,
) -> (ChunkPlan, Vec<Error>) {
    // 1. Each file chunk's place, checked against the file; the first use of each place.
    let mut problems: Vec<(u32, Error)> = Vec::new();
    let mut file_slots: Vec<u32> = Vec::with_capacity(files.chunks);
    let mut first_use = vec![NONE; located.len()];
    for (fi, f) in files.files.iter().enumerate() {
        let chunk_size = files.manifest_of(fi).chunk_size;
        let n = f.entry.chunks.len() as u64;
        for (ci, hash) in f.entry.chunks.iter().enumerate() {
            let at = file_slots.len() as u32;
            file_slots.push(NONE);
            let Some(loc) = needed.position(hash).and_then(|c| locate(&located, fi, c)) else {
                let key = files.manifest_key(fi);
                let message = format!(
                    "manifest {key}: chunk {} of {} is in no index of the snapshot",
                    hash.short(),
                    files.label(fi)
                );
                problems.push((at, Error::new(ErrorKind::Corruption, message).with_object(key)));
                continue;
            };
            let l = &located[loc as usize];
            let offset = ci as u64 * chunk_size;
            let want = if ci as u64 + 1 < n { chunk_size } else { f.entry.size.saturating_sub(offset) };
            if u64::from(l.raw_len) != want {
                let key = format::pack_key(packs.id(l.pack));
                let message = format!(
                    "pack {key} chunk {}: its index declares {} raw bytes, {} needs {want} at offset {offset} \
                     (manifest {})",
                    hash.short(),
                    l.raw_len,
                    files.label(fi),
                    files.manifest_key(fi)
                );
                problems.push((at, Error::new(ErrorKind::Corruption, message).with_object(key)));
                continue;
            }
            if first_use[loc as usize] == NONE {
                first_use[loc as usize] = at;
            }
            file_slots[at as usize] = loc;
        }
    }

    // 2. The places used, pack by pack in offset order: one slot per place (of two different chunks at one
    // place, the first used keeps it), overlapping places left out, neighbours merged into reads.
    let mut used: Vec<u32> = (0..located.len() as u32).filter(|&l| first_use[l as usize] != NONE).collect();
    // Packs in id order, as numbers (comparing ids chunk by chunk costs a 32-byte compare each time).
    let rank = packs.ranks();
    used.sort_unstable_by_key(|&l| {
        let x = &located[l as usize];
        (rank[x.pack as usize], x.offset, first_use[l as usize])
    });
    drop(first_use);
    let mut overlaps = Vec::new();
    let mut slot_of = vec![NONE; located.len()];
    let (mut slots, mut left_out, mut aliases, mut conflicts) =
        (Vec::with_capacity(used.len()), vec![], vec![], vec![]);
    let mut reads = Vec::new();
    for group in used.chunk_by(|&a, &b| located[a as usize].pack == located[b as usize].pack) {
        let pack = located[group[0] as usize].pack;
        let key = || format::pack_key(packs.id(pack));
        let (mut placed, mut prev): (Option<u32>, Option<u32>) = (None, None);
        let (mut first, mut start, mut end) = (slots.len() as u32, 0u64, 0u64);
        for &l in group {
            let e = &located[l as usize];
            if let Some(w) = placed.filter(|&w| located[w as usize].offset == e.offset) {
                if located[w as usize] == *e {
                    aliases.push((l, w));
                } else {
                    conflicts.push((l, w));
                }
                continue;
            }
            placed = Some(l);
            if let Some(p) = prev.map(|p| &located[p as usize]) {
                if e.offset < p.end() {
                    let message = format!(
                        "pack {}: chunks {} and {} overlap (offsets {} and {})",
                        key(),
                        needed.hash(p.chunk).short(),
                        needed.hash(e.chunk).short(),
                        p.offset,
                        e.offset
                    );
                    overlaps.push(Error::new(ErrorKind::Corruption, message).with_object(key()));
                    left_out.push(l);
                    continue;
                }
                if e.offset > end + MERGE_GAP || e.end() - start > MAX_READ {
                    reads.push(Read { pack, start, end, slots: first..slots.len() as u32 });
                    first = slots.len() as u32;
                }
            }
            if first == slots.len() as u32 {
                (start, end) = (e.offset, e.end());
            }
            end = end.max(e.end());
            slot_of[l as usize] = slots.len() as u32;
            slots.push(l);
            prev = Some(l);
        }
        if first < slots.len() as u32 {
            reads.push(Read { pack, start, end, slots: first..slots.len() as u32 });
        }
    }
    drop(used);
    for l in left_out {
        slot_of[l as usize] = slots.len() as u32;
        slots.push(l);
    }
    for (l, w) in aliases {
        slot_of[l as usize] = slot_of[w as usize];
    }
    conflicts.sort_unstable();

    // 3. Each file chunk's slot, and each slot's uses.
    let mut use_start = vec![0u32; slots.len() + 1];
    for (fi, f) in files.files.iter().enumerate() {
        let at = f.first as usize;
        for (ci, s) in file_slots[at..at + f.entry.chunks.len()].iter_mut().enumerate() {
            if *s == NONE {
                continue;
            }
            if let Ok(i) = conflicts.binary_search_by_key(s, |c| c.0) {
                let (e, w) = (&located[*s as usize], &located[conflicts[i].1 as usize]);
                let key = format::pack_key(packs.id(e.pack));
                let message = format!(
                    "pack {key}: chunks {} and {} are both located at offset {} (needed by {})",
                    needed.hash(w.chunk).short(),
                    needed.hash(e.chunk).short(),
                    e.offset,
                    files.label(fi)
                );
                problems.push(((at + ci) as u32, Error::new(ErrorKind::Corruption, message).with_object(key)));
                *s = NONE;
                continue;
            }
            *s = slot_of[*s as usize];
            use_start[*s as usize + 1] += 1;
        }
    }
    drop(slot_of);
    for i in 1..use_start.len() {
        use_start[i] += use_start[i - 1];
    }
    let mut next = use_start.clone();
    let mut uses = vec![0u32; use_start.last().copied().unwrap_or(0) as usize];
    for (at, &s) in file_slots.iter().enumerate() {
        if s != NONE {
            uses[next[s as usize] as usize] = at as u32;
            next[s as usize] += 1;
        }
    }
    problems.sort_by_key(|p| p.0);
    let problems = problems.into_iter().map(|p| p.1).chain(overlaps).collect();
    let plan = ChunkPlan {
        needed,
        packs,
        located,
        slots,
        file_slots,
        use_start,
        uses,
        reads,
        dictionaries: PackDictionaries::default(),
    };
    (plan, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Compression;

    fn file(path: &str, chunks: &[u8]) -> FileEntry {
        let chunks = chunks.iter().map(|&c| ContentHash([c; 32])).collect::<Vec<_>>();
        FileEntry { path: path.into(), size: 10 * chunks.len() as u64, crc32c: 0, chunks, seen: None }
    }

    #[test]
    fn places_are_shared_checked_and_merged_into_reads() {
        let tablet =
            TabletEntry { id: "7".into(), files: vec![file("a", &[1, 2]), file("b", &[2, 3, 4]), file("c", &[5])] };
        let mut files = PlannedFiles::default();
        let m = files.add_manifest("snapshots/l/t".into(), 10, "db".into());
        files.add_tablet(m, "t", &tablet).unwrap();
        let needed = files.needed().unwrap();
        let mut packs = PackIds::default();
        let p = packs.intern(ContentHash([9; 32])).unwrap();
        let at = |c: u8, offset: u64, crc32c: u32| Located {
            chunk: needed.position(&ContentHash([c; 32])).unwrap(),
            pack: p,
            offset,
            stored_len: 10,
            raw_len: 10,
            crc32c,
            compression: Compression::None,
        };
        // 1 and 2 side by side; 3 at 2's place (refused, first use keeps it); 4 overlapping 2; 5 far away.
        let located = vec![at(1, 0, 0), at(2, 10, 0), at(3, 10, 1), at(4, 15, 0), at(5, 1 << 30, 0)];
        let (plan, problems) = plan_chunks(&files, needed, packs, located, &|l, _, c| {
            l.iter().position(|x| x.chunk == c).map(|i| i as u32)
        });
        let messages: Vec<String> = problems.iter().map(|e| e.message().to_owned()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("are both located at offset 10 (needed by db.t tablet 7 file b)"), "{messages:?}");
        assert!(messages[1].contains("overlap (offsets 10 and 15)"), "{messages:?}");
        // Slots: 1, 2 (shared by a and b), 5 read; 4 left out, last.
        assert_eq!(plan.slot_count(), 4);
        assert_eq!(plan.reads.len(), 2);
        assert_eq!(plan.reads[0].slots, 0..2);
        assert_eq!((plan.reads[0].start, plan.reads[0].end), (0, 20));
        assert_eq!(plan.uses(&files, 1).collect::<Vec<_>>(), vec![(0, 10), (1, 0)]);
        assert_eq!(plan.file_slots(&files, 1), &[1, NONE, 3]);
        assert_eq!(plan.file_slots(&files, 2), &[2]);
    }
}
