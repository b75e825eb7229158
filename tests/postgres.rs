//! ShopCo on a real PostgreSQL server (see `common::Postgres`): every
//! relation equals the DuckDB build row for row, incremental days 1 to 3
//! give what a full refresh gives, and a server error names the model, the
//! statement and the server's message.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::Path;

use shopc::warehouse::{DuckDbWarehouse, Rows, Warehouse};

mod common;
use common::{Postgres, build, run, stderr, stdout};

/// One value as both engines agree to write it: booleans as `true` /
/// `false`, numbers rounded to 6 decimals (DuckDB's doubles and
/// PostgreSQL's numerics print differently), the rest as is.
fn normalize(value: &Option<String>) -> String {
    let Some(v) = value else {
        return "NULL".into();
    };
    match v.as_str() {
        "t" | "true" => return "true".into(),
        "f" | "false" => return "false".into(),
        _ => {}
    }
    match v.parse::<f64>() {
        Ok(n) if v.chars().all(|c| c.is_ascii_digit() || "-.eE+".contains(c)) => {
            let rounded = format!("{n:.6}");
            if rounded
                .trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                "0.000000".into()
            } else {
                rounded
            }
        }
        _ => v.clone(),
    }
}

/// A table's rows, normalized and sorted: equal lists are the same rows,
/// whatever order the engines return them in.
fn rows(rows: Rows) -> Vec<String> {
    let mut out: Vec<String> = rows
        .rows
        .iter()
        .map(|r| r.iter().map(normalize).collect::<Vec<_>>().join(" | "))
        .collect();
    out.sort();
    out
}

/// Every relation ShopCo builds, with the columns to compare (the
/// snapshot's validity stamps come from each server's clock).
const RELATIONS: &[(&str, &str)] = &[
    ("staging.stg_customers", "*"),
    ("staging.stg_orders", "*"),
    ("staging.stg_order_items", "*"),
    ("staging.stg_products", "*"),
    ("staging.stg_web_events", "*"),
    ("marts.fact_orders", "*"),
    ("marts.dim_customers", "*"),
    ("marts.dim_products", "*"),
    ("marts.fct_customer_cohorts", "*"),
    ("marts.fct_customer_ltv", "*"),
    ("marts.fct_product_performance", "*"),
    (
        "snapshots.customers_snapshot",
        "customer_id, email, segment, country, dbt_valid_to IS NULL AS is_current",
    ),
];

