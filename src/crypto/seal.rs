//! Sealed objects: how an encrypted repository stores every object but its config, key objects and locks
//! (docs/FORMAT.md, "Encrypted repositories", is the normative description).
//!
//! ```text
//! header (36 bytes) | block 0 | block 1 | … | block n-1
//! header: "TSNE" | version 1 | block size log2 (16) | 0 0 | plaintext length u64 | nonce (16) | crc32c of 0..32
//! block i: ChaCha20-Poly1305 ciphertext of plaintext[i·64 KiB ..][..64 KiB] | tag (16) | crc32c of the two
//! ```
//!
//! Every object has at least one block (an empty object one empty block), so that its header is always
//! authenticated. Each object is encrypted with its own key, derived from the repository's data key and the
//! object's random nonce; block `i` uses the 96-bit nonce `i` (little-endian). The associated data of every
//! block is the header and the object's name, so that a block cannot be moved to another place, another
//! object, or an object of another length. A reader of any byte range decrypts only the blocks it covers.
//! The crc32c of each block covers what is stored, so storage damage is found (and told apart from tampering)
//! without the key.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::{Error, ErrorKind, Result};

/// Magic of a sealed object.
pub const MAGIC: &[u8; 4] = b"TSNE";
/// The sealed-object version this library writes and reads.
pub const VERSION: u8 = 1;
/// Length of the header.
pub const HEADER_LEN: usize = 36;
/// log2 of the block size.
pub const BLOCK_LOG2: u8 = 16;
/// Plaintext bytes per block (the last block may hold fewer).
pub const BLOCK: u64 = 1 << BLOCK_LOG2;
/// Length of the authentication tag after each block's ciphertext.
pub const TAG_LEN: usize = 16;
/// Bytes a block stores beyond its plaintext: the tag and the crc32c.
pub const BLOCK_OVERHEAD: u64 = TAG_LEN as u64 + 4;
const STORED_BLOCK: u64 = BLOCK + BLOCK_OVERHEAD;
const KEY_CONTEXT: &str = "tabsnap 1 sealed object key";

/// A sealed object's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The plaintext's length.
    pub plain_len: u64,
    /// The object's random nonce.
    pub nonce: [u8; 16],
    raw: [u8; HEADER_LEN],
}

impl Header {
    /// A header for `plain_len` bytes with `nonce`.
    pub fn new(plain_len: u64, nonce: [u8; 16]) -> Header {
        let mut raw = [0u8; HEADER_LEN];
        raw[..4].copy_from_slice(MAGIC);
        raw[4] = VERSION;
        raw[5] = BLOCK_LOG2;
        raw[8..16].copy_from_slice(&plain_len.to_le_bytes());
        raw[16..32].copy_from_slice(&nonce);
        let crc = crc32c::crc32c(&raw[..32]);
        raw[32..36].copy_from_slice(&crc.to_le_bytes());
        Header { plain_len, nonce, raw }
    }

    /// Decodes the header at the start of `data`, the object `name`: magic, version, block size and crc32c.
    ///
    /// # Errors
    /// [`ErrorKind::Format`] for a short, foreign or unknown-version header; [`ErrorKind::Corruption`] for a
    /// crc32c mismatch; both naming the object.
    pub fn decode(name: &str, data: &[u8]) -> Result<Header> {
        let format =
            |what: String| Error::new(ErrorKind::Format, format!("encrypted object {name}: {what}")).with_object(name);
        let Some(raw) = data.get(..HEADER_LEN) else {
            return Err(format(format!("truncated ({} bytes, the header alone is {HEADER_LEN})", data.len())));
        };
        if &raw[..4] != MAGIC {
            return Err(format("not an encrypted tabsnap object (bad magic)".into()));
        }
        if raw[4] != VERSION {
            return Err(format(format!(
                "sealed-object version {} is not supported (this tabsnap reads version {VERSION})",
                raw[4]
            )));
        }
        let (stored, computed) = (le32(&raw[32..36]), crc32c::crc32c(&raw[..32]));
        if stored != computed {
            return Err(Error::new(
                ErrorKind::Corruption,
                format!(
                    "encrypted object {name}: header crc32c mismatch (stored {stored:#010x}, computed {computed:#010x})"
                ),
            )
            .with_object(name));
        }
        if raw[5] != BLOCK_LOG2 || raw[6..8] != [0, 0] {
            return Err(format(format!("unsupported block size 2^{} or reserved bytes set", raw[5])));
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&raw[16..32]);
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(raw);
        Ok(Header { plain_len: u64::from_le_bytes(raw[8..16].try_into().unwrap_or_default()), nonce, raw: header })
    }

    /// The header's bytes.
    pub fn bytes(&self) -> &[u8; HEADER_LEN] {
        &self.raw
    }

