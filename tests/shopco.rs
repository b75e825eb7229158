//! The ShopCo marts on embedded DuckDB: one revenue number, checked against
//! figures computed independently, straight from the seed CSVs, by SQL written
//! here from the definitions in shopco_models/README.md (not from the models).
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::common;
use common::{database, run, shopco_copy, stderr, stdout};

/// The raw CSVs, cleaned by the definitions, as views of an in-memory DuckDB.
fn independent(root: &Path) -> duckdb::Connection {
    let db = duckdb::Connection::open_in_memory().unwrap();
    let csv = |table: &str, types: &str| {
        format!(
            "read_csv('{}', header = true, nullstr = '', allow_quoted_nulls = false, types = {{{types}}})",
            root.join(format!("seeds/{table}.csv")).display()
        )
    };
    let sql = format!(
        "
        CREATE VIEW customers AS
        SELECT customer_id,
               coalesce(is_test_account, false)
                 OR lower(trim(email)) LIKE '%@shopco.test' AS is_test
        FROM {customers}
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1;

        CREATE VIEW orders AS
        SELECT order_id, customer_id, CAST(ordered_at AS DATE) AS order_date,
               replace(lower(trim(status)), 'canceled', 'cancelled') AS status
        FROM {orders}
        QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1;

        CREATE VIEW items AS
        SELECT order_item_id, order_id, product_id,
               quantity * unit_price - coalesce(discount, 0) AS line_revenue
        FROM {items}
        QUALIFY row_number() OVER (PARTITION BY order_item_id ORDER BY _loaded_at DESC) = 1;

        -- Shipped or completed, and not a test account's.
        CREATE VIEW revenue_orders AS
        SELECT o.order_id, o.customer_id, o.order_date,
               (SELECT coalesce(sum(i.line_revenue), 0) FROM items i WHERE i.order_id = o.order_id) AS revenue
        FROM orders o JOIN customers c USING (customer_id)
        WHERE o.status IN ('shipped', 'completed') AND NOT c.is_test;
        ",
        customers = csv("raw_customers", "'is_test_account': 'BOOLEAN', 'updated_at': 'TIMESTAMP'"),
        orders = csv("raw_orders", "'updated_at': 'TIMESTAMP', 'ordered_at': 'TIMESTAMP'"),
        items = csv(
            "raw_order_items",
            "'unit_price': 'DECIMAL(12,2)', 'discount': 'DECIMAL(12,2)', 'quantity': 'INTEGER'"
        ),
    );
    db.execute_batch(&sql).unwrap();
    db
}

/// Every mart's revenue total equals the one computed from the CSVs.
fn assert_one_revenue(built: &duckdb::Connection, raw: &duckdb::Connection, data: &str) {
    let expected = text(
        raw,
        "SELECT CAST(sum(revenue) AS VARCHAR) FROM revenue_orders",
    );
    for sql in [
        "SELECT CAST(sum(revenue) AS VARCHAR) FROM marts.fact_orders WHERE is_revenue_order",
        "SELECT CAST(sum(lifetime_revenue) AS VARCHAR) FROM marts.dim_customers",
        "SELECT CAST(sum(revenue) AS VARCHAR) FROM marts.fct_product_performance",
        "SELECT CAST(sum(revenue) AS VARCHAR) FROM marts.fct_customer_cohorts",
        "SELECT CAST(sum(monetary) AS VARCHAR) FROM marts.fct_customer_ltv",
    ] {
        assert_eq!(text(built, sql), expected, "{data}: {sql}");
    }
}

