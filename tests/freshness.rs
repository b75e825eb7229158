//! Source freshness on DuckDB and PostgreSQL: ShopCo's extracts written by
//! the generator as if loaded some hours ago, measured against the
//! warehouse's clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use crate::common;

/// The generator of ShopCo's seeds (examples/gen_shopco.rs), which `cargo
/// test` builds beside the test binaries.
fn generator() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/gen_shopco")
}

/// Day 2's extracts, written into `dir` as if loaded `hours` ago.
fn day_loaded_hours_ago(dir: &Path, hours: i64) -> PathBuf {
    let out = dir.join(format!("loaded_{hours}h_ago"));
    let at = chrono::Utc::now() - chrono::Duration::hours(hours);
    let status = std::process::Command::new(generator())
        .args(["--day", "2", "--loaded-at"])
        .arg(at.format("%Y-%m-%d %H:%M:%S").to_string())
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn freshness(root: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = common::run_in("source", &["freshness"], root, extra);
    let text = common::stdout(&out);
    (out.status.code(), format!("{text}{}", common::stderr(&out)))
}

/// Each progress line's status and relation, in order.
fn statuses(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| {
            l.contains(" freshness of ") && l.trim_start().starts_with(|c: char| c.is_ascii_digit())
        })
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[3].to_string(), words[6].to_string())
        })
        .collect()
}

fn sources_json(root: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root.join("target/sources.json")).unwrap())
        .unwrap()
}

#[test]
fn a_day_loaded_13_hours_ago_warns_and_one_loaded_30_hours_ago_errors() {
    let (temp, root) = common::shopco_copy(&[]);
    // Loaded an hour ago: every table passes.
    let fresh = day_loaded_hours_ago(temp.path(), 1);
    common::build(&root, &["--seeds", fresh.to_str().unwrap()]);
    let (code, text) = freshness(&root, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("PASS    freshness of raw.raw_orders ......"),
        "{text}"
    );
    // Orders land 19 minutes into the load.
    assert!(
        text.contains(" ago (warn after 12h, error after 1d)]"),
        "{text}"
    );

    // 13 hours: past `warn_after = "12h"`; the catalogue, loaded a day
    // earlier, is within its own 3 days.
    let stale = day_loaded_hours_ago(temp.path(), 13);
    common::build(&root, &["--seeds", stale.to_str().unwrap()]);
    let (code, text) = freshness(&root, &[]);
    assert_eq!(code, Some(0), "warnings exit 0:\n{text}");
    assert_eq!(
        statuses(&text),
        [
            ("WARN", "raw.raw_customers"),
            ("WARN", "raw.raw_orders"),
            ("WARN", "raw.raw_order_items"),
            ("PASS", "raw.raw_products"),
            ("WARN", "raw.raw_web_events"),
        ]
        .map(|(s, n)| (s.to_string(), n.to_string()))
    );
    assert!(text.contains("[loaded 12h 4"), "{text}");
    assert!(
        text.contains("Finished in") && text.contains("1 pass, 4 warn, 0 errors, 0 skipped"),
        "{text}"
    );
    let (code, _) = freshness(&root, &["--warn-error"]);
    assert_eq!(code, Some(1));

    // 30 hours: past `error_after = "24h"`.
    let older = day_loaded_hours_ago(temp.path(), 30);
    common::build(&root, &["--seeds", older.to_str().unwrap()]);
    let (code, text) = freshness(&root, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("ERROR   freshness of raw.raw_orders"),
        "{text}"
    );
    assert!(
        text.contains("[loaded 1d 5h ago (warn after 12h, error after 1d)]"),
        "{text}"
    );
    // target/sources.json says the same, field by field.
    let json = sources_json(&root);
    assert_eq!(json["metadata"]["environment"], "prod");
    let orders = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "raw.raw_orders")
        .unwrap();
    assert_eq!(orders["unique_id"], "source.shopco.raw.raw_orders");
    assert_eq!(orders["status"], "error");
    assert_eq!(orders["physical"], "raw.raw_orders");
    assert_eq!(orders["warn_after_seconds"], 43_200);
    assert_eq!(orders["error_after_seconds"], 86_400);
    let age = orders["age_seconds"].as_i64().unwrap();
    // 30 hours, less the 19 minutes the orders land after the load starts.
    assert!(
        (29 * 3600 + 40 * 60..29 * 3600 + 45 * 60).contains(&age),
        "{age}"
    );
    assert!(
        orders["max_loaded_at"]
            .as_str()
            .is_some_and(|t| t.len() >= 19),
        "{orders}"
    );

    // A selection measures only what it names.
    let (code, text) = freshness(&root, &["-s", "raw.raw_products"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(statuses(&text).len(), 1, "{text}");
}

#[test]
fn build_check_freshness_skips_what_reads_a_stale_source() {
    let (temp, root) = common::shopco_copy(&[]);
    let older = day_loaded_hours_ago(temp.path(), 30);
    let seeds = older.to_str().unwrap();
    common::build(&root, &["--seeds", seeds]);
    let out = common::run("build", &root, &["--seeds", seeds, "--check-freshness"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Freshness first, then the build without what reads the stale tables.
    let checked = text
        .find("Checking the freshness of 5 source tables")
        .unwrap();
    let running = text.find("Running ").unwrap();
    assert!(checked < running, "{text}");
    assert!(text.contains("SKIP    view staging.stg_orders"), "{text}");
    assert!(
        text.contains("[source raw.raw_orders is stale: loaded 1d 5h ago"),
        "{text}"
    );
    assert!(
        text.contains("SKIP    incremental marts.fact_orders"),
        "{text}"
    );
    assert!(text.contains("4 errors"), "{text}");
    // The catalogue is fresh enough: what reads only it is built.
    assert!(text.contains("OK      view staging.stg_products"), "{text}");
    // The seeds still load (they are the loader here).
    assert!(text.contains("OK      seed raw.raw_orders"), "{text}");
    // Each stale table is an error of the run.
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let errors: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "source")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            "raw.raw_customers",
            "raw.raw_orders",
            "raw.raw_order_items",
            "raw.raw_web_events"
        ]
    );
}

