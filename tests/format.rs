//! `shopc fmt`: the formatter keeps meaning and comments, and is a fixed
//! point. On every `.shop` file of the repository, on generated projects,
//! on the mutations of them that still parse, and on random layouts of
//! them: the formatted text parses to the same AST (spans aside), holds the
//! same comments in the same order, and formatting it again changes
//! nothing. Random layouts without comments or blank lines format to
//! exactly the text the file itself formats to.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use shopc::span::FileId;
use shopc::syntax::{comments, format, parse_with_pest, spaces};
use shopc::synth::Rng;

use crate::parser::{mutate, repository_files};

/// The AST of a text that parses cleanly, printed without its spans.
fn meaning(text: &str) -> Option<String> {
    let parsed = parse_with_pest(FileId(0), text);
    if !parsed.problems.is_empty() || !parsed.broken_items.is_empty() {
        return None;
    }
    Some(without_spans(&format!("{:?}", parsed.file)))
}

/// A `Debug` print with every span (`0@12..34`) taken out.
fn without_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let bytes = debug.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && bytes.get(i + digits) == Some(&b'@') {
            // file@start..end
            let mut j = i + digits + 1;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                j += 1;
            }
            out.push('_');
            i = j;
        } else {
            let len = debug[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&debug[i..i + len]);
            i += len;
        }
    }
    out
}

/// Formats `text` and checks the formatter's three promises; returns the
/// formatted text.
fn formats_faithfully(text: &str, what: &str) -> String {
    let before = meaning(text).unwrap_or_else(|| panic!("{what}: does not parse:\n{text}"));
    let formatted = format(FileId(0), text)
        .unwrap_or_else(|p| panic!("{what}: the formatter refused a file that parses: {p:?}"));
    let after = meaning(&formatted)
        .unwrap_or_else(|| panic!("{what}: the formatted text does not parse:\n{formatted}"));
    if before != after {
        panic!(
            "{what}: formatting changed the meaning:\n--- before\n{text}\n--- after\n{formatted}"
        );
    }
    let (was, is) = (comments(text), comments(&formatted));
    if was != is {
        let (was, is) = (was.unwrap_or_default(), is.unwrap_or_default());
        let at = was.iter().zip(&is).take_while(|(a, b)| a == b).count();
        panic!(
            "{what}: formatting lost or moved comments: the {at}th was {:?}, is {:?}:\n{formatted}",
            was.get(at),
            is.get(at)
        );
    }
    let again = format(FileId(0), &formatted).expect("formatted text formats");
    if again != formatted {
        panic!(
            "{what}: formatting is not idempotent:\n--- input\n{text}\n--- once\n{formatted}\n--- twice\n{again}"
        );
    }
    formatted
}

/// Runs `f` on a thread as deep as the compiler's.
fn deep<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(shopc::STACK_SIZE)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("no panic")
}

#[test]
fn every_repository_file_formats_faithfully() {
    deep(|| {
        let mut formatted = 0;
        for (path, text) in repository_files() {
            if meaning(&text).is_some() {
                formats_faithfully(&text, &path);
                formatted += 1;
            } else {
                assert!(
                    format(FileId(0), &text).is_err(),
                    "{path}: a file that does not parse was formatted"
                );
            }
        }
        assert!(formatted > 50, "only {formatted} files formatted");
    });
}

/// The files `.ci/run` checks with `shopc fmt --check` are formatted (so
/// that this fails in `cargo test` first, with the difference).
#[test]
fn the_projects_are_formatted() {
    deep(|| {
        for (path, text) in repository_files() {
            if !formatted_in_repository(&path) {
                continue;
            }
            let formatted = format(FileId(0), &text).expect("the project files parse");
            assert!(
                formatted == text,
                "{path} is not formatted (run `shopc fmt {path}`):\n{formatted}"
            );
        }
    });
}

/// Whether a repository file is kept formatted: every one but the
/// diagnostics' examples that do not parse, the fuzzer's findings, and the
/// highlighting test, whose comments point at columns of the line above.
pub(crate) fn formatted_in_repository(path: &str) -> bool {
    path.ends_with(".shop")
        && !path.contains("fuzz_found")
        && !path.ends_with("tokens.test.shop")
        && meaning(&std::fs::read_to_string(path).unwrap_or_default()).is_some()
}

#[test]
fn generated_projects_format_faithfully() {
    deep(|| {
        for project in [
            shopc::synth::project(200, 3),
            shopc::synth::dbt_shaped(200, 3),
        ] {
            for (path, text) in &project.files {
                formats_faithfully(text, path);
            }
        }
    });
}

