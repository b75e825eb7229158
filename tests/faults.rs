//! Faults, as an operator meets them: a run killed at several moments, a
//! disk that fills up during a run, two runs at once, on embedded DuckDB and
//! on PostgreSQL. ShopCo is built on day 1 (the old state), then day 2 (the
//! new state) is built and interrupted. After every fault each table holds
//! exactly its old or its new rows (a snapshot's clock columns aside), and a
//! rerun gives the new state, with no scratch table left.
//!
//! `scripts/faults.sh` runs this file alone; `cargo test` runs it too.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use shopc::warehouse::{DuckDbWarehouse, Warehouse};

use crate::common;

/// The columns a snapshot stamps with the run's clock: they differ between
/// any two runs, so states are compared without them.
const CLOCK_COLUMNS: &[&str] = &[
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
];

/// Each table's rows, as one digest per table (`schema.table` → md5 of its
/// sorted rows, clock columns left out). Scratch tables are listed apart.
#[derive(Debug, Clone, PartialEq)]
struct State {
    tables: BTreeMap<String, String>,
    scratch: Vec<String>,
}

fn state(warehouse: &mut dyn Warehouse, postgres: bool) -> State {
    let tables = warehouse
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' \
             AND table_schema NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY 1, 2",
        )
        .unwrap()
        .rows;
    let mut out = State {
        tables: BTreeMap::new(),
        scratch: Vec::new(),
    };
    for row in tables {
        let (schema, table) = (row[0].clone().unwrap(), row[1].clone().unwrap());
        let name = format!("{schema}.{table}");
        if table.contains("__shopc_new") {
            out.scratch.push(name);
            continue;
        }
        let columns: Vec<String> = warehouse
            .columns(&shopc::emit::PhysicalName {
                schema: schema.clone(),
                name: table.clone(),
            })
            .unwrap()
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| !CLOCK_COLUMNS.contains(&c.as_str()))
            .map(|c| format!("\"{c}\""))
            .collect();
        let row_text = if postgres {
            "t::text"
        } else {
            "CAST(t AS VARCHAR)"
        };
        let digest = warehouse
            .query(&format!(
                "SELECT count(*) || ':' || coalesce(md5(string_agg({row_text}, '|' ORDER BY {row_text})), '') \
                 FROM (SELECT {} FROM \"{schema}\".\"{table}\") AS t",
                columns.join(", ")
            ))
            .unwrap()
            .first_value();
        out.tables.insert(name, digest);
    }
    out
}

/// Every table is exactly its old or its new self (a table new on day 2 may
/// be missing); scratch tables may be left by a kill.
fn assert_old_or_new(what: &str, after: &State, old: &State, new: &State) {
    for (table, digest) in &after.tables {
        let was = old.tables.get(table);
        let will = new.tables.get(table);
        assert!(
            Some(digest) == was || Some(digest) == will,
            "{what}: {table} is neither its old nor its new self: {digest} (old {was:?}, new {will:?})"
        );
    }
    for table in old.tables.keys() {
        assert!(after.tables.contains_key(table), "{what}: {table} is gone");
    }
}

fn shopc(args: &[&str], root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shopc"));
    command
        .env("SHOPC_ENV", "prod")
        .args(args)
        .arg("--project")
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn day2(root: &Path) -> String {
    root.join("days/day2").display().to_string()
}

/// `build` and `extra`.
fn build_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args
}

/// Builds to completion and returns stdout; panics on failure.
fn build(root: &Path, extra: &[&str]) -> String {
    let out = shopc(&build_args(extra), root).output().unwrap();
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    text
}

/// Starts a build, kills it (SIGKILL) after `delay`, and says whether it
/// had already finished.
fn kill_after(root: &Path, extra: &[&str], delay: Duration) -> bool {
    let mut child = shopc(&build_args(extra), root).spawn().unwrap();
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    finished
}

/// The moments a build of day 2 is killed at, as parts of the time one
/// takes on this machine (measured just before): from the first seed to
/// the last tests, whatever the machine's speed and its load (the tests run
/// beside each other).
fn kill_moments(build: Duration) -> Vec<Duration> {
    [0.02, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]
        .iter()
        .map(|part| build.mul_f64(*part))
        .collect()
}

/// Copies a DuckDB database and its write-ahead log, if any.
fn copy_database(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let (wal_from, wal_to) = (wal(from), wal(to));
    let _ = std::fs::remove_file(&wal_to);
    if wal_from.exists() {
        std::fs::copy(wal_from, wal_to).unwrap();
    }
}

