//! Incremental models and snapshots across runs, on embedded DuckDB: a
//! merge equals a full refresh, running twice changes nothing, a snapshot
//! keeps the exact history with one current row per key, and a failed
//! incremental build leaves the table as it was.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::common;
use common::{build, database, run, stdout};

/// Rewrites a seed CSV: `edit` gets its lines (header first).
fn edit_csv(root: &Path, table: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let path = root.join(format!("seeds/{table}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    edit(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

fn count(db: &duckdb::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Rows of `table` in one database and not in the other, both ways.
fn difference(db: &duckdb::Connection, table: &str, other: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT (SELECT count(*) FROM (SELECT * FROM {table} EXCEPT ALL SELECT * FROM {other}.{table})) \
             + (SELECT count(*) FROM (SELECT * FROM {other}.{table} EXCEPT ALL SELECT * FROM {table}))"
        ),
    )
}

#[test]
fn merged_fact_orders_equals_a_full_refresh_and_is_idempotent() {
    let (_temp, root) = common::shopco_copy(&[]);
    let first = build(&root, &[]);
    assert!(
        first.contains("OK      incremental marts.fact_orders"),
        "{first}"
    );
    assert!(first.contains("[full refresh in"), "{first}");

    // Day 2: order 1 is completed now, and a new order arrives with a line.
    edit_csv(&root, "raw_orders", |lines| {
        let fields: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(fields[0], "1");
        lines[1] = format!(
            "1,{},\"completed\",{},{},2024-07-01 00:00:00,2024-07-01 00:00:00",
            fields[1], fields[3], fields[4]
        );
        lines.push(
            "2001,5,\"shipped\",2024-06-30 12:00:00,4.99,2024-06-30 12:00:00,2024-07-01 00:00:00"
                .into(),
        );
    });
    edit_csv(&root, "raw_order_items", |lines| {
        lines.push("9001,2001,1,2,10.00,0.00,2024-07-01 00:00:00".into());
    });
    let second = build(&root, &[]);
    assert!(second.contains("[merge in"), "{second}");

    // The same data built from scratch in another database.
    let full = root.join("target/full.duckdb");
    build(
        &root,
        &["--full-refresh", "--database", full.to_str().unwrap()],
    );
    {
        let db = database(&root);
        db.execute_batch(&format!(
            "ATTACH '{}' AS rebuilt (READ_ONLY)",
            full.display()
        ))
        .unwrap();
        assert_eq!(difference(&db, "marts.fact_orders", "rebuilt"), 0);
        assert_eq!(count(&db, "SELECT count(*) FROM marts.fact_orders"), 2001);
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM marts.fact_orders WHERE order_id = 1 AND status = 'completed'"
            ),
            1
        );
        db.execute_batch("CREATE TABLE main.before AS SELECT * FROM marts.fact_orders")
            .unwrap();
    }
    // Running the same build again changes nothing.
    build(&root, &[]);
    let db = database(&root);
    assert_eq!(
        count(
            &db,
            "SELECT (SELECT count(*) FROM (SELECT * FROM marts.fact_orders EXCEPT ALL SELECT * FROM main.before)) \
             + (SELECT count(*) FROM (SELECT * FROM main.before EXCEPT ALL SELECT * FROM marts.fact_orders))"
        ),
        0
    );
}