#[test]
fn mutations_that_parse_format_faithfully() {
    deep(|| {
        let mut rng = Rng(20261204);
        let mut formatted = 0;
        for (path, text) in repository_files() {
            if text.len() > 20_000 || meaning(&text).is_none() {
                continue;
            }
            for _ in 0..30 {
                let mutated = mutate(&text, &mut rng);
                if meaning(&mutated).is_some() {
                    formats_faithfully(&mutated, &format!("a mutation of {path}"));
                    formatted += 1;
                }
            }
        }
        assert!(formatted > 500, "only {formatted} mutations parsed");
    });
}

/// The repository's files that parse, and the runs of whitespace in them.
fn layouts() -> Vec<(String, String, Vec<shopc::syntax::Space>)> {
    repository_files()
        .into_iter()
        .filter(|(_, text)| text.len() < 20_000 && meaning(text).is_some())
        .map(|(path, text)| {
            let runs = spaces(&text).expect("it parses");
            (path, text, runs)
        })
        .collect()
}

/// `text` with each run of whitespace replaced by what `pick` makes of
/// it (the run, its text, a choice).
fn relaid(
    text: &str,
    runs: &[shopc::syntax::Space],
    choices: &[u8],
    pick: impl Fn(&shopc::syntax::Space, &str, u8) -> String,
) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut at = 0;
    for (run, choice) in runs.iter().zip(choices.iter().cycle()) {
        out.push_str(&text[at..run.range.start]);
        out.push_str(&pick(run, &text[run.range.clone()], *choice));
        at = run.range.end;
    }
    out.push_str(&text[at..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Where the tokens of a file sit on their lines does not change what
    /// it formats to (blank lines and comments, which the formatter keeps,
    /// aside).
    #[test]
    fn layout_does_not_change_the_formatted_text(
        file in any::<prop::sample::Index>(),
        choices in prop::collection::vec(0u8..4, 1..64),
    ) {
        let files = layouts();
        let (path, text, runs) = &files[file.index(files.len())];
        let layout = relaid(text, runs, &choices, |run, original, choice| {
            // Runs next to comments and blank lines are kept as they were.
            if run.after_comment || run.before_comment || original.contains("\n\n") {
                return original.to_string();
            }
            ["  ", "\n", " \t\n    ", "\n\t"][usize::from(choice)].to_string()
        });
        let expected = format(FileId(0), text).expect("it parses");
        let formatted = deep({
            let (layout, path) = (layout.clone(), path.clone());
            move || formats_faithfully(&layout, &format!("a layout of {path}"))
        });
        prop_assert_eq!(formatted, expected, "{} laid out as:\n{}", path, layout);
    }

    /// Comments and blank lines anywhere whitespace may be are kept, and
    /// the result is still a fixed point.
    #[test]
    fn comments_anywhere_are_kept(
        file in any::<prop::sample::Index>(),
        choices in prop::collection::vec(0u8..6, 1..64),
    ) {
        let files = layouts();
        let (path, text, runs) = &files[file.index(files.len())];
        let layout = relaid(text, runs, &choices, |run, _, choice| {
            let new = [" ", "\n\n", "  # a comment\n", "\n# a line of its own\n", "\n", " ### three\n"]
                [usize::from(choice)];
            // The line of a comment before the run must end.
            if run.after_comment { format!("\n{new}") } else { new.to_string() }
        });
        let what = format!("{path} with comments added");
        deep(move || formats_faithfully(&layout, &what));
    }
}

/// Nesting up to the limit and chains of 100,000 operators format on the
/// compiler's stack; nesting past the limit is refused with P003.
#[test]
fn deep_and_long_expressions_format() {
    deep(|| {
        let nested = |n: usize| {
            format!(
                "model m {{\n  from t\n  columns {{\n    x = {}1{}\n  }}\n}}\n",
                "f(".repeat(n),
                ")".repeat(n)
            )
        };
        formats_faithfully(&nested(990), "990 nested calls");
        let problems = format(FileId(0), &nested(1001)).expect_err("too deep");
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, shopc::problem::Problem::TooDeep { .. })),
            "{problems:?}"
        );
        let chain = format!(
            "model m {{\n  from t\n  columns {{\n    x = 1{}\n  }}\n}}\n",
            " + 1 * 2".repeat(100_000)
        );
        let formatted = format(FileId(0), &chain).expect("a long chain formats");
        assert!(
            formatted.lines().all(|l| l.len() <= 100),
            "a line past the width"
        );
    });
}

