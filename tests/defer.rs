//! Slim CI on DuckDB: production built into the default schemas of one
//! database file, a changed copy of the project built with
//! `-s state:modified+ --defer --state PROD` into another set of schemas
//! (a pull request's environment, `--env pr_1`), reading its unchanged parents from production's
//! tables.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use crate::common;

/// ShopCo built into its own schemas, and a copy of that run's target
/// folder: the state a pull request compares with.
fn production() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (temp, root) = common::shopco_copy(&[]);
    common::build(&root, &[]);
    let prod = temp.path().join("prod-artifacts");
    std::fs::create_dir_all(&prod).unwrap();
    for file in ["manifest.json", "run_results.json"] {
        std::fs::copy(root.join("target").join(file), prod.join(file)).unwrap();
    }
    (temp, root, prod)
}

/// `shopc build -s SELECTOR --defer --state PROD --env ENV EXTRA…`: a pull
/// request's build into its own schemas (ShopCo's `pr_*` environments).
fn pull_request(
    root: &Path,
    prod: &str,
    selector: &str,
    env: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["-s", selector, "--defer", "--state", prod, "--env", env];
    args.extend_from_slice(extra);
    common::run("build", root, &args)
}

/// The stdout of a pull request's build that must succeed.
fn passing_pull_request(
    root: &Path,
    prod: &str,
    selector: &str,
    env: &str,
    extra: &[&str],
) -> String {
    let out = pull_request(root, prod, selector, env, extra);
    let text = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        common::stderr(&out)
    );
    text
}

