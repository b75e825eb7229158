//! `check` (parse + resolve + type + check) on generated projects of 1,000
//! and 10,000 models. Target: 10,000 models in well under a second (release).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn bench_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for models in [1_000, 10_000] {
        let project = shopc::synth::project(models, 7);
        let (db, config, files) = project.load();
        let bytes: usize = project.files.iter().map(|(_, t)| t.len()).sum();
        group.throughput(criterion::Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::from_parameter(models), &models, |b, _| {
            b.iter(|| {
                let compilation = shopc::compile(&db, &config, &files);
                assert!(compilation.problems.is_empty());
                compilation
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
