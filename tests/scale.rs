//! The generated projects of `shopc::synth` check clean at every size, and
//! the compiler's work is linear in the number of models (the timing itself is
//! measured by `cargo bench --bench check`, not here).

use shopc::span::SourceDb;

fn compile(models: usize) -> (shopc::Compilation, SourceDb) {
    let project = shopc::synth::project(models, 7);
    let (db, config, files) = project.load();
    (shopc::compile(&db, &config, &files), db)
}

#[test]
fn generated_project_of_10000_models_checks_clean() {
    let (compilation, db) = compile(10_000);
    let diagnostics: Vec<_> = compilation
        .problems
        .iter()
        .take(5)
        .map(|p| p.to_diagnostic())
        .collect();
    assert!(
        compilation.problems.is_empty(),
        "{} problems, first:\n{}",
        compilation.problems.len(),
        shopc::diagnostic::render(&db, &diagnostics, false)
    );
    let ir = &compilation.ir;
    assert_eq!(ir.models().count(), 10_000);
    // Every relation is ordered after everything it reads.
    let mut position = vec![usize::MAX; ir.relations.len()];
    for (i, id) in ir.order.iter().enumerate() {
        position[id.index()] = i;
    }
    assert_eq!(ir.order.len(), ir.relations.len());
    for relation in &ir.relations {
        for dep in &relation.deps {
            assert!(position[dep.index()] < position[relation.id.index()]);
        }
    }
}

#[test]
fn generation_is_deterministic() {
    let a = shopc::synth::project(300, 42);
    let b = shopc::synth::project(300, 42);
    assert_eq!(a.files, b.files);
    let c = shopc::synth::project(300, 43);
    assert_ne!(a.files, c.files);
}
