//! Unit tests (`unit_test` items): a model's query over given rows only, on
//! an in-memory DuckDB whatever the target, compared as a multiset with the
//! rows expected; typed at compile time, a row diff when they fail.
#![allow(clippy::disallowed_methods)]

use shopc::diagnostic::Code;

use crate::common;

const SOURCES: &str = r#"
source raw {
  table orders { expect_key = [order_id]
    columns { order_id: integer, status: text, amount: numeric(12, 2), placed_on: date, rush: boolean }
  }
}
"#;

const MODEL: &str = "model orders {\n  grain = [order_id]\n  from raw.orders o\n  where o.status != 'test'\n  \
    columns { order_id = o.order_id, status = upper(o.status), amount = coalesce(o.amount, 0), placed_on = o.placed_on }\n}\n";

/// A project of `raw.orders`, `orders` and `tests`; `shopc ARGS` on it.
fn run(tests: &str, files: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut all = vec![
        ("shop.toml", "name = \"units\"\n"),
        ("models/sources.shop", SOURCES),
        ("models/orders.shop", MODEL),
        ("models/tests.shop", tests),
    ];
    all.extend_from_slice(files);
    let dir = common::project(&all);
    let out = common::run(args[0], dir.path(), &args[1..]);
    // Nothing was built: no warehouse was needed.
    assert!(!dir.path().join("target/units.duckdb").exists() || args[0] == "build");
    (
        out.status.code().unwrap(),
        common::stdout(&out),
        common::stderr(&out),
    )
}

fn problems(tests: &str) -> (Vec<Code>, String) {
    let (compilation, db) = common::compile(SOURCES, &format!("{MODEL}{tests}"));
    common::problems(&compilation, &db)
}

const PASSING: &str = r#"
unit_test test_orders_are_dropped {
  model = orders
  given {
    raw.orders = [
      { order_id = 1, status = "placed", amount = 10.5, placed_on = "2024-01-31" },
      { order_id = 2, status = "test", amount = 99 },
      { order_id = 3, status = "shipped" },
    ]
  }
  expect = [
    { order_id = 3, status = "SHIPPED", amount = 0, placed_on = null },
    { order_id = 1, status = "PLACED", amount = 10.50, placed_on = "2024-01-31" },
  ]
}
"#;

