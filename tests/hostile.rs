//! Input made to break the compiler: deep nesting, long chains, floods of
//! broken items, files that are devices or pipes. Each case runs the real
//! binary, which must end with a diagnostic (or success), never a crash, a
//! hang or a runaway read. A case that does not end within its guard (far
//! longer than it takes: the timings are in benches/check.rs) fails as hung.
#![allow(clippy::disallowed_methods)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SHOP_TOML: &str = "name = \"hostile\"\n\n[paths]\nmodels = [\"models\"]\n";
const SOURCE: &str =
    "source raw {\n  table t { columns { id: integer, x: integer, s: text } }\n}\n";

/// What one run of the binary gave.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `shopc ARGS` in `dir`; fails when it is killed by a signal (a
/// stack overflow aborts) or runs longer than `guard`.
fn run_guarded(args: &[&str], guard: Duration) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopc"))
        .env("SHOPC_ENV", "prod")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shopc");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > guard {
            let _ = child.kill();
            panic!("shopc {args:?} hung: still running after {guard:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ran = Ran {
        code: status.code(),
        stdout: readers.0.join().unwrap(),
        stderr: readers.1.join().unwrap(),
    };
    assert!(
        ran.code.is_some(),
        "shopc {args:?} was killed by a signal ({status:?}):\n{}",
        tail(&ran.stderr)
    );
    assert!(!ran.stderr.contains("panicked"), "{}", tail(&ran.stderr));
    ran
}

/// The run failed with exactly one P003.
fn assert_one_p003(ran: &Ran, what: &str) {
    assert_eq!(ran.code, Some(1), "{what}: {}", tail(&ran.stderr));
    assert_eq!(
        ran.stderr.matches("error[P003]").count(),
        1,
        "{what}: {}",
        tail(&ran.stderr)
    );
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap();
    &text[start..]
}

/// A project whose `models/m.shop` is `text` (with a source to read).
fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join("shop.toml"), SHOP_TOML).unwrap();
    std::fs::write(dir.path().join("models/source.shop"), SOURCE).unwrap();
    std::fs::write(dir.path().join("models/m.shop"), text).unwrap();
    dir
}

fn check(dir: &Path) -> Ran {
    run_guarded(
        &["check", "--project", dir.to_str().unwrap()],
        Duration::from_secs(60),
    )
}

/// A model whose one column is `expr`.
fn model(expr: &str) -> String {
    format!("model m {{\n  from raw.t t\n  columns {{\n    y = {expr}\n  }}\n}}\n")
}

/// `open` nested `depth` times around `inner`, closed by `close`.
fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * depth + inner.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

/// Nesting each construct 100,000 deep is P003, reported once, and the
/// rest of the file is still checked.
#[test]
fn deep_nesting_of_every_construct_is_a_diagnostic() {
    let depth = 100_000;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("parentheses", "(", "t.x", ")"),
        ("calls", "abs(", "t.x", ")"),
        ("coalesce in its first argument", "coalesce(", "t.x", ", 0)"),
        ("case", "case when true then ", "t.x", " else 0 end"),
        ("aggregates", "sum(", "t.x", ")"),
        ("casts", "cast(", "t.x", " as integer)"),
        ("between", "t.x between (", "1", ") and 2"),
        ("in lists", "t.x in (", "1", ")"),
    ];
    for (what, open, inner, close) in cases {
        let text = format!(
            "{}\nmodel fine {{\n  from raw.t t\n  columns {{ id = t.id, z = unknown_column }}\n}}\n",
            model(&nested(open, inner, close, depth))
        );
        let dir = project(&text);
        let ran = check(dir.path());
        assert_one_p003(&ran, what);
        assert!(
            ran.stderr.contains("unknown_column"),
            "{what}: the next model is still checked: {}",
            tail(&ran.stderr)
        );
    }
}

