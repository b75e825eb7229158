//! Parse: source text → owned AST ([`ast::File`]).
//!
//! pest is used here and nowhere else: [`parse_file`] runs the grammar in
//! `grammar/shop.pest`, lowers the pairs into [`ast`] nodes with our own
//! [`Span`](crate::span::Span), and turns pest's errors into
//! [`Problem::Syntax`]. A broken item does not hide the rest of its file:
//! after an error, parsing resumes at the next top-level keyword.
//!
//! This module never reads files; it takes text.

pub mod ast;
mod climb;
mod depth;
mod fast;
mod format;
mod lower;

pub use depth::MAX_DEPTH;
#[doc(hidden)]
pub use format::{Space, comments, spaces};
pub use format::{WIDTH as FORMAT_WIDTH, format};

use pest::Parser;
use pest::error::InputLocation;

use crate::problem::Problem;
use crate::span::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/shop.pest"]
struct ShopParser;

/// The result of parsing one file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub file: ast::File,
    pub problems: Vec<Problem>,
    /// Names of items that failed to parse, as far as their header could be
    /// read; references to them are not reported again as unknown.
    pub broken_items: Vec<String>,
}

/// Parses one `.shop` file: with the hand-written parser (`fast`), and
/// where it does not accept the file, with pest, which reports why.
pub fn parse_file(file: FileId, text: &str) -> Parsed {
    // The fast parser bounds its own recursion; pest's path scans first.
    if let Some(ast) = fast::parse(file, text) {
        return Parsed {
            file: ast,
            ..Parsed::default()
        };
    }
    parse_with_pest(file, text)
}

/// The hand-written parser alone: the file's AST, or `None` where it leaves
/// the file to pest. For the differential test against [`parse_with_pest`].
#[doc(hidden)]
pub fn parse_fast(file: FileId, text: &str) -> Option<ast::File> {
    fast::parse(file, text)
}

/// Parses one `.shop` file with pest, the grammar of record.
#[doc(hidden)]
pub fn parse_with_pest(file: FileId, text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    if depth::too_deep(text).is_some() {
        // Nesting pest would recurse into: parse item by item, and report
        // (and skip) the items that hold it before pest sees them.
        pest::set_error_detail(true);
        parse_item_by_item(file, text, &mut parsed);
        return parsed;
    }
    match ShopParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            if let Some(pair) = pairs.next() {
                lower::items(file, pair.into_inner(), &mut parsed);
            }
        }
        Err(_) => {
            // Errors are rare; only then pay for pest's detailed tracking of
            // expected tokens. The flag is global and stays on, so that every
            // later error (in any thread) is described the same way.
            pest::set_error_detail(true);
            parse_item_by_item(file, text, &mut parsed);
        }
    }
    parsed
}

/// Recovery: parse the file one top-level item at a time; an item that fails
/// is reported and skipped up to the next line that starts an item.
fn parse_item_by_item(file: FileId, text: &str, parsed: &mut Parsed) {
    let mut pos = 0;
    let mut shown = 0;
    // Where the errors not shown are.
    let mut omitted: Vec<usize> = Vec::new();
    loop {
        pos = skip_trivia(text, pos);
        if pos >= text.len() {
            break;
        }
        let rest = &text[pos..];
        // The next item starts after this one's header line (and the doc
        // comments above it), so that an item is never tried twice.
        let header = pos + comment_block_end(rest).0.min(rest.len());
        let first_char = text[header..].chars().next().map_or(1, char::len_utf8);
        let end = next_item_start(text, (header + first_char).min(text.len()));
        if let Some(at) = depth::too_deep(&text[pos..end]) {
            let len = if text[pos + at..].starts_with("case") {
                4
            } else {
                1
            };
            parsed.problems.push(Problem::TooDeep {
                span: Span::new(file, pos + at, pos + at + len),
                limit: MAX_DEPTH,
            });
            if let Some(name) = item_header_name(rest) {
                parsed.broken_items.push(name);
            }
            pos = end;
            continue;
        }
        // pest describes an error from the end of its input backwards, so
        // each item is parsed on its own text, up to the next line that
        // starts an item: recovery stays linear. (Only a file that failed
        // to parse comes here, so an item keyword at the start of a line
        // inside an item can at worst add an error to those reported.)
        match ShopParser::parse(Rule::item, &text[pos..end]) {
            Ok(pairs) => {
                let end = pairs.clone().last().map_or(0, |p| p.as_span().end());
                lower::items_at(file, pos, pairs, parsed);
                pos += end.max(rest.chars().next().map_or(1, char::len_utf8));
            }
            Err(error) => {
                if shown < MAX_SYNTAX_ERRORS {
                    shown += 1;
                    parsed
                        .problems
                        .push(describe_error(file, text, pos, end, &error));
                } else {
                    omitted.push(pos);
                }
                if let Some(name) = item_header_name(rest) {
                    parsed.broken_items.push(name);
                }
                pos = end;
            }
        }
    }
    if let Some(&last) = omitted.last() {
        parsed.problems.push(Problem::MoreSyntaxErrors {
            span: Span::new(file, last, last),
            count: omitted.len(),
        });
    }
}

