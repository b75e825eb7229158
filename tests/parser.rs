//! The hand-written parser against pest, the grammar of record: on every
//! `.shop` file of the repository, on generated projects, and on thousands
//! of mutations of them (most of which do not parse), the fast parser
//! either leaves the file to pest or gives exactly pest's AST (spans
//! included); and it accepts every file that pest parses without a problem
//! (`src/syntax/fast.rs` says why both exist).
#![allow(clippy::disallowed_methods)]

use shopc::span::FileId;
use shopc::syntax::{ast, parse_fast, parse_with_pest};
use shopc::synth::Rng;

/// Checks the two parsers on `text`; true when pest parses it cleanly.
fn agree(text: &str, what: &str) -> bool {
    let fast = parse_fast(FileId(0), text);
    let pest = parse_with_pest(FileId(0), text);
    let clean = pest.problems.is_empty() && pest.broken_items.is_empty();
    match fast {
        Some(ast) => {
            assert!(
                clean,
                "{what}: the fast parser accepted a file pest rejects ({:?}):\n{text}",
                pest.problems
            );
            if ast != pest.file {
                panic!(
                    "{what}: the parsers disagree:\n{text}\n{}",
                    first_difference(&ast, &pest.file)
                );
            }
        }
        None => assert!(
            !clean,
            "{what}: the fast parser gave up on a file pest parses:\n{text}"
        ),
    }
    clean
}

/// The first item on which two ASTs differ, both printed.
fn first_difference(fast: &ast::File, pest: &ast::File) -> String {
    let pairs = fast.items.iter().zip(&pest.items);
    match pairs.into_iter().find(|(a, b)| a != b) {
        Some((a, b)) => format!("fast: {a:#?}\npest: {b:#?}"),
        None => format!("{} items against {}", fast.items.len(), pest.items.len()),
    }
}

/// Every `.shop` file in the repository, and the fuzzer's findings.
pub(crate) fn repository_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["shopco_models", "examples", "tests", "editors"] {
        for entry in walkdir::WalkDir::new(root.join(dir)).sort_by_file_name() {
            let entry = entry.expect("a readable directory");
            let path = entry.path();
            let is_shop = path.extension().is_some_and(|e| e == "shop");
            let is_fuzz_case = path.parent().is_some_and(|p| p.ends_with("fuzz_found"));
            if entry.file_type().is_file() && (is_shop || is_fuzz_case) {
                let bytes = std::fs::read(path).expect("a readable file");
                files.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    files
}

#[test]
fn repository_files_parse_the_same() {
    let files = repository_files();
    assert!(files.len() > 50, "only {} files found", files.len());
    let clean = files
        .iter()
        .filter(|(path, text)| agree(text, path))
        .count();
    // The diagnostics' examples do not parse; the projects do.
    assert!(clean > 30, "only {clean} files parse");
}

#[test]
fn generated_projects_parse_the_same() {
    for project in [
        shopc::synth::project(300, 3),
        shopc::synth::dbt_shaped(300, 3),
    ] {
        for (path, text) in &project.files {
            assert!(agree(text, path), "{path} does not parse");
        }
    }
}

/// What a mutation inserts: tokens of the language, trivia, and the broken
/// halves of tokens.
const INSERTS: &[&str] = &[
    " ",
    "\n",
    "# c\n",
    "## d\n",
    "###\n",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    "\"",
    "`",
    ".",
    "*",
    "=",
    "==",
    "-",
    "+",
    "::",
    "::int",
    "||",
    "<",
    "<=",
    "!=",
    "not ",
    "and ",
    "or ",
    "is ",
    "is not null ",
    "null",
    "in (1, 2)",
    "like 'a%'",
    "between 1 and 2",
    "case when x then 1 end",
    "cast(x as int)",
    "as ",
    "x ",
    "a.b",
    "1",
    "1.5",
    "1e5",
    "1_000",
    "_",
    "from ",
    "join ",
    "left ",
    "one ",
    "on ",
    "where ",
    "group by x",
    "columns { y = 1 }",
    "tests { unique(x) }",
    "date '2024-01-01'",
    "sql(\"x\"): int",
    "count(*)",
    "sum(x) filter (where y)",
    "over (partition by a order by b desc nulls last)",
    "range(1, 2)",
    "union all (a, b)",
    "a.* except (b)",
    "\\u00e9",
    "\u{FEFF}",
    "é",
    "numeric(12, 2)",
    "numeric(1001)",
    "99999999999999999999",
];

/// `text` with one random change: a run of characters deleted, a token
/// inserted, or a run of characters repeated.
pub(crate) fn mutate(text: &str, rng: &mut Rng) -> String {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let at = boundaries[rng.index(boundaries.len())];
    let until = boundaries
        [(boundaries.partition_point(|&b| b < at) + 1 + rng.index(4)).min(boundaries.len() - 1)];
    match rng.below(3) {
        0 => format!("{}{}", &text[..at], &text[until..]),
        1 => format!("{}{}{}", &text[..at], rng.pick(INSERTS), &text[at..]),
        _ => format!("{}{}", &text[..until], &text[at..]),
    }
}

#[test]
fn mutations_parse_the_same() {
    let mut rng = Rng(20261202);
    let mut sources: Vec<String> = repository_files()
        .into_iter()
        .map(|(_, text)| text)
        .filter(|text| text.len() < 20_000)
        .collect();
    sources.extend(
        shopc::synth::dbt_shaped(20, 5)
            .files
            .into_iter()
            .map(|(_, t)| t),
    );
    let (mut tried, mut clean) = (0, 0);
    for text in &sources {
        for round in 0..40 {
            // One change, or a few on top of each other.
            let mut mutated = mutate(text, &mut rng);
            for _ in 0..round % 3 {
                mutated = mutate(&mutated, &mut rng);
            }
            tried += 1;
            clean += usize::from(agree(&mutated, "a mutation"));
        }
    }
    // Both kinds are well represented: broken files and changed ones that
    // still parse.
    eprintln!("{clean} of {tried} parse");
    assert!(
        clean > tried / 10 && clean < tried * 9 / 10,
        "{clean} of {tried} parse"
    );
}

/// Nesting around the limit (`MAX_DEPTH`, 1000): pest's path reports what
/// is too deep (P003), and the fast parser must leave exactly those files
/// to it.
#[test]
fn nesting_at_the_limit_parses_the_same() {
    let cases: Vec<String> = (990..1010)
        .flat_map(|n| {
            [
                format!(
                    "model m {{\n from t\n columns {{ x = {}1{} }}\n}}\n",
                    "(".repeat(n),
                    ")".repeat(n)
                ),
                format!(
                    "model m {{\n from t\n columns {{ x = {}1{} }}\n}}\n",
                    "f(".repeat(n),
                    ")".repeat(n)
                ),
                format!(
                    "model m {{\n from t\n columns {{ x = {}1{} }}\n}}\n",
                    "case when a then ".repeat(n),
                    " end".repeat(n)
                ),
                format!(
                    "model m {{\n from t\n columns {{ x = 1{} }}\n}}\n",
                    " + 1".repeat(n)
                ),
                format!(
                    "model m {{\n from t\n  k = {}1{}\n}}\n",
                    "[".repeat(n),
                    "]".repeat(n)
                ),
            ]
        })
        .collect();
    // As deep as the compiler's threads are (`shopc::STACK_SIZE`).
    std::thread::Builder::new()
        .stack_size(shopc::STACK_SIZE)
        .spawn(move || {
            for text in &cases {
                agree(text, "deep nesting");
            }
        })
        .expect("a thread")
        .join()
        .expect("no panic");
}
