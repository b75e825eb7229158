//! ShopCo through the Snowflake adapter (`snowflake-api`'s client) against a
//! local fakesnow server (see `common::Fakesnow`): every relation equals the
//! DuckDB build, incremental days merge, key-pair and password logins work,
//! and refused statements and unreachable servers are reported clearly.
#![allow(clippy::disallowed_methods)]

use std::process::Command;

use shopc::warehouse::{SnowflakeWarehouse, Warehouse};

use crate::common;
use common::compare::{assert_same, rows};
use common::{Fakesnow, build, run, stderr, stdout};

#[test]
fn shopco_on_snowflake_equals_the_duckdb_build() {
    let sf = Fakesnow::start("shopco_equal");
    let (_temp, root) = common::shopco_copy(&[]);
    sf.write_profiles(&root);
    build(&root, &[]);
    // Every test runs, the proven ones too: the proofs hold on each engine.
    let text = build(&root, &["--target", "sf", "--verify-proofs"]);
    assert!(
        text.contains("Running 72 nodes on snowflake shopc@shopco/"),
        "{text}"
    );
    assert!(text.contains("72 ok, 0 warnings, 0 errors"), "{text}");
    assert_same(&root.join("target/shopco.duckdb"), &mut sf.connect());

    // A second build replaces every table (`CREATE OR REPLACE`) and gives
    // the same rows.
    let text = build(&root, &["--target", "sf"]);
    assert!(
        text.contains("50 ok, 0 warnings, 0 errors, 0 skipped, 22 proven"),
        "{text}"
    );
    assert_same(&root.join("target/shopco.duckdb"), &mut sf.connect());
}

#[test]
fn three_days_on_snowflake_equal_three_days_on_duckdb() {
    let sf = Fakesnow::start("shopco_days");
    let (_temp, root) = common::shopco_copy(&[]);
    sf.write_profiles(&root);
    let day = |n: u32| root.join(format!("days/day{n}"));
    build(&root, &["--target", "sf"]);
    build(&root, &[]);
    for n in [2, 3] {
        let seeds = day(n);
        let text = build(
            &root,
            &["--target", "sf", "--seeds", seeds.to_str().unwrap()],
        );
        assert!(text.contains("[merge in"), "{text}");
        assert!(text.contains("[append in"), "{text}");
        assert!(
            text.contains("snapshots.customers_snapshot ...................... [updated"),
            "{text}"
        );
        build(&root, &["--seeds", seeds.to_str().unwrap()]);
    }
    assert_same(&root.join("target/shopco.duckdb"), &mut sf.connect());
}

