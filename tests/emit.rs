//! Emitted DuckDB SQL for the ShopCo project, snapshotted per model.
#![allow(clippy::disallowed_methods)]

use shopc::emit::{Dialect, Emitter};
use shopc::ir::RelationKind;

#[test]
fn shopco_duckdb_sql() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shopco_models");
    let loaded = shopc::project::load(std::path::Path::new(dir)).unwrap();
    let compilation = shopc::compile(
        &loaded.db,
        loaded.config.as_ref().unwrap(),
        &loaded.shop_files,
    );
    assert!(compilation.problems.is_empty());
    let ir = &compilation.ir;
    let emitter = Emitter::new(ir, Dialect::DuckDb);
    for (rel, _) in ir.models() {
        let build = emitter.build(rel.id);
        let mut doc = format!("{}\n", emitter.header(rel.id));
        for statement in build.prepare.iter().chain(&build.swap) {
            doc.push_str(statement);
            doc.push_str(";\n");
        }
        for test in emitter.tests(rel.id) {
            doc.push_str(&format!(
                "-- test {}{}\n{};\n",
                test.name,
                if test.derived { " (derived)" } else { "" },
                test.sql
            ));
        }
        insta::assert_snapshot!(format!("duckdb_{}", rel.name), doc);
    }
    assert!(
        ir.relations
            .iter()
            .any(|r| matches!(r.kind, RelationKind::Snapshot(_)))
    );
}