    /// The number of blocks.
    pub fn blocks(&self) -> u64 {
        self.plain_len.div_ceil(BLOCK).max(1)
    }

    /// The sealed object's length.
    pub fn sealed_len(&self) -> u64 {
        sealed_len(self.plain_len)
    }

    /// Where block `i` is stored in the object (offset, stored length).
    pub fn block_place(&self, i: u64) -> (u64, u64) {
        let plain = BLOCK.min(self.plain_len.saturating_sub(i * BLOCK));
        (HEADER_LEN as u64 + i * STORED_BLOCK, plain + BLOCK_OVERHEAD)
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The length of a sealed object holding `plain` bytes.
pub fn sealed_len(plain: u64) -> u64 {
    HEADER_LEN as u64 + plain + plain.div_ceil(BLOCK).max(1) * BLOCK_OVERHEAD
}

/// The plaintext length of a sealed object of `sealed` bytes, or `None` when no plaintext seals to that length.
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(HEADER_LEN as u64)?;
    let (full, rem) = (body / STORED_BLOCK, body % STORED_BLOCK);
    match rem {
        0 if full > 0 => Some(full * BLOCK),
        r if r >= BLOCK_OVERHEAD => Some(full * BLOCK + r - BLOCK_OVERHEAD),
        _ => None,
    }
}

/// The AEAD key of one object: derived from the data key and the object's nonce.
fn object_key(data_key: &[u8; 32], nonce: &[u8; 16]) -> Result<LessSafeKey> {
    let mut material = [0u8; 48];
    material[..32].copy_from_slice(data_key);
    material[32..].copy_from_slice(nonce);
    let key = blake3::derive_key(KEY_CONTEXT, &material);
    UnboundKey::new(&CHACHA20_POLY1305, &key)
        .map(LessSafeKey::new)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "cannot set up the cipher"))
}

