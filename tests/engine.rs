//! The embedded engine: DuckDB as shopc links it. It must be a release
//! build (a debug build is 6–10 times slower), and it must run every
//! function of the library as shopc emits it, offline, with no extension.
#![allow(clippy::disallowed_methods)]

use crate::common;

use shopc::ir::library::{DATE_PARTS, FUNCTIONS, FuncKind, Param};

/// A debug build of DuckDB (`-DDEBUG`) compiles its `D_ASSERT`s, whose
/// conditions are string literals in the binary; a release build
/// (`-DNDEBUG`) compiles them to nothing. These are assertions of three
/// source files DuckDB's core always links.
const DEBUG_ONLY: &[&str] = &[
    // src/function/scalar/struct/struct_pack.cpp, under #ifdef DEBUG
    "args.ColumnCount() == StructType::GetChildTypes(info.stype).size()",
    // src/catalog/duck_catalog.cpp
    "transaction.transaction",
    // src/common/types/vector.cpp
    "other.GetType() == GetType()",
];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_linked_duckdb_is_a_release_build() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_shopc")).unwrap();
    // Strings of DuckDB's that every build has: the scan sees the engine.
    assert!(
        contains(&binary, b"Assertion triggered in file"),
        "the shopc binary does not link DuckDB"
    );
    for assertion in DEBUG_ONLY {
        assert!(
            !contains(&binary, assertion.as_bytes()),
            "the linked DuckDB is a debug build (its assertion `{assertion}` is compiled in): \
             libduckdb-sys was built with DEBUG; keep `debug = false` for it in every \
             [profile.*.package.libduckdb-sys] of Cargo.toml"
        );
    }
}

/// Columns of the one source table, by the parameter class they fill.
fn arguments(param: Param) -> Vec<&'static str> {
    match param {
        Param::Any => vec!["t.i", "t.s", "t.n", "t.dbl", "t.b", "t.d", "t.ts", "t.tz"],
        Param::Text => vec!["t.s"],
        Param::Numeric => vec!["t.i", "t.n", "t.dbl"],
        Param::Integer | Param::Digits => vec!["2"],
        Param::Boolean => vec!["t.b"],
        Param::Temporal => vec!["t.d", "t.ts", "t.tz"],
        Param::TextOrTemporal => vec!["t.s_date", "t.d", "t.ts", "t.tz"],
        Param::DatePart => DATE_PARTS.to_vec(),
        Param::KeyPart => vec!["t.s", "t.i", "t.d", "t.b"],
    }
}

/// One call of every library function for every kind of argument each
/// parameter takes (each date part, each temporal type, text, decimals,
/// doubles…), as it would be written in a model.
fn calls() -> Vec<(String, FuncKind)> {
    let mut out = Vec::new();
    for func in FUNCTIONS {
        let params: Vec<Param> = func.params.to_vec();
        // Vary one parameter at a time over its kinds; the others take
        // their first.
        let mut variants: Vec<Vec<String>> = Vec::new();
        let first: Vec<String> = params
            .iter()
            .map(|p| quoted(*p, arguments(*p)[0]))
            .collect();
        variants.push(first.clone());
        for (i, p) in params.iter().enumerate() {
            for arg in arguments(*p).into_iter().skip(1) {
                let mut args = first.clone();
                args[i] = quoted(*p, arg);
                // Parameters of "any" type that must agree (coalesce,
                // greatest, nullif) take the same column.
                if *p == Param::Any {
                    for (j, q) in params.iter().enumerate() {
                        if *q == Param::Any {
                            args[j] = quoted(*q, arg);
                        }
                    }
                }
                variants.push(args);
            }
        }
        // Date functions over two temporal values take the same type twice.
        if func.name == "date_diff" {
            for v in &mut variants {
                v[2] = v[1].clone();
            }
            for ty in ["t.d", "t.ts", "t.tz"] {
                for part in DATE_PARTS {
                    variants.push(vec![format!("'{part}'"), ty.into(), ty.into()]);
                }
            }
        }
        if func.name == "date_trunc" || func.name == "date_part" {
            for ty in ["t.d", "t.ts", "t.tz"] {
                for part in DATE_PARTS {
                    variants.push(vec![format!("'{part}'"), ty.into()]);
                }
            }
        }
        if func.name == "date_add" {
            for ty in ["t.d", "t.ts", "t.tz"] {
                for part in DATE_PARTS {
                    variants.push(vec![format!("'{part}'"), "2".into(), ty.into()]);
                }
            }
        }
        variants.sort();
        variants.dedup();
        for args in variants {
            let args = &args[..args.len().max(func.required).min(params.len())];
            out.push((format!("{}({})", func.name, args.join(", ")), func.kind));
        }
    }
    out
}

