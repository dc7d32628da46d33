//! Backup throughput: a tree of many small files and a tree of large files, into a fresh local repository,
//! plain and encrypted (`*_encrypted`).

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tabsnap::pack::{JobControl, Packer, init_repository};
use tabsnap::repo::{LocalRepository, Repository};

fn pack(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let packer = Packer::builder().build().expect("packer");
    let mut group = c.benchmark_group("backup");
    group.sample_size(10);
    for (name, tablets, small, large) in [("small_files", 40, 100, 0), ("large_files", 8, 0, 8 << 20)] {
        let dir = data.path().join(name);
        let (source, bytes) = common::make_tree(&dir, tablets, small, large);
        group.throughput(Throughput::Bytes(bytes));
        for encrypted in [false, true] {
            let id = if encrypted { format!("{name}_encrypted") } else { name.to_owned() };
            let mut n = 0;
            group.bench_function(&id, |b| {
                b.iter_batched(
                    || {
                        n += 1;
                        let dir = data.path().join(format!("repo-{id}-{n}"));
                        let repo: Box<dyn Repository> = if encrypted {
                            Box::new(common::encrypted(LocalRepository::new(dir).expect("repo")))
                        } else {
                            Box::new(LocalRepository::new(dir).expect("repo"))
                        };
                        init_repository(repo.as_ref()).expect("init");
                        repo
                    },
                    |repo| packer.backup(repo.as_ref(), &source, "bench", &JobControl::default()).expect("backup"),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pack);
criterion_main!(benches);
