//! ShopCo on a real PostgreSQL server (see `common::Postgres`): every
//! relation equals the DuckDB build row for row, incremental days 1 to 3
//! give what a full refresh gives, and a server error names the model, the
//! statement and the server's message.
#![allow(clippy::disallowed_methods)]

use shopc::warehouse::{DuckDbWarehouse, Warehouse};

use crate::common;
use common::compare::{assert_same, rows};
use common::{Postgres, build, run, stderr, stdout};

#[test]
fn shopco_on_postgres_equals_the_duckdb_build() {
    let pg = Postgres::start("shopco_equal");
    let (_temp, root) = common::shopco_copy(&[]);
    pg.write_profiles(&root);
    build(&root, &[]);
    // Every test runs, the proven ones too: the proofs hold on each engine.
    let text = build(&root, &["--target", "pg", "--verify-proofs"]);
    assert!(
        text.contains("Running 72 nodes on postgres shopc@127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("72 ok, 0 warnings, 0 errors"), "{text}");
    assert_same(&root.join("target/shopco.duckdb"), &mut pg.connect());

    // A second build reloads the seeds under the staging views (PostgreSQL
    // binds a view to its table, so the table is refilled, not replaced).
    let text = build(&root, &["--target", "pg"]);
    assert!(
        text.contains("50 ok, 0 warnings, 0 errors, 0 skipped, 22 proven"),
        "{text}"
    );
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
        .env("SHOPC_ENV", "prod")
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

/// `try_cast` and the month and quarter differences, whose PostgreSQL forms
/// write each operand once (so nesting stays linear in size), give what
/// DuckDB gives: text of every shape each type accepts and some it does
/// not, casts that cannot fail (a timestamp to a date), and date pairs
/// across month, quarter and year ends, both ways round. A `timestamptz`'s
/// date and hour are its UTC ones, as on DuckDB, although the database's
/// time zone is 14 hours ahead.
#[test]
fn safe_casts_and_month_differences_equal_duckdb() {
    let pg = Postgres::start("functions_equal");
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"functions\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        (
            "models/f.shop",
            "source raw {\n  table t {\n    columns { id: integer, s: text, d: date, e: date, ts: timestamp, tz: timestamptz }\n  }\n}\n\
         model f {\n  from raw.t t\n  columns {\n    id = t.id,\n\
             i = try_cast(t.s as integer),\n    n = try_cast(t.s as numeric(12, 2)),\n\
             x = try_cast(t.s as double),\n    b = try_cast(t.s as boolean),\n\
             dt = try_cast(t.s as date),\n    tsv = try_cast(t.s as timestamp),\n\
             twice = try_cast(cast(try_cast(t.s as integer) as text) as integer),\n\
             day = try_cast(t.ts as date),\n\
             months = date_diff('month', t.d, t.e),\n    quarters = date_diff('quarter', t.d, t.e),\n\
             months_ts = date_diff('month', t.ts, cast(t.e as timestamp)),\n\
             quarters_ts = date_diff('quarter', t.ts, cast(t.e as timestamp)),\n\
             tz_day = cast(t.tz as date),\n    tz_hour = date_part('hour', t.tz),\n\
             tz_month = date_diff('month', t.tz, cast(t.e as timestamp))\n  }\n}\n",
        ),
    ]);
    let root = dir.path();
    let texts = [
        "12",
        " -7 ",
        "+3",
        "abc",
        "",
        "3.25",
        "-0.5",
        ".5",
        "1e3",
        "2.5E-2",
        "true",
        "Yes",
        "off",
        "F",
        "2024-02-29",
        " 2023-12-31 ",
        "2024-02-29 10:30:00",
        "2024-02-29T23:59:59.5",
        "12a",
        "--1",
        "1.2.3",
        "2.5",
        "-2.5",
        "1.",
        "2024-1-5",
        "2024/01/05",
        "2024-01-01 10:00:00+02",
        "2024-01-01 10:00:00 UTC",
        "2024-01-01T10:00",
        "2024-01-01 10:00:00 ",
        "y",
        "N",
        "0",
        "ye",
    ];
    let pairs = [
        ("2024-01-31", "2024-02-01"),
        ("2024-02-01", "2024-01-31"),
        ("2023-12-31", "2024-01-01"),
        ("2024-01-01", "2023-12-31"),
        ("2024-03-31", "2024-04-01"),
        ("2024-02-29", "2025-02-28"),
        ("2000-01-01", "2024-12-31"),
        ("2024-12-31", "2000-01-01"),
        ("2024-05-15", "2024-05-15"),
        ("1999-06-30", "2024-07-01"),
        ("2024-01-01", "2024-12-31"),
        ("2024-11-30", "2023-02-01"),
    ];
    let mut csv = String::from("id,s,d,e,ts,tz\n");
    for (i, s) in texts.iter().enumerate() {
        let (d, e) = pairs[i % pairs.len()];
        let ts = format!("{d} {:02}:15:00", (i * 5) % 24);
        csv.push_str(&format!("{i},\"{s}\",{d},{e},{ts},{ts}+00\n"));
    }
    std::fs::write(root.join("seeds/t.csv"), csv).unwrap();
    pg.connect()
        .execute(&format!(
            "ALTER DATABASE {} SET timezone TO 'Pacific/Kiritimati'",
            pg.database
        ))
        .unwrap();
    pg.write_profiles(root);
    build(root, &[]);
    build(root, &["--target", "pg"]);
    let query = "SELECT * FROM main.f";
    let duck = rows(
        DuckDbWarehouse::open(&root.join("target/functions.duckdb"))
            .unwrap()
            .query(query)
            .unwrap(),
    );
    let theirs = rows(pg.connect().query(query).unwrap());
    assert_eq!(duck.len(), texts.len());
    assert_eq!(duck, theirs);
    // The shapes were exercised: some casts gave values, some NULL.
    assert!(
        duck.iter().any(|r| r.starts_with("0.0 | 12.0 | 12.0")),
        "{duck:#?}"
    );
    assert!(duck.iter().any(|r| r.contains("NULL")), "{duck:#?}");
}

