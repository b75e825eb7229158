//! Nothing loaded or built is lost: a load that the engine cuts short
//! fails, and the table it would have replaced keeps its rows.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;

use shopc::warehouse::Warehouse;

fn seeded_project(csv: &str) -> tempfile::TempDir {
    common::project(&[
        ("shop.toml", "name = \"safety\"\n"),
        (
            "models/source.shop",
            "source raw {\n  table t { columns { id: integer, s: text } }\n}\n",
        ),
        ("seeds/t.csv", csv),
    ])
}

fn rows(root: &Path) -> Vec<(i64, usize)> {
    let db = common::database_at(&root.join("target/safety.duckdb"));
    let mut statement = db
        .prepare("SELECT id, length(s) FROM raw.t ORDER BY id")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// DuckDB's CSV reader refuses a line over 2 MB, but of a line of 32 MiB or
/// more it read nothing, without an error, and loaded none of a one-row file: `OK seed raw.t [1 rows]`, and the table
/// replaced by an empty one. The load now counts what it loaded, fails, and
/// leaves the previous table as it was.
#[test]
fn a_seed_row_the_engine_cannot_read_fails_and_keeps_the_table() {
    let dir = seeded_project("id,s\n1,a\n2,bb\n");
    let root = dir.path();
    let out = common::run("seed", root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    assert_eq!(rows(root), [(1, 1), (2, 2)]);

    let long = "x".repeat(33 << 20);
    std::fs::write(root.join("seeds/t.csv"), format!("id,s\n1,{long}\n")).unwrap();
    let out = common::run("seed", root, &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ERROR   seed raw.t"), "{text}");
    assert!(
        text.contains("has 1 row, but duckdb") && text.contains("loaded 0"),
        "{text}"
    );
    assert!(text.contains("raw.t is left as it was"), "{text}");
    assert_eq!(rows(root), [(1, 1), (2, 2)], "the old rows are kept");
    // A line over DuckDB's 2,000,000 bytes: its error, with the file and line.
    let long = "x".repeat(3_000_000);
    std::fs::write(root.join("seeds/t.csv"), format!("id,s\n1,a\n2,{long}\n")).unwrap();
    let out = common::run("seed", root, &[]);
    let text = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(
        text.contains("seeds/t.csv:3: duckdb ")
            && text.contains(" cannot load this line: Maximum line size of 2000000 bytes exceeded"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(
        !text.contains("Possible Solution"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(
        text.len() < 1000,
        "the line is not repeated: {} bytes",
        text.len()
    );
    assert_eq!(rows(root), [(1, 1), (2, 2)], "the old rows are kept");
    // No scratch table is left behind.
    let db = common::database_at(&root.join("target/safety.duckdb"));
    let tables: i64 = db
        .query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1);
}

/// `--seeds DIR` that is not there seeded nothing and `build` exited 0 on
/// the data already loaded: it is a usage error before anything runs.
#[test]
fn a_seeds_folder_that_is_not_there_is_a_usage_error() {
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    for command in ["seed", "build"] {
        let out = common::run(command, root, &["--seeds", "no/such/folder"]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("--seeds `no/such/folder` does not exist; nothing was run"),
            "{command}: {err}"
        );
        assert!(!root.join("target/safety.duckdb").exists(), "{command} ran");
    }
    let file = root.join("seeds/t.csv");
    let out = common::run("seed", root, &["--seeds", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("is not a folder"));
}

/// `-var('neg')` with `neg = -1` was emitted as `(--1)`, which SQL reads as
/// a comment; `nan` was emitted bare. A negative number is parenthesized,
/// and a var that is no finite number is C004 at the call.
#[test]
fn negative_and_non_finite_vars_emit_safely() {
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    std::fs::write(
        root.join("shop.toml"),
        "name = \"safety\"\n\n[defaults]\nmaterialized = \"table\"\n\n[vars]\nneg = -1\nhalf = -0.5\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/m.shop"),
        "model m {\n  from raw.t t\n  columns { id = t.id, a = -var('neg'), b = 1 - -var('half'), c = t.id - var('neg') }\n}\n",
    )
    .unwrap();
    let out = common::run("build", root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    let db = common::database_at(&root.join("target/safety.duckdb"));
    let row: (i64, f64, i64) = db
        .query_row("SELECT a, CAST(b AS DOUBLE), c FROM main.m", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(row, (1, 0.5, 2));
    for dialect in ["duckdb", "postgres", "snowflake", "bigquery"] {
        let out_dir = root.join(format!("out-{dialect}"));
        let out = common::run(
            "emit",
            root,
            &["--target", dialect, "--out", out_dir.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        let sql = std::fs::read_to_string(out_dir.join("m.build.sql")).unwrap();
        let body: String = sql.lines().filter(|l| !l.starts_with("-- ")).collect();
        assert!(!body.contains("--"), "{dialect}: {sql}");
    }

    std::fs::write(
        root.join("shop.toml"),
        "name = \"safety\"\n\n[vars]\nneg = -1\nhalf = -0.5\nn = nan\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/m.shop"),
        "model m {\n  from raw.t t\n  columns { id = t.id, x = var('n') }\n}\n",
    )
    .unwrap();
    let out = common::run("check", root, &[]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error[C004]"), "{err}");
    assert!(err.contains("a finite number in `[vars]`"), "{err}");
}

/// A secret's variable read by a field that is not a secret (`port = { env
/// = "…PASSWORD" }`) printed its value in the error, and `debug connection`
/// would show it as the user. Such a target is refused by name, and no
/// error shows an environment variable's value: the value is grepped for
/// in stdout, stderr and `target/`.
#[test]
fn a_secrets_variable_is_never_printed_whatever_field_reads_it() {
    const VALUE: &str = "hunter2-do-not-print";
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    let targets = [
        // The same variable as the password.
        "port = { env = \"SHOPC_TEST_DB_PW\" }\nuser = \"u\"\ndbname = \"d\"\npassword = { env = \"SHOPC_TEST_DB_PW\" }\n",
        // Named like a secret, though no secret field reads it.
        "user = { env = \"SHOPC_TEST_DB_PASSWORD\" }\ndbname = \"d\"\n",
        // Not a secret's variable, but its value does not fit.
        "port = { env = \"SHOPC_TEST_PLAIN\" }\nuser = \"u\"\ndbname = \"d\"\n",
    ];
    for (i, target) in targets.iter().enumerate() {
        std::fs::write(
            root.join("profiles.toml"),
            format!("[targets.pg]\nadapter = \"postgres\"\nhost = \"127.0.0.1\"\n{target}"),
        )
        .unwrap();
        for args in [
            &["debug", "connection", "--target", "pg"][..],
            &["build", "--target", "pg"][..],
        ] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_shopc"))
                .env("SHOPC_ENV", "prod")
                .args(args)
                .args(["--project", root.to_str().unwrap()])
                .env("SHOPC_TEST_DB_PW", VALUE)
                .env("SHOPC_TEST_DB_PASSWORD", VALUE)
                .env("SHOPC_TEST_PLAIN", VALUE)
                .output()
                .unwrap();
            let (stdout, stderr) = (common::stdout(&out), common::stderr(&out));
            assert_ne!(out.status.code(), Some(0), "{i} {args:?}: {stdout}{stderr}");
            assert!(
                !stdout.contains(VALUE) && !stderr.contains(VALUE),
                "{i} {args:?}: {stdout}{stderr}"
            );
            let expected = if i < 2 {
                "a secret's variable"
            } else {
                "does not fit (not shown)"
            };
            assert!(stderr.contains(expected), "{i} {args:?}: {stderr}");
        }
    }
    for entry in walkdir::WalkDir::new(root.join("target"))
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
                "{} holds the secret",
                entry.path().display()
            );
        }
    }
}

/// PostgreSQL cuts names at 63 bytes: the table built beside a model of 53
/// bytes or more has a name it cuts, and from 63 bytes it is cut to the
/// model's own name and dropped as a half-built table. Such a name is E002 before anything connects (the
/// target's port is closed), on `build` and `emit`; DuckDB takes it.
#[test]
fn a_name_postgresql_would_cut_is_refused_before_anything_connects() {
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    let long = "m".repeat(46);
    std::fs::write(
        root.join("models/m.shop"),
        format!("model {long} {{\n  materialized = \"table\"\n  from raw.t t\n  columns {{ id = t.id }}\n}}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("profiles.toml"),
        "[targets.pg]\nadapter = \"postgres\"\nhost = \"127.0.0.1\"\nport = 1\nuser = \"u\"\ndbname = \"d\"\n",
    )
    .unwrap();
    let out = common::run("build", root, &["--target", "pg"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error[E002]"), "{err}");
    assert!(
        err.contains(&format!(
            "`{long}` is too long for postgres: 64 bytes with `__shopc_new_` and a run's id, over the 63 bytes postgres keeps"
        )),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!err.contains("cannot connect"), "{err}");
    let out_dir = root.join("out");
    let out = common::run(
        "emit",
        root,
        &["--target", "postgres", "--out", out_dir.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(!out_dir.exists());
    // The embedded DuckDB has no limit.
    common::build(root, &[]);
}

/// Fields whose quoting readers take differently: a quote inside an
/// unquoted field (literal to the validator and DuckDB; PostgreSQL's `COPY`
/// opened a quote there and merged three rows into two), `""` (the empty
/// string) beside an empty field (NULL), a quoted comma and line break.
const QUOTING_CSV: &str = "id,s\n1,a\"b\n2,c\n3,\"\"\n4,\n5,\"x,\"\"y\"\"\nz\"\n6,'\\'\n";

/// What every warehouse must hold after seeding [`QUOTING_CSV`].
fn quoting_rows() -> Vec<Vec<Option<String>>> {
    let text = |s: &str| Some(s.to_string());
    vec![
        vec![text("1"), text("a\"b")],
        vec![text("2"), text("c")],
        vec![text("3"), text("")],
        vec![text("4"), None],
        vec![text("5"), text("x,\"y\"\nz")],
        vec![text("6"), text("'\\'")],
    ]
}

fn seeded_rows(warehouse: &mut dyn Warehouse) -> Vec<Vec<Option<String>>> {
    warehouse
        .query("SELECT CAST(id AS TEXT), s FROM raw.t ORDER BY id")
        .unwrap()
        .rows
}

#[test]
fn postgresql_loads_exactly_the_rows_that_were_validated() {
    let pg = common::Postgres::start("safety_quotes");
    let dir = seeded_project(QUOTING_CSV);
    let root = dir.path();
    pg.write_profiles(root);
    let out = common::run("seed", root, &["--target", "pg"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[6 rows in "), "{text}");
    assert_eq!(seeded_rows(&mut pg.connect()), quoting_rows());

    // DuckDB, which reads the file itself, reads the same rows.
    let out = common::run("seed", root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    let mut duckdb =
        shopc::warehouse::DuckDbWarehouse::open(&root.join("target/safety.duckdb")).unwrap();
    assert_eq!(seeded_rows(&mut duckdb), quoting_rows());
}

#[test]
fn snowflake_loads_exactly_the_rows_that_were_validated() {
    let snow = common::Fakesnow::start("safety_quotes");
    let dir = seeded_project(QUOTING_CSV);
    let root = dir.path();
    snow.write_profiles(root);
    let out = common::run("seed", root, &["--target", "sf"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[6 rows in "), "{text}");
    assert_eq!(seeded_rows(&mut snow.connect()), quoting_rows());
}

/// `not_null` of `a_b.c` and of `a.b_c` were both `not_null_a_b_c`: one
/// file held the other's query, and the run reported two tests by one name.
/// Tests whose names coincide get a suffix of their own; other tests keep
/// dbt's names.
#[test]
fn tests_whose_names_coincide_get_names_of_their_own() {
    let dir = common::project(&[
        ("shop.toml", "name = \"safety\"\n"),
        (
            "models/source.shop",
            "source raw {\n  table t { columns { id: integer, s: text } }\n}\n",
        ),
        (
            "models/m.shop",
            "model a_b {\n  from raw.t t\n  columns { id = t.id, c = t.s }\n  tests { not_null(c)\n not_null(c) }\n}\n\
             model a {\n  from raw.t t\n  columns { id = t.id, b_c = t.s }\n  tests { not_null(b_c)\n not_null(id) }\n}\n",
        ),
        ("seeds/t.csv", "id,s\n1,\n"),
    ]);
    let root = dir.path();
    let out_dir = root.join("out");
    let out = common::run("emit", root, &["--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let mut files: Vec<String> = std::fs::read_dir(out_dir.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(
        files.contains(&"not_null_a_id.sql".to_string()),
        "{files:?}"
    );
    let shared: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("not_null_a_b_c_"))
        .collect();
    assert_eq!(shared.len(), 3, "{files:?}");

    // Each runs, under its own name, and fails on its own model's row.
    let out = common::run("build", root, &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let failed: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| l.contains("FAIL") && l.contains("not_null_a_b_c_"))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("not_null_a_b_c_"))
        })
        .collect();
    assert_eq!(failed.len(), 3, "{text}");
    // The names are the same on every run and every target.
    let again = common::run(
        "emit",
        root,
        &[
            "--target",
            "postgres",
            "--out",
            root.join("pg").to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(0));
    for file in &files {
        assert!(root.join("pg/tests").join(file).exists(), "{file}");
    }
}

/// With `standard_conforming_strings = off`, PostgreSQL reads a backslash
/// in `'…'` as an escape: the literal `'\''); drop table pwned; --'` closed
/// early and the server ran `drop table pwned`. A value with a backslash is
/// now an escape string, `E'…'`, which means the same under either setting:
/// run by shopc, and as the emitted file, on a server with the setting off.
#[test]
fn a_backslash_cannot_end_a_postgresql_string_whatever_the_server_setting() {
    const EVIL: &str = r"\'); drop table pwned; --";
    let pg = common::Postgres::start("safety_scs");
    let mut admin = pg.connect();
    admin.execute("CREATE TABLE pwned (x integer)").unwrap();
    admin
        .execute(&format!(
            "ALTER DATABASE {} SET standard_conforming_strings = off",
            pg.database
        ))
        .unwrap();
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"safety\"\n\n[defaults]\nmaterialized = \"table\"\n\n[vars]\nevil = \"\\\\'); drop table pwned; --\"\n",
        ),
        (
            "models/source.shop",
            "source raw {\n  table t { columns { id: integer, s: text } }\n}\n",
        ),
        (
            "models/m.shop",
            "model m {\n  from raw.t t\n  where t.s <> var('evil')\n  columns { id = t.id, evil = var('evil'), quoted = '\\'';'' \\\\' }\n}\n",
        ),
        ("seeds/t.csv", "id,s\n1,a\n"),
    ]);
    let root = dir.path();
    pg.write_profiles(root);
    let out = common::run("build", root, &["--target", "pg"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    let mut session = pg.connect();
    assert_eq!(
        session
            .query("SHOW standard_conforming_strings")
            .unwrap()
            .first_value(),
        "off"
    );
    let check = |session: &mut dyn Warehouse| {
        let rows = session
            .query("SELECT evil, quoted FROM main.m")
            .unwrap()
            .rows;
        assert_eq!(
            rows,
            [[Some(EVIL.to_string()), Some(r"\';' \\".to_string())]]
        );
        assert!(
            session
                .relation_type(&shopc::emit::PhysicalName {
                    schema: "public".into(),
                    name: "pwned".into(),
                })
                .unwrap()
                .is_some(),
            "pwned was dropped"
        );
    };
    check(&mut session);
    // The emitted files mean the same, run by hand on this server.
    assert!(common::run_emitted_builds(root, "postgres", &mut session) > 0);
    check(&mut session);
}

/// A project of one seeded table and a model over it, for the runs below.
fn seeded_project_with_model(csv: &str) -> tempfile::TempDir {
    let dir = seeded_project(csv);
    std::fs::write(
        dir.path().join("models/m.shop"),
        "model m {\n  materialized = \"table\"\n  from raw.t t\n  columns { id = t.id, n = cast(t.s as integer) }\n}\n",
    )
    .unwrap();
    dir
}

fn pg_rows(pg: &common::Postgres, sql: &str) -> Vec<Vec<Option<String>>> {
    pg.connect().query(sql).unwrap().rows
}

/// Two builds at once on one PostgreSQL database left raw tables empty or
/// doubled. A run takes an advisory lock for its project; a second run
/// fails before it runs anything, naming the one that holds it.
#[test]
fn one_run_of_a_project_at_a_time_on_postgresql() {
    let pg = common::Postgres::start("safety_lock");
    let dir = seeded_project_with_model("id,s\n1,1\n2,2\n");
    let root = dir.path();
    pg.write_profiles(root);

    let mut holder = pg.connect();
    assert!(holder.lock("safety", "`prod`").unwrap());
    let out = common::run("build", root, &["--target", "pg"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("another run of project `safety` in environment `prod` holds the lock on postgres shopc@127.0.0.1"),
        "{err}"
    );
    assert!(err.contains(" UTC (server process "), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    assert!(common::stdout(&out).is_empty(), "{}", common::stdout(&out));
    // Another project is not held back.
    let other = seeded_project_with_model("id,s\n1,1\n");
    std::fs::write(other.path().join("shop.toml"), "name = \"other\"\n").unwrap();
    pg.write_profiles(other.path());
    let out = common::run("seed", other.path(), &["--target", "pg"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    // The lock goes with the connection that held it.
    drop(holder);
    let out = common::run("build", root, &["--target", "pg"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));

    // Two builds started together: each runs whole or not at all, and the
    // tables hold exactly the seed's rows.
    let csv: String = std::iter::once("id,s\n".to_string())
        .chain((1..=20_000).map(|i| format!("{i},{i}\n")))
        .collect();
    std::fs::write(root.join("seeds/t.csv"), csv).unwrap();
    let mut ran = 0;
    for round in 0..3 {
        ran += common::two_at_once(root, &["build", "--target", "pg"], "holds the lock", round);
        assert_eq!(
            pg_rows(
                &pg,
                "SELECT count(*), count(DISTINCT id) FROM raw.t UNION ALL SELECT count(*), sum(n) FROM main.m"
            ),
            [
                [Some("20000".into()), Some("20000".into())],
                [Some("20000".into()), Some("200010000".into())]
            ]
        );
    }
    assert!(ran >= 3, "at least one build of each pair ran");
}

/// A run builds beside as `NAME__shopc_new_` and its own id, so two runs
/// never share a scratch table, and drops the ones an interrupted run left
/// (of its own relations only) before it starts.
#[test]
fn scratch_tables_are_a_runs_own_and_leftovers_are_dropped() {
    let pg = common::Postgres::start("safety_scratch");
    let dir = seeded_project_with_model("id,s\n1,x\n");
    let root = dir.path();
    pg.write_profiles(root);
    let mut admin = pg.connect();
    admin
        .execute(
            "CREATE SCHEMA raw; CREATE TABLE raw.t__shopc_new (x int); \
             CREATE TABLE raw.t__shopc_new_00beef (x int); CREATE TABLE raw.t__shopc_new_zz (x int); \
             CREATE TABLE raw.other__shopc_new (x int)",
        )
        .unwrap();
    // `cast('x' as integer)` fails on the server: the statement shows the
    // scratch table's name.
    let names: Vec<String> = (0..2)
        .map(|_| {
            let out = common::run("build", root, &["--target", "pg"]);
            let text = common::stdout(&out);
            assert_eq!(out.status.code(), Some(1), "{text}");
            let at = text.find("\"m__shopc_new_").expect(&text);
            text[at + 1..at + 1 + "m__shopc_new_".len() + 6].to_string()
        })
        .collect();
    assert_ne!(names[0], names[1], "each run has its own scratch table");
    for name in &names {
        assert!(name[13..].bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    }
    let mut tables: Vec<String> = admin
        .tables("raw")
        .unwrap()
        .into_iter()
        .chain(admin.tables("main").unwrap())
        .collect();
    tables.sort();
    // The first run dropped `t`'s two leftovers; the failed builds left none.
    assert_eq!(tables, ["other__shopc_new", "t", "t__shopc_new_zz"]);
}

/// DuckDB lets one process write a database file: a second run is refused
/// with the file and the process holding it, and nothing runs.
#[test]
fn a_duckdb_file_another_process_holds_is_refused() {
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    let out = common::run("seed", root, &[]);
    assert_eq!(out.status.code(), Some(0));
    let held = common::database_at(&root.join("target/safety.duckdb"));
    let out = common::run("seed", root, &[]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("another process has `"), "{err}");
    assert!(err.contains("safety.duckdb` open (/"), "{err}");
    assert!(err.contains("one process at a time"), "{err}");
    drop(held);
}

/// A server that accepts the TCP connection and never answers hung `debug
/// connection` and every run. Connecting and logging in now give up after
/// `connect_timeout`, on PostgreSQL and on Snowflake.
#[test]
fn a_silent_server_fails_the_connection_within_connect_timeout() {
    let port = common::silent_server();
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    std::fs::write(
        root.join("profiles.toml"),
        format!(
            "[targets.pg]\nadapter = \"postgres\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"u\"\n\
             dbname = \"d\"\nconnect_timeout = 1\n\n\
             [targets.sf]\nadapter = \"snowflake\"\naccount = \"a\"\nuser = \"u\"\ndatabase = \"d\"\n\
             schema = \"s\"\npassword = {{ env = \"SHOPC_TEST_SNOWFLAKE_PASSWORD\" }}\n\
             host = \"http://127.0.0.1:{port}\"\nconnect_timeout = 1\nstatement_timeout = 5\n"
        ),
    )
    .unwrap();
    for target in ["pg", "sf"] {
        let out = common::shopc(&[
            "debug",
            "connection",
            "--target",
            target,
            "--project",
            root.to_str().unwrap(),
        ]);
        let (text, err) = (common::stdout(&out), common::stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{target}: {text}{err}");
        assert!(
            err.contains("no answer within 1 s (`connect_timeout` in profiles.toml)"),
            "{target}: {err}"
        );
        assert!(text.contains("connection: failed"), "{target}: {text}");
        let out = common::run("build", root, &["--target", target]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{target}: {err}");
        assert!(err.contains("no answer within 1 s"), "{target}: {err}");
    }
    let out = common::shopc(&[
        "debug",
        "connection",
        "--target",
        "sf",
        "--project",
        root.to_str().unwrap(),
    ]);
    assert!(
        common::stdout(&out).contains("timeouts     connect 1 s, statement 5 s"),
        "{}",
        common::stdout(&out)
    );
}

/// `statement_timeout` bounds one statement: PostgreSQL cancels it itself
/// (the session's `statement_timeout`), and a server that stops answering
/// once logged in is given up on.
#[test]
fn a_statement_past_statement_timeout_fails() {
    let pg = common::Postgres::start("safety_timeout");
    let dir = seeded_project("id,s\n1,a\n");
    let root = dir.path();
    std::fs::write(
        root.join("models/m.shop"),
        "model m {\n  materialized = \"table\"\n  from raw.t t\n  columns { id = t.id, slept = sql(\"pg_sleep(3)::text\") : text }\n}\n",
    )
    .unwrap();
    pg.write_profiles(root);
    let profiles = std::fs::read_to_string(root.join("profiles.toml")).unwrap();
    std::fs::write(
        root.join("profiles.toml"),
        format!("{profiles}statement_timeout = 1\n"),
    )
    .unwrap();
    let out = common::run("build", root, &["--target", "pg"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("OK      seed raw.t"), "{text}");
    assert!(
        text.contains("ERROR: canceling statement due to statement timeout"),
        "{text}"
    );

    // A server that goes silent after the login.
    let proxy = common::Proxy::to(pg.port);
    let config = shopc::warehouse::PostgresConfig {
        host: "127.0.0.1".into(),
        port: proxy.port,
        user: "shopc".into(),
        dbname: pg.database.clone(),
        password: None,
        timeouts: shopc::warehouse::Timeouts::from_seconds(Some(5), Some(1)),
    };
    let mut session = shopc::warehouse::PostgresWarehouse::connect(&config).unwrap();
    assert_eq!(session.query("SELECT 1").unwrap().first_value(), "1");
    proxy.freeze();
    let error = session.query("SELECT 2").unwrap_err();
    assert!(
        error
            .message
            .contains("no answer within 11 s (`statement_timeout` in profiles.toml)"),
        "{error}"
    );
}

/// The same on Snowflake, whose adapter gives up on the request.
#[test]
fn a_silent_snowflake_statement_fails_past_statement_timeout() {
    let snow = common::Fakesnow::start("safety_timeout");
    let port: u16 = snow
        .host
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("fakesnow's port");
    let proxy = common::Proxy::to(port);
    let mut config = snow.config();
    config.host = Some(format!("http://127.0.0.1:{}", proxy.port));
    config.timeouts = shopc::warehouse::Timeouts::from_seconds(Some(10), Some(1));
    let mut session = shopc::warehouse::SnowflakeWarehouse::connect(&config).unwrap();
    assert_eq!(session.query("SELECT 1").unwrap().first_value(), "1");
    proxy.freeze();
    let error = session.query("SELECT 2").unwrap_err();
    assert!(
        error
            .message
            .contains("no answer within 1 s (`statement_timeout` in profiles.toml)"),
        "{error}"
    );
}

/// Values that loaded on DuckDB but not on PostgreSQL (or differently) are
/// refused by the validator for every target, with the file and line, and
/// nothing is loaded.
#[test]
fn seeds_that_warehouses_read_differently_are_refused_everywhere() {
    let dir = common::project(&[
        ("shop.toml", "name = \"safety\"\n"),
        (
            "models/source.shop",
            "source raw {\n  table t { columns { id: integer, x: double, d: date, at: timestamp, s: text } }\n}\n",
        ),
        (
            "seeds/t.csv",
            "id,x,d,at,s\n1,1.5,2024-01-01,2024-01-01 10:00:00,a\n",
        ),
    ]);
    let root = dir.path();
    let pg = common::Postgres::start("safety_values");
    pg.write_profiles(root);
    let out = common::run("seed", root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    let good = "id,x,d,at,s\n1,1.5,2024-01-01,2024-01-01 10:00:00,a\n";
    let cases = [
        (format!("{good}\n2,1,2024-01-01,,b\n"), 3, "a blank line"),
        (format!("{good}\n"), 3, "a blank line"),
        // CRLF line ends are line ends; a CRLF alone is a blank line.
        (good.replace('\n', "\r\n") + "\r\n", 3, "a blank line"),
        (
            format!("{good}2,1e400,,,\n"),
            3,
            "column `x`: \"1e400\" is not a number",
        ),
        (
            format!("{good}2,NaN,,,\n"),
            3,
            "column `x`: \"NaN\" is not a number",
        ),
        (
            format!("{good}2,,0000-01-01,,\n"),
            3,
            "column `d`: \"0000-01-01\" is not a date of the calendar",
        ),
        (
            format!("{good}2,,2023-02-29,,\n"),
            3,
            "column `d`: \"2023-02-29\" is not a date",
        ),
        (
            format!("{good}2,,,2024-01-01 10:00:00+02:00,\n"),
            3,
            "is not a timestamp without a zone",
        ),
        (
            format!("{good}2,,,2024-01-01 24:00:00,\n"),
            3,
            "is not a timestamp",
        ),
        (format!("{good}2,,,,a\0b\n"), 3, "text without NUL bytes"),
        (
            format!("{good}2,,,,\"a\"b\n"),
            3,
            "column `s`: text after the closing quote",
        ),
    ];
    for (csv, line, message) in &cases {
        std::fs::write(root.join("seeds/t.csv"), csv).unwrap();
        for target in [&[][..], &["--target", "pg"][..]] {
            let out = common::run("seed", root, target);
            let text = common::stdout(&out);
            assert_eq!(out.status.code(), Some(1), "{csv:?}: {text}");
            assert!(text.contains(&format!("t.csv:{line}: ")), "{csv:?}: {text}");
            assert!(text.contains(message), "{csv:?}: {text}");
            if target.is_empty() {
                // Nothing was loaded: the table keeps its row.
                let db = common::database_at(&root.join("target/safety.duckdb"));
                let n: i64 = db
                    .query_row("SELECT count(*) FROM raw.t", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
    }
    // A file written with CRLF line ends (jafgen's, Excel's) loads on both,
    // its last value without the `\r`.
    let crlf = format!("{good}2,2.5,2024-01-02,2024-01-02 10:00:00,b\n").replace('\n', "\r\n");
    std::fs::write(root.join("seeds/t.csv"), crlf).unwrap();
    for target in [&[][..], &["--target", "pg"][..]] {
        let out = common::run("seed", root, target);
        assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    }
    let db = common::database_at(&root.join("target/safety.duckdb"));
    let last: String = db
        .query_row(
            "SELECT string_agg(s, ',' ORDER BY id) FROM raw.t",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last, "a,b");
    let theirs = pg
        .connect()
        .query("SELECT string_agg(s, ',' ORDER BY id) FROM raw.t")
        .unwrap();
    assert_eq!(theirs.rows, [[Some("a,b".to_string())]]);
}
