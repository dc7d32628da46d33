//! Deterministic tablet trees and chunk contents for the benches: text that compresses about 3:1 (TPC-H `.tbl`
//! rows), bytes that compress about as well as LZ4-compressed Parquet pages (about 1.2:1 at zstd level 3), and
//! incompressible bytes.

// Each bench uses only some of these.
#![allow(dead_code)]

use std::path::Path;

use tabsnap::pack::{BackupSource, TabletSource};

/// What a generated file holds.
#[derive(Clone, Copy, Debug)]
pub enum Content {
    /// `|`-separated rows, about 3:1 at zstd level 3.
    Text,
    /// Pages of three quarters noise and one quarter text: about 1.2:1, like LZ4-compressed columnar pages.
    ParquetLike,
    /// Noise: does not compress.
    Noise,
}

/// A xorshift64 stream.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn text(buf: &mut Vec<u8>, len: usize, rng: &mut Rng) {
    let end = buf.len() + len;
    while buf.len() < end {
        let x = rng.next();
        let line = format!("{}|{}|{:08}|O|comment {}\n", x % 100_000, (x >> 20) % 5_000, (x >> 8) % 1_000_000, x % 97);
        buf.extend_from_slice(line.as_bytes());
    }
    buf.truncate(end);
}

fn noise(buf: &mut Vec<u8>, len: usize, rng: &mut Rng) {
    let end = buf.len() + len;
    while buf.len() < end {
        buf.extend_from_slice(&rng.next().to_le_bytes());
    }
    buf.truncate(end);
}

/// `len` bytes of `content`, the same for the same `seed`.
pub fn bytes(content: Content, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(len + 64);
    match content {
        Content::Text => text(&mut buf, len, &mut rng),
        Content::Noise => noise(&mut buf, len, &mut rng),
        Content::ParquetLike => {
            while buf.len() < len {
                let page = (len - buf.len()).min(4096);
                noise(&mut buf, page * 3 / 4, &mut rng);
                text(&mut buf, page - page * 3 / 4, &mut rng);
            }
        }
    }
    buf
}

/// A generated tablet tree.
pub struct Tree {
    /// The backup source naming every tablet.
    pub source: BackupSource,
    /// Bytes in all files.
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
}

/// Writes `tablets` tablet directories under `dir`, each holding the files `files(tablet)` names (file name,
/// content, length, seed), and returns them as one table's backup source.
pub fn tablet_tree(dir: &Path, tablets: usize, files: impl Fn(usize) -> Vec<(String, Content, usize, u64)>) -> Tree {
    let (mut total, mut count) = (0u64, 0u64);
    let mut sources = Vec::new();
    for t in 0..tablets {
        let id = format!("{}", 10_000 + t);
        let tdir = dir.join(&id);
        std::fs::create_dir_all(tdir.join("0")).expect("create tablet dir");
        for (name, content, len, seed) in files(t) {
            std::fs::write(tdir.join("0").join(name), bytes(content, len, seed)).expect("write file");
            total += len as u64;
            count += 1;
        }
        sources.push(TabletSource::new(id, tdir));
    }
    Tree { source: BackupSource::single_table("bench", "t", sources), bytes: total, files: count }
}

/// Many small files, as in an OLAP engine's small-segment tablets: `per_tablet` files per tablet, 1-16 KiB
/// (log-uniform), seven in ten Parquet-like and the rest text.
pub fn small_files(dir: &Path, tablets: usize, per_tablet: usize) -> Tree {
    tablet_tree(dir, tablets, |t| {
        (0..per_tablet)
            .map(|s| {
                let seed = (t * 1000 + s) as u64;
                let mut rng = Rng::new(seed ^ 0x5eed);
                // 2^(10 + 4u) for u uniform in [0, 1): 1 KiB to 16 KiB.
                let len = (1024.0 * 2f64.powf(4.0 * (rng.next() % 10_000) as f64 / 10_000.0)) as usize;
                let content = if rng.next() % 10 < 7 { Content::ParquetLike } else { Content::Text };
                (format!("{s}.dat"), content, len, seed)
            })
            .collect()
    })
}

/// `tablets` tablets each holding one file of `len` bytes of `content` (several chunks when `len` exceeds the chunk
/// size) and `small` small files.
pub fn large_files(dir: &Path, tablets: usize, len: usize, content: Content, small: usize) -> Tree {
    tablet_tree(dir, tablets, |t| {
        let mut files = vec![("0_0.dat".to_string(), content, len, t as u64 + 7)];
        files.extend((0..small).map(|s| (format!("{s}.idx"), Content::Text, 4096, (t * 1000 + s) as u64)));
        files
    })
}

/// `store` as a new encrypted repository (cheap key derivation: the bench measures the data path).
pub fn encrypted<R: tabsnap::repo::Repository>(store: R) -> tabsnap::crypto::EncryptedRepository<R> {
    let cheap = tabsnap::crypto::KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    let password = tabsnap::crypto::Password::new("bench").expect("password");
    tabsnap::crypto::EncryptedRepository::open_or_create(store, &password, cheap).expect("encrypted repository").0
}
