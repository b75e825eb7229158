//! Property tests: random text and mutated ShopCo files never make the
//! compiler panic, and every diagnostic it produces points inside its file,
//! on character boundaries, and renders.

use proptest::prelude::*;
use shopc::config::parse_project_config;
use shopc::diagnostic::render;
use shopc::span::SourceDb;

const SHOP_TOML: &str = include_str!("../shopco_models/shop.toml");
const FILES: &[(&str, &str)] = &[
    (
        "sources/raw.shop",
        include_str!("../shopco_models/sources/raw.shop"),
    ),
    (
        "models/staging/stg_customers.shop",
        include_str!("../shopco_models/models/staging/stg_customers.shop"),
    ),
    (
        "models/staging/stg_orders.shop",
        include_str!("../shopco_models/models/staging/stg_orders.shop"),
    ),
    (
        "models/staging/stg_order_items.shop",
        include_str!("../shopco_models/models/staging/stg_order_items.shop"),
    ),
    (
        "models/staging/stg_products.shop",
        include_str!("../shopco_models/models/staging/stg_products.shop"),
    ),
    (
        "models/staging/stg_web_events.shop",
        include_str!("../shopco_models/models/staging/stg_web_events.shop"),
    ),
    (
        "snapshots/customers_snapshot.shop",
        include_str!("../shopco_models/snapshots/customers_snapshot.shop"),
    ),
];

/// Compiles ShopCo with file `index` replaced by `text`; checks every span.
fn compile_with(index: usize, text: &str) {
    let mut db = SourceDb::new();
    let config_file = db.add("shop.toml", SHOP_TOML);
    let config = parse_project_config(config_file, SHOP_TOML).unwrap();
    let files: Vec<_> = FILES
        .iter()
        .enumerate()
        .map(|(i, (path, original))| db.add(*path, if i == index { text } else { original }))
        .collect();
    let compilation = shopc::compile(&db, &config, &files);
    let diagnostics: Vec<_> = compilation
        .problems
        .iter()
        .map(|p| p.to_diagnostic())
        .collect();
    for d in &diagnostics {
        assert!(!d.title.is_empty(), "{d:?}");
        for label in &d.labels {
            let file_text = db.text(label.span.file);
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(
                start <= end && end <= file_text.len(),
                "span out of its file: {d:?}"
            );
            assert!(
                file_text.is_char_boundary(start) && file_text.is_char_boundary(end),
                "span not on a char boundary: {d:?}"
            );
        }
    }
    let rendered = render(&db, &diagnostics, false);
    assert!(!rendered.contains("could not show source"), "{rendered}");
}

/// Pieces of `.shop` syntax to splice into files.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "=",
    ",",
    ".",
    "::",
    "'",
    "\"",
    "`",
    "#",
    "##",
    "\n",
    "model",
    "from",
    "join",
    "where",
    "group by",
    "dedupe on",
    "keep latest by",
    "columns",
    "measures",
    "tests",
    "case",
    "when",
    "end",
    "sum(",
    "count(distinct",
    "over (",
    "sql(\"x\") :",
    "null",
    "not",
    "é",
    "\u{0}",
    "date '2024-02-30'",
    "stg_orders",
    "raw.raw_orders",
    "customer_id",
    "o.",
    "1e999",
    "99999999999999999999",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 1usize..80).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_string();
    for m in mutations {
        let len = text.len().max(1);
        match *m {
            Mutation::Delete { at, len: n } => {
                let start = floor_boundary(&text, at % len);
                let end = floor_boundary(&text, start + n);
                text.replace_range(start..end, "");
            }
            Mutation::Insert { at, token } => {
                let at = floor_boundary(&text, at % len);
                text.insert_str(at, TOKENS[token]);
            }
            Mutation::Duplicate { at, len: n } => {
                let start = floor_boundary(&text, at % len);
                let end = floor_boundary(&text, start + n);
                let piece = text[start..end].to_string();
                text.insert_str(end, &piece);
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_shopco_files_never_panic(index in 0..FILES.len(), mutations in proptest::collection::vec(mutation(), 1..6)) {
        let text = apply(FILES[index].1, &mutations);
        compile_with(index, &text);
    }

    #[test]
    fn random_text_never_panics(index in 0..FILES.len(), text in "\\PC{0,400}") {
        compile_with(index, &text);
    }

    #[test]
    fn random_token_soup_never_panics(index in 0..FILES.len(), tokens in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let text: Vec<&str> = tokens.iter().map(|t| TOKENS[*t]).collect();
        compile_with(index, &text.join(" "));
    }
}
