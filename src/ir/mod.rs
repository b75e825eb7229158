//! Resolve: the ASTs of all files → one typed IR of the project.
//!
//! Names are bound (relations across files, columns through aliases), the
//! dependency graph is built and ordered, and every expression gets a
//! [`Type`]. Relations and columns live in flat vectors indexed by typed ids.
//! This module does no IO.

pub mod library;
mod lower;
pub mod print;
pub mod types;

use std::collections::HashMap;
use std::fmt;

use indexmap::IndexMap;

pub use lower::{SETTINGS, lower, suggest};
pub use print::dump_relation;

use crate::config::MaterializedKind;
use crate::span::Span;
use crate::syntax::ast::{BinOp, JoinClaim, JoinKind, Keep, UnaryOp};
use library::FuncId;
use types::Type;

macro_rules! id {
    ($name:ident, $prefix:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "#{}"), self.0)
            }
        }

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(RelId, "rel");
id!(ColumnId, "col");
id!(SourceId, "source");

/// The whole project, resolved and typed.
#[derive(Debug, Default)]
pub struct Ir {
    pub sources: Vec<Source>,
    pub relations: Vec<Relation>,
    pub columns: Vec<Column>,
    /// Relations by the name models use for them (`raw.raw_orders`, `stg_orders`).
    pub by_name: HashMap<String, RelId>,
    /// Every relation, dependencies before dependents. Relations caught in a
    /// cycle are left out.
    pub order: Vec<RelId>,
    /// Totals that must agree (`reconcile` items).
    pub reconciles: Vec<Reconcile>,
    /// `unit_test` items: a model's query over given rows.
    pub unit_tests: Vec<UnitTest>,
    /// The project's functions (`fn` items), as declared: their calls are
    /// inlined in the expressions that make them.
    pub functions: Vec<Function>,
    /// Every name outside an expression that names a column (in a setting,
    /// a data test, a unit test's rows, a reconciliation), and where: for
    /// the editor's references and renames.
    pub named: Vec<(ColumnId, Span)>,
    /// The same for relations: the names a unit test gives (`model = …`,
    /// `given …`).
    pub named_relations: Vec<(RelId, Span)>,
    /// The project's vars (`[vars]` and `--vars`), in the order declared,
    /// with where each is read.
    pub vars: Vec<Var>,
    /// The environment the project is built in: how the schema of every
    /// relation it writes is named (`dev_alice_marts` for `marts`).
    pub environment: crate::environment::Environment,
    /// The source tables the project's seeds fill: the project writes them,
    /// so the environment places them too. The others keep their schema.
    pub seeded: std::collections::HashSet<RelId>,
}

impl Ir {
    pub fn relation(&self, id: RelId) -> &Relation {
        &self.relations[id.index()]
    }

    pub fn column(&self, id: ColumnId) -> &Column {
        &self.columns[id.index()]
    }

    pub fn get(&self, name: &str) -> Option<&Relation> {
        self.by_name.get(name).map(|id| self.relation(*id))
    }

    pub fn models(&self) -> impl Iterator<Item = (&Relation, &Model)> {
        self.relations.iter().filter_map(|r| match &r.kind {
            RelationKind::Model(m) => Some((r, &**m)),
            _ => None,
        })
    }

    pub fn count(&self, pred: impl Fn(&RelationKind) -> bool) -> usize {
        self.relations.iter().filter(|r| pred(&r.kind)).count()
    }
}

#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub schema: String,
    pub doc: Option<String>,
    pub tables: Vec<RelId>,
    pub span: Span,
}

#[derive(Debug)]
pub struct Relation {
    pub id: RelId,
    /// The name other items use: `stg_orders`, or `raw.raw_orders` for a source table.
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub doc: Option<String>,
    pub kind: RelationKind,
    pub columns: IndexMap<String, ColumnId>,
    /// Relations this one reads, in the order first read.
    pub deps: Vec<RelId>,
    /// False when an error left this relation's columns incomplete; lookups
    /// into it are then not reported again.
    pub complete: bool,
}

