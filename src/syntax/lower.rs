//! Lowering of pest pairs into the owned AST. The grammar guarantees the shape
//! of every pair, so a mismatch here is a bug in this file, not in the input.

use pest::iterators::{Pair, Pairs};

use super::Parsed;
use super::Rule;
use super::ast::*;
use super::climb::{Bound, Climb, Piece, Postfix};
use super::depth::MAX_DEPTH;
use crate::problem::Problem;
use crate::span::{FileId, Span};

/// Lowers the children of the `file` rule.
pub(super) fn items(file: FileId, pairs: Pairs<'_, Rule>, parsed: &mut Parsed) {
    items_at(file, 0, pairs, parsed)
}

/// Lowers item pairs parsed from `text[offset..]`.
pub(super) fn items_at(file: FileId, offset: usize, pairs: Pairs<'_, Rule>, parsed: &mut Parsed) {
    let mut lowerer = Lowerer {
        file,
        offset,
        problems: &mut parsed.problems,
        too_deep: false,
    };
    for pair in pairs {
        let item = match pair.as_rule() {
            Rule::source_def => Item::Source(lowerer.source(pair)),
            Rule::model_def => Item::Model(lowerer.model(pair)),
            Rule::snapshot_def => Item::Snapshot(lowerer.snapshot(pair)),
            Rule::reconcile_def => Item::Reconcile(lowerer.reconcile(pair)),
            Rule::fn_def => Item::Function(lowerer.function(pair)),
            Rule::doc_def => Item::Doc(lowerer.doc_block(pair)),
            Rule::unit_test_def => Item::UnitTest(lowerer.unit_test(pair)),
            _ => continue, // EOI, stray doc comments
        };
        if std::mem::take(&mut lowerer.too_deep) {
            // Reported (P003); what references it is not reported again.
            parsed.broken_items.push(item.name().name.clone());
        } else {
            parsed.file.items.push(item);
        }
    }
}

struct Lowerer<'p> {
    file: FileId,
    offset: usize,
    problems: &'p mut Vec<Problem>,
    /// An expression of the current item was deeper than [`MAX_DEPTH`].
    too_deep: bool,
}