#[test]
fn the_snapshot_keeps_exact_history_and_one_current_row_per_key() {
    let (_temp, root) = common::shopco_copy(&[]);
    let first = build(&root, &[]);
    assert!(
        first.contains("OK      snapshot snapshots.customers_snapshot"),
        "{first}"
    );
    assert!(first.contains("[created in"), "{first}");

    // A customer with no orders, to delete.
    let orders = std::fs::read_to_string(root.join("seeds/raw_orders.csv")).unwrap();
    let buyers: std::collections::HashSet<&str> = orders
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    let gone = (1..=500)
        .find(|id| !buyers.contains(id.to_string().as_str()))
        .unwrap();
    let customers = 500;

    // Day 2: customer 2 changes email and segment; customer 3's country goes
    // from a value to nothing (NULL); the customer without orders is deleted.
    edit_csv(&root, "raw_customers", |lines| {
        lines.retain(|l| !l.starts_with(&format!("{gone},")));
        lines.push("2,\"mary.new@example.com\",\"mary\",\"Garcia\",\"vip\",\"BR\",false,2024-04-13 02:11:03,2024-07-01 00:00:00,2024-07-01 00:00:00".into());
        lines.push("3,\"KENJI.OKAFOR3@EXAMPLE.COM\",\"KENJI\",\"Okafor\",\"regular\",\"\",false,2024-04-08 03:10:26,2024-07-01 00:00:00,2024-07-01 00:00:00".into());
    });
    let second = build(&root, &[]);
    assert!(second.contains("[updated in"), "{second}");
    build(&root, &[]); // a second run with nothing new

    let db = database(&root);
    let rows = |sql: &str| {
        count(
            &db,
            &format!("SELECT count(*) FROM snapshots.customers_snapshot WHERE {sql}"),
        )
    };
    assert_eq!(rows("true"), customers + 2);
    assert_eq!(rows("dbt_valid_to IS NULL"), customers - 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM (SELECT customer_id FROM snapshots.customers_snapshot WHERE dbt_valid_to IS NULL GROUP BY 1 HAVING count(*) > 1)"
        ),
        0
    );
    // Customer 2: the old version closed when the new one began.
    assert_eq!(rows("customer_id = 2"), 2);
    assert_eq!(
        rows(
            "customer_id = 2 AND dbt_valid_to IS NULL AND email = 'mary.new@example.com' AND segment = 'vip'"
        ),
        1
    );
    assert_eq!(
        rows("customer_id = 2 AND dbt_valid_to IS NOT NULL AND segment = 'regular'"),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM snapshots.customers_snapshot a JOIN snapshots.customers_snapshot b \
                    ON a.customer_id = b.customer_id AND a.dbt_valid_to = b.dbt_valid_from WHERE a.customer_id = 2"
        ),
        1
    );
    // Customer 3: a value → NULL is a change.
    assert_eq!(
        rows("customer_id = 3 AND dbt_valid_to IS NULL AND country IS NULL"),
        1
    );
    assert_eq!(
        rows("customer_id = 3 AND dbt_valid_to IS NOT NULL AND country = 'GB'"),
        1
    );
    // The deleted customer is closed (hard_deletes = "invalidate"), not removed.
    assert_eq!(rows(&format!("customer_id = {gone}")), 1);
    assert_eq!(
        rows(&format!(
            "customer_id = {gone} AND dbt_valid_to IS NOT NULL"
        )),
        1
    );
    // `shopc snapshot` runs only the snapshot.
    drop(db);
    let out = run("snapshot", &root, &[]);
    let text = stdout(&out);
    assert!(text.starts_with("Running 1 nodes"), "{text}");
    assert!(
        text.contains("OK      snapshot snapshots.customers_snapshot"),
        "{text}"
    );
}

/// A one-model project: `m` merges `raw.items` on `id`, casting `code`.
fn small_project(model_columns: &str, policy: &str) -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::create_dir_all(root.join("seeds")).unwrap();
    std::fs::write(root.join("shop.toml"), "name = \"small\"\n").unwrap();
    write_model(root, model_columns, policy);
    std::fs::write(root.join("seeds/items.csv"), "id,code\n1,10\n2,20\n").unwrap();
    temp
}

fn write_model(root: &Path, columns: &str, policy: &str) {
    std::fs::write(
        root.join("models/m.shop"),
        format!(
            "source raw {{\n table items {{ expect_key = [id]\n columns {{ id: integer, code: text }} }}\n}}\n\
             model m {{\n materialized = {{ incremental = {{ unique_key = \"id\"{policy} }} }}\n from raw.items i\n \
             columns {{ id = i.id, {columns} }}\n}}\n"
        ),
    )
    .unwrap();
}

