//! A hand-written parser of `grammar/shop.pest`, for files that parse.
//!
//! pest is the grammar of record and the reporter of every syntax error;
//! this parser is the fast path (an order of magnitude faster) for the
//! common case, a file without errors. It reads the same language the same
//! way: each function below is one rule of the grammar, with PEG's ordered
//! choice (`|` tries alternatives in order and commits to the first that
//! matches), and it builds the AST that `lower` builds from pest's pairs,
//! spans included. It gives up (`None`) wherever the input departs from
//! the grammar or lowering would report a problem, and `parse_file` then
//! parses the file with pest, which says what is wrong. So a difference
//! between the two can only ever cost speed, never a diagnostic; and
//! `tests/parser.rs` shows they agree on every `.shop` file of the
//! repository, on generated projects and on mutations of all of them.
//!
//! Every function starts at a token (trivia already skipped) and leaves the
//! position after the trivia that follows what it read; `last` is the end
//! of the last token read, where a span ends.

use super::ast::*;
use super::climb::{Bound, Climb, Piece, Postfix};
use super::depth::MAX_DEPTH;
use super::lower::{comparison, docs_text, unescape};
use crate::span::{FileId, Span};

/// The file's AST, or `None` where pest must have the last word.
pub(super) fn parse(file: FileId, text: &str) -> Option<File> {
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: 0,
        last: 0,
        file,
        nesting: 0,
        scanned: false,
        gave_up: false,
    };
    p.skip();
    let mut items = Vec::new();
    loop {
        let start = p.pos;
        let docs = p.docs();
        if p.pos >= p.b.len() {
            return Some(File { items });
        }
        let item = match p.word_here()? {
            "source" => Item::Source(p.source(start, docs)?),
            "model" => Item::Model(p.model(start, docs)?),
            "snapshot" => Item::Snapshot(p.snapshot(start, docs)?),
            "reconcile" => Item::Reconcile(p.reconcile(start, docs)?),
            "fn" => Item::Function(p.function(start, docs)?),
            "doc" if docs.is_some() => Item::Doc(p.doc_block(start, docs)?),
            "unit_test" => Item::UnitTest(p.unit_test(start, docs)?),
            _ => return None,
        };
        if p.gave_up {
            return None;
        }
        items.push(item);
    }
}

struct Parser<'t> {
    text: &'t str,
    b: &'t [u8],
    pos: usize,
    /// The end of the last token read.
    last: usize,
    file: FileId,
    /// How deep in expressions and values the parser is: past
    /// [`MAX_DEPTH`] it gives up (pest's path reports the nesting, P003).
    nesting: usize,
    /// Whether the text was scanned for nesting pest's path reports.
    scanned: bool,
    /// Lowering would report a problem here (an expression deeper than
    /// [`MAX_DEPTH`], an invalid literal): pest's path must parse the file.
    gave_up: bool,
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// More than the levels of brackets around an expression or value that are
/// not levels of expressions or values.
const NESTING_SLACK: usize = 16;
/// The nesting at which the text is scanned for brackets nested deeper than
/// [`MAX_DEPTH`]: far below it, and deeper than real expressions go.
const SCAN_AT: usize = 64;

/// The words that end a `from`/`join` relation instead of naming its alias.
const CLAUSE_KEYWORDS: [&str; 11] = [
    "as", "dedupe", "full", "group", "having", "inner", "join", "left", "on", "union", "where",
];
/// The words of `case … end`, never names in an expression.
const RESERVED: [&str; 5] = ["case", "when", "then", "else", "end"];
const KEYWORD_FORMS: [&str; 9] = [
    "case",
    "cast",
    "try_cast",
    "sql",
    "date",
    "timestamp",
    "true",
    "false",
    "null",
];

impl Bound for Parser<'_> {
    fn bounded(&mut self, expr: Expr, depth: usize, _at: Span) -> (Expr, usize) {
        if depth <= MAX_DEPTH {
            return (expr, depth);
        }
        self.gave_up = true;
        let span = expr.span;
        drop(expr);
        let kind = ExprKind::Literal(Literal::Null);
        (Expr { kind, span }, 1)
    }
}

impl<'t> Parser<'t> {
    // ------------------------------------------------------------ tokens

    /// `value`, or, where it is `None`, give up on the file.
    fn give_up_unless<T>(&mut self, value: Option<T>) -> Option<T> {
        self.gave_up |= value.is_none();
        value
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.b.get(self.pos + offset).copied()
    }

    fn span(&self, start: usize) -> Span {
        Span::new(self.file, start, self.last.max(start))
    }

    /// Ends a token at the position: skips the trivia after it.
    fn token_end(&mut self) {
        self.last = self.pos;
        self.skip();
    }

