//! Nullability: which columns can hold NULL, and why.
//!
//! A column is **never NULL** when
//! - how it is computed proves it: a literal, `count(...)`, `coalesce(x, 0)`,
//!   a strict function or operator of never-NULL values, a column that a
//!   `where x is not null` (or a comparison in `where`, or an equality in an
//!   inner join's `on`) filters, a column of a never-NULL column that no left
//!   join can null-extend;
//! - or a blocking test guarantees it before anything downstream reads it: a
//!   source table's claimed key (`expect_key`), a model's declared grain, a
//!   `not_null` test of error severity. `shopc build` runs those tests right
//!   after their relation, and a failure skips everything downstream.
//!
//! A test says nothing about the relation it tests while it is being built,
//! so the rules about a model's own columns (I001: an incremental merge key)
//! use only the proof.

use std::collections::HashSet;

use crate::ir::{
    ColumnId, Expr, ExprKind, Ir, Literal, Query, RelationKind, TestKind, TestSeverity,
    library::FuncKind, library::Nulls,
};
use crate::span::Span;
use crate::syntax::ast::{BinOp, JoinKind};

/// Which columns are never NULL.
#[derive(Debug, Default)]
pub struct Nullability {
    /// Proven by how the column is computed.
    proven: Columns,
    /// Guaranteed by a blocking test of its relation.
    tested: Columns,
}

/// A set of columns, a flag per column index: asked of every column.
#[derive(Debug, Default)]
struct Columns(Vec<bool>);

impl Columns {
    fn insert(&mut self, column: ColumnId) {
        let i = column.index();
        if self.0.len() <= i {
            self.0.resize(i + 1, false);
        }
        self.0[i] = true;
    }

    fn contains(&self, column: &ColumnId) -> bool {
        self.0.get(column.index()).copied().unwrap_or(false)
    }
}

impl Extend<ColumnId> for Columns {
    fn extend<I: IntoIterator<Item = ColumnId>>(&mut self, columns: I) {
        for column in columns {
            self.insert(column);
        }
    }
}

impl Nullability {
    /// Never NULL for a reader downstream: proven, or tested before it reads.
    pub fn never_null(&self, column: ColumnId) -> bool {
        self.proven.contains(&column) || self.tested.contains(&column)
    }

    /// Never NULL by how it is computed: what holds of the relation's own
    /// rows, without any test of that relation.
    pub fn proven(&self, column: ColumnId) -> bool {
        self.proven.contains(&column)
    }
}

/// Why a value can be NULL: the first reason found, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// A column nothing guarantees: `relation.column`, read at `span`.
    Column {
        span: Span,
        column: ColumnId,
        relation: String,
        name: String,
    },
    /// A column of a left-joined scan: rows without a match have NULL.
    OuterJoin {
        span: Span,
        alias: String,
        join: Span,
    },
    /// `null`, or a `case` without `else`.
    Null { span: Span, what: &'static str },
    /// A function or operator that can return NULL whatever its input.
    Function { span: Span, name: String },
    /// An aggregate over no rows (no `group by`, or a `filter`).
    EmptyAggregate { span: Span, name: String },
    /// Raw SQL: nothing is known.
    Sql { span: Span },
}

impl Why {
    pub fn span(&self) -> Span {
        match self {
            Why::Column { span, .. }
            | Why::OuterJoin { span, .. }
            | Why::Null { span, .. }
            | Why::Function { span, .. }
            | Why::EmptyAggregate { span, .. }
            | Why::Sql { span } => *span,
        }
    }

    /// The reason in words, for a label at [`Why::span`].
    pub fn describe(&self) -> String {
        match self {
            Why::Column { relation, name, .. } => format!("`{relation}.{name}` can be NULL"),
            Why::OuterJoin { alias, .. } => {
                format!("`{alias}` is left joined: rows without a match have NULL here")
            }
            Why::Null { what, .. } => format!("{what} is NULL"),
            Why::Function { name, .. } => format!("`{name}` can return NULL"),
            Why::EmptyAggregate { name, .. } => {
                format!("`{name}` over no rows is NULL")
            }
            Why::Sql { .. } => "raw SQL: shopc cannot tell whether it is NULL".into(),
        }
    }
}