impl Lowerer<'_> {
    /// The pair's span, without the white space and comments pest skipped
    /// while trying optional parts at its end.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let len = trim_trivia(pair.as_str()).len();
        Span::new(
            self.file,
            self.offset + s.start(),
            self.offset + s.start() + len,
        )
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        let span = self.span(&pair);
        let text = pair.as_str();
        let name = text
            .strip_prefix('`')
            .and_then(|t| t.strip_suffix('`'))
            .unwrap_or(text);
        Ident {
            name: name.to_string(),
            span,
        }
    }

    /// Collects leading `##` lines into one doc string.
    fn docs<'i>(&self, inner: &mut std::iter::Peekable<Pairs<'i, Rule>>) -> Doc {
        let mut lines = Vec::new();
        while let Some(pair) = inner.next_if(|p| p.as_rule() == Rule::doc) {
            lines.push(pair.as_str());
        }
        docs_text(lines)
    }

    // ------------------------------------------------------------ sources

    fn source(&mut self, pair: Pair<'_, Rule>) -> SourceDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_source
        let name = self.ident(inner.next().expect("source name"));
        let mut settings = Vec::new();
        let mut tables = Vec::new();
        for pair in inner {
            match pair.as_rule() {
                Rule::setting => settings.push(self.setting(pair)),
                Rule::table_def => tables.push(self.table(pair)),
                _ => {}
            }
        }
        SourceDef {
            doc,
            name,
            settings,
            tables,
            span,
        }
    }

    fn table(&mut self, pair: Pair<'_, Rule>) -> TableDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_table
        let name = self.ident(inner.next().expect("table name"));
        let mut settings = Vec::new();
        let mut columns = Vec::new();
        for pair in inner {
            match pair.as_rule() {
                Rule::setting => settings.push(self.setting(pair)),
                Rule::column_decls => {
                    for decl in pair
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::column_decl)
                    {
                        columns.push(self.column_decl(decl));
                    }
                }
                _ => {}
            }
        }
        TableDef {
            doc,
            name,
            settings,
            columns,
            span,
        }
    }

    fn column_decl(&mut self, pair: Pair<'_, Rule>) -> ColumnDecl {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let name = self.ident(inner.next().expect("column name"));
        let ty = self.type_name(inner.next().expect("column type"));
        ColumnDecl {
            doc,
            name,
            ty,
            span,
        }
    }

    fn type_name(&mut self, pair: Pair<'_, Rule>) -> TypeName {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("type name"));
        let mut params = Vec::new();
        for param in inner {
            match param.as_str().parse::<u32>() {
                Ok(n) if n <= 1000 => params.push(n),
                _ => self.problems.push(Problem::InvalidLiteral {
                    span: self.span(&param),
                    reason: "a type parameter must be a whole number up to 1000".into(),
                }),
            }
        }
        TypeName { name, params, span }
    }

    // ------------------------------------------------------------ settings

    fn setting(&mut self, pair: Pair<'_, Rule>) -> Setting {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::doc);
        let key = self.ident(inner.next().expect("setting key"));
        let value = self.value(inner.next().expect("setting value"));
        Setting {
            span: key.span.to(span),
            key,
            value,
        }
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Value {
        let span = self.span(&pair);
        let inner = pair.into_inner().next().expect("value kind");
        let kind = match inner.as_rule() {
            Rule::toml_string => ValueKind::String(self.toml_string(inner)),
            Rule::integer => {
                let text: String = inner.as_str().chars().filter(|c| *c != '_').collect();
                match text.parse::<i64>() {
                    Ok(n) => ValueKind::Integer(n),
                    Err(_) => {
                        self.problems.push(Problem::InvalidLiteral {
                            span,
                            reason: "this integer does not fit in 64 bits".into(),
                        });
                        ValueKind::Integer(0)
                    }
                }
            }
            Rule::float => ValueKind::Float(inner.as_str().parse().unwrap_or(0.0)),
            Rule::boolean => ValueKind::Bool(inner.as_str().starts_with('t')),
            Rule::array => ValueKind::Array(inner.into_inner().map(|v| self.value(v)).collect()),
            Rule::inline_table => ValueKind::Table(
                inner
                    .into_inner()
                    .map(|entry| {
                        let mut parts = entry.into_inner();
                        let key = self.ident(parts.next().expect("table key"));
                        let value = self.value(parts.next().expect("table value"));
                        (key, value)
                    })
                    .collect(),
            ),
            Rule::path => ValueKind::Path(inner.into_inner().map(|p| self.ident(p)).collect()),
            rule => unreachable!("value of rule {rule:?}"),
        };
        Value { kind, span }
    }

    /// A TOML basic (`"..."`, with escapes) or literal (`'...'`) string.
    fn toml_string(&mut self, pair: Pair<'_, Rule>) -> String {
        let inner = pair.into_inner().next().expect("string kind");
        let text = inner.as_str();
        let body = &text[1..text.len() - 1];
        if inner.as_rule() == Rule::literal_string {
            return body.to_string();
        }
        let (text, valid) = unescape(body);
        if !valid {
            self.problems.push(Problem::InvalidLiteral {
                span: self.span(&inner),
                reason: "invalid escape sequence; use \\n, \\t, \\r, \\\", \\\\ or \\uXXXX".into(),
            });
        }
        text
    }

    // ------------------------------------------------------------ models

    fn model(&mut self, pair: Pair<'_, Rule>) -> ModelDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_model
        let name = self.ident(inner.next().expect("model name"));
        let mut model = ModelDef {
            doc,
            name,
            settings: Vec::new(),
            clauses: Vec::new(),
            blocks: Vec::new(),
            span,
        };
        for pair in inner {
            let span = self.span(&pair);
            match pair.as_rule() {
                Rule::setting => model.settings.push(self.setting(pair)),
                Rule::from_clause => {
                    let mut parts = pair.into_inner().skip(1).peekable();
                    let series = parts
                        .next_if(|p| p.as_rule() == Rule::series)
                        .map(|p| self.series(p));
                    let (relation, alias) = match &series {
                        Some(s) => (s.name(), self.alias(parts.next())),
                        None => self.relation_and_alias(parts),
                    };
                    model.clauses.push(Clause::From {
                        relation,
                        series,
                        alias,
                        span,
                    });
                }
                Rule::join_clause => model.clauses.push(self.join(pair)),
                Rule::union_clause => {
                    let mut distinct = true;
                    let mut relations = Vec::new();
                    for part in pair.into_inner() {
                        match part.as_rule() {
                            Rule::union_all => distinct = false,
                            Rule::relation_ref => relations.push(self.relation_ref(part)),
                            _ => {}
                        }
                    }
                    model.clauses.push(Clause::Union {
                        distinct,
                        relations,
                        span,
                    });
                }
                Rule::where_clause => {
                    let condition = self.expr(pair.into_inner().nth(1).expect("where expr"));
                    model.clauses.push(Clause::Where { condition, span });
                }
                Rule::having_clause => {
                    let condition = self.expr(pair.into_inner().nth(1).expect("having expr"));
                    model.clauses.push(Clause::Having { condition, span });
                }
                Rule::group_clause => {
                    let keys = pair
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::expr)
                        .map(|p| self.expr(p))
                        .collect();
                    model.clauses.push(Clause::GroupBy { keys, span });
                }
                Rule::dedupe_clause => model.clauses.push(self.dedupe(pair)),
                Rule::columns_block => model
                    .blocks
                    .push(self.output_block(BlockKind::Columns, pair)),
                Rule::dimensions_block => model
                    .blocks
                    .push(self.output_block(BlockKind::Dimensions, pair)),
                Rule::measures_block => model
                    .blocks
                    .push(self.output_block(BlockKind::Measures, pair)),
                Rule::tests_block => {
                    let tests = pair
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::test_call)
                        .map(|p| self.test_call(p))
                        .collect();
                    model.blocks.push(Block::Tests { tests, span });
                }
                _ => {}
            }
        }
        model
    }

    fn relation_and_alias<'i>(
        &mut self,
        mut pairs: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> (RelationRef, Option<Ident>) {
        let relation = self.relation_ref(pairs.next().expect("relation"));
        let alias = self.alias(pairs.next());
        (relation, alias)
    }

    fn join(&mut self, pair: Pair<'_, Rule>) -> Clause {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let kind = match inner.next_if(|p| p.as_rule() == Rule::join_kind) {
            Some(k) if k.as_str().starts_with("left") => JoinKind::Left,
            Some(k) if k.as_str().starts_with("full") => JoinKind::Full,
            _ => JoinKind::Inner,
        };
        inner.next(); // kw_join
        let claim = inner.next_if(|p| p.as_rule() == Rule::join_claim).map(|p| {
            let claim = if p.as_str().starts_with("one") {
                JoinClaim::One
            } else {
                JoinClaim::Many
            };
            (claim, self.span(&p))
        });
        let rel = inner.next().expect("join relation");
        let series = (rel.as_rule() == Rule::series).then(|| self.series(rel.clone()));
        let relation = match &series {
            Some(s) => s.name(),
            None => self.relation_ref(rel),
        };
        let alias = self.alias(inner.next_if(|p| p.as_rule() == Rule::alias));
        let on = self.expr(
            inner
                .find(|p| p.as_rule() == Rule::expr)
                .expect("join condition"),
        );
        Clause::Join {
            kind,
            claim,
            relation,
            series,
            alias,
            on,
            span,
        }
    }

    /// `range(…)` / `date_spine(…)`.
    fn series(&mut self, pair: Pair<'_, Rule>) -> Series {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let kind = match inner.next().expect("series name").as_str() {
            "range" => SeriesKind::Range,
            _ => SeriesKind::DateSpine,
        };
        Series {
            kind,
            args: inner.map(|p| self.expr(p)).collect(),
            span,
        }
    }

    /// `source.table` or `model`, from a `relation_ref` pair.
    fn relation_ref(&mut self, pair: Pair<'_, Rule>) -> RelationRef {
        RelationRef {
            span: self.span(&pair),
            parts: pair.into_inner().map(|p| self.ident(p)).collect(),
        }
    }

    /// The name of an `alias` pair, if it is one.
    fn alias(&mut self, pair: Option<Pair<'_, Rule>>) -> Option<Ident> {
        pair.filter(|p| p.as_rule() == Rule::alias)
            .and_then(|p| p.into_inner().find(|p| p.as_rule() == Rule::name))
            .map(|p| self.ident(p))
    }

    fn dedupe(&mut self, pair: Pair<'_, Rule>) -> Clause {
        let span = self.span(&pair);
        let mut exprs = Vec::new();
        let mut keep = Keep::Latest;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::expr => exprs.push(p),
                Rule::keep_which if p.as_str().starts_with("earliest") => keep = Keep::Earliest,
                _ => {}
            }
        }
        // The grammar puts the `by` ordering last; the expressions before it are keys.
        let order = exprs.pop().expect("dedupe order");
        let keys = exprs.into_iter().map(|p| self.expr(p)).collect();
        Clause::Dedupe {
            keys,
            keep,
            order_by: self.expr(order),
            span,
        }
    }

    fn output_block(&mut self, kind: BlockKind, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let columns = pair
            .into_inner()
            .filter(|p| matches!(p.as_rule(), Rule::output_column | Rule::star_columns))
            .map(|p| {
                let span = self.span(&p);
                let rule = p.as_rule();
                let mut inner = p.into_inner().peekable();
                let doc = self.docs(&mut inner);
                let name = self.ident(inner.next().expect("column name"));
                if rule == Rule::star_columns {
                    let mut star = StarColumns {
                        alias: name,
                        except: Vec::new(),
                        rename: Vec::new(),
                        span,
                    };
                    for part in inner {
                        match part.as_rule() {
                            Rule::star_except => star.except.extend(
                                part.into_inner()
                                    .filter(|p| p.as_rule() == Rule::name)
                                    .map(|p| self.ident(p)),
                            ),
                            Rule::star_rename => {
                                for pair in part
                                    .into_inner()
                                    .filter(|p| p.as_rule() == Rule::rename_pair)
                                {
                                    let mut names =
                                        pair.into_inner().filter(|p| p.as_rule() == Rule::name);
                                    let from = self.ident(names.next().expect("renamed column"));
                                    let to = self.ident(names.next().expect("new name"));
                                    star.rename.push((from, to));
                                }
                            }
                            _ => {}
                        }
                    }
                    return Output::Star(star);
                }
                let expr = self.expr(inner.next().expect("column expr"));
                Output::Column(OutputColumn {
                    doc,
                    name,
                    expr,
                    span,
                })
            })
            .collect();
        Block::Output {
            kind,
            columns,
            span,
        }
    }

    fn test_call(&mut self, pair: Pair<'_, Rule>) -> TestCall {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("test name"));
        let mut args = Vec::new();
        let mut named = Vec::new();
        for arg in inner {
            let mut parts = arg.into_inner();
            let first = parts.next().expect("test argument");
            if first.as_rule() == Rule::key {
                let key = self.ident(first);
                named.push((key, self.value(parts.next().expect("named value"))));
            } else {
                args.push(self.value(first));
            }
        }
        TestCall {
            name,
            args,
            named,
            span,
        }
    }

    // ------------------------------------------------------------ snapshots

    fn snapshot(&mut self, pair: Pair<'_, Rule>) -> SnapshotDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_snapshot
        let name = self.ident(inner.next().expect("snapshot name"));
        let mut from = None;
        let mut settings = Vec::new();
        for pair in inner {
            match pair.as_rule() {
                Rule::setting => settings.push(self.setting(pair)),
                Rule::snapshot_from => {
                    let (relation, _alias) = self.relation_and_alias(pair.into_inner().skip(1));
                    from = Some(relation);
                }
                _ => {}
            }
        }
        SnapshotDef {
            doc,
            name,
            from,
            settings,
            span,
        }
    }

    // ------------------------------------------------------------ reconciliations

    fn unit_test(&mut self, pair: Pair<'_, Rule>) -> UnitTestDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_unit_test
        let name = self.ident(inner.next().expect("unit test name"));
        let mut test = UnitTestDef {
            doc,
            name,
            settings: Vec::new(),
            given: Vec::new(),
            span,
        };
        for pair in inner {
            match pair.as_rule() {
                Rule::setting => test.settings.push(self.setting(pair)),
                Rule::given_block => {
                    for entry in pair
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::given_entry)
                    {
                        let mut parts = entry.into_inner();
                        let relation = self.relation_ref(parts.next().expect("given relation"));
                        let value = self.value(parts.next().expect("given rows"));
                        test.given.push((relation, value));
                    }
                }
                _ => {}
            }
        }
        test
    }

    fn reconcile(&mut self, pair: Pair<'_, Rule>) -> ReconcileDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_reconcile
        let name = self.ident(inner.next().expect("reconcile name"));
        let terms = inner
            .filter(|p| p.as_rule() == Rule::reconcile_term)
            .map(|term| {
                let span = self.span(&term);
                let mut parts = term.into_inner();
                let path = parts
                    .next()
                    .expect("term path")
                    .into_inner()
                    .map(|p| self.ident(p))
                    .collect();
                let filter = parts
                    .find(|p| p.as_rule() == Rule::expr)
                    .map(|p| self.expr(p));
                ReconcileTerm { path, filter, span }
            })
            .collect();
        ReconcileDef {
            doc,
            name,
            terms,
            span,
        }
    }

    // ------------------------------------------------------------ doc blocks

    fn doc_block(&mut self, pair: Pair<'_, Rule>) -> DocDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let text = self.docs(&mut inner).unwrap_or_default();
        inner.next(); // kw_doc
        let name = self.ident(inner.next().expect("doc block name"));
        DocDef { text, name, span }
    }

    // ------------------------------------------------------------ functions

    fn function(&mut self, pair: Pair<'_, Rule>) -> FnDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        inner.next(); // kw_fn
        let name = self.ident(inner.next().expect("function name"));
        let mut params = Vec::new();
        while let Some(param) = inner.next_if(|p| p.as_rule() == Rule::fn_param) {
            let mut parts = param.into_inner();
            let name = self.ident(parts.next().expect("parameter name"));
            let ty = self.type_name(parts.next().expect("parameter type"));
            params.push(FnParam { name, ty });
        }
        let ret = self.type_name(inner.next().expect("return type"));
        let body = self.expr(inner.next().expect("function body"));
        FnDef {
            doc,
            name,
            params,
            ret,
            body,
            span,
        }
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        self.expr_d(pair).0
    }

    /// An expression and its depth: its flat run of operands and operators,
    /// put in a tree by [`Climb`].
    fn expr_d(&mut self, pair: Pair<'_, Rule>) -> (Expr, usize) {
        let mut climb = Climb::default();
        for p in pair.into_inner() {
            let piece = self.piece(p);
            climb.push(piece, self);
        }
        climb.finish(self)
    }

    /// One operand or operator of an expression.
    fn piece(&mut self, p: Pair<'_, Rule>) -> Piece {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::not_op => Piece::Prefix(UnaryOp::Not, span),
            Rule::neg => Piece::Prefix(UnaryOp::Neg, span),
            Rule::or_op => Piece::Infix(BinOp::Or, span),
            Rule::and_op => Piece::Infix(BinOp::And, span),
            Rule::concat_op => Piece::Infix(BinOp::Concat, span),
            Rule::add_op => Piece::Infix(BinOp::Add, span),
            Rule::sub_op => Piece::Infix(BinOp::Sub, span),
            Rule::mul_op => Piece::Infix(BinOp::Mul, span),
            Rule::div_op => Piece::Infix(BinOp::Div, span),
            Rule::mod_op => Piece::Infix(BinOp::Mod, span),
            Rule::cmp_op => Piece::Infix(comparison(p.as_str()), span),
            Rule::cast_op | Rule::is_null_op | Rule::in_op | Rule::like_op | Rule::between_op => {
                let (postfix, depth) = self.postfix(p);
                Piece::Postfix(postfix, span, depth)
            }
            _ => {
                let (expr, depth) = self.primary(p);
                Piece::Operand(expr, depth)
            }
        }
    }

    /// A postfix operator, and the depth of the operands it reads.
    fn postfix(&mut self, op: Pair<'_, Rule>) -> (Postfix, usize) {
        let rule = op.as_rule();
        let mut inner = op.into_inner().peekable();
        let negated = inner.next_if(|p| p.as_rule() == Rule::not_kw).is_some();
        let mut depth = 0;
        let postfix = match rule {
            Rule::cast_op => Postfix::Cast(self.type_name(inner.next().expect("cast type"))),
            Rule::is_null_op => Postfix::IsNull {
                negated: inner.any(|p| p.as_rule() == Rule::not_kw),
            },
            Rule::in_op => {
                let mut list = Vec::new();
                for p in inner.filter(|p| p.as_rule() == Rule::expr) {
                    list.push(self.sub(p, &mut depth));
                }
                Postfix::InList { list, negated }
            }
            Rule::like_op => {
                let kw = inner.next().expect("like keyword");
                let pattern = self.sub(inner.next().expect("like pattern"), &mut depth);
                Postfix::Like {
                    pattern,
                    negated,
                    case_insensitive: kw.as_rule() == Rule::kw_ilike,
                }
            }
            Rule::between_op => {
                let mut bounds = inner.filter(|p| p.as_rule() == Rule::arith_expr);
                let low = self.sub(bounds.next().expect("between low"), &mut depth);
                let high = self.sub(bounds.next().expect("between high"), &mut depth);
                Postfix::Between { low, high, negated }
            }
            rule => unreachable!("postfix {rule:?}"),
        };
        (postfix, depth)
    }

    /// A primary expression and its depth.
    fn primary(&mut self, pair: Pair<'_, Rule>) -> (Expr, usize) {
        let span = self.span(&pair);
        let mut depth = 0;
        let kind = match pair.as_rule() {
            Rule::paren => return self.expr_d(pair.into_inner().next().expect("paren expr")),
            Rule::expr | Rule::arith_expr => return self.expr_d(pair),
            Rule::number => {
                let text = pair.as_str();
                if text.contains(['.', 'e', 'E']) {
                    ExprKind::Literal(Literal::Decimal(text.to_string()))
                } else {
                    match text.parse::<i64>() {
                        Ok(n) => ExprKind::Literal(Literal::Integer(n)),
                        Err(_) => ExprKind::Literal(Literal::Decimal(text.to_string())),
                    }
                }
            }
            Rule::sql_string => ExprKind::Literal(Literal::String(sql_string(pair.as_str()))),
            Rule::kw_true => ExprKind::Literal(Literal::Bool(true)),
            Rule::kw_false => ExprKind::Literal(Literal::Bool(false)),
            Rule::kw_null => ExprKind::Literal(Literal::Null),
            Rule::typed_literal => {
                let mut inner = pair.into_inner();
                let kw = inner.next().expect("literal type");
                let text = sql_string(inner.next().expect("literal text").as_str());
                if kw.as_rule() == Rule::kw_date {
                    ExprKind::Literal(Literal::Date(text))
                } else {
                    ExprKind::Literal(Literal::Timestamp(text))
                }
            }
            Rule::column_ref => {
                let mut parts: Vec<Ident> = pair.into_inner().map(|p| self.ident(p)).collect();
                let name = parts.pop().expect("column name");
                ExprKind::Column {
                    qualifier: parts.pop(),
                    name,
                }
            }
            Rule::case_expr => {
                let mut operand = None;
                let mut arms = Vec::new();
                let mut otherwise = None;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::expr => operand = Some(Box::new(self.sub(p, &mut depth))),
                        Rule::when_arm => {
                            let mut parts = p.into_inner().filter(|p| p.as_rule() == Rule::expr);
                            let when = self.sub(parts.next().expect("when"), &mut depth);
                            let then = self.sub(parts.next().expect("then"), &mut depth);
                            arms.push((when, then));
                        }
                        Rule::else_arm => {
                            let e = p.into_inner().find(|p| p.as_rule() == Rule::expr);
                            otherwise = Some(Box::new(self.sub(e.expect("else"), &mut depth)));
                        }
                        _ => {}
                    }
                }
                ExprKind::Case {
                    operand,
                    arms,
                    otherwise,
                }
            }
            Rule::cast_expr => {
                let mut inner = pair.into_inner();
                let safe = inner
                    .peek()
                    .is_some_and(|p| p.as_rule() == Rule::kw_try_cast);
                let expr = self.sub(
                    inner
                        .find(|p| p.as_rule() == Rule::expr)
                        .expect("cast expr"),
                    &mut depth,
                );
                let ty = self.type_name(
                    inner
                        .find(|p| p.as_rule() == Rule::type_name)
                        .expect("cast type"),
                );
                ExprKind::Cast {
                    expr: Box::new(expr),
                    ty,
                    safe,
                }
            }
            Rule::sql_expr => {
                let mut inner = pair.into_inner().skip(1);
                let text = self.toml_string(inner.next().expect("sql text"));
                let ty = self.type_name(inner.next().expect("sql type"));
                ExprKind::Sql { text, ty }
            }
            Rule::call => ExprKind::Call(self.call(pair, &mut depth)),
            rule => unreachable!("primary {rule:?}"),
        };
        let at = Span::new(span.file, span.start as usize, span.start as usize + 1);
        self.bounded(Expr { kind, span }, depth + 1, at)
    }

    /// A sub-expression, raising `depth` to its depth.
    fn sub(&mut self, pair: Pair<'_, Rule>, depth: &mut usize) -> Expr {
        let (expr, d) = self.expr_d(pair);
        *depth = (*depth).max(d);
        expr
    }

    fn call(&mut self, pair: Pair<'_, Rule>, depth: &mut usize) -> Call {
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("function name"));
        let mut call = Call {
            name,
            args: Vec::new(),
            star: false,
            distinct: false,
            filter: None,
            over: None,
        };
        for p in inner {
            match p.as_rule() {
                Rule::call_args => {
                    for arg in p.into_inner() {
                        match arg.as_rule() {
                            Rule::star => call.star = true,
                            Rule::distinct => call.distinct = true,
                            _ => call.args.push(self.sub(arg, depth)),
                        }
                    }
                }
                Rule::filter_clause => {
                    let e = p.into_inner().find(|p| p.as_rule() == Rule::expr);
                    call.filter = Some(Box::new(self.sub(e.expect("filter expr"), depth)));
                }
                Rule::over_clause => call.over = Some(self.window(p, depth)),
                _ => {}
            }
        }
        call
    }

    fn window(&mut self, pair: Pair<'_, Rule>, depth: &mut usize) -> Window {
        let span = self.span(&pair);
        let mut window = Window {
            partition_by: Vec::new(),
            order_by: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::partition_by => {
                    for key in p.into_inner().filter(|p| p.as_rule() == Rule::expr) {
                        let key = self.sub(key, depth);
                        window.partition_by.push(key);
                    }
                }
                Rule::window_order => {
                    for key in p.into_inner().filter(|p| p.as_rule() == Rule::sort_key) {
                        let mut parts = key.into_inner();
                        let expr = self.sub(parts.next().expect("sort expr"), depth);
                        let mut sort = SortKey {
                            expr,
                            descending: false,
                            nulls_first: None,
                        };
                        for part in parts {
                            match part.as_rule() {
                                Rule::sort_dir => {
                                    sort.descending = part.as_str().starts_with("desc")
                                }
                                Rule::nulls_order => {
                                    sort.nulls_first =
                                        Some(part.as_str().trim_end().ends_with("first"))
                                }
                                _ => {}
                            }
                        }
                        window.order_by.push(sort);
                    }
                }
                _ => {}
            }
        }
        window
    }
}

