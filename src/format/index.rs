//! Index objects: which chunks each pack holds, so a backup can find what the repository already has and a
//! restore can find where a chunk lives without reading pack footers.
//!
//! Body (not compressed; hashes do not compress), repeated per pack:
//! `pack id [32] | pack length u64 | entry count u32 | entries (56 bytes each, as in the pack footer)`.

use std::collections::HashSet;

use crate::format::pack::check_entries;
use crate::format::{
    ChunkEntry, ContentHash, META_HEADER_LEN, ObjectKind, PACK_ENTRY_LEN, decode_meta, frame_meta_in_place,
};
use crate::{Error, ErrorKind, Result};

/// One pack and its chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPack {
    /// The pack's id (BLAKE3 of the whole pack object).
    pub id: ContentHash,
    /// The pack's length in bytes.
    pub len: u64,
    /// Its chunks, in pack order.
    pub chunks: Vec<ChunkEntry>,
}

/// An index object: a set of packs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Index {
    /// The packs.
    pub packs: Vec<IndexPack>,
}

impl Index {
    /// The encoded object.
    ///
    /// # Errors
    /// Only if the object would exceed 4 GiB.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let n: usize = self.packs.iter().map(Index::record_len).sum();
        // The body is written after room for the header, which is filled last: the object is one buffer.
        let mut out = Vec::with_capacity(META_HEADER_LEN + n);
        out.resize(META_HEADER_LEN, 0);
        for p in &self.packs {
            Index::encode_pack(p, &mut out);
        }
        frame_meta_in_place(ObjectKind::Index, &mut out)?;
        Ok(out)
    }

    /// The bytes of `pack`'s record in an index body.
    pub fn record_len(pack: &IndexPack) -> usize {
        44 + pack.chunks.len() * PACK_ENTRY_LEN
    }

    /// Appends `pack`'s record to `out`, an index object being written: [`META_HEADER_LEN`] bytes of room
    /// for the header, then records; [`frame_meta_in_place`] ends it.
    pub(crate) fn encode_pack(pack: &IndexPack, out: &mut Vec<u8>) {
        out.extend_from_slice(&pack.id.0);
        out.extend_from_slice(&pack.len.to_le_bytes());
        out.extend_from_slice(&u32::try_from(pack.chunks.len()).unwrap_or(u32::MAX).to_le_bytes());
        for c in &pack.chunks {
            c.encode_into(out);
        }
    }

    /// Decodes the index object stored under `key` and checks it: no pack listed twice, and every pack's
    /// entries within the format's limits, inside the pack's chunk area and not overlapping.
    ///
    /// # Errors
    /// [`ErrorKind::Format`] or [`ErrorKind::Corruption`], naming `key`.
    pub fn decode(key: &str, data: &[u8]) -> Result<Index> {
        let mut packs = Vec::new();
        Index::for_each_pack(key, data, |p| {
            packs.push(p);
            Ok(())
        })?;
        Ok(Index { packs })
    }

    /// Decodes the index object stored under `key` a pack at a time, checked as [`Index::decode`] checks it,
    /// and hands each pack to `visit` in order: a reader holds one pack's entries beside the object, not the
    /// whole index decoded. A damaged pack record fails when it is reached, after the packs before it were
    /// handed over.
    ///
    /// # Errors
    /// Those of [`Index::decode`], and those of `visit`.
    pub fn for_each_pack(key: &str, data: &[u8], mut visit: impl FnMut(IndexPack) -> Result<()>) -> Result<()> {
        let body = decode_meta(ObjectKind::Index, key, data)?;
        let truncated = || Error::new(ErrorKind::Format, format!("index {key}: truncated body")).with_object(key);
        let mut seen = HashSet::new();
        let mut b: &[u8] = &body;
        while !b.is_empty() {
            if b.len() < 44 {
                return Err(truncated());
            }
            let mut id = [0u8; 32];
            id.copy_from_slice(&b[..32]);
            let mut len = [0u8; 8];
            len.copy_from_slice(&b[32..40]);
            let count = u32::from_le_bytes([b[40], b[41], b[42], b[43]]) as usize;
            b = &b[44..];
            let need = count.checked_mul(PACK_ENTRY_LEN).filter(|&n| n <= b.len()).ok_or_else(truncated)?;
            let chunks = b[..need]
                .chunks(PACK_ENTRY_LEN)
                .map(|raw| {
                    ChunkEntry::decode(raw).ok_or_else(|| {
                        Error::new(ErrorKind::Format, format!("index {key}: entry with an unknown compression"))
                            .with_object(key)
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            b = &b[need..];
            let p = IndexPack { id: ContentHash(id), len: u64::from_le_bytes(len), chunks };
            if !seen.insert(p.id) {
                return Err(Error::new(ErrorKind::Format, format!("index {key}: pack {} is listed twice", p.id))
                    .with_object(key));
            }
            let what = format!("index {key}: pack {}", p.id.short());
            check_entries(&what, key, p.len, p.chunks.len() as u64, &p.chunks)?;
            visit(p)?;
        }
        Ok(())
    }
}
