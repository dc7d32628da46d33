//! The chunk pipeline on one core: a 32 MiB file (eight 4 MiB chunks) read from the page cache, hashed (BLAKE3,
//! crc32c), probed for compressibility, compressed at zstd level 3 and packed into a repository in memory, so
//! that neither the disk nor the other cores weigh on the figure. Cases: Parquet-like bytes (compressed),
//! incompressible bytes (the probe stores them as they are), and bytes the repository already holds (hashed and
//! looked up, nothing stored).

mod common;

use std::cell::Cell;

use common::Content;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tabsnap::pack::{JobControl, Packer, init_repository};
use tabsnap::repo::MemoryRepository;

const FILE: usize = 32 << 20;

fn new_repo() -> MemoryRepository {
    let repo = MemoryRepository::new();
    init_repository(&repo).expect("init");
    repo
}

fn chunk(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let packer = Packer::builder().threads(1).chunk_size(4 << 20).zstd_level(3).build().expect("packer");
    let mut group = c.benchmark_group("chunk_pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(FILE as u64));
    for (name, content) in [("parquet_like", Content::ParquetLike), ("incompressible", Content::Noise)] {
        let tree = common::large_files(&data.path().join(name), 1, FILE, content, 0);
        group.bench_function(format!("{name}/new"), |b| {
            b.iter_batched_ref(
                new_repo,
                |repo| packer.backup(repo, &tree.source, "bench", &JobControl::default()).expect("backup"),
                BatchSize::PerIteration,
            )
        });
        if let Content::ParquetLike = content {
            // Every chunk already stored: the cost of reading and hashing alone.
            let repo = new_repo();
            packer.backup(&repo, &tree.source, "seed", &JobControl::default()).expect("backup");
            let n = Cell::new(0u64);
            group.bench_function(format!("{name}/already_stored"), |b| {
                b.iter_batched(
                    || {
                        n.set(n.get() + 1);
                        format!("again-{}", n.get())
                    },
                    |label| packer.backup(&repo, &tree.source, &label, &JobControl::default()).expect("backup"),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, chunk);
criterion_main!(benches);