#[test]
fn seeds_keep_null_apart_from_the_empty_string() {
    let sf = Fakesnow::start("shopco_seeds");
    let (_temp, root) = common::shopco_copy(&[]);
    sf.write_profiles(&root);
    let out = run("seed", &root, &["--target", "sf"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // raw_customers.csv writes an unknown segment as `""` and an unknown
    // country as nothing: the empty string and NULL.
    let sql = "SELECT count_if(segment = ''), count_if(segment IS NULL), \
               count_if(country IS NULL), count(*) FROM raw.raw_customers";
    let counts = |w: &mut dyn Warehouse| rows(w.query(sql).unwrap());
    let mut duck = shopc::warehouse::DuckDbWarehouse::in_memory().unwrap();
    duck.execute(&format!(
        "CREATE SCHEMA raw; CREATE TABLE raw.raw_customers AS SELECT * FROM read_csv('{}', \
         header = true, all_varchar = true, nullstr = '', allow_quoted_nulls = false)",
        root.join("seeds/raw_customers.csv").display()
    ))
    .unwrap();
    let expected = counts(&mut duck);
    assert_eq!(counts(&mut sf.connect()), expected);
    let values: Vec<&str> = expected[0].split(" | ").collect();
    assert_ne!(values[0], "0.000000", "the file has empty segments");
}

#[test]
fn a_refused_statement_names_the_model_the_statement_and_the_message() {
    let sf = Fakesnow::start("shopco_error");
    let (_temp, root) = common::shopco_copy(&[]);
    sf.write_profiles(&root);
    build(&root, &["--target", "sf", "-s", "+stg_products"]);
    // A column the checker allows but the table does not have any more.
    sf.connect()
        .execute(r#"ALTER TABLE "raw"."raw_products" RENAME COLUMN "cost" TO "unit_cost""#)
        .unwrap();
    let out = run("run", &root, &["--target", "sf", "-s", "stg_products+"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ERROR   view staging.stg_products"), "{text}");
    assert!(text.contains("Snowflake error"), "{text}");
    assert!(text.contains("in the statement:"), "{text}");
    assert!(text.contains("CREATE OR REPLACE VIEW"), "{text}");
    assert!(text.contains("SKIP"), "{text}");
}

/// An RSA key in PKCS#8 PEM, as Snowflake's key-pair logins use.
fn private_key() -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_key_pair_login_builds_and_the_key_is_never_printed() {
    let sf = Fakesnow::start("shopco_keypair");
    let (_temp, root) = common::shopco_copy(&[]);
    std::fs::write(
        root.join("profiles.toml"),
        format!(
            "[targets.sf]\nadapter = \"snowflake\"\naccount = \"shopco\"\nuser = \"shopc\"\n\
             database = \"{}\"\nschema = \"public\"\nrole = \"transformer\"\n\
             private_key = {{ env = \"SHOPC_TEST_KEY\" }}\nhost = \"{}\"\n",
            sf.database, sf.host
        ),
    )
    .unwrap();
    let key = private_key();
    let shopc = |args: &[&str]| {
        let mut all = vec![
            args[0],
            "--project",
            root.to_str().unwrap(),
            "--target",
            "sf",
        ];
        all.extend_from_slice(&args[1..]);
        Command::new(env!("CARGO_BIN_EXE_shopc"))
            .env("SHOPC_ENV", "prod")
            .args(&all)
            .env("SHOPC_TEST_KEY", &key)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_shopc"))
        .env("SHOPC_ENV", "prod")
        .args(["debug", "connection", "--project", root.to_str().unwrap()])
        .args(["--target", "sf"])
        .env("SHOPC_TEST_KEY", &key)
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("private_key  set (not shown)"), "{all}");
    assert!(all.contains("connection: ok"), "{all}");
    assert!(all.contains("server:     Snowflake "), "{all}");
    let body: String = key.lines().nth(1).unwrap().to_string();
    assert!(!all.contains(&body), "{all}");

    let out = shopc(&["build", "-s", "+stg_orders"]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("view staging.stg_orders"), "{all}");
    assert!(!all.contains(&body), "{all}");

    // Not a key: the client cannot sign the login, and says so.
    let out = Command::new(env!("CARGO_BIN_EXE_shopc"))
        .env("SHOPC_ENV", "prod")
        .args(["debug", "connection", "--project", root.to_str().unwrap()])
        .args(["--target", "sf"])
        .env("SHOPC_TEST_KEY", "not a PEM key")
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("cannot connect to snowflake shopc@shopco"),
        "{all}"
    );
}

#[test]
fn an_unreachable_server_is_an_error_that_names_it_and_not_the_password() {
    let (_temp, root) = common::shopco_copy(&[]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        root.join("profiles.toml"),
        format!(
            "[targets.sf]\nadapter = \"snowflake\"\naccount = \"shopco\"\nuser = \"shopc\"\n\
             database = \"d\"\nschema = \"public\"\npassword = {{ env = \"SHOPC_TEST_SECRET\" }}\n\
             host = \"http://127.0.0.1:{port}\"\n"
        ),
    )
    .unwrap();
    for command in [vec!["debug", "connection"], vec!["build"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_shopc"))
            .env("SHOPC_ENV", "prod")
            .args(&command)
            .args(["--project", root.to_str().unwrap(), "--target", "sf"])
            .env("SHOPC_TEST_SECRET", "s3cr3t-value")
            .output()
            .unwrap();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_ne!(out.status.code(), Some(0), "{all}");
        assert!(
            all.contains(&format!(
                "cannot connect to snowflake shopc@shopco/d.public at http://127.0.0.1:{port}"
            )),
            "{all}"
        );
        assert!(all.contains("Connection refused"), "{all}");
        assert!(!all.contains("s3cr3t-value"), "{all}");
    }
}

#[test]
fn the_adapter_reads_snowflake_types_as_duckdb_writes_them() {
    let sf = Fakesnow::start("shopco_types");
    let mut w: SnowflakeWarehouse = sf.connect();
    let result = w
        .query(
            "SELECT 7 AS i, CAST(1.5 AS NUMBER(10, 2)) AS n, CAST(-0.05 AS NUMBER(38, 2)) AS m, \
             CAST(2.5 AS FLOAT) AS f, 'x' AS t, TRUE AS b, CAST('2024-02-29' AS DATE) AS d, \
             CAST('2024-01-02 03:04:05.5' AS TIMESTAMP_NTZ) AS ts, NULL AS z",
        )
        .unwrap();
    assert_eq!(
        result.rows,
        vec![vec![
            Some("7".to_string()),
            Some("1.50".to_string()),
            Some("-0.05".to_string()),
            Some("2.5".to_string()),
            Some("x".to_string()),
            Some("true".to_string()),
            Some("2024-02-29".to_string()),
            Some("2024-01-02 03:04:05.5".to_string()),
            None,
        ]]
    );
    assert_eq!(result.columns[0], "I");
}

/// Series without `generate_series`: the same rows as DuckDB's.
#[test]
fn series_on_snowflake_equal_duckdb() {
    let sf = Fakesnow::start("series_equal");
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"spines\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        ("models/s.shop", crate::postgres::SPINES),
    ]);
    let root = dir.path();
    sf.write_profiles(root);
    build(root, &[]);
    let text = build(root, &["--target", "sf"]);
    assert!(text.contains("0 errors"), "{text}");
    crate::postgres::assert_series_equal(root, &mut sf.connect());
}
