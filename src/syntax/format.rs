//! `shopc fmt`: one canonical layout for a `.shop` file.
//!
//! The formatter works on pest's pairs, the concrete tree of the file, not
//! on the AST: every token is printed as it was written (names, strings,
//! numbers, `as`, parentheses), in the order it was written, and only the
//! space between tokens is decided here (and the commas the grammar leaves
//! optional: dropped between a block's members, added after the last
//! element of a list broken over lines). That is what makes it safe: the
//! formatted text is the same token stream, so it parses to the same AST
//! (`tests/format.rs` checks it, spans aside, on every file of the
//! repository and on generated layouts of them).
//!
//! Comments are not in the grammar's pairs (they are implicit whitespace),
//! so they are found in the gaps between tokens, where a `#` can only start
//! one. Each is printed before the first token that followed it: none is
//! lost, none changes place with a token. Where one sits decides how:
//! above a member or an element, on its own line; after one, on the same
//! line (`  # …`); inside an expression, on a line of its own there. Doc
//! comments (`##`) are pairs, and are printed the same way, above what they
//! document.
//!
//! The layout: two spaces of indentation; items one blank line apart; a
//! block's members one per line (commas between them dropped), with the
//! author's blank lines kept (at most one); lists (arrays, inline tables,
//! arguments) on one line when they fit in [`WIDTH`] columns, else one
//! element per line with a trailing comma where the grammar allows one;
//! the rows of an array of inline tables (a unit test's) each on one line;
//! long expressions broken before their loosest operators (`or`, then
//! `and`, …), continued two spaces in; a `case` with more than one `when`
//! one arm per line. The layout is decided by Wadler's algorithm
//! ([`pretty`]).

use pest::Parser;
use pest::iterators::Pair;
use pretty::RcDoc;

use super::{Rule, ShopParser};
use crate::problem::Problem;
use crate::span::FileId;

/// The column a line should end by.
pub const WIDTH: usize = 100;
const INDENT: isize = 2;

type D<'a> = RcDoc<'a, ()>;

/// The canonical layout of `text`, or the problems that keep it from being
/// parsed (the file is then left as it is).
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Problem>> {
    let problems = || {
        let parsed = super::parse_with_pest(file, text);
        parsed.problems
    };
    // Nesting past the limit is reported, not formatted: pest would recurse
    // into it.
    if super::depth::too_deep(text).is_some() {
        return Err(problems());
    }
    let Some(root) = ShopParser::parse(Rule::file, text)
        .ok()
        .and_then(|mut pairs| pairs.next())
    else {
        return Err(problems());
    };
    let mut printer = Printer::new(text, &root);
    let doc = printer.file(root);
    let mut out = Lines::default();
    doc.render_raw(WIDTH, &mut out)
        .expect("writing to a String does not fail");
    Ok(out.finish())
}

/// A comment (`#`) or doc comment (`##`), found between tokens.
#[derive(Debug)]
struct Comment {
    start: usize,
    end: usize,
    /// On the line of the token before it (`x = 1  # why`).
    trailing: bool,
}

struct Printer<'a> {
    text: &'a str,
    comments: Vec<Comment>,
    /// The first comment not printed yet.
    next: usize,
}

/// The children of a pair that are printed as tokens or trees: doc
/// comments are printed as comments, and the end of input is nothing.
fn kids<'a>(pair: &Pair<'a, Rule>) -> Vec<Pair<'a, Rule>> {
    pair.clone()
        .into_inner()
        .filter(|p| !matches!(p.as_rule(), Rule::doc | Rule::EOI))
        .collect()
}

fn text<'a>(s: &'a str) -> D<'a> {
    RcDoc::text(s)
}

/// A space, or a line break where the group is broken.
fn line<'a>() -> D<'a> {
    RcDoc::line()
}

/// Nothing, or a line break where the group is broken.
fn line_<'a>() -> D<'a> {
    RcDoc::line_()
}

fn nil<'a>() -> D<'a> {
    RcDoc::nil()
}

/// How loosely an infix operator binds (lower is looser), as
/// `syntax::climb` applies them: an expression breaks first before its
/// loosest operators.
fn precedence(rule: Rule) -> Option<u8> {
    Some(match rule {
        Rule::or_op => 1,
        Rule::and_op => 2,
        Rule::cmp_op => 4,
        Rule::concat_op => 5,
        Rule::add_op | Rule::sub_op => 6,
        Rule::mul_op | Rule::div_op | Rule::mod_op => 7,
        _ => return None,
    })
}

/// What a comma list allows: a trailing comma when broken, and spaces
/// inside its brackets on one line (`{ a = 1 }`, against `[1, 2]`).
/// `flat`: on one line whatever its width (a unit test's row).
#[derive(Clone, Copy)]
struct ListStyle {
    trailing_comma: bool,
    spaced: bool,
    flat: bool,
}

const TIGHT: ListStyle = ListStyle {
    trailing_comma: false,
    spaced: false,
    flat: false,
};
const TIGHT_TRAILING: ListStyle = ListStyle {
    trailing_comma: true,
    ..TIGHT
};

