//! Pack objects: compressed chunks back to back, then a footer indexing them, then a fixed trailer.
//!
//! ```text
//! chunk 0 stored bytes | chunk 1 … | entry 0 | entry 1 | … | trailer
//! entry   (56 bytes): content hash [32] | offset u64 | stored length u32 | raw length u32 | crc32c u32 |
//!                     compression u8 | reserved [3]
//! trailer (16 bytes): entry count u32 | crc32c of the entries u32 | version u8 | reserved [3] | magic "TSPK"
//! ```
//! All integers little-endian. The footer sits at the end so chunks stream out before it is known.
//!
//! Version 2 adds two compression codes: a pack's zstd dictionary (its raw bytes, at most one per pack) and
//! chunks compressed with it. A pack that holds neither is written as version 1, byte for byte as before.

use crate::format::limits::{MAX_CHUNK_SIZE, MAX_DICTIONARY_SIZE};
use crate::format::{ContentHash, FORMAT_VERSION};
use crate::{Error, ErrorKind, Result};

/// The trailer version of a pack that holds a dictionary (compression codes 2 and 3).
pub const PACK_VERSION_DICTIONARY: u8 = 2;

/// Length of one footer entry.
pub const PACK_ENTRY_LEN: usize = 56;
/// Length of the pack trailer.
pub const PACK_TRAILER_LEN: usize = 16;
const PACK_MAGIC: &[u8; 4] = b"TSPK";

/// How a chunk's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// As they are (compression did not pay).
    None = 0,
    /// One zstd frame.
    Zstd = 1,
    /// The pack's zstd dictionary, as it is (raw bytes, like [`Compression::None`]); at most one per pack.
    Dictionary = 2,
    /// One zstd frame made with the pack's dictionary (the pack's [`Compression::Dictionary`] entry).
    ZstdDictionary = 3,
}

impl Compression {
    fn from_byte(b: u8) -> Option<Compression> {
        match b {
            0 => Some(Compression::None),
            1 => Some(Compression::Zstd),
            2 => Some(Compression::Dictionary),
            3 => Some(Compression::ZstdDictionary),
            _ => None,
        }
    }

    /// Whether the stored bytes are the raw bytes.
    pub fn is_raw(self) -> bool {
        matches!(self, Compression::None | Compression::Dictionary)
    }

    /// The lowest pack trailer version that may hold an entry of this code.
    fn pack_version(self) -> u8 {
        match self {
            Compression::None | Compression::Zstd => FORMAT_VERSION,
            Compression::Dictionary | Compression::ZstdDictionary => PACK_VERSION_DICTIONARY,
        }
    }
}

/// Where a chunk lives in its pack and how to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkEntry {
    /// BLAKE3 of the raw bytes.
    pub hash: ContentHash,
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

impl ChunkEntry {
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.stored_len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.crc32c.to_le_bytes());
        out.push(self.compression as u8);
        out.extend_from_slice(&[0; 3]);
    }

    pub(crate) fn decode(b: &[u8]) -> Option<ChunkEntry> {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        if b.len() != PACK_ENTRY_LEN {
            return None;
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&b[..32]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&b[32..40]);
        Some(ChunkEntry {
            hash: ContentHash(hash),
            offset: u64::from_le_bytes(off),
            stored_len: u32_at(40),
            raw_len: u32_at(44),
            crc32c: u32_at(48),
            compression: Compression::from_byte(b[52])?,
        })
    }
}

/// The footer and trailer for `entries`, to append after the chunks. The trailer's version is 1 unless an entry
/// needs version 2 (a dictionary, or a chunk compressed with it).
pub fn encode_pack_footer(entries: &[ChunkEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * PACK_ENTRY_LEN + PACK_TRAILER_LEN);
    for e in entries {
        e.encode_into(&mut out);
    }
    let crc = crc32c::crc32c(&out);
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(entries.iter().map(|e| e.compression.pack_version()).max().unwrap_or(FORMAT_VERSION));
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(PACK_MAGIC);
    out
}