/// Syntax errors reported per file; the rest are counted (as C compilers
/// stop at `-ferror-limit`): a file of 100,000 broken items is reported in
/// a screen, not in a million lines. Every item is still parsed.
pub const MAX_SYNTAX_ERRORS: usize = 100;

/// The problem for an item that failed at `error`: where the file ends
/// inside it, the bracket left open; otherwise what was expected.
fn describe_error(
    file: FileId,
    text: &str,
    pos: usize,
    end: usize,
    error: &pest::error::Error<Rule>,
) -> Problem {
    let problem = syntax_problem(file, text, pos, error);
    let at_end = matches!(&problem, Problem::Syntax { span, .. } if span.start as usize >= text.trim_end().len());
    match depth::unclosed(&text[pos..end]).filter(|_| at_end && end == text.len()) {
        Some((at, bracket)) => Problem::Unclosed {
            open: Span::new(file, pos + at, pos + at + 1),
            end: Span::new(file, text.len(), text.len()),
            bracket,
        },
        None => problem,
    }
}

/// Skips white space, comments and doc comments that stand alone.
fn skip_trivia(text: &str, mut pos: usize) -> usize {
    loop {
        let rest = &text[pos..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n', '\u{FEFF}']);
        pos += rest.len() - trimmed.len();
        if !trimmed.starts_with('#') {
            return pos;
        }
        if is_doc_line(trimmed) {
            // A block of doc comments belongs to the item below it; when
            // none follows, the whole block is skipped at once.
            let (end, item_follows) = comment_block_end(trimmed);
            if item_follows {
                return pos;
            }
            pos += end;
        } else {
            pos += trimmed.find('\n').unwrap_or(trimmed.len());
        }
    }
}

fn is_doc_line(text: &str) -> bool {
    text.starts_with("##") && !text.starts_with("###")
}

/// From the start of a line that is a comment: the offset of the first line
/// that is neither blank nor a comment, and whether that line starts an item.
fn comment_block_end(text: &str) -> (usize, bool) {
    let mut offset = 0;
    while offset < text.len() {
        let line_end = text[offset..]
            .find('\n')
            .map_or(text.len(), |i| offset + i + 1);
        let line = text[offset..line_end].trim_start();
        if !(line.is_empty() || line.starts_with('#')) {
            return (offset, starts_item(line));
        }
        offset = line_end;
    }
    (text.len(), false)
}

/// The words a top-level item starts with (`item` in the grammar), where
/// recovery resumes after a broken item.
const ITEM_KEYWORDS: [&str; 7] = [
    "source",
    "model",
    "snapshot",
    "reconcile",
    "fn",
    "doc",
    "unit_test",
];

fn starts_item(line: &str) -> bool {
    ITEM_KEYWORDS.iter().any(|k| starts_with_word(line, k))
}

fn starts_with_word(line: &str, word: &str) -> bool {
    line.strip_prefix(word)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

/// The next position at or after `from` where a line starts with an item
/// keyword (or a doc comment directly above one). Linear: a block of
/// comments is looked through once.
fn next_item_start(text: &str, from: usize) -> usize {
    let mut line_start = text[..from.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    if line_start < from {
        line_start = text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
    }
    while line_start < text.len() {
        let line = &text[line_start..];
        if starts_item(line) {
            return line_start;
        }
        if is_doc_line(line) {
            let (end, item_follows) = comment_block_end(line);
            if item_follows {
                return line_start;
            }
            if end > 0 {
                line_start += end;
                continue;
            }
        }
        line_start = line.find('\n').map_or(text.len(), |i| line_start + i + 1);
    }
    text.len()
}

fn item_header_name(text: &str) -> Option<String> {
    let line = text
        .lines()
        .map(str::trim_start)
        .find(|line| starts_item(line))?;
    let mut words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    words.next()?;
    words.find(|w| !w.is_empty()).map(str::to_string)
}

fn syntax_problem(
    file: FileId,
    text: &str,
    base: usize,
    error: &pest::error::Error<Rule>,
) -> Problem {
    let offset = base
        + match error.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
    let offset = offset.min(text.len());
    let (found, len) = describe_found(&text[offset..]);
    let mut expected: Vec<String> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(word) = describe_rule(*rule)
                && !expected.iter().any(|e| e == word)
            {
                expected.push(word.to_string());
            }
        }
    }
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            // pest does not export its token type; its display is the token
            // itself, `a..z` for a character range, or BUILTIN_RULE.
            let token = token.to_string();
            let range = token.chars().count() == 4 && token.get(1..3) == Some("..");
            let trivia = token.trim().is_empty() || token.starts_with('#') || token == "\u{feff}";
            if range || trivia || token == "_" || token == "BUILTIN_RULE" {
                continue; // covered by the rule's words
            }
            let word = format!("`{token}`");
            if !expected.contains(&word) {
                expected.push(word);
            }
        }
    }
    collapse_expression_starts(&mut expected);
    expected.sort_by_key(|e| (!e.starts_with('`'), e.clone()));
    expected.dedup();
    Problem::Syntax {
        span: Span::new(file, offset, offset + len),
        expected,
        found,
        hint: dbt_hint(&text[offset..], &text[base..]),
    }
}

