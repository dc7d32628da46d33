//! The on-repository format: object names, framing, pack footers, indexes, manifests and the config object.
//! `docs/FORMAT.md` is the normative description; this module implements it.
//!
//! Every object is self-describing: metadata objects (config, index, manifest) start with a 16-byte header
//! (magic, kind, version, body length, body crc32c); packs end with a trailer (magic, version, entry count,
//! footer crc32c). An unknown version, a wrong magic or a truncated object is a [`ErrorKind::Format`] error
//! naming the object.
//!
//! Bytes are not beliefs: every decoder checks what it decoded before returning it (a manifest's names, paths
//! and sizes, an index's and a footer's entries against their pack), every length against the bounds in
//! [`limits`], and decompression never produces more than those bounds; a violation is an error naming the
//! object.

mod config;
mod index;
pub mod limits;
mod manifest;
mod manifest_check;
mod manifest_pages;
mod pack;
mod page_writer;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use config::{CIPHER, HASH_KEYED, HASH_PLAIN, RepoConfig};
pub use index::{Index, IndexPack};
pub use manifest::{
    FileEntry, FileRef, FileSeen, IndexEntry, Manifest, PartitionEntry, TableEntry, TabletEntry, ViewEntry,
};
pub use manifest_pages::{ManifestHead, PAGE_BODY_TARGET, PageRef, StoredManifest};
pub(crate) use manifest_pages::{compact, join};
pub use pack::{
    ChunkEntry, Compression, PACK_ENTRY_LEN, PACK_TRAILER_LEN, PACK_VERSION_DICTIONARY, decode_pack_footer,
    encode_pack_footer, footer_len,
};
pub use page_writer::{PageWriter, TreeSink, feed};

use crate::{Error, ErrorKind, Result};

/// The format version this library writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Key of the repository config object.
pub const CONFIG_KEY: &str = "config";
/// Prefix of pack objects: `packs/<2 hex>/<64 hex>`.
pub const PACKS_PREFIX: &str = "packs/";
/// Prefix of index objects: `index/<64 hex>`.
pub const INDEX_PREFIX: &str = "index/";
/// Prefix of snapshot manifests: `snapshots/<label>/<timestamp>`.
pub const SNAPSHOTS_PREFIX: &str = "snapshots/";
/// Prefix of manifest pages (the tablets of a version-2 manifest, in bounded parts): `trees/<64 hex>`.
pub const TREES_PREFIX: &str = "trees/";
/// The metadata version of a manifest that names its pages, and of the pages.
pub const PAGED_MANIFEST_VERSION: u8 = 2;

/// A 256-bit BLAKE3 content hash: names chunks (hash of their raw bytes), packs and indexes (hash of the object).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `data`.
    pub fn of(data: &[u8]) -> ContentHash {
        ContentHash(*blake3::hash(data).as_bytes())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    /// The first 12 hex digits, for messages.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for ContentHash {
    type Err = Error;

    fn from_str(s: &str) -> Result<ContentHash> {
        let bad = || Error::new(ErrorKind::Format, format!("not a 64-digit hex content hash: {s:?}"));
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            out[i] = (hex(pair[0]).ok_or_else(bad)? << 4) | hex(pair[1]).ok_or_else(bad)?;
        }
        Ok(ContentHash(out))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a repository names chunks, packs and indexes: plain BLAKE3, or (encrypted repositories) BLAKE3 keyed
/// with a secret of the repository's master key, so that names reveal nothing of the content.
#[derive(Clone, Copy)]
pub struct IdHasher(Option<[u8; 32]>);

impl IdHasher {
    /// The hasher of a repository whose [`crate::repo::Repository::hash_key`] is `key`.
    pub fn new(key: Option<[u8; 32]>) -> IdHasher {
        IdHasher(key)
    }

    /// The id of `data`.
    pub fn hash(&self, data: &[u8]) -> ContentHash {
        match &self.0 {
            None => ContentHash::of(data),
            Some(k) => ContentHash(*blake3::keyed_hash(k, data).as_bytes()),
        }
    }
}

impl fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "IdHasher(keyed)" } else { "IdHasher(blake3)" })
    }
}

/// The key of the pack named `id`.
pub fn pack_key(id: &ContentHash) -> String {
    let hex = id.to_hex();
    format!("{PACKS_PREFIX}{}/{hex}", &hex[..2])
}

/// The pack id in a pack key, if `key` is one.
pub fn pack_id_from_key(key: &str) -> Option<ContentHash> {
    key.strip_prefix(PACKS_PREFIX)?.split('/').nth(1)?.parse().ok()
}

/// The id of the index object `key` (`index/<hex>`), or `None` for any other key.
pub fn index_id_from_key(key: &str) -> Option<ContentHash> {
    key.strip_prefix(INDEX_PREFIX)?.parse().ok()
}