    /// Skips white space and `#` comments (not `##` doc comments).
    fn skip(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                0xEF if self.b[self.pos..].starts_with("\u{FEFF}".as_bytes()) => self.pos += 3,
                b'#' if !self.at_doc() => {
                    while let Some(b) = self.peek() {
                        if b == b'\n' || b == b'\r' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// At `##` not followed by another `#`.
    fn at_doc(&self) -> bool {
        self.peek() == Some(b'#') && self.peek_at(1) == Some(b'#') && self.peek_at(2) != Some(b'#')
    }

    /// `doc*`: the `##` lines here, as lowering joins them.
    fn docs(&mut self) -> Doc {
        let mut lines: Vec<&str> = Vec::new();
        while self.at_doc() {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'\n' || b == b'\r' {
                    break;
                }
                self.pos += 1;
            }
            lines.push(&self.text[start..self.pos]);
            self.token_end();
        }
        docs_text(lines)
    }

    /// The bare word at the position, not consumed.
    fn word_here(&self) -> Option<&'t str> {
        let b = self.peek()?;
        if !(b.is_ascii_alphabetic() || b == b'_') {
            return None;
        }
        let end = self.b[self.pos..]
            .iter()
            .position(|&b| !is_ident_char(b))
            .map_or(self.b.len(), |n| self.pos + n);
        Some(&self.text[self.pos..end])
    }

    /// At the keyword `kw` (a word that is exactly `kw`)?
    fn at_kw(&self, kw: &str) -> bool {
        self.b[self.pos..].starts_with(kw.as_bytes())
            && !self
                .b
                .get(self.pos + kw.len())
                .is_some_and(|&b| is_ident_char(b))
    }

    fn kw(&mut self, kw: &str) -> Option<()> {
        if !self.at_kw(kw) {
            return None;
        }
        self.pos += kw.len();
        self.token_end();
        Some(())
    }

    /// The literal `s`.
    fn lit(&mut self, s: &str) -> Option<()> {
        if !self.b[self.pos..].starts_with(s.as_bytes()) {
            return None;
        }
        self.pos += s.len();
        self.token_end();
        Some(())
    }

    fn at(&self, s: &str) -> bool {
        self.b[self.pos..].starts_with(s.as_bytes())
    }

    /// Runs `f`; where it fails, puts the position back.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let (pos, last) = (self.pos, self.last);
        let result = f(self);
        if result.is_none() {
            self.pos = pos;
            self.last = last;
        }
        result
    }

    /// `key`: a bare word.
    fn key(&mut self) -> Option<Ident> {
        let word = self.word_here()?;
        let start = self.pos;
        self.pos += word.len();
        self.token_end();
        Some(Ident {
            name: word.to_string(),
            span: self.span(start),
        })
    }

    /// `name` without the trivia after it: a bare word or any text in
    /// backticks.
    fn name_raw(&mut self) -> Option<Ident> {
        let start = self.pos;
        let name = if self.peek() == Some(b'`') {
            let len = self.b[start + 1..]
                .iter()
                .position(|&b| b == b'`' || b == b'\n' || b == b'\r')?;
            if len == 0 || self.b[start + 1 + len] != b'`' {
                return None;
            }
            self.pos = start + len + 2;
            &self.text[start + 1..start + 1 + len]
        } else {
            let word = self.word_here()?;
            self.pos += word.len();
            word
        };
        self.last = self.pos;
        Some(Ident {
            name: name.to_string(),
            span: Span::new(self.file, start, self.pos),
        })
    }

    fn name(&mut self) -> Option<Ident> {
        let name = self.name_raw()?;
        self.skip();
        Some(name)
    }

    /// `name ("." name)*` with nothing between (`relation_ref` takes two
    /// parts at most, `path` any number).
    fn dotted(&mut self, max: usize) -> Option<(Vec<Ident>, Span)> {
        let start = self.pos;
        let mut parts = vec![self.name_raw()?];
        while parts.len() < max && self.peek() == Some(b'.') {
            let (pos, last) = (self.pos, self.last);
            self.pos += 1;
            match self.name_raw() {
                Some(part) => parts.push(part),
                None => {
                    (self.pos, self.last) = (pos, last);
                    break;
                }
            }
        }
        let span = Span::new(self.file, start, self.pos);
        self.token_end();
        Some((parts, span))
    }

    fn relation_ref(&mut self) -> Option<RelationRef> {
        let (parts, span) = self.dotted(2)?;
        Some(RelationRef { parts, span })
    }

