//! Star columns: `o.*`, `o.* except (…)`, `o.* rename (a as b)`, expanded
//! at resolution from the typed columns of what the model reads, so the
//! manifest, the docs and the grain algebra see each column.

use shopc::diagnostic::{Code, render};
use shopc::emit::{Dialect, Emitter};
use shopc::ir::types::Type;
use shopc::span::SourceDb;

const SOURCES: &str = r#"
source raw {
  table orders { expect_key = [order_id]
    columns {
      ## The order's id.
      order_id: integer
      customer_id: integer
      ## placed, shipped or returned.
      status: text
      amount: numeric(12, 2)
    }
  }
  table customers { expect_key = [customer_id]
    columns { customer_id: integer, email: text } }
}
"#;

fn compile(models: &str) -> (shopc::Compilation, SourceDb) {
    let mut db = SourceDb::new();
    let toml = "name = \"stars\"\n";
    let config_file = db.add("shop.toml", toml);
    let config = shopc::config::parse_project_config(config_file, toml).unwrap();
    let sources = db.add("sources.shop", SOURCES);
    let file = db.add("models.shop", models);
    (shopc::compile(&db, &config, &[sources, file]), db)
}

fn problems(models: &str) -> (Vec<Code>, String) {
    let (compilation, db) = compile(models);
    let diagnostics: Vec<_> = compilation
        .problems
        .iter()
        .map(|p| p.to_diagnostic())
        .collect();
    (
        compilation.problems.iter().map(|p| p.code()).collect(),
        render(&db, &diagnostics, false),
    )
}

/// The model's columns: name, type and doc, in order.
fn columns(models: &str, model: &str) -> Vec<(String, Type, Option<String>)> {
    let (compilation, db) = compile(models);
    let diagnostics: Vec<_> = compilation
        .problems
        .iter()
        .map(|p| p.to_diagnostic())
        .collect();
    assert!(
        compilation.problems.is_empty(),
        "{}",
        render(&db, &diagnostics, false)
    );
    let ir = &compilation.ir;
    let rel = ir.get(model).unwrap();
    rel.columns
        .values()
        .map(|c| {
            let c = ir.column(*c);
            (c.name.clone(), c.ty, c.doc.clone())
        })
        .collect()
}

fn names(columns: &[(String, Type, Option<String>)]) -> Vec<&str> {
    columns.iter().map(|(n, _, _)| n.as_str()).collect()
}

#[test]
fn a_star_is_every_column_in_order_typed_and_documented() {
    let cols = columns(
        "model m {\n  grain = [order_id]\n  from raw.orders o\n  columns { o.* }\n}\n",
        "m",
    );
    assert_eq!(
        names(&cols),
        ["order_id", "customer_id", "status", "amount"]
    );
    assert_eq!(cols[3].1, Type::Numeric(Some((12, 2))));
    assert_eq!(cols[0].2.as_deref(), Some("The order's id."));
    assert_eq!(cols[2].2.as_deref(), Some("placed, shipped or returned."));
}

#[test]
fn except_and_rename_and_stars_beside_columns() {
    let models = "model m {\n  from raw.orders o\n  left join raw.customers c on c.customer_id = o.customer_id\n  \
        columns {\n    o.* except (customer_id, amount) rename (status as order_status)\n    c.* rename (customer_id as buyer_id)\n    \
        doubled = o.amount * 2\n  }\n}\n";
    let cols = columns(models, "m");
    assert_eq!(
        names(&cols),
        ["order_id", "order_status", "buyer_id", "email", "doubled"]
    );
    assert_eq!(cols[1].2.as_deref(), Some("placed, shipped or returned."));
    // Emitted as the columns themselves, on every dialect.
    let (compilation, _) = compile(models);
    let rel = compilation.ir.get("m").unwrap().id;
    for dialect in [
        Dialect::DuckDb,
        Dialect::Postgres,
        Dialect::Snowflake,
        Dialect::BigQuery,
    ] {
        let sql = Emitter::new(&compilation.ir, dialect).select(rel);
        assert!(!sql.contains(".*"), "{sql}");
        crate::emit::parses(dialect, &sql).unwrap_or_else(|e| panic!("{dialect:?}: {e}\n{sql}"));
    }
    // The grain algebra sees the expanded key: declared and proven.
    let proven = "model m {\n  grain = [order_id]\n  from raw.orders o\n  dimensions { o.* except (amount) }\n  measures { amount = o.amount }\n}\n";
    assert_eq!(problems(proven).0, []);
}

#[test]
fn wrong_stars_are_reported_where_they_are() {
    let cases: &[(&str, &[Code])] = &[
        // No relation with that alias.
        ("columns { x.* }", &[Code::R006]),
        // A column it does not have, left out or renamed.
        ("columns { o.* except (nope) }", &[Code::R002]),
        ("columns { o.* rename (nope as yes) }", &[Code::R002]),
        // Two outputs of one name.
        ("columns { o.*, status = o.status }", &[Code::R003]),
        ("columns { o.* rename (status as order_id) }", &[Code::R003]),
    ];
    for (columns, expected) in cases {
        let source = format!("model m {{\n  from raw.orders o\n  {columns}\n}}\n");
        let (codes, text) = problems(&source);
        assert_eq!(&codes, expected, "{source}\n{text}");
    }
    // `*` is not an expression: `count(*)` aside, `o.*` stands alone.
    let (codes, _) = problems("model m {\n  from raw.orders o\n  columns { x = o.* }\n}\n");
    assert_eq!(codes, [Code::P001]);
}