/// Help for input written for dbt: Jinja, or a model that is a SQL query.
/// `at` is the text where parsing failed, `item` where its item starts.
fn dbt_hint(at: &str, item: &str) -> Option<&'static str> {
    if at.starts_with("{{") || at.starts_with("{%") || at.starts_with("{#") {
        return Some(
            "shopc has no Jinja: name relations directly (`from stg_orders o`, not `{{ ref('stg_orders') }}`), \
             read values with `var('name')`, and write tests in the model's `tests` block",
        );
    }
    let first = item
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(first.as_str(), "select" | "with").then_some(
        "a model is not a SQL query: write `model NAME { from RELATION alias  columns { name = alias.column … } }` \
         (`shopc explain F008` shows a dbt model translated)",
    )
}

/// Where an expression may start, pest lists every way one can begin
/// (`case`, `(`, a number…). Say "an expression" instead.
fn collapse_expression_starts(expected: &mut Vec<String>) {
    const STARTS: &[&str] = &[
        "a number",
        "a string",
        "a function",
        "a name",
        "a column",
        "an expression",
        "`'`",
        "`\"`",
        "```",
        "`(`",
        "`-`",
        "`case`",
        "`cast`",
        "`date`",
        "`false`",
        "`not`",
        "`null`",
        "`sql`",
        "`timestamp`",
        "`true`",
        "`try_cast`",
    ];
    let starts_expression = ["a number", "a function"]
        .iter()
        .all(|w| expected.iter().any(|e| e == w));
    if starts_expression {
        expected.retain(|e| !STARTS.contains(&e.as_str()));
        expected.push("an expression".to_string());
    } else {
        // Quotes and backticks only begin strings and names, which are listed in words.
        expected.retain(|e| !matches!(e.as_str(), "`'`" | "`\"`" | "```"));
    }
}