/// Chains of 100,000 of each operator, and of prefixes and casts, are one
/// P003 each, in bounded time (no recursion per operand).
#[test]
fn long_chains_of_every_operator_are_a_diagnostic() {
    let n = 100_000;
    let mut cases: Vec<(String, String)> = Vec::new();
    for op in [
        "and", "or", "+", "-", "*", "/", "%", "||", "=", "<", "<>", ">=",
    ] {
        let operand = match op {
            "and" | "or" => "true",
            "||" => "t.s",
            _ => "t.x",
        };
        let mut chain = String::from(operand);
        for _ in 1..n {
            chain.push(' ');
            chain.push_str(op);
            chain.push(' ');
            chain.push_str(operand);
        }
        cases.push((op.to_string(), chain));
    }
    cases.push(("prefix -".into(), format!("{}t.x", "- ".repeat(n))));
    cases.push(("prefix not".into(), format!("{}true", "not ".repeat(n))));
    cases.push(("casts".into(), format!("t.x{}", "::integer".repeat(n))));
    cases.push((
        "is null".into(),
        format!("t.x{}", " is null = true".repeat(n / 2)),
    ));
    for (what, expr) in cases {
        let dir = project(&model(&expr));
        let ran = check(dir.path());
        assert_one_p003(&ran, &what);
    }
}

/// Below the limit, deep expressions compile, check and emit: 900 levels
/// of each kind, including `coalesce` nested in its first argument (which
/// the nullability analysis once evaluated twice per level: 2^900 steps).
#[test]
fn deep_expressions_below_the_limit_compile() {
    let depth = 900;
    for (what, expr) in [
        ("parentheses", nested("(", "t.x", ")", depth)),
        ("coalesce", nested("coalesce(", "t.x", ", 0)", depth)),
        (
            "case",
            nested("case when t.x > 0 then ", "t.x", " else 0 end", depth),
        ),
        ("plus chain", format!("t.x{}", " + 1".repeat(depth))),
        ("prefix minus", format!("{}t.x", "- ".repeat(depth))),
    ] {
        let dir = project(&model(&expr));
        let ran = check(dir.path());
        assert_eq!(ran.code, Some(0), "{what}: {}", tail(&ran.stderr));
        let ran = run_guarded(
            &["emit", "--project", dir.path().to_str().unwrap()],
            Duration::from_secs(60),
        );
        assert_eq!(ran.code, Some(0), "{what}: {}", tail(&ran.stderr));
        assert!(ran.stdout.contains("CREATE OR REPLACE VIEW"), "{what}");
    }
}

/// The grammar's own recursion through brackets stops at the limit
/// before pest recurses, whatever follows: unclosed brackets too.
#[test]
fn unclosed_deep_brackets_are_a_diagnostic() {
    for text in [
        "(".repeat(200_000),
        format!(
            "model m {{\n  from raw.t t\n  columns {{ y = {} }}\n}}\n",
            "[".repeat(200_000)
        ),
        format!("model m {{\n  grain = {}\n}}\n", "[".repeat(200_000)),
        "{".repeat(200_000),
    ] {
        let dir = project(&text);
        let ran = check(dir.path());
        assert_eq!(ran.code, Some(1), "{}", tail(&ran.stderr));
        assert!(
            ran.stderr.contains("error[P003]") || ran.stderr.contains("error[P001]"),
            "{}",
            tail(&ran.stderr)
        );
    }
}

/// Recovery is linear: 100,000 doc lines (or comments) before garbage, and
/// 100,000 broken items, are reported (the first 100 one by one, then a
/// count), in well under a second each (benches/check.rs measures it).
#[test]
fn error_recovery_is_linear() {
    let n = 100_000;
    for (what, text, errors) in [
        (
            "doc lines",
            format!("{}garbage\n", "## a doc line\n".repeat(n)),
            1,
        ),
        (
            "comments",
            format!("{}garbage\n", "# a comment\n".repeat(n)),
            1,
        ),
        (
            "doc lines before broken items",
            "## doc\nmodel broken { from\n".repeat(n / 10),
            n / 10,
        ),
        ("broken items", "model broken {\n  from\n}\n".repeat(n), n),
    ] {
        let dir = project(&text);
        let ran = run_guarded(
            &[
                "check",
                "--project",
                dir.path().to_str().unwrap(),
                "--format",
                "json",
            ],
            Duration::from_secs(60),
        );
        assert_eq!(ran.code, Some(1), "{what}: {}", tail(&ran.stderr));
        let json: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
        let messages: Vec<&str> = json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "P001")
            .map(|d| d["message"].as_str().unwrap())
            .collect();
        // The first ones one by one, then how many more.
        let limit = shopc::syntax::MAX_SYNTAX_ERRORS;
        let shown = messages
            .iter()
            .filter(|m| m.starts_with("syntax error"))
            .count();
        assert_eq!(shown, errors.min(limit), "{what}");
        if errors > limit {
            let more = format!("{} more syntax errors in this file", errors - limit);
            assert_eq!(messages.last(), Some(&more.as_str()), "{what}");
        }
    }
}

