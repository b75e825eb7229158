//! Check: IR → problems. Rules over whole models that need every name bound
//! and every type known. This module does no IO.
//!
//! The analyses (`grain`, `additivity`, `nullability`) derive facts of
//! every relation; the rules here turn them into problems (a declared
//! grain not proven, a fan-out, a sum of a non-additive measure…), and
//! `proofs` says which derived tests those facts make unnecessary.

pub mod additivity;
pub mod grain;
pub mod nullability;
pub mod proofs;

use crate::ir::{ExprKind, Ir, Materialized, RelationKind};
use crate::problem::{GrainBreak, Problem};
use grain::{Cardinality, Grain, Grains};

/// What every rule over one model sees.
#[derive(Clone, Copy)]
struct ModelCx<'a> {
    ir: &'a Ir,
    grains: &'a Grains,
    rel: &'a crate::ir::Relation,
    model: &'a crate::ir::Model,
    /// What the grain algebra derived for this model.
    derived: &'a grain::ModelGrain,
    additivities: &'a additivity::Additivities,
}

impl<'a> ModelCx<'a> {
    /// The expressions that may hold aggregates: every output, then `having`.
    fn aggregating_exprs(&self) -> impl Iterator<Item = &'a crate::ir::Expr> + use<'a> {
        let ir = self.ir;
        self.rel
            .columns
            .values()
            .filter_map(move |c| ir.column(*c).expr.as_ref())
            .chain(self.model.query.having.as_ref())
    }
}

/// What the checker derives of every relation, kept with the compilation
/// for what comes after it (the manifest, the tests the grain implies).
#[derive(Debug, Default)]
pub struct Analysis {
    pub grains: grain::Grains,
    pub additivities: additivity::Additivities,
    pub nullability: nullability::Nullability,
}

/// Derives grains, additivity and nullability.
pub fn analyze(ir: &Ir) -> Analysis {
    // Nullability needs neither grains nor additivity: it is derived on
    // the other core meanwhile.
    let ((grains, additivities), nullability) = crate::in_pool(|| {
        rayon::join(
            || {
                let grains = grain::derive(ir);
                let additivities = additivity::derive(ir, &grains);
                (grains, additivities)
            },
            || nullability::derive(ir),
        )
    });
    Analysis {
        grains,
        additivities,
        nullability,
    }
}

/// Checks a project, deriving what it needs.
pub fn check(ir: &Ir) -> Vec<Problem> {
    check_with(ir, &analyze(ir))
}

/// Checks a project with what [`analyze`] derived of it.
pub fn check_with(ir: &Ir, analysis: &Analysis) -> Vec<Problem> {
    use rayon::prelude::*;
    let (grains, additivities) = (&analysis.grains, &analysis.additivities);
    // Each model on its own, in parallel; the problems in the models' order.
    let per_model: Vec<Vec<Problem>> = crate::in_pool(|| {
        ir.order
            .par_iter()
            .map(|&id| {
                let mut problems = Vec::new();
                let rel = ir.relation(id);
                if !rel.complete {
                    return problems;
                }
                if let RelationKind::Model(model) = &rel.kind
                    && let Some(derived) = grains.models.get(&id)
                {
                    let cx = ModelCx {
                        ir,
                        grains,
                        rel,
                        model,
                        derived,
                        additivities,
                    };
                    mixed_aggregation(&cx, &mut problems);
                    declared_grain(&cx, &mut problems);
                    fan_out(&cx, &mut problems);
                    row_loss(&cx, &mut problems);
                    group_dependency(&cx, &mut problems);
                    join_claims(&cx, &mut problems);
                    sums(&cx, &mut problems);
                }
                problems
            })
            .collect()
    });
    let mut problems: Vec<Problem> = per_model.into_iter().flatten().collect();
    snapshot_grains(ir, grains, &mut problems);
    nullable_keys(ir, &analysis.nullability, &mut problems);
    problems
}

