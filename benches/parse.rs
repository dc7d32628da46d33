//! Parsing throughput over the whole statement corpus (statements per second).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> Vec<String> {
    let text = include_str!("../tests/corpus/doris-statements.sql");
    text.split("\n-- next\n")
        .map(|entry| entry.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n"))
        .filter(|s| !s.trim().is_empty())
        .collect()
}

fn parse(c: &mut Criterion) {
    let statements = corpus();
    let script = statements.join("\n");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(statements.len() as u64));
    group.bench_function("corpus_one_by_one", |b| {
        b.iter(|| {
            for s in &statements {
                std::hint::black_box(tabsnap::sql::parse(std::hint::black_box(s)).expect("corpus statements parse"));
            }
        })
    });
    group.bench_function("corpus_as_one_script", |b| {
        b.iter(|| std::hint::black_box(tabsnap::sql::parse(std::hint::black_box(&script)).expect("corpus parses")))
    });
    group.bench_function("corpus_parse_and_print", |b| {
        b.iter(|| {
            for s in &statements {
                for stmt in tabsnap::sql::parse(s).expect("corpus statements parse") {
                    std::hint::black_box(stmt.to_string());
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