/// Words for what the parser met where it failed, and how many bytes it covers.
fn describe_found(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("end of file".to_string(), 0);
    };
    if c.is_ascii_alphanumeric() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '\n' || c == '\r' {
        return ("end of line".to_string(), 0);
    }
    if c.is_control() || c == '\u{FFFD}' {
        return (format!("character U+{:04X}", c as u32), c.len_utf8());
    }
    (format!("`{c}`"), c.len_utf8())
}

/// Plain words for the grammar rules that can appear in an "expected" list.
/// Rules without words are covered by the literal tokens pest reports.
fn describe_rule(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::name | Rule::key | Rule::clause_keyword => "a name",
        Rule::func_name | Rule::call => "a function",
        Rule::relation_ref => "a relation name",
        Rule::column_ref => "a column",
        Rule::value => "a value",
        Rule::expr | Rule::arith_expr => "an expression",
        Rule::type_name => "a type",
        Rule::toml_string | Rule::basic_string | Rule::literal_string | Rule::sql_string => {
            "a string"
        }
        Rule::integer | Rule::float | Rule::number => "a number",
        Rule::source_def | Rule::kw_source => "`source`",
        Rule::model_def | Rule::kw_model => "`model`",
        Rule::snapshot_def | Rule::kw_snapshot => "`snapshot`",
        Rule::reconcile_def | Rule::kw_reconcile => "`reconcile`",
        Rule::reconcile_term | Rule::path => "a `relation.column` total",
        Rule::fn_def | Rule::kw_fn => "`fn`",
        Rule::doc_def | Rule::kw_doc => "`doc`",
        Rule::fn_param => "a parameter `name: type`",
        Rule::join_claim | Rule::kw_one | Rule::kw_many => "`one` or `many`",
        Rule::table_def | Rule::kw_table => "`table`",
        Rule::kw_columns | Rule::columns_block | Rule::column_decls => "`columns`",
        Rule::kw_dimensions | Rule::dimensions_block => "`dimensions`",
        Rule::kw_measures | Rule::measures_block => "`measures`",
        Rule::kw_tests | Rule::tests_block => "`tests`",
        Rule::from_clause | Rule::snapshot_from | Rule::kw_from => "`from`",
        Rule::union_clause | Rule::kw_union => "`union`",
        Rule::union_all | Rule::kw_all => "`all`",
        Rule::series | Rule::series_name => "a series",
        Rule::unit_test_def | Rule::kw_unit_test => "`unit_test`",
        Rule::given_block | Rule::kw_given => "`given`",
        Rule::given_entry => "a relation's rows `relation = [...]`",
        Rule::join_clause | Rule::kw_join | Rule::join_kind => "`join`",
        Rule::where_clause | Rule::kw_where => "`where`",
        Rule::group_clause | Rule::kw_group => "`group by`",
        Rule::having_clause | Rule::kw_having => "`having`",
        Rule::dedupe_clause | Rule::kw_dedupe => "`dedupe`",
        Rule::setting => "a setting",
        Rule::output_column | Rule::column_decl => "a column",
        Rule::star_columns => "`alias.*`",
        Rule::star_except | Rule::kw_except => "`except (…)`",
        Rule::star_rename | Rule::kw_rename | Rule::rename_pair => "`rename (a as b)`",
        Rule::test_call => "a test",
        Rule::kw_on => "`on`",
        Rule::kw_by => "`by`",
        Rule::kw_keep => "`keep`",
        Rule::keep_which | Rule::kw_latest | Rule::kw_earliest => "`latest` or `earliest`",
        Rule::kw_then => "`then`",
        Rule::kw_when | Rule::when_arm => "`when`",
        Rule::kw_end => "`end`",
        Rule::kw_as => "`as`",
        Rule::kw_and | Rule::and_op => "`and`",
        Rule::cmp_op => "a comparison",
        Rule::kw_null => "`null`",
        Rule::EOI => "end of file",
        Rule::doc => return None,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