    fn digits(&self, from: usize) -> usize {
        self.b[from..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(self.b.len(), |n| from + n)
    }

    /// An exponent (`e-3`) at `at`: where it ends.
    fn exponent(&self, at: usize) -> Option<usize> {
        if !matches!(self.b.get(at), Some(b'e' | b'E')) {
            return None;
        }
        let mut i = at + 1;
        if matches!(self.b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = self.digits(i);
        (end > i).then_some(end)
    }

    fn not_ident_at(&self, at: usize) -> bool {
        !self.b.get(at).is_some_and(|&b| is_ident_char(b))
    }

    // ------------------------------------------------------------ settings

    /// `setting`: `doc* key = value` (its docs are read and dropped).
    fn setting(&mut self) -> Option<Setting> {
        self.docs();
        let key = self.key()?;
        self.lit("=")?;
        let value = self.value()?;
        Some(Setting {
            span: key.span.to(value.span),
            key,
            value,
        })
    }

    fn value(&mut self) -> Option<Value> {
        self.nest(Self::value_here)
    }

    fn value_here(&mut self) -> Option<Value> {
        let start = self.pos;
        let kind = match self.peek()? {
            b'"' | b'\'' => ValueKind::String(self.toml_string()?),
            b'[' => {
                self.lit("[")?;
                let mut items = Vec::new();
                if let Some(first) = self.attempt(Self::value) {
                    items.push(first);
                    while let Some(v) = self.attempt(|p| {
                        p.lit(",")?;
                        p.value()
                    }) {
                        items.push(v);
                    }
                    let _ = self.lit(",");
                }
                self.lit("]")?;
                ValueKind::Array(items)
            }
            b'{' => {
                self.lit("{")?;
                let mut entries = Vec::new();
                if let Some(first) = self.attempt(Self::table_entry) {
                    entries.push(first);
                    while let Some(e) = self.attempt(|p| {
                        p.lit(",")?;
                        p.table_entry()
                    }) {
                        entries.push(e);
                    }
                    let _ = self.lit(",");
                }
                self.lit("}")?;
                ValueKind::Table(entries)
            }
            b'+' | b'-' | b'0'..=b'9' => self.number_value()?,
            _ if self.at_kw("true") => {
                self.kw("true")?;
                ValueKind::Bool(true)
            }
            _ if self.at_kw("false") => {
                self.kw("false")?;
                ValueKind::Bool(false)
            }
            _ => ValueKind::Path(self.dotted(usize::MAX)?.0),
        };
        Some(Value {
            kind,
            span: self.span(start),
        })
    }

    fn table_entry(&mut self) -> Option<(Ident, Value)> {
        let key = self.key()?;
        self.lit("=")?;
        Some((key, self.value()?))
    }

    /// `float | integer`, in that order.
    fn number_value(&mut self) -> Option<ValueKind> {
        let start = self.pos;
        let signed = start + usize::from(matches!(self.peek(), Some(b'+' | b'-')));
        let int_end = self.digits(signed);
        if int_end == signed {
            return None;
        }
        // float: digits, then a fraction (and maybe an exponent) or an exponent.
        let fraction = (self.b.get(int_end) == Some(&b'.'))
            .then(|| self.digits(int_end + 1))
            .filter(|&end| end > int_end + 1);
        let float_end = match fraction {
            Some(end) => Some(self.exponent(end).unwrap_or(end)),
            None => self.exponent(int_end),
        };
        if let Some(end) = float_end.filter(|&end| self.not_ident_at(end)) {
            let text = &self.text[start..end];
            self.pos = end;
            self.token_end();
            return Some(ValueKind::Float(text.parse().unwrap_or(0.0)));
        }
        // integer: digits with single `_` between them, not followed by
        // `.digit` or a name character.
        let mut i = signed + 1;
        loop {
            match self.b.get(i) {
                Some(b) if b.is_ascii_digit() => i += 1,
                Some(b'_') if self.b.get(i + 1).is_some_and(u8::is_ascii_digit) => i += 2,
                _ => break,
            }
        }
        let dot_digit =
            self.b.get(i) == Some(&b'.') && self.b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if dot_digit || !self.not_ident_at(i) {
            return None;
        }
        let digits: String = self.text[start..i].chars().filter(|c| *c != '_').collect();
        // Too large for 64 bits: lowering reports it.
        let n = self.give_up_unless(digits.parse::<i64>().ok())?;
        self.pos = i;
        self.token_end();
        Some(ValueKind::Integer(n))
    }

    /// `toml_string`: `"…"` with escapes, or `'…'` as written.
    fn toml_string(&mut self) -> Option<String> {
        let start = self.pos;
        let quote = self.peek()?;
        let mut i = start + 1;
        loop {
            match *self.b.get(i)? {
                b if b == quote => break,
                b'\n' | b'\r' => return None,
                b'\\' if quote == b'"' => {
                    let next = self.text.get(i + 1..)?.chars().next()?;
                    i += 1 + next.len_utf8();
                }
                _ => i += 1,
            }
        }
        let body = &self.text[start + 1..i];
        self.pos = i + 1;
        self.token_end();
        if quote == b'\'' {
            return Some(body.to_string());
        }
        // An invalid escape: lowering reports it.
        let (text, valid) = unescape(body);
        self.give_up_unless(valid.then_some(text))
    }

    // ------------------------------------------------------------ sources

    fn item_header(&mut self, kw: &str) -> Option<Ident> {
        self.kw(kw)?;
        self.name()
    }

    fn source(&mut self, start: usize, doc: Doc) -> Option<SourceDef> {
        let name = self.item_header("source")?;
        self.lit("{")?;
        let mut settings = Vec::new();
        let mut tables = Vec::new();
        loop {
            if let Some(table) = self.attempt(|p| {
                let start = p.pos;
                let doc = p.docs();
                p.table(start, doc)
            }) {
                tables.push(table);
            } else if let Some(setting) = self.attempt(Self::setting) {
                settings.push(setting);
            } else {
                break;
            }
        }
        self.close()?;
        Some(SourceDef {
            doc,
            name,
            settings,
            tables,
            span: self.span(start),
        })
    }

    /// `doc* ~ "}"`: the end of a block.
    fn close(&mut self) -> Option<()> {
        self.docs();
        self.lit("}")
    }

    fn table(&mut self, start: usize, doc: Doc) -> Option<TableDef> {
        let name = self.item_header("table")?;
        self.lit("{")?;
        let mut settings = Vec::new();
        let mut columns = Vec::new();
        loop {
            if self.attempt(|p| p.column_decls(&mut columns)).is_some() {
                continue;
            }
            match self.attempt(Self::setting) {
                Some(setting) => settings.push(setting),
                None => break,
            }
        }
        self.close()?;
        Some(TableDef {
            doc,
            name,
            settings,
            columns,
            span: self.span(start),
        })
    }

    fn column_decls(&mut self, columns: &mut Vec<ColumnDecl>) -> Option<()> {
        self.kw("columns")?;
        self.lit("{")?;
        let before = columns.len();
        while let Some(decl) = self.attempt(|p| {
            let start = p.pos;
            let doc = p.docs();
            let name = p.name()?;
            p.lit(":")?;
            let ty = p.type_name()?;
            Some(ColumnDecl {
                doc,
                name,
                ty,
                span: p.span(start),
            })
        }) {
            columns.push(decl);
            let _ = self.lit(",");
        }
        if self.close().is_none() {
            columns.truncate(before);
            return None;
        }
        Some(())
    }

    fn type_name(&mut self) -> Option<TypeName> {
        let start = self.pos;
        let name = self.key()?;
        let params = self
            .attempt(|p| {
                p.lit("(")?;
                let mut params = vec![p.type_param()?];
                if p.lit(",").is_some() {
                    params.push(p.type_param()?);
                }
                p.lit(")")?;
                Some(params)
            })
            .unwrap_or_default();
        Some(TypeName {
            name,
            params,
            span: self.span(start),
        })
    }

    fn type_param(&mut self) -> Option<u32> {
        let end = self.digits(self.pos);
        if end == self.pos {
            return None;
        }
        // Lowering reports a parameter over 1000.
        let n = self.text[self.pos..end]
            .parse::<u32>()
            .ok()
            .filter(|&n| n <= 1000);
        let n = self.give_up_unless(n)?;
        self.pos = end;
        self.token_end();
        Some(n)
    }

    // ------------------------------------------------------------ models

    fn model(&mut self, start: usize, doc: Doc) -> Option<ModelDef> {
        let name = self.item_header("model")?;
        self.lit("{")?;
        let mut model = ModelDef {
            doc,
            name,
            settings: Vec::new(),
            clauses: Vec::new(),
            blocks: Vec::new(),
            span: Span::new(self.file, start, start),
        };
        // `model_item*`: the clause or block its keyword starts, or else a
        // setting (`from = …` is one).
        loop {
            let word = self.word_here();
            let clause_start = self.pos;
            let read = match word {
                Some("union") => self.attempt(|p| p.union(clause_start)).map(|c| {
                    model.clauses.push(c);
                }),
                Some("from") => self.attempt(|p| p.from(clause_start)).map(|c| {
                    model.clauses.push(c);
                }),
                Some("join" | "left" | "inner" | "full") => {
                    self.attempt(|p| p.join(clause_start)).map(|c| {
                        model.clauses.push(c);
                    })
                }
                Some("where") => self
                    .attempt(|p| {
                        p.kw("where")?;
                        let condition = p.expr()?;
                        let span = p.span(clause_start);
                        Some(Clause::Where { condition, span })
                    })
                    .map(|c| model.clauses.push(c)),
                Some("group") => self
                    .attempt(|p| {
                        p.kw("group")?;
                        p.kw("by")?;
                        let keys = p.exprs()?;
                        let span = p.span(clause_start);
                        Some(Clause::GroupBy { keys, span })
                    })
                    .map(|c| model.clauses.push(c)),
                Some("having") => self
                    .attempt(|p| {
                        p.kw("having")?;
                        let condition = p.expr()?;
                        let span = p.span(clause_start);
                        Some(Clause::Having { condition, span })
                    })
                    .map(|c| model.clauses.push(c)),
                Some("dedupe") => self
                    .attempt(|p| p.dedupe(clause_start))
                    .map(|c| model.clauses.push(c)),
                Some(kw @ ("columns" | "dimensions" | "measures")) => {
                    let kind = match kw {
                        "columns" => BlockKind::Columns,
                        "dimensions" => BlockKind::Dimensions,
                        _ => BlockKind::Measures,
                    };
                    self.attempt(|p| p.output_block(kind, clause_start))
                        .map(|b| model.blocks.push(b))
                }
                Some("tests") => self
                    .attempt(|p| p.tests_block(clause_start))
                    .map(|b| model.blocks.push(b)),
                _ => None,
            };
            if read.is_some() {
                continue;
            }
            match self.attempt(Self::setting) {
                Some(setting) => model.settings.push(setting),
                None => break,
            }
        }
        self.close()?;
        model.span = self.span(start);
        Some(model)
    }

    /// `expr ("," expr)*`
    fn exprs(&mut self) -> Option<Vec<Expr>> {
        let mut exprs = vec![self.expr()?];
        while let Some(e) = self.attempt(|p| {
            p.lit(",")?;
            p.expr()
        }) {
            exprs.push(e);
        }
        Some(exprs)
    }

    fn union(&mut self, start: usize) -> Option<Clause> {
        self.kw("union")?;
        let distinct = self.kw("all").is_none();
        self.lit("(")?;
        let mut relations = vec![self.relation_ref()?];
        while let Some(r) = self.attempt(|p| {
            p.lit(",")?;
            p.relation_ref()
        }) {
            relations.push(r);
        }
        let _ = self.lit(",");
        self.lit(")")?;
        Some(Clause::Union {
            distinct,
            relations,
            span: self.span(start),
        })
    }

    /// `(series | relation_ref) alias?`
    fn relation_and_alias(&mut self) -> Option<(RelationRef, Option<Series>, Option<Ident>)> {
        let series = self.attempt(Self::series);
        let relation = match &series {
            Some(s) => s.name(),
            None => self.relation_ref()?,
        };
        let alias = self.attempt(Self::alias);
        Some((relation, series, alias))
    }

    fn from(&mut self, start: usize) -> Option<Clause> {
        self.kw("from")?;
        let (relation, series, alias) = self.relation_and_alias()?;
        Some(Clause::From {
            relation,
            series,
            alias,
            span: self.span(start),
        })
    }

    fn series(&mut self) -> Option<Series> {
        let start = self.pos;
        let kind = if self.at_kw("range") {
            self.kw("range")?;
            SeriesKind::Range
        } else {
            self.kw("date_spine")?;
            SeriesKind::DateSpine
        };
        self.lit("(")?;
        let args = self.attempt(Self::exprs).unwrap_or_default();
        self.lit(")")?;
        Some(Series {
            kind,
            args,
            span: self.span(start),
        })
    }

    /// `(kw_as name) | (!clause_keyword name !("=" | "{"))`
    fn alias(&mut self) -> Option<Ident> {
        if let Some(name) = self.attempt(|p| {
            p.kw("as")?;
            p.name()
        }) {
            return Some(name);
        }
        if self
            .word_here()
            .is_some_and(|w| CLAUSE_KEYWORDS.contains(&w))
        {
            return None;
        }
        let name = self.name()?;
        if matches!(self.peek(), Some(b'=' | b'{')) {
            return None;
        }
        Some(name)
    }

    fn join(&mut self, start: usize) -> Option<Clause> {
        let kind = if self.kw("left").is_some() {
            JoinKind::Left
        } else if self.kw("inner").is_some() {
            JoinKind::Inner
        } else if self.kw("full").is_some() {
            JoinKind::Full
        } else {
            JoinKind::Inner
        };
        self.kw("join")?;
        let claim = self.attempt(|p| {
            let start = p.pos;
            let claim = if p.kw("one").is_some() {
                JoinClaim::One
            } else {
                p.kw("many")?;
                JoinClaim::Many
            };
            let span = p.span(start);
            // `&name`: only a claim when a relation name follows.
            let save = (p.pos, p.last);
            p.name_raw()?;
            (p.pos, p.last) = save;
            Some((claim, span))
        });
        let (relation, series, alias) = self.relation_and_alias()?;
        self.kw("on")?;
        let on = self.expr()?;
        Some(Clause::Join {
            kind,
            claim,
            relation,
            series,
            alias,
            on,
            span: self.span(start),
        })
    }

    fn dedupe(&mut self, start: usize) -> Option<Clause> {
        self.kw("dedupe")?;
        self.kw("on")?;
        let keys = self.exprs()?;
        self.kw("keep")?;
        let keep = if self.kw("latest").is_some() {
            Keep::Latest
        } else {
            self.kw("earliest")?;
            Keep::Earliest
        };
        self.kw("by")?;
        let order_by = self.expr()?;
        Some(Clause::Dedupe {
            keys,
            keep,
            order_by,
            span: self.span(start),
        })
    }

    fn output_block(&mut self, kind: BlockKind, start: usize) -> Option<Block> {
        self.kw(kind.keyword())?;
        self.lit("{")?;
        let mut columns = Vec::new();
        loop {
            let output = match self.attempt(Self::star_columns) {
                Some(star) => Output::Star(star),
                None => match self.attempt(Self::output_column) {
                    Some(column) => Output::Column(column),
                    None => break,
                },
            };
            columns.push(output);
            let _ = self.lit(",");
        }
        self.close()?;
        Some(Block::Output {
            kind,
            columns,
            span: self.span(start),
        })
    }

    fn star_columns(&mut self) -> Option<StarColumns> {
        let start = self.pos;
        self.docs();
        let alias = self.name()?;
        self.lit(".")?;
        self.lit("*")?;
        let except = self
            .attempt(|p| {
                p.kw("except")?;
                p.parenthesised(Self::name)
            })
            .unwrap_or_default();
        let rename = self
            .attempt(|p| {
                p.kw("rename")?;
                p.parenthesised(|p| {
                    let from = p.name()?;
                    p.kw("as")?;
                    Some((from, p.name()?))
                })
            })
            .unwrap_or_default();
        Some(StarColumns {
            alias,
            except,
            rename,
            span: self.span(start),
        })
    }

    /// `"(" item ("," item)* ","? ")"`
    fn parenthesised<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.lit("(")?;
        let mut items = vec![item(self)?];
        while let Some(i) = self.attempt(|p| {
            p.lit(",")?;
            item(p)
        }) {
            items.push(i);
        }
        let _ = self.lit(",");
        self.lit(")")?;
        Some(items)
    }

    fn output_column(&mut self) -> Option<OutputColumn> {
        let start = self.pos;
        let doc = self.docs();
        let name = self.name()?;
        self.lit("=")?;
        let expr = self.expr()?;
        Some(OutputColumn {
            doc,
            name,
            expr,
            span: self.span(start),
        })
    }

    fn tests_block(&mut self, start: usize) -> Option<Block> {
        self.kw("tests")?;
        self.lit("{")?;
        let mut tests = Vec::new();
        while let Some(test) = self.attempt(Self::test_call) {
            tests.push(test);
            let _ = self.lit(",");
        }
        self.lit("}")?;
        Some(Block::Tests {
            tests,
            span: self.span(start),
        })
    }

    fn test_call(&mut self) -> Option<TestCall> {
        let start = self.pos;
        let name = self.key()?;
        self.lit("(")?;
        let mut args = Vec::new();
        let mut named = Vec::new();
        let mut arg = |p: &mut Self| {
            match p.attempt(Self::table_entry) {
                Some(entry) => named.push(entry),
                None => args.push(p.value()?),
            }
            Some(())
        };
        if self.attempt(&mut arg).is_some() {
            while self
                .attempt(|p| {
                    p.lit(",")?;
                    arg(p)
                })
                .is_some()
            {}
            let _ = self.lit(",");
        }
        self.lit(")")?;
        Some(TestCall {
            name,
            args,
            named,
            span: self.span(start),
        })
    }

    // ------------------------------------------------------------ other items

    fn snapshot(&mut self, start: usize, doc: Doc) -> Option<SnapshotDef> {
        let name = self.item_header("snapshot")?;
        self.lit("{")?;
        let mut from = None;
        let mut settings = Vec::new();
        loop {
            if let Some(relation) = self.attempt(|p| {
                p.kw("from")?;
                let relation = p.relation_ref()?;
                p.attempt(Self::alias);
                Some(relation)
            }) {
                from = Some(relation);
            } else if let Some(setting) = self.attempt(Self::setting) {
                settings.push(setting);
            } else {
                break;
            }
        }
        self.close()?;
        Some(SnapshotDef {
            doc,
            name,
            from,
            settings,
            span: self.span(start),
        })
    }

    fn reconcile(&mut self, start: usize, doc: Doc) -> Option<ReconcileDef> {
        let name = self.item_header("reconcile")?;
        self.lit("{")?;
        let mut terms = Vec::new();
        while let Some(term) = self.attempt(|p| {
            let start = p.pos;
            let path = p.dotted(usize::MAX)?.0;
            let filter = p.attempt(|p| {
                p.kw("where")?;
                p.expr()
            });
            Some(ReconcileTerm {
                path,
                filter,
                span: p.span(start),
            })
        }) {
            terms.push(term);
            let _ = self.lit(",");
        }
        self.close()?;
        Some(ReconcileDef {
            doc,
            name,
            terms,
            span: self.span(start),
        })
    }

    fn unit_test(&mut self, start: usize, doc: Doc) -> Option<UnitTestDef> {
        let name = self.item_header("unit_test")?;
        self.lit("{")?;
        let mut test = UnitTestDef {
            doc,
            name,
            settings: Vec::new(),
            given: Vec::new(),
            span: Span::new(self.file, start, start),
        };
        loop {
            if let Some(given) = self.attempt(|p| {
                p.kw("given")?;
                p.lit("{")?;
                let mut given = Vec::new();
                while let Some(entry) = p.attempt(|p| {
                    let relation = p.relation_ref()?;
                    p.lit("=")?;
                    Some((relation, p.value()?))
                }) {
                    given.push(entry);
                    let _ = p.lit(",");
                }
                p.lit("}")?;
                Some(given)
            }) {
                test.given.extend(given);
            } else if let Some(setting) = self.attempt(Self::setting) {
                test.settings.push(setting);
            } else {
                break;
            }
        }
        self.close()?;
        test.span = self.span(start);
        Some(test)
    }

    fn doc_block(&mut self, start: usize, doc: Doc) -> Option<DocDef> {
        let name = self.item_header("doc")?;
        Some(DocDef {
            text: doc.unwrap_or_default(),
            name,
            span: self.span(start),
        })
    }

    fn function(&mut self, start: usize, doc: Doc) -> Option<FnDef> {
        let name = self.item_header("fn")?;
        self.lit("(")?;
        let param = |p: &mut Self| {
            let name = p.name()?;
            p.lit(":")?;
            Some(FnParam {
                name,
                ty: p.type_name()?,
            })
        };
        let mut params = Vec::new();
        if let Some(first) = self.attempt(param) {
            params.push(first);
            while let Some(next) = self.attempt(|p| {
                p.lit(",")?;
                param(p)
            }) {
                params.push(next);
            }
            let _ = self.lit(",");
        }
        self.lit(")")?;
        self.lit("->")?;
        let ret = self.type_name()?;
        self.lit("=")?;
        let body = self.expr()?;
        Some(FnDef {
            doc,
            name,
            params,
            ret,
            body,
            span: self.span(start),
        })
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self) -> Option<Expr> {
        Some(self.expr_d()?.0)
    }

    /// `operand (&infix_start infix operand)*`, and its depth.
    fn expr_d(&mut self) -> Option<(Expr, usize)> {
        self.nest(Self::expr_here)
    }

    /// Runs `f` one level deeper.
    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        // Brackets nest at most a few levels deeper than expressions and
        // values (a model's `{`, a block's `{`, a type's `(`), so only a
        // file that nests this deep can hold nesting that pest's path
        // reports (P003): the text is scanned for it then, once, before
        // the parser recurses any deeper.
        if self.nesting == SCAN_AT && !std::mem::replace(&mut self.scanned, true) {
            self.gave_up |= super::depth::too_deep(self.text).is_some();
        }
        if self.gave_up || self.nesting >= MAX_DEPTH + NESTING_SLACK {
            self.gave_up = true;
            return None;
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    fn expr_here(&mut self) -> Option<(Expr, usize)> {
        let mut pieces = Vec::new();
        self.operand(&mut pieces)?;
        // Most expressions are one operand (`s.id`, `count(*)`): no climb.
        if pieces.len() == 1 && !self.at_infix() {
            if let Some(Piece::Operand(expr, depth)) = pieces.pop() {
                return Some((expr, depth));
            }
            unreachable!("an operand's pieces end with the operand");
        }
        let mut climb = Climb::default();
        loop {
            for piece in pieces.drain(..) {
                climb.push(piece, self);
            }
            let (pos, last) = (self.pos, self.last);
            let Some(op) = self.infix(false) else { break };
            pieces.push(op);
            if self.operand(&mut pieces).is_none() {
                (self.pos, self.last) = (pos, last);
                break;
            }
        }
        Some(climb.finish(self))
    }

    /// `prefix* primary (&postfix_start postfix)*`: its pieces, added to
    /// `pieces` (which the caller drops where the operand fails).
    fn operand(&mut self, pieces: &mut Vec<Piece>) -> Option<()> {
        loop {
            let start = self.pos;
            if self.kw("not").is_some() {
                pieces.push(Piece::Prefix(UnaryOp::Not, self.span(start)));
            } else if self.lit("-").is_some() {
                pieces.push(Piece::Prefix(UnaryOp::Neg, self.span(start)));
            } else {
                break;
            }
        }
        let (expr, depth) = self.primary()?;
        pieces.push(Piece::Operand(expr, depth));
        while let Some(postfix) = self.attempt(Self::postfix) {
            pieces.push(postfix);
        }
        Some(())
    }

    /// Could an infix operator start here (`infix_start`)?
    fn at_infix(&self) -> bool {
        match self.peek() {
            Some(b'<' | b'>' | b'=' | b'+' | b'-' | b'*' | b'/' | b'%') => true,
            Some(b'!') => self.at("!="),
            Some(b'|') => self.at("||"),
            Some(b'o') => self.at_kw("or"),
            Some(b'a') => self.at_kw("and"),
            _ => false,
        }
    }

    /// An infix operator (only `||` and arithmetic when `arith`).
    fn infix(&mut self, arith: bool) -> Option<Piece> {
        let start = self.pos;
        let op = match self.peek()? {
            b'o' if !arith && self.at_kw("or") => {
                self.kw("or")?;
                BinOp::Or
            }
            b'a' if !arith && self.at_kw("and") => {
                self.kw("and")?;
                BinOp::And
            }
            b'<' | b'>' | b'=' | b'!' if !arith => {
                let op = ["<=", ">=", "<>", "!=", "=", "<", ">"]
                    .into_iter()
                    .find(|op| self.at(op))?;
                self.lit(op)?;
                comparison(op)
            }
            b'|' if self.at("||") => {
                self.lit("||")?;
                BinOp::Concat
            }
            b'+' => {
                self.lit("+")?;
                BinOp::Add
            }
            b'-' => {
                self.lit("-")?;
                BinOp::Sub
            }
            b'*' => {
                self.lit("*")?;
                BinOp::Mul
            }
            b'/' => {
                self.lit("/")?;
                BinOp::Div
            }
            b'%' => {
                self.lit("%")?;
                BinOp::Mod
            }
            _ => return None,
        };
        Some(Piece::Infix(op, self.span(start)))
    }

    /// `arith_operand (&infix_start arith_infix arith_operand)* !arith_infix`:
    /// the operands of `like` and `between`.
    fn arith_expr(&mut self) -> Option<(Expr, usize)> {
        let mut climb = Climb::default();
        let mut pieces = Vec::new();
        self.arith_operand(&mut pieces)?;
        loop {
            for piece in pieces.drain(..) {
                climb.push(piece, self);
            }
            let Some(op) = self.infix(true) else { break };
            pieces.push(op);
            // An operator whose operand does not parse fails the whole
            // expression.
            self.arith_operand(&mut pieces)?;
        }
        Some(climb.finish(self))
    }

    /// `neg* primary cast_op*`
    fn arith_operand(&mut self, pieces: &mut Vec<Piece>) -> Option<()> {
        loop {
            let start = self.pos;
            if self.lit("-").is_none() {
                break;
            }
            pieces.push(Piece::Prefix(UnaryOp::Neg, self.span(start)));
        }
        let (expr, depth) = self.primary()?;
        pieces.push(Piece::Operand(expr, depth));
        while let Some(cast) = self.attempt(|p| {
            let start = p.pos;
            p.lit("::")?;
            let ty = p.type_name()?;
            Some(Piece::Postfix(Postfix::Cast(ty), p.span(start), 0))
        }) {
            pieces.push(cast);
        }
        Some(())
    }

    /// `cast_op | is_null_op | in_op | like_op | between_op`
    fn postfix(&mut self) -> Option<Piece> {
        let start = self.pos;
        if self.at("::") {
            self.lit("::")?;
            let ty = self.type_name()?;
            return Some(Piece::Postfix(Postfix::Cast(ty), self.span(start), 0));
        }
        if self.kw("is").is_some() {
            let negated = self.kw("not").is_some();
            self.kw("null")?;
            let op = Postfix::IsNull { negated };
            return Some(Piece::Postfix(op, self.span(start), 0));
        }
        let negated = self.kw("not").is_some();
        let mut depth = 0;
        let op = if self.kw("in").is_some() {
            self.lit("(")?;
            let mut list = Vec::new();
            loop {
                let (e, d) = self.expr_d()?;
                depth = depth.max(d);
                list.push(e);
                if self.lit(",").is_none() {
                    break;
                }
            }
            self.lit(")")?;
            Postfix::InList { list, negated }
        } else if self.at_kw("like") || self.at_kw("ilike") {
            let case_insensitive = self.kw("ilike").is_some();
            if !case_insensitive {
                self.kw("like")?;
            }
            let (pattern, d) = self.arith_expr()?;
            depth = d;
            Postfix::Like {
                pattern,
                negated,
                case_insensitive,
            }
        } else {
            self.kw("between")?;
            let (low, dl) = self.arith_expr()?;
            self.kw("and")?;
            let (high, dh) = self.arith_expr()?;
            depth = dl.max(dh);
            Postfix::Between { low, high, negated }
        };
        Some(Piece::Postfix(op, self.span(start), depth))
    }

    /// `number | sql_string | paren | keyword_form | call | column_ref`,
    /// and its depth.
    fn primary(&mut self) -> Option<(Expr, usize)> {
        let start = self.pos;
        let mut depth = 0;
        let kind = match self.peek()? {
            b'0'..=b'9' => self.number()?,
            b'\'' => ExprKind::Literal(Literal::String(self.sql_string()?)),
            b'(' => {
                self.lit("(")?;
                let inner = self.expr_d()?;
                self.lit(")")?;
                return Some(inner);
            }
            _ => {
                let word = self.word_here();
                let form = if word.is_some_and(|w| KEYWORD_FORMS.contains(&w)) {
                    self.attempt(|p| p.keyword_form(&mut depth))
                } else {
                    None
                };
                match form {
                    Some(kind) => kind,
                    None => match self.attempt(|p| p.call(&mut depth)) {
                        Some(call) => ExprKind::Call(call),
                        None => self.column_ref()?,
                    },
                }
            }
        };
        let span = self.span(start);
        let at = Span::new(self.file, start, start + 1);
        Some(self.bounded(Expr { kind, span }, depth + 1, at))
    }

    fn number(&mut self) -> Option<ExprKind> {
        let start = self.pos;
        let int_end = self.digits(start);
        let mut end = int_end;
        if self.b.get(end) == Some(&b'.') {
            let frac = self.digits(end + 1);
            if frac > end + 1 {
                end = frac;
            }
        }
        end = self.exponent(end).unwrap_or(end);
        if !self.not_ident_at(end) {
            return None;
        }
        let text = &self.text[start..end];
        self.pos = end;
        self.token_end();
        Some(if text.contains(['.', 'e', 'E']) {
            ExprKind::Literal(Literal::Decimal(text.to_string()))
        } else {
            match text.parse::<i64>() {
                Ok(n) => ExprKind::Literal(Literal::Integer(n)),
                Err(_) => ExprKind::Literal(Literal::Decimal(text.to_string())),
            }
        })
    }

    /// `'…'` with `''` for a quote.
    fn sql_string(&mut self) -> Option<String> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match *self.b.get(i)? {
                b'\'' if self.b.get(i + 1) == Some(&b'\'') => i += 2,
                b'\'' => break,
                _ => i += 1,
            }
        }
        let body = &self.text[start + 1..i];
        self.pos = i + 1;
        self.token_end();
        Some(body.replace("''", "'"))
    }