/// A `.shop` file, `shop.toml` or seed CSV that is a device or a pipe is
/// refused by name (F001 for a model file), never read forever or waited on.
#[test]
fn files_that_are_not_regular_files_are_refused() {
    let fifo = |path: &Path| {
        let status = Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    };
    for (what, make) in [
        ("a link to /dev/zero", "zero"),
        ("a link to /dev/urandom", "urandom"),
        ("a FIFO", "fifo"),
    ] {
        let dir = project(&model("t.x"));
        let shop = dir.path().join("models/dev.shop");
        match make {
            "fifo" => fifo(&shop),
            device => std::os::unix::fs::symlink(format!("/dev/{device}"), &shop).unwrap(),
        }
        let ran = check(dir.path());
        assert_eq!(ran.code, Some(2), "{what}: {}", ran.stderr);
        assert!(ran.stderr.contains("error[F001]"), "{what}: {}", ran.stderr);
        assert!(ran.stderr.contains("dev.shop"), "{what}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("not a regular file"),
            "{what}: {}",
            ran.stderr
        );
    }
    // shop.toml itself.
    let dir = project(&model("t.x"));
    std::fs::remove_file(dir.path().join("shop.toml")).unwrap();
    fifo(&dir.path().join("shop.toml"));
    let ran = check(dir.path());
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("a FIFO"), "{}", ran.stderr);
    // A seed CSV.
    let dir = project(&model("t.x"));
    std::fs::create_dir_all(dir.path().join("seeds")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("seeds/t.csv")).unwrap();
    let ran = check(dir.path());
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("t.csv"), "{}", ran.stderr);
    assert!(ran.stderr.contains("a character device"), "{}", ran.stderr);
}

/// The size limit holds for a file that lies about its size: a link to a
/// device has none, and is refused before it is read.
#[test]
fn oversized_files_are_refused_while_reading() {
    let dir = project(&model("t.x"));
    let big = "# padding\n".repeat((shopc::project::MAX_FILE_BYTES as usize / 10) + 1);
    std::fs::write(dir.path().join("models/big.shop"), big).unwrap();
    let ran = check(dir.path());
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("error[F003]"), "{}", ran.stderr);
    let bytes = shopc::project::read_file(
        &dir.path().join("models/big.shop"),
        shopc::project::MAX_FILE_BYTES,
    );
    assert!(matches!(
        bytes,
        Err(shopc::project::ReadError::TooLarge { .. })
    ));
}

