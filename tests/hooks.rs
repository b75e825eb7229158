//! `on_run_start` / `on_run_end` on DuckDB: SQL run around the nodes, each
//! reported as a node, a failure reported like any node.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::common;

const MODELS: &str = "source landing {\n  table t { columns { id: integer } }\n}\n\
    model one {\n  schema = \"marts\"\n  materialized = \"table\"\n  from landing.t t\n  columns { id = t.id }\n}\n";

fn project(hooks: &str) -> tempfile::TempDir {
    common::project(&[
        (
            "shop.toml",
            &format!(
                "name = \"hooked\"\n\n{hooks}\n\n[environments.dev]\nschema = \"dev_{{user}}_{{schema}}\"\n\
                 on_run_end = [\"CREATE OR REPLACE VIEW {{schema:marts}}.latest_run AS SELECT '{{env}}' AS env\"]\n\n\
                 [environments.prod]\nschema = \"{{schema}}\"\n"
            ),
        ),
        ("models/models.shop", MODELS),
        ("seeds/t.csv", "id\n1\n2\n"),
    ])
}

const AUDIT: &str = "[hooks]\non_run_start = [\n  \"CREATE SCHEMA IF NOT EXISTS audit\",\n  \
    \"CREATE TABLE IF NOT EXISTS audit.runs (env TEXT, n INTEGER)\",\n]\n\
    on_run_end = [\"INSERT INTO audit.runs SELECT '{env}', count(*) FROM {schema:marts}.one\"]\n";

fn build(root: &Path, env: &str) -> std::process::Output {
    common::shopc_with(
        &["build", "--project", root.to_str().unwrap(), "--env", env],
        &[("SHOPC_USER", "ann")],
    )
}

fn query(root: &Path, sql: &str) -> Vec<String> {
    let db = common::database_at(&root.join("target/hooked.duckdb"));
    let mut statement = db.prepare(sql).unwrap();
    let rows = statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn results(root: &Path) -> Vec<(String, String)> {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "hook")
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn hooks_run_around_the_nodes_in_each_environment() {
    let dir = project(AUDIT);
    let root = dir.path();
    let out = build(root, "dev");
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    // The project's hooks first, then the environment's; starts before
    // the nodes, ends after them.
    let start = text.find("Running 2 on_run_start hooks").unwrap();
    let nodes = text.find("Running 2 nodes").unwrap();
    let end = text.find("Running 2 on_run_end hooks").unwrap();
    let finished = text.find("Finished in").unwrap();
    assert!(start < nodes && nodes < end && end < finished, "{text}");
    assert!(
        text.contains("1 of 2 OK      hook on_run_start.1"),
        "{text}"
    );
    assert!(text.contains("2 of 2 OK      hook on_run_end.2"), "{text}");
    assert!(text.contains(": 6 ok, 0 warnings"), "{text}");
    // `{env}` and `{schema:marts}` are this environment's.
    assert_eq!(
        query(root, "SELECT env || ' ' || n FROM audit.runs"),
        ["dev 2"]
    );
    assert_eq!(
        query(root, "SELECT env FROM dev_ann_marts.latest_run"),
        ["dev"]
    );
    assert_eq!(
        results(root),
        [
            ("hook.hooked.on_run_start.1", "success"),
            ("hook.hooked.on_run_start.2", "success"),
            ("hook.hooked.on_run_end.1", "success"),
            ("hook.hooked.on_run_end.2", "success"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Production has only the project's hooks.
    let out = build(root, "prod");
    let text = common::stdout(&out);
    assert!(text.contains("Running 1 on_run_end hook\n"), "{text}");
    assert_eq!(
        query(root, "SELECT env || ' ' || n FROM audit.runs ORDER BY env"),
        ["dev 2", "prod 2"]
    );
}

#[test]
fn a_failed_start_hook_runs_no_node_and_a_failed_end_hook_fails_the_run() {
    let dir = project("[hooks]\non_run_start = [\"SELECT * FROM nowhere\"]\n");
    let root = dir.path();
    let out = build(root, "prod");
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("1 of 1 ERROR   hook on_run_start.1"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("nowhere"), "{text}");
    assert!(
        text.contains("Skipping the 2 nodes: an on_run_start hook failed"),
        "{text}"
    );
    assert!(
        text.contains(": 0 ok, 0 warnings, 1 error, 2 skipped"),
        "{text}"
    );
    assert!(
        query(
            root,
            "SELECT table_name FROM information_schema.tables WHERE table_name = 'one'"
        )
        .is_empty()
    );
    assert_eq!(
        results(root),
        [(
            "hook.hooked.on_run_start.1".to_string(),
            "error".to_string()
        )]
    );

    // A failing end hook: the nodes are built, the run fails.
    let dir = project("[hooks]\non_run_end = [\"GRANT SELECT ON nothing TO nobody\"]\n");
    let root = dir.path();
    let out = build(root, "prod");
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("OK      table marts.one"), "{text}");
    assert!(text.contains("1 of 1 ERROR   hook on_run_end.1"), "{text}");
    assert!(
        text.contains(": 2 ok, 0 warnings, 1 error, 0 skipped"),
        "{text}"
    );
}
