//! Check: IR → problems. Rules over whole models that need every name bound
//! and every type known. This module does no IO.
//!
//! The grain algebra (declared grain proven, join cardinality, fan-out,
//! additivity) grows here; for now it holds the aggregation-shape rule.

use crate::ir::{ExprKind, Ir, RelationKind};
use crate::problem::Problem;

/// Runs every check over the IR.
pub fn check(ir: &Ir) -> Vec<Problem> {
    let mut problems = Vec::new();
    for &id in &ir.order {
        let rel = ir.relation(id);
        if !rel.complete {
            continue;
        }
        if let RelationKind::Model(model) = &rel.kind {
            mixed_aggregation(ir, rel, model, &mut problems);
        }
    }
    problems
}

/// Without `group by`, one aggregate collapses the model to one row, so every
/// other output must be an aggregate (or a constant) too.
fn mixed_aggregation(
    ir: &Ir,
    rel: &crate::ir::Relation,
    model: &crate::ir::Model,
    problems: &mut Vec<Problem>,
) {
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
