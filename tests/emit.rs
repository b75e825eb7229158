//! `shopc emit` for every dialect: the whole ShopCo layer snapshotted per
//! dialect, every statement re-parsed by sqlparser's matching dialect, and a
//! project of awkward names and values built for real on DuckDB.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use shopc::emit::files::EmittedFile;
use shopc::emit::{Dialect, Emitter};
use sqlparser::dialect::{BigQueryDialect, DuckDbDialect, PostgreSqlDialect, SnowflakeDialect};
use sqlparser::parser::Parser;

use crate::common;
use common::{run, stdout};

/// Compiles a project and emits every relation for `dialect`.
fn emit(dir: &Path, dialect: Dialect) -> Vec<EmittedFile> {
    let loaded = shopc::project::load(dir).unwrap();
    let compilation = shopc::compile(
        &loaded.db,
        loaded.config.as_ref().unwrap(),
        &loaded.shop_files,
    );
    assert!(
        compilation.problems.is_empty(),
        "{:?}",
        compilation.problems
    );
    let ir = &compilation.ir;
    Emitter::new(ir, dialect).files(&ir.order)
}

/// Parses one statement with sqlparser's dialect of the same warehouse.
pub(crate) fn parses(dialect: Dialect, sql: &str) -> Result<(), String> {
    let parsed = match dialect {
        Dialect::DuckDb => Parser::parse_sql(&DuckDbDialect {}, sql),
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql),
        Dialect::Snowflake => Parser::parse_sql(&SnowflakeDialect {}, sql),
        Dialect::BigQuery => Parser::parse_sql(&BigQueryDialect {}, sql),
    };
    match parsed {
        Ok(statements) if statements.len() == 1 => Ok(()),
        Ok(statements) => Err(format!("{} statements", statements.len())),
        Err(e) => Err(e.to_string()),
    }
}

/// A relation's `SELECT` in each of the four dialects, each parsed by
/// sqlparser's dialect of the same warehouse (the test fails otherwise).
pub(crate) fn selects(ir: &shopc::ir::Ir, rel: shopc::ir::RelId) -> Vec<String> {
    [
        Dialect::DuckDb,
        Dialect::Postgres,
        Dialect::Snowflake,
        Dialect::BigQuery,
    ]
    .into_iter()
    .map(|dialect| {
        let sql = Emitter::new(ir, dialect).select(rel);
        parses(dialect, &sql).unwrap_or_else(|e| panic!("{dialect:?}: {e}\n{sql}"));
        sql
    })
    .collect()
}

