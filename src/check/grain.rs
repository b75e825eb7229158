//! The grain algebra: which columns identify a row of each relation, derived
//! through `from`, joins, `where`, `group by` and `dedupe`, and whether each
//! join is to-one or to-many.
//!
//! - a source table's grain is the key it claims (`expect_key`), else unknown;
//! - `from X` starts from grain(X); `where` keeps it;
//! - `join Y on …` is to-one when the columns of Y equated in the condition
//!   cover grain(Y): the grain is kept. Otherwise it is to-many and the grain
//!   becomes grain(left) ∪ grain(Y), or unknown;
//! - `group by K` and `dedupe on K` make the grain K;
//! - the model's grain is that set, when every column of it is an output.

use std::collections::HashMap;

use crate::ir::{ColumnId, Expr, ExprKind, Ir, Literal, Query, RelId, RelationKind, Union};
use crate::problem::GrainBreak;
use crate::span::Span;
use crate::syntax::ast::BinOp;

/// A column of one of a query's scans: `(scan index, column)`.
pub type ScanColumn = (usize, ColumnId);

/// The grain of a relation, as its own columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grain {
    Unknown,
    Key(Vec<ColumnId>),
}

/// How a join multiplies rows, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cardinality {
    /// The equated columns of the joined relation cover its grain.
    ToOne { key: Vec<ColumnId> },
    /// They do not: each left row can match many rows.
    ToMany {
        /// The joined relation's grain, when it has one.
        key: Option<Vec<ColumnId>>,
        /// Its columns the condition equates.
        equated: Vec<ColumnId>,
    },
}

/// What the algebra derived for one model.
#[derive(Debug, Clone)]
pub struct ModelGrain {
    /// The grain of the query before projection, as scan columns.
    pub query: Option<Vec<ScanColumn>>,
    /// Cardinality of each join, in order.
    pub joins: Vec<Cardinality>,
    /// The derived grain as output columns.
    pub derived: Grain,
    /// The clause that last set or broke the grain (from, a join, group by,
    /// dedupe), for messages.
    pub decided_by: Option<Span>,
}

/// Derived grains of every relation (declared grains stand for models that
/// declare one, so that one wrong declaration is reported once).
#[derive(Debug, Clone, Default)]
pub struct Grains {
    pub relations: HashMap<RelId, Grain>,
    pub models: HashMap<RelId, ModelGrain>,
}

impl Grains {
    pub fn of(&self, id: RelId) -> &Grain {
        self.relations.get(&id).unwrap_or(&Grain::Unknown)
    }
}

/// Derives the grain of every relation, in build order.
pub fn derive(ir: &Ir) -> Grains {
    let mut grains = Grains::default();
    // Series are read where they are made, in no order: one row per value.
    for rel in &ir.relations {
        if let RelationKind::Series(_) = rel.kind {
            let key = rel.columns.values().copied().collect();
            grains.relations.insert(rel.id, Grain::Key(key));
        }
    }
    for &id in &ir.order {
        let rel = ir.relation(id);
        let grain = match &rel.kind {
            RelationKind::Table(t) if !t.expect_key.is_empty() => Grain::Key(t.expect_key.clone()),
            RelationKind::Table(_) | RelationKind::Snapshot(_) => Grain::Unknown,
            // One row per value.
            RelationKind::Series(_) => Grain::Key(rel.columns.values().copied().collect()),
            RelationKind::Model(model) => {
                let derived = match &model.union {
                    Some(union) => {
                        let declared: Vec<ColumnId> =
                            model.grain.iter().flatten().map(|(c, _)| *c).collect();
                        let derived = union_grain(ir, &grains, id, union, &declared)
                            .map_or(Grain::Unknown, Grain::Key);
                        ModelGrain {
                            query: None,
                            joins: Vec::new(),
                            derived,
                            decided_by: Some(union.span),
                        }
                    }
                    None => model_grain(ir, &grains, id, &model.query),
                };
                let grain = match &model.grain {
                    Some(declared) => Grain::Key(declared.iter().map(|(c, _)| *c).collect()),
                    None => derived.derived.clone(),
                };
                grains.models.insert(id, derived);
                grain
            }
        };
        grains.relations.insert(id, grain);
    }
    grains
}