#[test]
fn a_passing_unit_test_runs_without_a_warehouse() {
    let (code, out, err) = run(PASSING, &[], &["test", "--unit"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("PASS    unit_test test_orders_are_dropped (orders)"),
        "{out}"
    );
    assert!(out.contains("Unit tests: 1 passed, 0 failed"), "{out}");
    // `--select` picks the tests of the selected models.
    let (code, out, _) = run(
        PASSING,
        &[(
            "models/other.shop",
            "model other {\n  from orders o\n  columns { n = o.order_id }\n}\n",
        )],
        &["test", "--unit", "--select", "other"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("No unit tests in the selection."), "{out}");
}

#[test]
fn a_failing_unit_test_prints_the_rows_that_differ() {
    // The model says 10.50 for order 1; the test says 11. A column left
    // out of an expected row is NULL there (`placed_on` of order 3).
    let failing = PASSING.replace("amount = 10.50", "amount = 11");
    let (code, out, _) = run(&failing, &[], &["test", "--unit"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL    unit_test test_orders_are_dropped (orders)"),
        "{out}"
    );
    assert!(out.contains("  expected 2 rows, got 2 rows:"), "{out}");
    assert!(
        out.contains(
            r#"  - { order_id = 1, status = "PLACED", amount = 11.00, placed_on = "2024-01-31" }"#
        ),
        "{out}"
    );
    assert!(
        out.contains(
            r#"  + { order_id = 1, status = "PLACED", amount = 10.50, placed_on = "2024-01-31" }"#
        ),
        "{out}"
    );
    // Multisets: a row expected twice is missing once when produced once.
    let twice = PASSING.replace(
        "    { order_id = 1, status = \"PLACED\", amount = 10.50, placed_on = \"2024-01-31\" },\n",
        "    { order_id = 1, status = \"PLACED\", amount = 10.50, placed_on = \"2024-01-31\" },\n    { order_id = 1, status = \"PLACED\", amount = 10.50, placed_on = \"2024-01-31\" },\n",
    );
    let (code, out, _) = run(&twice, &[], &["test", "--unit"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected 3 rows, got 2 rows:"), "{out}");
    assert_eq!(out.matches("  - ").count(), 1, "{out}");
    assert_eq!(out.matches("  + ").count(), 0, "{out}");
    // `ordered = true`: the same rows in another order fail.
    let ordered = PASSING.replace("  model = orders\n", "  model = orders\n  ordered = true\n");
    let (code, out, _) = run(&ordered, &[], &["test", "--unit"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("in another order"), "{out}");
}

#[test]
fn build_runs_unit_tests_first_and_builds_nothing_when_one_fails() {
    let failing = PASSING.replace("amount = 10.50", "amount = 11");
    let (code, out, err) = run(
        &failing,
        &[(
            "seeds/orders.csv",
            "order_id,status,amount,placed_on,rush\n1,placed,1.00,2024-01-01,false\n",
        )],
        &["build"],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("1 unit test failed; nothing was built"),
        "{err}"
    );
    assert!(!out.contains("OK"), "{out}");
    // Passing, the build goes on.
    let (code, out, err) = run(
        PASSING,
        &[(
            "seeds/orders.csv",
            "order_id,status,amount,placed_on,rush\n1,placed,1.00,2024-01-01,false\n",
        )],
        &["build"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Unit tests: 1 passed"), "{out}");
}

#[test]
fn rows_can_be_a_csv_file_next_to_the_test() {
    let tests = "unit_test from_csv {\n  model = orders\n  given { raw.orders = \"fixtures/orders.csv\" }\n  expect = \"fixtures/expected.csv\"\n}\n";
    let files = [
        (
            "models/fixtures/orders.csv",
            "order_id,status,amount,placed_on\n1,placed,10.5,2024-01-31\n2,test,,\n3,shipped,,\n",
        ),
        (
            "models/fixtures/expected.csv",
            "order_id,status,amount\n1,PLACED,10.50\n3,SHIPPED,0\n",
        ),
    ];
    let (code, out, err) = run(tests, &files, &["test", "--unit"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // A bad field is an error at its file and line; an unknown column too.
    let bad = [
        (
            "models/fixtures/orders.csv",
            "order_id,status,amount,placed_on\n1,placed,10.5,2024-01-31\n2,test,,2024-02-30\n",
        ),
        (
            "models/fixtures/expected.csv",
            "order_id,status\n1,PLACED\n",
        ),
    ];
    let (code, out, _) = run(tests, &bad, &["test", "--unit"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "fixtures/orders.csv:3: `placed_on` is date, and \"2024-02-30\" is not a date"
        ),
        "{out}"
    );
    let unknown = [
        ("models/fixtures/orders.csv", "order_id,state\n1,placed\n"),
        ("models/fixtures/expected.csv", "order_id\n1\n"),
    ];
    let (_, out, _) = run(tests, &unknown, &["test", "--unit"]);
    assert!(
        out.contains("fixtures/orders.csv:1: `raw.orders` has no column `state`"),
        "{out}"
    );
    let (_, out, _) = run(tests, &[], &["test", "--unit"]);
    assert!(out.contains("ERROR   unit_test from_csv"), "{out}");
    assert!(out.contains("fixtures/orders.csv"), "{out}");
}

#[test]
fn given_and_expected_rows_are_checked_where_they_are_written() {
    let cases: &[(&str, &[Code])] = &[
        // A column the relation does not have, at the row.
        (
            "given { raw.orders = [{ order_id = 1, state = \"x\" }] }\n  expect = []",
            &[Code::R002],
        ),
        (
            "given { raw.orders = [] }\n  expect = [{ id = 1 }]",
            &[Code::R002],
        ),
        // A value of another type.
        (
            "given { raw.orders = [{ order_id = \"1\" }] }\n  expect = []",
            &[Code::T016],
        ),
        (
            "given { raw.orders = [{ order_id = 1, placed_on = \"yesterday\" }] }\n  expect = []",
            &[Code::T016],
        ),
        (
            "given { raw.orders = [{ order_id = 1.5 }] }\n  expect = []",
            &[Code::T016],
        ),
        (
            "given { raw.orders = [{ order_id = 1, rush = 1 }] }\n  expect = []",
            &[Code::T016],
        ),
        // A relation that does not exist, or that the model does not read.
        ("given { raw.order = [] }\n  expect = []", &[Code::R001]),
        ("given { orders = [] }\n  expect = []", &[Code::C008]),
        // Rows that are not rows.
        (
            "given { raw.orders = { order_id = 1 } }\n  expect = []",
            &[Code::C004],
        ),
        // No expectation; a setting it does not know.
        ("given { raw.orders = [] }", &[Code::C008]),
        ("expect = []\n  order = true", &[Code::C003]),
    ];
    for (body, expected) in cases {
        let test = format!("unit_test t {{\n  model = orders\n  {body}\n}}\n");
        let (codes, text) = problems(&test);
        assert_eq!(&codes, expected, "{test}\n{text}");
    }
    // The model must exist and be a model.
    let (codes, text) = problems("unit_test t {\n  model = nope\n  expect = []\n}\n");
    assert_eq!(codes, [Code::R001], "{text}");
    let (codes, text) = problems("unit_test t {\n  model = raw.orders\n  expect = []\n}\n");
    assert_eq!(codes, [Code::C008], "{text}");
    // Two tests of one name.
    let (codes, text) = problems(
        "unit_test t {\n  model = orders\n  expect = []\n}\nunit_test t {\n  model = orders\n  expect = []\n}\n",
    );
    assert_eq!(codes, [Code::R003], "{text}");
    // The message says where and what.
    let (_, text) = problems(
        "unit_test t {\n  model = orders\n  given { raw.orders = [{ order_id = 1, placed_on = 20240131 }] }\n  expect = []\n}\n",
    );
    assert!(
        text.contains("`placed_on` is date, and this is an integer"),
        "{text}"
    );
    assert!(text.contains("write a date as a string"), "{text}");
}

#[test]
fn shopco_unit_tests_pass() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    let out = common::run("test", &root, &["--unit"]);
    let text = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        common::stderr(&out)
    );
    for name in [
        "status_is_normalised (stg_orders)",
        "line_revenue_subtracts_the_discount (stg_order_items)",
        "revenue_of_an_order_with_a_discounted_line (int_orders_items)",
        "a_test_accounts_order_is_not_revenue (int_orders_customers)",
        "churn_risk_bucket_edges (fct_customer_ltv)",
    ] {
        assert!(
            text.contains(&format!("PASS    unit_test {name}")),
            "{text}"
        );
    }
    assert!(!root.join("target/shopco.duckdb").exists());
    // Each catches the bug it is about: a wrong churn edge fails its test.
    let ltv = root.join("models/marts/fct_customer_ltv.shop");
    let text = std::fs::read_to_string(&ltv).unwrap();
    std::fs::write(&ltv, text.replace("r.f_score <= 2", "r.f_score < 2")).unwrap();
    let out = common::run("test", &root, &["--unit", "--select", "fct_customer_ltv"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(r#"  - { customer_id = 2, rfm_code = "R2F2M3", churn_risk = "high" }"#),
        "{text}"
    );
    assert!(
        text.contains(r#"  + { customer_id = 2, rfm_code = "R2F2M3", churn_risk = "medium" }"#),
        "{text}"
    );
}
