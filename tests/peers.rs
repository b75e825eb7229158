//! `shopc::peer`: the dbt and SQLMesh twins that `benches/compare.sh` times
//! shopc against hold every relation, test and seed, and every name they
//! read is one they define. (That dbt and SQLMesh build them, and agree with
//! shopc on ShopCo's revenue, the script checks: it installs them.)

use std::collections::{BTreeMap, BTreeSet, HashSet};

use shopc::ir::{Materialized, RelId, RelationKind};
use shopc::peer::Peer;

use crate::common::SHOPCO;

/// ShopCo compiled, and the source tables its seeds fill.
fn shopco() -> (shopc::Compilation, HashSet<RelId>) {
    let root = std::path::Path::new(SHOPCO);
    let mut loaded = shopc::project::load(root).unwrap();
    let config = loaded.config.clone().unwrap();
    let compilation = shopc::compile(&loaded.db, &config, &loaded.shop_files);
    assert!(compilation.problems.iter().all(|p| !p.is_error()));
    let seeds = shopc::seed::discover(
        &compilation.ir,
        &mut loaded.db,
        &root.join(&config.paths.seeds),
    );
    let seeded = seeds.seeds.iter().map(|s| s.relation).collect();
    (compilation, seeded)
}

/// What follows each `open` in `text`, up to `close`.
fn quoted_after<'a>(text: &'a str, open: &str, close: char) -> Vec<&'a str> {
    text.match_indices(open)
        .map(|(at, _)| {
            let rest = &text[at + open.len()..];
            &rest[..rest.find(close).unwrap_or(rest.len())]
        })
        .collect()
}

fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap();
    file.strip_suffix(".sql").unwrap_or(file)
}

/// The names of the `.sql` files in `folder`.
fn stems_under(files: &BTreeMap<String, String>, folder: &str) -> BTreeSet<String> {
    files
        .keys()
        .filter(|path| path.starts_with(folder))
        .map(|path| stem(path).to_string())
        .collect()
}

/// The twin's files by path.
fn twin(
    compilation: &shopc::Compilation,
    seeded: &HashSet<RelId>,
    project: &str,
    peer: Peer,
) -> BTreeMap<String, String> {
    shopc::peer::files(compilation, seeded, project, peer)
        .into_iter()
        .collect()
}

/// Every data test and reconciliation shopc runs for the project.
fn test_names(compilation: &shopc::Compilation) -> BTreeSet<String> {
    let emitter = shopc::emit::Emitter::with_analysis(
        &compilation.ir,
        shopc::emit::Dialect::DuckDb,
        &compilation.analysis,
    );
    compilation
        .ir
        .order
        .iter()
        .flat_map(|&id| {
            emitter
                .tests(id)
                .into_iter()
                .chain(emitter.reconciliations(id))
        })
        .map(|t| t.name)
        .collect()
}

#[test]
fn dbt_twin_of_shopco_has_every_relation_test_and_seed() {
    let (compilation, seeded) = shopco();
    let ir = &compilation.ir;
    let files = twin(&compilation, &seeded, "shopco", Peer::Dbt);
    assert!(files.values().all(|text| !text.contains("__peer__")));

    let mut defined = BTreeSet::new();
    for (rel, m) in ir.models() {
        let layer = m.layer.as_deref().unwrap_or("models");
        let path = format!("models/{layer}/{}.sql", rel.name);
        let text = files.get(&path).unwrap_or_else(|| panic!("no {path}"));
        let materialized = match m.materialized {
            Materialized::View => "view",
            Materialized::Ephemeral => "ephemeral",
            Materialized::Table | Materialized::Incremental(_) => "table",
        };
        assert!(
            text.starts_with(&format!(
                "{{{{ config(materialized='{materialized}') }}}}\n"
            )),
            "{path}:\n{text}"
        );
        defined.insert(rel.name.clone());
    }
    assert_eq!(defined.len(), 14, "ShopCo's models");
    let snapshot = &files["snapshots/customers_snapshot.sql"];
    assert!(snapshot.contains("strategy='check', check_cols=['email', 'segment', 'country']"));
    assert!(snapshot.contains("select * from {{ ref('stg_customers') }}"));
    defined.insert("customers_snapshot".into());

    // Each seeded table is a seed of its declared column types.
    let project = &files["dbt_project.yml"];
    for &id in &seeded {
        let RelationKind::Table(t) = &ir.relation(id).kind else {
            unreachable!()
        };
        assert!(project.contains(&format!("    {}:\n      +column_types:\n", t.identifier)));
        defined.insert(t.identifier.clone());
    }
    assert_eq!(seeded.len(), 5);
    assert!(project.contains("        order_id: INTEGER\n"));

    // Every relation a model, snapshot or test reads is one defined above.
    let read: BTreeSet<&str> = files
        .values()
        .flat_map(|text| quoted_after(text, "{{ ref('", '\''))
        .collect();
    let defined: BTreeSet<&str> = defined.iter().map(String::as_str).collect();
    // (Nothing in ShopCo reads its snapshot.)
    let unread: Vec<&str> = defined.difference(&read).copied().collect();
    assert!(read.is_subset(&defined), "{read:?} against {defined:?}");
    assert_eq!(unread, ["customers_snapshot"]);

    // A singular test per shopc test, each the same query.
    let tests = stems_under(&files, "tests/");
    assert_eq!(tests, test_names(&compilation));
    assert!(files["tests/grain_unique_fact_orders.sql"].ends_with(
        "SELECT \"order_id\", count(*) AS n FROM {{ ref('fact_orders') }} \
             GROUP BY \"order_id\" HAVING count(*) > 1\n"
    ));
    // Descriptions are documented in YAML, as a dbt project does.
    assert!(files["models/models.yml"].contains("  - name: fact_orders\n    description: "));
}