/// Reads the footer of a pack of `pack_len` bytes, given its tail (`tail` is the last `tail.len()` bytes; it
/// must hold the whole footer, see [`footer_len`]). `key` names the pack in errors.
///
/// # Errors
/// [`ErrorKind::Format`] for a bad trailer or version; [`ErrorKind::Corruption`] for a footer that fails its
/// checksum or points outside the pack.
pub fn decode_pack_footer(key: &str, pack_len: u64, tail: &[u8]) -> Result<Vec<ChunkEntry>> {
    let (count, version) = footer_entry_count(key, tail)?;
    let entries_len = count as usize * PACK_ENTRY_LEN;
    let need = entries_len + PACK_TRAILER_LEN;
    if (tail.len() as u64) < need as u64 || pack_len < need as u64 {
        return Err(
            Error::new(ErrorKind::Format, format!("pack {key}: truncated footer ({count} entries)")).with_object(key)
        );
    }
    let t = &tail[tail.len() - PACK_TRAILER_LEN..];
    let crc = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
    let entries = &tail[tail.len() - need..tail.len() - PACK_TRAILER_LEN];
    let actual = crc32c::crc32c(entries);
    if actual != crc {
        return Err(Error::new(
            ErrorKind::Corruption,
            format!("pack {key}: footer crc32c mismatch (stored {crc:#010x}, computed {actual:#010x})"),
        )
        .with_object(key));
    }
    let mut out = Vec::with_capacity(count as usize);
    for (i, raw) in entries.chunks(PACK_ENTRY_LEN).enumerate() {
        let e = ChunkEntry::decode(raw).ok_or_else(|| {
            Error::new(ErrorKind::Format, format!("pack {key}: footer entry {i} has an unknown compression"))
                .with_object(key)
        })?;
        if e.compression.pack_version() > version {
            return Err(Error::new(
                ErrorKind::Format,
                format!(
                    "pack {key}: footer entry {i} has compression {:?}, which a version {version} pack cannot hold",
                    e.compression
                ),
            )
            .with_object(key));
        }
        out.push(e);
    }
    check_entries(&format!("pack {key}: footer"), key, pack_len, u64::from(count), &out)?;
    Ok(out)
}

/// Checks the entries of one pack, as a footer or an index lists them: each chunk's lengths are within the
/// format's limits (raw length 1 to [`MAX_CHUNK_SIZE`], a dictionary's to [`MAX_DICTIONARY_SIZE`]; stored
/// length equal to it when stored raw, at most it when compressed), at most one dictionary and none missing for
/// a chunk compressed with it, each lies inside the chunk area of a pack of `pack_len` bytes whose footer holds
/// `footer_entries` entries, and no two overlap. `what` starts every message; `key` is the object named.
///
/// # Errors
/// [`ErrorKind::Format`] for a length out of bounds or a dictionary twice or missing, [`ErrorKind::Corruption`]
/// for an entry outside the chunk area or overlapping another.
pub(crate) fn check_entries(
    what: &str,
    key: &str,
    pack_len: u64,
    footer_entries: u64,
    entries: &[ChunkEntry],
) -> Result<()> {
    let err = |kind, m: String| Error::new(kind, format!("{what} {m}")).with_object(key);
    let footer = footer_entries.checked_mul(PACK_ENTRY_LEN as u64).and_then(|n| n.checked_add(PACK_TRAILER_LEN as u64));
    let Some(data_end) = footer.and_then(|f| pack_len.checked_sub(f)) else {
        return Err(err(
            ErrorKind::Corruption,
            format!("declares a pack of {pack_len} bytes, too short for {footer_entries} footer entries"),
        ));
    };
    let mut dictionaries = entries.iter().enumerate().filter(|(_, e)| e.compression == Compression::Dictionary);
    let dictionary = dictionaries.next();
    if let (Some((a, _)), Some((b, _))) = (dictionary, dictionaries.next()) {
        return Err(err(
            ErrorKind::Format,
            format!("entries {a} and {b} are both the pack's dictionary (one at most)"),
        ));
    }
    for (i, e) in entries.iter().enumerate() {
        let raw = u64::from(e.raw_len);
        let max = if e.compression == Compression::Dictionary { MAX_DICTIONARY_SIZE } else { MAX_CHUNK_SIZE };
        if raw == 0 || raw > max {
            return Err(err(
                ErrorKind::Format,
                format!(
                    "entry {i} (chunk {}, {:?}) declares {raw} raw bytes; the format allows 1 to {max}",
                    e.hash.short(),
                    e.compression
                ),
            ));
        }
        if e.compression == Compression::ZstdDictionary && dictionary.is_none() {
            return Err(err(
                ErrorKind::Format,
                format!(
                    "entry {i} (chunk {}) is compressed with the pack's dictionary, but the pack has no dictionary entry",
                    e.hash.short()
                ),
            ));
        }
        let stored_ok = if e.compression.is_raw() {
            e.stored_len == e.raw_len
        } else {
            e.stored_len > 0 && e.stored_len <= e.raw_len
        };
        if !stored_ok {
            return Err(err(
                ErrorKind::Format,
                format!(
                    "entry {i} (chunk {}) stores {} bytes for {raw} raw bytes ({:?})",
                    e.hash.short(),
                    e.stored_len,
                    e.compression
                ),
            ));
        }
        if e.offset.checked_add(u64::from(e.stored_len)).is_none_or(|end| end > data_end) {
            return Err(err(
                ErrorKind::Corruption,
                format!(
                    "entry {i} (chunk {}) at offset {} ({} bytes) lies outside the chunk area (0..{data_end})",
                    e.hash.short(),
                    e.offset,
                    e.stored_len
                ),
            ));
        }
    }
    let mut spans: Vec<(u64, u64, usize)> =
        entries.iter().enumerate().map(|(i, e)| (e.offset, e.offset + u64::from(e.stored_len), i)).collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(err(
                ErrorKind::Corruption,
                format!("entries {} and {} overlap (at offsets {} and {})", w[0].2, w[1].2, w[0].0, w[1].0),
            ));
        }
    }
    Ok(())
}

