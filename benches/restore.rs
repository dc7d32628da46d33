//! Restore write: a multi-file snapshot read back from a local repository, every chunk checked, and written
//! durably into a new directory, with every worker thread. `small_files` is many 1-16 KiB files (one chunk each);
//! `multi_chunk_files` is tablets of one 10 MiB Parquet-like file (three chunks) beside a few small files. Each
//! also from an encrypted repository (`*_encrypted`).

mod common;

use std::cell::Cell;
use std::path::PathBuf;

use common::Content;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tabsnap::pack::{JobControl, Packer, init_repository, load_manifest};
use tabsnap::repo::{LocalRepository, Repository};

fn restore(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let packer = Packer::builder().build().expect("packer");
    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    let trees = [
        ("small_files", common::small_files(&data.path().join("small"), 200, 10)),
        ("multi_chunk_files", common::large_files(&data.path().join("multi"), 8, 10 << 20, Content::ParquetLike, 5)),
    ];
    for (name, tree) in &trees {
        for encrypted in [false, true] {
            let id = if encrypted { format!("{name}_encrypted") } else { (*name).to_owned() };
            let local = LocalRepository::new(data.path().join(format!("repo-{id}"))).expect("repo");
            let repo: Box<dyn Repository> =
                if encrypted { Box::new(common::encrypted(local)) } else { Box::new(local) };
            init_repository(repo.as_ref()).expect("init");
            let summary = packer.backup(repo.as_ref(), &tree.source, "bench", &JobControl::default()).expect("backup");
            let manifest = load_manifest(repo.as_ref(), "bench", &summary.timestamp).expect("manifest");
            group.throughput(Throughput::Bytes(tree.bytes));
            let n = Cell::new(0u32);
            let out_path = |k: u32| -> PathBuf { data.path().join(format!("out-{id}-{k}")) };
            group.bench_function(&id, |b| {
                b.iter_batched(
                    || {
                        // The last iteration's output goes first, so that the disk holds one at a time.
                        let _ = std::fs::remove_dir_all(out_path(n.get()));
                        n.set(n.get() + 1);
                        out_path(n.get())
                    },
                    |out| {
                        packer
                            .restore(repo.as_ref(), &manifest, &|_, t| Some(out.join(&t.id)), &JobControl::default())
                            .expect("restore")
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, restore);
criterion_main!(benches);