impl Relation {
    pub fn kind_word(&self) -> &'static str {
        match self.kind {
            RelationKind::Table(_) => "source table",
            RelationKind::Model(_) => "model",
            RelationKind::Snapshot(_) => "snapshot",
            RelationKind::Series(_) => "series",
        }
    }
}

#[derive(Debug)]
pub enum RelationKind {
    Table(SourceTable),
    Model(Box<Model>),
    Snapshot(Snapshot),
    /// `range(…)` or `date_spine(…)` in a `from` or `join`: rows generated
    /// where they are read. Not a node: it is in no `order`, no `by_name`,
    /// and is emitted inline where a query reads it.
    Series(Series),
}

/// A generated relation of one column, `value` or `date_<part>`, one row per
/// value from `start` to `end`, both included.
#[derive(Debug)]
pub struct Series {
    pub kind: SeriesKind,
    pub start: Expr,
    pub end: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// Integers.
    Range,
    /// Dates (`day`, `week`, `month`, `quarter`, `year`) or timestamps
    /// (`hour`), a step of one part.
    DateSpine(&'static str),
}

#[derive(Debug)]
pub struct SourceTable {
    pub source: SourceId,
    pub schema: String,
    /// The table's name in the warehouse.
    pub identifier: String,
    /// Claimed key, to be tested rather than trusted.
    pub expect_key: Vec<ColumnId>,
    pub loaded_at: Option<ColumnId>,
    pub freshness: Option<Freshness>,
}

/// Freshness thresholds in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub warn_after: Option<u64>,
    pub error_after: Option<u64>,
}

#[derive(Debug)]
pub struct Model {
    pub layer: Option<String>,
    pub materialized: Materialized,
    /// Where `materialized` came from.
    pub materialized_from: Origin,
    pub schema: Option<String>,
    pub tags: Vec<String>,
    /// Declared grain: output columns claimed unique together.
    pub grain: Option<Vec<(ColumnId, Span)>>,
    pub cluster_by: Vec<ColumnId>,
    /// Where `cluster_by` is set, for warnings on targets without it.
    pub cluster_by_span: Option<Span>,
    /// `partition_by = day_column` or `{ field = column, granularity = "month" }`.
    pub partition_by: Option<Partition>,
    /// Measures declared non-additive (`non_additive = [...]`), beyond the
    /// ones the checker infers (averages, ratios, distinct counts…).
    pub non_additive: Vec<ColumnId>,
    /// Semi-additive measures and the dimension each must not be summed
    /// across (`semi_additive = { balance = snapshot_date }`).
    pub semi_additive: Vec<(ColumnId, ColumnId)>,
    pub query: Query,
    /// `union all (a, b)`: the model is the rows of these relations, and
    /// `query` is empty. Each output column is the column of that name in
    /// every branch.
    pub union: Option<Union>,
    pub tests: Vec<Test>,
}

/// A unit test: a model's query run over given rows only, its result
/// compared with the rows expected.
#[derive(Debug)]
pub struct UnitTest {
    pub name: String,
    /// The name's.
    pub span: Span,
    pub doc: Option<String>,
    pub model: RelId,
    /// The rows of each relation given; every other relation the model
    /// reads is empty.
    pub given: Vec<Given>,
    /// The rows expected: only the columns they name are compared.
    pub expect: Rows,
    /// Compared in order, not as a multiset.
    pub ordered: bool,
}

impl UnitTest {
    /// What the test's query reads as tables: each relation the model reads,
    /// looking through the ephemeral models it inlines unless they are
    /// given (those are read as given).
    pub fn inputs(&self, ir: &Ir) -> Vec<RelId> {
        let given = |id: RelId| self.given.iter().any(|g| g.relation == id);
        reachable(ir, self.model, &given)
            .into_iter()
            .filter(|id| given(*id) || !is_ephemeral(ir, *id))
            .collect()
    }
}

