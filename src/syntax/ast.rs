//! The owned syntax tree of one `.shop` file. Nothing here knows about pest.

use crate::span::Span;

/// A name as written, with its span. Backtick-quoted names are stored unquoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// Documentation collected from `##` comments above an item.
pub type Doc = Option<String>;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Source(SourceDef),
    Model(ModelDef),
    Snapshot(SnapshotDef),
    Reconcile(ReconcileDef),
    Function(FnDef),
    Doc(DocDef),
    UnitTest(UnitTestDef),
}

impl Item {
    pub fn name(&self) -> &Ident {
        match self {
            Item::Source(s) => &s.name,
            Item::Model(m) => &m.name,
            Item::Snapshot(s) => &s.name,
            Item::Reconcile(r) => &r.name,
            Item::Function(f) => &f.name,
            Item::Doc(d) => &d.name,
            Item::UnitTest(t) => &t.name,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Item::Source(s) => s.span,
            Item::Model(m) => m.span,
            Item::Snapshot(s) => s.span,
            Item::Reconcile(r) => r.span,
            Item::Function(f) => f.span,
            Item::Doc(d) => d.span,
            Item::UnitTest(t) => t.span,
        }
    }
}

// ------------------------------------------------------------------ settings

/// `key = value`, value in TOML syntax extended with names and dotted paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: Ident,
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Value>),
    Table(Vec<(Ident, Value)>),
    /// A bare name or a dotted path: `customer_id`, `stg_customers.customer_id`.
    Path(Vec<Ident>),
}

impl ValueKind {
    /// What kind of value this is, in words, for diagnostics.
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::String(_) => "a string",
            ValueKind::Integer(_) => "an integer",
            ValueKind::Float(_) => "a number",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Array(_) => "an array",
            ValueKind::Table(_) => "an inline table",
            ValueKind::Path(_) => "a name",
        }
    }
}

// ------------------------------------------------------------------ sources

#[derive(Debug, Clone, PartialEq)]
pub struct SourceDef {
    pub doc: Doc,
    pub name: Ident,
    pub settings: Vec<Setting>,
    pub tables: Vec<TableDef>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub doc: Doc,
    pub name: Ident,
    pub settings: Vec<Setting>,
    pub columns: Vec<ColumnDecl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    pub doc: Doc,
    pub name: Ident,
    pub ty: TypeName,
    pub span: Span,
}

/// A type as written: `numeric(12, 2)`, `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    pub name: Ident,
    pub params: Vec<u32>,
    pub span: Span,
}

// ------------------------------------------------------------------ models

#[derive(Debug, Clone, PartialEq)]
pub struct ModelDef {
    pub doc: Doc,
    pub name: Ident,
    pub settings: Vec<Setting>,
    pub clauses: Vec<Clause>,
    pub blocks: Vec<Block>,
    pub span: Span,
}

/// `range(0, 3650)` or `date_spine('day', from, to)`: the rows of a series,
/// read like a relation.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub kind: SeriesKind,
    pub args: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    Range,
    DateSpine,
}

impl Series {
    /// The series' function name as a relation reference (`range`): what
    /// an alias defaults to.
    pub fn name(&self) -> RelationRef {
        let name = match self.kind {
            SeriesKind::Range => "range",
            SeriesKind::DateSpine => "date_spine",
        };
        RelationRef {
            parts: vec![Ident {
                name: name.into(),
                span: self.span,
            }],
            span: self.span,
        }
    }
}

/// `source.table` or `model`.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationRef {
    pub parts: Vec<Ident>,
    pub span: Span,
}

impl RelationRef {
    pub fn dotted(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    /// `full join`: the rows of both sides, matched or not.
    Full,
}

/// The cardinality an author claims for a join: `join one …`, `join many …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinClaim {
    One,
    Many,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Latest,
    Earliest,
}

/// The query clauses of a model, in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    From {
        /// For a series, its name (`range`), which the alias defaults to.
        relation: RelationRef,
        series: Option<Series>,
        alias: Option<Ident>,
        span: Span,
    },
    Join {
        kind: JoinKind,
        claim: Option<(JoinClaim, Span)>,
        relation: RelationRef,
        series: Option<Series>,
        alias: Option<Ident>,
        on: Expr,
        span: Span,
    },
    Where {
        condition: Expr,
        span: Span,
    },
    GroupBy {
        keys: Vec<Expr>,
        span: Span,
    },
    Having {
        condition: Expr,
        span: Span,
    },
    Dedupe {
        keys: Vec<Expr>,
        keep: Keep,
        order_by: Expr,
        span: Span,
    },
    /// `union all (a, b)` (`distinct` for `union`): the model is the rows of
    /// these relations.
    Union {
        distinct: bool,
        relations: Vec<RelationRef>,
        span: Span,
    },
}