#[test]
fn sqlmesh_twin_of_shopco_reads_only_models_it_defines() {
    let (compilation, seeded) = shopco();
    let files = twin(&compilation, &seeded, "shopco", Peer::SqlMesh);
    assert!(files.values().all(|text| !text.contains("__peer__")));
    let names: BTreeSet<&str> = files
        .iter()
        .filter(|(path, _)| path.starts_with("models/"))
        .flat_map(|(_, text)| quoted_after(text, "MODEL (name ", ','))
        .collect();
    // 14 models, a snapshot, 5 seeds.
    assert_eq!(names.len(), 20, "{names:?}");
    assert!(names.contains("raw.raw_orders") && names.contains("peer.customers_snapshot"));
    assert!(
        files["models/raw_raw_orders.sql"].contains("kind SEED (path '../seeds/raw_orders.csv')")
    );
    assert!(files["models/customers_snapshot.sql"].contains(
        "kind SCD_TYPE_2_BY_COLUMN (unique_key (customer_id), columns [email, segment, country])"
    ));
    for (path, text) in files.iter().filter(|(path, _)| path.ends_with(".sql")) {
        for read in quoted_after(text, "peer.", ' ') {
            let read = read.trim_end_matches([',', ')', ';', '\n']);
            let read = read.split('\n').next().unwrap();
            assert!(
                names.contains(format!("peer.{read}").as_str()),
                "{path} reads peer.{read}"
            );
        }
    }
    let audits = stems_under(&files, "audits/");
    assert_eq!(audits, test_names(&compilation));
}

/// Tables without seeds are read as the peer reads tables it does not
/// build: dbt sources, SQLMesh external models with their column types.
#[test]
fn unseeded_source_tables_are_sources_and_external_models() {
    let project = shopc::synth::dbt_shaped(40, 7);
    let (db, config, files) = project.load();
    let compilation = shopc::compile(&db, &config, &files);
    assert!(compilation.problems.is_empty());
    let tables = compilation
        .ir
        .relations
        .iter()
        .filter(|r| matches!(r.kind, RelationKind::Table(_)))
        .count();
    let none = HashSet::new();
    let dbt = twin(&compilation, &none, "synthetic", Peer::Dbt);
    let listed = quoted_after(&dbt["models/sources.yml"], "      - name: ", '\n');
    assert_eq!(listed.len(), tables);
    let read: BTreeSet<&str> = dbt
        .values()
        .flat_map(|text| quoted_after(text, "{{ source('", ')'))
        .map(|s| s.rsplit('\'').nth(1).unwrap())
        .collect();
    assert!(!read.is_empty());
    assert!(
        read.iter().all(|t| listed.contains(t)),
        "{read:?} against {listed:?}"
    );
    let sqlmesh = twin(&compilation, &none, "synthetic", Peer::SqlMesh);
    let external = &sqlmesh["external_models.yaml"];
    assert_eq!(external.matches("- name: ").count(), tables);
    assert!(
        external.contains("  columns:\n    id: INTEGER\n"),
        "{external}"
    );
}
