//! `shopc seed | run | test | build` on embedded DuckDB, checked against
//! figures computed independently from the seed CSVs.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::common;
use common::{database, run, stdout};

fn shopco_copy() -> (tempfile::TempDir, PathBuf) {
    common::shopco_copy(&[])
}

/// An empty project folder with `models/` and `seeds/`, for fixtures built in the test.
fn small_project() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(temp.path().join("models")).unwrap();
    std::fs::create_dir_all(temp.path().join("seeds")).unwrap();
    temp
}

fn scalar(db: &duckdb::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Rows of a seed CSV as maps from column name to raw text.
fn csv_rows(root: &Path, table: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(root.join(format!("seeds/{table}.csv"))).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn distinct(rows: &[HashMap<String, String>], column: &str) -> HashSet<String> {
    rows.iter().map(|r| r[column].clone()).collect()
}

#[test]
fn build_shopco_cleans_every_defect() {
    let (_temp, root) = shopco_copy();
    let out = run("build", &root, &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A progress line per node and a summary.
    assert!(text.contains("OK      seed raw.raw_customers"), "{text}");
    assert!(text.contains("OK      view staging.stg_orders"), "{text}");
    assert!(
        text.contains("PASS    test accepted_values_stg_orders_status"),
        "{text}"
    );
    assert!(
        text.contains("PASS    test grain_unique_stg_web_events"),
        "{text}"
    );
    assert!(text.contains("Finished in"), "{text}");
    assert!(text.contains(" 0 errors, "), "{text}");

    let db = database(&root);
    let customers = csv_rows(&root, "raw_customers");
    let orders = csv_rows(&root, "raw_orders");
    let items = csv_rows(&root, "raw_order_items");
    let products = csv_rows(&root, "raw_products");
    let events = csv_rows(&root, "raw_web_events");

    // Staging row counts equal the distinct valid keys of the raw data.
    let order_ids = distinct(&orders, "order_id");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM staging.stg_customers") as usize,
        distinct(&customers, "customer_id").len()
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM staging.stg_orders") as usize,
        order_ids.len()
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM staging.stg_products") as usize,
        distinct(&products, "product_id").len()
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM staging.stg_web_events") as usize,
        distinct(&events, "event_id").len()
    );
    let orphans: HashSet<String> = items
        .iter()
        .filter(|r| !order_ids.contains(&r["order_id"]))
        .map(|r| r["order_item_id"].clone())
        .collect();
    assert!(
        !orphans.is_empty(),
        "the seed must contain orphan order items"
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM staging.stg_order_items") as usize,
        distinct(&items, "order_item_id").len()
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM staging.stg_order_items WHERE is_orphan"
        ) as usize,
        orphans.len()
    );

    // Test accounts are flagged, by flag or by email domain.
    let test_accounts: HashSet<&String> = customers
        .iter()
        .filter(|r| {
            r["is_test_account"] == "true"
                || r["email"].trim().to_lowercase().ends_with("@shopco.test")
        })
        .map(|r| &r["customer_id"])
        .collect();
    assert!(!test_accounts.is_empty());
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM staging.stg_customers WHERE is_test_account"
        ) as usize,
        test_accounts.len()
    );

    // Raw data really is broken, and staging really is clean.
    assert!(
        events.len() > distinct(&events, "event_id").len(),
        "the seed must contain duplicate events"
    );
    assert!(
        customers
            .iter()
            .any(|r| r["email"] != r["email"].trim().to_lowercase())
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM staging.stg_customers WHERE email <> lower(email) OR email <> trim(email) OR email LIKE '% %'"
        ),
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM staging.stg_orders WHERE status NOT IN ('placed', 'shipped', 'completed', 'returned', 'cancelled')"
        ),
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) - count(DISTINCT event_id) FROM staging.stg_web_events"
        ),
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM staging.stg_customers WHERE segment NOT IN ('vip', 'regular', 'unknown')"
        ),
        0
    );

    // The latest version of each customer wins the dedupe: compare emails.
    let mut latest: HashMap<String, (String, String)> = HashMap::new();
    for r in &customers {
        let entry = latest
            .entry(r["customer_id"].clone())
            .or_insert((String::new(), String::new()));
        if r["updated_at"] > entry.0 {
            *entry = (r["updated_at"].clone(), r["email"].trim().to_lowercase());
        }
    }
    let mut statement = db
        .prepare("SELECT CAST(customer_id AS VARCHAR), email FROM staging.stg_customers")
        .unwrap();
    let built: HashMap<String, String> = statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, (_, email)) in &latest {
        assert_eq!(&built[id], email, "customer {id}");
    }

    // Anonymous events keep a NULL customer and are flagged.
    let anonymous = events
        .iter()
        .filter(|r| r["customer_id"].is_empty())
        .map(|r| &r["event_id"])
        .collect::<HashSet<_>>();
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM staging.stg_web_events WHERE is_anonymous"
        ) as usize,
        anonymous.len()
    );
}