/// Every relation `model` reads, and what the ephemeral ones it reads read
/// in turn (unless `stop` says to read it as it is).
pub fn reachable(ir: &Ir, model: RelId, stop: &dyn Fn(RelId) -> bool) -> Vec<RelId> {
    let mut out = Vec::new();
    let mut stack: Vec<RelId> = ir.relation(model).deps.iter().rev().copied().collect();
    while let Some(id) = stack.pop() {
        if out.contains(&id) {
            continue;
        }
        out.push(id);
        if is_ephemeral(ir, id) && !stop(id) {
            stack.extend(ir.relation(id).deps.iter().rev());
        }
    }
    out
}

fn is_ephemeral(ir: &Ir, id: RelId) -> bool {
    matches!(&ir.relation(id).kind, RelationKind::Model(m) if m.materialized == Materialized::Ephemeral)
}

#[derive(Debug)]
pub struct Given {
    pub relation: RelId,
    pub rows: Rows,
    pub span: Span,
}

/// Rows written in a unit test, or the CSV file that holds them.
#[derive(Debug)]
pub enum Rows {
    Inline(Vec<Row>),
    /// A path relative to the `.shop` file, read when the test runs.
    Csv {
        path: String,
        span: Span,
    },
}

/// A CSV field as a literal of type `ty`, or what is wrong with it. An
/// empty field is NULL.
pub fn text_value(ty: Type, text: &str) -> Result<Literal, &'static str> {
    use Type::*;
    if text.is_empty() {
        return Ok(Literal::Null);
    }
    match ty {
        Integer | BigInt => text
            .parse::<i64>()
            .map(Literal::Integer)
            .map_err(|_| "not an integer"),
        Numeric(_) | Double => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Literal::Decimal(text.trim_start_matches('+').into())),
            _ => Err("not a number"),
        },
        Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Literal::Bool(true)),
            "false" => Ok(Literal::Bool(false)),
            _ => Err("not `true` or `false`"),
        },
        Date if types::is_iso_date(text) => Ok(Literal::Date(text.into())),
        Date => Err("not a date like 2024-01-31"),
        Timestamp | TimestampTz if types::is_iso_timestamp(text) || types::is_iso_date(text) => {
            Ok(Literal::Timestamp(text.into()))
        }
        Timestamp | TimestampTz => Err("not a timestamp like 2024-01-31 12:00:00"),
        Text | Unknown | Null => Ok(Literal::Text(text.into())),
    }
}

/// One row: a typed value for some columns (the others are NULL).
#[derive(Debug)]
pub struct Row {
    pub span: Span,
    pub values: Vec<(ColumnId, Literal)>,
}

/// The branches of a union model.
#[derive(Debug)]
pub struct Union {
    /// `union` (duplicates removed) rather than `union all`.
    pub distinct: bool,
    /// Each branch, its alias being the relation's name.
    pub branches: Vec<Scan>,
    pub span: Span,
}

impl Union {
    /// The names of the branches, in order.
    pub fn names<'a>(&self, ir: &'a Ir) -> Vec<&'a str> {
        self.branches
            .iter()
            .map(|b| ir.relation(b.relation).name.as_str())
            .collect()
    }

    /// The column of each branch that an output column of the union reads.
    pub fn inputs<'a>(&'a self, ir: &'a Ir, name: &'a str) -> impl Iterator<Item = ColumnId> + 'a {
        self.branches
            .iter()
            .filter_map(move |b| ir.relation(b.relation).columns.get(name).copied())
    }
}

/// Where a model's setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Set on the model.
    Model,
    /// Its layer's default in shop.toml.
    Layer,
    /// The project's `[defaults]` in shop.toml.
    Project,
    /// Nothing set it: shopc's own default.
    BuiltIn,
}

/// A table partitioned by a date or timestamp column.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub column: ColumnId,
    /// `DAY`, `HOUR`, `MONTH` or `YEAR`.
    pub granularity: &'static str,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Materialized {
    View,
    Table,
    Ephemeral,
    Incremental(Incremental),
}

