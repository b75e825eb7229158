//! What an editor asks of a compiled project (`shopc lsp`): which relation
//! or column is at a position, where it is defined and read, what to say
//! about it on hover, and the symbols of a file. Pure: it reads the IR and
//! the checker's analysis, and speaks in [`Span`]s; the server turns them
//! into the protocol's lines and characters.

use crate::check::Analysis;
use crate::check::additivity::Additivity;
use crate::ir::{ColumnId, Expr, ExprKind, Ir, Materialized, RelId, RelationKind, Role, TestKind};
use crate::span::{FileId, Span};

/// A name an editor can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbol {
    Relation(RelId),
    Column(ColumnId),
    /// The alias a model gives the relation it reads (`from orders o`): the
    /// model, and the scan's index in its query.
    Alias(RelId, u32),
    /// A var ([`Ir::vars`]): read in `.shop` files, set in `shop.toml`.
    Var(u32),
}

/// Every place a relation or column is named, definitions included (but a
/// var's, which is in the project file: [`crate::ir::Var::defined`]).
#[derive(Debug, Default)]
pub struct Index {
    /// Sorted by file and start.
    occurrences: Vec<Occurrence>,
}

#[derive(Debug, Clone, Copy)]
pub struct Occurrence {
    pub span: Span,
    pub symbol: Symbol,
    pub definition: bool,
}