/// The number of footer entries a pack's trailer announces, and its version; `tail` must end with the trailer.
fn footer_entry_count(key: &str, tail: &[u8]) -> Result<(u32, u8)> {
    let format_err = |m: &str| Error::new(ErrorKind::Format, format!("pack {key}: {m}")).with_object(key);
    if tail.len() < PACK_TRAILER_LEN {
        return Err(format_err("truncated (no trailer)"));
    }
    let t = &tail[tail.len() - PACK_TRAILER_LEN..];
    if &t[12..16] != PACK_MAGIC {
        return Err(format_err("not a tabsnap pack (bad magic in the trailer)"));
    }
    if !(FORMAT_VERSION..=PACK_VERSION_DICTIONARY).contains(&t[8]) {
        return Err(format_err(&format!(
            "format version {} is not supported (this tabsnap reads versions {FORMAT_VERSION} and \
             {PACK_VERSION_DICTIONARY})",
            t[8]
        )));
    }
    Ok((u32::from_le_bytes([t[0], t[1], t[2], t[3]]), t[8]))
}

/// The length of the footer (entries + trailer) announced by the trailer at the end of `tail`.
///
/// # Errors
/// As [`decode_pack_footer`] for the trailer.
pub fn footer_len(key: &str, tail: &[u8]) -> Result<u64> {
    Ok(u64::from(footer_entry_count(key, tail)?.0) * PACK_ENTRY_LEN as u64 + PACK_TRAILER_LEN as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trips_and_rejects_damage() {
        let e = ChunkEntry {
            hash: ContentHash::of(b"x"),
            offset: 0,
            stored_len: 10,
            raw_len: 20,
            crc32c: 7,
            compression: Compression::Zstd,
        };
        let mut pack = vec![0u8; 10];
        pack.extend(encode_pack_footer(&[e]));
        assert_eq!(decode_pack_footer("p", pack.len() as u64, &pack).unwrap(), vec![e]);
        assert_eq!(footer_len("p", &pack).unwrap(), (PACK_ENTRY_LEN + PACK_TRAILER_LEN) as u64);
        let mut bad = pack.clone();
        bad[12] ^= 0xff;
        assert_eq!(decode_pack_footer("p", bad.len() as u64, &bad).unwrap_err().kind(), ErrorKind::Corruption);
        let cut = &pack[..pack.len() - 1];
        assert_eq!(decode_pack_footer("p", cut.len() as u64, cut).unwrap_err().kind(), ErrorKind::Format);
    }

    #[test]
    fn entries_outside_the_chunks_overlapping_or_out_of_bounds_are_refused() {
        let e = ChunkEntry {
            hash: ContentHash::of(b"x"),
            offset: 0,
            stored_len: 10,
            raw_len: 20,
            crc32c: 7,
            compression: Compression::Zstd,
        };
        let footer = (PACK_ENTRY_LEN * 2 + PACK_TRAILER_LEN) as u64;
        let check = |a: ChunkEntry, b: ChunkEntry| check_entries("p:", "p", 20 + footer, 2, &[a, b]);
        assert!(check(e, ChunkEntry { offset: 10, ..e }).is_ok());
        let bad = [
            ChunkEntry { offset: 5, ..e },
            ChunkEntry { offset: u64::MAX - 10, ..e },
            ChunkEntry { offset: 15, ..e },
            ChunkEntry { offset: 10, raw_len: 0, ..e },
            ChunkEntry { offset: 10, raw_len: 1 << 30, ..e },
            ChunkEntry { offset: 10, stored_len: 9, raw_len: 7, ..e },
            ChunkEntry { offset: 10, stored_len: 0, ..e },
            ChunkEntry { offset: 10, compression: Compression::None, ..e },
        ];
        for b in bad {
            let err = check(e, b).unwrap_err();
            assert_eq!(err.object(), Some("p"), "{b:?}: {err}");
        }
        assert!(check_entries("p:", "p", 10, 2, &[e]).is_err(), "a pack too short for its footer");
    }

    #[test]
    fn dictionaries_make_a_version_2_footer_and_are_checked() {
        let dict = ChunkEntry {
            hash: ContentHash::of(b"d"),
            offset: 0,
            stored_len: 100,
            raw_len: 100,
            crc32c: 1,
            compression: Compression::Dictionary,
        };
        let small = ChunkEntry {
            hash: ContentHash::of(b"s"),
            offset: 100,
            stored_len: 10,
            raw_len: 50,
            crc32c: 2,
            compression: Compression::ZstdDictionary,
        };
        let pack = |entries: &[ChunkEntry]| {
            let mut p = vec![0u8; 110];
            p.extend(encode_pack_footer(entries));
            p
        };
        let both = pack(&[dict, small]);
        assert_eq!(both[both.len() - 8], PACK_VERSION_DICTIONARY);
        assert_eq!(decode_pack_footer("p", both.len() as u64, &both).unwrap(), vec![dict, small]);
        let plain = pack(&[ChunkEntry { compression: Compression::Zstd, ..small }]);
        assert_eq!(plain[plain.len() - 8], FORMAT_VERSION, "no dictionary: version 1, as before");

        // A chunk compressed with a dictionary the pack does not hold; two dictionaries; one too large.
        let refused = [
            vec![small],
            vec![dict, ChunkEntry { offset: 100, ..dict }],
            vec![ChunkEntry { raw_len: 2 << 20, stored_len: 2 << 20, ..dict }],
            vec![ChunkEntry { stored_len: 99, ..dict }],
        ];
        for entries in refused {
            let p = pack(&entries);
            let e = decode_pack_footer("packs/ab/abc", p.len() as u64, &p).unwrap_err();
            assert_eq!((e.kind(), e.object()), (ErrorKind::Format, Some("packs/ab/abc")), "{entries:?}: {e}");
        }
        let e = decode_pack_footer("p", pack(&[small]).len() as u64, &pack(&[small])).unwrap_err();
        assert!(e.message().contains("but the pack has no dictionary entry"), "{e}");

        // A version-1 trailer cannot hold the new codes; an unknown version is refused.
        let mut v1 = both.clone();
        let at = v1.len() - 8;
        v1[at] = 1;
        let e = decode_pack_footer("p", v1.len() as u64, &v1).unwrap_err();
        assert!(e.message().contains("which a version 1 pack cannot hold"), "{e}");
        v1[at] = 3;
        let e = decode_pack_footer("p", v1.len() as u64, &v1).unwrap_err();
        assert!(e.message().contains("format version 3 is not supported"), "{e}");
    }
}