fn contents(warehouse: &mut dyn Warehouse) -> BTreeMap<&'static str, Vec<String>> {
    RELATIONS
        .iter()
        .map(|(name, columns)| {
            let result = warehouse
                .query(&format!("SELECT {columns} FROM {name}"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (*name, rows(result))
        })
        .collect()
}

/// The rows in one list and not the other, for the failure message.
fn difference(a: &[String], b: &[String]) -> String {
    if let Some(i) = (0..a.len().min(b.len())).find(|i| a[*i] != b[*i]) {
        return format!(
            "first difference, sorted:\n  DuckDB:     {}\n  PostgreSQL: {}",
            a[i], b[i]
        );
    }
    let only = |x: &[String], y: &[String]| -> Vec<String> {
        x.iter()
            .filter(|r| !y.contains(r))
            .take(3)
            .cloned()
            .collect()
    };
    format!(
        "only in DuckDB: {:#?}\nonly in PostgreSQL: {:#?}",
        only(a, b),
        only(b, a)
    )
}

/// Whether two normalized rows are the same row. DuckDB divides decimals in
/// double precision, PostgreSQL exactly: `round(2059.47 / 2, 2)` is 1029.73
/// on one and 1029.74 on the other. Numbers may differ by that last cent of
/// a rounded tie; everything else must be equal.
fn same_row(a: &str, b: &str) -> bool {
    a == b
        || a.split(" | ").count() == b.split(" | ").count()
            && a.split(" | ").zip(b.split(" | ")).all(|(x, y)| {
                x == y
                    || matches!((x.parse::<f64>(), y.parse::<f64>()), (Ok(x), Ok(y)) if (x - y).abs() <= 0.010_000_1)
            })
}

fn assert_same(duckdb: &Path, pg: &Postgres) {
    let mut duck = DuckDbWarehouse::open(duckdb).unwrap();
    let expected = contents(&mut duck);
    let actual = contents(&mut pg.connect());
    for (name, rows) in &expected {
        let theirs = &actual[name];
        assert!(!rows.is_empty(), "{name} is empty");
        assert_eq!(rows.len(), theirs.len(), "row count of {name}");
        // Sorted rows pair up, except where a cent of difference reorders
        // rows that share every column before it.
        let unmatched: Vec<&String> = rows
            .iter()
            .zip(theirs)
            .filter(|(a, b)| !same_row(a, b))
            .map(|(a, _)| a)
            .collect();
        assert!(
            unmatched.is_empty(),
            "{name}: {} rows differ\n{}",
            unmatched.len(),
            difference(rows, theirs)
        );
    }
}

#[test]
fn shopco_on_postgres_equals_the_duckdb_build() {
    let pg = Postgres::start("shopco_equal");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    build(&root, &[]);
    let text = build(&root, &["--target", "pg"]);
    assert!(
        text.contains("Running 72 nodes on postgres shopc@127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("72 ok, 0 warnings, 0 errors"), "{text}");
    assert_same(&root.join("target/shopco.duckdb"), &pg);

    // A second build reloads the seeds under the staging views (PostgreSQL
    // binds a view to its table, so the table is refilled, not replaced).
    let text = build(&root, &["--target", "pg"]);
    assert!(text.contains("72 ok"), "{text}");
    assert_same(&root.join("target/shopco.duckdb"), &pg);
}

#[test]
fn three_days_on_postgres_equal_a_full_refresh_on_duckdb() {
    let pg = Postgres::start("shopco_days");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    let day = |n: u32| root.join(format!("days/day{n}"));
    build(&root, &["--target", "pg"]);
    for n in [2, 3] {
        let text = build(
            &root,
            &["--target", "pg", "--seeds", day(n).to_str().unwrap()],
        );
        assert!(text.contains("[merge in"), "{text}");
        assert!(text.contains("[append in"), "{text}");
        assert!(
            text.contains("snapshots.customers_snapshot ...................... [updated"),
            "{text}"
        );
    }
    // DuckDB: the same three days, so that the snapshots have the same history.
    build(&root, &[]);
    build(&root, &["--seeds", day(2).to_str().unwrap()]);
    build(&root, &["--seeds", day(3).to_str().unwrap()]);
    assert_same(&root.join("target/shopco.duckdb"), &pg);

    // And the merged fact table equals a full refresh of day 3.
    let full = root.join("target/full.duckdb");
    build(
        &root,
        &[
            "--full-refresh",
            "--seeds",
            day(3).to_str().unwrap(),
            "--database",
            full.to_str().unwrap(),
        ],
    );
    let mut duck = DuckDbWarehouse::open(&full).unwrap();
    let sql = "SELECT * FROM marts.fact_orders";
    assert_eq!(
        rows(duck.query(sql).unwrap()),
        rows(pg.connect().query(sql).unwrap())
    );
}

#[test]
fn a_server_error_names_the_model_the_statement_and_the_message() {
    let pg = Postgres::start("shopco_error");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    build(&root, &["--target", "pg"]);
    // A column the checker allows but the table does not have any more:
    // drop it behind shopc's back.
    pg.connect()
        .execute("ALTER TABLE raw.raw_products RENAME COLUMN cost TO unit_cost")
        .unwrap();
    let out = run("run", &root, &["--target", "pg", "-s", "stg_products+"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ERROR   view staging.stg_products"), "{text}");
    assert!(text.contains("ERROR: column"), "{text}");
    assert!(text.contains("in the statement:"), "{text}");
    assert!(
        text.contains("CREATE OR REPLACE VIEW") || text.contains("CREATE VIEW"),
        "{text}"
    );
    assert!(text.contains("SKIP"), "{text}");
}

#[test]
fn debug_connection_reaches_the_server_and_never_prints_a_secret() {
    let pg = Postgres::start("shopco_debug");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    let out = common::shopc(&[
        "debug",
        "connection",
        "--project",
        root.to_str().unwrap(),
        "--target",
        "pg",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("target:   pg (postgres)"), "{text}");
    assert!(text.contains("connection: ok"), "{text}");
    assert!(text.contains("server:     PostgreSQL"), "{text}");

    // A password from the environment, and a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        root.join("profiles.toml"),
        format!(
            "[targets.pg]\nadapter = \"postgres\"\nport = {port}\nuser = \"shopc\"\ndbname = \"x\"\npassword = {{ env = \"SHOPC_TEST_SECRET\" }}\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shopc"))
        .args([
            "debug",
            "connection",
            "--project",
            root.to_str().unwrap(),
            "--target",
            "pg",
        ])
        .env("SHOPC_TEST_SECRET", "s3cr3t-value")
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("password     set (not shown)"), "{all}");
    assert!(
        all.contains("cannot connect to postgres shopc@127.0.0.1"),
        "{all}"
    );
    assert!(!all.contains("s3cr3t-value"), "{all}");

    // Unset: said so, before connecting.
    let out = run("build", &root, &["--target", "pg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`password` is read from $SHOPC_TEST_SECRET, which is not set"),
        "{}",
        stderr(&out)
    );
}