fn model_grain(ir: &Ir, grains: &Grains, id: RelId, q: &Query) -> ModelGrain {
    let mut out = ModelGrain {
        query: None,
        joins: Vec::new(),
        derived: Grain::Unknown,
        decided_by: None,
    };
    let Some(from) = q.scans.first() else {
        return out;
    };
    out.decided_by = Some(from.span);
    let scan_grain = |scan: usize| match grains.of(q.scans[scan].relation) {
        Grain::Key(cols) => Some(cols.iter().map(|c| (scan, *c)).collect::<Vec<_>>()),
        Grain::Unknown => None,
    };
    let mut grain = scan_grain(0);
    for join in &q.joins {
        let pairs = equated_pairs(&join.on, join.scan);
        let equated: Vec<ColumnId> = pairs.iter().map(|(c, _)| *c).collect();
        let cardinality = match grains.of(q.scans[join.scan].relation) {
            Grain::Key(key) if key.iter().all(|k| equated.contains(k)) => {
                Cardinality::ToOne { key: key.clone() }
            }
            Grain::Key(key) => Cardinality::ToMany {
                key: Some(key.clone()),
                equated: equated.clone(),
            },
            Grain::Unknown => Cardinality::ToMany { key: None, equated },
        };
        if join.kind == crate::syntax::ast::JoinKind::Full {
            // Rows of either side without a match come with the other
            // side's columns NULL: no set of columns is known to tell them
            // apart, until `group by` or `dedupe` (on `coalesce(a.k, b.k)`)
            // makes a grain again.
            grain = None;
            out.decided_by = Some(join.span);
            out.joins.push(cardinality);
            continue;
        }
        if let Cardinality::ToMany { .. } = cardinality {
            grain = match (grain, scan_grain(join.scan)) {
                (Some(mut left), Some(right)) => {
                    // A key column equated with a column already in scope is
                    // that column: `o.order_id = i.order_id` adds only `i.line`.
                    for (scan, column) in right {
                        let same = pairs
                            .iter()
                            .find(|(c, _)| *c == column)
                            .and_then(|(_, other)| *other);
                        let member = same.unwrap_or((scan, column));
                        if !left.contains(&member) {
                            left.push(member);
                        }
                    }
                    Some(left)
                }
                _ => None,
            };
            out.decided_by = Some(join.span);
        }
        out.joins.push(cardinality);
    }
    let keyed = |keys: &[Expr]| -> Option<Vec<ScanColumn>> {
        keys.iter()
            .map(|k| match k.kind {
                ExprKind::Column { scan, column } => Some((scan, column)),
                _ => None,
            })
            .collect()
    };
    if !q.group_by.is_empty() {
        grain = keyed(&q.group_by);
        out.decided_by = q.group_by.first().map(|k| k.span);
    } else if let Some(dedupe) = &q.dedupe {
        grain = keyed(&dedupe.keys);
        out.decided_by = Some(dedupe.span);
    }
    out.query = grain.clone();
    let rel = ir.relation(id);
    if !q.group_by.is_empty() {
        // Each key must be an output that computes exactly it (a column or
        // the same expression).
        let projected: Option<Vec<ColumnId>> = q
            .group_by
            .iter()
            .map(|key| {
                rel.columns
                    .values()
                    .copied()
                    .find(|out| ir.column(*out).expr.as_ref().is_some_and(|e| e.same(key)))
            })
            .collect();
        out.derived = match projected {
            Some(mut cols) => {
                cols.dedup();
                Grain::Key(cols)
            }
            None => grain
                .as_deref()
                .and_then(|key| covering(ir, rel.columns.values().copied(), key))
                .map_or(Grain::Unknown, Grain::Key),
        };
        return out;
    }
    // Project: every grain column must be an output that is exactly it.
    out.derived = match grain {
        Some(cols) => {
            let projected: Option<Vec<ColumnId>> = cols
                .iter()
                .map(|(scan, column)| {
                    rel.columns.values().copied().find(|out| {
                        matches!(ir.column(*out).expr.as_ref().map(|e| &e.kind),
                            Some(ExprKind::Column { scan: s, column: c }) if s == scan && c == column)
                    })
                })
                .collect();
            match projected {
                Some(mut cols) => {
                    cols.dedup();
                    Grain::Key(cols)
                }
                None => covering(ir, rel.columns.values().copied(), &cols)
                    .map_or(Grain::Unknown, Grain::Key),
            }
        }
        None => Grain::Unknown,
    };
    out
}

