//! Resolution and typing: ASTs → [`Ir`].
//!
//! Three passes: declare every relation (so references resolve across files
//! in any order; [`declare`]), bind each model's `from`/`join` to build the
//! dependency graph and order it ([`deps`]), then lower models and snapshots
//! in that order so that each one sees the typed columns of what it reads
//! ([`models`], with [`expr`] for expressions and [`settings`] for the
//! settings of items); then tests ([`data_tests`]) and reconciliations
//! ([`reconcile`]).

mod data_tests;
mod declare;
mod deps;
mod expr;
mod functions;
mod models;
mod reconcile;
mod settings;
mod unit_tests;

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use petgraph::graph::{DiGraph, NodeIndex};

use super::library::{self, DATE_PARTS, FuncKind, Param, Ret};
use super::types::{TYPE_NAMES, Type, is_iso_date, is_iso_timestamp};
use super::*;
use crate::config::{LayerConfig, ProjectConfig, parse_duration};
use crate::problem::{NameKind, Problem};
use crate::span::{FileId, SourceDb, Span};
use crate::syntax::ast::{self, Clause, ValueKind};

/// Resolves and types the parsed files of a project.
///
/// `broken` names items whose definitions failed to parse: references to them
/// are not reported as unknown a second time.
pub fn lower(
    db: &SourceDb,
    config: &ProjectConfig,
    files: &[(FileId, ast::File)],
    broken: &[String],
) -> (Ir, Vec<Problem>) {
    let mut lowerer = Lowerer {
        db,
        config,
        ir: Ir::default(),
        problems: Vec::new(),
        broken: broken.iter().map(String::as_str).collect(),
        models: Vec::new(),
        snapshots: Vec::new(),
        reconciles: Vec::new(),
        unit_tests: Vec::new(),
        functions: IndexMap::new(),
        fn_stack: Vec::new(),
        doc_blocks: IndexMap::new(),
        ref_spans: HashMap::new(),
        pending: HashMap::new(),
    };
    lowerer.ir.vars = config
        .vars
        .iter()
        .map(|(name, value)| Var {
            name: name.clone(),
            value: value.to_string(),
            defined: config.var_spans.get(name).copied(),
            reads: Vec::new(),
        })
        .collect();
    // Doc blocks first: every description declared may use them.
    for (_, ast) in files {
        for item in &ast.items {
            if let ast::Item::Doc(block) = item {
                lowerer.declare_doc(block);
            }
        }
    }
    for (file, ast) in files {
        for item in &ast.items {
            lowerer.declare(*file, item);
        }
    }
    lowerer.check_functions();
    lowerer.bind_dependencies();
    lowerer.order();
    for id in lowerer.ir.order.clone() {
        lowerer.lower_relation(id);
    }
    lowerer.lower_tests();
    lowerer.lower_reconciles();
    lowerer.lower_unit_tests();
    (lowerer.ir, lowerer.problems)
}

struct Lowerer<'a> {
    db: &'a SourceDb,
    config: &'a ProjectConfig,
    ir: Ir,
    problems: Vec<Problem>,
    broken: HashSet<&'a str>,
    models: Vec<(RelId, &'a ast::ModelDef, Option<String>)>,
    snapshots: Vec<(RelId, &'a ast::SnapshotDef)>,
    reconciles: Vec<&'a ast::ReconcileDef>,
    unit_tests: Vec<&'a ast::UnitTestDef>,
    /// The project's functions by lowercase name ([`functions`]).
    functions: IndexMap<String, functions::FnEntry<'a>>,
    /// The functions whose bodies are being checked, innermost last.
    fn_stack: Vec<usize>,
    /// Doc blocks by name: the text of `doc NAME`.
    doc_blocks: IndexMap<String, &'a ast::DocDef>,
    /// Where relation A first reads relation B, for cycle reports.
    ref_spans: HashMap<(RelId, RelId), Span>,
    /// Where the definition of each model or snapshot waits to be lowered.
    pending: HashMap<RelId, Pending>,
}

/// Index into `Lowerer::models` or `Lowerer::snapshots`.
#[derive(Clone, Copy)]
enum Pending {
    Model(usize),
    Snapshot(usize),
}

/// Where an expression stands, which decides what it may contain.
#[derive(Clone, Copy)]
struct Cx {
    /// `Some(where)` when aggregates are not allowed here.
    no_aggregate: Option<&'static str>,
    window: bool,
}

const ROW_CX: fn(&'static str) -> Cx = |place| Cx {
    no_aggregate: Some(place),
    window: false,
};
const OUTPUT_CX: Cx = Cx {
    no_aggregate: None,
    window: true,
};

/// The relations an expression can see: the scans of `from` and the joins so far.
struct Scope<'s> {
    scans: &'s [Scan],
    /// When the query itself is broken, unresolved names are not reported.
    silent: bool,
    /// In a function's body: its parameters, the only names it sees.
    params: Option<&'s functions::Bound>,
}

const MODEL_SETTINGS: &[&str] = &[
    "layer",
    "materialized",
    "schema",
    "grain",
    "tags",
    "cluster_by",
    "partition_by",
    "non_additive",
    "semi_additive",
];
const SOURCE_SETTINGS: &[&str] = &["schema", "loaded_at", "freshness"];
const TABLE_SETTINGS: &[&str] = &["expect_key", "identifier", "loaded_at", "freshness"];
const SNAPSHOT_SETTINGS: &[&str] = &["unique_key", "strategy", "hard_deletes", "schema"];
const INCREMENTAL_KEYS: &[&str] = &[
    "unique_key",
    "since",
    "lookback",
    "strategy",
    "on_schema_change",
];

/// Every setting each kind of item accepts: the lists C003 checks against,
/// and the one `docs/codes/C003.md` shows (a test keeps it in step).
pub const SETTINGS: &[(&str, &[&str])] = &[
    ("model", MODEL_SETTINGS),
    ("source", SOURCE_SETTINGS),
    ("source table", TABLE_SETTINGS),
    ("snapshot", SNAPSHOT_SETTINGS),
    ("`materialized = { incremental = { … } }`", INCREMENTAL_KEYS),
    ("unit test", unit_tests::UNIT_TEST_SETTINGS),
];

/// The closest candidate within a small edit distance, for "did you mean".
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<String> {
    let max = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, _)| *d <= max)
        .min()
        .map(|(_, c)| c.to_string())
}

/// An integer written out, `2` or `-1`, as `round`'s digits must be; an
/// argument that is already an error is not reported again.
fn is_integer_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Literal(Literal::Integer(_)) => true,
        ExprKind::Unary {
            op: ast::UnaryOp::Neg,
            expr,
        } => matches!(expr.kind, ExprKind::Literal(Literal::Integer(_))),
        _ => e.ty.is_wildcard(),
    }
}

impl<'a> Lowerer<'a> {
    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}
