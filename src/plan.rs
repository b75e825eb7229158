//! Plan: IR + selection → the ordered list of nodes a command works on.
//!
//! Selectors follow dbt's: `name`, `+name` (with its ancestors), `name+`
//! (with its descendants), `2+name` / `name+1` (to a depth), `@name`
//! (descendants and all their ancestors), `tag:x`, `layer:x`. Several
//! selectors are a union; `--exclude` removes what its selectors match.
//! This module does no IO.

use std::collections::{HashMap, HashSet};

use crate::ir::{Ir, RelId, RelationKind};

/// What a command works on: relations in build order (each with its
/// tests), and tests selected on their own, whose relations are not built
/// (`(relation, test name)`: a changed test with `state:modified`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub relations: Vec<RelId>,
    pub tests: Vec<(RelId, String)>,
}

/// How a relation differs from the same relation in another run's
/// manifest (`--state`): the fingerprints that differ, or new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    pub new: bool,
    pub body: bool,
    pub config: bool,
    pub columns: bool,
    pub docs: bool,
}

impl Change {
    /// `state:modified`: new, or its meaning or config changed (docs alone
    /// are `state:modified.docs`).
    pub fn modified(self) -> bool {
        self.new || self.body || self.config || self.columns
    }
}

/// What another run (`--state DIR`) says of each relation: how it differs
/// from that run's manifest, and how its nodes ended in that run
/// (`run_results.json`; a test's status counts for its relation).
#[derive(Debug, Clone, Default)]
pub struct State {
    pub changes: HashMap<RelId, Change>,
    /// How each test (and reconciliation) differs: a test is selected on
    /// its own by `state:` selectors, without rebuilding its relation.
    pub tests: Vec<TestChange>,
    /// `None` when the folder has no `run_results.json`.
    pub results: Option<HashMap<RelId, HashSet<String>>>,
    /// What changed inside each changed relation, for `state:impacted`.
    pub diffs: HashMap<RelId, Diff>,
}

/// What changed inside a relation: whether its rows may differ (what it
/// reads, a join, `where`, `group by`, `having`, `dedupe`, its grain), and
/// which columns changed, appeared or went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub rows: bool,
    pub columns: Vec<String>,
}

/// How one test differs from the same test in another run's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestChange {
    /// The relation it tests.
    pub relation: RelId,
    /// `not_null_stg_orders_order_id`
    pub name: String,
    pub change: Change,
}

/// The statuses `result:` selects on.
pub const RESULT_STATUSES: &[&str] = &[
    "success", "error", "fail", "warn", "pass", "proven", "skipped",
];

/// Which `state:` selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateMethod {
    New,
    Modified,
    ModifiedBody,
    ModifiedConfig,
    ModifiedColumns,
    ModifiedDocs,
    Unmodified,
    /// The modified relations and the descendants that read what changed.
    Impacted,
}

impl StateMethod {
    const ALL: &[(&str, StateMethod)] = &[
        ("new", StateMethod::New),
        ("modified", StateMethod::Modified),
        ("modified.body", StateMethod::ModifiedBody),
        ("modified.config", StateMethod::ModifiedConfig),
        ("modified.columns", StateMethod::ModifiedColumns),
        ("modified.docs", StateMethod::ModifiedDocs),
        ("unmodified", StateMethod::Unmodified),
        ("impacted", StateMethod::Impacted),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }

    fn matches(self, change: Change) -> bool {
        match self {
            StateMethod::New => change.new,
            StateMethod::Modified => change.modified(),
            StateMethod::ModifiedBody => change.new || change.body,
            StateMethod::ModifiedConfig => change.new || change.config,
            StateMethod::ModifiedColumns => change.new || change.columns,
            StateMethod::ModifiedDocs => change.new || change.docs,
            StateMethod::Unmodified => !change.new && !change.modified() && !change.docs,
            // Of a test: as `state:modified` (a test has no readers).
            StateMethod::Impacted => change.modified(),
        }
    }
}

/// How far along the graph a selector reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    None,
    Upto(usize),
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Node {
        name: String,
        parents: Depth,
        children: Depth,
        /// `@name`: descendants, and every ancestor of those.
        at: bool,
    },
    Tag(String),
    Layer(String),
    /// `source:raw` (every table of a source) or `source:raw.raw_orders`.
    Source(String),
    /// `state:modified+`: relations compared with another run's manifest.
    State {
        method: StateMethod,
        parents: Depth,
        children: Depth,
    },
    /// `result:error+`: relations whose node (or a test of theirs) ended
    /// so in another run.
    Result {
        status: String,
        parents: Depth,
        children: Depth,
    },
}

