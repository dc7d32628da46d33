//! Restore throughput: read back and write out a backed-up tree, every chunk checked; plain and encrypted
//! (`*_encrypted`).

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tabsnap::pack::{JobControl, Packer, init_repository, load_manifest};
use tabsnap::repo::{LocalRepository, Repository};

fn restore(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let packer = Packer::builder().build().expect("packer");
    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    for (name, tablets, small, large) in [("small_files", 40, 100, 0), ("large_files", 8, 0, 8 << 20)] {
        let (source, bytes) = common::make_tree(&data.path().join(name), tablets, small, large);
        group.throughput(Throughput::Bytes(bytes));
        for encrypted in [false, true] {
            let id = if encrypted { format!("{name}_encrypted") } else { name.to_owned() };
            let local = LocalRepository::new(data.path().join(format!("repo-{id}"))).expect("repo");
            let repo: Box<dyn Repository> =
                if encrypted { Box::new(common::encrypted(local)) } else { Box::new(local) };
            init_repository(repo.as_ref()).expect("init");
            let summary = packer.backup(repo.as_ref(), &source, "bench", &JobControl::default()).expect("backup");
            let manifest = load_manifest(repo.as_ref(), "bench", &summary.timestamp).expect("manifest");
            let mut n = 0;
            group.bench_function(&id, |b| {
                b.iter_batched(
                    || {
                        n += 1;
                        data.path().join(format!("out-{id}-{n}"))
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
