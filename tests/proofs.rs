//! Derived tests the checker proved (`check::proofs`): reported `PROVEN`
//! without a query, run by `--verify-proofs`, and run anyway when a test
//! the proof rests on did not pass.
#![allow(clippy::disallowed_methods)]

use crate::common;
use common::{build, run, stdout};

const SOURCES: &str = "source raw {\n  table sales {\n    expect_key = [id]\n    \
    columns { id: integer, shop: text, amount: integer }\n  }\n}\n";

const MODELS: &str = "\
# Grouped: unique by construction; `shop` is filtered not null.
model shop_totals {
  grain = [shop]
  from raw.sales s
  where s.shop is not null
  group by s.shop
  dimensions { shop = s.shop }
  measures { total = sum(s.amount) }
}

# The source's claimed key, kept: proven from `expect_key`, which is tested.
model sales_clean {
  grain = [id]
  from raw.sales s
  columns { id = s.id, shop = s.shop, amount = s.amount }
}

# Grouped on a column that can be NULL: unique proven, not-null tested.
model loose_shops {
  grain = [shop]
  from raw.sales s
  group by s.shop
  dimensions { shop = s.shop }
  measures { n = count(*) }
}
";

const GOOD: &str = "id,shop,amount\n1,a,10\n2,a,5\n3,b,7\n";

fn project(seed: &str) -> tempfile::TempDir {
    common::project(&[
        ("shop.toml", "name = \"proofs\"\n"),
        ("models/sources.shop", SOURCES),
        ("models/models.shop", MODELS),
        ("seeds/sales.csv", seed),
    ])
}

/// The status and detail of a test's progress line.
fn line<'a>(log: &'a str, test: &str) -> (&'a str, &'a str) {
    let line = log
        .lines()
        .find(|l| l.contains(&format!(" test {test} ")))
        .unwrap_or_else(|| panic!("no line for {test} in\n{log}"));
    let status = line.split_whitespace().nth(3).unwrap();
    let detail = line.rsplit_once(" [").unwrap().1.trim_end_matches(']');
    (status, detail)
}

#[test]
fn proven_grain_tests_are_reported_without_a_query() {
    let temp = project(GOOD);
    let log = build(temp.path(), &[]);
    for (test, status, detail) in [
        ("grain_unique_shop_totals", "PROVEN", "group by s.shop"),
        (
            "grain_not_null_shop_totals_shop",
            "PROVEN",
            "never null by its query",
        ),
        (
            "grain_unique_sales_clean",
            "PROVEN",
            "raw.sales is unique on id",
        ),
        (
            "grain_not_null_sales_clean_id",
            "PROVEN",
            "never null by its query",
        ),
        ("grain_unique_loose_shops", "PROVEN", "group by s.shop"),
    ] {
        assert_eq!(line(&log, test), (status, detail), "{test} in\n{log}");
    }
    // What the proofs rest on, and what nothing proves, runs.
    for test in [
        "expect_key_unique_raw_sales",
        "expect_key_not_null_raw_sales_id",
        "grain_not_null_loose_shops_shop",
    ] {
        assert_eq!(line(&log, test).0, "PASS", "{test} in\n{log}");
    }
    assert!(log.contains(" 0 errors, 0 skipped, 5 proven\n"), "{log}");

    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(temp.path().join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let proven: Vec<(&str, &str)> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "proven")
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap(),
                r["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        proven.contains(&("test.proofs.grain_unique_shop_totals", "group by s.shop")),
        "{proven:?}"
    );
    assert_eq!(proven.len(), 5, "{proven:?}");
}

