//! A shopc project written again as a dbt or a SQLMesh project, for
//! `benches/compare.sh` (through `examples/write_peer.rs`): the same
//! relations, materializations, tests and seeds, so that the three tools
//! are timed on the same work. Pure: it returns the files' paths and texts;
//! the example writes them and copies the seeds.
//!
//! Each model's SQL is the query shopc emits for DuckDB, with every
//! relation it reads written as the peer reads one (`{{ ref('stg_orders') }}`
//! in dbt, `peer.stg_orders` in SQLMesh), so ephemeral parents are the
//! peer's to inline. Every data test (declared, implied by a grain, a
//! source's `expect_key`, a reconciliation) becomes a dbt singular test or a
//! SQLMesh standalone audit of the same query. A seeded source table is a
//! dbt seed (its columns typed as declared) or a SQLMesh seed model; the
//! others are dbt sources or SQLMesh external models. An incremental model
//! is written as a table (what its first build is in every tool); a
//! snapshot as a dbt snapshot or a SQLMesh SCD type 2 model. Unit tests are
//! left out.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::emit::{Dialect, Emitter, PhysicalName};
use crate::ir::{Ir, Materialized, RelId, RelationKind, SnapshotStrategy};

/// The schema the emitted SQL names every relation in, replaced afterwards.
const MARK: &str = "__peer__";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Dbt,
    SqlMesh,
}

/// The peer project of a compiled project: (path, text) of every file.
/// `seeded` are the source tables a seed CSV fills (copied by the caller
/// to `seeds/IDENTIFIER.csv`); `project` is the project's name.
pub fn files(
    compilation: &crate::Compilation,
    seeded: &HashSet<RelId>,
    project: &str,
    peer: Peer,
) -> Vec<(String, String)> {
    let ir = &compilation.ir;
    let reads = ir
        .relations
        .iter()
        .filter(|rel| !matches!(rel.kind, RelationKind::Series(_)))
        .map(|rel| {
            let name = PhysicalName {
                schema: MARK.into(),
                name: rel.name.clone(),
            };
            (rel.id, name)
        })
        .collect();
    let emitter = Emitter::with_analysis(ir, Dialect::DuckDb, &compilation.analysis).reading(reads);
    let mut refs = HashMap::new();
    for rel in &ir.relations {
        let name = file_name(&rel.name);
        let read = match (&rel.kind, peer) {
            (RelationKind::Series(_), _) => continue,
            (RelationKind::Table(t), Peer::Dbt) if seeded.contains(&rel.id) => {
                format!("{{{{ ref('{}') }}}}", t.identifier)
            }
            (RelationKind::Table(t), Peer::Dbt) => {
                let source = &ir.sources[t.source.index()].name;
                format!("{{{{ source('{source}', '{}') }}}}", t.identifier)
            }
            (RelationKind::Table(t), Peer::SqlMesh) => format!("{}.{}", t.schema, t.identifier),
            (_, Peer::Dbt) => format!("{{{{ ref('{name}') }}}}"),
            (_, Peer::SqlMesh) => format!("peer.{name}"),
        };
        refs.insert(rel.name.clone(), read);
    }
    match peer {
        Peer::Dbt => dbt(ir, &emitter, &refs, seeded, project),
        Peer::SqlMesh => sqlmesh(ir, &emitter, &refs, seeded),
    }
}

/// A relation's name as a file name and peer model name.
fn file_name(name: &str) -> String {
    name.replace('.', "_")
}

