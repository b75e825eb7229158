//! Comparing what ShopCo builds on another warehouse with the DuckDB build.
#![allow(clippy::disallowed_methods, dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use shopc::warehouse::{DuckDbWarehouse, Rows, Warehouse};

/// One value as every engine agrees to write it: booleans as `true` /
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
pub fn rows(rows: Rows) -> Vec<String> {
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
fn difference(a: &[String], b: &[String], label: &str) -> String {
    if let Some(i) = (0..a.len().min(b.len())).find(|i| a[*i] != b[*i]) {
        return format!(
            "first difference, sorted:\n  DuckDB: {}\n  {label}: {}",
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
        "only in DuckDB: {:#?}\nonly in {label}: {:#?}",
        only(a, b),
        only(b, a)
    )
}

/// Whether two normalized rows are the same row. DuckDB divides decimals in
/// double precision, PostgreSQL (and Snowflake) exactly: `round(2059.47 / 2, 2)` is 1029.73
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

/// Every ShopCo relation in `other` equals the DuckDB build at `duckdb`:
/// the same number of rows, and the same rows once normalized and sorted.
pub fn assert_same(duckdb: &Path, other: &mut dyn Warehouse) {
    let label = other.describe();
    let mut duck = DuckDbWarehouse::open(duckdb).unwrap();
    let expected = contents(&mut duck);
    let actual = contents(other);
    for (name, rows) in &expected {
        let theirs = &actual[name];
        assert!(!rows.is_empty(), "{name} is empty");
        assert_eq!(rows.len(), theirs.len(), "row count of {name} on {label}");
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
            "{name}: {} rows differ on {label}\n{}",
            unmatched.len(),
            difference(rows, theirs, &label)
        );
    }
}