#[test]
fn verify_proofs_runs_them() {
    let temp = project(GOOD);
    let log = build(temp.path(), &["--verify-proofs"]);
    assert!(!log.contains("PROVEN") && !log.contains(" proven"), "{log}");
    for test in [
        "grain_unique_shop_totals",
        "grain_not_null_shop_totals_shop",
        "grain_unique_sales_clean",
        "grain_not_null_sales_clean_id",
        "grain_unique_loose_shops",
    ] {
        assert_eq!(line(&log, test).0, "PASS", "{test} in\n{log}");
    }
    let out = run("test", temp.path(), &["--verify-proofs"]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_eq!(line(&log, "grain_unique_sales_clean").0, "PASS", "{log}");
}

#[test]
fn a_proof_resting_on_a_failed_test_is_not_taken() {
    let temp = project(GOOD);
    build(temp.path(), &[]);
    // Id 2 twice: the claimed key no longer holds, and `sales_clean`, a
    // view over the table, has two rows for it.
    std::fs::write(
        temp.path().join("seeds/sales.csv"),
        "id,shop,amount\n1,a,10\n2,a,5\n2,b,7\n",
    )
    .unwrap();
    let out = run("seed", temp.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = run("test", temp.path(), &[]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert_eq!(line(&log, "expect_key_unique_raw_sales").0, "FAIL", "{log}");
    // The proof from the key is void: the test runs, and finds the row.
    assert_eq!(line(&log, "grain_unique_sales_clean").0, "FAIL", "{log}");
    // So does every proof over the table, though `group by` needs no key.
    assert_eq!(line(&log, "grain_unique_shop_totals").0, "PASS", "{log}");
    assert!(!log.contains("PROVEN"), "{log}");

    // `build` skips what reads the table instead.
    let out = run("build", temp.path(), &[]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert_eq!(line(&log, "grain_unique_sales_clean").0, "SKIP", "{log}");
}

/// The DuckDB tests of `model`, in a project of these sources and models
/// that compiles without a problem.
fn tests_of(sources: &str, models: &str, model: &str) -> Vec<shopc::emit::TestSql> {
    let (compilation, _db) = common::compile(sources, models);
    assert!(
        compilation.problems.is_empty(),
        "{:?}",
        compilation.problems
    );
    let ir = &compilation.ir;
    shopc::emit::Emitter::new(ir, shopc::emit::Dialect::DuckDb).tests(ir.by_name[model])
}

#[test]
fn an_incremental_models_grain_is_always_tested() {
    let models = "model appended {\n  materialized = { incremental = { unique_key = \"id\" } }\n  \
        grain = [id]\n  from raw.sales s\n  columns { id = s.id, amount = s.amount }\n}\n";
    let tests = tests_of(SOURCES, models, "appended");
    let names: Vec<(&str, bool)> = tests
        .iter()
        .map(|t| (t.name.as_str(), t.proven.is_some()))
        .collect();
    assert_eq!(
        names,
        [
            ("grain_unique_appended", false),
            ("grain_not_null_appended_id", false)
        ]
    );
}

#[test]
fn proofs_reach_the_manifest_the_docs_and_result_selectors() {
    let temp = project(GOOD);
    let root = temp.path();
    build(root, &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("target/manifest.json")).unwrap())
            .unwrap();
    let node = |id: &str| {
        let node = &manifest["nodes"][id];
        assert!(node.is_object(), "no {id} in the manifest");
        node
    };
    assert_eq!(
        node("test.proofs.grain_unique_shop_totals")["proven"],
        "group by s.shop"
    );
    // Not proven, or never: no field.
    assert!(node("test.proofs.grain_not_null_loose_shops_shop")["proven"].is_null());
    assert!(node("test.proofs.expect_key_unique_raw_sales")["proven"].is_null());

    // The relations with a proven test, from the run's results.
    let state = root.join("target").display().to_string();
    let out = run(
        "ls",
        root,
        &[
            "-s",
            "result:proven",
            "--state",
            &state,
            "--resource-type",
            "model",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let mut models: Vec<String> = stdout(&out).lines().map(String::from).collect();
    models.sort();
    assert_eq!(models, ["loose_shops", "sales_clean", "shop_totals"]);

    let out = common::run_in("docs", &["generate"], root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    // The model's page says how each of its tests is proven.
    let page =
        std::fs::read_to_string(root.join("target/docs/nodes/model.proofs.shop_totals.html"))
            .unwrap();
    assert!(
        page.contains(
            "<tr><td><code>grain_unique_shop_totals</code></td><td>grain_unique</td>\
             <td>error</td><td>group by s.shop</td></tr>"
        ),
        "{page}"
    );
}

#[test]
fn a_grain_through_a_to_many_join_is_proven_by_both_keys() {
    let sources = "source raw {\n  table o { expect_key = [id]  columns { id: integer } }\n  \
        table l { expect_key = [order_id, line]  columns { order_id: integer, line: integer } }\n}\n";
    let models = "model lines {\n  grain = [order_id, line]\n  from raw.o o\n  \
        join raw.l l on l.order_id = o.id\n  columns { order_id = o.id, line = l.line }\n}\n";
    let tests = tests_of(sources, models, "lines");
    assert_eq!(
        tests[0].proven.as_deref(),
        Some("unique on o.id, l.line, the keys of what it joins")
    );
}