    /// `case_expr | cast_expr | sql_expr | typed_literal | true | false | null`
    fn keyword_form(&mut self, depth: &mut usize) -> Option<ExprKind> {
        let word = self.word_here()?;
        match word {
            "case" => {
                self.kw("case")?;
                let operand = if self.at_kw("when") {
                    None
                } else {
                    self.attempt(|p| p.sub(depth)).map(Box::new)
                };
                let mut arms = Vec::new();
                while let Some(arm) = self.attempt(|p| {
                    p.kw("when")?;
                    let when = p.sub(depth)?;
                    p.kw("then")?;
                    Some((when, p.sub(depth)?))
                }) {
                    arms.push(arm);
                }
                if arms.is_empty() {
                    return None;
                }
                let otherwise = self
                    .attempt(|p| {
                        p.kw("else")?;
                        p.sub(depth)
                    })
                    .map(Box::new);
                self.kw("end")?;
                Some(ExprKind::Case {
                    operand,
                    arms,
                    otherwise,
                })
            }
            "cast" | "try_cast" => {
                self.kw(word)?;
                self.lit("(")?;
                let expr = self.sub(depth)?;
                self.kw("as")?;
                let ty = self.type_name()?;
                self.lit(")")?;
                Some(ExprKind::Cast {
                    expr: Box::new(expr),
                    ty,
                    safe: word == "try_cast",
                })
            }
            "sql" => {
                self.kw("sql")?;
                self.lit("(")?;
                if !matches!(self.peek(), Some(b'"' | b'\'')) {
                    return None;
                }
                let text = self.toml_string()?;
                self.lit(")")?;
                self.lit(":")?;
                let ty = self.type_name()?;
                Some(ExprKind::Sql { text, ty })
            }
            "date" | "timestamp" => {
                self.kw(word)?;
                if self.peek() != Some(b'\'') {
                    return None;
                }
                let text = self.sql_string()?;
                Some(ExprKind::Literal(if word == "date" {
                    Literal::Date(text)
                } else {
                    Literal::Timestamp(text)
                }))
            }
            "true" | "false" => {
                self.kw(word)?;
                Some(ExprKind::Literal(Literal::Bool(word == "true")))
            }
            _ => {
                self.kw("null")?;
                Some(ExprKind::Literal(Literal::Null))
            }
        }
    }