#[test]
fn a_broken_row_fails_its_test_with_sample_rows() {
    let (_temp, root) = shopco_copy();
    let path = root.join("seeds/raw_orders.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = lines[3].replacen(
        &lines[3].split(',').nth(2).unwrap().to_string(),
        "\"pending\"",
        1,
    );
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    assert_eq!(run("seed", &root, &[]).status.code(), Some(0));
    assert_eq!(run("run", &root, &[]).status.code(), Some(0));
    let out = run("test", &root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL 1  test accepted_values_stg_orders_status"),
        "{text}"
    );
    assert!(text.contains("pending"), "{text}");

    // In `build`, the failing test skips what depends on stg_orders.
    let out = run("build", &root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("SKIP    view staging.stg_order_items"),
        "{text}"
    );
}

#[test]
fn a_claimed_source_key_is_tested_before_anything_reads_it() {
    let (_temp, root) = shopco_copy();
    // Order 7 arrives twice: `expect_key = [order_id]` no longer holds.
    let path = root.join("seeds/raw_orders.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let again = text
        .lines()
        .find(|l| l.starts_with("7,"))
        .unwrap()
        .to_string();
    std::fs::write(&path, format!("{text}{again}\n")).unwrap();

    let out = run("build", &root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL 1  test expect_key_unique_raw_raw_orders"),
        "{text}"
    );
    assert!(
        text.contains("PASS    test expect_key_not_null_raw_raw_orders_order_id"),
        "{text}"
    );
    // Everything built on the broken claim waits; the rest is built.
    assert!(text.contains("SKIP    view staging.stg_orders"), "{text}");
    assert!(
        text.contains("SKIP    incremental marts.fact_orders"),
        "{text}"
    );
    assert!(text.contains("OK      view staging.stg_products"), "{text}");
}

#[test]
fn a_bad_seed_row_fails_with_file_and_line_and_loads_nothing() {
    let (_temp, root) = shopco_copy();
    assert_eq!(run("seed", &root, &[]).status.code(), Some(0));
    let before = scalar(&database(&root), "SELECT count(*) FROM raw.raw_order_items");

    let path = root.join("seeds/raw_order_items.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<String> = lines[41].split(',').map(String::from).collect();
    fields[3] = "three".into();
    lines[41] = fields.join(",");
    lines.push("99999,1,1,1,1.00,0.00,2024-06-29 00:00:00".into());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let out = run("seed", &root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("raw_order_items.csv:42: column `quantity`: \"three\" is not an integer"),
        "{text}"
    );
    assert_eq!(
        scalar(&database(&root), "SELECT count(*) FROM raw.raw_order_items"),
        before
    );
}

#[test]
fn a_failed_table_build_leaves_the_previous_table() {
    let temp = small_project();
    let root = temp.path();
    std::fs::write(root.join("shop.toml"), "name = \"swap\"\n").unwrap();
    std::fs::write(
        root.join("seeds/things.csv"),
        "id,code\n1,\"10\"\n2,\"20\"\n",
    )
    .unwrap();
    let model = |expr: &str| {
        format!(
            "source raw {{\n  table things {{ columns {{ id: integer, code: text }} }}\n}}\n\
             model codes {{\n  materialized = \"table\"\n  from raw.things t\n  columns {{ id = t.id, code = {expr} }}\n}}\n"
        )
    };
    std::fs::write(root.join("models/m.shop"), model("cast(t.code as integer)")).unwrap();
    let out = run("build", root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        scalar(
            &duckdb::Connection::open(root.join("target/swap.duckdb")).unwrap(),
            "SELECT sum(code) FROM main.codes"
        ),
        30
    );

    // New data that makes the table's query fail at run time.
    std::fs::write(
        root.join("seeds/things.csv"),
        "id,code\n1,\"10\"\n2,\"twenty\"\n",
    )
    .unwrap();
    let out = run("build", root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ERROR   table main.codes"), "{text}");
    let db = duckdb::Connection::open(root.join("target/swap.duckdb")).unwrap();
    assert_eq!(
        scalar(&db, "SELECT sum(code) FROM main.codes"),
        30,
        "the previous table is intact"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%__shopc_new'"
        ),
        0,
        "the failed statement left no scratch table behind"
    );
}

#[test]
fn select_and_exclude_limit_the_nodes() {
    let (_temp, root) = shopco_copy();
    assert_eq!(run("seed", &root, &[]).status.code(), Some(0));
    let out = run(
        "run",
        &root,
        &["--select", "+stg_order_items", "--exclude", "stg_products"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("view staging.stg_orders"), "{text}");
    assert!(text.contains("view staging.stg_order_items"), "{text}");
    assert!(!text.contains("stg_customers"), "{text}");
    assert!(!text.contains("stg_products"), "{text}");

    let out = run("run", &root, &["--select", "stg_ordrs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `stg_orders`?"));
}

#[test]
fn compile_writes_sql_files() {
    let (_temp, root) = shopco_copy();
    let out = run("compile", &root, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = std::fs::read_to_string(root.join("target/compiled/stg_orders.sql")).unwrap();
    assert!(sql.starts_with("-- shopc "), "{sql}");
    assert!(
        sql.contains("CREATE OR REPLACE VIEW \"staging\".\"stg_orders\""),
        "{sql}"
    );
    assert!(
        root.join("target/compiled/tests/accepted_values_stg_orders_status.sql")
            .exists()
    );
}

#[test]
fn ephemeral_models_are_inlined_and_still_tested() {
    let temp = small_project();
    let root = temp.path();
    std::fs::write(
        root.join("shop.toml"),
        "name = \"eph\"\n[layers.intermediate]\nmaterialized = \"ephemeral\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("seeds/sales.csv"),
        "id,shop,amount\n1,\"a\",10\n2,\"a\",5\n3,\"b\",7\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/m.shop"),
        "source raw {\n  table sales { columns { id: integer, shop: text, amount: integer } }\n}\n\
         model shop_totals {\n  layer = \"intermediate\"\n  grain = [shop]\n  from raw.sales s\n  group by s.shop\n  \
         dimensions { shop = s.shop }\n  measures { total = sum(s.amount) }\n  tests { not_null(total) }\n}\n\
         model big_shops {\n  materialized = \"table\"\n  from shop_totals t\n  where t.total > 8\n  columns { shop = t.shop, total = t.total }\n}\n",
    )
    .unwrap();
    let out = run("build", root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("PROVEN  test grain_unique_shop_totals"),
        "{text}"
    );
    assert!(
        !text.contains("view main.shop_totals") && !text.contains("table main.shop_totals"),
        "{text}"
    );
    let db = duckdb::Connection::open(root.join("target/eph.duckdb")).unwrap();
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'shop_totals'"
        ),
        0
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM main.big_shops"), 1);
    assert_eq!(
        scalar(&db, "SELECT total FROM main.big_shops WHERE shop = 'a'"),
        15
    );
}

#[test]
fn an_inner_join_that_drops_rows_is_counted_by_a_derived_warning_test() {
    let temp = small_project();
    let root = temp.path();
    std::fs::write(root.join("shop.toml"), "name = \"loss\"\n").unwrap();
    std::fs::write(
        root.join("seeds/customers.csv"),
        "customer_id,email\n1,\"a@x\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("seeds/orders.csv"),
        "order_id,customer_id\n10,1\n11,2\n12,2\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/m.shop"),
        "source raw {\n  table customers { expect_key = [customer_id]\n    columns { customer_id: integer, email: text } }\n  \
         table orders { expect_key = [order_id]\n    columns { order_id: integer, customer_id: integer } }\n}\n\
         model order_emails {\n  from raw.orders o\n  join raw.customers c on c.customer_id = o.customer_id\n  \
         columns { order_id = o.order_id, email = c.email }\n}\n",
    )
    .unwrap();
    let out = run("build", root, &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not fail the build:\n{text}"
    );
    assert!(
        text.contains("WARN 2  test join_relationships_order_emails_c"),
        "{text}"
    );
    assert!(text.contains(" 1 warning, 0 errors"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning[J002]"));
}

/// The status of every node of a run, by node: `OK view staging.stg_orders`.
fn statuses(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        // Nodes only: unit tests, which run first, are not nodes.
        .filter(|l| l.contains(" of ") && l.contains(" ...") && !l.contains(" unit_test "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            // `12 of 72 STATUS [n] kind name ....`
            let status = words[3];
            let rest: Vec<&str> = words[4..]
                .iter()
                .copied()
                .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
                .take(2)
                .collect();
            (rest.join(" "), status.to_string())
        })
        .collect()
}

#[test]
fn threads_run_independent_nodes_and_a_failure_skips_only_its_descendants() {
    let (_temp, root) = shopco_copy();
    let path = root.join("seeds/raw_products.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("449.64", "lots", 1)).unwrap();

    let one = stdout(&run("build", &root, &["--threads", "1"]));
    let four = stdout(&run("build", &root, &["--threads", "4"]));
    assert!(
        four.contains("on duckdb") && four.contains("with 4 threads"),
        "{four}"
    );
    assert!(one.contains("with 1 thread\n"), "{one}");
    // One line per node, whatever the interleaving, and the same outcomes.
    let (by_one, by_four) = (statuses(&one), statuses(&four));
    assert_eq!(by_four.len(), 72, "{four}");
    assert_eq!(by_one, by_four);
    assert_eq!(by_four["seed raw.raw_products"], "ERROR");
    for skipped in [
        "view staging.stg_products",
        "table marts.dim_products",
        "table marts.fct_product_performance",
    ] {
        assert_eq!(by_four[skipped], "SKIP", "{skipped}\n{four}");
    }
    // Nothing else depends on products: the rest is built.
    for built in [
        "incremental marts.fact_orders",
        "table marts.dim_customers",
        "table marts.fct_customer_ltv",
        "incremental staging.stg_web_events",
        "snapshot snapshots.customers_snapshot",
    ] {
        assert_eq!(by_four[built], "OK", "{built}\n{four}");
    }
    assert!(
        four.contains("1 error, ") && four.contains("skipped"),
        "{four}"
    );
}

/// A failing relationships test holds back exactly what reads both of its
/// relations, whatever `--threads`: the statuses of every node are the
/// same with 1, 2 and 4 threads.
#[test]
fn a_failing_relationships_test_blocks_the_same_nodes_at_any_thread_count() {
    let (_temp, root) = shopco_copy();
    // Product 67 disappears; order lines still sell it.
    let path = root.join("seeds/raw_products.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("67,")).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();

    let runs: Vec<_> = ["1", "2", "4"]
        .iter()
        .map(|n| {
            let db = format!("target/threads{n}.duckdb");
            let out = stdout(&run("build", &root, &["--threads", n, "--database", &db]));
            (n, statuses(&out), out)
        })
        .collect();
    let (_, first, text) = &runs[0];
    assert!(
        first["test relationships_stg_order_items_product_id__stg_products_product_id"]
            .starts_with("FAIL"),
        "{text}"
    );
    // It reads stg_order_items and stg_products: what reads both waits for it.
    assert_eq!(
        first["table marts.fct_product_performance"], "SKIP",
        "{text}"
    );
    // What reads only one of them does not.
    assert_eq!(first["incremental marts.fact_orders"], "OK", "{text}");
    assert_eq!(first["table marts.dim_products"], "OK", "{text}");
    for (n, statuses, text) in &runs[1..] {
        assert_eq!(
            statuses, first,
            "--threads {n} differs from --threads 1:\n{text}"
        );
    }
}

/// A test that reads a relation this command neither selects nor builds,
/// and that does not exist yet, is skipped with that reason: it holds back
/// nothing (dbt builds the rest).
#[test]
fn a_test_reading_a_missing_unselected_relation_is_skipped() {
    let (_temp, root) = shopco_copy();
    let out = run("build", &root, &["-s", "+fct_customer_ltv"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let statuses = statuses(&text);
    assert_eq!(
        statuses["test relationships_stg_order_items_product_id__stg_products_product_id"], "SKIP",
        "{text}"
    );
    assert!(
        text.contains("reads staging.stg_products, which is not selected and does not exist"),
        "{text}"
    );
    assert_eq!(statuses["table marts.fct_customer_ltv"], "OK", "{text}");
    assert!(!statuses.values().any(|s| s == "ERROR"), "{text}");
}

/// What `emit` writes is what `run` executes, and runs by hand: every
/// `MODEL.build.sql` (transaction and drop of the old table included) and
/// `MODEL.refill.sql`, run twice in a row over a built ShopCo, leaves every
/// relation as `shopc build` made it.
#[test]
fn emitted_build_files_run_twice_in_a_row_on_duckdb() {
    let (_temp, root) = shopco_copy();
    common::build(&root, &[]);
    let db_path = root.join("target/shopco.duckdb");
    let before = common::compare::contents_of(&db_path);
    let mut warehouse = shopc::warehouse::DuckDbWarehouse::open(&db_path).unwrap();
    let ran = common::run_emitted_builds(&root, "duckdb", &mut warehouse);
    assert!(ran >= 12, "{ran} files");
    drop(warehouse);
    assert_eq!(common::compare::contents_of(&db_path), before);
}