impl Bound for Lowerer<'_> {
    /// `expr` at `depth`, or, deeper than [`MAX_DEPTH`], a placeholder and
    /// P003 at `at` (the operator or the start of the operand; once per
    /// item, which is then dropped): the deep tree is never built, so
    /// nothing downstream (nor its `Drop`) recurses that far.
    fn bounded(&mut self, expr: Expr, depth: usize, at: Span) -> (Expr, usize) {
        if depth <= MAX_DEPTH {
            return (expr, depth);
        }
        if !self.too_deep {
            self.too_deep = true;
            self.problems.push(Problem::TooDeep {
                span: at,
                limit: MAX_DEPTH,
            });
        }
        let span = expr.span;
        drop(expr);
        (
            Expr {
                kind: ExprKind::Literal(Literal::Null),
                span,
            },
            1,
        )
    }
}

/// The operator of a `cmp_op`.
pub(super) fn comparison(op: &str) -> BinOp {
    match op {
        "=" => BinOp::Eq,
        "!=" | "<>" => BinOp::NotEq,
        "<" => BinOp::Lt,
        "<=" => BinOp::LtEq,
        ">" => BinOp::Gt,
        _ => BinOp::GtEq,
    }
}

/// The text of `##` doc lines: each without its `##` and one space, joined
/// by line breaks; `None` for no lines.
pub(super) fn docs_text(lines: Vec<&str>) -> Doc {
    if lines.is_empty() {
        return None;
    }
    let lines: Vec<&str> = lines
        .into_iter()
        .map(|line| {
            let line = line.trim_start_matches("##");
            line.strip_prefix(' ').unwrap_or(line).trim_end()
        })
        .collect();
    Some(lines.join("\n").trim().to_string())
}

/// The value of a TOML basic string's body, and whether its escapes were
/// valid (up to the first invalid one otherwise).
pub(super) fn unescape(body: &str) -> (String, bool) {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = match chars.next() {
            Some('n') => Some('\n'),
            Some('t') => Some('\t'),
            Some('r') => Some('\r'),
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
            }
            _ => None,
        };
        match escaped {
            Some(c) => out.push(c),
            None => return (out, false),
        }
    }
    (out, true)
}

/// `text` without trailing white space and `#` comments.
fn trim_trivia(mut text: &str) -> &str {
    if !text.as_bytes().contains(&b'#') {
        return text.trim_end(); // the common case: no comment anywhere
    }
    loop {
        text = text.trim_end();
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        let comment = comment_start(&text[line_start..]).map(|i| line_start + i);
        match comment {
            Some(at) if at > 0 => text = &text[..at],
            _ => return text,
        }
    }
}

/// Where a `#` comment starts in a line, skipping `#` inside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return Some(i),
            (None, '\'' | '"' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    None
}

/// The value of a SQL string literal: strip the quotes, undouble `''`.
fn sql_string(text: &str) -> String {
    text[1..text.len() - 1].replace("''", "'")
}