    /// A sub-expression, raising `depth` to its depth.
    fn sub(&mut self, depth: &mut usize) -> Option<Expr> {
        let (expr, d) = self.expr_d()?;
        *depth = (*depth).max(d);
        Some(expr)
    }

    /// `func_name "(" call_args? ")" filter_clause? over_clause?`
    fn call(&mut self, depth: &mut usize) -> Option<Call> {
        let word = self.word_here()?;
        if matches!(word, "cast" | "try_cast") || RESERVED.contains(&word) {
            return None;
        }
        let name = self.key()?;
        self.lit("(")?;
        let mut call = Call {
            name,
            args: Vec::new(),
            star: false,
            distinct: false,
            filter: None,
            over: None,
        };
        if self.peek() == Some(b'*') {
            self.lit("*")?;
            call.star = true;
        } else if let Some((distinct, args)) = self.attempt(|p| {
            let distinct = p.kw("distinct").is_some();
            let mut args = vec![p.sub(depth)?];
            while let Some(arg) = p.attempt(|p| {
                p.lit(",")?;
                p.sub(depth)
            }) {
                args.push(arg);
            }
            Some((distinct, args))
        }) {
            call.distinct = distinct;
            call.args = args;
        }
        self.lit(")")?;
        call.filter = self.attempt(|p| {
            p.kw("filter")?;
            p.lit("(")?;
            p.kw("where")?;
            let filter = p.sub(depth)?;
            p.lit(")")?;
            Some(Box::new(filter))
        });
        call.over = self.attempt(|p| p.window(depth));
        Some(call)
    }