/// `sql` with every `"__peer__"."name"` written as `refs` says.
fn with_refs(sql: &str, refs: &HashMap<String, String>) -> String {
    let mark = format!("\"{MARK}\".\"");
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(&mark) {
        out.push_str(&rest[..at]);
        let after = &rest[at + mark.len()..];
        let end = after.find('"').unwrap_or(after.len());
        let name = &after[..end];
        match refs.get(name) {
            Some(read) => out.push_str(read),
            None => out.push_str(&rest[at..at + mark.len() + end + 1]),
        }
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    out
}

fn column_names(ir: &Ir, ids: &[crate::ir::ColumnId]) -> Vec<String> {
    ids.iter().map(|c| ir.column(*c).name.clone()).collect()
}

/// A YAML scalar of any text: a JSON string is one.
fn yaml_text(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn quoted_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn dbt(
    ir: &Ir,
    emitter: &Emitter<'_>,
    refs: &HashMap<String, String>,
    seeded: &HashSet<RelId>,
    project: &str,
) -> Vec<(String, String)> {
    let d = Dialect::DuckDb.sql();
    let mut files = Vec::new();
    let mut project_yml = format!(
        "name: {project}\nversion: '1.0.0'\nconfig-version: 2\nprofile: peer\n\
         model-paths: [models]\nseed-paths: [seeds]\ntest-paths: [tests]\n\
         snapshot-paths: [snapshots]\nclean-targets: [target]\n"
    );
    // (source, schema) → its tables.
    let mut sources: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
    let mut seeds_yml = String::new();
    // What a dbt project documents in YAML: each model's description and
    // its columns'.
    let mut docs_yml = String::new();
    for &id in &ir.order {
        let rel = ir.relation(id);
        let name = file_name(&rel.name);
        match &rel.kind {
            RelationKind::Table(t) if seeded.contains(&id) => {
                let _ = writeln!(seeds_yml, "    {}:\n      +column_types:", t.identifier);
                for &c in rel.columns.values() {
                    let column = ir.column(c);
                    let _ = writeln!(
                        seeds_yml,
                        "        {}: {}",
                        column.name,
                        d.type_name(column.ty)
                    );
                }
            }
            RelationKind::Table(t) => {
                let source = &ir.sources[t.source.index()];
                sources
                    .entry((&source.name, &t.schema))
                    .or_default()
                    .push(&t.identifier);
            }
            RelationKind::Model(m) => {
                let materialized = match m.materialized {
                    Materialized::View => "view",
                    Materialized::Ephemeral => "ephemeral",
                    Materialized::Table | Materialized::Incremental(_) => "table",
                };
                let layer = m.layer.as_deref().unwrap_or("models");
                let sql = with_refs(&emitter.ephemeral_select(id), refs);
                let _ = writeln!(docs_yml, "  - name: {name}");
                if let Some(doc) = &rel.doc {
                    let _ = writeln!(docs_yml, "    description: {}", yaml_text(doc));
                }
                let _ = writeln!(docs_yml, "    columns:");
                for &c in rel.columns.values() {
                    let column = ir.column(c);
                    let _ = writeln!(docs_yml, "      - name: {}", column.name);
                    if let Some(doc) = &column.doc {
                        let _ = writeln!(docs_yml, "        description: {}", yaml_text(doc));
                    }
                }
                files.push((
                    format!("models/{layer}/{name}.sql"),
                    format!("{{{{ config(materialized='{materialized}') }}}}\n{sql}\n"),
                ));
            }
            RelationKind::Snapshot(s) => {
                let key = column_names(ir, &s.unique_key);
                let strategy = match &s.strategy {
                    SnapshotStrategy::Check(columns) => format!(
                        "strategy='check', check_cols={}",
                        quoted_list(&column_names(ir, columns))
                    ),
                    SnapshotStrategy::CheckAll => "strategy='check', check_cols='all'".into(),
                    SnapshotStrategy::Timestamp(c) => {
                        format!("strategy='timestamp', updated_at='{}'", ir.column(*c).name)
                    }
                };
                let from = &refs[&ir.relation(s.from).name];
                files.push((
                    format!("snapshots/{name}.sql"),
                    format!(
                        "{{% snapshot {name} %}}\n{{{{ config(target_schema='snapshots', \
                         unique_key={}, {strategy}, hard_deletes='invalidate') }}}}\n\
                         select * from {from}\n{{% endsnapshot %}}\n",
                        quoted_list(&key)
                    ),
                ));
            }
            RelationKind::Series(_) => {}
        }
        for test in emitter
            .tests(id)
            .into_iter()
            .chain(emitter.reconciliations(id))
        {
            let sql = with_refs(&test.sql, refs);
            let severity = match test.severity {
                crate::ir::TestSeverity::Error => "error",
                crate::ir::TestSeverity::Warn => "warn",
            };
            files.push((
                format!("tests/{}.sql", test.name),
                format!("{{{{ config(severity='{severity}') }}}}\n{sql}\n"),
            ));
        }
    }
    if !seeds_yml.is_empty() {
        let _ = write!(project_yml, "seeds:\n  {project}:\n{seeds_yml}");
    }
    files.push(("dbt_project.yml".into(), project_yml));
    if !docs_yml.is_empty() {
        files.push((
            "models/models.yml".into(),
            format!("version: 2\nmodels:\n{docs_yml}"),
        ));
    }
    if !sources.is_empty() {
        let mut yml = String::from("version: 2\nsources:\n");
        for ((source, schema), tables) in sources {
            let _ = writeln!(yml, "  - name: {source}\n    schema: {schema}\n    tables:");
            for table in tables {
                let _ = writeln!(yml, "      - name: {table}");
            }
        }
        files.push(("models/sources.yml".into(), yml));
    }
    files.push((
        "profiles.yml".into(),
        "peer:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      \
         path: peer.duckdb\n      threads: 2\n"
            .into(),
    ));
    files
}

fn sqlmesh(
    ir: &Ir,
    emitter: &Emitter<'_>,
    refs: &HashMap<String, String>,
    seeded: &HashSet<RelId>,
) -> Vec<(String, String)> {
    let d = Dialect::DuckDb.sql();
    let mut files = Vec::new();
    let mut external = String::new();
    let columns = |id: RelId| -> String {
        let rel = ir.relation(id);
        let typed: Vec<String> = rel
            .columns
            .values()
            .map(|c| {
                let column = ir.column(*c);
                format!("{} {}", column.name, d.type_name(column.ty))
            })
            .collect();
        typed.join(", ")
    };
    for &id in &ir.order {
        let rel = ir.relation(id);
        let name = file_name(&rel.name);
        for test in emitter
            .tests(id)
            .into_iter()
            .chain(emitter.reconciliations(id))
        {
            files.push((
                format!("audits/{}.sql", test.name),
                format!(
                    "AUDIT (name {}, standalone true);\n{}\n",
                    test.name,
                    with_refs(&test.sql, refs)
                ),
            ));
        }
        match &rel.kind {
            RelationKind::Table(t) if seeded.contains(&id) => files.push((
                format!("models/{name}.sql"),
                format!(
                    "MODEL (name {}.{}, kind SEED (path '../seeds/{}.csv'), columns ({}));\n",
                    t.schema,
                    t.identifier,
                    t.identifier,
                    columns(id)
                ),
            )),
            RelationKind::Table(t) => {
                let _ = writeln!(
                    external,
                    "- name: '\"{}\".\"{}\"'\n  columns:",
                    t.schema, t.identifier
                );
                for &c in rel.columns.values() {
                    let column = ir.column(c);
                    let _ = writeln!(external, "    {}: {}", column.name, d.type_name(column.ty));
                }
            }
            RelationKind::Model(m) => {
                let kind = match m.materialized {
                    Materialized::View => "VIEW",
                    Materialized::Ephemeral => "EMBEDDED",
                    Materialized::Table | Materialized::Incremental(_) => "FULL",
                };
                let sql = with_refs(&emitter.ephemeral_select(id), refs);
                files.push((
                    format!("models/{name}.sql"),
                    format!("MODEL (name peer.{name}, kind {kind});\n{sql}\n"),
                ));
            }
            RelationKind::Snapshot(s) => {
                let key = column_names(ir, &s.unique_key).join(", ");
                let kind = match &s.strategy {
                    SnapshotStrategy::Check(columns) => format!(
                        "SCD_TYPE_2_BY_COLUMN (unique_key ({key}), columns [{}])",
                        column_names(ir, columns).join(", ")
                    ),
                    SnapshotStrategy::CheckAll => {
                        format!("SCD_TYPE_2_BY_COLUMN (unique_key ({key}), columns *)")
                    }
                    SnapshotStrategy::Timestamp(c) => format!(
                        "SCD_TYPE_2_BY_TIME (unique_key ({key}), updated_at_name {})",
                        ir.column(*c).name
                    ),
                };
                let from = &refs[&ir.relation(s.from).name];
                files.push((
                    format!("models/{name}.sql"),
                    format!("MODEL (name peer.{name}, kind {kind});\nSELECT * FROM {from}\n"),
                ));
            }
            RelationKind::Series(_) => {}
        }
    }
    if !external.is_empty() {
        files.push(("external_models.yaml".into(), external));
    }
    files.push((
        "config.yaml".into(),
        "gateways:\n  local:\n    connection:\n      type: duckdb\n      database: peer.duckdb\n\
         default_gateway: local\nmodel_defaults:\n  dialect: duckdb\n"
            .into(),
    ));
    files
}