fn table(root: &Path, sql: &str) -> Vec<String> {
    let db = duckdb::Connection::open(root.join("target/small.duckdb")).unwrap();
    let mut statement = db.prepare(sql).unwrap();
    statement
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_failed_merge_or_schema_change_leaves_the_table_as_it_was() {
    let temp = small_project("number = cast(i.code as integer)", "");
    let root = temp.path();
    build(root, &[]);
    let rows = "SELECT id || '=' || number FROM main.m ORDER BY id";
    assert_eq!(table(root, rows), ["1=10", "2=20"]);

    // Day 2 brings a code that is not a number: the merge fails as a whole.
    std::fs::write(root.join("seeds/items.csv"), "id,code\n1,11\n2,20\n3,x\n").unwrap();
    let out = run("build", root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ERROR   incremental main.m"), "{text}");
    assert_eq!(table(root, rows), ["1=10", "2=20"]);

    // A new column: the default policy stops and says what to do.
    std::fs::write(root.join("seeds/items.csv"), "id,code\n1,11\n2,20\n3,30\n").unwrap();
    write_model(
        root,
        "number = cast(i.code as integer), doubled = cast(i.code as integer) * 2",
        "",
    );
    let out = run("build", root, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("new columns `doubled`"), "{text}");
    assert!(text.contains("--full-refresh"), "{text}");
    assert_eq!(table(root, rows), ["1=10", "2=20"]);

    // append_new_columns adds it, then merges.
    write_model(
        root,
        "number = cast(i.code as integer), doubled = cast(i.code as integer) * 2",
        ", on_schema_change = \"append_new_columns\"",
    );
    let text = build(root, &[]);
    assert!(text.contains("[merge in"), "{text}");
    assert_eq!(
        table(
            root,
            "SELECT id || '=' || number || '/' || doubled FROM main.m ORDER BY id"
        ),
        ["1=11/22", "2=20/40", "3=30/60"]
    );

    // sync_all_columns also drops what the model no longer has.
    write_model(
        root,
        "doubled = cast(i.code as integer) * 2",
        ", on_schema_change = \"sync_all_columns\"",
    );
    build(root, &[]);
    assert_eq!(
        table(
            root,
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'm'"
        ),
        ["id,doubled"]
    );
    let text = build(root, &["--full-refresh"]);
    assert!(text.contains("[full refresh in"), "{text}");
}

/// Independent of shopc: the versions a check snapshot of email, segment
/// and country must hold after loading days 1 to 3, from the raw CSVs.
fn expected_versions(root: &Path) -> (i64, i64) {
    let db = duckdb::Connection::open_in_memory().unwrap();
    let read = |dir: &str| {
        format!(
            "read_csv('{}', header = true, all_varchar = true, allow_quoted_nulls = false)",
            root.join(dir).join("raw_customers.csv").display()
        )
    };
    let sql = format!(
        "WITH raw AS (SELECT 1 AS day, * FROM {} UNION ALL SELECT 2, * FROM {} UNION ALL SELECT 3, * FROM {}),
         states AS (
           SELECT day, customer_id, lower(trim(email)) AS e,
                  coalesce(nullif(lower(trim(segment)), ''), 'unknown') AS s,
                  upper(nullif(trim(country), '')) AS c
           FROM raw
           QUALIFY row_number() OVER (PARTITION BY day, customer_id ORDER BY updated_at DESC) = 1),
         versions AS (
           SELECT lag(e) OVER w IS DISTINCT FROM e OR lag(s) OVER w IS DISTINCT FROM s
                  OR lag(c) OVER w IS DISTINCT FROM c AS new_version
           FROM states WINDOW w AS (PARTITION BY customer_id ORDER BY day))
         SELECT (SELECT count(*) FROM versions WHERE new_version),
                (SELECT count(*) FROM states WHERE day = 3)",
        read("seeds"),
        read("days/day2"),
        read("days/day3")
    );
    db.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

#[test]
fn three_days_of_shopco_equal_a_full_refresh_and_keep_history() {
    let (_temp, root) = common::shopco_copy(&[]);
    let day = |n: u32| root.join(format!("days/day{n}"));
    build(&root, &[]);
    let second = build(&root, &["--seeds", day(2).to_str().unwrap()]);
    assert!(
        second.contains("OK      incremental marts.fact_orders"),
        "{second}"
    );
    assert!(second.contains("[merge in"), "{second}");
    assert!(second.contains("[append in"), "{second}");
    build(&root, &["--seeds", day(3).to_str().unwrap()]);

    // Day 3 built from scratch in another database.
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
    let compare = |root: &Path| {
        let db = database(root);
        db.execute_batch(&format!(
            "ATTACH '{}' AS rebuilt (READ_ONLY)",
            full.display()
        ))
        .unwrap();
        for table in ["marts.fact_orders", "staging.stg_web_events"] {
            assert_eq!(difference(&db, table, "rebuilt"), 0, "{table}");
        }
        (
            count(&db, "SELECT count(*) FROM marts.fact_orders"),
            count(&db, "SELECT count(*) FROM staging.stg_web_events"),
            count(&db, "SELECT count(*) FROM snapshots.customers_snapshot"),
        )
    };
    let after_day3 = compare(&root);
    // 2,000 + 30 + 30 orders; events of three days without duplicates.
    assert_eq!(after_day3.0, 2060);
    assert!(after_day3.1 > 3000 + 200, "{after_day3:?}");

    // The snapshot holds exactly the history the raw extracts imply.
    let (versions, customers) = expected_versions(&root);
    assert_eq!(after_day3.2, versions);
    assert!(
        versions > customers + 20,
        "{versions} versions of {customers} customers"
    );
    {
        let db = database(&root);
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM snapshots.customers_snapshot WHERE dbt_valid_to IS NULL"
            ),
            customers
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM (SELECT customer_id FROM snapshots.customers_snapshot \
                        WHERE dbt_valid_to IS NULL GROUP BY 1 HAVING count(*) > 1)"
            ),
            0
        );
        // Customer 501 signed up on day 2 and was deleted on day 3: closed.
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM snapshots.customers_snapshot WHERE customer_id = 501 AND dbt_valid_to IS NOT NULL"
            ),
            1
        );
    }

    // Running day 3 again changes nothing.
    build(&root, &["--seeds", day(3).to_str().unwrap()]);
    assert_eq!(compare(&root), after_day3);
}

