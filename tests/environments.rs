//! Environments on DuckDB (and PostgreSQL at the end): ShopCo's `dev`
//! builds each developer's schemas, `prod` the declared ones, `pr_*` a
//! pull request's; `shopc env drop` removes one's schemas.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use crate::common;

/// `shopc COMMAND ARGS… --project ROOT` in the default environment (no
/// `SHOPC_ENV`), as `user`.
fn as_user(user: &str, command: &str, root: &Path, args: &[&str]) -> Output {
    let mut all = vec![command];
    all.extend_from_slice(args);
    all.extend(["--project", root.to_str().unwrap()]);
    common::shopc_with(&all, &[("SHOPC_ENV", ""), ("SHOPC_USER", user)])
}

fn ok(out: &Output) -> String {
    let text = common::stdout(out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        common::stderr(out)
    );
    text
}

/// The schemas of a DuckDB file that hold something, or that shopc made.
fn schemas(root: &Path) -> BTreeSet<String> {
    let db = common::database(root);
    let mut statement = db
        .prepare(
            "SELECT schema_name FROM information_schema.schemata \
             WHERE catalog_name = 'shopco' AND schema_name NOT IN ('information_schema', 'pg_catalog')",
        )
        .unwrap();
    let rows = statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn count(root: &Path, relation: &str) -> i64 {
    common::database(root)
        .query_row(&format!("SELECT count(*) FROM {relation}"), [], |row| {
            row.get(0)
        })
        .unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_dev_build_writes_only_the_developers_schemas() {
    let (_temp, root) = common::shopco_copy(&[]);
    let text = ok(&as_user("alice", "build", &root, &[]));
    assert!(
        text.contains("OK      incremental dev_alice_marts.fact_orders"),
        "{text}"
    );
    assert!(
        text.contains("seed dev_alice_raw.raw_orders"),
        "the seeds fill the developer's raw tables:\n{text}"
    );
    assert_eq!(
        schemas(&root),
        set(&[
            "dev_alice_marts",
            "dev_alice_raw",
            "dev_alice_snapshots",
            "dev_alice_staging",
            "main"
        ])
    );
    // `main` is DuckDB's own, and empty.
    assert_eq!(
        common::database(&root)
            .query_row(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'",
                [],
                |row| row.get::<_, i64>(0)
            )
            .unwrap(),
        0
    );
    // The manifest records the environment and the names it built.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("target/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["metadata"]["environment"], "dev");
    assert_eq!(
        manifest["nodes"]["model.shopco.fact_orders"]["physical"]["schema"],
        "dev_alice_marts"
    );
}

#[test]
fn two_developers_in_one_database_file_do_not_touch_each_other() {
    let (_temp, root) = common::shopco_copy(&[]);
    ok(&as_user("alice", "build", &root, &[]));
    let alice = count(&root, "dev_alice_marts.fact_orders");
    // Bob builds the next day's extracts into his own schemas.
    let day2 = root.join("days/day2");
    ok(&as_user(
        "bob",
        "build",
        &root,
        &["--seeds", day2.to_str().unwrap()],
    ));
    let bob = count(&root, "dev_bob_marts.fact_orders");
    assert!(bob > alice, "day 2 has more orders: {bob} vs {alice}");
    assert_eq!(count(&root, "dev_alice_marts.fact_orders"), alice);
    assert_eq!(
        count(&root, "dev_alice_raw.raw_orders"),
        alice_raw_orders(&root)
    );
    // Bob's changes stay Bob's: dropping his environment leaves Alice's.
    ok(&as_user("bob", "env", &root, &["drop", "dev", "--yes"]));
    let left = schemas(&root);
    assert!(left.iter().all(|s| !s.starts_with("dev_bob_")), "{left:?}");
    assert!(left.contains("dev_alice_marts"), "{left:?}");
    assert_eq!(count(&root, "dev_alice_marts.fact_orders"), alice);
}

/// The rows of day 1's raw_orders.csv.
fn alice_raw_orders(root: &Path) -> i64 {
    let text = std::fs::read_to_string(root.join("seeds/raw_orders.csv")).unwrap();
    text.lines().count() as i64 - 1
}

#[test]
fn prod_builds_exactly_the_declared_schemas() {
    let (_temp, root) = common::shopco_copy(&[]);
    ok(&as_user("alice", "build", &root, &["--env", "prod"]));
    assert_eq!(
        schemas(&root),
        set(&["main", "marts", "raw", "snapshots", "staging"])
    );
    // A pull request's environment: `pr_*` names it after the request.
    ok(&as_user(
        "alice",
        "build",
        &root,
        &["--env", "pr_12", "-s", "@stg_orders"],
    ));
    let all = schemas(&root);
    assert!(
        all.contains("pr_12_marts") && all.contains("pr_12_staging"),
        "{all:?}"
    );
}

#[test]
fn an_unknown_environment_is_a_usage_error_with_a_suggestion() {
    let (_temp, root) = common::shopco_copy(&[]);
    let out = as_user("alice", "build", &root, &["--env", "prd"]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(
        err.contains("unknown environment `prd`; did you mean `prod`?"),
        "{err}"
    );
    assert!(err.contains("`dev`, `staging`, `pr_*`, `prod`"), "{err}");
    assert!(!root.join("target/shopco.duckdb").exists(), "nothing ran");
    let out = as_user("alice", "build", &root, &["--env", "Prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("did you mean `prod`?"),
        "{}",
        common::stderr(&out)
    );
    // `pr_` alone is not a pull request's name.
    let out = as_user("alice", "ls", &root, &["--env", "pr_"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
}

#[test]
fn user_names_typed_are_checked_and_login_names_made_safe() {
    let (_temp, root) = common::shopco_copy(&[]);
    let out = as_user("o'brien", "build", &root, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("user name `o'brien` cannot be part of a schema name"),
        "{}",
        common::stderr(&out)
    );
    let out = common::shopc_with(
        &[
            "ls",
            "--project",
            root.to_str().unwrap(),
            "--output",
            "json",
            "-s",
            "fact_orders",
        ],
        &[
            ("SHOPC_ENV", ""),
            ("SHOPC_USER", ""),
            ("USER", "Jean-Luc.P"),
        ],
    );
    let text = ok(&out);
    assert!(
        text.contains("\"schema\":\"dev_jean_luc_p_marts\""),
        "{text}"
    );
    // `--user` over SHOPC_USER.
    let out = as_user(
        "bob",
        "ls",
        &root,
        &["--user", "Carol", "-o", "json", "-s", "fact_orders"],
    );
    assert!(ok(&out).contains("dev_carol_marts"));
}

#[test]
fn switching_environment_marks_nothing_modified() {
    let (temp, root) = common::shopco_copy(&[]);
    ok(&as_user("alice", "build", &root, &["--env", "prod"]));
    let prod = temp.path().join("prod-artifacts");
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::copy(
        root.join("target/manifest.json"),
        prod.join("manifest.json"),
    )
    .unwrap();
    let prod = prod.to_str().unwrap();
    for env in ["dev", "staging", "pr_7"] {
        let out = as_user(
            "alice",
            "ls",
            &root,
            &[
                "--env",
                env,
                "-s",
                "state:modified",
                "state:new",
                "--state",
                prod,
            ],
        );
        assert_eq!(ok(&out), "", "{env}");
    }
    // …while a real change still is.
    let path = root.join("models/marts/dim_customers.shop");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(">= 1000", ">= 900")).unwrap();
    let out = as_user(
        "alice",
        "ls",
        &root,
        &[
            "-s",
            "state:modified",
            "--state",
            prod,
            "--resource-type",
            "model",
        ],
    );
    assert_eq!(ok(&out), "dim_customers\n");
}

#[test]
fn env_drop_asks_for_yes_and_keeps_production_unless_allowed() {
    let (_temp, root) = common::shopco_copy(&[]);
    ok(&as_user("alice", "build", &root, &["--env", "prod"]));
    ok(&as_user("alice", "build", &root, &[]));
    let before = schemas(&root);
    // Without --yes: what would go, and nothing goes.
    let out = as_user("alice", "env", &root, &["drop", "dev"]);
    assert_eq!(out.status.code(), Some(2));
    let text = common::stdout(&out);
    assert!(
        text.contains("Would drop 4 schemas of environment `dev` (user alice)"),
        "{text}"
    );
    assert!(text.contains("  dev_alice_snapshots\n"), "{text}");
    assert!(common::stderr(&out).contains("run again with --yes"));
    assert_eq!(schemas(&root), before);
    // With it, the developer's schemas go and production's stay.
    let text = ok(&as_user("alice", "env", &root, &["drop", "dev", "--yes"]));
    assert!(text.contains("dropped dev_alice_marts"), "{text}");
    assert_eq!(
        schemas(&root),
        set(&["main", "marts", "raw", "snapshots", "staging"])
    );
    // Again: nothing there.
    let text = ok(&as_user("alice", "env", &root, &["drop", "dev", "--yes"]));
    assert!(text.contains("absent  dev_alice_marts"), "{text}");
    // Production needs --allow-prod.
    let out = as_user("alice", "env", &root, &["drop", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("dropping it drops production"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(schemas(&root).len(), 5);
    ok(&as_user(
        "alice",
        "env",
        &root,
        &["drop", "prod", "--yes", "--allow-prod"],
    ));
    assert_eq!(schemas(&root), set(&["main"]));
}

#[test]
fn env_list_shows_each_rule_and_the_schemas_it_writes() {
    let (_temp, root) = common::shopco_copy(&[]);
    let text = ok(&as_user("alice", "env", &root, &["list"]));
    insta::assert_snapshot!(text, @r"
    dev        dev_{user}_{schema}  (default)
               writes dev_alice_marts, dev_alice_raw, dev_alice_snapshots, dev_alice_staging
    staging    staging_{schema}
               writes staging_marts, staging_raw, staging_snapshots, staging_staging
    pr_*       {env}_{schema}
    prod       {schema}
               writes marts, raw, snapshots, staging
    ");
}

#[test]
fn a_project_without_environments_builds_its_declared_schemas_in_dev() {
    let dir = common::project(&[
        ("shop.toml", "name = \"plain\"\n"),
        (
            "models/one.shop",
            "source landing {\n  table t { columns { id: integer } }\n}\n\
             model one {\n  schema = \"analytics\"\n  materialized = \"table\"\n  \
             from landing.t t\n  columns { id = t.id }\n}\n",
        ),
        ("seeds/t.csv", "id\n1\n"),
    ]);
    let root = dir.path();
    let out = as_user("alice", "build", root, &[]);
    let text = ok(&out);
    assert!(text.contains("seed landing.t"), "{text}");
    assert!(text.contains("table analytics.one"), "{text}");
    let out = as_user("alice", "build", root, &["--env", "staging"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("(shop.toml declares `dev`, `prod`)"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn an_environment_runs_on_its_target_unless_target_says_otherwise() {
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"placed\"\n\n[environments.dev]\nschema = \"{schema}\"\n\n\
             [environments.ci]\nschema = \"ci_{schema}\"\ntarget = \"elsewhere\"\n",
        ),
        (
            "profiles.toml",
            "[targets.elsewhere]\nadapter = \"duckdb\"\npath = \"target/elsewhere.duckdb\"\n\n\
             [targets.here]\nadapter = \"duckdb\"\npath = \"target/here.duckdb\"\n",
        ),
        (
            "models/one.shop",
            "source landing {\n  table t { columns { id: integer } }\n}\n\
             model one {\n  materialized = \"table\"\n  from landing.t t\n  columns { id = t.id }\n}\n",
        ),
        ("seeds/t.csv", "id\n1\n"),
    ]);
    let root = dir.path();
    let text = ok(&as_user("ann", "build", root, &["--env", "ci"]));
    assert!(text.contains("target/elsewhere.duckdb"), "{text}");
    assert!(text.contains("table ci_main.one"), "{text}");
    let text = ok(&as_user(
        "ann",
        "build",
        root,
        &["--env", "ci", "--target", "here"],
    ));
    assert!(text.contains("target/here.duckdb"), "{text}");
    let text = ok(&as_user(
        "ann",
        "debug",
        root,
        &["connection", "--env", "ci"],
    ));
    assert!(text.contains("target:   elsewhere (duckdb)"), "{text}");
}

#[test]
fn retry_runs_in_the_environment_and_as_the_user_of_the_run() {
    let (_temp, root) = common::shopco_copy(&[]);
    let path = root.join("seeds/raw_products.csv");
    let whole = std::fs::read_to_string(&path).unwrap();
    let without_67: Vec<&str> = whole.lines().filter(|l| !l.starts_with("67,")).collect();
    std::fs::write(&path, without_67.join("\n") + "\n").unwrap();
    let out = as_user("alice", "build", &root, &["--env", "staging"]);
    assert_eq!(out.status.code(), Some(1));
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["metadata"]["environment"], "staging");
    assert_eq!(results["metadata"]["user"], serde_json::Value::Null);
    // Bob retries in his shell's default (dev): the retry runs where the
    // failed run did (and fails the same way: the seed is not reloaded).
    let out = as_user("bob", "retry", &root, &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("OK      view staging_staging.stg_order_items"),
        "{text}"
    );
    assert!(
        text.contains("SKIP    table staging_marts.fct_product_performance"),
        "{text}"
    );
    assert!(!text.contains("dev_bob"), "{text}");
}