impl Index {
    /// `text` gives a file's text (to find an alias inside `orders o` and
    /// `o.id`).
    pub fn new<'t>(ir: &Ir, text: impl Fn(FileId) -> &'t str) -> Index {
        let mut occurrences = Vec::new();
        let mut named = |span: Span, symbol: Symbol, definition: bool| {
            if span.end > span.start {
                occurrences.push(Occurrence {
                    span,
                    symbol,
                    definition,
                });
            }
        };
        for (index, rel) in ir.relations.iter().enumerate() {
            let id = RelId(index as u32);
            if matches!(rel.kind, RelationKind::Series(_)) {
                continue;
            }
            named(rel.name_span, Symbol::Relation(id), true);
            for &column in rel.columns.values() {
                named(ir.column(column).span, Symbol::Column(column), true);
            }
            let RelationKind::Model(model) = &rel.kind else {
                continue;
            };
            let scans = model.query.scans.iter();
            let branches = model.union.iter().flat_map(|u| u.branches.iter());
            for scan in scans.chain(branches) {
                if !matches!(ir.relation(scan.relation).kind, RelationKind::Series(_)) {
                    named(scan.span, Symbol::Relation(scan.relation), false);
                }
            }
            // An alias written after the relation (`orders o`, `orders as o`).
            for (index, scan) in model.query.scans.iter().enumerate() {
                let written = &text(scan.span.file)[scan.span.range()];
                let ends = written.len() > scan.alias.len()
                    && written.ends_with(scan.alias.as_str())
                    && written[..written.len() - scan.alias.len()].ends_with([' ', '\t', '\n']);
                if ends {
                    let end = scan.span.end as usize;
                    let at = Span::new(scan.span.file, end - scan.alias.len(), end);
                    named(at, Symbol::Alias(id, index as u32), true);
                }
            }
            let mut read = |e: &Expr| {
                if let ExprKind::Column { column, scan } = e.kind {
                    named(e.span, Symbol::Column(column), false);
                    // `o.` of `o.id`.
                    let alias = model.query.scans.get(scan).map(|s| s.alias.as_str());
                    let written = &text(e.span.file)[e.span.range()];
                    if let Some(alias) = alias
                        && written.starts_with(alias)
                        && written[alias.len()..].starts_with('.')
                    {
                        let start = e.span.start as usize;
                        let at = Span::new(e.span.file, start, start + alias.len());
                        named(at, Symbol::Alias(id, scan as u32), false);
                    }
                }
            };
            model.query.walk_clauses(&mut read);
            for &column in rel.columns.values() {
                if let Some(expr) = &ir.column(column).expr {
                    expr.walk(&mut read);
                }
            }
            for (column, span) in model.grain.iter().flatten() {
                named(*span, Symbol::Column(*column), false);
            }
            // The columns a test names: its model's bare (`unique(id)`),
            // another's after its relation (`to = customers.id`).
            for test in &model.tests {
                let written = &text(test.span.file)[test.span.range()];
                let at = |range: std::ops::Range<usize>| {
                    let start = test.span.start as usize;
                    Span::new(test.span.file, start + range.start, start + range.end)
                };
                let (own, to) = match &test.kind {
                    TestKind::Unique(columns) => (columns.clone(), None),
                    TestKind::NotNull(column) => (vec![*column], None),
                    TestKind::AcceptedValues { column, .. } => (vec![*column], None),
                    TestKind::Relationships { column, to } => (vec![*column], Some(*to)),
                };
                for column in own {
                    for range in words(written, &ir.column(column).name, false) {
                        named(at(range), Symbol::Column(column), false);
                    }
                }
                if let Some(to) = to {
                    let target = ir.relation(ir.column(to).relation);
                    let dotted = format!("{}.{}", target.name, ir.column(to).name);
                    for range in words(written, &dotted, true) {
                        let dot = range.start + target.name.len();
                        named(at(range.start..dot), Symbol::Relation(target.id), false);
                        named(at(dot + 1..range.end), Symbol::Column(to), false);
                    }
                }
            }
        }
        // Settings, tests, unit tests' rows (a test's columns and the grain
        // are found above too: the same spans, kept once below).
        for &(column, span) in &ir.named {
            named(span, Symbol::Column(column), false);
        }
        for &(relation, span) in &ir.named_relations {
            named(span, Symbol::Relation(relation), false);
        }
        for (index, var) in ir.vars.iter().enumerate() {
            for &read in &var.reads {
                named(read, Symbol::Var(index as u32), false);
            }
        }
        occurrences.sort_by_key(|o| (o.span.file, o.span.start, std::cmp::Reverse(o.span.end)));
        occurrences.dedup_by(|b, a| a.span == b.span && a.symbol == b.symbol);
        Index { occurrences }
    }

    /// The innermost name at `offset` of `file`.
    pub fn at(&self, file: FileId, offset: usize) -> Option<Occurrence> {
        let offset = offset as u32;
        let first = self
            .occurrences
            .partition_point(|o| (o.span.file, o.span.start) < (file, 0));
        self.occurrences[first..]
            .iter()
            .take_while(|o| o.span.file == file && o.span.start <= offset)
            .filter(|o| offset <= o.span.end)
            .min_by_key(|o| o.span.end - o.span.start)
            .copied()
    }

    /// Where `symbol` is defined in the `.shop` files: `None` for a var
    /// (its key in `shop.toml` is [`crate::ir::Var::defined`]).
    pub fn definition(&self, ir: &Ir, symbol: Symbol) -> Option<Span> {
        match symbol {
            Symbol::Relation(id) => Some(ir.relation(id).name_span),
            Symbol::Column(id) => Some(ir.column(id).span),
            Symbol::Alias(model, _) => Some(
                self.occurrences
                    .iter()
                    .find(|o| o.definition && o.symbol == symbol)
                    .map_or(ir.relation(model).name_span, |o| o.span),
            ),
            Symbol::Var(_) => None,
        }
    }

    /// Every place `symbol` is named, its definition first.
    pub fn references(&self, symbol: Symbol) -> Vec<Span> {
        let mut found: Vec<&Occurrence> = self
            .occurrences
            .iter()
            .filter(|o| o.symbol == symbol)
            .collect();
        found.sort_by_key(|o| !o.definition);
        found.into_iter().map(|o| o.span).collect()
    }
}

/// Where `word` stands as a whole name in `text`: not inside a longer
/// name or a string, and, unless `dotted`, not after a `.`.
fn words(text: &str, word: &str, dotted: bool) -> Vec<std::ops::Range<usize>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word)
        .map(|(i, _)| i..i + word.len())
        .filter(|r| {
            let before = text[..r.start].chars().next_back();
            let after = text[r.end..].chars().next();
            let quoted = before.is_some_and(|c| c == '"' || c == '\'');
            !before.is_some_and(ident)
                && !after.is_some_and(ident)
                && !quoted
                && (dotted || before != Some('.'))
        })
        .collect()
}