/// G003: a snapshot's source has one row per `unique_key` or, with the
/// timestamp strategy, one row per key and timestamp (every version).
fn snapshot_grains(ir: &Ir, grains: &Grains, problems: &mut Vec<Problem>) {
    for &id in &ir.order {
        let rel = ir.relation(id);
        let RelationKind::Snapshot(snapshot) = &rel.kind else {
            continue;
        };
        if !rel.complete || snapshot.unique_key.is_empty() {
            continue;
        }
        let name = |c: crate::ir::ColumnId| ir.column(c).name.clone();
        let mut allowed: Vec<String> = snapshot.unique_key.iter().map(|c| name(*c)).collect();
        let timestamp = match snapshot.strategy {
            crate::ir::SnapshotStrategy::Timestamp(c) => Some(name(c)),
            _ => None,
        };
        allowed.extend(timestamp.clone());
        let from = ir.relation(snapshot.from);
        let grain = match grains.of(snapshot.from) {
            Grain::Key(cols) => Some(cols.iter().map(|c| name(*c)).collect::<Vec<_>>()),
            Grain::Unknown => None,
        };
        if grain
            .as_ref()
            .is_some_and(|g| g.iter().all(|c| allowed.contains(c)))
        {
            continue;
        }
        problems.push(Problem::SnapshotGrain {
            key: snapshot.key_span,
            snapshot: rel.name.clone(),
            unique_key: snapshot.unique_key.iter().map(|c| name(*c)).collect(),
            timestamp,
            from: Box::new((from.name_span, from.name.clone(), grain)),
        });
    }
}

/// The labels of a NULL's trace, from the key to its origin.
fn because(
    ir: &Ir,
    known: &nullability::Nullability,
    why: nullability::Why,
) -> Vec<(crate::span::Span, String)> {
    let chain = nullability::trace(ir, known, why);
    let last = chain.len() - 1;
    chain
        .iter()
        .enumerate()
        .map(|(i, w)| match w {
            nullability::Why::Column { .. } if i == last => (
                w.span(),
                format!("{}: nothing proves or tests otherwise", w.describe()),
            ),
            _ => (w.span(), w.describe()),
        })
        .collect()
}

/// I001: the unique key of an incremental model or a snapshot must never be
/// NULL. A model's own tests run after the merge, so only upstream
/// guarantees and the model's own query count.
fn nullable_keys(ir: &Ir, known: &nullability::Nullability, problems: &mut Vec<Problem>) {
    for &id in &ir.order {
        let rel = ir.relation(id);
        if !rel.complete {
            continue;
        }
        match &rel.kind {
            RelationKind::Model(model) => {
                let Materialized::Incremental(incremental) = &model.materialized else {
                    continue;
                };
                for key in &incremental.unique_key {
                    let Some(expr) = rel
                        .columns
                        .get(key)
                        .and_then(|c| ir.column(*c).expr.as_ref())
                    else {
                        continue;
                    };
                    if let Some(why) = nullability::why(ir, known, &model.query, expr) {
                        problems.push(Problem::NullableKey {
                            setting: incremental.span,
                            key: key.clone(),
                            relation: rel.name.clone(),
                            kind: "an incremental model",
                            because: because(ir, known, why),
                        });
                    }
                }
            }
            RelationKind::Snapshot(snapshot) => {
                let from = ir.relation(snapshot.from);
                for &key in &snapshot.unique_key {
                    let name = &ir.column(key).name;
                    let Some(&upstream) = from.columns.get(name) else {
                        continue;
                    };
                    if known.never_null(upstream) {
                        continue;
                    }
                    // Point at where the upstream column gets its NULLs.
                    let column = ir.column(upstream);
                    let why = match (&from.kind, &column.expr) {
                        (RelationKind::Model(m), Some(expr)) => {
                            nullability::why(ir, known, &m.query, expr)
                        }
                        _ => None,
                    };
                    let because = match why {
                        Some(why) => because(ir, known, why),
                        None => vec![(
                            column.span,
                            format!(
                                "`{}.{name}` can be NULL: nothing proves or tests otherwise",
                                from.name
                            ),
                        )],
                    };
                    problems.push(Problem::NullableKey {
                        setting: snapshot.key_span,
                        key: name.clone(),
                        relation: rel.name.clone(),
                        kind: "a snapshot",
                        because,
                    });
                }
            }
            RelationKind::Table(_) | RelationKind::Series(_) => {}
        }
    }
}