/// Derives the nullability of every column, in build order.
pub fn derive(ir: &Ir) -> Nullability {
    let mut out = Nullability::default();
    // A series' values are never NULL (its bounds are constants).
    for rel in &ir.relations {
        if let RelationKind::Series(_) = rel.kind {
            out.proven.extend(rel.columns.values().copied());
        }
    }
    for &id in &ir.order {
        let rel = ir.relation(id);
        match &rel.kind {
            RelationKind::Table(table) => out.tested.extend(table.expect_key.iter().copied()),
            RelationKind::Series(_) => {}
            // An incomplete snapshot may have no `from` to read.
            RelationKind::Snapshot(_) if !rel.complete => {}
            RelationKind::Snapshot(snapshot) => {
                // Snapshot columns copy the columns of the same name.
                let from = ir.relation(snapshot.from);
                for (name, &column) in &rel.columns {
                    if from.columns.get(name).is_some_and(|c| out.never_null(*c)) {
                        out.proven.insert(column);
                    }
                }
            }
            RelationKind::Model(model) if model.union.is_some() => {
                // A union's column is never NULL when it is in every branch.
                let union = model.union.as_ref().expect("a union");
                for (name, &column) in &rel.columns {
                    if union.inputs(ir, name).all(|c| out.never_null(c)) {
                        out.proven.insert(column);
                    }
                }
                if let Some(grain) = &model.grain {
                    out.tested.extend(grain.iter().map(|(c, _)| *c));
                }
                out.tested.extend(not_null_tests(&model.tests));
            }
            RelationKind::Model(model) => {
                let scope = Scope::new(&model.query);
                for &column in rel.columns.values() {
                    if let Some(expr) = &ir.column(column).expr
                        && scope.why(ir, &out, expr).is_none()
                    {
                        out.proven.insert(column);
                    }
                }
                if let Some(grain) = &model.grain {
                    out.tested.extend(grain.iter().map(|(c, _)| *c));
                }
                out.tested.extend(not_null_tests(&model.tests));
            }
        }
    }
    out
}

/// The columns a blocking `not_null` test guarantees.
fn not_null_tests(tests: &[crate::ir::Test]) -> impl Iterator<Item = ColumnId> + '_ {
    tests
        .iter()
        .filter_map(|test| match (&test.kind, test.severity) {
            (TestKind::NotNull(c), TestSeverity::Error) => Some(*c),
            _ => None,
        })
}

/// Why `expr`, an expression of model query `q`, can be NULL; `None` when it
/// cannot.
pub fn why(ir: &Ir, known: &Nullability, q: &Query, expr: &Expr) -> Option<Why> {
    Scope::new(q).why(ir, known, expr)
}

/// `why` and, while it blames a model column, the reason inside that model:
/// the chain from the value to where its NULLs come from.
/// The last one is where the NULLs come from (a column of a source table is
/// described as such).
pub fn trace(ir: &Ir, known: &Nullability, why: Why) -> Vec<Why> {
    let mut chain = vec![why];
    while let Some(Why::Column { column, .. }) = chain.last()
        && chain.len() < 64
    {
        let column = ir.column(*column);
        let RelationKind::Model(model) = &ir.relation(column.relation).kind else {
            break;
        };
        if let Some(union) = &model.union {
            // The first branch whose column of that name can be NULL.
            let next = union.branches.iter().find_map(|b| {
                let input = *ir.relation(b.relation).columns.get(&column.name)?;
                (!known.never_null(input)).then(|| Why::Column {
                    span: b.span,
                    column: input,
                    relation: b.alias.clone(),
                    name: column.name.clone(),
                })
            });
            match next {
                Some(next) => chain.push(next),
                None => break,
            }
            continue;
        }
        let Some(expr) = &column.expr else {
            break;
        };
        match self::why(ir, known, &model.query, expr) {
            Some(next) => chain.push(next),
            None => break,
        }
    }
    chain
}

/// What a query's clauses say about the nulls of its scans.
struct Scope<'q> {
    query: &'q Query,
    /// Scan columns that `where` or an inner join's `on` keep non-NULL.
    filtered: HashSet<(usize, ColumnId)>,
    grouped: bool,
}