fn text(db: &duckdb::Connection, sql: &str) -> String {
    db.query_row(sql, [], |r| r.get::<_, String>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn shopco_marts_build_and_agree_with_the_raw_data() {
    let (_temp, root) = shopco_copy(&[]);
    let out = run("build", &root, &[]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{log}\n{}", stderr(&out));
    for line in [
        "OK      incremental marts.fact_orders",
        "OK      table marts.dim_customers",
        "OK      table marts.dim_products",
        "OK      table marts.fct_customer_cohorts",
        "OK      table marts.fct_product_performance",
        "OK      table marts.fct_customer_ltv",
        "PROVEN  test grain_unique_fct_customer_cohorts",
        "PROVEN  test grain_unique_fct_product_performance",
        "PROVEN  test grain_unique_int_orders_items",
        "PASS    test grain_not_null_fct_customer_cohorts_cohort_month",
        "PASS    test grain_unique_fact_orders",
        "PASS    test reconcile_revenue",
    ] {
        assert!(log.contains(line), "missing `{line}` in\n{log}");
    }
    assert!(!log.contains("FAIL") && !log.contains("ERROR"), "{log}");
    // Ephemeral models are inlined, never built.
    assert!(
        !log.lines()
            .any(|l| (l.contains(" view ") || l.contains(" table ")) && l.contains("int_")),
        "{log}"
    );

    let built = database(&root);
    let raw = independent(&root);

    // Total revenue, to the cent, and the number of revenue orders.
    assert_one_revenue(&built, &raw, "the committed seeds");
    assert_eq!(
        text(
            &built,
            "SELECT CAST(count(*) AS VARCHAR) FROM marts.fact_orders WHERE is_revenue_order"
        ),
        text(&raw, "SELECT CAST(count(*) AS VARCHAR) FROM revenue_orders"),
    );
    // Every order is in fact_orders once; every customer in dim_customers.
    assert_eq!(
        text(
            &built,
            "SELECT CAST(count(*) AS VARCHAR) FROM marts.fact_orders"
        ),
        text(&raw, "SELECT CAST(count(*) AS VARCHAR) FROM orders"),
    );

    // The top product by revenue, and its revenue.
    let top = "SELECT product_id || ' ' || CAST(sum(revenue) AS VARCHAR) FROM {} GROUP BY product_id ORDER BY sum(revenue) DESC, product_id LIMIT 1";
    assert_eq!(
        text(&built, &top.replace("{}", "marts.fct_product_performance")),
        text(
            &raw,
            &top.replace(
                "{}",
                "(SELECT i.product_id, i.line_revenue AS revenue FROM items i JOIN revenue_orders USING (order_id))"
            )
        ),
    );

    // The first cohort's month-1 retention: customers whose first revenue
    // order is in the cohort month, and how many of them ordered again in
    // the next month.
    let retention = text(
        &raw,
        "WITH firsts AS (
           SELECT customer_id, date_trunc('month', min(order_date)) AS cohort FROM revenue_orders GROUP BY customer_id),
         first_cohort AS (SELECT min(cohort) AS cohort FROM firsts),
         members AS (SELECT customer_id FROM firsts WHERE cohort = (SELECT cohort FROM first_cohort)),
         again AS (
           SELECT DISTINCT r.customer_id FROM revenue_orders r JOIN members USING (customer_id)
           WHERE date_trunc('month', r.order_date) = (SELECT cohort FROM first_cohort) + INTERVAL 1 MONTH)
         SELECT CAST(round((SELECT count(*) FROM again) / (SELECT count(*) FROM members), 4) AS VARCHAR)",
    );
    assert_eq!(
        text(
            &built,
            "SELECT CAST(round(retention_rate, 4) AS VARCHAR) FROM marts.fct_customer_cohorts
             WHERE cohort_month = (SELECT min(cohort_month) FROM marts.fct_customer_cohorts)
               AND months_since_first_order = 1"
        ),
        retention
    );
    assert_eq!(
        text(
            &built,
            "SELECT CAST(retention_rate AS VARCHAR) FROM marts.fct_customer_cohorts
             WHERE cohort_month = (SELECT min(cohort_month) FROM marts.fct_customer_cohorts)
               AND months_since_first_order = 0"
        ),
        "1.0"
    );

    // RFM codes of two customers: the biggest spender and the one who
    // lapsed longest ago.
    let rfm = "WITH c AS (
           SELECT customer_id, max(order_date) AS last_order, count(*) AS orders, sum(revenue) AS revenue
           FROM revenue_orders GROUP BY customer_id),
         s AS (
           SELECT customer_id, revenue, last_order,
                  'R' || ntile(5) OVER (ORDER BY last_order, customer_id)
               || 'F' || ntile(5) OVER (ORDER BY orders, customer_id)
               || 'M' || ntile(5) OVER (ORDER BY revenue, customer_id) AS code
           FROM c)";
    for pick in [
        "ORDER BY revenue DESC, customer_id LIMIT 1",
        "ORDER BY last_order, customer_id LIMIT 1",
    ] {
        let expected = text(
            &raw,
            &format!("{rfm} SELECT customer_id || ' ' || code FROM s {pick}"),
        );
        let customer = expected.split(' ').next().unwrap();
        let built_code = text(
            &built,
            &format!(
                "SELECT customer_id || ' ' || rfm_code FROM marts.fct_customer_ltv WHERE customer_id = {customer}"
            ),
        );
        assert_eq!(built_code, expected, "{pick}");
    }
    // The biggest spender is in the top monetary quintile; the longest lapsed
    // in the bottom recency one, and at high churn risk.
    assert!(text(&built, "SELECT rfm_code FROM marts.fct_customer_ltv ORDER BY monetary DESC, customer_id LIMIT 1").ends_with("M5"));
    assert_eq!(
        text(
            &built,
            "SELECT r_score || ' ' || churn_risk FROM marts.fct_customer_ltv ORDER BY last_order_date, customer_id LIMIT 1"
        ),
        "1 high"
    );
}

#[test]
fn a_broken_revenue_definition_fails_the_reconciliation() {
    let (_temp, root) = shopco_copy(&[]);
    // Count every order's items in product performance, not only revenue orders'.
    let file = root.join("models/marts/fct_product_performance.shop");
    let source = std::fs::read_to_string(&file).unwrap();
    let broken = source.replace(
        "  where f.is_revenue_order\n",
        "  where f.status <> 'cancelled'\n",
    );
    assert_ne!(source, broken);
    std::fs::write(&file, broken).unwrap();
    let out = run("build", &root, &[]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("FAIL 5  test reconcile_revenue"), "{log}");
    // The failure shows the five totals side by side.
    assert!(
        log.contains("fact_orders.revenue where is_revenue_order |"),
        "{log}"
    );
    assert!(log.contains("fct_product_performance.revenue"), "{log}");
}

/// What a new user might write to get item details into a mart.
#[test]
fn a_fan_out_in_a_shopco_mart_is_a_compile_error_naming_the_join() {
    let cases = [
        // A to-many join in fact_orders: the grain [order_id] no longer holds.
        (
            "models/marts/fact_orders.shop",
            "  from int_orders_customers o\n",
            "  from int_orders_customers o\n  left join stg_order_items i on i.order_id = o.order_id\n",
            "error[G001]",
        ),
        // Items joined under customers' orders: lifetime revenue double counts.
        (
            "models/marts/dim_customers.shop",
            "  group by c.customer_id\n",
            "  left join stg_order_items i on i.order_id = f.order_id\n  group by c.customer_id\n",
            "error[J001]",
        ),
    ];
    for (path, from, to, code) in cases {
        let (_temp, root) = shopco_copy(&["seeds"]);
        let file = root.join(path);
        let source = std::fs::read_to_string(&file).unwrap();
        assert!(source.contains(from), "{path}");
        std::fs::write(&file, source.replace(from, to)).unwrap();
        let out = run("check", &root, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(code), "{err}");
        assert!(
            err.contains("left join stg_order_items i on i.order_id"),
            "{err}"
        );
        assert!(err.contains("to-many"), "{err}");
    }
}

/// The generator of ShopCo's seeds (examples/gen_shopco.rs), which `cargo
/// test` builds beside the test binaries.
fn generator() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/gen_shopco");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    path
}