/// What an editor shows on hover, in Markdown.
pub fn hover(ir: &Ir, analysis: &Analysis, symbol: Symbol) -> String {
    match symbol {
        Symbol::Relation(id) => relation_hover(ir, analysis, id),
        Symbol::Column(id) => column_hover(ir, analysis, id),
        Symbol::Alias(model, scan) => alias_hover(ir, analysis, model, scan),
        Symbol::Var(index) => var_hover(ir, index),
    }
}

fn var_hover(ir: &Ir, index: u32) -> String {
    let Some(var) = ir.vars.get(index as usize) else {
        return String::new();
    };
    let set = if var.defined.is_some() {
        "set in `shop.toml` under `[vars]` (`--vars` overrides it)"
    } else {
        "set by `--vars`"
    };
    let reads = match var.reads.len() {
        1 => "read once".to_string(),
        n => format!("read {n} times"),
    };
    format!(
        "**var** `{}` = `{}`\n\n{set}; {reads}. Its value is substituted where it is read.\n",
        var.name, var.value
    )
}

fn alias_hover(ir: &Ir, analysis: &Analysis, model: RelId, scan: u32) -> String {
    let RelationKind::Model(m) = &ir.relation(model).kind else {
        return String::new();
    };
    let Some(scan) = m.query.scans.get(scan as usize) else {
        return String::new();
    };
    format!(
        "alias `{}` of `{}`\n\n{}",
        scan.alias,
        ir.relation(scan.relation).name,
        relation_hover(ir, analysis, scan.relation)
    )
}

fn relation_hover(ir: &Ir, analysis: &Analysis, id: RelId) -> String {
    let rel = ir.relation(id);
    let mut out = format!("**{}** `{}`", rel.kind_word(), rel.name);
    if let RelationKind::Model(model) = &rel.kind {
        let materialized = match &model.materialized {
            Materialized::View => "view",
            Materialized::Table => "table",
            Materialized::Ephemeral => "ephemeral",
            Materialized::Incremental(_) => "incremental",
        };
        out.push_str(&format!(" · materialized as {materialized}"));
        if let Some(layer) = &model.layer {
            out.push_str(&format!(" · layer {layer}"));
        }
    }
    out.push_str("\n\n");
    if let Some(doc) = &rel.doc {
        out.push_str(doc);
        out.push_str("\n\n");
    }
    let why = crate::check::grain::explain(ir, &analysis.grains, id);
    out.push_str("```text\n");
    out.push_str(why.trim_end());
    out.push_str("\n```\n");
    out
}

fn column_hover(ir: &Ir, analysis: &Analysis, id: ColumnId) -> String {
    let column = ir.column(id);
    let rel = ir.relation(column.relation);
    let role = match column.role {
        Role::Source => "column",
        Role::Column => "column",
        Role::Dimension => "dimension",
        Role::Measure => "measure",
        Role::Meta => "column (added by shopc)",
    };
    let nullable = if analysis.nullability.never_null(id) {
        "never NULL"
    } else {
        "may be NULL"
    };
    let additivity = match analysis.additivities.of(id) {
        Additivity::Additive => "additive".to_string(),
        Additivity::Semi { dimension } => {
            format!("semi-additive (not across `{}`)", ir.column(dimension).name)
        }
        Additivity::NonAdditive { reason } => format!("non-additive ({reason})"),
    };
    let mut out = format!(
        "**{role}** `{}.{}`: `{}`, {nullable}",
        rel.name, column.name, column.ty
    );
    if column.role == Role::Measure {
        out.push_str(&format!(", {additivity}"));
    }
    out.push_str("\n\n");
    if let Some(doc) = &column.doc {
        out.push_str(doc);
        out.push('\n');
    }
    out
}

/// A top-level item of a file, with its members, for the editor's outline.
#[derive(Debug)]
pub struct FileSymbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The whole item.
    pub span: Span,
    /// Its name.
    pub name_span: Span,
    pub children: Vec<FileSymbol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Source,
    Table,
    Model,
    Snapshot,
    Column,
    Function,
    Test,
}