// ------------------------------------------------------------ the command

mod command {
    use std::path::Path;

    use crate::common::{shopc, stderr, stdout};

    const UGLY: &str = "## One row per order.\nmodel orders {\n grain=[order_id]  # the key\n from raw.orders o\n columns { order_id = o.order_id, amount = o.amount }\n}\n";
    const PRETTY: &str = "## One row per order.\nmodel orders {\n  grain = [order_id]  # the key\n  from raw.orders o\n  columns {\n    order_id = o.order_id\n    amount = o.amount\n  }\n}\n";
    const SOURCE: &str = "source raw {\n  table orders {\n    expect_key = [order_id]\n    columns {\n      order_id: integer\n      amount: numeric(12, 2)\n    }\n  }\n}\n";

    fn project() -> tempfile::TempDir {
        crate::common::project(&[
            ("shop.toml", "name = \"formatted\"\n"),
            ("models/orders.shop", UGLY),
            ("models/raw.shop", SOURCE),
        ])
    }

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn check_lists_what_it_would_reformat_and_changes_nothing() {
        let dir = project();
        let root = dir.path().to_str().unwrap();
        let out = shopc(&["fmt", "--check", "--project", root]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let listed = stdout(&out);
        assert_eq!(listed.lines().count(), 1, "{listed}");
        assert!(
            listed.starts_with("Would reformat: ")
                && listed.trim_end().ends_with("models/orders.shop"),
            "{listed}"
        );
        assert!(
            stderr(&out).contains("1 file would be reformatted, 1 file already formatted"),
            "{}",
            stderr(&out)
        );
        assert_eq!(read(dir.path(), "models/orders.shop"), UGLY);
    }

    #[test]
    fn fmt_rewrites_the_project_and_then_check_passes() {
        let dir = project();
        let root = dir.path().to_str().unwrap();
        let out = shopc(&["fmt", "--project", root]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("1 file reformatted, 1 file left unchanged"),
            "{}",
            stderr(&out)
        );
        assert_eq!(read(dir.path(), "models/orders.shop"), PRETTY);
        assert_eq!(read(dir.path(), "models/raw.shop"), SOURCE);
        let again = shopc(&["fmt", "--check", "--project", root]);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        assert!(stdout(&again).is_empty());
        // The formatted project still checks.
        let check = shopc(&["check", "--project", root]);
        assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    }

    #[test]
    fn a_file_that_does_not_parse_is_reported_and_left_as_it_is() {
        let broken = "model broken {\n  from raw.orders o\n  columns { x = }\n}\n";
        let dir = crate::common::project(&[
            ("shop.toml", "name = \"formatted\"\n"),
            ("models/orders.shop", UGLY),
            ("models/raw.shop", SOURCE),
            ("models/broken.shop", broken),
        ]);
        let root = dir.path().to_str().unwrap();
        let out = shopc(&["fmt", "--project", root, "--color", "never"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("error[P001]") && err.contains("broken.shop:3:17"),
            "{err}"
        );
        assert!(err.contains("1 file not formatted"), "{err}");
        assert_eq!(read(dir.path(), "models/broken.shop"), broken);
        // The others are formatted all the same.
        assert_eq!(read(dir.path(), "models/orders.shop"), PRETTY);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_reported_and_not_touched() {
        let dir = project();
        let bad = dir.path().join("models/latin1.shop");
        std::fs::write(
            &bad,
            b"## caf\xe9\nmodel m { from raw.orders o columns { x = o.amount } }\n",
        )
        .unwrap();
        let out = shopc(&["fmt", bad.to_str().unwrap(), "--color", "never"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("error[F002]"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
        assert_eq!(
            std::fs::read(&bad).unwrap(),
            b"## caf\xe9\nmodel m { from raw.orders o columns { x = o.amount } }\n"
        );
    }

    #[test]
    fn paths_name_files_and_folders() {
        let dir = project();
        let models = dir.path().join("models");
        let out = shopc(&["fmt", "--check", models.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let one = models.join("raw.shop");
        let out = shopc(&["fmt", "--check", one.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let missing = shopc(&["fmt", dir.path().join("nope").to_str().unwrap()]);
        assert_eq!(missing.status.code(), Some(2));
        assert!(
            stderr(&missing).contains("does not exist"),
            "{}",
            stderr(&missing)
        );
    }

    #[test]
    fn a_dash_formats_standard_input() {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shopc"))
            .args(["fmt", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(UGLY.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), PRETTY);
    }
}
