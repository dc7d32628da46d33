//! Deterministic tablet trees for the benches: many small files and a few large ones, with bytes that compress
//! about as well as columnar segment data (repetitive structure, varying values).

use std::path::Path;

use tabsnap::pack::{BackupSource, IndexSource, PartitionSource, TableSource, TabletSource};

fn fill(buf: &mut Vec<u8>, len: usize, seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    buf.clear();
    while buf.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let line = format!("{}|{}|{:08}|O|comment {}\n", x % 100_000, (x >> 20) % 5_000, (x >> 8) % 1_000_000, x % 97);
        buf.extend_from_slice(line.as_bytes());
    }
    buf.truncate(len);
}

/// Writes `tablets` tablets with `small` files of 4 KiB each and one large file of `large` bytes, and returns
/// the source and the total bytes.
pub fn make_tree(dir: &Path, tablets: usize, small: usize, large: usize) -> (BackupSource, u64) {
    let mut buf = Vec::new();
    let mut total = 0u64;
    let mut sources = Vec::new();
    for t in 0..tablets {
        let tdir = dir.join(format!("{}", 10_000 + t));
        std::fs::create_dir_all(tdir.join("0")).expect("create tablet dir");
        for s in 0..small {
            fill(&mut buf, 4096, (t * 100_000 + s) as u64);
            std::fs::write(tdir.join("0").join(format!("{s}.idx")), &buf).expect("write small file");
            total += buf.len() as u64;
        }
        if large > 0 {
            fill(&mut buf, large, t as u64 + 7);
            std::fs::write(tdir.join("0").join("0_0.dat"), &buf).expect("write large file");
            total += buf.len() as u64;
        }
        sources.push(TabletSource::new(format!("{}", 10_000 + t), tdir));
    }
    let source = BackupSource {
        database: "bench".into(),
        tables: vec![TableSource::new("t", vec![PartitionSource::new("p", vec![IndexSource::new("t", sources)])])]
            .into(),
        host_metadata: Vec::new(),
        metadata_only: false,
        views: Vec::new(),
    };
    (source, total)
}

/// `store` as a new encrypted repository (cheap key derivation: the bench measures the data path).
pub fn encrypted<R: tabsnap::repo::Repository>(store: R) -> tabsnap::crypto::EncryptedRepository<R> {
    let cheap = tabsnap::crypto::KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    let password = tabsnap::crypto::Password::new("bench").expect("password");
    tabsnap::crypto::EncryptedRepository::open_or_create(store, &password, cheap).expect("encrypted repository").0
}