/// The relations, columns, functions and unit tests declared in `file`, in
/// the order written.
pub fn file_symbols(ir: &Ir, file: FileId) -> Vec<FileSymbol> {
    let mut out = Vec::new();
    for rel in &ir.relations {
        if rel.span.file != file || matches!(rel.kind, RelationKind::Series(_)) {
            continue;
        }
        let kind = match rel.kind {
            RelationKind::Table(_) => SymbolKind::Table,
            RelationKind::Model(_) => SymbolKind::Model,
            _ => SymbolKind::Snapshot,
        };
        let children = rel
            .columns
            .values()
            .map(|&c| ir.column(c))
            .filter(|c| c.span.file == file && c.span.end > c.span.start)
            .map(|c| FileSymbol {
                name: c.name.clone(),
                kind: SymbolKind::Column,
                span: c.span,
                name_span: c.span,
                children: Vec::new(),
            })
            .collect();
        out.push(FileSymbol {
            name: rel.name.clone(),
            kind,
            span: rel.span,
            name_span: rel.name_span,
            children,
        });
    }
    for function in ir.functions.iter().filter(|f| f.span.file == file) {
        out.push(FileSymbol {
            name: function.name.clone(),
            kind: SymbolKind::Function,
            span: function.span,
            name_span: function.name_span,
            children: Vec::new(),
        });
    }
    for test in ir.unit_tests.iter().filter(|t| t.span.file == file) {
        out.push(FileSymbol {
            name: test.name.clone(),
            kind: SymbolKind::Test,
            span: test.span,
            name_span: test.span,
            children: Vec::new(),
        });
    }
    out.sort_by_key(|s| s.span.start);
    out
}

/// Relations whose name starts with `prefix`, for completion after `from`
/// or `join`.
pub fn relations_named<'a>(ir: &'a Ir, prefix: &'a str) -> impl Iterator<Item = RelId> + 'a {
    let mut ids: Vec<RelId> = ir
        .by_name
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, &id)| id)
        .collect();
    ids.sort_by(|a, b| ir.relation(*a).name.cmp(&ir.relation(*b).name));
    ids.into_iter()
}

