//! `shopc check` on arbitrary input: one `.shop` file in a project with
//! ShopCo's `shop.toml` (its layers and vars), compiled, every problem
//! rendered, and, when it checks clean, every statement emitted for one of
//! the dialects.
//! Whatever the input, this must return: no panic, no stack overflow, no
//! hang (libFuzzer's `-timeout`), no runaway memory (`-rss_limit_mb`).
//!
//! Besides libFuzzer's byte mutations, a mutator of its own works on
//! tokens: it swaps in keywords, operators, function and type names of
//! the language, deletes, repeats and nests ranges of tokens, so that
//! mutated ShopCo models stay close enough to the grammar to reach the
//! checker.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};

const SHOP_TOML: &str = include_str!("../../shopco_models/shop.toml");

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut db = shopc::span::SourceDb::new();
    let config_file = db.add("shop.toml", SHOP_TOML);
    let config = shopc::config::parse_project_config(config_file, SHOP_TOML)
        .expect("ShopCo's shop.toml parses");
    let file = db.add("models/fuzz.shop", text);
    let compilation = shopc::compile(&db, &config, &[file]);
    let diagnostics: Vec<_> = compilation
        .problems
        .iter()
        .map(shopc::problem::Problem::to_diagnostic)
        .collect();
    let rendered = shopc::diagnostic::render(&db, &diagnostics, false);
    std::hint::black_box(rendered);
    if compilation.error_count() == 0 {
        // Every statement of every relation, unformatted (sqlformat's own
        // cost would dominate, and it is not ours to fuzz).
        let dialect = shopc::emit::Dialect::ALL[data.len() % shopc::emit::Dialect::ALL.len()];
        let emitter = shopc::emit::Emitter::new(&compilation.ir, dialect);
        for &id in &compilation.ir.order {
            std::hint::black_box(emitter.build(id));
            std::hint::black_box(emitter.incremental(id));
            std::hint::black_box(emitter.snapshot(id, "now"));
            std::hint::black_box(emitter.tests(id));
            std::hint::black_box(emitter.reconciliations(id));
        }
    }
});

/// Words of the language a mutation may put in.
const WORDS: &[&str] = &[
    "model", "source", "table", "snapshot", "reconcile", "from", "join", "left", "inner", "one",
    "many", "on", "where", "group", "by", "having", "dedupe", "keep", "latest", "earliest", "as",
    "and", "or", "not", "is", "null", "in", "like", "ilike", "between", "case", "when", "then",
    "else", "end", "cast", "try_cast", "distinct", "filter", "over", "partition", "order", "asc",
    "desc", "nulls", "first", "last", "true", "false", "sql", "date", "timestamp", "columns",
    "dimensions", "measures", "tests", "grain", "layer", "materialized", "schema", "tags",
    "cluster_by", "partition_by", "non_additive", "semi_additive", "unique_key", "strategy",
    "hard_deletes", "expect_key", "identifier", "loaded_at", "freshness", "incremental", "since",
    "lookback", "on_schema_change", "check", "all", "unique", "not_null", "accepted_values",
    "relationships", "severity", "to", "var", "coalesce", "nullif", "sum", "count", "avg", "min",
    "max", "round", "abs", "date_trunc", "date_diff", "date_add", "date_part", "lower", "trim",
    "row_number", "lag", "lead", "ntile", "first_value", "integer", "bigint", "text", "numeric",
    "double", "boolean", "(", ")", "{", "}", "[", "]", ",", ".", "=", "::", "+", "-", "*", "/",
    "%", "||", "<", "<=", ">", ">=", "!=", "<>", "'x'", "\"y\"", "`z`", "0", "1", "2.5", "1e3",
    "##", "#", "\n", "'day'", "'month'", "\"3 days\"", "\"view\"", "\"table\"", "\"ephemeral\"",
];

/// Wrappers a mutation may nest a range of tokens in.
const NESTINGS: &[(&str, &str)] = &[
    ("(", ")"),
    ("abs(", ")"),
    ("coalesce(", ", 0)"),
    ("case when true then ", " end"),
    ("not ", ""),
    ("-", ""),
    ("", "::text"),
    ("sum(", ")"),
    ("[", "]"),
    ("{ ", " }"),
];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Token boundaries: words, numbers, quoted strings and names, and single
/// punctuation characters (white space belongs to no token).
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
        } else if matches!(b, b'\'' | b'"' | b'`') {
            i += 1;
            while i < bytes.len() && bytes[i] != b && bytes[i] != b'\n' {
                i += 1;
            }
            i = (i + 1).min(bytes.len());
        } else {
            i += 1;
            while i < bytes.len() && !text.is_char_boundary(i) {
                i += 1;
            }
        }
        out.push((start, i));
    }
    out
}

fn mutate_tokens(text: &str, rng: &mut Rng) -> String {
    let toks = tokens(text);
    if toks.is_empty() {
        return WORDS[rng.below(WORDS.len())].to_string();
    }
    let a = rng.below(toks.len());
    let b = (a + rng.below(8)).min(toks.len() - 1);
    let (start, end) = (toks[a].0, toks[b].1);
    let word = WORDS[rng.below(WORDS.len())];
    match rng.below(6) {
        // Replace a token with a word of the language.
        0 => format!("{}{word}{}", &text[..toks[a].0], &text[toks[a].1..]),
        // Insert a word before a token.
        1 => format!("{}{word} {}", &text[..start], &text[start..]),
        // Delete a range of tokens.
        2 => format!("{}{}", &text[..start], &text[end..]),
        // Repeat a range of tokens, up to 16 times.
        3 => {
            let times = 1 + rng.below(16);
            let range = &text[start..end];
            format!("{}{}{}", &text[..end], format!(" {range}").repeat(times), &text[end..])
        }
        // Nest a range of tokens, up to 16 levels.
        4 => {
            let (open, close) = NESTINGS[rng.below(NESTINGS.len())];
            let levels = 1 + rng.below(16);
            format!(
                "{}{}{}{}{}",
                &text[..start],
                open.repeat(levels),
                &text[start..end],
                close.repeat(levels),
                &text[end..]
            )
        }
        // Move a token elsewhere.
        _ => {
            let c = rng.below(toks.len());
            let token = &text[toks[a].0..toks[a].1];
            let without = format!("{}{}", &text[..toks[a].0], &text[toks[a].1..]);
            let at = if toks[c].0 > toks[a].0 {
                toks[c].0 - (toks[a].1 - toks[a].0)
            } else {
                toks[c].0
            }
            .min(without.len());
            let at = (0..=at).rev().find(|i| without.is_char_boundary(*i)).unwrap_or(0);
            format!("{}{token} {}", &without[..at], &without[at..])
        }
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng(u64::from(seed) | 0x9E37_79B9_0000_0000);
    if rng.below(3) == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let text = String::from_utf8_lossy(&data[..size]).into_owned();
    let mutated = mutate_tokens(&text, &mut rng);
    let mut n = mutated.len().min(max_size);
    while !mutated.is_char_boundary(n) {
        n -= 1;
    }
    data[..n].copy_from_slice(&mutated.as_bytes()[..n]);
    n
});