/// In a grouped model, every column read outside an aggregate must be a
/// group key or determined by the keys: a column of a scan whose grain the
/// keys cover, or of a scan joined to-one on determined columns.
fn group_dependency(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    let ModelCx {
        ir,
        grains,
        rel,
        model,
        derived,
        ..
    } = *cx;
    let q = &model.query;
    let (Some(first), Some(last)) = (q.group_by.first(), q.group_by.last()) else {
        return;
    };
    let group_by = first.span.to(last.span);
    let keys: Vec<grain::ScanColumn> = q
        .group_by
        .iter()
        .filter_map(|k| match k.kind {
            ExprKind::Column { scan, column } => Some((scan, column)),
            _ => None,
        })
        .collect();
    let known = grain::determined(ir, grains, q, derived, keys, false);
    for column in rel.columns.values().map(|c| ir.column(*c)) {
        let Some(expr) = &column.expr else { continue };
        let mut reads = Vec::new();
        expr.ungrouped_columns(&q.group_by, &mut reads);
        let unknown = reads.iter().find(|e| {
            matches!(e.kind, ExprKind::Column { scan, column } if !known.contains(&(scan, column)))
        });
        if let Some(span) = unknown.map(|e| e.span) {
            problems.push(Problem::NotGrouped {
                column: column.name.clone(),
                reference: span,
                group_by,
            });
        }
    }
}

/// `join one` must be proven to-one. (`join many` is always true.)
fn join_claims(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    let ModelCx {
        ir, model, derived, ..
    } = *cx;
    let q = &model.query;
    let names = |cols: &[crate::ir::ColumnId]| {
        cols.iter()
            .map(|c| ir.column(*c).name.clone())
            .collect::<Vec<_>>()
    };
    for (join, cardinality) in q.joins.iter().zip(&derived.joins) {
        if let Some((crate::syntax::ast::JoinClaim::One, claim)) = join.claim
            && let Cardinality::ToMany { key, equated } = cardinality
        {
            problems.push(Problem::JoinClaimBroken {
                claim,
                join: join.span,
                alias: q.scans[join.scan].alias.clone(),
                relation: ir.relation(q.scans[join.scan].relation).name.clone(),
                key: key.as_deref().map(names),
                equated: names(equated),
            });
        }
    }
}

/// `sum` only over additive columns, and over a semi-additive one only
/// within one value of its dimension.
fn sums(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    use additivity::Additivity;
    let ModelCx {
        ir,
        model,
        additivities,
        ..
    } = *cx;
    let q = &model.query;
    let group_by = match (q.group_by.first(), q.group_by.last()) {
        (Some(first), Some(last)) => Some(first.span.to(last.span)),
        _ => None,
    };
    let check = |expr: &crate::ir::Expr| {
        expr.walk(&mut |e| {
            let ExprKind::Call(call) = &e.kind else {
                return;
            };
            if call.func.func().name != "sum" {
                return;
            }
            // A window sum adds up within its partition; a plain one within its group.
            let keys: &[crate::ir::Expr] = match &call.over {
                Some(window) => &window.partition_by,
                None => &q.group_by,
            };
            let mut reported = false;
            for arg in &call.args {
                arg.walk(&mut |a| {
                    let ExprKind::Column { scan, column } = a.kind else {
                        return;
                    };
                    if reported {
                        return;
                    }
                    let source = ir.column(column);
                    let relation = ir.relation(source.relation).name.clone();
                    match additivities.of(column) {
                        Additivity::Additive => {}
                        Additivity::NonAdditive { reason } => {
                            reported = true;
                            problems.push(Problem::SumOfNonAdditive {
                                aggregate: e.span,
                                column: source.name.clone(),
                                relation,
                                reason: reason.to_string(),
                                defined: Some(source.span),
                            });
                        }
                        Additivity::Semi { dimension } => {
                            let grouped = keys.iter().any(|k| {
                                matches!(k.kind, ExprKind::Column { scan: s, column: c } if s == scan && c == dimension)
                            });
                            if !grouped {
                                reported = true;
                                problems.push(Problem::SumAcrossDimension {
                                    aggregate: e.span,
                                    column: source.name.clone(),
                                    relation,
                                    dimension: ir.column(dimension).name.clone(),
                                    group_by: if call.over.is_some() { None } else { group_by },
                                });
                            }
                        }
                    }
                });
            }
        });
    };
    cx.aggregating_exprs().for_each(check);
}