/// `surrogate_key` is the same text on PostgreSQL as on DuckDB for every
/// type it takes (text with NULLs and `-` in it, integers, dates,
/// booleans), and so is a project function inlined on each.
#[test]
fn surrogate_keys_and_functions_equal_duckdb() {
    let pg = Postgres::start("surrogate_equal");
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"keys\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        (
            "models/k.shop",
            "source raw {\n  table t {\n    columns { id: integer, big: bigint, s: text, d: date, b: boolean, cents: integer }\n  }\n}\n\
             fn cents_to_dollars(cents: numeric) -> numeric(16, 2) = cast(cents / 100 as numeric(16, 2))\n\
             model k {\n  from raw.t t\n  columns {\n    id = t.id\n    key = surrogate_key(t.id, t.big, t.s, t.d, t.b)\n    \
             text_key = surrogate_key(t.s)\n    dollars = cents_to_dollars(t.cents)\n  }\n}\n",
        ),
        (
            "seeds/t.csv",
            "id,big,s,d,b,cents\n1,9000000000,a-b,2024-02-29,true,1999\n2,-1,,1999-12-31,false,5\n3,,x,,,\n4,0,'q',2024-01-01,true,-250\n",
        ),
    ]);
    let root = dir.path();
    pg.write_profiles(root);
    build(root, &[]);
    build(root, &["--target", "pg"]);
    let query = "SELECT * FROM main.k ORDER BY id";
    let duck = rows(
        DuckDbWarehouse::open(&root.join("target/keys.duckdb"))
            .unwrap()
            .query(query)
            .unwrap(),
    );
    let theirs = rows(pg.connect().query(query).unwrap());
    assert_eq!(duck.len(), 4);
    assert_eq!(duck, theirs);
    // Row 3's key: md5 of `3-M-x-M-M`, M being dbt_utils' NULL marker
    // `_dbt_utils_surrogate_key_null_`, as Python's hashlib computes it.
    assert!(
        duck[2].contains("74597b3878f9ba054ddf9ec5fb597c7c"),
        "{duck:#?}"
    );
}

/// Series are generated where they are read, the same rows on both.
#[test]
fn series_equal_duckdb() {
    let pg = Postgres::start("series_equal");
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"spines\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        ("models/s.shop", SPINES),
    ]);
    let root = dir.path();
    pg.write_profiles(root);
    build(root, &[]);
    build(root, &["--target", "pg"]);
    assert_series_equal(root, &mut pg.connect());
}

/// The series models of [`SPINES`] where the DuckDB build at `root` made
/// them and in `other`: the same rows, and as many as their bounds say.
pub fn assert_series_equal(root: &std::path::Path, other: &mut dyn Warehouse) {
    let mut duck = DuckDbWarehouse::open(&root.join("target/spines.duckdb")).unwrap();
    for (model, count) in [
        ("numbers", 5),
        ("days", 5),
        ("months", 6),
        ("weeks", 3),
        ("hours", 4),
    ] {
        let query = format!("SELECT * FROM main.{model} ORDER BY 1");
        let ours = rows(duck.query(&query).unwrap());
        let theirs = rows(other.query(&query).unwrap());
        assert_eq!(ours.len(), count, "{model}: {ours:#?}");
        assert_eq!(ours, theirs, "{model}");
    }
}

/// A series of each kind, each its own model.
pub const SPINES: &str = "model numbers {\n  grain = [n]\n  from range(1, 5) r\n  columns { n = r.value, doubled = r.value * 2 }\n}\n\
    model days {\n  grain = [day]\n  from date_spine('day', date '2024-02-27', date '2024-03-02') d\n  columns { day = d.date_day }\n}\n\
    model months {\n  grain = [month]\n  from date_spine('month', date '2024-01-01', date '2024-06-15') d\n  columns { month = d.date_month }\n}\n\
    model weeks {\n  from date_spine('week', date '2024-01-01', date '2024-01-15') w\n  columns { week = w.date_week }\n}\n\
    model hours {\n  from date_spine('hour', timestamp '2024-01-01 22:00:00', timestamp '2024-01-02 01:00:00') h\n  columns { at = h.date_hour }\n}\n";