/// Every statement of every file parses, as emitted and as formatted.
fn assert_all_parse(dialect: Dialect, files: &[EmittedFile]) {
    // The oracle rejects what it should.
    assert!(parses(dialect, "SELECT FROM WHERE").is_err());
    let mut failures = Vec::new();
    for file in files {
        for statement in &file.statements {
            for sql in [
                statement.clone(),
                shopc::emit::files::format_sql(dialect, statement),
            ] {
                if let Err(e) = parses(dialect, &sql) {
                    failures.push(format!("{} ({}): {e}\n{sql}", file.path, dialect.name()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A file's text reads, in the dialect's own tokens (spaces, line breaks
/// and comments aside), as its statements do, which is what `run` executes:
/// formatting changed no string, name or keyword.
fn assert_files_mean_their_statements(dialect: Dialect, files: &[EmittedFile]) {
    use sqlparser::dialect as d;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let reader: &dyn d::Dialect = match dialect {
        Dialect::DuckDb => &d::DuckDbDialect {},
        Dialect::Postgres => &d::PostgreSqlDialect {},
        Dialect::Snowflake => &d::SnowflakeDialect {},
        Dialect::BigQuery => &d::BigQueryDialect {},
    };
    let tokens = |sql: &str| -> Vec<Token> {
        Tokenizer::new(reader, sql)
            .tokenize()
            .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", dialect.name()))
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect()
    };
    for file in files {
        let mut statements = file.statements.join(";\n");
        statements.push(';');
        assert_eq!(
            tokens(&file.text),
            tokens(&statements),
            "{} ({}):\n{}",
            file.path,
            dialect.name(),
            file.text
        );
    }
}

#[test]
fn shopco_emits_and_parses_in_every_dialect() {
    let dir = Path::new(common::SHOPCO);
    for &dialect in Dialect::ALL {
        let files = emit(dir, dialect);
        assert_all_parse(dialect, &files);
        assert_files_mean_their_statements(dialect, &files);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for expected in [
            "fact_orders.build.sql",
            "fact_orders.incremental.sql",
            "customers_snapshot.snapshot_create.sql",
            "customers_snapshot.snapshot_update.sql",
            "tests/reconcile_revenue.sql",
        ] {
            assert!(paths.contains(&expected), "{}: {paths:?}", dialect.name());
        }
        let document: String = files
            .iter()
            .map(|f| format!("==> {}\n{}\n", f.path, f.text))
            .collect();
        insta::assert_snapshot!(format!("shopco_{}", dialect.name()), document);
    }
}

#[test]
fn fact_orders_merges_on_its_key_with_its_layout() {
    let dir = Path::new(common::SHOPCO);
    let text = |dialect, path: &str| {
        emit(dir, dialect)
            .into_iter()
            .find(|f| f.path == path)
            .unwrap()
            .statements
            .join(";\n")
    };
    for &dialect in Dialect::ALL {
        let merge = text(dialect, "fact_orders.incremental.sql");
        assert!(merge.starts_with("MERGE INTO"), "{merge}");
        let q = |name: &str| dialect.sql().quote_identifier(name);
        assert!(
            merge.contains(&format!(
                "ON {t}.{k} = {s}.{k}",
                t = q("target"),
                s = q("source"),
                k = q("order_id")
            )),
            "{merge}"
        );
        assert!(merge.contains("WHEN NOT MATCHED THEN INSERT"), "{merge}");
    }
    let build = |dialect| text(dialect, "fact_orders.build.sql");
    assert!(build(Dialect::Snowflake).contains("CLUSTER BY (\"order_date\")"));
    assert!(
        build(Dialect::BigQuery)
            .contains("PARTITION BY DATE_TRUNC(`order_date`, MONTH)\nCLUSTER BY `order_date`")
    );
    assert!(build(Dialect::Postgres).contains(
        "CREATE INDEX \"fact_orders__cluster\" ON \"marts\".\"fact_orders\" (\"order_date\")"
    ));
    assert!(!build(Dialect::DuckDb).contains("CLUSTER"));
}

/// A project whose names need quoting and whose accepted values hold quotes
/// and backslashes.
fn awkward_project() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::create_dir_all(root.join("seeds")).unwrap();
    std::fs::write(
        root.join("shop.toml"),
        "name = \"awkward\"\n[layers.marts]\nmaterialized = \"table\"\nschema = \"Marts\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/awkward.shop"),
        r#"
source raw {
  schema = "Raw Data"
  table `Orders` {
    expect_key = [`order`]
    columns { `order`: integer, `Mixed Case`: text, `it"s`: text, `select`: numeric(12, 2), at: timestamp }
  }
}

## Appended by time; a key already loaded is never inserted again.
model `Order Log` {
  layer = "marts"
  materialized = { incremental = { strategy = "append", since = "at", unique_key = "order", lookback = "1 day" } }
  from raw.`Orders` o
  columns { `order` = o.`order`, at = o.at, amount = o.`select` }
}

model `Order Facts` {
  layer = "marts"
  grain = [`order`]
  from raw.`Orders` o
  where o.`Mixed Case` != 'it''s not'
  columns {
    `order` = o.`order`
    `Mixed Case` = o.`Mixed Case`
    `it"s` = o.`it"s`
    `group` = o.`select` * 2
    code_number = try_cast(o.`Mixed Case` as integer)
    spaced = 'two  spaces'
    `back\slash` = '\''); drop table pwned; --'
    escaped = '\\\''; drop table pwned; --'
  }
  tests {
    accepted_values(`it"s`, ["it's", "say \"hi\"", "back\\slash"])
    not_null(`Mixed Case`)
  }
}
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("seeds/Orders.csv"),
        "order,Mixed Case,it\"s,select,at\n1,A,it's,1.50,2024-01-01 10:00:00\n2,B,\"say \"\"hi\"\"\",2.00,2024-01-02 10:00:00\n3,C,back\\slash,3.25,2024-01-03 10:00:00\n",
    )
    .unwrap();
    temp
}

#[test]
fn awkward_names_and_values_are_quoted_in_every_dialect() {
    let temp = awkward_project();
    for &dialect in Dialect::ALL {
        let files = emit(temp.path(), dialect);
        assert_all_parse(dialect, &files);
        let document: String = files
            .iter()
            .map(|f| format!("==> {}\n{}\n", f.path, f.text))
            .collect();
        insta::assert_snapshot!(format!("awkward_{}", dialect.name()), document);
        assert_files_mean_their_statements(dialect, &files);
    }
    // The same SQL runs on DuckDB: the build and its tests pass.
    let out = run("build", temp.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("PASS    test accepted_values_Order Facts_it\"s"),
        "{text}"
    );
    // The append statement adds only rows whose key is not loaded yet.
    let append = emit(temp.path(), Dialect::DuckDb)
        .into_iter()
        .find(|f| f.path == "Order_Log.incremental.sql")
        .unwrap();
    assert!(
        append.statements[0].starts_with("INSERT INTO"),
        "{:?}",
        append.statements
    );
    let db = duckdb::Connection::open(temp.path().join("target/awkward.duckdb")).unwrap();
    let count = |db: &duckdb::Connection| -> i64 {
        db.query_row("SELECT count(*) FROM \"Marts\".\"Order Log\"", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    // `try_cast` of letters is NULL, not an error.
    let nulls: i64 = db
        .query_row(
            "SELECT count(*) FROM \"Marts\".\"Order Facts\" WHERE code_number IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(nulls, 3);
    db.execute_batch("DELETE FROM \"Marts\".\"Order Log\" WHERE \"order\" = 3")
        .unwrap();
    for _ in 0..2 {
        db.execute_batch(&append.statements[0]).unwrap();
        assert_eq!(count(&db), 3);
    }
}

#[test]
fn emit_writes_one_file_per_relation_and_kind() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = run(
        "emit",
        Path::new(common::SHOPCO),
        &[
            "--target",
            "snowflake",
            "--out",
            out_dir.path().to_str().unwrap(),
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("emitted "), "{text}");
    // Snowflake has no partitioning: a warning, not silence.
    let err = common::stderr(&out);
    assert!(
        err.contains("warning[E001]: snowflake has no `partition_by`"),
        "{err}"
    );
    let merge =
        std::fs::read_to_string(out_dir.path().join("fact_orders.incremental.sql")).unwrap();
    assert!(
        merge.starts_with("-- shopc 0.1.0 · model fact_orders · snowflake · grain [order_id] · incremental\nMERGE INTO"),
        "{merge}"
    );
    assert!(
        out_dir
            .path()
            .join("tests/grain_unique_fact_orders.sql")
            .exists()
    );

    // Without --out, the files go to stdout; a bad dialect is a usage error.
    let out = run(
        "emit",
        Path::new(common::SHOPCO),
        &["--target", "bigquery", "-s", "dim_products"],
    );
    assert!(stdout(&out).starts_with("-- file: dim_products.build.sql\n-- shopc"));
    let out = run("emit", Path::new(common::SHOPCO), &["--target", "oracle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("expected one of duckdb, postgres, snowflake, bigquery"));
}

#[test]
fn emitted_merge_and_snapshot_statements_run_on_duckdb() {
    let (_temp, root) = common::shopco_copy(&[]);
    assert_eq!(run("build", &root, &[]).status.code(), Some(0));
    let files = emit(&root, Dialect::DuckDb);
    let statements = |path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .unwrap()
            .statements
            .clone()
    };
    let db = common::database(&root);
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let before = count("SELECT count(*) FROM marts.fact_orders");
    // Merging the model into its own table changes nothing, twice.
    for _ in 0..2 {
        for sql in statements("fact_orders.incremental.sql") {
            db.execute_batch(&sql).unwrap();
        }
        assert_eq!(count("SELECT count(*) FROM marts.fact_orders"), before);
        assert_eq!(
            count("SELECT count(DISTINCT order_id) FROM marts.fact_orders"),
            before
        );
    }
    // A snapshot: created, then updated with nothing changed, then after a
    // customer's segment goes from a value to NULL and one customer is gone
    // (the build made one already: start again with the emitted SQL).
    db.execute_batch("DROP TABLE snapshots.customers_snapshot")
        .unwrap();
    for sql in statements("customers_snapshot.snapshot_create.sql") {
        db.execute_batch(&sql).unwrap();
    }
    let customers = count("SELECT count(*) FROM staging.stg_customers");
    let update = || {
        for sql in statements("customers_snapshot.snapshot_update.sql") {
            db.execute_batch(&sql).unwrap();
        }
    };
    update();
    assert_eq!(
        count("SELECT count(*) FROM snapshots.customers_snapshot"),
        customers
    );
    db.execute_batch(
        "CREATE TABLE staging.changed AS SELECT * REPLACE (CASE WHEN customer_id = 1 THEN NULL ELSE segment END AS segment) \
         FROM staging.stg_customers WHERE customer_id <> 2;\
         CREATE OR REPLACE VIEW staging.stg_customers AS SELECT * FROM staging.changed;",
    )
    .unwrap();
    update();
    update();
    let current = "SELECT count(*) FROM snapshots.customers_snapshot WHERE dbt_valid_to IS NULL";
    // Customer 1 has a closed and a current row; customer 2 is closed (invalidated).
    assert_eq!(
        count("SELECT count(*) FROM snapshots.customers_snapshot"),
        customers + 1
    );
    assert_eq!(count(current), customers - 1);
    assert_eq!(
        count(
            "SELECT count(*) FROM snapshots.customers_snapshot WHERE customer_id = 1 AND dbt_valid_to IS NULL AND segment IS NULL"
        ),
        1
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT customer_id FROM snapshots.customers_snapshot WHERE dbt_valid_to IS NULL GROUP BY customer_id HAVING count(*) > 1)"
        ),
        0
    );
}