/// The selector methods there are, for messages.
pub const METHODS: &[&str] = &["tag:", "layer:", "source:", "state:", "result:"];

impl std::fmt::Display for Selector {
    /// The selector as it was written: `2+stg_orders+1`, `@x`, `tag:nightly`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let depth = |d: &Depth| match d {
            Depth::None => None,
            Depth::Upto(n) => Some(n.to_string()),
            Depth::All => Some(String::new()),
        };
        match self {
            Selector::Tag(t) => write!(f, "tag:{t}"),
            Selector::Layer(l) => write!(f, "layer:{l}"),
            Selector::Source(s) => write!(f, "source:{s}"),
            Selector::State {
                method,
                parents,
                children,
            } => {
                if let Some(n) = depth(parents) {
                    write!(f, "{n}+")?;
                }
                write!(f, "state:{}", method.name())?;
                if let Some(n) = depth(children) {
                    write!(f, "+{n}")?;
                }
                Ok(())
            }
            Selector::Result {
                status,
                parents,
                children,
            } => {
                if let Some(n) = depth(parents) {
                    write!(f, "{n}+")?;
                }
                write!(f, "result:{status}")?;
                if let Some(n) = depth(children) {
                    write!(f, "+{n}")?;
                }
                Ok(())
            }
            Selector::Node { name, at: true, .. } => write!(f, "@{name}"),
            Selector::Node {
                name,
                parents,
                children,
                at: false,
            } => {
                if let Some(n) = depth(parents) {
                    write!(f, "{n}+")?;
                }
                f.write_str(name)?;
                if let Some(n) = depth(children) {
                    write!(f, "+{n}")?;
                }
                Ok(())
            }
        }
    }
}

/// A selector that does not parse or matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectError {
    pub selector: String,
    pub reason: String,
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "selector `{}`: {}", self.selector, self.reason)
    }
}

fn depth(prefix: &str) -> Result<Depth, String> {
    match prefix {
        "" => Ok(Depth::All),
        n => n
            .parse::<usize>()
            .map(Depth::Upto)
            .map_err(|_| format!("`{n}` is not a depth")),
    }
}

/// Parses one selector.
pub fn parse_selector(text: &str) -> Result<Selector, SelectError> {
    let err = |reason: String| SelectError {
        selector: text.to_string(),
        reason,
    };
    let text = text.trim();
    if let Some(tag) = text.strip_prefix("tag:") {
        return Ok(Selector::Tag(tag.to_string()));
    }
    if let Some(layer) = text.strip_prefix("layer:") {
        return Ok(Selector::Layer(layer.to_string()));
    }
    if let Some(source) = text.strip_prefix("source:") {
        return Ok(Selector::Source(source.to_string()));
    }
    let methods = METHODS
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    for method in ["state:", "result:"] {
        let Some(at) = text.find(method) else {
            continue;
        };
        let parents = match at {
            0 => Depth::None,
            i if text[..i].ends_with('+') => depth(&text[..i - 1]).map_err(err)?,
            _ => {
                return Err(err(format!(
                    "expected `{method}…`, with `+` before or after it"
                )));
            }
        };
        let rest = &text[at + method.len()..];
        let (name, children) = match rest.find('+') {
            Some(i) => (&rest[..i], depth(&rest[i + 1..]).map_err(err)?),
            None => (rest, Depth::None),
        };
        if method == "result:" {
            if !RESULT_STATUSES.contains(&name) {
                let names: Vec<String> = RESULT_STATUSES
                    .iter()
                    .map(|n| format!("`result:{n}`"))
                    .collect();
                return Err(err(format!(
                    "no result selector `result:{name}`; there are {}",
                    names.join(", ")
                )));
            }
            return Ok(Selector::Result {
                status: name.to_string(),
                parents,
                children,
            });
        }
        let Some(&(_, method)) = StateMethod::ALL.iter().find(|(n, _)| *n == name) else {
            let names: Vec<String> = StateMethod::ALL
                .iter()
                .map(|(n, _)| format!("`state:{n}`"))
                .collect();
            return Err(err(format!(
                "no state selector `state:{name}`; there are {}",
                names.join(", ")
            )));
        };
        return Ok(Selector::State {
            method,
            parents,
            children,
        });
    }
    if let Some((method, _)) = text.split_once(':') {
        return Err(err(format!(
            "shopc has no selector method `{method}:`; the methods are {methods}, and names with `+` and `@`"
        )));
    }
    if text.contains(',') {
        return Err(err(
            "intersections (`a,b`) are not supported; separate selectors with spaces for a union"
                .into(),
        ));
    }
    if text.contains('*') || text.contains('?') {
        return Err(err(format!(
            "wildcards are not supported: name relations, or use {methods}; without --select everything is selected"
        )));
    }
    if let Some(name) = text.strip_prefix('@') {
        return Ok(Selector::Node {
            name: name.to_string(),
            parents: Depth::None,
            children: Depth::All,
            at: true,
        });
    }
    let (parents, rest) = match text.find('+') {
        Some(i) if text[..i].chars().all(|c| c.is_ascii_digit()) => {
            (depth(&text[..i]).map_err(err)?, &text[i + 1..])
        }
        _ => (Depth::None, text),
    };
    let (name, children) = match rest.rfind('+') {
        Some(i) if rest[i + 1..].chars().all(|c| c.is_ascii_digit()) => {
            (&rest[..i], depth(&rest[i + 1..]).map_err(err)?)
        }
        _ => (rest, Depth::None),
    };
    if name.is_empty() || name.contains('+') {
        return Err(err(
            "expected a name such as `stg_orders`, `+stg_orders` or `stg_orders+`".into(),
        ));
    }
    Ok(Selector::Node {
        name: name.to_string(),
        parents,
        children,
        at: false,
    })
}