/// A chain of 10,000 ephemeral models emits in linear time: every CTE
/// once per statement, every ephemeral's own file its own query only.
#[test]
fn a_long_chain_of_ephemeral_models_emits() {
    let n = 10_000;
    let mut text = String::from(SOURCE);
    text.push_str("model e0 {\n  materialized = \"ephemeral\"\n  from raw.t t\n  columns { id = t.id, x = t.x }\n}\n");
    for i in 1..n {
        text.push_str(&format!(
            "model e{i} {{\n  materialized = \"ephemeral\"\n  from e{} p\n  columns {{ id = p.id, x = p.x + 1 }}\n}}\n",
            i - 1
        ));
    }
    text.push_str(&format!(
        "model last {{\n  materialized = \"table\"\n  from e{} p\n  columns {{ id = p.id, x = p.x }}\n}}\n",
        n - 1
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join("shop.toml"), SHOP_TOML).unwrap();
    std::fs::write(dir.path().join("models/chain.shop"), text).unwrap();
    let out = dir.path().join("out");
    let ran = run_guarded(
        &[
            "emit",
            "--project",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(ran.code, Some(0), "{}", tail(&ran.stderr));
    let last = std::fs::read_to_string(out.join("last.build.sql")).unwrap();
    assert_eq!(
        last.matches(" AS (").count(),
        n,
        "one CTE per ephemeral model"
    );
    let e5 = std::fs::read_to_string(out.join("e5.select.sql")).unwrap();
    assert!(!e5.contains("WITH"), "{e5}");
    assert!(e5.contains("e4.select.sql"), "{e5}");
}

/// Nested calls whose SQL form writes an operand twice doubled the SQL per
/// level: 16 nested `try_cast`s emitted for PostgreSQL took 15 s and 40 MB.
/// On every dialect, doubling the depth of nested safe casts, month and
/// quarter differences and rounding now at most quadruples the SQL (the
/// formatter's indentation grows with depth); and `round`'s digits, which
/// every rounding formula writes twice, must be written out.
#[test]
fn nested_calls_emit_sql_polynomial_in_depth_on_every_dialect() {
    let date = "cast('2024-01-01' as date)";
    let month = format!("date_add('day', date_diff('month', {date}, ");
    let quarter = format!("date_add('day', date_diff('quarter', {date}, ");
    let back = format!("), {date})");
    let forms: [(&str, &str, &str); 5] = [
        ("cast(try_cast(", "t.s", " as integer) as text)"),
        ("try_cast(cast(", "t.s", " as text) as date)"),
        (&month, date, &back),
        (&quarter, date, &back),
        ("round(", "t.x * 1.5", " / 3, 2)"),
    ];
    let emitted = |expr: &str, dialect: &str| -> u64 {
        let dir = project(&model(expr));
        let out = dir.path().join("out");
        let ran = run_guarded(
            &[
                "emit",
                "--project",
                dir.path().to_str().unwrap(),
                "--target",
                dialect,
                "--out",
                out.to_str().unwrap(),
            ],
            Duration::from_secs(60),
        );
        assert_eq!(ran.code, Some(0), "{dialect}: {}", tail(&ran.stderr));
        std::fs::read_dir(&out)
            .unwrap()
            .map(|f| f.unwrap().metadata().unwrap().len())
            .sum()
    };
    for (open, inner, close) in forms {
        for dialect in ["duckdb", "postgres", "snowflake", "bigquery"] {
            let half = emitted(&nested(open, inner, close, 150), dialect);
            let full = emitted(&nested(open, inner, close, 300), dialect);
            assert!(
                full <= 5 * half,
                "{dialect}: {open}…: {half} bytes of SQL at depth 150, {full} at 300"
            );
        }
    }
    let dir = project(&model(
        "round(t.x * 1.5, cast(round(t.x * 0.5) as integer))",
    ));
    let ran = check(dir.path());
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("error[T001]"), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("`round` expects a whole number written out"),
        "{}",
        ran.stderr
    );
}

/// What the fuzzer found (scripts/fuzz.sh), kept as it found it: each input
/// must check in well under its guard.
#[test]
fn inputs_found_by_the_fuzzer_check_quickly() {
    let found = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_found");
    let mut inputs: Vec<_> = std::fs::read_dir(&found)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    for input in inputs {
        let dir = project(&String::from_utf8_lossy(&std::fs::read(&input).unwrap()));
        let ran = check(dir.path());
        assert!(
            matches!(ran.code, Some(0 | 1)),
            "{}: {}",
            input.display(),
            tail(&ran.stderr)
        );
    }
}

/// A broken innermost `case` or `cast` under 300 levels of them: once each
/// level was parsed twice (a `case` read again as a column or a call, a
/// `cast` as a call, a `like` operand again by the expression around it),
/// 2^300 steps; now one syntax error, at once.
#[test]
fn broken_nested_cases_and_casts_fail_fast() {
    for expr in [
        format!(
            "{}t.x t.x{}",
            "case when true then ".repeat(300),
            " end".repeat(300)
        ),
        format!(
            "{}t.x t.x{}",
            "cast(".repeat(300),
            " as integer)".repeat(300)
        ),
        format!(
            "{}t.x t.x{}",
            "try_cast(".repeat(300),
            " as integer)".repeat(300)
        ),
        format!(
            "{}t.x t.x{}",
            "case(coalesce(".repeat(300),
            ")) when 1 then 2 end".repeat(300)
        ),
        // `like`'s operand stopped before an operator whose operand did
        // not parse, and the enclosing expression read it again.
        format!("{}t.x", "case t.x like t.x - - ".repeat(200)),
        format!("{}t.x", "case t.x between t.x and t.x - - ".repeat(200)),
    ] {
        let dir = project(&model(&expr));
        let ran = check(dir.path());
        assert_eq!(ran.code, Some(1), "{}", tail(&ran.stderr));
        assert!(ran.stderr.contains("error[P001]"), "{}", tail(&ran.stderr));
    }
}