impl Clause {
    pub fn span(&self) -> Span {
        match self {
            Clause::From { span, .. }
            | Clause::Join { span, .. }
            | Clause::Where { span, .. }
            | Clause::GroupBy { span, .. }
            | Clause::Having { span, .. }
            | Clause::Dedupe { span, .. }
            | Clause::Union { span, .. } => *span,
        }
    }

    pub fn keyword(&self) -> &'static str {
        match self {
            Clause::From { .. } => "from",
            Clause::Join { .. } => "join",
            Clause::Where { .. } => "where",
            Clause::GroupBy { .. } => "group by",
            Clause::Having { .. } => "having",
            Clause::Dedupe { .. } => "dedupe",
            Clause::Union { .. } => "union",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockKind {
    Columns,
    Dimensions,
    Measures,
}

impl BlockKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::Columns => "columns",
            BlockKind::Dimensions => "dimensions",
            BlockKind::Measures => "measures",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Output {
        kind: BlockKind,
        columns: Vec<Output>,
        span: Span,
    },
    Tests {
        tests: Vec<TestCall>,
        span: Span,
    },
}

/// An item of `columns`, `dimensions` or `measures`.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Column(OutputColumn),
    Star(StarColumns),
}

/// `alias.*`, with the columns left out (`except (a, b)`) and renamed
/// (`rename (a as b)`).
#[derive(Debug, Clone, PartialEq)]
pub struct StarColumns {
    pub alias: Ident,
    pub except: Vec<Ident>,
    pub rename: Vec<(Ident, Ident)>,
    pub span: Span,
}

/// `name = expr` inside `columns`, `dimensions` or `measures`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub doc: Doc,
    pub name: Ident,
    pub expr: Expr,
    pub span: Span,
}

/// `accepted_values(segment, ["vip", "regular"], severity = "warn")`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCall {
    pub name: Ident,
    pub args: Vec<Value>,
    pub named: Vec<(Ident, Value)>,
    pub span: Span,
}

// ------------------------------------------------------------------ snapshots

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotDef {
    pub doc: Doc,
    pub name: Ident,
    pub from: Option<RelationRef>,
    pub settings: Vec<Setting>,
    pub span: Span,
}

// ------------------------------------------------------------------ reconciliations

/// `unit_test NAME { model = …  given { relation = rows }  expect = rows }`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTestDef {
    pub doc: Doc,
    pub name: Ident,
    /// `model`, `expect`, `ordered`.
    pub settings: Vec<Setting>,
    /// Each relation given, and its rows (an array of inline tables, or a
    /// CSV file's path).
    pub given: Vec<(RelationRef, Value)>,
    pub span: Span,
}

/// `reconcile NAME { relation.column [where condition] … }`: totals that
/// must agree.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileDef {
    pub doc: Doc,
    pub name: Ident,
    pub terms: Vec<ReconcileTerm>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileTerm {
    /// The relation's name parts, then the column.
    pub path: Vec<Ident>,
    pub filter: Option<Expr>,
    pub span: Span,
}

// ------------------------------------------------------------------ doc blocks

/// `## text…` above `doc NAME`: a description that doc comments use as
/// `doc(NAME)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocDef {
    pub text: String,
    pub name: Ident,
    pub span: Span,
}

// ------------------------------------------------------------------ functions