impl Materialized {
    pub fn kind(&self) -> MaterializedKind {
        match self {
            Materialized::View => MaterializedKind::View,
            Materialized::Table => MaterializedKind::Table,
            Materialized::Ephemeral => MaterializedKind::Ephemeral,
            Materialized::Incremental(_) => MaterializedKind::Incremental,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    pub strategy: IncrementalStrategy,
    /// Output columns of the merge key.
    pub unique_key: Vec<String>,
    /// Output column compared with the target's maximum to find new rows.
    pub since: Option<String>,
    /// Seconds re-read before the maximum, for late rows.
    pub lookback: Option<u64>,
    /// What to do when the model's columns no longer match the table's.
    pub on_schema_change: OnSchemaChange,
    pub span: Span,
}

/// `on_schema_change`: when an incremental model's columns differ from its
/// existing table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSchemaChange {
    /// Stop, and say what changed (the default).
    Fail,
    /// Add the new columns (NULL in old rows); keep the removed ones.
    AppendNewColumns,
    /// Add the new columns and drop the removed ones.
    SyncAllColumns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrementalStrategy {
    Merge,
    Append,
}

/// The query of a model: what `from`, `join`, `where`, `group by`, `having`
/// and `dedupe` say, with names bound.
#[derive(Debug, Default)]
pub struct Query {
    /// `scans[0]` is the `from`; each join adds one.
    pub scans: Vec<Scan>,
    pub joins: Vec<Join>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub dedupe: Option<Dedupe>,
}

impl Query {
    /// Calls `f` on every expression of the query's clauses (joins,
    /// `where`, `group by`, `having`, `dedupe`), not of its columns.
    pub fn walk_clauses<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        for join in &self.joins {
            join.on.walk(f);
        }
        for e in self.filter.iter().chain(&self.group_by).chain(&self.having) {
            e.walk(f);
        }
        if let Some(d) = &self.dedupe {
            d.keys.iter().for_each(|k| k.walk(f));
            d.order_by.walk(f);
        }
    }
}

#[derive(Debug)]
pub struct Scan {
    pub relation: RelId,
    pub alias: String,
    pub span: Span,
}

#[derive(Debug)]
pub struct Join {
    pub kind: JoinKind,
    /// `join one` / `join many`: the cardinality the author claims.
    pub claim: Option<(JoinClaim, Span)>,
    /// Index into [`Query::scans`].
    pub scan: usize,
    pub on: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct Dedupe {
    pub keys: Vec<Expr>,
    pub keep: Keep,
    pub order_by: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A column of a source table.
    Source,
    /// From a `columns` block.
    Column,
    Dimension,
    Measure,
    /// Added by the compiler (snapshot metadata).
    Meta,
}

#[derive(Debug)]
pub struct Column {
    pub relation: RelId,
    pub name: String,
    pub span: Span,
    pub ty: Type,
    pub role: Role,
    /// How a model computes it; `None` for source, snapshot and meta columns.
    pub expr: Option<Expr>,
    pub doc: Option<String>,
}

#[derive(Debug)]
pub struct Snapshot {
    pub from: RelId,
    /// The `unique_key` setting (the snapshot's name when it has none).
    pub key_span: Span,
    pub schema: Option<String>,
    pub unique_key: Vec<ColumnId>,
    pub strategy: SnapshotStrategy,
    pub hard_deletes: HardDeletes,
}

#[derive(Debug, PartialEq)]
pub enum SnapshotStrategy {
    /// Compare these columns (of the snapshot) between runs.
    Check(Vec<ColumnId>),
    CheckAll,
    /// Trust this timestamp column to change when a row changes.
    Timestamp(ColumnId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardDeletes {
    Ignore,
    Invalidate,
    NewRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestSeverity {
    Error,
    Warn,
}

#[derive(Debug)]
pub struct Test {
    pub kind: TestKind,
    pub severity: TestSeverity,
    pub span: Span,
}

/// The suffix of the tables a build writes beside the ones it replaces:
/// `orders__shopc_new` in emitted files, `orders__shopc_new_1a2b3c` in a
/// run (the run's own id, so that two runs never share one). No relation's
/// physical name may contain it (R011).
/// The most expression nodes one inlined call of a project's function may
/// make (T014): a parameter used twice copies its argument twice, so nested
/// calls could otherwise grow exponentially.
pub const MAX_EXPANSION: usize = 100_000;

pub const SCRATCH_SUFFIX: &str = "__shopc_new";

/// The hex digits of a run's id in its scratch names.
pub const RUN_ID_DIGITS: usize = 6;

/// The bytes a run's scratch suffix adds to a name: `__shopc_new_1a2b3c`.
pub const SCRATCH_SUFFIX_BYTES: usize = SCRATCH_SUFFIX.len() + 1 + RUN_ID_DIGITS;

/// The tests a model's `tests` block may call.
pub const TEST_NAMES: &[&str] = &["unique", "not_null", "accepted_values", "relationships"];

#[derive(Debug)]
pub enum TestKind {
    Unique(Vec<ColumnId>),
    NotNull(ColumnId),
    AcceptedValues {
        column: ColumnId,
        values: Vec<TestValue>,
    },
    Relationships {
        column: ColumnId,
        to: ColumnId,
    },
}

/// `reconcile NAME { … }`: the sums of several columns, each over its own
/// relation and filter, must be equal. Tested with the relation of the first
/// term, once every relation it reads is built.
#[derive(Debug)]
pub struct Reconcile {
    pub name: String,
    pub doc: Option<String>,
    pub span: Span,
    pub terms: Vec<ReconcileTerm>,
}

#[derive(Debug)]
pub struct ReconcileTerm {
    /// One scan (aliased by the relation's name) and the term's `where`.
    pub query: Query,
    pub column: ColumnId,
    /// The term as written, to name it in a failure.
    pub label: String,
    pub span: Span,
}

impl Reconcile {
    /// The relations the totals read, in term order, without repeats.
    pub fn reads(&self) -> Vec<RelId> {
        let mut reads = Vec::new();
        for term in &self.terms {
            let rel = term.query.scans[0].relation;
            if !reads.contains(&rel) {
                reads.push(rel);
            }
        }
        reads
    }
}

/// `fn name(param: type, …) -> type = body`: a typed scalar function of
/// the project. Each call is lowered to the body with the parameters bound
/// to the call's arguments (and cast to `ret` when the body's type is
/// narrower), so no later phase meets a call of one.
#[derive(Debug)]
pub struct Function {
    pub name: String,
    pub doc: Option<String>,
    pub params: Vec<(String, Type)>,
    pub ret: Type,
    pub name_span: Span,
    pub span: Span,
}

/// A var: its value is substituted where it is read (`var('name')`), so
/// no expression holds it; this is for the editor.
#[derive(Debug)]
pub struct Var {
    pub name: String,
    /// The value as TOML writes it: `"@shopco.test"`, `30`.
    pub value: String,
    /// Its key in `shop.toml` (a span of the project file, not of a
    /// `.shop` file); `None` when only `--vars` sets it.
    pub defined: Option<Span>,
    /// The name inside each `var('…')` that reads it.
    pub reads: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

// ------------------------------------------------------------------ expressions

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Integer(i64),
    Decimal(String),
    Text(String),
    Bool(bool),
    Null,
    Date(String),
    Timestamp(String),
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Literal(Literal),
    /// A column of one of the query's scans.
    Column {
        scan: usize,
        column: ColumnId,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Cast {
        expr: Box<Expr>,
        ty: Type,
        /// `try_cast`: NULL when the value does not convert.
        safe: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        arms: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Call(Call),
    Sql {
        text: String,
    },
    /// Stands for an expression that could not be resolved.
    Error,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub func: FuncId,
    pub args: Vec<Expr>,
    pub star: bool,
    pub distinct: bool,
    pub filter: Option<Box<Expr>>,
    pub over: Option<Window>,
}

#[derive(Debug, Clone)]
pub struct Window {
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<(Expr, bool, Option<bool>)>,
}

impl Expr {
    /// Calls `f` on this expression and every expression inside it.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_)
            | ExprKind::Column { .. }
            | ExprKind::Sql { .. }
            | ExprKind::Error => {}
            ExprKind::Unary { expr, .. }
            | ExprKind::IsNull { expr, .. }
            | ExprKind::Cast { expr, .. } => expr.walk(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            ExprKind::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|e| e.walk(f));
            }
            ExprKind::Like { expr, pattern, .. } => {
                expr.walk(f);
                pattern.walk(f);
            }
            ExprKind::Between {
                expr, low, high, ..
            } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            ExprKind::Case {
                operand,
                arms,
                otherwise,
            } => {
                operand.iter().for_each(|e| e.walk(f));
                for (when, then) in arms {
                    when.walk(f);
                    then.walk(f);
                }
                otherwise.iter().for_each(|e| e.walk(f));
            }
            ExprKind::Call(call) => {
                call.args.iter().for_each(|e| e.walk(f));
                call.filter.iter().for_each(|e| e.walk(f));
                if let Some(w) = &call.over {
                    w.partition_by.iter().for_each(|e| e.walk(f));
                    w.order_by.iter().for_each(|(e, _, _)| e.walk(f));
                }
            }
        }
    }

    /// True when both compute the same value the same way: equal up to
    /// spans. `group by date_trunc('month', o.ordered_at)` and an output
    /// `month = date_trunc('month', o.ordered_at)` are the same key.
    pub fn same(&self, other: &Expr) -> bool {
        use ExprKind as K;
        let all =
            |a: &[Expr], b: &[Expr]| a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.same(b));
        let opt = |a: &Option<Box<Expr>>, b: &Option<Box<Expr>>| match (a, b) {
            (Some(a), Some(b)) => a.same(b),
            (None, None) => true,
            _ => false,
        };
        match (&self.kind, &other.kind) {
            (K::Literal(a), K::Literal(b)) => a == b,
            (
                K::Column {
                    scan: s1,
                    column: c1,
                },
                K::Column {
                    scan: s2,
                    column: c2,
                },
            ) => s1 == s2 && c1 == c2,
            (K::Unary { op: o1, expr: e1 }, K::Unary { op: o2, expr: e2 }) => {
                o1 == o2 && e1.same(e2)
            }
            (
                K::Binary {
                    op: o1,
                    lhs: l1,
                    rhs: r1,
                },
                K::Binary {
                    op: o2,
                    lhs: l2,
                    rhs: r2,
                },
            ) => o1 == o2 && l1.same(l2) && r1.same(r2),
            (
                K::IsNull {
                    expr: e1,
                    negated: n1,
                },
                K::IsNull {
                    expr: e2,
                    negated: n2,
                },
            ) => n1 == n2 && e1.same(e2),
            (
                K::InList {
                    expr: e1,
                    list: l1,
                    negated: n1,
                },
                K::InList {
                    expr: e2,
                    list: l2,
                    negated: n2,
                },
            ) => n1 == n2 && e1.same(e2) && all(l1, l2),
            (
                K::Like {
                    expr: e1,
                    pattern: p1,
                    negated: n1,
                    case_insensitive: i1,
                },
                K::Like {
                    expr: e2,
                    pattern: p2,
                    negated: n2,
                    case_insensitive: i2,
                },
            ) => n1 == n2 && i1 == i2 && e1.same(e2) && p1.same(p2),
            (
                K::Between {
                    expr: e1,
                    low: l1,
                    high: h1,
                    negated: n1,
                },
                K::Between {
                    expr: e2,
                    low: l2,
                    high: h2,
                    negated: n2,
                },
            ) => n1 == n2 && e1.same(e2) && l1.same(l2) && h1.same(h2),
            (
                K::Cast {
                    expr: e1,
                    ty: t1,
                    safe: s1,
                },
                K::Cast {
                    expr: e2,
                    ty: t2,
                    safe: s2,
                },
            ) => t1 == t2 && s1 == s2 && e1.same(e2),
            (
                K::Case {
                    operand: o1,
                    arms: a1,
                    otherwise: w1,
                },
                K::Case {
                    operand: o2,
                    arms: a2,
                    otherwise: w2,
                },
            ) => {
                opt(o1, o2)
                    && opt(w1, w2)
                    && a1.len() == a2.len()
                    && a1
                        .iter()
                        .zip(a2)
                        .all(|((w1, t1), (w2, t2))| w1.same(w2) && t1.same(t2))
            }
            (K::Call(a), K::Call(b)) => {
                a.func == b.func
                    && a.star == b.star
                    && a.distinct == b.distinct
                    && all(&a.args, &b.args)
                    && opt(&a.filter, &b.filter)
                    && match (&a.over, &b.over) {
                        (None, None) => true,
                        (Some(w1), Some(w2)) => {
                            all(&w1.partition_by, &w2.partition_by)
                                && w1.order_by.len() == w2.order_by.len()
                                && w1.order_by.iter().zip(&w2.order_by).all(
                                    |((e1, d1, n1), (e2, d2, n2))| {
                                        d1 == d2 && n1 == n2 && e1.same(e2)
                                    },
                                )
                        }
                        _ => false,
                    }
            }
            (K::Sql { text: a }, K::Sql { text: b }) => a == b && self.ty == other.ty,
            _ => false,
        }
    }

    /// The direct sub-expressions (arguments of a call, not its filter or window).
    pub fn children(&self) -> Vec<&Expr> {
        use ExprKind as K;
        match &self.kind {
            K::Literal(_) | K::Column { .. } | K::Sql { .. } | K::Error => Vec::new(),
            K::Unary { expr, .. } | K::IsNull { expr, .. } | K::Cast { expr, .. } => vec![expr],
            K::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            K::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            K::Like { expr, pattern, .. } => vec![expr, pattern],
            K::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            K::Case {
                operand,
                arms,
                otherwise,
            } => operand
                .iter()
                .map(|o| &**o)
                .chain(arms.iter().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.iter().map(|o| &**o))
                .collect(),
            K::Call(call) => call.args.iter().collect(),
        }
    }

    /// In a query grouped by `keys`, the column references this expression
    /// reads row by row: outside every aggregate and window, and not inside
    /// a sub-expression that is itself a key.
    pub fn ungrouped_columns<'a>(&'a self, keys: &[Expr], out: &mut Vec<&'a Expr>) {
        if keys.iter().any(|k| k.same(self)) {
            return;
        }
        match &self.kind {
            ExprKind::Column { .. } => out.push(self),
            // Windows run after grouping: what they read outside aggregates
            // (arguments, partition and order keys) is read per group.
            ExprKind::Call(call) if call.over.is_some() => {
                let window = call.over.as_ref().expect("a window");
                let parts = call
                    .args
                    .iter()
                    .chain(&window.partition_by)
                    .chain(window.order_by.iter().map(|(e, _, _)| e));
                for part in parts {
                    part.ungrouped_columns(keys, out);
                }
            }
            ExprKind::Call(call) if call.func.func().kind == library::FuncKind::Aggregate => {}
            _ => {
                for child in self.children() {
                    child.ungrouped_columns(keys, out);
                }
            }
        }
    }

    /// The first aggregate call (outside any window) in this expression.
    pub fn find_aggregate(&self) -> Option<&Expr> {
        let mut found = None;
        self.walk(&mut |e| {
            if found.is_none()
                && let ExprKind::Call(call) = &e.kind
                && call.func.func().kind == library::FuncKind::Aggregate
                && call.over.is_none()
            {
                found = Some(e);
            }
        });
        found
    }

    /// True when the value does not depend on any row (literals only).
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |e| {
            if matches!(
                e.kind,
                ExprKind::Column { .. } | ExprKind::Call(_) | ExprKind::Sql { .. }
            ) {
                constant = false;
            }
        });
        constant
    }
}