impl<'q> Scope<'q> {
    fn new(query: &'q Query) -> Scope<'q> {
        let mut filtered = HashSet::new();
        if let Some(filter) = &query.filter {
            non_null_when_true(filter, &mut filtered);
        }
        for join in &query.joins {
            if join.kind == JoinKind::Inner {
                non_null_when_true(&join.on, &mut filtered);
            }
        }
        Scope {
            query,
            filtered,
            grouped: !query.group_by.is_empty(),
        }
    }

    fn why(&self, ir: &Ir, known: &Nullability, e: &Expr) -> Option<Why> {
        let first = |exprs: &mut dyn Iterator<Item = &Expr>| {
            for e in exprs {
                if let Some(why) = self.why(ir, known, e) {
                    return Some(why);
                }
            }
            None
        };
        match &e.kind {
            ExprKind::Literal(Literal::Null) => Some(Why::Null {
                span: e.span,
                what: "`null`",
            }),
            ExprKind::Literal(_) | ExprKind::IsNull { .. } => None,
            ExprKind::Column { scan, column } => {
                if self.filtered.contains(&(*scan, *column)) {
                    return None;
                }
                // A left join's scan, or any scan up to a full join.
                if let Some(join) = self.query.joins.iter().find(|j| {
                    (j.scan == *scan && j.kind == JoinKind::Left)
                        || (*scan <= j.scan && j.kind == JoinKind::Full)
                }) {
                    return Some(Why::OuterJoin {
                        span: e.span,
                        alias: self.query.scans[*scan].alias.clone(),
                        join: join.span,
                    });
                }
                if known.never_null(*column) {
                    return None;
                }
                let c = ir.column(*column);
                Some(Why::Column {
                    span: e.span,
                    column: *column,
                    relation: ir.relation(c.relation).name.clone(),
                    name: c.name.clone(),
                })
            }
            ExprKind::Binary {
                op: BinOp::Div | BinOp::Mod,
                lhs,
                rhs,
            } => first(&mut [lhs.as_ref(), rhs.as_ref()].into_iter()).or(Some(Why::Function {
                span: e.span,
                name: "/ (by zero)".into(),
            })),
            ExprKind::Cast { safe: true, .. } => Some(Why::Function {
                span: e.span,
                name: "try_cast".into(),
            }),
            ExprKind::Unary { expr, .. } | ExprKind::Cast { expr, .. } => self.why(ir, known, expr),
            ExprKind::Binary { lhs, rhs, .. } => {
                first(&mut [lhs.as_ref(), rhs.as_ref()].into_iter())
            }
            ExprKind::InList { expr, list, .. } => {
                first(&mut std::iter::once(expr.as_ref()).chain(list))
            }
            ExprKind::Like { expr, pattern, .. } => {
                first(&mut [expr.as_ref(), pattern.as_ref()].into_iter())
            }
            ExprKind::Between {
                expr, low, high, ..
            } => first(&mut [expr.as_ref(), low.as_ref(), high.as_ref()].into_iter()),
            ExprKind::Case {
                arms, otherwise, ..
            } => {
                // The conditions may be NULL (they are then false); the
                // results may not.
                let Some(otherwise) = otherwise else {
                    return Some(Why::Null {
                        span: e.span,
                        what: "a `case` without `else`, when no `when` matches,",
                    });
                };
                first(
                    &mut arms
                        .iter()
                        .map(|(_, then)| then)
                        .chain([otherwise.as_ref()]),
                )
            }
            ExprKind::Call(call) => {
                let func = call.func.func();
                let name = || func.name.to_string();
                let args = || first(&mut call.args.iter());
                match func.nulls {
                    Nulls::Never => None,
                    Nulls::Maybe => Some(Why::Function {
                        span: e.span,
                        name: name(),
                    }),
                    Nulls::AllArgs => {
                        // NULL only when every argument can be (`coalesce`):
                        // each argument is looked at once, so nesting in
                        // the first argument stays linear.
                        let mut first_reason = None;
                        for arg in &call.args {
                            let reason = self.why(ir, known, arg)?;
                            first_reason.get_or_insert(reason);
                        }
                        first_reason
                    }
                    Nulls::Strict => {
                        let aggregate = func.kind == FuncKind::Aggregate && call.over.is_none();
                        if aggregate && (!self.grouped || call.filter.is_some()) {
                            Some(Why::EmptyAggregate {
                                span: e.span,
                                name: name(),
                            })
                        } else {
                            args()
                        }
                    }
                }
            }
            ExprKind::Sql { .. } | ExprKind::Error => Some(Why::Sql { span: e.span }),
        }
    }
}

/// Scan columns that cannot be NULL where `cond` is true: `x is not null`,
/// and both sides of a comparison (NULL compares to nothing), through `and`.
fn non_null_when_true(cond: &Expr, out: &mut HashSet<(usize, ColumnId)>) {
    let mut column = |e: &Expr| {
        if let ExprKind::Column { scan, column } = e.kind {
            out.insert((scan, column));
        }
    };
    match &cond.kind {
        ExprKind::Binary {
            op: BinOp::And,
            lhs,
            rhs,
        } => {
            non_null_when_true(lhs, out);
            non_null_when_true(rhs, out);
        }
        ExprKind::Binary {
            op: BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq,
            lhs,
            rhs,
        } => {
            column(lhs);
            column(rhs);
        }
        ExprKind::IsNull {
            expr,
            negated: true,
        } => column(expr),
        ExprKind::InList {
            expr,
            negated: false,
            ..
        }
        | ExprKind::Like { expr, .. }
        | ExprKind::Between { expr, .. } => column(expr),
        _ => {}
    }
}