/// The key of the index object named `id`.
pub fn index_key(id: &ContentHash) -> String {
    format!("{INDEX_PREFIX}{id}")
}

/// The id of the manifest page `key` (`trees/<hex>`), or `None` for any other key.
pub fn tree_id_from_key(key: &str) -> Option<ContentHash> {
    key.strip_prefix(TREES_PREFIX)?.parse().ok()
}

/// The key of the manifest page named `id`.
pub fn tree_key(id: &ContentHash) -> String {
    format!("{TREES_PREFIX}{id}")
}

/// The key of the manifest of snapshot `label` taken at `timestamp` (`yyyy-MM-dd-HH-mm-ss`).
pub fn manifest_key(label: &str, timestamp: &str) -> String {
    format!("{SNAPSHOTS_PREFIX}{label}/{timestamp}")
}

/// The kinds of metadata object, as their header's kind byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Config = b'C' as isize,
    Index = b'I' as isize,
    Manifest = b'M' as isize,
    Page = b'T' as isize,
    Key = b'K' as isize,
}

impl ObjectKind {
    fn name(self) -> &'static str {
        match self {
            ObjectKind::Config => "repository config",
            ObjectKind::Index => "index",
            ObjectKind::Manifest => "manifest",
            ObjectKind::Page => "manifest page",
            ObjectKind::Key => "key object",
        }
    }
}

/// Magic of metadata objects.
const META_MAGIC: &[u8; 4] = b"TSNP";
/// Length of a metadata object's header.
pub const META_HEADER_LEN: usize = 16;

/// Frames a metadata body: `TSNP`, kind, version, flags (1 = zstd body), reserved, body length u32 LE,
/// crc32c of the body as stored u32 LE.
pub(crate) fn encode_meta(kind: ObjectKind, body: &[u8], compress: bool) -> Result<Vec<u8>> {
    encode_meta_version(kind, FORMAT_VERSION, body, compress)
}

/// An uncompressed metadata object whose body is written straight after its header: `out` holds
/// [`META_HEADER_LEN`] bytes of room for the header, then the body; the header is filled in place (no copy of
/// the body, as [`encode_meta`] makes, for the largest objects: an index is up to 8 MiB).
///
/// # Errors
/// When the body exceeds 4 GiB.
pub(crate) fn frame_meta_in_place(kind: ObjectKind, out: &mut [u8]) -> Result<()> {
    let body = out.get(META_HEADER_LEN..).unwrap_or_default();
    let len = u32::try_from(body.len())
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{} object larger than 4 GiB", kind.name())))?;
    let crc = crc32c::crc32c(body);
    let header = out.get_mut(..META_HEADER_LEN).ok_or_else(|| {
        Error::new(ErrorKind::InvalidArgument, format!("{} object without room for its header", kind.name()))
    })?;
    header[..4].copy_from_slice(META_MAGIC);
    header[4..8].copy_from_slice(&[kind as u8, FORMAT_VERSION, 0, 0]);
    header[8..12].copy_from_slice(&len.to_le_bytes());
    header[12..16].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// [`encode_meta`] with the header's version byte `version`.
pub(crate) fn encode_meta_version(kind: ObjectKind, version: u8, body: &[u8], compress: bool) -> Result<Vec<u8>> {
    let compressed = if compress {
        Some(zstd::bulk::compress(body, 3).map_err(|e| Error::io("compressing a metadata object", e))?)
    } else {
        None
    };
    // An uncompressed body is copied once, into the object (an index is up to 8 MiB).
    let (flags, stored) = match &compressed {
        Some(z) => (1u8, z.as_slice()),
        None => (0u8, body),
    };
    let len = u32::try_from(stored.len())
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{} object larger than 4 GiB", kind.name())))?;
    let mut out = Vec::with_capacity(META_HEADER_LEN + stored.len());
    out.extend_from_slice(META_MAGIC);
    out.push(kind as u8);
    out.push(version);
    out.push(flags);
    out.push(0);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(stored).to_le_bytes());
    out.extend_from_slice(stored);
    Ok(out)
}

/// Checks a metadata object's header and checksum and returns its body (borrowed from `data` when it is
/// stored uncompressed). `key` names it in errors.
pub(crate) fn decode_meta<'a>(kind: ObjectKind, key: &str, data: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    decode_meta_version(kind, &[FORMAT_VERSION], key, data).map(|(_, body)| body)
}