fn wal(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.wal", path.display()))
}

fn duckdb_state(path: &Path) -> State {
    state(&mut DuckDbWarehouse::open(path).unwrap(), false)
}

/// Day 1, then day 2, built without faults: the old and the new state, and
/// how long day 2's build took.
fn duckdb_states(root: &Path) -> (PathBuf, State, State, Duration) {
    let before = root.join("target/before.duckdb");
    build(root, &["--database", before.to_str().unwrap()]);
    let old = duckdb_state(&before);
    let reference = root.join("target/reference.duckdb");
    copy_database(&before, &reference);
    let started = std::time::Instant::now();
    build(
        root,
        &[
            "--database",
            reference.to_str().unwrap(),
            "--seeds",
            &day2(root),
        ],
    );
    let took = started.elapsed();
    let new = duckdb_state(&reference);
    assert_ne!(old, new, "day 2 changes tables");
    (before, old, new, took)
}

#[test]
fn a_killed_duckdb_build_leaves_every_table_old_or_new() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    let (before, old, new, took) = duckdb_states(&root);
    let db = root.join("target/faults.duckdb");
    let mut interrupted = 0;
    for delay in kill_moments(took) {
        copy_database(&before, &db);
        let extra = ["--database", db.to_str().unwrap(), "--seeds", &day2(&root)];
        if !kill_after(&root, &extra, delay) {
            interrupted += 1;
        }
        let what = format!("killed after {delay:?}");
        assert_old_or_new(&what, &duckdb_state(&db), &old, &new);
        // A rerun repairs it and leaves no scratch table.
        build(&root, &extra);
        let repaired = duckdb_state(&db);
        assert_eq!(repaired.tables, new.tables, "{what}, then rerun");
        assert!(
            repaired.scratch.is_empty(),
            "{what}: {:?}",
            repaired.scratch
        );
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} kills landed during a build"
    );
}

#[test]
fn two_duckdb_builds_at_once_leave_every_table_old_or_new() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    let (before, old, new, _) = duckdb_states(&root);
    let db = root.join("target/faults.duckdb");
    for round in 0..3 {
        copy_database(&before, &db);
        let extra = ["--database", db.to_str().unwrap(), "--seeds", &day2(&root)];
        common::two_at_once(&root, &build_args(&extra), "another process has `", round);
        let after = duckdb_state(&db);
        assert_old_or_new(&format!("round {round}"), &after, &old, &new);
        assert_eq!(after.tables, new.tables, "round {round}: a build finished");
    }
}