#[test]
fn timestamp_and_check_all_snapshots_record_deletions_as_asked() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::create_dir_all(root.join("seeds")).unwrap();
    std::fs::write(root.join("shop.toml"), "name = \"small\"\n").unwrap();
    std::fs::write(
        root.join("models/people.shop"),
        "source raw {\n table people { columns { id: integer, name: text, tier: text, changed_at: timestamp } }\n}\n\
         model people {\n grain = [id]\n from raw.people p\n dedupe on p.id keep latest by p.changed_at\n \
         columns { id = p.id, name = p.name, tier = p.tier, changed_at = p.changed_at }\n}\n\
         snapshot by_time {\n from people\n unique_key = id\n strategy = { timestamp = changed_at }\n hard_deletes = \"new_record\"\n}\n\
         snapshot by_all {\n from people\n unique_key = id\n strategy = { check = \"all\" }\n}\n",
    )
    .unwrap();
    let day = |rows: &str| {
        std::fs::write(
            root.join("seeds/people.csv"),
            format!("id,name,tier,changed_at\n{rows}"),
        )
        .unwrap();
        build(root, &[]);
    };
    let db = || duckdb::Connection::open(root.join("target/small.duckdb")).unwrap();
    let rows = |table: &str, filter: &str| {
        count(
            &db(),
            &format!("SELECT count(*) FROM snapshots.{table} WHERE {filter}"),
        )
    };
    day(
        "1,a,gold,2024-01-01 00:00:00\n2,b,silver,2024-01-01 00:00:00\n3,c,bronze,2024-01-01 00:00:00\n",
    );
    // Day 2: 1 moves up a tier, 3 is deleted, 4 arrives.
    day(
        "1,a,platinum,2024-01-02 00:00:00\n2,b,silver,2024-01-01 00:00:00\n4,d,gold,2024-01-02 00:00:00\n",
    );
    // Timestamp strategy: the old version of 1 closes at the new one's time.
    assert_eq!(rows("by_time", "id = 1"), 2);
    assert_eq!(
        rows(
            "by_time",
            "id = 1 AND tier = 'gold' AND dbt_valid_to = TIMESTAMP '2024-01-02 00:00:00'"
        ),
        1
    );
    assert_eq!(
        rows(
            "by_time",
            "id = 1 AND tier = 'platinum' AND dbt_valid_from = TIMESTAMP '2024-01-02 00:00:00' AND dbt_valid_to IS NULL"
        ),
        1
    );
    // new_record: the deletion is a current row of its own.
    assert_eq!(rows("by_time", "id = 3"), 2);
    assert_eq!(
        rows(
            "by_time",
            "id = 3 AND dbt_valid_to IS NULL AND dbt_is_deleted AND name IS NULL"
        ),
        1
    );
    assert_eq!(rows("by_time", "true"), 6);
    // Check all, deletions ignored: 3 stays current.
    assert_eq!(rows("by_all", "true"), 5);
    assert_eq!(rows("by_all", "id = 3 AND dbt_valid_to IS NULL"), 1);

    // Day 3: 3 comes back.
    day(
        "1,a,platinum,2024-01-02 00:00:00\n2,b,silver,2024-01-01 00:00:00\n3,c,bronze,2024-01-03 00:00:00\n4,d,gold,2024-01-02 00:00:00\n",
    );
    assert_eq!(rows("by_time", "id = 3"), 3);
    assert_eq!(
        rows(
            "by_time",
            "id = 3 AND dbt_valid_to IS NULL AND NOT dbt_is_deleted AND name = 'c'"
        ),
        1
    );
    assert_eq!(rows("by_all", "id = 3"), 2);
    for table in ["by_time", "by_all"] {
        assert_eq!(rows(table, "dbt_valid_to IS NULL"), 4, "{table}");
    }
    // Nothing new: nothing changes.
    day(
        "1,a,platinum,2024-01-02 00:00:00\n2,b,silver,2024-01-01 00:00:00\n3,c,bronze,2024-01-03 00:00:00\n4,d,gold,2024-01-02 00:00:00\n",
    );
    assert_eq!(rows("by_time", "true"), 7);
    assert_eq!(rows("by_all", "true"), 6);
}

