//! The `shopc` binary, run as a user would: exit codes, summary line,
//! rendered errors with file:line:column, bad input that must never panic.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common;
use common::{SHOPCO, shopc, stderr, stdout};

fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "shopc panicked:\n{err}");
}

/// A copy of the ShopCo project's `.shop` files and shop.toml in a temp dir.
fn copy_shopco() -> (tempfile::TempDir, PathBuf) {
    common::shopco_copy(&["seeds"])
}

fn shop_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(shop_files(&path));
        } else if path.extension().is_some_and(|e| e == "shop") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--project", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = shopc(&args);
    assert_no_panic(&out);
    out
}

#[test]
fn shopco_checks_clean_with_a_summary_line() {
    let out = check(Path::new(SHOPCO), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(
        summary.starts_with(
            "check ok: 18 files, 14 models, 5 source tables, 1 snapshot, 1 reconciliation; 0 errors, 0 warnings in "
        ),
        "{summary}"
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn a_broken_copy_of_any_shopco_file_fails_with_file_line_and_column() {
    let (_temp, root) = copy_shopco();
    for file in shop_files(&root) {
        let original = std::fs::read_to_string(&file).unwrap();
        // Break the file after its first `{`: a stray `@` where an item is expected.
        let at = original.find('{').unwrap() + 1;
        let broken = format!("{}\n  @@\n{}", &original[..at], &original[at..]);
        std::fs::write(&file, &broken).unwrap();
        let out = check(&root, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let line = broken[..at].lines().count() + 1;
        let location = format!("{}:{line}:3", file.display());
        let err = stderr(&out);
        assert!(err.contains("error[P001]"), "{err}");
        assert!(err.contains(&location), "expected {location} in:\n{err}");
        assert!(stdout(&out).starts_with("check failed:"));
        std::fs::write(&file, original).unwrap();
    }
}

#[test]
fn a_typo_in_a_column_is_reported_at_the_column_with_a_suggestion() {
    let (_temp, root) = copy_shopco();
    let file = root.join("models/staging/stg_orders.shop");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("customer_id = o.customer_id", "customer_id = o.custmer_id");
    std::fs::write(&file, &text).unwrap();
    let out = check(&root, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error[R002]: unknown column `custmer_id`"),
        "{err}"
    );
    assert!(err.contains("did you mean `customer_id`?"), "{err}");
    assert!(err.contains("stg_orders.shop:11:21"), "{err}");
}

#[test]
fn json_format_carries_code_file_line_and_column() {
    let (_temp, root) = copy_shopco();
    let file = root.join("models/staging/stg_products.shop");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("name = trim(p.name)", "name = trim(p.price)");
    std::fs::write(&file, &text).unwrap();
    let out = check(&root, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "T001");
    assert_eq!(d["severity"], "error");
    assert!(d["file"].as_str().unwrap().ends_with("stg_products.shop"));
    assert_eq!(d["line"], 11);
    assert_eq!(d["column"], 17);
    assert_eq!(json["summary"]["errors"], 1);
    assert_eq!(json["summary"]["models"], 14);
}

#[test]
fn missing_project_is_a_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let out = check(&temp.path().join("nope"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no shop.toml"), "{}", stderr(&out));
}

fn project_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("shop.toml"), "name = \"t\"\n").unwrap();
    std::fs::create_dir_all(temp.path().join("models")).unwrap();
    for (name, bytes) in files {
        std::fs::write(temp.path().join("models").join(name), bytes).unwrap();
    }
    temp
}

const VALID: &[u8] = b"source raw {\n  table t { columns { id: integer } }\n}\nmodel m {\n  from raw.t t\n  columns { id = t.id }\n}\n";

#[test]
fn bad_input_gives_a_diagnostic_and_a_non_zero_exit() {
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let huge = vec![b'#'; 50 * 1024 * 1024];
    type Files<'a> = Vec<(&'a str, &'a [u8])>;
    let cases: Vec<(&str, Files, &str)> = vec![
        ("empty project", vec![], "error[F004]"),
        (
            "invalid UTF-8",
            vec![("a.shop", b"model m { from x \xff }")],
            "error[F002]",
        ),
        ("random bytes", vec![("a.shop", &random)], "error["),
        (
            "50 MB file",
            vec![("big.shop", &huge), ("ok.shop", VALID)],
            "error[F003]",
        ),
        (
            "self reference",
            vec![(
                "a.shop",
                b"model m {\n  from m x\n  columns { id = x.id }\n}\n",
            )],
            "error[R004]: dependency cycle: m → m",
        ),
        (
            "two models, one name",
            vec![
                ("a.shop", VALID),
                (
                    "b.shop",
                    b"model m {\n  from raw.t t\n  columns { id = t.id }\n}\n",
                ),
            ],
            "error[R003]: the relation `m` is defined twice",
        ),
        ("empty file", vec![("a.shop", b"")], "error[F004]"),
    ];
    for (what, files, expected) in cases {
        let temp = project_with(&files);
        let out = check(temp.path(), &[]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(expected),
            "{what}: expected `{expected}` in:\n{err}"
        );
    }
}

#[test]
fn an_unreadable_file_is_an_io_error() {
    let temp = project_with(&[("ok.shop", VALID)]);
    std::os::unix::fs::symlink(
        temp.path().join("gone.shop"),
        temp.path().join("models/link.shop"),
    )
    .unwrap();
    let out = check(temp.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error[F001]"), "{}", stderr(&out));
}

#[test]
fn explain_prints_the_doc_of_a_code() {
    let out = shopc(&["explain", "R001"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("# R001: Unknown relation"),
        "{}",
        stdout(&out)
    );
    let out = shopc(&["explain", "unknown-column"]);
    assert!(stdout(&out).starts_with("# R002"));
    let out = shopc(&["explain"]);
    assert!(stdout(&out).contains("T011  mixed-aggregation"));
    let out = shopc(&["explain", "Z999"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn debug_shows_the_ast_and_the_typed_ir() {
    let out = shopc(&["debug", "ir", "stg_orders", "--project", SHOPCO]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ir = stdout(&out);
    assert!(ir.starts_with("model stg_orders (rel#"), "{ir}");
    assert!(
        ir.contains("order_date: date (Column) = date(o.ordered_at)"),
        "{ir}"
    );
    assert!(
        ir.contains("dedupe on o.order_id keep Latest by o.updated_at"),
        "{ir}"
    );
    let out = shopc(&["debug", "ast", "raw.raw_orders", "--project", SHOPCO]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("raw_orders"));
    let out = shopc(&["debug", "ir", "stg_ordrs", "--project", SHOPCO]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `stg_orders`?"));
}

#[test]
fn usage_errors_exit_2() {
    let out = shopc(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = shopc(&["check", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn targets_come_from_profiles_and_bigquery_runs_exit_2() {
    let (_temp, root) = copy_shopco();
    let project = root.to_str().unwrap();
    std::fs::write(
        root.join("profiles.toml"),
        "default = \"local\"\n\
         [targets.local]\nadapter = \"duckdb\"\npath = \"target/local.duckdb\"\n\
         [targets.bq]\nadapter = \"bigquery\"\nproject = \"shopco-analytics\"\ndataset = \"shopco\"\n",
    )
    .unwrap();
    // The default target: the file it names, not the built-in one.
    let out = shopc(&["seed", "--project", project]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("local.duckdb"), "{}", stdout(&out));
    assert!(root.join("target/local.duckdb").is_file());

    // BigQuery is emission only: running says so and exits 2, emitting works.
    let out = shopc(&["build", "--project", project, "--target", "bq"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "cannot run against BigQuery yet, only write its SQL: `shopc emit --target bq`"
        ),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let out = shopc(&[
        "emit",
        "--project",
        project,
        "--target",
        "bq",
        "-s",
        "fact_orders",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("`marts`.`fact_orders`"),
        "{}",
        stdout(&out)
    );

    // An unknown target, and a secret written in the file.
    let out = shopc(&["run", "--project", project, "--target", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no target `prod` in profiles.toml; it has bq, local"),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        root.join("profiles.toml"),
        "[targets.pg]\nadapter = \"postgres\"\nuser = \"shopc\"\ndbname = \"shopco\"\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let out = shopc(&[
        "debug",
        "connection",
        "--project",
        project,
        "--target",
        "pg",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("profiles.toml:5:12: secrets are read from the environment"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !stdout(&out).contains("hunter2"),
        "{err}"
    );
}
