//! Comparing what ShopCo builds on another warehouse with the DuckDB build.
#![allow(clippy::disallowed_methods, dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use shopc::warehouse::{DuckDbWarehouse, Rows, Warehouse};

/// One value as every engine agrees to write it: booleans as `true` /
/// `false`, numbers as the double they are (so `12.50` and `12.5` are one
/// value, and two doubles are one only when every bit agrees), the rest as
/// is.
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
            if n == 0.0 {
                "0.0".into()
            } else {
                format!("{n:?}")
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

/// Every ShopCo relation of a DuckDB file, normalized and sorted.
pub fn contents_of(duckdb: &Path) -> BTreeMap<&'static str, Vec<String>> {
    contents(&mut DuckDbWarehouse::open(duckdb).unwrap())
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
        // Division is double precision and rounding one IEEE formula on
        // every engine (the language reference): every digit agrees.
        let unmatched: Vec<&String> = rows
            .iter()
            .zip(theirs)
            .filter(|(a, b)| a != b)
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
