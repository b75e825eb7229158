//! Resolution and typing: ASTs → [`Ir`].
//!
//! Three passes: declare every relation (so references resolve across files
//! in any order), bind each model's `from`/`join` to build the dependency
//! graph and order it, then lower models and snapshots in that order so that
//! each one sees the typed columns of what it reads.

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
        ref_spans: HashMap::new(),
        pending: HashMap::new(),
    };
    for (file, ast) in files {
        for item in &ast.items {
            lowerer.declare(*file, item);
        }
    }
    lowerer.bind_dependencies();
    lowerer.order();
    for id in lowerer.ir.order.clone() {
        lowerer.lower_relation(id);
    }
    lowerer.lower_tests();
    lowerer.lower_reconciles();
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

    // ------------------------------------------------------------ pass 1: declare

    fn add_relation(
        &mut self,
        name: String,
        name_span: Span,
        span: Span,
        doc: Option<String>,
        kind: RelationKind,
    ) -> Option<RelId> {
        if let Some(&existing) = self.ir.by_name.get(&name) {
            let first = self.ir.relation(existing).name_span;
            self.push(Problem::Duplicate {
                kind: NameKind::Relation,
                name,
                first,
                second: name_span,
            });
            return None;
        }
        let physical = match &kind {
            RelationKind::Table(t) => t.identifier.as_str(),
            _ => name.as_str(),
        };
        if physical
            .to_ascii_lowercase()
            .contains(super::SCRATCH_SUFFIX)
        {
            self.push(Problem::ReservedName {
                span: name_span,
                name: physical.to_string(),
            });
        }
        let id = RelId(self.ir.relations.len() as u32);
        self.ir.by_name.insert(name.clone(), id);
        self.ir.relations.push(Relation {
            id,
            name,
            name_span,
            span,
            doc,
            kind,
            columns: IndexMap::new(),
            deps: Vec::new(),
            complete: true,
        });
        Some(id)
    }

    fn add_column(&mut self, column: Column) -> Option<ColumnId> {
        let id = ColumnId(self.ir.columns.len() as u32);
        let relation = &mut self.ir.relations[column.relation.index()];
        if let Some(&existing) = relation.columns.get(&column.name) {
            let first = self.ir.columns[existing.index()].span;
            self.push(Problem::Duplicate {
                kind: NameKind::Column,
                name: column.name,
                first,
                second: column.span,
            });
            return None;
        }
        relation.columns.insert(column.name.clone(), id);
        self.ir.columns.push(column);
        Some(id)
    }

    fn declare(&mut self, file: FileId, item: &'a ast::Item) {
        match item {
            ast::Item::Source(source) => self.declare_source(source),
            ast::Item::Model(model) => {
                let placeholder = RelationKind::Model(Box::new(Model {
                    layer: None,
                    materialized: Materialized::View,
                    materialized_from: Origin::BuiltIn,
                    schema: None,
                    tags: Vec::new(),
                    grain: None,
                    cluster_by: Vec::new(),
                    cluster_by_span: None,
                    partition_by: None,
                    non_additive: Vec::new(),
                    semi_additive: Vec::new(),
                    query: Query::default(),
                    tests: Vec::new(),
                }));
                if let Some(id) = self.add_relation(
                    model.name.name.clone(),
                    model.name.span,
                    model.span,
                    model.doc.clone(),
                    placeholder,
                ) {
                    let hint = self.layer_from_path(file);
                    self.pending.insert(id, Pending::Model(self.models.len()));
                    self.models.push((id, model, hint));
                }
            }
            ast::Item::Snapshot(snapshot) => {
                let placeholder = RelationKind::Snapshot(Snapshot {
                    from: RelId(u32::MAX),
                    key_span: snapshot.name.span,
                    schema: None,
                    unique_key: Vec::new(),
                    strategy: SnapshotStrategy::CheckAll,
                    hard_deletes: HardDeletes::Ignore,
                });
                if let Some(id) = self.add_relation(
                    snapshot.name.name.clone(),
                    snapshot.name.span,
                    snapshot.span,
                    snapshot.doc.clone(),
                    placeholder,
                ) {
                    self.pending
                        .insert(id, Pending::Snapshot(self.snapshots.len()));
                    self.snapshots.push((id, snapshot));
                }
            }
            ast::Item::Reconcile(reconcile) => {
                if let Some(first) = self
                    .reconciles
                    .iter()
                    .find(|r| r.name.name == reconcile.name.name)
                {
                    self.push(Problem::Duplicate {
                        kind: NameKind::Reconcile,
                        name: reconcile.name.name.clone(),
                        first: first.name.span,
                        second: reconcile.name.span,
                    });
                } else {
                    self.reconciles.push(reconcile);
                }
            }
        }
    }

    /// A model in `models/staging/x.shop` is in layer `staging` unless it says otherwise.
    fn layer_from_path(&self, file: FileId) -> Option<String> {
        let path = &self.db.get(file).path;
        path.split(['/', '\\'])
            .rev()
            .skip(1)
            .find(|dir| self.config.layers.contains_key(*dir))
            .map(str::to_string)
    }

    fn declare_source(&mut self, def: &'a ast::SourceDef) {
        let settings = self.settings(&def.settings, "source", SOURCE_SETTINGS);
        let schema = settings
            .get("schema")
            .and_then(|v| self.string(v, "schema"))
            .unwrap_or_else(|| def.name.name.clone());
        let loaded_at = settings
            .get("loaded_at")
            .and_then(|v| self.name(v, "loaded_at"));
        let freshness = settings.get("freshness").and_then(|v| self.freshness(v));
        let source_id = SourceId(self.ir.sources.len() as u32);
        if let Some(existing) = self.ir.sources.iter().find(|s| s.name == def.name.name) {
            let first = existing.span;
            self.push(Problem::Duplicate {
                kind: NameKind::Source,
                name: def.name.name.clone(),
                first,
                second: def.name.span,
            });
            return;
        }
        let mut tables = Vec::new();
        for table in &def.tables {
            let table_settings = self.settings(&table.settings, "source table", TABLE_SETTINGS);
            let name = format!("{}.{}", def.name.name, table.name.name);
            let identifier = table_settings
                .get("identifier")
                .and_then(|v| self.string(v, "identifier"))
                .unwrap_or_else(|| table.name.name.clone());
            let kind = RelationKind::Table(SourceTable {
                source: source_id,
                schema: schema.clone(),
                identifier,
                expect_key: Vec::new(),
                loaded_at: None,
                freshness: table_settings
                    .get("freshness")
                    .and_then(|v| self.freshness(v))
                    .or(freshness),
            });
            let Some(rel) =
                self.add_relation(name, table.name.span, table.span, table.doc.clone(), kind)
            else {
                continue;
            };
            for column in &table.columns {
                let ty = self.type_name(&column.ty);
                self.add_column(Column {
                    relation: rel,
                    name: column.name.name.clone(),
                    span: column.name.span,
                    ty,
                    role: Role::Source,
                    expr: None,
                    doc: column.doc.clone(),
                });
            }
            let expect_key = table_settings
                .get("expect_key")
                .map(|v| self.column_list(rel, v, "expect_key"))
                .unwrap_or_default();
            let table_loaded_at = table_settings
                .get("loaded_at")
                .and_then(|v| self.name(v, "loaded_at"))
                .or_else(|| loaded_at.clone());
            let loaded_at_id =
                table_loaded_at.and_then(|(name, span)| self.output_column(rel, &name, span));
            if let RelationKind::Table(t) = &mut self.ir.relations[rel.index()].kind {
                t.expect_key = expect_key;
                t.loaded_at = loaded_at_id;
            }
            tables.push(rel);
        }
        self.ir.sources.push(Source {
            name: def.name.name.clone(),
            schema,
            doc: def.doc.clone(),
            tables,
            span: def.name.span,
        });
    }

    // ------------------------------------------------------------ settings helpers

    /// Checks keys against `known`, reports duplicates, and returns the values by key.
    fn settings(
        &mut self,
        settings: &'a [ast::Setting],
        item: &'static str,
        known: &'static [&'static str],
    ) -> IndexMap<&'a str, &'a ast::Value> {
        let mut out: IndexMap<&str, &ast::Value> = IndexMap::new();
        let mut spans: HashMap<&str, Span> = HashMap::new();
        for setting in settings {
            let key = setting.key.name.as_str();
            if !known.contains(&key) {
                self.push(Problem::UnknownSetting {
                    span: setting.key.span,
                    key: key.to_string(),
                    item,
                    known,
                    suggestion: suggest(key, known.iter().copied()),
                });
                continue;
            }
            if let Some(first) = spans.get(key) {
                self.push(Problem::DuplicateSetting {
                    key: key.to_string(),
                    first: *first,
                    second: setting.key.span,
                });
                continue;
            }
            spans.insert(key, setting.key.span);
            out.insert(key, &setting.value);
        }
        out
    }

    fn invalid(&mut self, value: &ast::Value, key: &str, expected: &str) {
        self.push(Problem::InvalidSetting {
            span: value.span,
            key: key.to_string(),
            expected: expected.to_string(),
            found: value.kind.describe().to_string(),
        });
    }

    fn string(&mut self, value: &ast::Value, key: &str) -> Option<String> {
        match &value.kind {
            ValueKind::String(s) => Some(s.clone()),
            _ => {
                self.invalid(value, key, "a string");
                None
            }
        }
    }

    /// A bare name (not dotted).
    fn name(&mut self, value: &ast::Value, key: &str) -> Option<(String, Span)> {
        match &value.kind {
            ValueKind::Path(parts) if parts.len() == 1 => {
                Some((parts[0].name.clone(), parts[0].span))
            }
            ValueKind::String(s) => Some((s.clone(), value.span)),
            _ => {
                self.invalid(value, key, "a column name");
                None
            }
        }
    }

    /// A name or an array of names.
    fn names(&mut self, value: &ast::Value, key: &str) -> Vec<(String, Span)> {
        match &value.kind {
            ValueKind::Array(items) => items.iter().filter_map(|v| self.name(v, key)).collect(),
            _ => self.name(value, key).into_iter().collect(),
        }
    }

    fn column_list(&mut self, rel: RelId, value: &ast::Value, key: &str) -> Vec<ColumnId> {
        self.names(value, key)
            .into_iter()
            .filter_map(|(name, span)| self.output_column(rel, &name, span))
            .collect()
    }

    fn output_column(&mut self, rel: RelId, name: &str, span: Span) -> Option<ColumnId> {
        let relation = self.ir.relation(rel);
        if let Some(id) = relation.columns.get(name) {
            return Some(*id);
        }
        if relation.complete {
            let suggestion = suggest(name, relation.columns.keys().map(String::as_str));
            let relation = relation.name.clone();
            self.push(Problem::UnknownColumn {
                span,
                name: name.to_string(),
                relation,
                suggestion,
            });
        }
        None
    }

    fn duration(&mut self, value: &ast::Value, key: &str) -> Option<u64> {
        let text = self.string(value, key)?;
        let seconds = parse_duration(&text);
        if seconds.is_none() {
            self.invalid_text(
                value,
                key,
                "a duration such as \"12h\" or \"3 days\"",
                &text,
            );
        }
        seconds
    }

    fn invalid_text(&mut self, value: &ast::Value, key: &str, expected: &str, found: &str) {
        self.push(Problem::InvalidSetting {
            span: value.span,
            key: key.to_string(),
            expected: expected.to_string(),
            found: format!("\"{found}\""),
        });
    }

    /// An inline table whose keys must all be in `known`.
    fn table(
        &mut self,
        value: &'a ast::Value,
        key: &str,
        known: &'static [&'static str],
    ) -> Option<IndexMap<&'a str, &'a ast::Value>> {
        let ValueKind::Table(entries) = &value.kind else {
            self.invalid(value, key, "an inline table `{ ... }`");
            return None;
        };
        let mut out = IndexMap::new();
        for (k, v) in entries {
            if !known.contains(&k.name.as_str()) {
                self.push(Problem::UnknownSetting {
                    span: k.span,
                    key: format!("{key}.{}", k.name),
                    item: "setting table",
                    known,
                    suggestion: suggest(&k.name, known.iter().copied()),
                });
            } else if out.insert(k.name.as_str(), v).is_some() {
                let first = entries
                    .iter()
                    .find(|(e, _)| e.name == k.name)
                    .map_or(k.span, |(e, _)| e.span);
                self.push(Problem::DuplicateSetting {
                    key: k.name.clone(),
                    first,
                    second: k.span,
                });
            }
        }
        Some(out)
    }

    fn freshness(&mut self, value: &'a ast::Value) -> Option<Freshness> {
        let table = self.table(value, "freshness", &["warn_after", "error_after"])?;
        Some(Freshness {
            warn_after: table
                .get("warn_after")
                .and_then(|v| self.duration(v, "warn_after")),
            error_after: table
                .get("error_after")
                .and_then(|v| self.duration(v, "error_after")),
        })
    }

    fn type_name(&mut self, ty: &ast::TypeName) -> Type {
        match Type::from_name(&ty.name.name, &ty.params) {
            Ok(t) => t,
            Err("unknown type") => {
                self.push(Problem::UnknownType {
                    span: ty.name.span,
                    name: ty.name.name.clone(),
                    suggestion: suggest(&ty.name.name, TYPE_NAMES.iter().copied()),
                });
                Type::Unknown
            }
            Err(reason) => {
                self.push(Problem::InvalidLiteral {
                    span: ty.span,
                    reason: reason.to_string(),
                });
                Type::Unknown
            }
        }
    }

    // ------------------------------------------------------------ pass 2: dependencies

    fn resolve_relation(&mut self, relation: &ast::RelationRef) -> Option<RelId> {
        let name = relation.dotted();
        if let Some(id) = self.ir.by_name.get(&name) {
            return Some(*id);
        }
        let head = relation
            .parts
            .first()
            .map(|p| p.name.as_str())
            .unwrap_or("");
        if !self.broken.contains(name.as_str()) && !self.broken.contains(head) {
            let suggestion = suggest(&name, self.ir.by_name.keys().map(String::as_str));
            self.push(Problem::UnknownRelation {
                span: relation.span,
                name,
                suggestion,
            });
        }
        None
    }

    fn bind_dependencies(&mut self) {
        let models = std::mem::take(&mut self.models);
        for (id, def, _) in &models {
            for clause in &def.clauses {
                if let Clause::From { relation, .. } | Clause::Join { relation, .. } = clause
                    && let Some(dep) = self.resolve_relation(relation)
                {
                    self.add_dep(*id, dep, relation.span);
                }
            }
        }
        self.models = models;
        let snapshots = std::mem::take(&mut self.snapshots);
        for (id, def) in &snapshots {
            if let Some(from) = &def.from
                && let Some(dep) = self.resolve_relation(from)
            {
                self.add_dep(*id, dep, from.span);
            }
        }
        self.snapshots = snapshots;
    }

    fn add_dep(&mut self, rel: RelId, dep: RelId, span: Span) {
        self.ref_spans.entry((rel, dep)).or_insert(span);
        let deps = &mut self.ir.relations[rel.index()].deps;
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }

    /// Orders relations so that each comes after what it reads; reports cycles.
    fn order(&mut self) {
        let n = self.ir.relations.len();
        let mut graph = DiGraph::<(), ()>::with_capacity(n, n);
        for _ in 0..n {
            graph.add_node(());
        }
        for relation in &self.ir.relations {
            for dep in &relation.deps {
                graph.add_edge(
                    NodeIndex::new(relation.id.index()),
                    NodeIndex::new(dep.index()),
                    (),
                );
            }
        }
        // Tarjan yields components in reverse topological order of the
        // "reads" edges: what is read comes first.
        for component in petgraph::algo::tarjan_scc(&graph) {
            let first = RelId(component[0].index() as u32);
            let cyclic = component.len() > 1 || self.ir.relation(first).deps.contains(&first);
            if !cyclic {
                self.ir.order.push(first);
                continue;
            }
            let members: HashSet<RelId> =
                component.iter().map(|n| RelId(n.index() as u32)).collect();
            let start = *members.iter().min().expect("non-empty component");
            let path = self.cycle_path(start, &members);
            let path = path
                .iter()
                .enumerate()
                .map(|(i, rel)| {
                    let next = path[(i + 1) % path.len()];
                    let span = self
                        .ref_spans
                        .get(&(*rel, next))
                        .copied()
                        .unwrap_or(self.ir.relation(*rel).name_span);
                    (self.ir.relation(*rel).name.clone(), span)
                })
                .collect();
            self.push(Problem::Cycle { path });
            for member in members {
                self.ir.relations[member.index()].complete = false;
            }
        }
    }

    /// A shortest cycle through `start` inside one strongly connected component.
    fn cycle_path(&self, start: RelId, members: &HashSet<RelId>) -> Vec<RelId> {
        let mut previous: HashMap<RelId, RelId> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(rel) = queue.pop_front() {
            for dep in &self.ir.relation(rel).deps {
                if *dep == start {
                    let mut path = vec![rel];
                    let mut cursor = rel;
                    while cursor != start {
                        cursor = previous[&cursor];
                        path.push(cursor);
                    }
                    path.reverse();
                    return path;
                }
                if members.contains(dep) && !previous.contains_key(dep) && *dep != start {
                    previous.insert(*dep, rel);
                    queue.push_back(*dep);
                }
            }
        }
        vec![start]
    }

    // ------------------------------------------------------------ pass 3: models and snapshots

    fn lower_relation(&mut self, id: RelId) {
        match self.pending.get(&id) {
            Some(Pending::Model(i)) => {
                let (_, def, hint) = self.models[*i].clone();
                self.lower_model(id, def, hint);
            }
            Some(Pending::Snapshot(i)) => {
                let (_, def) = self.snapshots[*i];
                self.lower_snapshot(id, def);
            }
            None => {} // source tables are complete once declared
        }
    }

    fn lower_model(&mut self, id: RelId, def: &'a ast::ModelDef, hint: Option<String>) {
        let settings = self.settings(&def.settings, "model", MODEL_SETTINGS);
        let layer = match settings.get("layer") {
            Some(v) => self.string(v, "layer").and_then(|name| {
                if self.config.layers.contains_key(&name) {
                    Some(name)
                } else {
                    let known: Vec<String> = self.config.layers.keys().cloned().collect();
                    self.push(Problem::UnknownLayer {
                        span: v.span,
                        suggestion: suggest(&name, known.iter().map(String::as_str)),
                        name,
                        known,
                    });
                    None
                }
            }),
            None => hint,
        };
        // The layer's defaults, then the project's.
        let project = &self.config.defaults;
        let of_layer = layer.as_ref().and_then(|l| self.config.layers.get(l));
        let materialized_from = match (settings.contains_key("materialized"), of_layer) {
            (true, _) => Origin::Model,
            (false, Some(l)) if l.materialized.is_some() => Origin::Layer,
            (false, _) if project.materialized.is_some() => Origin::Project,
            (false, _) => Origin::BuiltIn,
        };
        let defaults = LayerConfig {
            materialized: of_layer
                .and_then(|l| l.materialized)
                .or(project.materialized),
            schema: of_layer
                .and_then(|l| l.schema.clone())
                .or_else(|| project.schema.clone()),
            tags: project
                .tags
                .iter()
                .chain(of_layer.into_iter().flat_map(|l| &l.tags))
                .cloned()
                .collect(),
        };

        let (query, silent) = self.lower_query(def);
        let scope = Scope {
            scans: &query.scans,
            silent,
        };

        let mut output_count = 0;
        for block in &def.blocks {
            let ast::Block::Output { kind, columns, .. } = block else {
                continue;
            };
            let role = match kind {
                ast::BlockKind::Columns => Role::Column,
                ast::BlockKind::Dimensions => Role::Dimension,
                ast::BlockKind::Measures => Role::Measure,
            };
            for column in columns {
                output_count += 1;
                let expr = self.expr(&scope, OUTPUT_CX, &column.expr);
                let ty = expr.ty;
                self.add_column(Column {
                    relation: id,
                    name: column.name.name.clone(),
                    span: column.name.span,
                    ty,
                    role,
                    expr: Some(expr),
                    doc: column.doc.clone(),
                });
            }
        }
        if output_count == 0 {
            self.push(Problem::NoColumns {
                span: def.name.span,
            });
            self.ir.relations[id.index()].complete = false;
        }
        if silent {
            self.ir.relations[id.index()].complete = false;
        }
        // An output that did not resolve or type (R002, R005, T…) was
        // reported where it is; the checks over the model would only
        // report what follows from it (a grain not proven, G001).
        let broken_output = self.ir.relations[id.index()].columns.values().any(|c| {
            let mut broken = false;
            if let Some(expr) = &self.ir.column(*c).expr {
                expr.walk(&mut |e| broken |= matches!(e.kind, ExprKind::Error));
            }
            broken
        });
        if broken_output {
            self.ir.relations[id.index()].complete = false;
        }

        let grain = settings.get("grain").map(|v| {
            self.names(v, "grain")
                .into_iter()
                .filter_map(|(name, span)| self.output_column(id, &name, span).map(|c| (c, span)))
                .collect()
        });
        let cluster_by = settings
            .get("cluster_by")
            .map(|v| self.column_list(id, v, "cluster_by"))
            .unwrap_or_default();
        let cluster_by_span = settings.get("cluster_by").map(|v| v.span);
        let partition_by = settings
            .get("partition_by")
            .and_then(|v| self.partition(id, v));
        let non_additive = settings
            .get("non_additive")
            .map(|v| self.column_list(id, v, "non_additive"))
            .unwrap_or_default();
        let mut semi_additive = Vec::new();
        if let Some(v) = settings.get("semi_additive") {
            match &v.kind {
                ValueKind::Table(entries) => {
                    for (measure, dimension) in entries {
                        let measure = self.output_column(id, &measure.name, measure.span);
                        let dimension = self
                            .name(dimension, "semi_additive")
                            .and_then(|(name, span)| self.output_column(id, &name, span));
                        if let (Some(m), Some(d)) = (measure, dimension) {
                            semi_additive.push((m, d));
                        }
                    }
                }
                _ => self.invalid(
                    v,
                    "semi_additive",
                    "an inline table of measure = dimension, like `{ balance = snapshot_date }`",
                ),
            }
        }
        let schema = match settings.get("schema") {
            Some(v) => self.string(v, "schema"),
            None => defaults.schema.clone(),
        };
        let mut tags = defaults.tags.clone();
        if let Some(v) = settings.get("tags") {
            match &v.kind {
                ValueKind::Array(items) => {
                    for item in items {
                        if let Some(tag) = self.string(item, "tags") {
                            tags.push(tag);
                        }
                    }
                }
                _ => self.invalid(v, "tags", "an array of strings"),
            }
        }
        let materialized = match settings.get("materialized") {
            Some(v) => self.materialized(id, v),
            None => {
                match defaults.materialized {
                    Some(crate::config::MaterializedKind::Table) => Materialized::Table,
                    Some(crate::config::MaterializedKind::Ephemeral) => Materialized::Ephemeral,
                    Some(crate::config::MaterializedKind::Incremental) => {
                        // A layer default cannot name the key; the model must.
                        self.push(Problem::InvalidSetting {
                        span: def.name.span,
                        key: "materialized".into(),
                        expected: "`materialized = { incremental = { unique_key = ... } }` on the model".into(),
                        found: "an incremental layer default".into(),
                    });
                        Materialized::Table
                    }
                    _ => Materialized::View,
                }
            }
        };
        if let RelationKind::Model(model) = &mut self.ir.relations[id.index()].kind {
            model.layer = layer;
            model.materialized = materialized;
            model.materialized_from = materialized_from;
            model.schema = schema;
            model.tags = tags;
            model.grain = grain;
            model.cluster_by = cluster_by;
            model.cluster_by_span = cluster_by_span;
            model.partition_by = partition_by;
            model.non_additive = non_additive;
            model.semi_additive = semi_additive;
            model.query = query;
        }
    }

    /// `partition_by = column` (by day) or
    /// `partition_by = { field = column, granularity = "month" }`.
    fn partition(&mut self, id: RelId, value: &'a ast::Value) -> Option<Partition> {
        const GRANULARITIES: &[&str] = &["HOUR", "DAY", "MONTH", "YEAR"];
        let (field, granularity) = match &value.kind {
            ValueKind::Table(_) => {
                let table = self.table(value, "partition_by", &["field", "granularity"])?;
                let Some(field) = table.get("field") else {
                    self.invalid(
                        value,
                        "partition_by",
                        "`{ field = column, granularity = \"day\" }`",
                    );
                    return None;
                };
                let granularity = match table.get("granularity") {
                    Some(g) => {
                        let text = self.string(g, "granularity")?;
                        match GRANULARITIES.iter().find(|k| k.eq_ignore_ascii_case(&text)) {
                            Some(k) => *k,
                            None => {
                                self.invalid_text(
                                    g,
                                    "granularity",
                                    "\"hour\", \"day\", \"month\" or \"year\"",
                                    &text,
                                );
                                return None;
                            }
                        }
                    }
                    None => "DAY",
                };
                (*field, granularity)
            }
            _ => (value, "DAY"),
        };
        let (name, span) = self.name(field, "partition_by")?;
        let column = self.output_column(id, &name, span)?;
        if !self.ir.column(column).ty.is_temporal() {
            let found = self.ir.column(column).ty.to_string();
            self.push(Problem::InvalidSetting {
                span,
                key: "partition_by".into(),
                expected: "a date or timestamp column".into(),
                found: format!("`{name}`, {found}"),
            });
            return None;
        }
        Some(Partition {
            column,
            granularity,
            span: value.span,
        })
    }

    fn materialized(&mut self, id: RelId, value: &'a ast::Value) -> Materialized {
        const EXPECTED: &str = "\"view\", \"table\", \"ephemeral\" or `{ incremental = { ... } }`";
        match &value.kind {
            ValueKind::String(s) => match s.as_str() {
                "view" => Materialized::View,
                "table" => Materialized::Table,
                "ephemeral" => Materialized::Ephemeral,
                "incremental" => {
                    self.invalid_text(value, "materialized", "`{ incremental = { unique_key = \"...\" } }` (an incremental model must name its key)", s);
                    Materialized::Table
                }
                other => {
                    self.invalid_text(value, "materialized", EXPECTED, other);
                    Materialized::View
                }
            },
            ValueKind::Table(_) => {
                let Some(outer) = self.table(value, "materialized", &["incremental"]) else {
                    return Materialized::View;
                };
                let Some(inner) = outer.get("incremental") else {
                    self.invalid(value, "materialized", EXPECTED);
                    return Materialized::View;
                };
                let Some(config) = self.table(inner, "incremental", INCREMENTAL_KEYS) else {
                    return Materialized::View;
                };
                let strategy = match config.get("strategy") {
                    Some(v) => match self.string(v, "strategy").as_deref() {
                        Some("merge") | None => IncrementalStrategy::Merge,
                        Some("append") => IncrementalStrategy::Append,
                        Some(other) => {
                            self.invalid_text(v, "strategy", "\"merge\" or \"append\"", other);
                            IncrementalStrategy::Merge
                        }
                    },
                    None if config.contains_key("unique_key") => IncrementalStrategy::Merge,
                    None => IncrementalStrategy::Append,
                };
                let unique_key: Vec<String> = config
                    .get("unique_key")
                    .map(|v| self.names(v, "unique_key"))
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(name, span)| self.output_column(id, &name, span).map(|_| name))
                    .collect();
                if strategy == IncrementalStrategy::Merge
                    && unique_key.is_empty()
                    && !config.contains_key("unique_key")
                {
                    self.invalid(
                        inner,
                        "incremental",
                        "a `unique_key` for the merge strategy",
                    );
                }
                let since = config
                    .get("since")
                    .and_then(|v| self.name(v, "since"))
                    .and_then(|(name, span)| self.output_column(id, &name, span).map(|_| name));
                if strategy == IncrementalStrategy::Append
                    && since.is_none()
                    && !config.contains_key("since")
                {
                    self.invalid(
                        inner,
                        "incremental",
                        "a `since` column for the append strategy",
                    );
                }
                let lookback = config
                    .get("lookback")
                    .and_then(|v| self.duration(v, "lookback"));
                let on_schema_change = match config.get("on_schema_change") {
                    Some(v) => match self.string(v, "on_schema_change").as_deref() {
                        Some("fail") | None => OnSchemaChange::Fail,
                        Some("append_new_columns") => OnSchemaChange::AppendNewColumns,
                        Some("sync_all_columns") => OnSchemaChange::SyncAllColumns,
                        Some(other) => {
                            self.invalid_text(
                                v,
                                "on_schema_change",
                                "\"fail\", \"append_new_columns\" or \"sync_all_columns\"",
                                other,
                            );
                            OnSchemaChange::Fail
                        }
                    },
                    None => OnSchemaChange::Fail,
                };
                Materialized::Incremental(Incremental {
                    strategy,
                    unique_key,
                    since,
                    lookback,
                    on_schema_change,
                    span: value.span,
                })
            }
            _ => {
                self.invalid(value, "materialized", EXPECTED);
                Materialized::View
            }
        }
    }

    /// Binds the query clauses. Returns the query and whether it is too broken
    /// for unresolved names to be worth reporting.
    fn lower_query(&mut self, def: &'a ast::ModelDef) -> (Query, bool) {
        let mut query = Query::default();
        let mut silent = false;
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut aliases: HashMap<String, Span> = HashMap::new();
        for (i, clause) in def.clauses.iter().enumerate() {
            let keyword = clause.keyword();
            let span = clause.span();
            // Order: from, joins, where, group by | dedupe, having.
            let rank = |c: &Clause| match c {
                Clause::From { .. } => 0,
                Clause::Join { .. } => 1,
                Clause::Where { .. } => 2,
                Clause::GroupBy { .. } | Clause::Dedupe { .. } => 3,
                Clause::Having { .. } => 4,
            };
            if let Some(later) = def.clauses[..i].iter().find(|c| rank(c) > rank(clause)) {
                self.push(Problem::MisplacedClause {
                    span,
                    clause: keyword,
                    reason: "clauses go in the order from, join, where, group by or dedupe, having",
                    other: Some(later.span()),
                });
            }
            if keyword != "join" {
                if let Some(first) = seen.get(keyword) {
                    self.push(Problem::MisplacedClause {
                        span,
                        clause: keyword,
                        reason: "a model has at most one of this clause",
                        other: Some(*first),
                    });
                    continue;
                }
                seen.insert(keyword, span);
            }
            match clause {
                Clause::From {
                    relation, alias, ..
                }
                | Clause::Join {
                    relation, alias, ..
                } => {
                    if keyword == "join" && query.scans.is_empty() {
                        continue; // reported as a missing `from` below
                    }
                    let alias = alias
                        .clone()
                        .unwrap_or_else(|| relation.parts.last().expect("relation name").clone());
                    if let Some(first) = aliases.get(&alias.name) {
                        self.push(Problem::Duplicate {
                            kind: NameKind::Alias,
                            name: alias.name.clone(),
                            first: *first,
                            second: alias.span,
                        });
                    }
                    aliases.insert(alias.name.clone(), alias.span);
                    let target = self.ir.by_name.get(&relation.dotted()).copied();
                    let Some(target) = target else {
                        silent = true;
                        continue;
                    };
                    if !self.ir.relation(target).complete {
                        silent = true;
                    }
                    query.scans.push(Scan {
                        relation: target,
                        alias: alias.name.clone(),
                        span: relation.span.to(alias.span),
                    });
                    if let Clause::Join {
                        kind,
                        claim,
                        on,
                        span,
                        ..
                    } = clause
                    {
                        let on = {
                            let scope = Scope {
                                scans: &query.scans,
                                silent,
                            };
                            self.condition(
                                &scope,
                                ROW_CX("in a join condition"),
                                on,
                                "a join condition",
                            )
                        };
                        query.joins.push(Join {
                            kind: *kind,
                            claim: *claim,
                            scan: query.scans.len() - 1,
                            on,
                            span: *span,
                        });
                    }
                }
                Clause::Where { condition, .. } => {
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                    };
                    query.filter = Some(self.condition(
                        &scope,
                        ROW_CX("in `where`"),
                        condition,
                        "a `where` condition",
                    ));
                }
                Clause::GroupBy { keys, .. } => {
                    if let Some(dedupe) = seen.get("dedupe") {
                        self.push(Problem::MisplacedClause {
                            span,
                            clause: "group by",
                            reason: "`group by` and `dedupe` both set the grain: use one",
                            other: Some(*dedupe),
                        });
                    }
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                    };
                    query.group_by = keys
                        .iter()
                        .map(|k| self.expr(&scope, ROW_CX("in `group by`"), k))
                        .collect();
                }
                Clause::Dedupe {
                    keys,
                    keep,
                    order_by,
                    ..
                } => {
                    if let Some(group) = seen.get("group by") {
                        self.push(Problem::MisplacedClause {
                            span,
                            clause: "dedupe",
                            reason: "`group by` and `dedupe` both set the grain: use one",
                            other: Some(*group),
                        });
                    }
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                    };
                    let keys = keys
                        .iter()
                        .map(|k| self.expr(&scope, ROW_CX("in `dedupe`"), k))
                        .collect();
                    let order_by = self.expr(&scope, ROW_CX("in `dedupe`"), order_by);
                    query.dedupe = Some(Dedupe {
                        keys,
                        keep: *keep,
                        order_by,
                        span,
                    });
                }
                Clause::Having { condition, .. } => {
                    if !seen.contains_key("group by") {
                        self.push(Problem::MisplacedClause {
                            span,
                            clause: "having",
                            reason: "`having` filters groups: it needs a `group by`",
                            other: None,
                        });
                    }
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                    };
                    let cx = Cx {
                        no_aggregate: None,
                        window: false,
                    };
                    query.having =
                        Some(self.condition(&scope, cx, condition, "a `having` condition"));
                }
            }
        }
        if !seen.contains_key("from") {
            self.push(Problem::MissingFrom {
                span: def.name.span,
                item: "model",
            });
            silent = true;
        }
        (query, silent)
    }

    fn lower_snapshot(&mut self, id: RelId, def: &'a ast::SnapshotDef) {
        let settings = self.settings(&def.settings, "snapshot", SNAPSHOT_SETTINGS);
        let Some(from_ref) = &def.from else {
            self.push(Problem::MissingFrom {
                span: def.name.span,
                item: "snapshot",
            });
            self.ir.relations[id.index()].complete = false;
            return;
        };
        let Some(from) = self.ir.by_name.get(&from_ref.dotted()).copied() else {
            self.ir.relations[id.index()].complete = false;
            return;
        };
        let upstream: Vec<(String, Type, Option<String>)> = {
            let rel = self.ir.relation(from);
            rel.columns
                .values()
                .map(|c| {
                    let c = self.ir.column(*c);
                    (c.name.clone(), c.ty, c.doc.clone())
                })
                .collect()
        };
        if !self.ir.relation(from).complete {
            self.ir.relations[id.index()].complete = false;
        }
        for (name, ty, doc) in upstream {
            self.add_column(Column {
                relation: id,
                name,
                span: def.name.span,
                ty,
                role: Role::Source,
                expr: None,
                doc,
            });
        }
        let hard_deletes = match settings.get("hard_deletes") {
            Some(v) => match self.string(v, "hard_deletes").as_deref() {
                Some("ignore") | None => HardDeletes::Ignore,
                Some("invalidate") => HardDeletes::Invalidate,
                Some("new_record") => HardDeletes::NewRecord,
                Some(other) => {
                    self.invalid_text(
                        v,
                        "hard_deletes",
                        "\"ignore\", \"invalidate\" or \"new_record\"",
                        other,
                    );
                    HardDeletes::Ignore
                }
            },
            None => HardDeletes::Ignore,
        };
        // With `new_record`, a deletion is a row of its own, flagged.
        let deletion_flag =
            (hard_deletes == HardDeletes::NewRecord).then_some(("dbt_is_deleted", Type::Boolean));
        for (name, ty) in [
            ("dbt_scd_id", Type::Text),
            ("dbt_updated_at", Type::Timestamp),
            ("dbt_valid_from", Type::Timestamp),
            ("dbt_valid_to", Type::Timestamp),
        ]
        .into_iter()
        .chain(deletion_flag)
        {
            self.add_column(Column {
                relation: id,
                name: name.to_string(),
                span: def.name.span,
                ty,
                role: Role::Meta,
                expr: None,
                doc: None,
            });
        }
        let key_span = settings.get("unique_key").map_or(def.name.span, |v| v.span);
        let unique_key = match settings.get("unique_key") {
            Some(v) => self.column_list(id, v, "unique_key"),
            None => {
                self.push(Problem::InvalidSetting {
                    span: def.name.span,
                    key: "unique_key".into(),
                    expected: "a `unique_key` naming the columns that identify a row".into(),
                    found: "none".into(),
                });
                Vec::new()
            }
        };
        let strategy = match settings.get("strategy") {
            Some(v) => self.snapshot_strategy(id, v),
            None => {
                self.push(Problem::InvalidSetting {
                    span: def.name.span,
                    key: "strategy".into(),
                    expected: "`strategy = { check = [...] }`, `{ check = \"all\" }` or `{ timestamp = column }`".into(),
                    found: "none".into(),
                });
                SnapshotStrategy::CheckAll
            }
        };
        let schema = settings
            .get("schema")
            .and_then(|v| self.string(v, "schema"));
        if let RelationKind::Snapshot(snapshot) = &mut self.ir.relations[id.index()].kind {
            *snapshot = Snapshot {
                from,
                key_span,
                schema,
                unique_key,
                strategy,
                hard_deletes,
            };
        }
    }

    fn snapshot_strategy(&mut self, id: RelId, value: &'a ast::Value) -> SnapshotStrategy {
        let Some(table) = self.table(value, "strategy", &["check", "timestamp"]) else {
            return SnapshotStrategy::CheckAll;
        };
        match (table.get("check"), table.get("timestamp")) {
            (Some(check), None) => match &check.kind {
                ValueKind::String(s) if s == "all" => SnapshotStrategy::CheckAll,
                _ => SnapshotStrategy::Check(self.column_list(id, check, "check")),
            },
            (None, Some(ts)) => match self.name(ts, "timestamp") {
                Some((name, span)) => match self.output_column(id, &name, span) {
                    Some(column) if !self.ir.column(column).ty.is_temporal() => {
                        let found = self.ir.column(column).ty.to_string();
                        self.push(Problem::InvalidSetting {
                            span,
                            key: "timestamp".into(),
                            expected: "a date or timestamp column".into(),
                            found: format!("`{name}`, {found}"),
                        });
                        // No strategy to check the rest against.
                        self.ir.relations[id.index()].complete = false;
                        SnapshotStrategy::CheckAll
                    }
                    Some(column) => SnapshotStrategy::Timestamp(column),
                    None => SnapshotStrategy::CheckAll,
                },
                None => SnapshotStrategy::CheckAll,
            },
            _ => {
                self.invalid(value, "strategy", "exactly one of `check` or `timestamp`");
                SnapshotStrategy::CheckAll
            }
        }
    }

    // ------------------------------------------------------------ tests

    fn lower_tests(&mut self) {
        let models = std::mem::take(&mut self.models);
        for (id, def, _) in &models {
            let mut tests = Vec::new();
            for block in &def.blocks {
                if let ast::Block::Tests { tests: calls, .. } = block {
                    for call in calls {
                        if let Some(test) = self.test(*id, call) {
                            tests.push(test);
                        }
                    }
                }
            }
            if let RelationKind::Model(model) = &mut self.ir.relations[id.index()].kind {
                model.tests = tests;
            }
        }
        self.models = models;
    }

    fn test(&mut self, id: RelId, call: &'a ast::TestCall) -> Option<Test> {
        const TESTS: &[&str] = TEST_NAMES;
        let name = call.name.name.as_str();
        if !TESTS.contains(&name) {
            self.push(Problem::UnknownTest {
                span: call.name.span,
                name: name.to_string(),
                suggestion: suggest(name, TESTS.iter().copied()),
            });
            return None;
        }
        let mut severity = TestSeverity::Error;
        let mut to = None;
        for (key, value) in &call.named {
            match key.name.as_str() {
                "severity" => match self.string(value, "severity").as_deref() {
                    Some("error") => severity = TestSeverity::Error,
                    Some("warn") => severity = TestSeverity::Warn,
                    Some(other) => {
                        self.invalid_text(value, "severity", "\"error\" or \"warn\"", other)
                    }
                    None => {}
                },
                "to" if name == "relationships" => to = Some(value),
                other => {
                    let known: &'static [&'static str] = if name == "relationships" {
                        &["to", "severity"]
                    } else {
                        &["severity"]
                    };
                    self.push(Problem::UnknownSetting {
                        span: key.span,
                        key: other.to_string(),
                        item: "test",
                        known,
                        suggestion: suggest(other, known.iter().copied()),
                    });
                }
            }
        }
        let invalid = |reason: &str| Problem::InvalidTest {
            span: call.span,
            test: name.to_string(),
            reason: reason.to_string(),
        };
        let kind = match name {
            "unique" => {
                if call.args.is_empty() {
                    self.push(invalid("name the column(s): `unique(column, ...)`"));
                    return None;
                }
                let mut columns = Vec::new();
                for arg in &call.args {
                    columns.extend(self.column_list(id, arg, "unique"));
                }
                TestKind::Unique(columns)
            }
            "not_null" => {
                let [arg] = call.args.as_slice() else {
                    self.push(invalid("name one column: `not_null(column)`"));
                    return None;
                };
                TestKind::NotNull(self.test_column(id, arg)?)
            }
            "accepted_values" => {
                let [column, values] = call.args.as_slice() else {
                    self.push(invalid("expected `accepted_values(column, [values...])`"));
                    return None;
                };
                let column = self.test_column(id, column)?;
                let ty = self.ir.column(column).ty;
                let ValueKind::Array(items) = &values.kind else {
                    self.invalid(values, "accepted_values", "an array of values");
                    return None;
                };
                let mut out = Vec::new();
                for item in items {
                    let value = match &item.kind {
                        ValueKind::String(s) if ty == Type::Text || ty.is_wildcard() => {
                            TestValue::Text(s.clone())
                        }
                        ValueKind::Integer(n) if ty.is_numeric() || ty.is_wildcard() => {
                            TestValue::Integer(*n)
                        }
                        ValueKind::Bool(b) if ty == Type::Boolean || ty.is_wildcard() => {
                            TestValue::Bool(*b)
                        }
                        _ => {
                            self.push(Problem::InvalidSetting {
                                span: item.span,
                                key: "accepted_values".into(),
                                expected: format!("a value of the column's type ({ty})"),
                                found: item.kind.describe().to_string(),
                            });
                            continue;
                        }
                    };
                    out.push(value);
                }
                TestKind::AcceptedValues {
                    column,
                    values: out,
                }
            }
            _ => {
                let [arg] = call.args.as_slice() else {
                    self.push(invalid(
                        "expected `relationships(column, to = relation.column)`",
                    ));
                    return None;
                };
                let column = self.test_column(id, arg)?;
                let Some(to) = to else {
                    self.push(invalid(
                        "say where the column points: `to = relation.column`",
                    ));
                    return None;
                };
                let ValueKind::Path(parts) = &to.kind else {
                    self.invalid(to, "to", "`relation.column`");
                    return None;
                };
                let Some((column_name, relation_parts)) =
                    parts.split_last().filter(|(_, r)| !r.is_empty())
                else {
                    self.invalid(to, "to", "`relation.column`");
                    return None;
                };
                let relation = ast::RelationRef {
                    parts: relation_parts.to_vec(),
                    span: relation_parts[0]
                        .span
                        .to(relation_parts[relation_parts.len() - 1].span),
                };
                let target = self.resolve_relation(&relation)?;
                let to = self.output_column(target, &column_name.name, column_name.span)?;
                let (from_ty, to_ty) = (self.ir.column(column).ty, self.ir.column(to).ty);
                if from_ty.unify(to_ty).is_none() {
                    self.push(Problem::IncomparableTypes {
                        span: call.span,
                        lhs: (arg.span, from_ty.to_string()),
                        rhs: (self.ir.column(to).span, to_ty.to_string()),
                    });
                }
                TestKind::Relationships { column, to }
            }
        };
        Some(Test {
            kind,
            severity,
            span: call.span,
        })
    }

    fn test_column(&mut self, id: RelId, value: &ast::Value) -> Option<ColumnId> {
        let (name, span) = self.name(value, "column")?;
        self.output_column(id, &name, span)
    }

    // ------------------------------------------------------------ expressions

    // ------------------------------------------------------------ reconciliations

    fn lower_reconciles(&mut self) {
        for def in std::mem::take(&mut self.reconciles) {
            let mut terms = Vec::new();
            let mut complete = true;
            for term in &def.terms {
                match self.reconcile_term(term) {
                    Some(t) => terms.push(t),
                    None => complete = false,
                }
            }
            if def.terms.len() < 2 {
                self.push(Problem::InvalidTest {
                    span: def.name.span,
                    test: "reconcile".into(),
                    reason: "a reconciliation compares at least two totals, one per line: `relation.column [where condition]`".into(),
                });
                continue;
            }
            if complete {
                self.ir.reconciles.push(Reconcile {
                    name: def.name.name.clone(),
                    doc: def.doc.clone(),
                    span: def.span,
                    terms,
                });
            }
        }
    }

    fn reconcile_term(&mut self, term: &ast::ReconcileTerm) -> Option<ReconcileTerm> {
        let (column, parts) = term.path.split_last()?;
        if parts.is_empty() {
            self.push(Problem::InvalidTest {
                span: term.span,
                test: "reconcile".into(),
                reason: format!(
                    "name the relation and the column: `relation.{}`",
                    column.name
                ),
            });
            return None;
        }
        let relation = ast::RelationRef {
            span: parts[0].span.to(parts[parts.len() - 1].span),
            parts: parts.to_vec(),
        };
        let rel = self.resolve_relation(&relation)?;
        let column_id = self.output_column(rel, &column.name, column.span)?;
        let ty = self.ir.column(column_id).ty;
        if !ty.is_numeric() && !ty.is_wildcard() {
            self.push(Problem::ArgumentType {
                span: column.span,
                function: "sum".into(),
                position: 1,
                expected: Param::Numeric.describe().into(),
                found: ty.to_string(),
                cast_to: Param::Numeric.cast_to(),
            });
            return None;
        }
        let mut query = Query::default();
        query.scans.push(Scan {
            relation: rel,
            alias: relation.dotted(),
            span: relation.span,
        });
        if let Some(filter) = &term.filter {
            let scope = Scope {
                scans: &query.scans,
                silent: !self.ir.relation(rel).complete,
            };
            let filter = self.condition(
                &scope,
                ROW_CX("in a reconciliation's `where`"),
                filter,
                "a `where` condition",
            );
            query.filter = Some(filter);
        }
        Some(ReconcileTerm {
            query,
            column: column_id,
            label: self
                .db
                .snippet(term.span)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            span: term.span,
        })
    }

    fn condition(&mut self, scope: &Scope, cx: Cx, e: &ast::Expr, what: &'static str) -> Expr {
        let expr = self.expr(scope, cx, e);
        if expr.ty != Type::Boolean && !expr.ty.is_wildcard() {
            self.push(Problem::NotBoolean {
                span: expr.span,
                context: what,
                found: expr.ty.to_string(),
            });
        }
        expr
    }

    fn column_ref(
        &mut self,
        scope: &Scope,
        qualifier: Option<&ast::Ident>,
        name: &ast::Ident,
    ) -> Option<(usize, ColumnId)> {
        if let Some(q) = qualifier {
            let Some(scan) = scope.scans.iter().position(|s| s.alias == q.name) else {
                if !scope.silent {
                    let known: Vec<String> = scope.scans.iter().map(|s| s.alias.clone()).collect();
                    self.push(Problem::UnknownQualifier {
                        span: q.span,
                        name: q.name.clone(),
                        suggestion: suggest(&q.name, known.iter().map(String::as_str)),
                        known,
                    });
                }
                return None;
            };
            let rel = scope.scans[scan].relation;
            return self
                .output_column(rel, &name.name, name.span)
                .map(|c| (scan, c));
        }
        let found: Vec<(usize, ColumnId)> = scope
            .scans
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                self.ir
                    .relation(s.relation)
                    .columns
                    .get(&name.name)
                    .map(|c| (i, *c))
            })
            .collect();
        match found.as_slice() {
            [one] => Some(*one),
            [] => {
                let all_complete = scope
                    .scans
                    .iter()
                    .all(|s| self.ir.relation(s.relation).complete);
                if !scope.silent && all_complete {
                    let candidates: Vec<&str> = scope
                        .scans
                        .iter()
                        .flat_map(|s| {
                            self.ir
                                .relation(s.relation)
                                .columns
                                .keys()
                                .map(String::as_str)
                        })
                        .collect();
                    let relation = scope
                        .scans
                        .iter()
                        .map(|s| s.alias.as_str())
                        .collect::<Vec<_>>()
                        .join("`, `");
                    self.push(Problem::UnknownColumn {
                        span: name.span,
                        name: name.name.clone(),
                        relation,
                        suggestion: suggest(&name.name, candidates),
                    });
                }
                None
            }
            many => {
                self.push(Problem::AmbiguousColumn {
                    span: name.span,
                    name: name.name.clone(),
                    candidates: many
                        .iter()
                        .map(|(i, _)| scope.scans[*i].alias.clone())
                        .collect(),
                });
                None
            }
        }
    }

    fn expr(&mut self, scope: &Scope, cx: Cx, e: &ast::Expr) -> Expr {
        use ast::ExprKind as A;
        let span = e.span;
        let error = |span| Expr {
            kind: ExprKind::Error,
            ty: Type::Unknown,
            span,
        };
        let (kind, ty) = match &e.kind {
            A::Literal(lit) => return self.literal(lit, span),
            A::Column { qualifier, name } => match self.column_ref(scope, qualifier.as_ref(), name)
            {
                Some((scan, column)) => {
                    (ExprKind::Column { scan, column }, self.ir.column(column).ty)
                }
                None => return error(span),
            },
            A::Unary { op, expr } => {
                let inner = self.expr(scope, cx, expr);
                let ok = match op {
                    ast::UnaryOp::Not => inner.ty == Type::Boolean,
                    ast::UnaryOp::Neg => inner.ty.is_numeric(),
                } || inner.ty.is_wildcard();
                let ty = match op {
                    ast::UnaryOp::Not => Type::Boolean,
                    ast::UnaryOp::Neg => inner.ty,
                };
                if !ok {
                    let (symbol, expected) = match op {
                        ast::UnaryOp::Not => ("not", "a boolean"),
                        ast::UnaryOp::Neg => ("-", "a number"),
                    };
                    self.push(Problem::OperatorType {
                        span,
                        op: symbol,
                        lhs: (inner.span, inner.ty.to_string()),
                        rhs: (inner.span, inner.ty.to_string()),
                        expected,
                    });
                }
                (
                    ExprKind::Unary {
                        op: *op,
                        expr: Box::new(inner),
                    },
                    if ok { ty } else { Type::Unknown },
                )
            }
            A::Binary { op, lhs, rhs } => {
                let l = self.expr(scope, cx, lhs);
                let r = self.expr(scope, cx, rhs);
                let ty = self.binary_type(*op, &l, &r, span);
                (
                    ExprKind::Binary {
                        op: *op,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    },
                    ty,
                )
            }
            A::IsNull { expr, negated } => {
                let inner = self.expr(scope, cx, expr);
                (
                    ExprKind::IsNull {
                        expr: Box::new(inner),
                        negated: *negated,
                    },
                    Type::Boolean,
                )
            }
            A::InList {
                expr,
                list,
                negated,
            } => {
                let inner = self.expr(scope, cx, expr);
                let list: Vec<Expr> = list.iter().map(|x| self.expr(scope, cx, x)).collect();
                for item in &list {
                    self.comparable(&inner, item, span);
                }
                (
                    ExprKind::InList {
                        expr: Box::new(inner),
                        list,
                        negated: *negated,
                    },
                    Type::Boolean,
                )
            }
            A::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let inner = self.expr(scope, cx, expr);
                let pattern = self.expr(scope, cx, pattern);
                for side in [&inner, &pattern] {
                    if side.ty != Type::Text && !side.ty.is_wildcard() {
                        self.push(Problem::OperatorType {
                            span,
                            op: if *case_insensitive { "ilike" } else { "like" },
                            lhs: (inner.span, inner.ty.to_string()),
                            rhs: (pattern.span, pattern.ty.to_string()),
                            expected: "text on both sides",
                        });
                        break;
                    }
                }
                (
                    ExprKind::Like {
                        expr: Box::new(inner),
                        pattern: Box::new(pattern),
                        negated: *negated,
                        case_insensitive: *case_insensitive,
                    },
                    Type::Boolean,
                )
            }
            A::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let inner = self.expr(scope, cx, expr);
                let low = self.expr(scope, cx, low);
                let high = self.expr(scope, cx, high);
                self.comparable(&inner, &low, span);
                self.comparable(&inner, &high, span);
                (
                    ExprKind::Between {
                        expr: Box::new(inner),
                        low: Box::new(low),
                        high: Box::new(high),
                        negated: *negated,
                    },
                    Type::Boolean,
                )
            }
            A::Cast { expr, ty, safe } => {
                let inner = self.expr(scope, cx, expr);
                let ty = self.type_name(ty);
                (
                    ExprKind::Cast {
                        expr: Box::new(inner),
                        ty,
                        safe: *safe,
                    },
                    ty,
                )
            }
            A::Case {
                operand,
                arms,
                otherwise,
            } => {
                let operand = operand.as_ref().map(|o| self.expr(scope, cx, o));
                let mut lowered_arms = Vec::new();
                let mut result: Option<(Type, Span)> = None;
                let mut ty = Type::Null;
                for (when, then) in arms {
                    let when = match &operand {
                        Some(operand) => {
                            let when = self.expr(scope, cx, when);
                            self.comparable(operand, &when, when.span);
                            when
                        }
                        None => self.condition(scope, cx, when, "a `when` condition"),
                    };
                    let then = self.expr(scope, cx, then);
                    ty = self.branch(&mut result, &then, span, ty);
                    lowered_arms.push((when, then));
                }
                let otherwise = otherwise.as_ref().map(|o| {
                    let o = self.expr(scope, cx, o);
                    ty = self.branch(&mut result, &o, span, ty);
                    Box::new(o)
                });
                (
                    ExprKind::Case {
                        operand: operand.map(Box::new),
                        arms: lowered_arms,
                        otherwise,
                    },
                    ty,
                )
            }
            A::Call(call) => return self.call(scope, cx, call, span),
            A::Sql { text, ty } => {
                let ty = self.type_name(ty);
                (ExprKind::Sql { text: text.clone() }, ty)
            }
        };
        Expr { kind, ty, span }
    }

    /// Folds one more branch of a `case` (or argument of `coalesce`) into the result type.
    fn branch(
        &mut self,
        first: &mut Option<(Type, Span)>,
        next: &Expr,
        span: Span,
        acc: Type,
    ) -> Type {
        if next.ty == Type::Null {
            return acc;
        }
        match first {
            None => {
                *first = Some((next.ty, next.span));
                next.ty
            }
            Some((first_ty, first_span)) => match acc.unify(next.ty) {
                Some(t) => t,
                None => {
                    self.push(Problem::MismatchedBranches {
                        span,
                        first: (*first_span, first_ty.to_string()),
                        other: (next.span, next.ty.to_string()),
                    });
                    Type::Unknown
                }
            },
        }
    }

    fn comparable(&mut self, a: &Expr, b: &Expr, span: Span) {
        if a.ty.unify(b.ty).is_none() {
            self.push(Problem::IncomparableTypes {
                span,
                lhs: (a.span, a.ty.to_string()),
                rhs: (b.span, b.ty.to_string()),
            });
        }
    }

    fn binary_type(&mut self, op: ast::BinOp, l: &Expr, r: &Expr, span: Span) -> Type {
        use ast::BinOp::*;
        if op.is_comparison() {
            self.comparable(l, r, span);
            return Type::Boolean;
        }
        let fits = |t: Type, ok: fn(Type) -> bool| t.is_wildcard() || ok(t);
        let (ok, expected): (bool, &'static str) = match op {
            And | Or => (
                fits(l.ty, |t| t == Type::Boolean) && fits(r.ty, |t| t == Type::Boolean),
                "booleans on both sides",
            ),
            Concat => (
                fits(l.ty, |t| t == Type::Text) && fits(r.ty, |t| t == Type::Text),
                "text on both sides (cast numbers with `::text`, or use `concat(...)`)",
            ),
            _ => (
                fits(l.ty, Type::is_numeric) && fits(r.ty, Type::is_numeric),
                if l.ty.is_temporal() || r.ty.is_temporal() {
                    "numbers on both sides (for dates use `date_add` or `date_diff`)"
                } else {
                    "numbers on both sides"
                },
            ),
        };
        if !ok {
            self.push(Problem::OperatorType {
                span,
                op: op.symbol(),
                lhs: (l.span, l.ty.to_string()),
                rhs: (r.span, r.ty.to_string()),
                expected,
            });
            return Type::Unknown;
        }
        match op {
            And | Or => Type::Boolean,
            Concat => Type::Text,
            // Division is in double precision, whatever the operands: the
            // one definition every engine computes to the same bit (IEEE
            // 754), where decimal division rounds differently on each.
            Div => Type::Double,
            _ => match l.ty.unify(r.ty) {
                Some(Type::Null) | None => Type::Unknown,
                Some(t) => t,
            },
        }
    }

    fn literal(&mut self, lit: &ast::Literal, span: Span) -> Expr {
        let (lit, ty) = match lit {
            ast::Literal::Integer(n) => (
                Literal::Integer(*n),
                if i32::try_from(*n).is_ok() {
                    Type::Integer
                } else {
                    Type::BigInt
                },
            ),
            ast::Literal::Decimal(d) => (Literal::Decimal(d.clone()), Type::Numeric(None)),
            ast::Literal::String(s) => (Literal::Text(s.clone()), Type::Text),
            ast::Literal::Bool(b) => (Literal::Bool(*b), Type::Boolean),
            ast::Literal::Null => (Literal::Null, Type::Null),
            ast::Literal::Date(d) => {
                if !is_iso_date(d) {
                    self.push(Problem::InvalidLiteral {
                        span,
                        reason: "a date literal is a day of the calendar, written `date 'YYYY-MM-DD'` (years 0001 to 9999)".into(),
                    });
                }
                (Literal::Date(d.clone()), Type::Date)
            }
            ast::Literal::Timestamp(t) => {
                if !is_iso_timestamp(t) {
                    self.push(Problem::InvalidLiteral {
                        span,
                        reason: "a timestamp literal is written `timestamp 'YYYY-MM-DD HH:MM:SS'`"
                            .into(),
                    });
                }
                (Literal::Timestamp(t.clone()), Type::Timestamp)
            }
        };
        Expr {
            kind: ExprKind::Literal(lit),
            ty,
            span,
        }
    }

    fn var(&mut self, call: &ast::Call, span: Span) -> Expr {
        let name = match call.args.as_slice() {
            [
                ast::Expr {
                    kind: ast::ExprKind::Literal(ast::Literal::String(s)),
                    ..
                },
            ] => s.clone(),
            _ => {
                self.push(Problem::ArgumentCount {
                    span,
                    function: "var".into(),
                    expected: "one string literal naming a variable".into(),
                    found: call.args.len(),
                });
                return Expr {
                    kind: ExprKind::Error,
                    ty: Type::Unknown,
                    span,
                };
            }
        };
        let Some(value) = self.config.vars.get(&name) else {
            self.push(Problem::UnknownVar {
                span,
                suggestion: suggest(&name, self.config.vars.keys().map(String::as_str)),
                name,
            });
            return Expr {
                kind: ExprKind::Error,
                ty: Type::Unknown,
                span,
            };
        };
        let lit = match value {
            toml::Value::String(s) => ast::Literal::String(s.clone()),
            toml::Value::Integer(n) => ast::Literal::Integer(*n),
            toml::Value::Float(f) if f.is_finite() => ast::Literal::Decimal(f.to_string()),
            toml::Value::Boolean(b) => ast::Literal::Bool(*b),
            // `nan` and `inf` are TOML floats, and no SQL number.
            toml::Value::Float(f) => {
                self.push(Problem::InvalidSetting {
                    span,
                    key: name,
                    expected: "a finite number in `[vars]`".into(),
                    found: format!("`{f}`"),
                });
                return Expr {
                    kind: ExprKind::Error,
                    ty: Type::Unknown,
                    span,
                };
            }
            _ => {
                self.push(Problem::InvalidSetting {
                    span,
                    key: name,
                    expected: "a string, number or boolean in `[vars]`".into(),
                    found: "a value of another kind".into(),
                });
                return Expr {
                    kind: ExprKind::Error,
                    ty: Type::Unknown,
                    span,
                };
            }
        };
        self.literal(&lit, span)
    }

    fn call(&mut self, scope: &Scope, cx: Cx, call: &ast::Call, span: Span) -> Expr {
        let name = call.name.name.to_ascii_lowercase();
        if name == "var" {
            return self.var(call, span);
        }
        let Some(id) = library::lookup(&name) else {
            self.push(Problem::UnknownFunction {
                span: call.name.span,
                name: call.name.name.clone(),
                suggestion: suggest(&name, library::names()),
            });
            for arg in &call.args {
                self.expr(scope, cx, arg);
            }
            return Expr {
                kind: ExprKind::Error,
                ty: Type::Unknown,
                span,
            };
        };
        let func = id.func();
        let misuse = |reason: &'static str| Problem::WindowMisuse {
            span,
            function: func.name.to_string(),
            reason,
        };
        let is_window = func.kind == FuncKind::Window || call.over.is_some();
        let is_aggregate = func.kind == FuncKind::Aggregate && call.over.is_none();
        if call.over.is_some() && func.kind == FuncKind::Scalar {
            self.push(misuse(
                "`over (...)` applies to aggregate and window functions only",
            ));
        }
        if call.over.is_none() && func.kind == FuncKind::Window {
            self.push(misuse("a window function needs `over (...)`"));
        }
        if (call.distinct || call.filter.is_some()) && func.kind != FuncKind::Aggregate {
            self.push(misuse("`distinct` and `filter` apply to aggregates only"));
        }
        if is_window && !cx.window {
            self.push(misuse(
                "window functions are computed last: use them in output columns only",
            ));
        } else if is_aggregate && let Some(place) = cx.no_aggregate {
            self.push(Problem::AggregateNotAllowed {
                span,
                function: func.name.to_string(),
                context: place,
            });
        }
        let arg_count = call.args.len() + usize::from(call.star);
        if call.star && (func.name != "count" || !call.args.is_empty()) {
            self.push(Problem::ArgumentCount {
                span,
                function: func.name.to_string(),
                expected: "real arguments (`*` is only for `count(*)`)".into(),
                found: arg_count,
            });
        } else if !call.star && !func.accepts_count(call.args.len()) {
            self.push(Problem::ArgumentCount {
                span,
                function: func.name.to_string(),
                expected: format!(
                    "{} argument{}",
                    func.arity(),
                    if func.arity() == "1" { "" } else { "s" }
                ),
                found: call.args.len(),
            });
        }
        let inner_cx = if is_aggregate {
            Cx {
                no_aggregate: Some("inside another aggregate"),
                window: false,
            }
        } else if is_window {
            // Window functions do not nest.
            Cx {
                window: false,
                ..cx
            }
        } else {
            cx
        };
        let args: Vec<Expr> = call
            .args
            .iter()
            .map(|a| self.expr(scope, inner_cx, a))
            .collect();
        for (i, arg) in args.iter().enumerate() {
            let Some(param) = func.param(i) else { continue };
            let ok = match param {
                Param::DatePart => {
                    matches!(&arg.kind, ExprKind::Literal(Literal::Text(part)) if DATE_PARTS.contains(&part.to_ascii_lowercase().as_str()))
                }
                Param::Digits => is_integer_literal(arg),
                _ => param.accepts(arg.ty),
            };
            if !ok {
                let found = match (param, &arg.kind) {
                    (Param::DatePart, ExprKind::Literal(Literal::Text(part))) => {
                        format!("'{part}'")
                    }
                    (Param::Digits, _) if arg.ty.is_integer() => {
                        format!("an expression of type {}", arg.ty)
                    }
                    _ => arg.ty.to_string(),
                };
                self.push(Problem::ArgumentType {
                    span: arg.span,
                    function: func.name.to_string(),
                    position: i + 1,
                    expected: if param == Param::DatePart {
                        format!(
                            "one of {}",
                            DATE_PARTS
                                .iter()
                                .map(|p| format!("'{p}'"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        param.describe().to_string()
                    },
                    found,
                    cast_to: param.cast_to(),
                });
            }
        }
        let filter = call.filter.as_ref().map(|f| {
            let cx = Cx {
                no_aggregate: Some("in an aggregate's filter"),
                window: false,
            };
            Box::new(self.condition(scope, cx, f, "a `filter` condition"))
        });
        let over = call.over.as_ref().map(|w| {
            let cx = Cx {
                window: false,
                ..cx
            };
            Window {
                partition_by: w
                    .partition_by
                    .iter()
                    .map(|e| self.expr(scope, cx, e))
                    .collect(),
                order_by: w
                    .order_by
                    .iter()
                    .map(|k| (self.expr(scope, cx, &k.expr), k.descending, k.nulls_first))
                    .collect(),
            }
        });
        let arg_ty = |i: usize| args.get(i).map_or(Type::Unknown, |a| a.ty);
        let ty = match func.ret {
            Ret::Fixed(t) => t,
            Ret::Arg(i) => arg_ty(i),
            Ret::Sum => arg_ty(0).sum(),
            Ret::Avg => arg_ty(0).avg(),
            Ret::Common | Ret::CommonOfTwo => {
                let take = if func.ret == Ret::CommonOfTwo {
                    2
                } else {
                    args.len()
                };
                let mut first = None;
                let mut ty = Type::Null;
                for arg in args.iter().take(take) {
                    ty = self.branch(&mut first, arg, span, ty);
                }
                if func.ret == Ret::CommonOfTwo {
                    arg_ty(0)
                } else {
                    ty
                }
            }
        };
        Expr {
            kind: ExprKind::Call(Call {
                func: id,
                args,
                star: call.star,
                distinct: call.distinct,
                filter,
                over,
            }),
            ty,
            span,
        }
    }
}
