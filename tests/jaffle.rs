//! examples/jaffle_shop: jaffle-shop (github.com/dbt-labs/jaffle-shop) in
//! shopc, built over data its pinned generator (jafgen) writes. Every
//! relation equals what jaffle-shop's own SQL (its dbt models, macros
//! expanded for DuckDB) computes from the same raw tables, and its two unit
//! tests pass.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::common;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/jaffle_shop");
const JAFFLE_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/jaffle.sh");

/// dbt's `cents_to_dollars` (its default dispatch) and
/// `dbt_utils.generate_surrogate_key`, written out for DuckDB.
fn dollars(column: &str) -> String {
    format!("({column} / 100)::numeric(16, 2)")
}

/// jaffle-shop's staging models, each a CTE over the raw tables.
fn staging() -> String {
    let key = |c: &str| format!("coalesce(cast({c} as varchar), '_dbt_utils_surrogate_key_null_')");
    format!(
        "stg_customers as (select id as customer_id, name as customer_name from raw.raw_customers),
stg_locations as (select id as location_id, name as location_name, tax_rate, date_trunc('day', opened_at) as opened_date from raw.raw_stores),
stg_order_items as (select id as order_item_id, order_id, sku as product_id from raw.raw_items),
stg_orders as (select id as order_id, store_id as location_id, customer as customer_id,
    subtotal as subtotal_cents, tax_paid as tax_paid_cents, order_total as order_total_cents,
    {} as subtotal, {} as tax_paid, {} as order_total, date_trunc('day', ordered_at) as ordered_at
  from raw.raw_orders),
stg_products as (select sku as product_id, name as product_name, type as product_type, description as product_description,
    {} as product_price, coalesce(type = 'jaffle', false) as is_food_item, coalesce(type = 'beverage', false) as is_drink_item
  from raw.raw_products),
stg_supplies as (select md5(cast({} || '-' || {} as varchar)) as supply_uuid, id as supply_id, sku as product_id,
    name as supply_name, {} as supply_cost, perishable as is_perishable_supply
  from raw.raw_supplies)",
        dollars("subtotal"),
        dollars("tax_paid"),
        dollars("order_total"),
        dollars("price"),
        key("id"),
        key("sku"),
        dollars("cost"),
    )
}

/// jaffle-shop's marts, as its models/marts/*.sql say.
const MARTS: &str = "
order_supplies_summary as (select product_id, sum(supply_cost) as supply_cost from stg_supplies group by 1),
order_items as (
  select stg_order_items.*, stg_orders.ordered_at, stg_products.product_name, stg_products.product_price,
    stg_products.is_food_item, stg_products.is_drink_item, order_supplies_summary.supply_cost
  from stg_order_items
  left join stg_orders on stg_order_items.order_id = stg_orders.order_id
  left join stg_products on stg_order_items.product_id = stg_products.product_id
  left join order_supplies_summary on stg_order_items.product_id = order_supplies_summary.product_id),
order_items_summary as (
  select order_id, sum(supply_cost) as order_cost, sum(product_price) as order_items_subtotal,
    count(order_item_id) as count_order_items,
    sum(case when is_food_item then 1 else 0 end) as count_food_items,
    sum(case when is_drink_item then 1 else 0 end) as count_drink_items
  from order_items group by 1),
compute_booleans as (
  select stg_orders.*, order_items_summary.order_cost, order_items_summary.order_items_subtotal,
    order_items_summary.count_food_items, order_items_summary.count_drink_items,
    order_items_summary.count_order_items,
    order_items_summary.count_food_items > 0 as is_food_order,
    order_items_summary.count_drink_items > 0 as is_drink_order
  from stg_orders left join order_items_summary on stg_orders.order_id = order_items_summary.order_id),
orders as (
  select *, row_number() over (partition by customer_id order by ordered_at asc) as customer_order_number
  from compute_booleans),