/// An inner join that is to-one keeps the grain but drops left rows whose key
/// finds no match: say so, once per join.
fn row_loss(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    let ModelCx {
        ir, model, derived, ..
    } = *cx;
    let q = &model.query;
    for (join, cardinality) in q.joins.iter().zip(&derived.joins) {
        if join.kind == crate::syntax::ast::JoinKind::Inner
            && let Cardinality::ToOne { .. } = cardinality
            && let Some(left) = grain::join_foreign_key(join).map(|fk| fk.left_scan)
        {
            problems.push(Problem::RowLoss {
                join: join.span,
                alias: q.scans[join.scan].alias.clone(),
                relation: ir.relation(q.scans[join.scan].relation).name.clone(),
                left_alias: q.scans[left].alias.clone(),
            });
        }
    }
}

/// Aggregates that change when their input rows are repeated.
const DUPLICATE_SENSITIVE: &[&str] = &["sum", "avg", "count", "stddev"];

/// A to-many join repeats every row on its left; a duplicate-sensitive
/// aggregate over columns of those rows only counts them several times.
fn fan_out(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    let ModelCx { model, derived, .. } = *cx;
    let q = &model.query;
    // For each scan, the first to-many join after it (which repeats its rows).
    let repeated_by: Vec<Option<&crate::ir::Join>> = (0..q.scans.len())
        .map(|scan| {
            q.joins
                .iter()
                .zip(&derived.joins)
                .find(|(join, cardinality)| {
                    join.scan > scan && matches!(cardinality, Cardinality::ToMany { .. })
                })
                .map(|(join, _)| join)
        })
        .collect();
    if repeated_by.iter().all(Option::is_none) {
        return;
    }
    let check = |expr: &crate::ir::Expr| {
        expr.walk(&mut |e| {
            let ExprKind::Call(call) = &e.kind else {
                return;
            };
            let func = call.func.func();
            if func.kind != crate::ir::library::FuncKind::Aggregate
                || call.over.is_some()
                || call.distinct
                || call.star
                || !DUPLICATE_SENSITIVE.contains(&func.name)
            {
                return;
            }
            let mut scans = Vec::new();
            for arg in &call.args {
                arg.walk(&mut |a| {
                    if let ExprKind::Column { scan, .. } = a.kind
                        && !scans.contains(&scan)
                    {
                        scans.push(scan);
                    }
                });
            }
            let Some(&first) = scans.first() else { return };
            // Only when every input column comes from repeated rows.
            let Some(join) = scans
                .iter()
                .map(|s| repeated_by[*s])
                .collect::<Option<Vec<_>>>()
                .and_then(|j| j.first().copied())
            else {
                return;
            };
            problems.push(Problem::FanOut {
                aggregate: e.span,
                function: func.name.to_string(),
                alias: q.scans[first].alias.clone(),
                join: join.span,
                join_alias: q.scans[join.scan].alias.clone(),
            });
        });
    };
    cx.aggregating_exprs().for_each(check);
}