/// [`decode_meta`] for a kind that exists in each of `versions`: the header's version and the body.
pub(crate) fn decode_meta_version<'a>(
    kind: ObjectKind,
    versions: &[u8],
    key: &str,
    data: &'a [u8],
) -> Result<(u8, Cow<'a, [u8]>)> {
    let format_err =
        |what: String| Error::new(ErrorKind::Format, format!("{} {key}: {what}", kind.name())).with_object(key);
    if data.len() < META_HEADER_LEN {
        return Err(format_err(format!("truncated ({} bytes, the header alone is {META_HEADER_LEN})", data.len())));
    }
    if &data[..4] != META_MAGIC || data[4] != kind as u8 {
        return Err(format_err("not a tabsnap object of this kind (bad magic)".into()));
    }
    let version = data[5];
    if !versions.contains(&version) {
        let known: Vec<String> = versions.iter().map(u8::to_string).collect();
        return Err(format_err(format!(
            "format version {version} is not supported (this tabsnap reads version {} of it)",
            known.join(" and ")
        )));
    }
    let flags = data[6];
    let len = u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize;
    let crc = u32::from_le_bytes([data[12], data[13], data[14], data[15]]);
    let body = &data[META_HEADER_LEN..];
    if body.len() != len {
        return Err(format_err(format!("truncated or padded: body is {} bytes, header says {len}", body.len())));
    }
    let actual = crc32c::crc32c(body);
    if actual != crc {
        return Err(Error::new(
            ErrorKind::Corruption,
            format!("{} {key}: crc32c mismatch (stored {crc:#010x}, computed {actual:#010x})", kind.name()),
        )
        .with_object(key));
    }
    let body = match flags {
        0 => Ok(Cow::Borrowed(body)),
        1 => decompress_bounded(body, limits::MAX_META_BODY)
            .map_err(|e| format_err(format!("cannot decompress: {e}")))?
            .map(Cow::Owned)
            .ok_or_else(|| {
                format_err(format!("body decompresses to more than {} MiB, the limit", limits::MAX_META_BODY >> 20))
            }),
        f => Err(format_err(format!("unknown flags {f:#04x}"))),
    }?;
    Ok((version, body))
}

/// Decompresses one zstd stream, or `None` as soon as the output would pass `max` bytes: what a frame header
/// declares is never used to size an allocation.
fn decompress_bounded(stored: &[u8], max: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut decoder = zstd::stream::read::Decoder::new(stored)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = decoder.read(&mut buf)?;
        if n == 0 {
            return Ok(Some(out));
        }
        if out.len() + n > max {
            return Ok(None);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_print_and_parse_as_hex() {
        let h = ContentHash::of(b"abc");
        assert_eq!(h.to_hex().parse::<ContentHash>().unwrap(), h);
        assert!("xyz".parse::<ContentHash>().is_err());
        assert_eq!(pack_id_from_key(&pack_key(&h)), Some(h));
    }

    #[test]
    fn a_body_framed_in_place_is_the_object_encode_meta_makes() {
        for body in [&b""[..], b"hello", &[7u8; 4096]] {
            let mut out = vec![0xff; META_HEADER_LEN];
            out.extend_from_slice(body);
            frame_meta_in_place(ObjectKind::Index, &mut out).unwrap();
            assert_eq!(out, encode_meta(ObjectKind::Index, body, false).unwrap());
            assert!(matches!(decode_meta(ObjectKind::Index, "k", &out).unwrap(), Cow::Borrowed(b) if b == body));
        }
        assert!(frame_meta_in_place(ObjectKind::Index, &mut [0; 3]).is_err());
    }

    #[test]
    fn metadata_framing_detects_every_kind_of_damage() {
        let obj = encode_meta(ObjectKind::Index, b"hello", true).unwrap();
        assert_eq!(*decode_meta(ObjectKind::Index, "k", &obj).unwrap(), *b"hello");
        let e = decode_meta(ObjectKind::Manifest, "k", &obj).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        let e = decode_meta(ObjectKind::Index, "k", &obj[..obj.len() - 1]).unwrap_err();
        assert!(e.message().contains("truncated"), "{e}");
        let mut v = obj.clone();
        v[5] = 9;
        assert!(decode_meta(ObjectKind::Index, "k", &v).unwrap_err().message().contains("version 9"));
        let mut c = obj.clone();
        let last = c.len() - 1;
        c[last] ^= 1;
        let e = decode_meta(ObjectKind::Index, "k", &c).unwrap_err();
        assert_eq!((e.kind(), e.object()), (ErrorKind::Corruption, Some("k")));
    }

    #[test]
    fn decompression_stops_at_the_bound() {
        let z = zstd::bulk::compress(&vec![0u8; 1 << 20], 1).unwrap();
        assert_eq!(decompress_bounded(&z, 1 << 20).unwrap().map(|v| v.len()), Some(1 << 20));
        assert_eq!(decompress_bounded(&z, (1 << 20) - 1).unwrap(), None);
    }
}