/// Whether a model's query proves its declared grain: the derived key is
/// among the declared columns (a superset of a key is unique too), or the
/// declared columns identify the query's key (a surrogate key of it).
pub fn query_proves(ir: &Ir, derived: &ModelGrain, declared: &[(ColumnId, Span)]) -> bool {
    if let Grain::Key(key) = &derived.derived
        && key.iter().all(|k| declared.iter().any(|(d, _)| d == k))
    {
        return true;
    }
    derived
        .query
        .as_ref()
        .is_some_and(|query| covering(ir, declared.iter().map(|(c, _)| *c), query).is_some())
}

/// Whether a model's declared grain holds by what the checker knows (what
/// G001 reports when it does not): proven from its query, or for a union
/// from its branches. `false` for a model without one.
pub fn declared_holds(ir: &Ir, grains: &Grains, id: RelId) -> bool {
    let RelationKind::Model(model) = &ir.relation(id).kind else {
        return false;
    };
    let Some(declared) = &model.grain else {
        return false;
    };
    if let Some(union) = &model.union {
        let columns: Vec<ColumnId> = declared.iter().map(|(c, _)| *c).collect();
        return union_grain(ir, grains, id, union, &columns).is_ok();
    }
    grains
        .models
        .get(&id)
        .is_some_and(|derived| query_proves(ir, derived, declared))
}

/// The grain of a union model, as its own columns, or why there is none.
///
/// Each branch must have a grain; the union's is every branch's grain (by
/// column name) plus a discriminator: a column whose values in each branch
/// are constants that no other branch has (`channel = 'web'`). Rows of
/// different branches differ on it, rows of one branch on its grain. One of
/// the `declared` columns is taken as the discriminator when one fits. A
/// `union` (not `union all`) without such a proof is unique on all its columns.
pub fn union_grain(
    ir: &Ir,
    grains: &Grains,
    id: RelId,
    union: &Union,
    declared: &[ColumnId],
) -> Result<Vec<ColumnId>, GrainBreak> {
    let rel = ir.relation(id);
    let proven = (|| {
        let mut key: Vec<ColumnId> = Vec::new();
        for branch in &union.branches {
            let of_branch = match grains.of(branch.relation) {
                Grain::Key(cols) => cols.clone(),
                Grain::Unknown => {
                    return Err(GrainBreak::UnionBranch {
                        span: branch.span,
                        relation: branch.alias.clone(),
                        grain: None,
                    });
                }
            };
            for c in of_branch {
                let Some(&out) = rel.columns.get(&ir.column(c).name) else {
                    continue;
                };
                if !key.contains(&out) {
                    key.push(out);
                }
            }
        }
        if union.branches.len() > 1 {
            let discriminators: Vec<ColumnId> = rel
                .columns
                .values()
                .copied()
                .filter(|c| discriminates(ir, union, &ir.column(*c).name))
                .collect();
            let chosen = discriminators
                .iter()
                .find(|d| declared.contains(d) || key.contains(d))
                .or(discriminators.first())
                .ok_or(GrainBreak::UnionOverlap { span: union.span })?;
            if !key.contains(chosen) {
                key.push(*chosen);
            }
        }
        Ok(key)
    })();
    match proven {
        // Without duplicate rows, all the columns together are a key; a
        // declared grain of fewer columns is not implied by that.
        Err(cause) if union.distinct => {
            let all: Vec<ColumnId> = rel.columns.values().copied().collect();
            if declared.is_empty() || all.iter().all(|c| declared.contains(c)) {
                Ok(all)
            } else {
                Err(cause)
            }
        }
        Ok(key) if !declared.is_empty() && !key.iter().all(|k| declared.contains(k)) => {
            // Name the branch whose grain the declaration leaves out.
            let outside = union
                .branches
                .iter()
                .find_map(|b| match grains.of(b.relation) {
                    Grain::Key(cols)
                        if cols.iter().any(|c| {
                            rel.columns
                                .get(&ir.column(*c).name)
                                .is_some_and(|out| !declared.contains(out))
                        }) =>
                    {
                        Some(GrainBreak::UnionBranch {
                            span: b.span,
                            relation: b.alias.clone(),
                            grain: Some(cols.iter().map(|c| ir.column(*c).name.clone()).collect()),
                        })
                    }
                    _ => None,
                });
            Err(outside.unwrap_or(GrainBreak::UnionOverlap { span: union.span }))
        }
        other => other,
    }
}

