//! Restore throughput: read back and write out a backed-up tree, every chunk checked.

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tabsnap::pack::{JobControl, Packer, init_repository, load_manifest};
use tabsnap::repo::LocalRepository;

fn restore(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let packer = Packer::builder().build().expect("packer");
    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    for (name, tablets, small, large) in [("small_files", 40, 100, 0), ("large_files", 8, 0, 8 << 20)] {
        let (source, bytes) = common::make_tree(&data.path().join(name), tablets, small, large);
        let repo = LocalRepository::new(data.path().join(format!("repo-{name}"))).expect("repo");
        init_repository(&repo).expect("init");
        let summary = packer.backup(&repo, &source, "bench", &JobControl::default()).expect("backup");
        let manifest = load_manifest(&repo, "bench", &summary.timestamp).expect("manifest");
        group.throughput(Throughput::Bytes(bytes));
        let mut n = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    n += 1;
                    data.path().join(format!("out-{name}-{n}"))
                },
                |out| {
                    packer
                        .restore(&repo, &manifest, &|_, t| Some(out.join(&t.id)), &JobControl::default())
                        .expect("restore")
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, restore);
criterion_main!(benches);