impl<'a> Printer<'a> {
    fn new(text: &'a str, root: &Pair<'a, Rule>) -> Printer<'a> {
        let mut comments = Vec::new();
        // The gaps between leaf pairs hold whitespace, punctuation and
        // comments only, so every `#` in one starts a comment; doc
        // comments are leaves of their own.
        let mut gap_start = 0;
        for pair in root.clone().into_inner().flatten() {
            if pair.clone().into_inner().next().is_some() {
                continue;
            }
            let span = pair.as_span();
            scan_gap(text, gap_start, span.start(), &mut comments);
            if pair.as_rule() == Rule::doc {
                comments.push(Comment {
                    start: span.start(),
                    end: span.end(),
                    trailing: false,
                });
            }
            gap_start = gap_start.max(span.end());
        }
        scan_gap(text, gap_start, text.len(), &mut comments);
        Printer {
            text,
            comments,
            next: 0,
        }
    }

    // ------------------------------------------------------------ comments

    /// The next comment not printed, when it starts before `pos`.
    fn comment_before(&self, pos: usize) -> Option<&Comment> {
        self.comments.get(self.next).filter(|c| c.start < pos)
    }

    fn comment_text(&self, c: &Comment) -> &'a str {
        self.text[c.start..c.end].trim_end()
    }

    /// The comments before `pos` inside a member or an expression: each on
    /// a line of its own where it is (the line it ends is broken after it).
    fn inline_comments(&mut self, pos: usize) -> D<'a> {
        let mut doc = nil();
        while let Some(c) = self.comment_before(pos) {
            let t = self.comment_text(c);
            doc = doc.append(text(t)).append(RcDoc::hardline());
            self.next += 1;
        }
        doc
    }

    /// The comment on the line of what was printed last, after it: two
    /// spaces after it, not counted against the width. True when there was
    /// one (the line must then end; a second one, trailing another token
    /// in the source, goes on a line of its own).
    fn trailing_comments(&mut self, pos: usize) -> (D<'a>, bool) {
        match self.comment_before(pos).filter(|c| c.trailing) {
            Some(c) => {
                let t = self.comment_text(c);
                self.next += 1;
                (text("  ").append(uncounted(t)), true)
            }
            None => (nil(), false),
        }
    }

    /// Whether the author left a blank line right before `pos`.
    fn blank_before(&self, pos: usize) -> bool {
        let before = &self.text[..pos];
        let run = before.len() - before.trim_end_matches([' ', '\t', '\r', '\n']).len();
        before[pos - run..].matches('\n').count() >= 2
    }

    /// A token as written, after the comments before it.
    fn token(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        let comments = self.inline_comments(pair.as_span().start());
        comments.append(text(pair.as_str()))
    }

    /// The first position at or after `pos` that is not whitespace, a
    /// comment or a comma: where a list's closing bracket is.
    fn close_after(&self, mut pos: usize) -> usize {
        let bytes = self.text.as_bytes();
        while pos < bytes.len() {
            match bytes[pos] {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => pos += 1,
                b'#' => {
                    while pos < bytes.len() && bytes[pos] != b'\n' {
                        pos += 1;
                    }
                }
                _ => break,
            }
        }
        pos
    }

    // ------------------------------------------------------------ layout

    /// Members one per line: the top-level items of a file (`top`), or the
    /// members of a `{ … }` block ending at `close`. Comments above a member
    /// stay above it; comments after it on its line stay there; the
    /// author's blank lines are kept (at most one). Items are always one
    /// blank line apart.
    ///
    /// A block's lines each start with a line break, for the caller to nest.
    fn members(
        &mut self,
        members: Vec<Pair<'a, Rule>>,
        close: usize,
        top: bool,
        mut member: impl FnMut(&mut Self, Pair<'a, Rule>) -> D<'a>,
    ) -> D<'a> {
        let mut lines = BlockLines {
            doc: nil(),
            first: true,
            after_comment: false,
            top,
        };
        // What follows the block's `{` on its line.
        let first_start = members.first().map_or(close, |p| p.as_span().start());
        let (after_open, any) = self.trailing_comments(first_start);
        lines.push(after_open);
        lines.after_comment |= any;
        for (index, pair) in members.into_iter().enumerate() {
            let start = pair.as_span().start();
            let force_blank = self.comment_lines(&mut lines, start, top && index > 0);
            let line_break = self.break_before(start, lines.first, top, force_blank);
            lines.push(line_break);
            lines.push(member(self, pair));
            lines.first = false;
            lines.after_comment = false;
        }
        // The comments after the last member: on its line, then on lines
        // of their own before the block's `}` (or the end of the file).
        self.comment_lines(&mut lines, close, false);
        lines.doc
    }

    /// The comments before `pos` among a block's lines: one on the line of
    /// what came before it stays there, the others get lines of their own
    /// (the first after a blank line when `force_blank`). Whether the blank
    /// line is still owed (no comment took it).
    fn comment_lines(
        &mut self,
        lines: &mut BlockLines<'a>,
        pos: usize,
        mut force_blank: bool,
    ) -> bool {
        while let Some(c) = self.comment_before(pos) {
            if c.trailing && !lines.first && !lines.after_comment {
                let (trail, _) = self.trailing_comments(pos);
                lines.push(trail);
                lines.after_comment = true;
                continue;
            }
            let (c_start, t) = (c.start, self.comment_text(c));
            let line_break = self.break_before(c_start, lines.first, lines.top, force_blank);
            lines.push(line_break);
            lines.push(text(t));
            self.next += 1;
            lines.first = false;
            lines.after_comment = true;
            force_blank = false;
        }
        force_blank
    }

    /// The line break before a line of a block that starts at `pos`.
    fn break_before(&self, pos: usize, first: bool, top: bool, force_blank: bool) -> D<'a> {
        let blank = !first && (force_blank || self.blank_before(pos));
        match (first, top, blank) {
            (true, true, _) => nil(),
            (_, _, true) => RcDoc::hardline().append(RcDoc::hardline()),
            _ => RcDoc::hardline(),
        }
    }

    /// `head {` members `}`, or `head {}` when there are none (and no
    /// comments inside). `close` is the position of the `}`.
    fn block(
        &mut self,
        head: D<'a>,
        members: Vec<Pair<'a, Rule>>,
        close: usize,
        member: impl FnMut(&mut Self, Pair<'a, Rule>) -> D<'a>,
    ) -> D<'a> {
        if members.is_empty() && self.comment_before(close).is_none() {
            return head.append(text(" {}"));
        }
        let inner = self.members(members, close, false, member);
        head.append(text(" {"))
            .append(inner.nest(INDENT))
            .append(RcDoc::hardline())
            .append(text("}"))
    }

    /// `open` elements `close`, separated by commas: on one line when they
    /// fit, else one element per line. A comment among them breaks the
    /// list; one after an element's comma stays on its line.
    fn list(
        &mut self,
        open: &'a str,
        items: Vec<Pair<'a, Rule>>,
        close: &'a str,
        style: ListStyle,
        mut item: impl FnMut(&mut Self, usize, Pair<'a, Rule>) -> D<'a>,
    ) -> D<'a> {
        let Some(last_end) = items.last().map(|p| p.as_span().end()) else {
            return text(open).append(text(close));
        };
        let close_at = self.close_after(last_end);
        let edge = || match (style.flat, style.spaced) {
            (true, true) => text(" "),
            (true, false) => nil(),
            (false, true) => line(),
            (false, false) => line_(),
        };
        let separator = || if style.flat { text(" ") } else { line() };
        let mut inner = nil();
        let mut broke = false;
        for (index, pair) in items.into_iter().enumerate() {
            let start = pair.as_span().start();
            if index > 0 {
                inner = inner.append(text(","));
                let (trail, any) = self.trailing_comments(start);
                inner = inner.append(trail);
                inner = inner.append(if any { RcDoc::hardline() } else { separator() });
                broke |= any;
            } else {
                inner = inner.append(edge());
            }
            let leading = self.inline_comments(start);
            inner = inner.append(leading);
            inner = inner.append(item(self, index, pair));
        }
        if style.trailing_comma && !style.flat {
            inner = inner.append(text(",").flat_alt(nil()));
        }
        let (trail, any) = self.trailing_comments(close_at);
        inner = inner.append(trail);
        broke |= any;
        while let Some(c) = self.comment_before(close_at) {
            let t = self.comment_text(c);
            inner = inner.append(RcDoc::hardline()).append(text(t));
            self.next += 1;
            broke = true;
        }
        let end = if broke { RcDoc::hardline() } else { edge() };
        text(open)
            .append(inner.nest(INDENT))
            .append(end)
            .append(text(close))
            .group()
    }

    // ------------------------------------------------------------ items

    fn file(&mut self, root: Pair<'a, Rule>) -> D<'a> {
        let items = kids(&root);
        let end = self.text.len();
        let doc = self.members(items, end, true, |p, item| p.item(item));
        doc.append(RcDoc::hardline())
    }

    fn item(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        match pair.as_rule() {
            Rule::source_def
            | Rule::table_def
            | Rule::model_def
            | Rule::snapshot_def
            | Rule::reconcile_def
            | Rule::unit_test_def
            | Rule::columns_block
            | Rule::dimensions_block
            | Rule::measures_block
            | Rule::tests_block
            | Rule::given_block
            | Rule::column_decls => self.braced(pair),
            Rule::doc_def => {
                let kids = kids(&pair);
                let head = self.token(&kids[0]);
                head.append(text(" ")).append(self.token(&kids[1]))
            }
            Rule::fn_def => self.function(pair),
            Rule::setting => self.setting(pair),
            other => self.member(other, pair),
        }
    }

    /// An item or block written `keyword [name] { members }`.
    fn braced(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let close = pair.as_span().end() - 1;
        let mut kids = kids(&pair).into_iter().peekable();
        let mut head = nil();
        let mut words = 0;
        while let Some(word) = kids.next_if(|p| {
            matches!(
                p.as_rule(),
                Rule::kw_source
                    | Rule::kw_table
                    | Rule::kw_model
                    | Rule::kw_snapshot
                    | Rule::kw_reconcile
                    | Rule::kw_unit_test
                    | Rule::kw_columns
                    | Rule::kw_dimensions
                    | Rule::kw_measures
                    | Rule::kw_tests
                    | Rule::kw_given
                    | Rule::name
            )
        }) {
            if words > 0 {
                head = head.append(text(" "));
            }
            head = head.append(self.token(&word));
            words += 1;
        }
        let members: Vec<_> = kids.collect();
        self.block(head, members, close, |p, member| p.item(member))
    }

    /// The members of a block that are not blocks or settings.
    fn member(&mut self, rule: Rule, pair: Pair<'a, Rule>) -> D<'a> {
        match rule {
            Rule::column_decl | Rule::fn_param => {
                let kids = kids(&pair);
                let name = self.token(&kids[0]);
                name.append(text(": ")).append(self.type_name(&kids[1]))
            }
            Rule::output_column => {
                let kids = kids(&pair);
                let name = self.token(&kids[0]);
                name.append(text(" = ")).append(self.expr(&kids[1]))
            }
            Rule::star_columns => self.star_columns(pair),
            Rule::test_call => {
                let kids = kids(&pair);
                let name = self.token(&kids[0]);
                let args = kids[1..].to_vec();
                name.append(self.list("(", args, ")", TIGHT_TRAILING, |p, _, arg| p.test_arg(arg)))
            }
            Rule::reconcile_term => {
                let mut doc = nil();
                for kid in kids(&pair) {
                    doc = match kid.as_rule() {
                        Rule::path => doc.append(self.token(&kid)),
                        Rule::kw_where => doc.append(text(" ")).append(self.token(&kid)),
                        _ => doc.append(text(" ")).append(self.expr(&kid)),
                    };
                }
                doc
            }
            Rule::given_entry => {
                let kids = kids(&pair);
                let rel = self.token(&kids[0]);
                rel.append(text(" = ")).append(self.value(&kids[1], false))
            }
            Rule::snapshot_from | Rule::from_clause | Rule::join_clause => self.from(pair),
            Rule::union_clause => self.union(pair),
            Rule::where_clause | Rule::having_clause | Rule::group_clause | Rule::dedupe_clause => {
                self.clause(pair)
            }
            // Every member rule is above; a new one is printed as written.
            _ => self.verbatim(&pair),
        }
    }

    /// A pair as written, after the comments before it (and with those in
    /// it, which are then part of the text).
    fn verbatim(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        let span = pair.as_span();
        let comments = self.inline_comments(span.start());
        while self.comment_before(span.end()).is_some() {
            self.next += 1;
        }
        comments.append(text(pair.as_str()))
    }

    fn setting(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let kids = kids(&pair);
        let key = self.token(&kids[0]);
        key.append(text(" = ")).append(self.value(&kids[1], false))
    }

    /// A TOML value. `flat`: on one line whatever its width (a row of an
    /// array of inline tables, and what is in it).
    fn value(&mut self, pair: &Pair<'a, Rule>, flat: bool) -> D<'a> {
        let inner = match pair.as_rule() {
            Rule::value => kids(pair).into_iter().next(),
            _ => Some(pair.clone()),
        };
        let Some(inner) = inner else {
            return self.verbatim(pair);
        };
        // A row with a comment in it is broken like any list.
        let flat = flat && self.comment_before(inner.as_span().end()).is_none();
        match inner.as_rule() {
            Rule::array => {
                let items = kids(&inner);
                let rows = items.iter().all(|v| {
                    kids(v)
                        .first()
                        .is_some_and(|k| k.as_rule() == Rule::inline_table)
                });
                let style = ListStyle {
                    flat,
                    ..TIGHT_TRAILING
                };
                self.list("[", items, "]", style, |p, _, v| p.value(&v, flat || rows))
            }
            Rule::inline_table => {
                let entries = kids(&inner);
                let style = ListStyle {
                    trailing_comma: true,
                    spaced: true,
                    flat,
                };
                self.list("{", entries, "}", style, |p, _, entry| {
                    let kids = kids(&entry);
                    let key = p.token(&kids[0]);
                    key.append(text(" = ")).append(p.value(&kids[1], flat))
                })
            }
            Rule::boolean => {
                let word = kids(&inner).into_iter().next();
                match word {
                    Some(word) => self.token(&word),
                    None => self.token(&inner),
                }
            }
            // Strings, numbers and paths, as written.
            _ => self.token(&inner),
        }
    }

    fn test_arg(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let kids = kids(&pair);
        match kids.as_slice() {
            [key, value] => {
                let key = self.token(key);
                key.append(text(" = ")).append(self.value(value, false))
            }
            [value] => self.value(value, false),
            _ => self.verbatim(&pair),
        }
    }

    fn type_name(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        let kids = kids(pair);
        let name = self.token(&kids[0]);
        if kids.len() == 1 {
            return name;
        }
        let params = kids[1..].to_vec();
        name.append(self.list("(", params, ")", TIGHT, |p, _, param| p.token(&param)))
    }

    fn star_columns(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let mut doc = nil();
        for kid in kids(&pair) {
            doc = match kid.as_rule() {
                Rule::name => doc.append(self.token(&kid)).append(text(".*")),
                Rule::star_except | Rule::star_rename => {
                    let mut kids = kids(&kid);
                    let word = self.token(&kids.remove(0));
                    let list = self.list("(", kids, ")", TIGHT_TRAILING, |p, _, item| {
                        if item.as_rule() == Rule::rename_pair {
                            p.words(&item)
                        } else {
                            p.token(&item)
                        }
                    });
                    doc.append(text(" "))
                        .append(word)
                        .append(text(" "))
                        .append(list)
                }
                _ => doc.append(self.verbatim(&kid)),
            };
        }
        doc
    }

    /// Tokens one space apart (`a as b`, `left`, `is not null`).
    fn words(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        let mut doc = nil();
        for (index, kid) in kids(pair).iter().enumerate() {
            if index > 0 {
                doc = doc.append(text(" "));
            }
            doc = if kid.clone().into_inner().next().is_some() && !is_verbatim(kid.as_rule()) {
                doc.append(self.words(kid))
            } else {
                doc.append(self.token(kid))
            };
        }
        doc
    }

    /// `from rel alias`, `left join one rel alias on condition`.
    fn from(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let mut doc = nil();
        for (index, kid) in kids(&pair).iter().enumerate() {
            if index > 0 {
                doc = doc.append(text(" "));
            }
            doc = match kid.as_rule() {
                Rule::series => doc.append(self.series(kid)),
                Rule::join_kind | Rule::join_claim | Rule::alias => doc.append(self.words(kid)),
                Rule::expr => doc.append(self.expr(kid)),
                _ => doc.append(self.token(kid)),
            };
        }
        doc
    }

    fn series(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        let mut kids = kids(pair);
        let name = self.token(&kids.remove(0));
        name.append(self.list("(", kids, ")", TIGHT, |p, _, e| p.expr(&e)))
    }

    fn union(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let mut kids = kids(&pair).into_iter().peekable();
        let mut head = nil();
        while let Some(word) =
            kids.next_if(|p| matches!(p.as_rule(), Rule::kw_union | Rule::union_all))
        {
            head = head.append(self.words_or_token(&word)).append(text(" "));
        }
        let relations: Vec<_> = kids.collect();
        head.append(self.list("(", relations, ")", TIGHT_TRAILING, |p, _, r| p.token(&r)))
    }

    fn words_or_token(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        if pair.clone().into_inner().next().is_some() {
            self.words(pair)
        } else {
            self.token(pair)
        }
    }

    /// `where`, `having`, `group by`, `dedupe on … keep … by …`: keywords
    /// one space apart, expressions lists broken where they do not fit.
    fn clause(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let kids = kids(&pair);
        let mut doc = nil();
        let mut previous_expr = false;
        for (index, kid) in kids.iter().enumerate() {
            let is_expr = kid.as_rule() == Rule::expr;
            if index > 0 {
                doc = doc.append(if is_expr && previous_expr {
                    text(",").append(line())
                } else {
                    text(" ")
                });
            }
            doc = if is_expr {
                doc.append(self.expr(kid))
            } else {
                doc.append(self.words_or_token(kid))
            };
            previous_expr = is_expr;
        }
        doc.group()
    }

    fn function(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let kids = kids(&pair);
        // kw_fn, name, params…, type_name, expr
        let keyword = self.token(&kids[0]);
        let name = self.token(&kids[1]);
        let params: Vec<_> = kids[2..kids.len() - 2].to_vec();
        let params = self.list("(", params, ")", TIGHT_TRAILING, |p, _, param| {
            p.member(Rule::fn_param, param)
        });
        let ret = self.type_name(&kids[kids.len() - 2]);
        let body = self.expr(&kids[kids.len() - 1]);
        keyword
            .append(text(" "))
            .append(name)
            .append(params)
            .append(text(" -> "))
            .append(ret)
            .append(text(" ="))
            .append(line().append(body).nest(INDENT).group())
    }

    // ------------------------------------------------------------ expressions

    /// An expression: its operands and infix operators, broken before the
    /// loosest operators first when it does not fit.
    fn expr(&mut self, pair: &Pair<'a, Rule>) -> D<'a> {
        // The flat run: operands (prefixes, a primary, postfixes) between
        // infix operators.
        let mut run: Vec<Piece<'a>> = Vec::new();
        let mut operand: Vec<Pair<'a, Rule>> = Vec::new();
        for kid in kids(pair) {
            match precedence(kid.as_rule()) {
                Some(level) => {
                    run.push(Piece::Operand(std::mem::take(&mut operand)));
                    run.push(Piece::Infix(kid, level));
                }
                None => operand.push(kid),
            }
        }
        run.push(Piece::Operand(operand));
        self.chain(run)
    }

    fn chain(&mut self, run: Vec<Piece<'a>>) -> D<'a> {
        let loosest = run
            .iter()
            .filter_map(|piece| match piece {
                Piece::Infix(_, level) => Some(*level),
                Piece::Operand(_) => None,
            })
            .min();
        let Some(loosest) = loosest else {
            return match run.into_iter().next() {
                Some(Piece::Operand(pairs)) => self.operand(pairs),
                _ => nil(),
            };
        };
        // Split at the loosest operators; each part is a chain of its own.
        // The lines after the first are continued two spaces in.
        let mut head = nil();
        let mut doc = nil();
        let mut part: Vec<Piece<'a>> = Vec::new();
        let mut pending_op: Option<Pair<'a, Rule>> = None;
        for piece in run {
            match piece {
                Piece::Infix(op, level) if level == loosest => {
                    let inner = self.chain(std::mem::take(&mut part));
                    match pending_op.replace(op) {
                        Some(op) => {
                            let op = self.token(&op);
                            doc = doc
                                .append(line())
                                .append(op)
                                .append(text(" "))
                                .append(inner);
                        }
                        None => head = inner,
                    }
                }
                other => part.push(other),
            }
        }
        let inner = self.chain(part);
        if let Some(op) = pending_op {
            let op = self.token(&op);
            doc = doc
                .append(line())
                .append(op)
                .append(text(" "))
                .append(inner);
        }
        head.append(doc.nest(INDENT)).group()
    }

    /// Prefixes, a primary and postfixes.
    fn operand(&mut self, pairs: Vec<Pair<'a, Rule>>) -> D<'a> {
        let mut doc = nil();
        for pair in pairs {
            doc = match pair.as_rule() {
                Rule::not_op => doc.append(self.token(&pair)).append(text(" ")),
                Rule::neg => doc.append(self.token(&pair)),
                Rule::cast_op => {
                    let ty = kids(&pair).into_iter().next();
                    let comments = self.inline_comments(pair.as_span().start());
                    let doc = doc.append(comments).append(text("::"));
                    match ty {
                        Some(ty) => doc.append(self.type_name(&ty)),
                        None => doc,
                    }
                }
                Rule::is_null_op => doc.append(text(" ")).append(self.words(&pair)),
                Rule::in_op => {
                    let mut kids = kids(&pair).into_iter().peekable();
                    let mut words = nil();
                    while let Some(word) =
                        kids.next_if(|p| matches!(p.as_rule(), Rule::not_kw | Rule::kw_in))
                    {
                        words = words.append(text(" ")).append(self.words_or_token(&word));
                    }
                    let list: Vec<_> = kids.collect();
                    let list = self.list("(", list, ")", TIGHT, |p, _, e| p.expr(&e));
                    doc.append(words).append(text(" ")).append(list)
                }
                Rule::like_op | Rule::between_op => {
                    let mut words = nil();
                    for kid in kids(&pair) {
                        words = words.append(text(" "));
                        words = if kid.as_rule() == Rule::arith_expr {
                            words.append(self.expr(&kid))
                        } else {
                            words.append(self.words_or_token(&kid))
                        };
                    }
                    doc.append(words)
                }
                _ => doc.append(self.primary(pair)),
            };
        }
        doc
    }

    fn primary(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        match pair.as_rule() {
            Rule::paren => {
                let inner = kids(&pair).into_iter().next();
                let comments = self.inline_comments(pair.as_span().start());
                let Some(inner) = inner else {
                    return comments.append(text("()"));
                };
                let inner = self.expr(&inner);
                comments
                    .append(text("("))
                    .append(line_().append(inner).nest(INDENT))
                    .append(line_())
                    .append(text(")"))
                    .group()
            }
            Rule::case_expr => self.case(pair),
            Rule::cast_expr => {
                let kids = kids(&pair);
                // cast | try_cast, expr, as, type
                let word = self.token(&kids[0]);
                let expr = self.expr(&kids[1]);
                let as_ = self.token(&kids[2]);
                let ty = self.type_name(&kids[3]);
                word.append(text("("))
                    .append(line_().append(expr).nest(INDENT))
                    .append(text(" "))
                    .append(as_)
                    .append(text(" "))
                    .append(ty)
                    .append(line_())
                    .append(text(")"))
                    .group()
            }
            Rule::sql_expr => {
                let kids = kids(&pair);
                let word = self.token(&kids[0]);
                let sql = self.token(&kids[1]);
                let ty = self.type_name(&kids[2]);
                word.append(text("("))
                    .append(sql)
                    .append(text("): "))
                    .append(ty)
            }
            Rule::typed_literal => self.words(&pair),
            Rule::call => self.call(pair),
            // Numbers, strings, names, `true`, `false`, `null`.
            _ => self.token(&pair),
        }
    }

    fn call(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let mut doc = nil();
        let mut args_seen = false;
        for kid in kids(&pair) {
            // `count() filter (…)`: the parentheses, written or not, come
            // before a filter or a window.
            if matches!(kid.as_rule(), Rule::filter_clause | Rule::over_clause) && !args_seen {
                doc = doc.append(text("()"));
                args_seen = true;
            }
            doc = match kid.as_rule() {
                Rule::func_name => doc.append(self.token(&kid)),
                Rule::call_args => {
                    args_seen = true;
                    let mut args = kids(&kid);
                    let distinct = args.first().is_some_and(|a| a.as_rule() == Rule::distinct);
                    let distinct = distinct.then(|| args.remove(0));
                    let list = self.list("(", args, ")", TIGHT, |p, index, arg| {
                        let prefix = match (&distinct, index) {
                            (Some(word), 0) => p.words(word).append(text(" ")),
                            _ => nil(),
                        };
                        let arg = if arg.as_rule() == Rule::star {
                            p.token(&arg)
                        } else {
                            p.expr(&arg)
                        };
                        prefix.append(arg)
                    });
                    doc.append(list)
                }
                Rule::filter_clause => {
                    let kids = kids(&kid);
                    // filter, where, expr
                    let filter = self.token(&kids[0]);
                    let where_ = self.token(&kids[1]);
                    let expr = self.expr(&kids[2]);
                    doc.append(text(" "))
                        .append(filter)
                        .append(text(" ("))
                        .append(where_)
                        .append(text(" "))
                        .append(expr.nest(INDENT))
                        .append(text(")"))
                }
                Rule::over_clause => doc.append(text(" ")).append(self.over(kid)),
                _ => doc.append(self.verbatim(&kid)),
            };
        }
        if !args_seen {
            doc = doc.append(text("()"));
        }
        doc
    }

    /// `over (partition by …  order by …)`.
    fn over(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let mut kids = kids(&pair).into_iter();
        let Some(word) = kids.next() else {
            return self.verbatim(&pair);
        };
        let word = self.token(&word);
        let mut parts = Vec::new();
        for kid in kids {
            let mut part = nil();
            let mut exprs = 0;
            for (index, piece) in self::kids(&kid).into_iter().enumerate() {
                let is_item = matches!(piece.as_rule(), Rule::expr | Rule::sort_key);
                if index > 0 {
                    part = part.append(if is_item && exprs > 0 {
                        text(",").append(line())
                    } else {
                        text(" ")
                    });
                }
                part = match piece.as_rule() {
                    Rule::expr => part.append(self.expr(&piece)),
                    Rule::sort_key => part.append(self.sort_key(piece)),
                    _ => part.append(self.token(&piece)),
                };
                exprs += usize::from(is_item);
            }
            parts.push(part.nest(INDENT).group());
        }
        if parts.is_empty() {
            return word.append(text(" ()"));
        }
        let inner = RcDoc::intersperse(parts, line());
        word.append(text(" ("))
            .append(line_().append(inner).nest(INDENT))
            .append(line_())
            .append(text(")"))
            .group()
    }

    fn sort_key(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let mut doc = nil();
        for (index, kid) in kids(&pair).iter().enumerate() {
            if index > 0 {
                doc = doc.append(text(" "));
            }
            doc = if kid.as_rule() == Rule::expr {
                doc.append(self.expr(kid))
            } else {
                doc.append(self.words_or_token(kid))
            };
        }
        doc
    }

    /// `case [operand] when … then … [else …] end`: on one line when it has
    /// one `when` and fits, else one arm per line.
    fn case(&mut self, pair: Pair<'a, Rule>) -> D<'a> {
        let kids = kids(&pair);
        let arms = kids
            .iter()
            .filter(|k| k.as_rule() == Rule::when_arm)
            .count();
        let mut head = nil();
        let mut body = nil();
        let mut end = nil();
        for kid in &kids {
            match kid.as_rule() {
                Rule::kw_case => head = self.token(kid),
                Rule::expr => head = head.append(text(" ")).append(self.expr(kid)),
                Rule::when_arm | Rule::else_arm => {
                    let mut arm = nil();
                    for (index, piece) in self::kids(kid).iter().enumerate() {
                        if index > 0 {
                            arm = arm.append(text(" "));
                        }
                        arm = if piece.as_rule() == Rule::expr {
                            arm.append(self.expr(piece).nest(INDENT))
                        } else {
                            arm.append(self.token(piece))
                        };
                    }
                    body = body.append(line()).append(arm);
                }
                _ => end = self.token(kid),
            }
        }
        let doc = head.append(body.nest(INDENT)).append(line()).append(end);
        if arms > 1 {
            // `line` breaks in a group that does not fit: one that cannot
            // fit on a line is a group with a hard line in it.
            doc.append(RcDoc::nil().flat_alt(RcDoc::hardline())).group()
        } else {
            doc.group()
        }
    }
}

/// The lines of a block as [`Printer::members`] builds them.
struct BlockLines<'a> {
    doc: D<'a>,
    /// Nothing printed yet.
    first: bool,
    /// The last line is a comment: what is trailing in the source (after a
    /// `,` or `)`) starts a line of its own after one.
    after_comment: bool,
    /// The top level of a file (items one blank line apart).
    top: bool,
}

impl<'a> BlockLines<'a> {
    fn push(&mut self, doc: D<'a>) {
        self.doc = std::mem::replace(&mut self.doc, nil()).append(doc);
    }
}

/// One element of an expression's flat run.
enum Piece<'a> {
    Operand(Vec<Pair<'a, Rule>>),
    Infix(Pair<'a, Rule>, u8),
}

/// Rules printed as one token: no space may go inside them.
fn is_verbatim(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::column_ref | Rule::relation_ref | Rule::path | Rule::toml_string
    )
}

/// The comments in `text[from..to]`, a gap between tokens.
fn scan_gap(text: &str, from: usize, to: usize, comments: &mut Vec<Comment>) {
    if from >= to {
        return;
    }
    let gap = &text[from..to];
    let mut offset = 0;
    while let Some(at) = gap[offset..].find('#') {
        let start = offset + at;
        let end = gap[start..].find('\n').map_or(gap.len(), |n| start + n);
        // Trailing: something other than spaces before it on its line.
        let line_start = text[..from + start].trim_end_matches([' ', '\t']);
        comments.push(Comment {
            start: from + start,
            end: from + end,
            trailing: !line_start.is_empty() && !line_start.ends_with('\n'),
        });
        offset = end;
    }
}

/// Text that does not count against the width: a trailing comment, which
/// should not break the line it ends.
fn uncounted(s: &str) -> D<'_> {
    RcDoc::from(pretty::Doc::RenderLen(
        0,
        RcDoc::from(pretty::Doc::BorrowedText(s)),
    ))
}

/// Collects the rendered text; lines lose their trailing spaces (blank
/// lines inside nested blocks would otherwise keep their indentation).
#[derive(Default)]
struct Lines {
    out: String,
}

impl Lines {
    fn finish(mut self) -> String {
        let trimmed = self.out.trim_end_matches([' ', '\n']).len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

impl pretty::Render for Lines {
    type Error = std::fmt::Error;

    fn write_str(&mut self, s: &str) -> Result<usize, Self::Error> {
        if s == "\n" {
            let trimmed = self.out.trim_end_matches(' ').len();
            self.out.truncate(trimmed);
        }
        self.out.push_str(s);
        Ok(s.len())
    }

    fn fail_doc(&self) -> Self::Error {
        std::fmt::Error
    }
}

impl pretty::RenderAnnotated<'_, ()> for Lines {
    fn push_annotation(&mut self, _: &()) -> Result<(), Self::Error> {
        Ok(())
    }

    fn pop_annotation(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The comments and doc comments of a file that parses, in order, as the
/// formatter finds them (for the tests that check it keeps them all).
#[doc(hidden)]
pub fn comments(text: &str) -> Option<Vec<String>> {
    let root = ShopParser::parse(Rule::file, text).ok()?.next()?;
    let printer = Printer::new(text, &root);
    let found = printer.comments.iter();
    Some(found.map(|c| printer.comment_text(c).to_string()).collect())
}

/// A run of whitespace between two tokens, which any other whitespace
/// could replace (for the tests that lay files out at random).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Space {
    pub range: std::ops::Range<usize>,
    /// It ends a comment's line: it must start with a line break.
    pub after_comment: bool,
    /// A comment follows it.
    pub before_comment: bool,
}

/// The runs of whitespace between tokens of a file that parses, outside
/// comments and the tokens no space may split (`o.id`, `raw.orders`).
#[doc(hidden)]
pub fn spaces(text: &str) -> Option<Vec<Space>> {
    let root = ShopParser::parse(Rule::file, text).ok()?.next()?;
    let mut whole = Vec::new();
    let mut gaps = Vec::new();
    let mut gap_start = 0;
    for pair in root.into_inner().flatten() {
        let span = pair.as_span();
        if is_verbatim(pair.as_rule()) {
            whole.push(span.start()..span.end());
        }
        if pair.clone().into_inner().next().is_some() {
            continue;
        }
        let after_doc = pair.as_rule() == Rule::doc;
        if gap_start < span.start() {
            gaps.push((gap_start..span.start(), false));
        }
        gap_start = gap_start.max(span.end());
        if after_doc {
            gaps.push((gap_start..gap_start, true));
        }
    }
    gaps.push((gap_start..text.len(), false));
    let mut spaces: Vec<Space> = Vec::new();
    let mut after_doc = false;
    for (gap, doc_end) in gaps {
        if doc_end {
            after_doc = true;
            continue;
        }
        if whole.iter().any(|w| w.start < gap.start && gap.end < w.end) {
            continue;
        }
        let bytes = text.as_bytes();
        let mut pos = gap.start;
        let mut after_comment = after_doc;
        after_doc = false;
        while pos < gap.end {
            match bytes[pos] {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    let start = pos;
                    while pos < gap.end && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n') {
                        pos += 1;
                    }
                    let before_comment = bytes.get(pos) == Some(&b'#');
                    spaces.push(Space {
                        range: start..pos,
                        after_comment,
                        before_comment,
                    });
                    after_comment = false;
                }
                b'#' => {
                    while pos < gap.end && bytes[pos] != b'\n' {
                        pos += 1;
                    }
                    after_comment = true;
                }
                _ => {
                    pos += 1;
                    after_comment = false;
                }
            }
        }
    }
    Some(spaces)
}