#[test]
fn tables_without_loaded_at_or_thresholds_are_skipped_with_why() {
    let dir = common::project(&[
        ("shop.toml", "name = \"fresh\"\n"),
        (
            "models/sources.shop",
            "source landing {\n  loaded_at = ts\n\
             table timed { columns { id: integer, ts: timestamp } }\n}\n\
             source feed {\n  loaded_at = ts\n  freshness = { warn_after = \"1h\" }\n\
             table events { columns { id: integer, ts: timestamp } }\n\
             table gone { columns { id: integer, ts: timestamp } }\n\
             table empty { columns { id: integer, ts: timestamp } }\n}\n\
             source plain {\n  table untimed { columns { id: integer } }\n}\n",
        ),
    ]);
    let root = dir.path();
    let db = root.join("target/fresh.duckdb");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    {
        let connection = common::database_at(&db);
        connection
            .execute_batch(
                "CREATE SCHEMA feed; CREATE TABLE feed.events AS \
                 SELECT 1 AS id, make_timestamp(epoch_us(current_timestamp)) - INTERVAL 3 HOUR AS ts; \
                 CREATE TABLE feed.empty (id INTEGER, ts TIMESTAMP);",
            )
            .unwrap();
    }
    let (code, text) = freshness(root, &[]);
    assert_eq!(code, Some(1), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(&format!("freshness of {name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
            .to_string()
    };
    assert!(line("feed.events").contains("WARN"), "{text}");
    assert!(line("feed.events").contains("(warn after 1h)]"), "{text}");
    assert!(line("feed.empty").contains("ERROR"), "{text}");
    assert!(
        line("feed.empty").contains("no rows: never loaded"),
        "{text}"
    );
    assert!(line("feed.gone").contains("ERROR"), "{text}");
    assert!(line("feed.gone").to_lowercase().contains("gone"), "{text}");
    assert!(line("landing.timed").contains("SKIP"), "{text}");
    assert!(line("landing.timed").contains("no thresholds"), "{text}");
    assert!(line("plain.untimed").contains("SKIP"), "{text}");
    assert!(
        line("plain.untimed").contains("no loaded_at column"),
        "{text}"
    );
}

#[test]
fn a_freshness_duration_that_means_nothing_is_a_diagnostic_at_the_value() {
    let dir = common::project(&[
        ("shop.toml", "name = \"fresh\"\n"),
        (
            "models/sources.shop",
            "source feed {\n  loaded_at = ts\n  freshness = { warn_after = \"12 parsecs\" }\n\
             table events { columns { id: integer, ts: timestamp } }\n}\n",
        ),
    ]);
    let (code, text) = freshness(dir.path(), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("sources.shop:3:"), "{text}");
    assert!(text.contains("12 parsecs"), "{text}");
    assert!(!dir.path().join("target/sources.json").exists());
}

#[test]
fn freshness_and_environments_on_postgresql() {
    let pg = common::Postgres::start("freshness");
    let (temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    let stale = day_loaded_hours_ago(temp.path(), 13);
    let seeds = stale.to_str().unwrap();
    // Two developers and production, on one server.
    for user in ["alice", "bob"] {
        let out = common::shopc_with(
            &[
                "build",
                "--project",
                root.to_str().unwrap(),
                "--target",
                "pg",
                "--seeds",
                seeds,
            ],
            &[("SHOPC_ENV", ""), ("SHOPC_USER", user)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    }
    common::build(&root, &["--target", "pg", "--seeds", seeds]);
    let mut warehouse = pg.connect();
    use shopc::warehouse::Warehouse;
    let schemas: Vec<String> = warehouse
        .query(
            "SELECT schema_name FROM information_schema.schemata \
             WHERE schema_name NOT LIKE 'pg_%' AND schema_name NOT IN ('information_schema', 'public') \
             ORDER BY 1",
        )
        .unwrap()
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    assert_eq!(
        schemas,
        [
            "dev_alice_marts",
            "dev_alice_raw",
            "dev_alice_snapshots",
            "dev_alice_staging",
            "dev_bob_marts",
            "dev_bob_raw",
            "dev_bob_snapshots",
            "dev_bob_staging",
            "marts",
            "raw",
            "snapshots",
            "staging"
        ]
    );
    // Freshness against the server's clock, in production and in a
    // developer's schemas.
    let (code, text) = freshness(&root, &["--target", "pg"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("WARN    freshness of raw.raw_orders"),
        "{text}"
    );
    assert!(text.contains("[loaded 12h 4"), "{text}");
    let out = common::shopc_with(
        &[
            "source",
            "freshness",
            "--project",
            root.to_str().unwrap(),
            "--target",
            "pg",
        ],
        &[("SHOPC_ENV", ""), ("SHOPC_USER", "alice")],
    );
    let text = common::stdout(&out);
    assert!(
        text.contains("WARN    freshness of dev_alice_raw.raw_orders"),
        "{text}"
    );
    // Bob's environment goes; Alice's and production's stay.
    let out = common::shopc_with(
        &[
            "env",
            "drop",
            "dev",
            "--yes",
            "--project",
            root.to_str().unwrap(),
            "--target",
            "pg",
        ],
        &[("SHOPC_ENV", ""), ("SHOPC_USER", "bob")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let left = warehouse
        .query(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'dev_bob_%'",
        )
        .unwrap()
        .first_value();
    assert_eq!(left, "0");
    assert_eq!(
        warehouse
            .query("SELECT count(*) FROM dev_alice_marts.fact_orders")
            .unwrap()
            .first_value(),
        warehouse
            .query("SELECT count(*) FROM marts.fact_orders")
            .unwrap()
            .first_value()
    );
}