/// `dim_customers`' `high_value` threshold moved from 1,000 to 900.
fn change_the_segments(root: &Path) {
    edit(
        root,
        "models/marts/dim_customers.shop",
        SEGMENT,
        SEGMENT_CHANGED,
    );
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The tables and views of a schema.
fn relations(db: &duckdb::Connection, schema: &str) -> Vec<String> {
    let mut statement = db
        .prepare(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? \
             ORDER BY table_name",
        )
        .unwrap();
    statement
        .query_map([schema], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rows one relation has and the other has not, both ways.
fn differing_rows(db: &duckdb::Connection, a: &str, b: &str) -> i64 {
    db.query_row(
        &format!(
            "SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})) + \
                    (SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}))"
        ),
        [],
        |row| row.get(0),
    )
    .unwrap()
}

const SEGMENT: &str = "when sum(f.revenue) >= 1000 then 'high_value'";
const SEGMENT_CHANGED: &str = "when sum(f.revenue) >= 900 then 'high_value'";

#[test]
fn a_pull_request_builds_what_changed_and_reads_the_rest_from_production() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    change_the_segments(&root);
    let text = passing_pull_request(&root, prod, "state:modified+", "pr_1", &["--threads", "1"]);
    // Its parents are read from production, and say so.
    assert!(
        text.contains("defer   fact_orders → marts.fact_orders")
            && text.contains("defer   stg_customers → staging.stg_customers"),
        "{text}"
    );
    // Only the changed mart and what reads it are built and tested.
    let built: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" OK ") || l.contains(" OK  "))
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    assert_eq!(
        built,
        [
            "pr_1_marts.dim_customers",
            "pr_1_marts.fct_customer_cohorts",
            "pr_1_marts.fct_customer_ltv"
        ],
        "{text}"
    );
    assert!(
        text.contains("PASS    test accepted_values_dim_customers_value_segment"),
        "{text}"
    );
    assert!(
        !text.contains("stg_orders") && !text.contains("seed "),
        "{text}"
    );
    // run_results.json says what was read from production, and where.
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let deferred: Vec<(&str, &str)> = results["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["unique_id"].as_str().unwrap(),
                d["relation"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        deferred.contains(&("model.shopco.fact_orders", "marts.fact_orders"))
            && deferred.contains(&("model.shopco.stg_customers", "staging.stg_customers")),
        "{deferred:?}"
    );
    assert!(
        !deferred.iter().any(|(id, _)| id.contains("dim_customers")),
        "{deferred:?}"
    );
    let db = common::database(&root);
    assert!(relations(&db, "pr_1_staging").is_empty());
    assert_eq!(
        relations(&db, "pr_1_marts"),
        ["dim_customers", "fct_customer_cohorts", "fct_customer_ltv"]
    );
    // Production is untouched: its segments are still by 1,000.
    let moved: i64 = db
        .query_row(
            "SELECT count(*) FROM pr_1_marts.dim_customers n JOIN marts.dim_customers o \
             USING (customer_id) WHERE n.value_segment <> o.value_segment",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(moved > 0, "some customers between 900 and 1,000 moved");
    drop(db);
    // Its rows are the rows of a whole build of the changed project.
    common::build(&root, &["--env", "pr_whole", "--threads", "1"]);
    let db = common::database(&root);
    for mart in ["dim_customers", "fct_customer_cohorts", "fct_customer_ltv"] {
        assert_eq!(
            differing_rows(
                &db,
                &format!("pr_1_marts.{mart}"),
                &format!("pr_whole_marts.{mart}")
            ),
            0,
            "{mart}"
        );
    }
}

#[test]
fn a_parent_in_the_current_target_is_read_there_unless_the_state_is_favoured() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    // The pull request's schemas already hold every relation.
    common::build(&root, &["--env", "pr_2"]);
    change_the_segments(&root);
    let text = passing_pull_request(&root, prod, "dim_customers", "pr_2", &[]);
    assert!(!text.contains("defer "), "{text}");
    let text = passing_pull_request(&root, prod, "dim_customers", "pr_2", &["--favor-state"]);
    assert!(
        text.contains("defer   fact_orders → marts.fact_orders"),
        "{text}"
    );
}

#[test]
fn a_deferred_parent_that_is_nowhere_fails_its_reader_and_skips_what_follows() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    let db = common::database(&root);
    db.execute_batch("DROP TABLE marts.fact_orders").unwrap();
    drop(db);
    change_the_segments(&root);
    let out = pull_request(&root, prod, "state:modified+", "pr_3", &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ERROR   table pr_3_marts.dim_customers"),
        "{text}"
    );
    assert!(
        text.contains(
            "reads fact_orders, which this command does not build and which exists neither in \
             the state's schemas (marts.fact_orders"
        ) && text.contains("nor in the current target (pr_3_marts.fact_orders)"),
        "{text}"
    );
    assert!(
        text.contains("SKIP    table pr_3_marts.fct_customer_ltv")
            && text.contains("SKIP    table pr_3_marts.fct_customer_cohorts"),
        "{text}"
    );
}

#[test]
fn a_changed_test_runs_alone_against_production() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    edit(
        &root,
        "models/marts/dim_customers.shop",
        "accepted_values(value_segment",
        "not_null(email)\n    accepted_values(value_segment",
    );
    let out = common::run("ls", &root, &["-s", "state:modified", "--state", prod]);
    assert_eq!(common::stdout(&out), "not_null_dim_customers_email\n");
    // `compile` writes that test alone.
    let out = common::run("compile", &root, &["-s", "state:modified", "--state", prod]);
    assert!(
        common::stdout(&out).starts_with("compiled 1 files"),
        "{}",
        common::stdout(&out)
    );
    let compiled = root.join("target/compiled/tests/not_null_dim_customers_email.sql");
    assert!(
        std::fs::read_to_string(compiled)
            .unwrap()
            .contains("\"email\" IS NULL"),
        "the test's query"
    );
    let text = passing_pull_request(&root, prod, "state:modified", "pr_4", &[]);
    assert!(text.contains("Running 1 nodes"), "{text}");
    assert!(
        text.contains("defer   dim_customers → marts.dim_customers")
            && text.contains("PASS    test not_null_dim_customers_email"),
        "{text}"
    );
    let db = common::database(&root);
    assert!(
        relations(&db, "pr_4_marts").is_empty(),
        "no model was rebuilt"
    );
    // `+` before a changed test adds the relation it tests.
    let out = common::run(
        "ls",
        &root,
        &[
            "-s",
            "1+state:modified",
            "--state",
            prod,
            "--resource-type",
            "model",
        ],
    );
    assert_eq!(common::stdout(&out), "dim_customers\n");
}