/// The edits that rename `symbol` to `new` where the index knows it is
/// named (its definition, the scans that read a relation, the reads and
/// grains that name a column): each the span of the name alone and the new
/// name. `text` gives a file's text. A name written in backticks, a
/// source table, or a new name that is not a bare word is refused.
pub fn rename<'t>(
    ir: &Ir,
    index: &Index,
    text: impl Fn(FileId) -> &'t str,
    symbol: Symbol,
    new: &str,
) -> Result<Vec<(Span, String)>, String> {
    let bare = new
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !bare {
        return Err(format!("`{new}` is not a name (letters, digits and `_`)"));
    }
    let old = match symbol {
        Symbol::Relation(id) => {
            let rel = ir.relation(id);
            if matches!(rel.kind, RelationKind::Table(_)) {
                return Err(format!(
                    "`{}` is a source table: rename it in its source, and its readers",
                    rel.name
                ));
            }
            rel.name.as_str()
        }
        Symbol::Column(id) => ir.column(id).name.as_str(),
        Symbol::Alias(model, scan) => match &ir.relation(model).kind {
            RelationKind::Model(m) => m
                .query
                .scans
                .get(scan as usize)
                .map_or("", |s| s.alias.as_str()),
            _ => "",
        },
        Symbol::Var(index) => {
            let name = ir.vars.get(index as usize).map_or("", |v| v.name.as_str());
            return Err(format!(
                "`{name}` is a var: rename its key in `shop.toml` and each `var('{name}')`"
            ));
        }
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut edits = Vec::new();
    for span in index.references(symbol) {
        let written = &text(span.file)[span.range()];
        let at = if written == old {
            Some(span)
        } else if let Symbol::Relation(_) = symbol
            && written.starts_with(old)
            && !written[old.len()..].starts_with(ident)
        {
            // A scan: `name alias`.
            Some(Span::new(
                span.file,
                span.start as usize,
                span.start as usize + old.len(),
            ))
        } else if let Symbol::Column(_) = symbol
            && written.ends_with(old)
            && written[..written.len() - old.len()].ends_with('.')
        {
            // A read: `alias.name`.
            let end = span.end as usize;
            Some(Span::new(span.file, end - old.len(), end))
        } else {
            None
        };
        if let Some(at) = at
            && !edits.iter().any(|(s, _): &(Span, String)| *s == at)
        {
            edits.push((at, new.to_string()));
        }
    }
    Ok(edits)
}

/// The keyword of the innermost `{ … }` block open at `offset` (`model`,
/// `source`, `table`, `snapshot`, `unit_test`, `columns`, `tests`, …), for
/// completion: braces in strings and comments are skipped.
pub fn block_at(text: &str, offset: usize) -> Option<&str> {
    let mut open: Vec<usize> = Vec::new();
    let mut chars = text[..offset.min(text.len())].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => while chars.next_if(|&(_, c)| c != '\n').is_some() {},
            '"' | '\'' | '`' => {
                for (_, d) in chars.by_ref() {
                    if d == c || d == '\n' {
                        break;
                    }
                }
            }
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    let at = *open.last()?;
    // The header's words: `model fact_orders {` → `model`.
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let header = text[line_start..at].trim();
    let words: Vec<&str> = header.split_whitespace().collect();
    match words.as_slice() {
        [keyword] | [keyword, _] => Some(keyword),
        // `materialized = { incremental = {`
        [.., "incremental", "="] => Some("incremental"),
        _ => None,
    }
}

/// The settings an item of this keyword accepts, for completion.
pub fn settings_of(keyword: &str) -> &'static [&'static str] {
    let kind = match keyword {
        "model" => "model",
        "source" => "source",
        "table" => "source table",
        "snapshot" => "snapshot",
        "unit_test" => "unit test",
        "incremental" => "`materialized = { incremental = { … } }`",
        _ => return &[],
    };
    crate::ir::SETTINGS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, keys)| keys)
}

/// The signature and description of the function called `name`: one of
/// the project's (`fn …`) or of the library, for hover.
pub fn function_hover(ir: &Ir, name: &str) -> Option<String> {
    if let Some(f) = ir.functions.iter().find(|f| f.name == name) {
        let params: Vec<String> = f.params.iter().map(|(p, t)| format!("{p}: {t}")).collect();
        let mut out = format!(
            "```shop\nfn {}({}) -> {}\n```\n",
            f.name,
            params.join(", "),
            f.ret
        );
        if let Some(doc) = &f.doc {
            out.push_str(&format!("\n{doc}\n"));
        }
        return Some(out);
    }
    let id = crate::ir::library::lookup(name)?;
    let f = &crate::ir::library::FUNCTIONS[id.0 as usize];
    let params: Vec<String> = f
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let optional = if i >= f.required { " (optional)" } else { "" };
            let repeats = if f.variadic && i + 1 == f.params.len() {
                ", …"
            } else {
                ""
            };
            format!("{}{optional}{repeats}", p.describe())
        })
        .collect();
    let kind = match f.kind {
        crate::ir::library::FuncKind::Scalar => "function",
        crate::ir::library::FuncKind::Aggregate => "aggregate function",
        crate::ir::library::FuncKind::Window => "window function (needs `over (…)`)",
    };
    Some(format!("**{kind}** `{}`({})\n", f.name, params.join("; ")))
}

/// The word (letters, digits, `_`) around `offset`, and whether a `(`
/// follows it.
pub fn word_at(text: &str, offset: usize) -> Option<(&str, bool)> {
    let offset = offset.min(text.len());
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = text[..offset]
        .rfind(|c: char| !ident(c))
        .map_or(0, |i| i + 1);
    let end = text[offset..]
        .find(|c: char| !ident(c))
        .map_or(text.len(), |i| offset + i);
    let word = &text[start..end];
    let called = text[end..].trim_start().starts_with('(');
    (!word.is_empty()).then_some((word, called))
}