    fn window(&mut self, depth: &mut usize) -> Option<Window> {
        let start = self.pos;
        self.kw("over")?;
        self.lit("(")?;
        let mut window = Window {
            partition_by: Vec::new(),
            order_by: Vec::new(),
            span: Span::new(self.file, start, start),
        };
        if let Some(keys) = self.attempt(|p| {
            p.kw("partition")?;
            p.kw("by")?;
            let mut keys = vec![p.sub(depth)?];
            while let Some(key) = p.attempt(|p| {
                p.lit(",")?;
                p.sub(depth)
            }) {
                keys.push(key);
            }
            Some(keys)
        }) {
            window.partition_by = keys;
        }
        if let Some(keys) = self.attempt(|p| {
            p.kw("order")?;
            p.kw("by")?;
            let mut keys = vec![p.sort_key(depth)?];
            while let Some(key) = p.attempt(|p| {
                p.lit(",")?;
                p.sort_key(depth)
            }) {
                keys.push(key);
            }
            Some(keys)
        }) {
            window.order_by = keys;
        }
        self.lit(")")?;
        window.span = self.span(start);
        Some(window)
    }

    fn sort_key(&mut self, depth: &mut usize) -> Option<SortKey> {
        let expr = self.sub(depth)?;
        let descending = if self.kw("asc").is_some() {
            false
        } else {
            self.kw("desc").is_some()
        };
        let nulls_first = self.attempt(|p| {
            p.kw("nulls")?;
            if p.kw("first").is_some() {
                Some(true)
            } else {
                p.kw("last")?;
                Some(false)
            }
        });
        Some(SortKey {
            expr,
            descending,
            nulls_first,
        })
    }

    /// `!reserved name ("." name)?`
    fn column_ref(&mut self) -> Option<ExprKind> {
        if self.word_here().is_some_and(|w| RESERVED.contains(&w)) {
            return None;
        }
        let (mut parts, _) = self.dotted(2)?;
        let name = parts.pop()?;
        Some(ExprKind::Column {
            qualifier: parts.pop(),
            name,
        })
    }
}