/// Whether the column `name` takes, in each branch of the union, constant
/// values that no other branch takes.
fn discriminates(ir: &Ir, union: &Union, name: &str) -> bool {
    let mut seen: Vec<Literal> = Vec::new();
    for column in union.inputs(ir, name) {
        let Some(values) = constants(ir, column) else {
            return false;
        };
        if values.iter().any(|v| seen.contains(v)) {
            return false;
        }
        seen.extend(values);
    }
    true
}

/// The values a column can take when they are a few constants: a literal
/// (not NULL), or a union's column made of such constants in every branch.
fn constants(ir: &Ir, column: ColumnId) -> Option<Vec<Literal>> {
    let c = ir.column(column);
    match &c.expr {
        Some(e) => match &e.kind {
            ExprKind::Literal(Literal::Null) => None,
            ExprKind::Literal(l) => Some(vec![l.clone()]),
            ExprKind::Cast { expr, .. } => match &expr.kind {
                ExprKind::Literal(Literal::Null) => None,
                ExprKind::Literal(l) => Some(vec![l.clone()]),
                _ => None,
            },
            _ => None,
        },
        None => match &ir.relation(c.relation).kind {
            RelationKind::Model(m) => {
                let union = m.union.as_ref()?;
                let mut all = Vec::new();
                for input in union.inputs(ir, &c.name) {
                    all.extend(constants(ir, input)?);
                }
                Some(all)
            }
            _ => None,
        },
    }
}