/// A declared grain must be implied by the derived one: every column of the
/// derived key is among the declared columns (a superset of a key is unique too).
fn declared_grain(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    let ModelCx {
        ir,
        rel,
        model,
        derived,
        ..
    } = *cx;
    let Some(declared) = &model.grain else { return };
    if let Some(union) = &model.union {
        let columns: Vec<_> = declared.iter().map(|(c, _)| *c).collect();
        if let (Err(cause), Some((_, first)), Some((_, last))) = (
            grain::union_grain(ir, cx.grains, rel.id, union, &columns),
            declared.first(),
            declared.last(),
        ) {
            problems.push(Problem::GrainNotProven {
                declared: first.to(*last),
                model: rel.name.clone(),
                columns: columns.iter().map(|c| ir.column(*c).name.clone()).collect(),
                cause: Box::new(cause),
            });
        }
        return;
    }
    if grain::query_proves(ir, derived, declared) {
        return;
    }
    let (Some((_, first)), Some((_, last))) = (declared.first(), declared.last()) else {
        return;
    };
    let names = |cols: &[crate::ir::ColumnId]| {
        cols.iter()
            .map(|c| ir.column(*c).name.clone())
            .collect::<Vec<_>>()
    };
    let q = &model.query;
    let to_many = q
        .joins
        .iter()
        .zip(&derived.joins)
        .find_map(|(join, cardinality)| match cardinality {
            Cardinality::ToMany { key, equated } => Some(GrainBreak::ToManyJoin {
                span: join.span,
                alias: q.scans[join.scan].alias.clone(),
                relation: ir.relation(q.scans[join.scan].relation).name.clone(),
                key: key.as_deref().map(names),
                equated: names(equated),
            }),
            Cardinality::ToOne { .. } => None,
        });
    let grouped = !q.group_by.is_empty() || q.dedupe.is_some();
    let full = q
        .joins
        .iter()
        .find(|j| j.kind == crate::syntax::ast::JoinKind::Full);
    let cause = match (&derived.query, to_many, full) {
        (None, _, Some(join)) if !grouped => GrainBreak::FullJoin {
            span: join.span,
            alias: q.scans[join.scan].alias.clone(),
        },
        // Grouping or deduping re-establishes the grain whatever the joins did.
        (None, _, _) if grouped => GrainBreak::ExpressionKey {
            span: derived.decided_by.unwrap_or(*first),
        },
        (_, Some(join), _) if !grouped => join,
        (None, None, _) if !q.scans.is_empty() => GrainBreak::UnknownSource {
            span: q.scans[0].span,
            relation: ir.relation(q.scans[0].relation).name.clone(),
        },
        _ => GrainBreak::Other {
            span: derived.decided_by.unwrap_or(*first),
            derived: match &derived.derived {
                Grain::Key(key) => Some(names(key)),
                Grain::Unknown => None,
            },
            query: derived.query.as_ref().map(|key| {
                let key_names: Vec<String> = key
                    .iter()
                    .map(|(scan, c)| format!("{}.{}", q.scans[*scan].alias, ir.column(*c).name))
                    .collect();
                // Declared columns computed from the key (a hash of it).
                let computed = declared
                    .iter()
                    .filter(|(c, _)| {
                        ir.column(*c).expr.as_ref().is_some_and(|e| {
                            let mut reads = Vec::new();
                            e.walk(&mut |e| {
                                if let crate::ir::ExprKind::Column { scan, column } = e.kind {
                                    reads.push((scan, column));
                                }
                            });
                            !matches!(e.kind, crate::ir::ExprKind::Column { .. })
                                && key.iter().any(|k| reads.contains(k))
                        })
                    })
                    .map(|(c, _)| ir.column(*c).name.clone())
                    .collect();
                (key_names, computed)
            }),
        },
    };
    problems.push(Problem::GrainNotProven {
        declared: first.to(*last),
        model: rel.name.clone(),
        columns: declared
            .iter()
            .map(|(c, _)| ir.column(*c).name.clone())
            .collect(),
        cause: Box::new(cause),
    });
}

/// Without `group by`, one aggregate collapses the model to one row, so every
/// other output must be an aggregate (or a constant) too.
fn mixed_aggregation(cx: &ModelCx<'_>, problems: &mut Vec<Problem>) {
    let ModelCx { ir, rel, model, .. } = *cx;
    if !model.query.group_by.is_empty() {
        return;
    }
    let outputs: Vec<_> = rel.columns.values().map(|c| ir.column(*c)).collect();
    let Some(aggregate) = outputs
        .iter()
        .find_map(|c| c.expr.as_ref().and_then(|e| e.find_aggregate()))
    else {
        return;
    };
    for column in &outputs {
        let Some(expr) = &column.expr else { continue };
        if expr.find_aggregate().is_none()
            && !expr.is_constant()
            && !matches!(expr.kind, ExprKind::Error)
        {
            problems.push(Problem::MixedAggregation {
                aggregate: aggregate.span,
                plain: expr.span,
                column: column.name.clone(),
            });
        }
    }
}