customer_orders_summary as (
  select orders.customer_id, count(distinct orders.order_id) as count_lifetime_orders,
    count(distinct orders.order_id) > 1 as is_repeat_buyer,
    min(orders.ordered_at) as first_ordered_at, max(orders.ordered_at) as last_ordered_at,
    sum(orders.subtotal) as lifetime_spend_pretax, sum(orders.tax_paid) as lifetime_tax_paid,
    sum(orders.order_total) as lifetime_spend
  from orders group by 1),
customers as (
  select stg_customers.*, customer_orders_summary.count_lifetime_orders,
    customer_orders_summary.first_ordered_at, customer_orders_summary.last_ordered_at,
    customer_orders_summary.lifetime_spend_pretax, customer_orders_summary.lifetime_tax_paid,
    customer_orders_summary.lifetime_spend,
    case when customer_orders_summary.is_repeat_buyer then 'returning' else 'new' end as customer_type
  from stg_customers left join customer_orders_summary on stg_customers.customer_id = customer_orders_summary.customer_id),
locations as (select * from stg_locations),
products as (select * from stg_products),
supplies as (select * from stg_supplies)";

/// Rows of `ours` not in jaffle-shop's `theirs`, and the other way, on the
/// columns `columns` (a multiset difference).
fn differences(db: &duckdb::Connection, ours: &str, theirs: &str, columns: &str) -> i64 {
    let with = format!("with {},{MARTS}", staging());
    let sql = format!(
        "{with}, a as (select {columns} from {ours}), b as (select {columns} from {theirs})
         select (select count(*) from (select * from a except all select * from b))
              + (select count(*) from (select * from b except all select * from a))"
    );
    db.query_row(&sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn jaffle_shop_equals_its_dbt_models_over_jafgen_data() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("jaffle_shop");
    common::copy_dir(Path::new(EXAMPLE), &root, &["seeds", "target"]);
    let made = std::process::Command::new("bash")
        .arg(JAFFLE_SCRIPT)
        .arg(root.join("seeds"))
        .output()
        .expect("run scripts/jaffle.sh");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let text = common::build(&root, &[]);
    assert!(text.contains("Unit tests: 2 passed, 0 failed"), "{text}");
    assert!(text.contains("0 errors, 0 skipped"), "{text}");
    let db = common::database_at(&root.join("target/jaffle_shop.duckdb"));
    let orders: i64 = db
        .query_row("select count(*) from raw.raw_orders", [], |r| r.get(0))
        .unwrap();
    assert!(orders > 10_000, "jafgen wrote {orders} orders");
    let columns = |table: &str| -> String {
        let (schema, name) = table.split_once('.').unwrap();
        let names: Vec<String> = db
            .prepare("select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position")
            .unwrap()
            .query_map([schema, name], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!names.is_empty(), "{table}");
        names.join(", ")
    };
    for (ours, theirs) in [
        ("staging.stg_customers", "stg_customers"),
        ("staging.stg_locations", "stg_locations"),
        ("staging.stg_order_items", "stg_order_items"),
        ("staging.stg_orders", "stg_orders"),
        ("staging.stg_products", "stg_products"),
        ("staging.stg_supplies", "stg_supplies"),
        ("marts.customers", "customers"),
        ("marts.locations", "locations"),
        ("marts.order_items", "order_items"),
        ("marts.products", "products"),
        ("marts.supplies", "supplies"),
    ] {
        let cols = columns(ours);
        assert_eq!(differences(&db, ours, theirs, &cols), 0, "{ours} ({cols})");
    }
    // Orders: every column; a customer's orders of one day are numbered in
    // either order by both, so the numbers are compared per customer.
    let cols = columns("marts.orders").replace(", customer_order_number", "");
    assert_eq!(differences(&db, "marts.orders", "orders", &cols), 0);
    assert_eq!(
        differences(
            &db,
            "marts.orders",
            "orders",
            "customer_id, customer_order_number"
        ),
        0
    );
    // The time spine: the last ten years, today included (dbt_date's
    // `get_base_dates(n_dateparts=3650)`).
    let (days, span): (i64, i64) = db
        .query_row(
            "select count(*), max(date_day) - min(date_day) from marts.metricflow_time_spine",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((days, span), (3651, 3650));
}