/// A timestamp snapshot over a relation of versions records every change of
/// a key, however many happened between two runs: after days 1, 2 and 3 it
/// holds each version of the raw extracts once, each valid until the next —
/// the same history a single build over day 3 derives — with one current
/// row per customer still there.
#[test]
fn a_timestamp_snapshot_records_every_version_between_runs() {
    let (_temp, root) = common::shopco_copy(&[]);
    std::fs::write(
        root.join("snapshots/customer_versions.shop"),
        "snapshot customer_versions {\n  from raw.raw_customers\n  unique_key = customer_id\n  \
         strategy = { timestamp = updated_at }\n  hard_deletes = \"invalidate\"\n}\n",
    )
    .unwrap();
    let day = |n: u32| root.join(format!("days/day{n}"));
    build(&root, &[]);
    build(&root, &["--seeds", day(2).to_str().unwrap()]);
    build(&root, &["--seeds", day(3).to_str().unwrap()]);
    let once = root.join("target/once.duckdb");
    build(
        &root,
        &[
            "--seeds",
            day(3).to_str().unwrap(),
            "--database",
            once.to_str().unwrap(),
        ],
    );

    let db = database(&root);
    // Every version of the three extracts, independently of shopc.
    let read = |dir: &Path| {
        format!(
            "SELECT customer_id, updated_at FROM read_csv('{}', header = true, all_varchar = true)",
            dir.join("raw_customers.csv").display()
        )
    };
    let versions = count(
        &db,
        &format!(
            "SELECT count(*) FROM ({} UNION {} UNION {})",
            read(&root.join("seeds")),
            read(&day(2)),
            read(&day(3))
        ),
    );
    let history = "snapshots.customer_versions";
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM {history}")),
        versions
    );
    // Ten customers changed twice during day 2: both versions are there.
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM {history} WHERE dbt_valid_from = TIMESTAMP '2024-06-29 09:00:00' \
                 AND dbt_valid_to = TIMESTAMP '2024-06-29 15:00:00'"
            )
        ),
        10
    );
    // Each version is valid until the next one of its key.
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM (SELECT dbt_valid_to, lead(dbt_valid_from) OVER \
                 (PARTITION BY customer_id ORDER BY dbt_valid_from) AS next FROM {history}) \
                 WHERE next IS NOT NULL AND dbt_valid_to IS DISTINCT FROM next"
            )
        ),
        0
    );
    // One current row per customer of day 3; the deleted one has none.
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM {history} WHERE dbt_valid_to IS NULL")
        ),
        count(
            &db,
            &format!(
                "SELECT count(DISTINCT customer_id) FROM ({})",
                read(&day(3))
            )
        )
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM {history} WHERE customer_id = 501 AND dbt_valid_to IS NULL"
            )
        ),
        0
    );
    // Three runs kept the history one run over day 3 derives (but for the
    // customer deleted on day 3, whom that run never saw).
    db.execute_batch(&format!("ATTACH '{}' AS once (READ_ONLY)", once.display()))
        .unwrap();
    let columns = "customer_id, email, segment, updated_at, dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to";
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM (\
                 (SELECT {columns} FROM {history} WHERE customer_id <> 501 EXCEPT ALL SELECT {columns} FROM once.{history}) \
                 UNION ALL (SELECT {columns} FROM once.{history} EXCEPT ALL SELECT {columns} FROM {history}))"
            )
        ),
        0
    );
    drop(db);

    // Loading day 3 again changes nothing.
    build(&root, &["--seeds", day(3).to_str().unwrap()]);
    assert_eq!(
        count(&database(&root), &format!("SELECT count(*) FROM {history}")),
        versions
    );
}