/// The disk fills up during the day-2 build: the database lives on a
/// tmpfs of its own (in a mount namespace, so no root is needed) with a
/// few free bytes left at several levels. The build fails; every table is
/// old or new; once there is room again, a rerun gives the new state.
#[test]
fn a_full_disk_during_a_duckdb_build_leaves_every_table_old_or_new() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    let (before, old, new, _) = duckdb_states(&root);
    let size = std::fs::metadata(&before).unwrap().len();
    let out_dir = root.join("target/full");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mount = root.join("target/tmpfs");
    std::fs::create_dir_all(&mount).unwrap();
    let mut failed = 0;
    for free_kb in [0u64, 64, 512, 2048] {
        let script = format!(
            r#"set -u
mount -t tmpfs -o size={tmpfs}k tmpfs "$MOUNT" || exit 90
cp "$BEFORE" "$MOUNT/db.duckdb"
[ -f "$BEFORE.wal" ] && cp "$BEFORE.wal" "$MOUNT/db.duckdb.wal"
# Fill the disk, then give back {free_kb} KiB.
dd if=/dev/zero of="$MOUNT/fill" bs=64k 2>/dev/null
truncate -s -{free_kb}K "$MOUNT/fill" 2>/dev/null || true
"$SHOPC" build --project "$PROJECT" --database "$MOUNT/db.duckdb" --seeds "$DAY2" >"$OUT/full.log" 2>&1
echo $? >"$OUT/rc"
cp "$MOUNT/db.duckdb" "$OUT/after.duckdb"
rm -f "$OUT/after.duckdb.wal"
[ -f "$MOUNT/db.duckdb.wal" ] && cp "$MOUNT/db.duckdb.wal" "$OUT/after.duckdb.wal"
rm -f "$MOUNT/fill"
"$SHOPC" build --project "$PROJECT" --database "$MOUNT/db.duckdb" --seeds "$DAY2" >"$OUT/rerun.log" 2>&1
echo $? >"$OUT/rerun_rc"
cp "$MOUNT/db.duckdb" "$OUT/repaired.duckdb"
rm -f "$OUT/repaired.duckdb.wal"
[ -f "$MOUNT/db.duckdb.wal" ] && cp "$MOUNT/db.duckdb.wal" "$OUT/repaired.duckdb.wal"
exit 0
"#,
            // Room for the old database and a rebuild of it, not much more.
            tmpfs = size * 3 / 1024 + 4096,
        );
        let mut command = Command::new("unshare");
        // As root a mount namespace is enough; otherwise map root too.
        let root_user = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        if root_user {
            command.arg("--mount");
        } else {
            command.args(["--mount", "--map-root-user"]);
        }
        let status = command
            .args(["sh", "-c", &script])
            .env("MOUNT", &mount)
            .env("BEFORE", &before)
            .env("SHOPC", env!("CARGO_BIN_EXE_shopc"))
            .env("SHOPC_ENV", "prod")
            .env("PROJECT", &root)
            .env("DAY2", day2(&root))
            .env("OUT", &out_dir)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0), "the tmpfs could not be mounted");
        let read = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap();
        let what = format!("{free_kb} KiB free");
        if read("rc").trim() != "0" {
            failed += 1;
            // The failure is reported, as an error of the node it hit.
            let log = read("full.log");
            assert!(log.contains("ERROR"), "{what}: {log}");
            eprintln!(
                "{what}: {}",
                log.lines()
                    .find(|l| l.contains("ERROR"))
                    .unwrap_or_default()
            );
        }
        assert_old_or_new(
            &what,
            &duckdb_state(&out_dir.join("after.duckdb")),
            &old,
            &new,
        );
        assert_eq!(
            read("rerun_rc").trim(),
            "0",
            "{what}: {}",
            read("rerun.log")
        );
        let repaired = duckdb_state(&out_dir.join("repaired.duckdb"));
        assert_eq!(repaired.tables, new.tables, "{what}, then rerun");
        assert!(
            repaired.scratch.is_empty(),
            "{what}: {:?}",
            repaired.scratch
        );
    }
    assert!(failed >= 2, "the disk filled up in only {failed} builds");
}

/// PostgreSQL: builds of day 2 killed at several moments, and two at once.
/// The server lets a killed run's lock go with its connection.
#[test]
fn killed_and_concurrent_postgresql_builds_leave_every_table_old_or_new() {
    let pg = common::Postgres::start("faults");
    let (_temp, root) = common::shopco_copy(&["target"]);
    pg.write_profiles(&root);
    let target = ["--target", "pg"];
    let fresh = || {
        let mut admin = pg.connect();
        let schemas = admin
            .query(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
                 AND nspname NOT IN ('information_schema', 'public')",
            )
            .unwrap()
            .rows;
        for schema in schemas.into_iter().flatten().flatten() {
            admin
                .execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .unwrap();
        }
        build(&root, &target);
    };
    let pg_state = || state(&mut pg.connect(), true);
    let wait_for_unlock = || {
        for _ in 0..600 {
            let held = pg
                .connect()
                .query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
                .unwrap()
                .first_value();
            if held == "0" {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("a killed run's lock was not let go within 60 s");
    };
    fresh();
    let old = pg_state();
    let day2 = day2(&root);
    let extra = ["--target", "pg", "--seeds", &day2];
    let started = std::time::Instant::now();
    build(&root, &extra);
    let took = started.elapsed();
    let new = pg_state();
    assert_ne!(old, new);
    let mut interrupted = 0;
    for delay in kill_moments(took).into_iter().skip(1) {
        fresh();
        if !kill_after(&root, &extra, delay) {
            interrupted += 1;
        }
        let what = format!("killed after {delay:?}");
        assert_old_or_new(&what, &pg_state(), &old, &new);
        // The killed run's server process finishes the statement it was
        // running, then sees the connection gone and lets the lock go;
        // until then another run is refused (see tests/safety.rs).
        wait_for_unlock();
        assert_old_or_new(&what, &pg_state(), &old, &new);
        build(&root, &extra);
        let repaired = pg_state();
        assert_eq!(repaired.tables, new.tables, "{what}, then rerun");
        assert!(
            repaired.scratch.is_empty(),
            "{what}: {:?}",
            repaired.scratch
        );
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} kills landed during a build"
    );

    for round in 0..2 {
        fresh();
        common::two_at_once(&root, &build_args(&extra), "holds the lock", round);
        assert_eq!(pg_state().tables, new.tables, "round {round}");
    }
}
