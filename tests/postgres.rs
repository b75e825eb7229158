//! ShopCo on a real PostgreSQL server (see `common::Postgres`): every
//! relation equals the DuckDB build row for row, incremental days 1 to 3
//! give what a full refresh gives, and a server error names the model, the
//! statement and the server's message.
#![allow(clippy::disallowed_methods)]

use shopc::warehouse::{DuckDbWarehouse, Warehouse};

mod common;
use common::compare::{assert_same, rows};
use common::{Postgres, build, run, stderr, stdout};

#[test]
fn shopco_on_postgres_equals_the_duckdb_build() {
    let pg = Postgres::start("shopco_equal");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    build(&root, &[]);
    let text = build(&root, &["--target", "pg"]);
    assert!(
        text.contains("Running 72 nodes on postgres shopc@127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("72 ok, 0 warnings, 0 errors"), "{text}");
    assert_same(&root.join("target/shopco.duckdb"), &mut pg.connect());

    // A second build reloads the seeds under the staging views (PostgreSQL
    // binds a view to its table, so the table is refilled, not replaced).
    let text = build(&root, &["--target", "pg"]);
    assert!(text.contains("72 ok"), "{text}");
    assert_same(&root.join("target/shopco.duckdb"), &mut pg.connect());
}

#[test]
fn three_days_on_postgres_equal_a_full_refresh_on_duckdb() {
    let pg = Postgres::start("shopco_days");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    let day = |n: u32| root.join(format!("days/day{n}"));
    build(&root, &["--target", "pg"]);
    for n in [2, 3] {
        let text = build(
            &root,
            &["--target", "pg", "--seeds", day(n).to_str().unwrap()],
        );
        assert!(text.contains("[merge in"), "{text}");
        assert!(text.contains("[append in"), "{text}");
        assert!(
            text.contains("snapshots.customers_snapshot ...................... [updated"),
            "{text}"
        );
    }
    // DuckDB: the same three days, so that the snapshots have the same history.
    build(&root, &[]);
    build(&root, &["--seeds", day(2).to_str().unwrap()]);
    build(&root, &["--seeds", day(3).to_str().unwrap()]);
    assert_same(&root.join("target/shopco.duckdb"), &mut pg.connect());

    // And the merged fact table equals a full refresh of day 3.
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
    let mut duck = DuckDbWarehouse::open(&full).unwrap();
    let sql = "SELECT * FROM marts.fact_orders";
    assert_eq!(
        rows(duck.query(sql).unwrap()),
        rows(pg.connect().query(sql).unwrap())
    );
}

#[test]
fn a_server_error_names_the_model_the_statement_and_the_message() {
    let pg = Postgres::start("shopco_error");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    build(&root, &["--target", "pg"]);
    // A column the checker allows but the table does not have any more:
    // drop it behind shopc's back.
    pg.connect()
        .execute("ALTER TABLE raw.raw_products RENAME COLUMN cost TO unit_cost")
        .unwrap();
    let out = run("run", &root, &["--target", "pg", "-s", "stg_products+"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ERROR   view staging.stg_products"), "{text}");
    assert!(text.contains("ERROR: column"), "{text}");
    assert!(text.contains("in the statement:"), "{text}");
    assert!(
        text.contains("CREATE OR REPLACE VIEW") || text.contains("CREATE VIEW"),
        "{text}"
    );
    assert!(text.contains("SKIP"), "{text}");
}

#[test]
fn debug_connection_reaches_the_server_and_never_prints_a_secret() {
    let pg = Postgres::start("shopco_debug");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    let out = common::shopc(&[
        "debug",
        "connection",
        "--project",
        root.to_str().unwrap(),
        "--target",
        "pg",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("target:   pg (postgres)"), "{text}");
    assert!(text.contains("connection: ok"), "{text}");
    assert!(text.contains("server:     PostgreSQL"), "{text}");

    // A password from the environment, and a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        root.join("profiles.toml"),
        format!(
            "[targets.pg]\nadapter = \"postgres\"\nport = {port}\nuser = \"shopc\"\ndbname = \"x\"\npassword = {{ env = \"SHOPC_TEST_SECRET\" }}\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shopc"))
        .args([
            "debug",
            "connection",
            "--project",
            root.to_str().unwrap(),
            "--target",
            "pg",
        ])
        .env("SHOPC_TEST_SECRET", "s3cr3t-value")
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("password     set (not shown)"), "{all}");
    assert!(
        all.contains("cannot connect to postgres shopc@127.0.0.1"),
        "{all}"
    );
    // With its cause, not only "error connecting to server".
    assert!(all.contains("Connection refused"), "{all}");
    assert!(!all.contains("s3cr3t-value"), "{all}");

    // Unset: said so, before connecting.
    let out = run("build", &root, &["--target", "pg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`password` is read from $SHOPC_TEST_SECRET, which is not set"),
        "{}",
        stderr(&out)
    );
}

/// `emit --target postgres` writes what `run` executes on PostgreSQL, and
/// each build file runs by hand, twice in a row, leaving the relations as
/// `shopc build` made them.
#[test]
fn emitted_build_files_run_twice_in_a_row_on_postgres() {
    let pg = Postgres::start("shopco_emitted");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    build(&root, &[]);
    build(&root, &["--target", "pg"]);
    let ran = common::run_emitted_builds(&root, "postgres", &mut pg.connect());
    assert!(ran >= 12, "{ran} files");
    assert_same(&root.join("target/shopco.duckdb"), &mut pg.connect());
}