/// The scan columns an output's value tells apart, and whether it is an
/// injective function of them: the column itself (`false`), or every
/// argument of an injective function of columns
/// (`surrogate_key(o.order_id, i.line)`, `true`).
fn identifies(e: &Expr) -> Option<(Vec<ScanColumn>, bool)> {
    match &e.kind {
        ExprKind::Column { scan, column } => Some((vec![(*scan, *column)], false)),
        ExprKind::Call(call) if call.func.func().injective && call.over.is_none() => call
            .args
            .iter()
            .map(|a| match a.kind {
                ExprKind::Column { scan, column } => Some((scan, column)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|parts| (parts, true)),
        _ => None,
    }
}

/// Some of `outputs` that together identify the rows `key` identifies: each
/// key column is an output as is, or an argument of an injective output.
/// Two rows that differ on the key differ on one of those outputs, so they
/// are a key too. Injective outputs are taken first (a surrogate key stands
/// for the columns it hashes), then plain columns for what is left.
pub fn covering(
    ir: &Ir,
    outputs: impl Iterator<Item = ColumnId> + Clone,
    key: &[ScanColumn],
) -> Option<Vec<ColumnId>> {
    let mut left: Vec<ScanColumn> = key.to_vec();
    let mut chosen = Vec::new();
    let identified = |out: ColumnId| ir.column(out).expr.as_ref().and_then(identifies);
    for injective in [true, false] {
        for out in outputs.clone() {
            let Some((parts, is_injective)) = identified(out) else {
                continue;
            };
            if is_injective == injective && parts.iter().any(|p| left.contains(p)) {
                left.retain(|k| !parts.contains(k));
                chosen.push(out);
            }
        }
    }
    left.is_empty().then_some(chosen)
}

/// Columns of scan `scan` that the condition equates (through `and`) with
/// something that does not come from that scan: a column of another scan
/// (given), or a constant or expression (`None`).
fn equated_pairs(on: &Expr, scan: usize) -> Vec<(ColumnId, Option<ScanColumn>)> {
    let mut out = Vec::new();
    collect_equated(on, scan, &mut out);
    out
}

fn collect_equated(e: &Expr, scan: usize, out: &mut Vec<(ColumnId, Option<ScanColumn>)>) {
    let ExprKind::Binary { op, lhs, rhs } = &e.kind else {
        return;
    };
    match op {
        BinOp::And => {
            collect_equated(lhs, scan, out);
            collect_equated(rhs, scan, out);
        }
        BinOp::Eq => {
            for (this, other) in [(lhs, rhs), (rhs, lhs)] {
                if let ExprKind::Column { scan: s, column } = this.kind
                    && s == scan
                    && !reads_scan(other, scan)
                {
                    let other = match other.kind {
                        ExprKind::Column { scan, column } => Some((scan, column)),
                        _ => None,
                    };
                    out.push((column, other));
                }
            }
        }
        _ => {}
    }
}

/// The foreign key of a join: the joined relation's columns equated with
/// columns of one earlier scan, in pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub left_scan: usize,
    /// (column of the left scan, column of the joined relation)
    pub pairs: Vec<(ColumnId, ColumnId)>,
}

/// The foreign key of a join, when its condition equates columns of exactly
/// one earlier scan with columns of the joined relation.
pub fn join_foreign_key(join: &crate::ir::Join) -> Option<ForeignKey> {
    let mut left_scan = None;
    let mut pairs = Vec::new();
    for (right, other) in equated_pairs(&join.on, join.scan) {
        let (scan, left) = other?;
        if *left_scan.get_or_insert(scan) != scan {
            return None;
        }
        pairs.push((left, right));
    }
    Some(ForeignKey {
        left_scan: left_scan?,
        pairs,
    })
}

/// The scan columns of query `q` that `start` determines (one value of
/// `start`, one value of each): a scan is determined when the known columns
/// cover its grain, or when it is joined to-one on known columns; its
/// columns are then known. With `through_equalities`, a column equated with
/// a known one in a join's condition (either way) is known too: right for
/// the rows where the known column is not NULL, which is all that counts
/// for a `count(distinct k)` of a known `k`; not for `group by` (G002),
/// where a left join's NULL would stand for many rows.
pub fn determined(
    ir: &Ir,
    grains: &Grains,
    q: &Query,
    derived: &ModelGrain,
    start: Vec<ScanColumn>,
    through_equalities: bool,
) -> Vec<ScanColumn> {
    let mut known = start;
    // The joins that are to-one, by the scan they add.
    let to_one: Vec<&crate::ir::Join> = q
        .joins
        .iter()
        .zip(&derived.joins)
        .filter(|(_, c)| matches!(c, Cardinality::ToOne { .. }))
        .map(|(j, _)| j)
        .collect();
    let mut equalities: Vec<(ScanColumn, ScanColumn)> = Vec::new();
    if through_equalities {
        for join in &q.joins {
            for (right, other) in equated_pairs(&join.on, join.scan) {
                if let Some(left) = other {
                    equalities.push(((join.scan, right), left));
                }
            }
        }
    }
    let mut determined = vec![false; q.scans.len()];
    loop {
        let mut changed = false;
        for &(a, b) in &equalities {
            for (x, y) in [(a, b), (b, a)] {
                if known.contains(&x) && !known.contains(&y) {
                    known.push(y);
                    changed = true;
                }
            }
        }
        for (scan, done) in determined.iter_mut().enumerate() {
            if *done {
                continue;
            }
            let by_grain = matches!(grains.of(q.scans[scan].relation),
                Grain::Key(key) if key.iter().all(|k| known.contains(&(scan, *k))));
            let by_join = to_one.iter().filter(|j| j.scan == scan).any(|join| {
                join_foreign_key(join).is_some_and(|fk| {
                    fk.pairs
                        .iter()
                        .all(|(l, _)| known.contains(&(fk.left_scan, *l)))
                })
            });
            if by_grain || by_join {
                *done = true;
                let columns = ir.relation(q.scans[scan].relation).columns.values();
                known.extend(columns.map(|c| (scan, *c)));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    known
}

fn reads_scan(e: &Expr, scan: usize) -> bool {
    let mut reads = false;
    e.walk(&mut |e| {
        if let ExprKind::Column { scan: s, .. } = e.kind
            && s == scan
        {
            reads = true;
        }
    });
    reads
}

/// The proof, in words, for `shopc debug grain`: the grain each step
/// derives, and for each join its cardinality and why.
pub fn explain(ir: &Ir, grains: &Grains, id: RelId) -> String {
    use std::fmt::Write;
    let rel = ir.relation(id);
    let names = |cols: &[ColumnId]| {
        cols.iter()
            .map(|c| ir.column(*c).name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let grain_text = |g: &Grain| match g {
        Grain::Key(cols) => format!("[{}]", names(cols)),
        Grain::Unknown => "unknown".to_string(),
    };
    let mut out = String::new();
    let RelationKind::Model(model) = &rel.kind else {
        let _ = writeln!(
            out,
            "{} {}: grain {}",
            rel.kind_word(),
            rel.name,
            grain_text(grains.of(id))
        );
        if let RelationKind::Table(t) = &rel.kind
            && !t.expect_key.is_empty()
        {
            let _ = writeln!(out, "  claimed by expect_key: tested, not trusted");
        }
        return out;
    };
    let Some(derived) = grains.models.get(&id) else {
        return format!("model {}: not analysed (it has errors)\n", rel.name);
    };
    let q = &model.query;
    let _ = writeln!(
        out,
        "model {}: derived grain {}",
        rel.name,
        grain_text(&derived.derived)
    );
    if let Some(declared) = &model.grain {
        let cols: Vec<ColumnId> = declared.iter().map(|(c, _)| *c).collect();
        let proven =
            matches!(&derived.derived, Grain::Key(k) if k.iter().all(|c| cols.contains(c)));
        let _ = writeln!(
            out,
            "  declared [{}]: {}",
            names(&cols),
            if proven {
                "proven"
            } else {
                "NOT proven (see `shopc check`)"
            }
        );
    }
    if let Some(from) = q.scans.first() {
        let _ = writeln!(
            out,
            "  from {} as {}: grain {}",
            ir.relation(from.relation).name,
            from.alias,
            grain_text(grains.of(from.relation))
        );
    }
    for (join, cardinality) in q.joins.iter().zip(&derived.joins) {
        let scan = &q.scans[join.scan];
        let target = ir.relation(scan.relation);
        let kind = match join.kind {
            crate::syntax::ast::JoinKind::Inner => "join",
            crate::syntax::ast::JoinKind::Left => "left join",
            crate::syntax::ast::JoinKind::Full => "full join",
        };
        let why = match cardinality {
            Cardinality::ToOne { key } => format!(
                "to-one: the condition equates [{}], the grain of {}",
                names(key),
                target.name
            ),
            Cardinality::ToMany {
                key: Some(key),
                equated,
            } => format!(
                "to-many: the grain of {} is [{}], the condition equates only [{}]",
                target.name,
                names(key),
                names(equated)
            ),
            Cardinality::ToMany { key: None, .. } => {
                format!("to-many: {} has no known grain", target.name)
            }
        };
        let claim = match join.claim {
            Some((crate::syntax::ast::JoinClaim::One, _)) => " (claimed `one`)",
            Some((crate::syntax::ast::JoinClaim::Many, _)) => " (claimed `many`)",
            None => "",
        };
        let _ = writeln!(
            out,
            "  {kind} {} as {}: {why}{claim}",
            target.name, scan.alias
        );
    }
    if !q.group_by.is_empty() {
        let _ = writeln!(out, "  group by: the grain becomes the group keys");
    } else if q.dedupe.is_some() {
        let _ = writeln!(out, "  dedupe: the grain becomes the dedupe keys");
    }
    out
}