#[test]
fn a_pull_request_that_changes_nothing_has_nothing_to_do() {
    let (_temp, root, prod) = production();
    let text = passing_pull_request(
        &root,
        prod.to_str().unwrap(),
        "state:modified+",
        "pr_7",
        &[],
    );
    assert!(text.contains("Nothing to do"), "{text}");
    assert!(!text.contains("Running"), "{text}");
}

#[test]
fn defer_needs_a_state_and_an_environment_is_a_name() {
    let (_temp, root) = common::shopco_copy(&[]);
    let out = common::run("build", &root, &["--defer"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("--state"),
        "{}",
        common::stderr(&out)
    );
    let out = common::run("build", &root, &["--env", "pr-1; drop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("--env `pr-1; drop`: an environment's name is"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn impacted_slim_ci_leaves_out_the_marts_that_do_not_read_the_changed_column() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    change_the_segments(&root);
    // `value_segment` is read by no other model: `state:modified+` would
    // rebuild three marts, `state:impacted` rebuilds one.
    let text = passing_pull_request(&root, prod, "state:impacted", "pr_5", &[]);
    assert!(
        text.contains("OK      table pr_5_marts.dim_customers"),
        "{text}"
    );
    assert!(
        !text.contains("fct_customer_ltv") && !text.contains("fct_customer_cohorts"),
        "{text}"
    );
    let db = common::database(&root);
    assert_eq!(relations(&db, "pr_5_marts"), ["dim_customers"]);
}

#[test]
fn retry_of_a_deferred_build_still_reads_from_production() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    // A pull request whose change fails a test: what follows is skipped.
    edit(
        &root,
        "models/marts/dim_customers.shop",
        "then 'prospect'",
        "then 'none_yet'",
    );
    let out = pull_request(&root, prod, "state:modified+", "pr_6", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stdout(&out));
    // Fixed, `retry` reruns what failed and was skipped, still deferring
    // to production (not to the copy of the last run it compares with).
    edit(
        &root,
        "models/marts/dim_customers.shop",
        "then 'none_yet'",
        "then 'prospect'",
    );
    let out = common::run("retry", &root, &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    assert!(
        text.contains("defer   fact_orders → marts.fact_orders"),
        "{text}"
    );
    assert!(
        text.contains("OK      table pr_6_marts.dim_customers")
            && text.contains("OK      table pr_6_marts.fct_customer_ltv"),
        "{text}"
    );
    // --defer without a state to defer to is a usage error.
    let out = common::run("build", &root, &["--defer"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("--defer reads what another run built"),
        "{}",
        common::stderr(&out)
    );
}

/// The figures of a line of `shopc diff`'s text: the last three words
/// (here, there, change).
fn diff_figures<'t>(text: &'t str, starts: &str) -> [&'t str; 3] {
    let line = text
        .lines()
        .find(|l| l.starts_with(starts))
        .unwrap_or_else(|| panic!("no line {starts:?} in\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let n = words.len();
    [words[n - 3], words[n - 2], words[n - 1]]
}

fn number(db: &duckdb::Connection, sql: &str) -> f64 {
    db.query_row(&format!("SELECT CAST(({sql}) AS DOUBLE)"), [], |row| {
        row.get(0)
    })
    .unwrap()
}

#[test]
fn diff_sets_what_a_pull_request_built_next_to_production() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    change_the_segments(&root);
    passing_pull_request(&root, prod, "state:modified+", "pr_1", &[]);
    let out = common::run("diff", &root, &["--state", prod, "--env", "pr_1"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    assert!(
        text.starts_with("Comparing what the last run built in pr_1 with prod (as --state "),
        "{text}"
    );
    let db = common::database(&root);
    // Each relation the pull request built, with its rows and production's.
    for mart in ["dim_customers", "fct_customer_cohorts", "fct_customer_ltv"] {
        let [here, there, change] =
            diff_figures(&text, &format!("{mart} (pr_1_marts.{mart} / marts.{mart})"));
        let count = |schema: &str| number(&db, &format!("SELECT count(*) FROM {schema}.{mart}"));
        assert_eq!(here.parse::<f64>().unwrap(), count("pr_1_marts"), "{text}");
        assert_eq!(there.parse::<f64>().unwrap(), count("marts"), "{text}");
        assert_eq!(change, "=", "{text}");
    }
    assert!(!text.contains("fact_orders (pr_1"), "not built: {text}");
    // The one revenue number, each total read where the run read it: the
    // pull request's dim_customers, production's fact_orders.
    for (term, sql) in [
        (
            "fact_orders.revenue where is_revenue_order",
            "SELECT sum(revenue) FROM {s}.fact_orders WHERE is_revenue_order",
        ),
        (
            "dim_customers.lifetime_revenue",
            "SELECT sum(lifetime_revenue) FROM {s}.dim_customers",
        ),
        (
            "fct_customer_ltv.monetary",
            "SELECT sum(monetary) FROM {s}.fct_customer_ltv",
        ),
    ] {
        let [here, there, change] = diff_figures(&text, &format!("  {term} "));
        let here_schema = if term.starts_with("fact_orders") {
            "marts"
        } else {
            "pr_1_marts"
        };
        let expected = number(&db, &sql.replace("{s}", here_schema));
        assert!(
            (here.parse::<f64>().unwrap() - expected).abs() < 0.005,
            "{term}: {text}"
        );
        let expected = number(&db, &sql.replace("{s}", "marts"));
        assert!(
            (there.parse::<f64>().unwrap() - expected).abs() < 0.005,
            "{term}: {text}"
        );
        assert_eq!(change, "=", "{text}");
    }
    drop(db);
    // The same as Markdown tables, for a job summary.
    let out = common::run(
        "diff",
        &root,
        &["--state", prod, "--env", "pr_1", "--format", "markdown"],
    );
    let markdown = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{markdown}");
    assert!(
        markdown.starts_with("### Rebuilt in `pr_1`, next to `prod`\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| relation | rows in `pr_1` | rows in `prod` | change |"),
        "{markdown}"
    );
    assert!(markdown.contains("**reconcile revenue**"), "{markdown}");
    assert!(
        markdown.contains("| `fact_orders.revenue where is_revenue_order` |"),
        "{markdown}"
    );
}

#[test]
fn diff_needs_a_run_of_the_environment_it_is_given() {
    let (_temp, root, prod) = production();
    let prod = prod.to_str().unwrap();
    change_the_segments(&root);
    passing_pull_request(&root, prod, "dim_customers", "pr_3", &[]);
    // The last run was pr_3's: comparing another environment's is a usage
    // error that says so.
    let out = common::run("diff", &root, &["--state", prod, "--env", "pr_4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("built in `pr_3`, not in `pr_4`: give `--env pr_3`"),
        "{}",
        common::stderr(&out)
    );
    // Without a run at all.
    std::fs::remove_file(root.join("target/run_results.json")).unwrap();
    let out = common::run("diff", &root, &["--state", prod, "--env", "pr_3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("there is no run to compare (run `shopc build` first)"),
        "{}",
        common::stderr(&out)
    );
    // A state folder without a manifest.
    let out = common::run("diff", &root, &["--state", "/nonexistent", "--env", "pr_3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("does not exist"),
        "{}",
        common::stderr(&out)
    );
}