/// `fn name(param: type, …) -> type = body`: a typed scalar function,
/// inlined at each call.
#[derive(Debug, Clone, PartialEq)]
pub struct FnDef {
    pub doc: Doc,
    pub name: Ident,
    pub params: Vec<FnParam>,
    pub ret: TypeName,
    pub body: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FnParam {
    pub name: Ident,
    pub ty: TypeName,
}

// ------------------------------------------------------------------ expressions

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::NotEq => "!=",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::Concat => "||",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Integer(i64),
    /// A number with a fraction or exponent, kept as written.
    Decimal(String),
    String(String),
    Bool(bool),
    Null,
    Date(String),
    Timestamp(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Column {
        qualifier: Option<Ident>,
        name: Ident,
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
        ty: TypeName,
        /// `try_cast`: NULL when the value does not convert.
        safe: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        arms: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Call(Call),
    /// The escape hatch: `sql("...") : numeric`.
    Sql {
        text: String,
        ty: TypeName,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Expr>,
    /// `count(*)`
    pub star: bool,
    pub distinct: bool,
    pub filter: Option<Box<Expr>>,
    pub over: Option<Window>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<SortKey>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: Option<bool>,
}

/// A fully parenthesised rendering, used by parser tests and `shopc debug ast`
/// to show exactly how an expression was grouped.
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ExprKind::Literal(lit) => match lit {
                Literal::Integer(n) => write!(f, "{n}"),
                Literal::Decimal(d) => write!(f, "{d}"),
                Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
                Literal::Bool(b) => write!(f, "{b}"),
                Literal::Null => write!(f, "null"),
                Literal::Date(s) => write!(f, "date '{s}'"),
                Literal::Timestamp(s) => write!(f, "timestamp '{s}'"),
            },
            ExprKind::Column { qualifier, name } => match qualifier {
                Some(q) => write!(f, "{}.{}", q.name, name.name),
                None => write!(f, "{}", name.name),
            },
            ExprKind::Unary { op, expr } => match op {
                UnaryOp::Not => write!(f, "(not {expr})"),
                UnaryOp::Neg => write!(f, "(-{expr})"),
            },
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({lhs} {} {rhs})", op.symbol()),
            ExprKind::IsNull { expr, negated } => {
                write!(f, "({expr} is {}null)", if *negated { "not " } else { "" })
            }
            ExprKind::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "({expr} {}in (", if *negated { "not " } else { "" })?;
                write_list(f, list)?;
                write!(f, "))")
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => write!(
                f,
                "({expr} {}{} {pattern})",
                if *negated { "not " } else { "" },
                if *case_insensitive { "ilike" } else { "like" }
            ),
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "({expr} {}between {low} and {high})",
                if *negated { "not " } else { "" }
            ),
            ExprKind::Cast { expr, ty, safe } => {
                let word = if *safe { "try_cast" } else { "cast" };
                write!(f, "{word}({expr} as {ty})")
            }
            ExprKind::Case {
                operand,
                arms,
                otherwise,
            } => {
                write!(f, "(case")?;
                if let Some(operand) = operand {
                    write!(f, " {operand}")?;
                }
                for (when, then) in arms {
                    write!(f, " when {when} then {then}")?;
                }
                if let Some(otherwise) = otherwise {
                    write!(f, " else {otherwise}")?;
                }
                write!(f, " end)")
            }
            ExprKind::Call(call) => {
                write!(f, "{}(", call.name.name)?;
                if call.star {
                    write!(f, "*")?;
                }
                if call.distinct {
                    write!(f, "distinct ")?;
                }
                write_list(f, &call.args)?;
                write!(f, ")")?;
                if let Some(filter) = &call.filter {
                    write!(f, " filter (where {filter})")?;
                }
                if let Some(w) = &call.over {
                    write!(f, " over (")?;
                    if !w.partition_by.is_empty() {
                        write!(f, "partition by ")?;
                        write_list(f, &w.partition_by)?;
                    }
                    if !w.order_by.is_empty() {
                        if !w.partition_by.is_empty() {
                            write!(f, " ")?;
                        }
                        write!(f, "order by ")?;
                        for (i, key) in w.order_by.iter().enumerate() {
                            if i > 0 {
                                write!(f, ", ")?;
                            }
                            write!(f, "{}", key.expr)?;
                            if key.descending {
                                write!(f, " desc")?;
                            }
                            match key.nulls_first {
                                Some(true) => write!(f, " nulls first")?,
                                Some(false) => write!(f, " nulls last")?,
                                None => {}
                            }
                        }
                    }
                    write!(f, ")")?;
                }
                Ok(())
            }
            ExprKind::Sql { text, ty } => write!(f, "sql({text:?}) : {ty}"),
        }
    }
}

impl std::fmt::Display for TypeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name.name)?;
        if !self.params.is_empty() {
            let params: Vec<String> = self.params.iter().map(u32::to_string).collect();
            write!(f, "({})", params.join(", "))?;
        }
        Ok(())
    }
}

fn write_list(f: &mut std::fmt::Formatter<'_>, exprs: &[Expr]) -> std::fmt::Result {
    for (i, e) in exprs.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}
