//! Pack write: backups into a fresh local repository (packs written and fsynced, index and manifest committed),
//! with every worker thread. `small_files` is many 1-16 KiB files (the per-file cost); `large_files` is a few
//! multi-chunk Parquet-like files (the per-byte cost). Each also into an encrypted repository (`*_encrypted`).

mod common;

use std::cell::Cell;
use std::path::PathBuf;

use common::Content;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tabsnap::pack::{JobControl, Packer, init_repository};
use tabsnap::repo::{LocalRepository, Repository};

fn pack(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let packer = Packer::builder().build().expect("packer");
    let mut group = c.benchmark_group("backup");
    group.sample_size(10);
    let trees = [
        ("small_files", common::small_files(&data.path().join("small"), 200, 10)),
        ("large_files", common::large_files(&data.path().join("large"), 8, 8 << 20, Content::ParquetLike, 0)),
    ];
    for (name, tree) in &trees {
        group.throughput(Throughput::Bytes(tree.bytes));
        for encrypted in [false, true] {
            let id = if encrypted { format!("{name}_encrypted") } else { (*name).to_owned() };
            let n = Cell::new(0u32);
            let repo_path = |k: u32| -> PathBuf { data.path().join(format!("repo-{id}-{k}")) };
            group.bench_function(&id, |b| {
                b.iter_batched(
                    || {
                        // The last iteration's repository goes first, so that the disk holds one at a time.
                        let _ = std::fs::remove_dir_all(repo_path(n.get()));
                        n.set(n.get() + 1);
                        let local = LocalRepository::new(repo_path(n.get())).expect("repo");
                        let repo: Box<dyn Repository> =
                            if encrypted { Box::new(common::encrypted(local)) } else { Box::new(local) };
                        init_repository(repo.as_ref()).expect("init");
                        repo
                    },
                    |repo| packer.backup(repo.as_ref(), &tree.source, "bench", &JobControl::default()).expect("backup"),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pack);
criterion_main!(benches);