fn quoted(param: Param, arg: &str) -> String {
    match param {
        Param::DatePart if !arg.starts_with('\'') => format!("'{arg}'"),
        _ => arg.to_string(),
    }
}

/// Every function of the library, called with every kind of argument, is
/// built into a table on the embedded DuckDB, whose extension loading shopc
/// turns off: nothing needs ICU or any download (`current_date()` once did).
#[test]
fn every_library_function_runs_on_the_embedded_duckdb_offline() {
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"functions\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        (
            "models/source.shop",
            "source raw {\n  table t {\n    columns {\n      id: integer, k: integer, i: integer, s: text, s_date: text,\n      n: numeric(12, 2), dbl: double, b: boolean, d: date, ts: timestamp, tz: timestamptz\n    }\n  }\n}\n",
        ),
        (
            "seeds/t.csv",
            "id,k,i,s,s_date,n,dbl,b,d,ts,tz\n\
         1,1,3,Hello World,2024-01-31,1029.73,2.5,true,2024-01-31,2024-01-31 10:30:00,2024-01-31 10:30:00+00\n\
         2,1,-4,a-b-c,2024-02-29,-0.05,0.125,false,2024-02-29,2024-02-29 23:59:59,2024-03-01 01:00:00+02\n\
         3,2,7,xyz,2023-12-31,12.00,-7.75,true,2023-12-31,2023-12-31 00:00:00,2023-12-31 00:00:00+00\n",
        ),
    ]);
    let root = dir.path();
    let calls = calls();
    let mut text = String::new();
    for (i, (call, kind)) in calls.iter().enumerate() {
        let body = match kind {
            FuncKind::Scalar => format!("  columns {{ id = t.id, v = {call} }}"),
            FuncKind::Aggregate => {
                format!("  group by t.k\n  columns {{ k = t.k }}\n  measures {{ v = {call} }}")
            }
            FuncKind::Window => format!(
                "  columns {{ id = t.id, v = {call} over (partition by t.k order by t.id) }}"
            ),
        };
        text.push_str(&format!(
            "## {call}\nmodel f{i} {{\n  from raw.t t\n{body}\n}}\n"
        ));
    }
    std::fs::write(root.join("models/calls.shop"), &text).unwrap();
    let out = common::run("build", root, &["--threads", "1"]);
    let log = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{log}\n{}",
        common::stderr(&out)
    );
    let built = log.matches(" OK      table main.f").count();
    assert_eq!(built, calls.len(), "{log}");
    assert!(calls.len() > 150, "{} calls", calls.len());
    // What each call gave is a value (or NULL), never an engine error.
    let db = common::database_at(&root.join("target/functions.duckdb"));
    for (i, (call, _)) in calls.iter().enumerate() {
        let n: i64 = db
            .query_row(&format!("SELECT count(*) FROM main.f{i}"), [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{call}: {e}"));
        assert!(n > 0, "{call}: no rows");
    }
}

/// `current_date()` and `current_timestamp()` are UTC on the embedded
/// engine, whatever the session's time zone (DuckDB has none here).
#[test]
fn the_clock_is_utc() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::write(
        root.join("shop.toml"),
        "name = \"clock\"\n[defaults]\nmaterialized = \"table\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/clock.shop"),
        "source raw {\n  table t { columns { id: integer } }\n}\n\
         model clock {\n  from raw.t t\n  columns {\n    today = current_date()\n    now = current_timestamp()\n    same_day = date(current_timestamp()) = current_date()\n    day = date_trunc('day', current_timestamp())\n  }\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("seeds")).unwrap();
    std::fs::write(root.join("seeds/t.csv"), "id\n1\n").unwrap();
    common::build(root, &[]);
    let db = common::database_at(&root.join("target/clock.duckdb"));
    let (today, now, same): (String, String, bool) = db
        .query_row(
            "SELECT CAST(today AS VARCHAR), CAST(now AS VARCHAR), same_day FROM main.clock",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let utc = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The date of the UTC clock of this machine, from the epoch.
    let days = (utc / 86_400) as i64;
    let expected: String = db
        .query_row(
            &format!("SELECT CAST(DATE '1970-01-01' + INTERVAL ({days}) DAY AS DATE)::VARCHAR"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Around midnight UTC the two readings may straddle it.
    if utc % 86_400 > 60 && utc % 86_400 < 86_340 {
        assert_eq!(today, expected, "{now}");
    }
    assert!(same, "{today} {now}");
    assert!(now.starts_with(&today[..4]), "{now}");
}
