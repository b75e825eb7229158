//! The editors stay in step with the language: every keyword of
//! `grammar/shop.pest`, every type name and every aggregate and window
//! function of the library is highlighted by the VS Code grammar and by the
//! vim syntax. A keyword added without highlighting fails here.
//! (`scripts/editors.sh` tests how the grammars colour real files.)
#![allow(clippy::disallowed_methods)]

use shopc::ir::library::{FUNCTIONS, FuncKind};
use shopc::ir::types::TYPE_NAMES;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The words of `kw_NAME = @{ "word" ~ !ident_char }` rules.
fn keywords() -> Vec<String> {
    let grammar = read("grammar/shop.pest");
    let words: Vec<String> = grammar
        .lines()
        .filter(|line| line.starts_with("kw_"))
        .map(|line| {
            line.split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("no keyword in `{line}`"))
                .to_string()
        })
        .collect();
    assert!(words.len() > 40, "only {} keywords found", words.len());
    words
}

/// Whether `word` stands alone somewhere in `text` (not inside a longer
/// name such as `order_date` for `date`).
fn has_word(text: &str, word: &str) -> bool {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

/// The patterns of the TextMate grammar (`match` and `begin`), where a
/// highlighted word must appear: a word only in a comment does not count.
fn textmate_patterns() -> String {
    let grammar: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/syntaxes/shop.tmLanguage.json"))
            .expect("the TextMate grammar is JSON");
    fn walk(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    if let ("match" | "begin", serde_json::Value::String(s)) = (key.as_str(), value)
                    {
                        out.push_str(s);
                        out.push('\n');
                    }
                    walk(value, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(&grammar, &mut out);
    // A regex escape such as `\b` or `\s` stands before a word and is not
    // part of it: `\bnull\b` highlights `null`.
    let mut words = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_alphabetic) {
            chars.next();
            words.push(' ');
        } else {
            words.push(c);
        }
    }
    words
}

/// The vim syntax file without its comment lines.
fn vim_syntax() -> String {
    read("editors/vim/syntax/shop.vim")
        .lines()
        .filter(|line| !line.trim_start().starts_with('"'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn missing(words: &[String], text: &str) -> Vec<String> {
    words
        .iter()
        .filter(|w| !has_word(text, w))
        .cloned()
        .collect()
}

/// What both editors must know by name.
fn highlighted_words() -> Vec<String> {
    let mut words = keywords();
    words.extend(TYPE_NAMES.iter().map(|t| t.to_string()));
    words.extend(
        FUNCTIONS
            .iter()
            .filter(|f| matches!(f.kind, FuncKind::Aggregate | FuncKind::Window))
            .map(|f| f.name.to_string()),
    );
    words
}

#[test]
fn every_keyword_type_and_aggregate_is_in_the_textmate_grammar() {
    let missing = missing(&highlighted_words(), &textmate_patterns());
    assert!(
        missing.is_empty(),
        "not highlighted by editors/vscode/syntaxes/shop.tmLanguage.json: {missing:?}"
    );
}

#[test]
fn every_keyword_type_and_aggregate_is_in_the_vim_syntax() {
    let missing = missing(&highlighted_words(), &vim_syntax());
    assert!(
        missing.is_empty(),
        "not highlighted by editors/vim/syntax/shop.vim: {missing:?}"
    );
}

#[test]
fn the_keyword_reader_finds_what_the_parser_reads() {
    let words = keywords();
    for word in ["model", "dedupe", "ilike", "try_cast", "timestamp"] {
        assert!(words.contains(&word.to_string()), "{word} in {words:?}");
    }
    assert!(has_word("a date b", "date"));
    assert!(!has_word("order_date", "date"));
    assert!(missing(&["window".into()], "no such word").len() == 1);
    assert!(
        has_word(&textmate_patterns(), "null"),
        "`\\bnull\\b` counts"
    );
}

#[test]
fn the_vscode_extension_declares_the_language_and_its_grammar() {
    let package: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/package.json")).unwrap();
    let languages = &package["contributes"]["languages"][0];
    assert_eq!(languages["id"], "shop");
    assert_eq!(languages["extensions"][0], ".shop");
    let configuration = languages["configuration"].as_str().unwrap();
    let configuration: serde_json::Value = serde_json::from_str(&read(&format!(
        "editors/vscode/{}",
        configuration.trim_start_matches("./")
    )))
    .unwrap();
    assert_eq!(configuration["comments"]["lineComment"], "#");
    let grammar = &package["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.shop");
    let path = grammar["path"].as_str().unwrap().trim_start_matches("./");
    let textmate: serde_json::Value =
        serde_json::from_str(&read(&format!("editors/vscode/{path}"))).unwrap();
    assert_eq!(textmate["scopeName"], "source.shop");
}