/// The relations matched by `select` (everything when empty) minus those
/// matched by `exclude`, in build order. `state` says how each relation
/// differs from another run's manifest, for `state:` selectors (which
/// need it).
pub fn select(
    ir: &Ir,
    select: &[Selector],
    exclude: &[Selector],
    state: Option<&State>,
) -> Result<Vec<RelId>, SelectError> {
    let children = children_of(ir);
    let mut chosen: HashSet<RelId> = HashSet::new();
    if select.is_empty() {
        chosen.extend(ir.order.iter().copied());
    }
    // Errors name the selector as written (`+fct_x`), not only its name.
    fn written(selector: &Selector) -> impl Fn(SelectError) -> SelectError + '_ {
        move |e| SelectError {
            selector: selector.to_string(),
            reason: e.reason,
        }
    }
    for selector in select {
        chosen.extend(matches(ir, &children, selector, state).map_err(written(selector))?);
    }
    for selector in exclude {
        for id in matches(ir, &children, selector, state).map_err(written(selector))? {
            chosen.remove(&id);
        }
    }
    Ok(ir
        .order
        .iter()
        .copied()
        .filter(|id| chosen.contains(id))
        .collect())
}

/// The tests `state:` selectors match on their own (a new or changed test),
/// minus those `exclude` matches and those of relations in `relations`
/// (which run with their relation anyway): `(relation, test name)`, sorted.
pub fn select_tests(
    select: &[Selector],
    exclude: &[Selector],
    state: Option<&State>,
    relations: &[RelId],
) -> Vec<(RelId, String)> {
    let Some(state) = state else {
        return Vec::new();
    };
    let matching = |selectors: &[Selector]| -> HashSet<(RelId, &str)> {
        selectors
            .iter()
            .filter_map(|s| match s {
                Selector::State { method, .. } => Some(*method),
                _ => None,
            })
            .flat_map(|method| {
                state
                    .tests
                    .iter()
                    .filter(move |t| method.matches(t.change))
                    .map(|t| (t.relation, t.name.as_str()))
            })
            .collect()
    };
    let excluded = matching(exclude);
    let built: HashSet<RelId> = relations.iter().copied().collect();
    let chosen = matching(select);
    let mut out: Vec<(RelId, String)> = state
        .tests
        .iter()
        .map(|t| (t.relation, t.name.as_str()))
        .filter(|t| chosen.contains(t) && !excluded.contains(t) && !built.contains(&t.0))
        .map(|(r, name)| (r, name.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn children_of(ir: &Ir) -> Vec<Vec<RelId>> {
    let mut children = vec![Vec::new(); ir.relations.len()];
    for rel in &ir.relations {
        for dep in &rel.deps {
            children[dep.index()].push(rel.id);
        }
    }
    children
}

fn matches(
    ir: &Ir,
    children: &[Vec<RelId>],
    selector: &Selector,
    state: Option<&State>,
) -> Result<HashSet<RelId>, SelectError> {
    let mut out = HashSet::new();
    let around = |out: &mut HashSet<RelId>, id: RelId, parents: Depth, down: Depth| {
        out.insert(id);
        out.extend(walk(id, down, |r| children[r.index()].clone()));
        out.extend(walk(id, parents, |r| ir.relation(r).deps.clone()));
    };
    match selector {
        Selector::Result {
            status,
            parents,
            children: down,
        } => {
            let Some(results) = state.and_then(|s| s.results.as_ref()) else {
                return Err(SelectError {
                    selector: selector.to_string(),
                    reason: "a `result:` selector reads another run's run_results.json: give its target folder with `--state DIR`".into(),
                });
            };
            for &id in &ir.order {
                if results.get(&id).is_some_and(|s| s.contains(status)) {
                    around(&mut out, id, *parents, *down);
                }
            }
            return Ok(out);
        }
        Selector::State {
            method,
            parents,
            children: down,
        } => {
            let Some(state) = state else {
                return Err(SelectError {
                    selector: selector.to_string(),
                    reason: "a `state:` selector compares with another run: give its target folder with `--state DIR`".into(),
                });
            };
            if *method == StateMethod::Impacted {
                for id in impacted(ir, state) {
                    around(&mut out, id, *parents, *down);
                }
            } else {
                for &id in &ir.order {
                    if method.matches(state.changes.get(&id).copied().unwrap_or_default()) {
                        around(&mut out, id, *parents, *down);
                    }
                }
            }
            // A test has no descendants; its ancestors are its relation's,
            // one step further (`+state:modified` on a test: the relation
            // it tests, and what that reads).
            if *parents != Depth::None {
                for test in state.tests.iter().filter(|t| method.matches(t.change)) {
                    out.insert(test.relation);
                    let further = match parents {
                        Depth::Upto(n) => Depth::Upto(n.saturating_sub(1)),
                        d => *d,
                    };
                    out.extend(walk(test.relation, further, |r| {
                        ir.relation(r).deps.clone()
                    }));
                }
            }
            // Nothing modified is an empty selection, not an error.
            return Ok(out);
        }
        Selector::Tag(tag) => {
            for (rel, model) in ir.models() {
                if model.tags.iter().any(|t| t == tag) {
                    out.insert(rel.id);
                }
            }
        }
        Selector::Layer(layer) => {
            for (rel, model) in ir.models() {
                if model.layer.as_deref() == Some(layer.as_str()) {
                    out.insert(rel.id);
                }
            }
        }
        Selector::Source(name) => {
            for rel in &ir.relations {
                let in_source = rel
                    .name
                    .split_once('.')
                    .is_some_and(|(source, _)| source == name);
                if matches!(rel.kind, RelationKind::Table(_)) && (in_source || rel.name == *name) {
                    out.insert(rel.id);
                }
            }
        }
        Selector::Node {
            name,
            parents,
            children: down,
            at,
        } => {
            let Some(&id) = ir.by_name.get(name) else {
                let hint = crate::ir::suggest(name, ir.by_name.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(SelectError {
                    selector: name.clone(),
                    reason: format!("no relation has this name{hint}"),
                });
            };
            out.insert(id);
            let descendants = walk(id, *down, |r| children[r.index()].clone());
            out.extend(descendants.iter().copied());
            out.extend(walk(id, *parents, |r| ir.relation(r).deps.clone()));
            if *at {
                for d in descendants {
                    out.extend(walk(d, Depth::All, |r| ir.relation(r).deps.clone()));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(SelectError {
            selector: selector.to_string(),
            reason: match selector {
                Selector::Source(_) => "matches no source table".into(),
                _ => "matches no model".into(),
            },
        });
    }
    Ok(out)
}

/// `state:impacted`: the modified relations, and the descendants whose
/// rows or columns what changed can reach, along column lineage (through
/// ephemeral models, which are relations like the others here). A
/// relation's rows are impacted when a relation it scans has impacted
/// rows, or when a join, `where`, `group by`, `having` or `dedupe` reads an
/// impacted column; a column is impacted when its expression reads one.
/// A snapshot is impacted by any impact on what it records; a raw `sql`
/// expression hides what it reads, so it counts as reading every column.
pub fn impacted(ir: &Ir, state: &State) -> HashSet<RelId> {
    use crate::ir::ExprKind;
    let mut rows = vec![false; ir.relations.len()];
    let mut columns: HashSet<crate::ir::ColumnId> = HashSet::new();
    let mut out = HashSet::new();
    for &id in &ir.order {
        let rel = ir.relation(id);
        let modified = state
            .changes
            .get(&id)
            .is_some_and(|change| change.modified());
        let mut rows_changed = false;
        let mut changed = Vec::new();
        if let Some(diff) = state.diffs.get(&id) {
            rows_changed |= diff.rows;
            changed.extend(diff.columns.iter().filter_map(|c| rel.columns.get(c)));
        }
        // Whether an expression reads an impacted column (or may).
        let reads = |e: &crate::ir::Expr| {
            let mut hit = false;
            e.walk(&mut |e| match &e.kind {
                ExprKind::Column { column, .. } => hit |= columns.contains(column),
                ExprKind::Sql { .. } => hit = true,
                _ => {}
            });
            hit
        };
        let parents_impacted = rel.deps.iter().any(|d| out.contains(d));
        match &rel.kind {
            RelationKind::Model(m) if parents_impacted => {
                let q = &m.query;
                let mut clause_hit = false;
                q.walk_clauses(&mut |e| clause_hit |= reads(e));
                rows_changed |= clause_hit || q.scans.iter().any(|s| rows[s.relation.index()]);
                for &c in rel.columns.values() {
                    if ir.column(c).expr.as_ref().is_some_and(reads) {
                        changed.push(c);
                    }
                }
                if let Some(union) = &m.union {
                    rows_changed |= union.branches.iter().any(|b| rows[b.relation.index()]);
                    for (name, &c) in &rel.columns {
                        if union.inputs(ir, name).any(|input| columns.contains(&input)) {
                            changed.push(c);
                        }
                    }
                }
            }
            RelationKind::Snapshot(s) if out.contains(&s.from) => rows_changed = true,
            _ => {}
        }
        if modified || rows_changed || !changed.is_empty() {
            out.insert(id);
        }
        rows[id.index()] = rows_changed;
        columns.extend(changed);
    }
    out
}

/// Breadth-first walk from `start` (not included) up to `depth` steps.
fn walk(start: RelId, depth: Depth, next: impl Fn(RelId) -> Vec<RelId>) -> Vec<RelId> {
    let max = match depth {
        Depth::None => return Vec::new(),
        Depth::Upto(n) => n,
        Depth::All => usize::MAX,
    };
    let mut seen = HashSet::from([start]);
    let mut frontier = vec![start];
    let mut out = Vec::new();
    let mut level = 0;
    while !frontier.is_empty() && level < max {
        let mut next_frontier = Vec::new();
        for node in frontier {
            for n in next(node) {
                if seen.insert(n) {
                    out.push(n);
                    next_frontier.push(n);
                }
            }
        }
        frontier = next_frontier;
        level += 1;
    }
    out
}

/// What a node of a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Seed,
    Model,
    Snapshot,
}

/// Classifies a relation for a plan: source tables with a seed file are
/// seeds; other source tables are not built.
pub fn node_kind(ir: &Ir, id: RelId, seeds: &HashSet<RelId>) -> Option<NodeKind> {
    match ir.relation(id).kind {
        RelationKind::Table(_) if seeds.contains(&id) => Some(NodeKind::Seed),
        RelationKind::Table(_) | RelationKind::Series(_) => None,
        RelationKind::Model(_) => Some(NodeKind::Model),
        RelationKind::Snapshot(_) => Some(NodeKind::Snapshot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_state_selectors_with_graph_operators() {
        for text in [
            "state:modified",
            "state:modified+",
            "+state:new",
            "2+state:modified.body+1",
            "state:unmodified",
        ] {
            assert_eq!(parse_selector(text).unwrap().to_string(), text);
        }
        assert!(matches!(
            parse_selector("state:modified.docs+").unwrap(),
            Selector::State {
                method: StateMethod::ModifiedDocs,
                children: Depth::All,
                ..
            }
        ));
        assert!(parse_selector("state:changed").is_err());
        assert_eq!(
            parse_selector("result:fail+").unwrap().to_string(),
            "result:fail+"
        );
        assert!(parse_selector("result:broken").is_err());
        assert!(parse_selector("x+state:new").is_err());
    }

    #[test]
    fn parses_graph_operators() {
        let node = |name: &str, parents, children| Selector::Node {
            name: name.into(),
            parents,
            children,
            at: false,
        };
        assert_eq!(
            parse_selector("a").unwrap(),
            node("a", Depth::None, Depth::None)
        );
        assert_eq!(
            parse_selector("+a").unwrap(),
            node("a", Depth::All, Depth::None)
        );
        assert_eq!(
            parse_selector("a+").unwrap(),
            node("a", Depth::None, Depth::All)
        );
        assert_eq!(
            parse_selector("2+a+1").unwrap(),
            node("a", Depth::Upto(2), Depth::Upto(1))
        );
        assert_eq!(
            parse_selector("raw.raw_orders+").unwrap(),
            node("raw.raw_orders", Depth::None, Depth::All)
        );
        assert_eq!(
            parse_selector("tag:nightly").unwrap(),
            Selector::Tag("nightly".into())
        );
        assert!(matches!(
            parse_selector("@a").unwrap(),
            Selector::Node { at: true, .. }
        ));
        assert!(parse_selector("+").is_err());
        assert!(parse_selector("a++b").is_err());
        for written in ["2+a+1", "+a", "a+", "@a", "tag:x", "layer:y", "source:raw"] {
            assert_eq!(parse_selector(written).unwrap().to_string(), written);
        }
        for (bad, says) in [
            ("path:models/staging", "no selector method `path:`"),
            (
                "config.materialized:table",
                "no selector method `config.materialized:`",
            ),
            ("a,b", "intersections"),
            ("*", "wildcards"),
            ("stg_*", "wildcards"),
        ] {
            let e = parse_selector(bad).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{bad}: {e}");
        }
    }

    fn ir() -> Ir {
        use crate::span::SourceDb;
        let mut db = SourceDb::new();
        let config =
            crate::config::parse_project_config(crate::span::FileId(0), "name = \"p\"\n").unwrap();
        db.add("shop.toml", "name = \"p\"\n");
        let text = "source raw {\n table t { columns { id: integer } }\n}\n\
                    model a {\n tags = [\"x\"]\n from raw.t t\n columns { id = t.id }\n}\n\
                    model b {\n from a\n columns { id = a.id }\n}\n\
                    model c {\n from b\n columns { id = b.id }\n}\n\
                    model d {\n from a\n columns { id = a.id }\n}\n";
        let file = db.add("m.shop", text);
        let compilation = crate::compile(&db, &config, &[file]);
        assert!(
            compilation.problems.is_empty(),
            "{:?}",
            compilation.problems
        );
        compilation.ir
    }

    fn names(ir: &Ir, selected: &[&str], excluded: &[&str]) -> Vec<String> {
        let parse = |v: &[&str]| {
            v.iter()
                .map(|s| parse_selector(s).unwrap())
                .collect::<Vec<_>>()
        };
        select(ir, &parse(selected), &parse(excluded), None)
            .unwrap()
            .iter()
            .map(|id| ir.relation(*id).name.clone())
            .collect()
    }

    #[test]
    fn selects_along_the_graph() {
        let ir = ir();
        assert_eq!(names(&ir, &["b"], &[]), ["b"]);
        assert_eq!(names(&ir, &["+b"], &[]), ["raw.t", "a", "b"]);
        assert_eq!(names(&ir, &["1+c"], &[]), ["b", "c"]);
        assert_eq!(names(&ir, &["a+"], &[]), ["a", "b", "c", "d"]);
        assert_eq!(names(&ir, &["a+1"], &[]), ["a", "b", "d"]);
        assert_eq!(names(&ir, &["a+"], &["b+"]), ["a", "d"]);
        assert_eq!(names(&ir, &["tag:x"], &[]), ["a"]);
        assert_eq!(names(&ir, &["@b"], &[]), ["raw.t", "a", "b", "c"]);
        assert_eq!(names(&ir, &[], &["a+"]).len(), 1);
        let err = select(&ir, &[parse_selector("bb").unwrap()], &[], None).unwrap_err();
        assert!(err.to_string().contains("did you mean `b`?"), "{err}");
        let err = select(&ir, &[parse_selector("+bb").unwrap()], &[], None).unwrap_err();
        assert!(err.to_string().starts_with("selector `+bb`"), "{err}");
        assert_eq!(names(&ir, &["source:raw"], &[]), ["raw.t"]);
        assert!(select(&ir, &[parse_selector("tag:none").unwrap()], &[], None).is_err());
    }
}