fn generate(scale: u32, seed: u32, out: &Path) {
    let status = std::process::Command::new(generator())
        .args(["--scale", &scale.to_string(), "--seed", &seed.to_string()])
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Revenue is one number on other data too: ShopCo built from the
/// generator at several scales and seeds reconciles, and every mart's total
/// equals the one computed from the CSVs.
#[test]
fn shopco_reconciles_over_generated_data_at_several_scales_and_seeds() {
    for (scale, seed) in [(1, 1), (1, 2), (1, 3), (5, 7), (30, 1)] {
        let (_temp, root) = shopco_copy(&[]);
        generate(scale, seed, &root.join("seeds"));
        let out = run("build", &root, &[]);
        let log = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "scale {scale} seed {seed}:\n{log}"
        );
        assert!(log.contains("PASS    test reconcile_revenue"), "{log}");
        let (built, raw) = (database(&root), independent(&root));
        assert_one_revenue(&built, &raw, &format!("scale {scale} seed {seed}"));
    }
}

/// Replacing the extracts by unrelated ones (another seed) under an
/// existing build leaves `fact_orders`, an incremental merge since
/// `updated_at`, with the orders whose `updated_at` did not move forward:
/// the reconciliation catches it and says why, and a full refresh agrees.
#[test]
fn replaced_extracts_under_an_incremental_model_fail_the_reconciliation_with_a_hint() {
    let (_temp, root) = shopco_copy(&[]);
    common::build(&root, &[]);
    let other = root.join("other_seeds");
    generate(30, 1, &other);
    let out = run("build", &root, &["--seeds", other.to_str().unwrap()]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("FAIL 5  test reconcile_revenue"), "{log}");
    assert!(
        log.contains("hint: `fact_orders` (merged since `updated_at`) is incremental"),
        "{log}"
    );
    let log = common::build(
        &root,
        &["--seeds", other.to_str().unwrap(), "--full-refresh"],
    );
    assert!(log.contains("PASS    test reconcile_revenue"), "{log}");
}