fn block_nonce(i: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&i.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(header: &Header, name: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(HEADER_LEN + name.len());
    a.extend_from_slice(header.bytes());
    a.extend_from_slice(name.as_bytes());
    a
}

/// Seals `plain` as the object `name` with `data_key` and the fresh random `nonce`.
///
/// # Errors
/// Only if the cipher refuses (never for these sizes).
pub fn seal(data_key: &[u8; 32], name: &str, plain: &[u8], nonce: [u8; 16]) -> Result<Vec<u8>> {
    let header = Header::new(plain.len() as u64, nonce);
    let key = object_key(data_key, &nonce)?;
    let aad = aad(&header, name);
    let mut out = Vec::with_capacity(usize::try_from(header.sealed_len()).unwrap_or(0));
    out.extend_from_slice(header.bytes());
    let block = BLOCK as usize;
    for i in 0..header.blocks() {
        let start = usize::try_from(i).unwrap_or(usize::MAX).saturating_mul(block).min(plain.len());
        let end = start.saturating_add(block).min(plain.len());
        let at = out.len();
        out.extend_from_slice(&plain[start..end]);
        let tag = key
            .seal_in_place_separate_tag(block_nonce(i), Aad::from(&aad), &mut out[at..])
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("cannot encrypt {name}")))?;
        out.extend_from_slice(tag.as_ref());
        let crc = crc32c::crc32c(&out[at..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    Ok(out)
}

/// Checks the crc32c of the stored blocks `first..` in `stored` (exactly those blocks' bytes) without the key.
///
/// # Errors
/// [`ErrorKind::Corruption`] naming the object and the block.
pub fn check_blocks(name: &str, header: &Header, first: u64, stored: &[u8]) -> Result<()> {
    walk_blocks(name, header, first, stored, &mut |_, _| Ok(()))
}

/// Decrypts the stored blocks `first..` in `stored` (exactly those blocks' bytes), checking each block's
/// crc32c and then its tag, and returns their plaintext.
///
/// # Errors
/// [`ErrorKind::Corruption`] naming the object and the block: a crc32c mismatch (the stored bytes are
/// damaged) or a failed authentication (altered, or sealed with another key).
pub fn open_blocks(data_key: &[u8; 32], name: &str, header: &Header, first: u64, stored: &[u8]) -> Result<Vec<u8>> {
    let key = object_key(data_key, &header.nonce)?;
    let aad = aad(header, name);
    let mut out = Vec::with_capacity(stored.len());
    walk_blocks(name, header, first, stored, &mut |i, block| {
        let mut buf = block.to_vec();
        let plain = key.open_in_place(block_nonce(i), Aad::from(&aad), &mut buf).map_err(|_| {
            Error::new(
                ErrorKind::Corruption,
                format!(
                    "encrypted object {name} block {i}: authentication failed (the object was altered, or sealed \
                     with another repository's key)"
                ),
            )
            .with_object(name)
        })?;
        out.extend_from_slice(plain);
        Ok(())
    })?;
    Ok(out)
}

/// Splits `stored` into blocks `first..`, checks each one's crc32c, and hands its ciphertext and tag to `each`.
fn walk_blocks(
    name: &str,
    header: &Header,
    first: u64,
    stored: &[u8],
    each: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut at = 0usize;
    let mut i = first;
    while at < stored.len() {
        if i >= header.blocks() {
            return Err(Error::new(
                ErrorKind::Corruption,
                format!("encrypted object {name}: longer than its header's {} blocks", header.blocks()),
            )
            .with_object(name));
        }
        let len = usize::try_from(header.block_place(i).1).unwrap_or(usize::MAX);
        let Some(block) = stored.get(at..at.saturating_add(len)) else {
            return Err(Error::new(ErrorKind::Corruption, format!("encrypted object {name} block {i}: truncated"))
                .with_object(name));
        };
        let (body, crc) = block.split_at(len - 4);
        let (want, got) = (le32(crc), crc32c::crc32c(body));
        if want != got {
            return Err(Error::new(
                ErrorKind::Corruption,
                format!(
                    "encrypted object {name} block {i}: crc32c mismatch (stored {want:#010x}, computed {got:#010x}): \
                     the stored bytes are damaged"
                ),
            )
            .with_object(name));
        }
        each(i, body)?;
        at += len;
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn lengths_map_both_ways() {
        for p in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, 5 * BLOCK + 17] {
            assert_eq!(plain_len(sealed_len(p)), Some(p), "{p}");
        }
        assert_eq!(plain_len(HEADER_LEN as u64 + 3), None);
        assert_eq!(plain_len(3), None);
    }

    #[test]
    fn seals_and_opens_any_block_range() {
        let plain: Vec<u8> = (0..(3 * BLOCK + 100)).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&KEY, "packs/ab/x", &plain, [1; 16]).unwrap();
        assert_eq!(sealed.len() as u64, sealed_len(plain.len() as u64));
        let h = Header::decode("k", &sealed).unwrap();
        assert_eq!(h.blocks(), 4);
        let all = open_blocks(&KEY, "packs/ab/x", &h, 0, &sealed[HEADER_LEN..]).unwrap();
        assert_eq!(all, plain);
        let (start, _) = h.block_place(2);
        let tail = open_blocks(&KEY, "packs/ab/x", &h, 2, &sealed[start as usize..]).unwrap();
        assert_eq!(tail, &plain[2 * BLOCK as usize..]);
        check_blocks("k", &h, 0, &sealed[HEADER_LEN..]).unwrap();
    }

    #[test]
    fn damage_and_tampering_are_told_apart() {
        let sealed = seal(&KEY, "index/a", b"secret index", [2; 16]).unwrap();
        let h = Header::decode("index/a", &sealed).unwrap();
        let mut damaged = sealed.clone();
        damaged[HEADER_LEN] ^= 1;
        let e = open_blocks(&KEY, "index/a", &h, 0, &damaged[HEADER_LEN..]).unwrap_err();
        assert!(e.message().contains("crc32c mismatch"), "{e}");
        // Altered bytes with a crc32c fixed up: only the tag finds it.
        let end = damaged.len() - 4;
        let crc = crc32c::crc32c(&damaged[HEADER_LEN..end]);
        damaged[end..].copy_from_slice(&crc.to_le_bytes());
        let e = open_blocks(&KEY, "index/a", &h, 0, &damaged[HEADER_LEN..]).unwrap_err();
        assert!(e.message().contains("authentication failed"), "{e}");
        assert_eq!(e.object(), Some("index/a"));
        // Another name, or another key: refused.
        assert!(open_blocks(&KEY, "index/b", &h, 0, &sealed[HEADER_LEN..]).is_err());
        assert!(open_blocks(&[8; 32], "index/a", &h, 0, &sealed[HEADER_LEN..]).is_err());
        let mut bad = sealed.clone();
        bad[9] ^= 1;
        assert_eq!(Header::decode("index/a", &bad).unwrap_err().kind(), ErrorKind::Corruption);
        assert_eq!(Header::decode("index/a", &sealed[..10]).unwrap_err().kind(), ErrorKind::Format);
    }

    #[test]
    fn empty_objects_have_one_authenticated_block() {
        let sealed = seal(&KEY, "snapshots/a/b", b"", [3; 16]).unwrap();
        assert_eq!(sealed.len(), HEADER_LEN + BLOCK_OVERHEAD as usize);
        let h = Header::decode("x", &sealed).unwrap();
        assert!(open_blocks(&KEY, "snapshots/a/b", &h, 0, &sealed[HEADER_LEN..]).unwrap().is_empty());
    }
}
