//! Measure additivity: which columns may be summed, and across what.
//!
//! - `sum(x)`, `count(...)`, row-level arithmetic of additive values, and
//!   columns read from additive columns are **additive**;
//! - averages, distinct counts, minimums and maximums, ratios of non-constant
//!   values, products of aggregates and window results are **non-additive**,
//!   as are measures declared `non_additive = [...]`; but a distinct count of
//!   the key of what is counted, under a `group by` that the key determines
//!   (`count(distinct f.order_id)` over `fact_orders f`, grouped by
//!   `f.customer_id`), is **additive**: each key falls in one group, so the
//!   groups' counts add up to the count of all;
//! - a measure declared `semi_additive = { balance = snapshot_date }` adds up
//!   within one `snapshot_date`, not across them, and so does every column
//!   that reads it unchanged.
//!
//! Summing a non-additive column downstream is M001; summing a semi-additive
//! one without grouping by its dimension is M002.

use super::grain::{self, Grain, Grains, ScanColumn};
use crate::ir::{ColumnId, Expr, ExprKind, Ir, Model, RelationKind};
use crate::syntax::ast::BinOp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Additivity {
    Additive,
    /// Adds up within one value of `dimension` (a column of the same
    /// relation), not across values.
    Semi {
        dimension: ColumnId,
    },
    /// Why not, in words: "an average", "a ratio"…
    NonAdditive {
        reason: &'static str,
    },
}

impl Additivity {
    /// The less additive of two.
    fn and(self, other: Additivity) -> Additivity {
        match (self, other) {
            (a @ Additivity::NonAdditive { .. }, _) | (_, a @ Additivity::NonAdditive { .. }) => a,
            (a @ Additivity::Semi { .. }, _) | (_, a @ Additivity::Semi { .. }) => a,
            _ => Additivity::Additive,
        }
    }
}

/// The additivity of every column, by index: columns of source tables and
/// snapshots are additive.
#[derive(Debug, Default)]
pub struct Additivities {
    columns: Vec<Additivity>,
}

impl Additivities {
    pub fn of(&self, column: ColumnId) -> Additivity {
        self.columns
            .get(column.index())
            .copied()
            .unwrap_or(Additivity::Additive)
    }
}

/// The scan columns `k` whose `count(distinct k)` adds up across the groups
/// of `model`: `k` is the whole grain of its scan's relation, and the
/// `group by` keys are determined by `k` (in the grain algebra, through the
/// equalities of the joins), so that each value of `k` is in one group.
fn additive_distinct_keys(
    ir: &Ir,
    grains: &Grains,
    id: crate::ir::RelId,
    model: &Model,
) -> Vec<ScanColumn> {
    let q = &model.query;
    let Some(derived) = grains.models.get(&id) else {
        return Vec::new();
    };
    if q.group_by.is_empty() {
        return Vec::new();
    }
    let mut key_reads: Vec<ScanColumn> = Vec::new();
    for key in &q.group_by {
        key.walk(&mut |e| {
            if let ExprKind::Column { scan, column } = e.kind {
                key_reads.push((scan, column));
            }
        });
    }
    let mut out = Vec::new();
    for (scan, s) in q.scans.iter().enumerate() {
        let Grain::Key(key) = grains.of(s.relation) else {
            continue;
        };
        let [k] = key.as_slice() else { continue };
        let known = grain::determined(ir, grains, q, derived, vec![(scan, *k)], true);
        if key_reads.iter().all(|r| known.contains(r)) {
            out.push((scan, *k));
        }
    }
    out
}

/// Classifies the columns of every model, in build order.
pub fn derive(ir: &Ir, grains: &Grains) -> Additivities {
    let mut out = Additivities {
        columns: vec![Additivity::Additive; ir.columns.len()],
    };
    for &id in &ir.order {
        let rel = ir.relation(id);
        let RelationKind::Model(model) = &rel.kind else {
            continue;
        };
        let distinct_keys = additive_distinct_keys(ir, grains, id, model);
        for &column in rel.columns.values() {
            let declared_semi = model.semi_additive.iter().find(|(m, _)| *m == column);
            let additivity = if model.non_additive.contains(&column) {
                Additivity::NonAdditive {
                    reason: "declared non-additive",
                }
            } else if let Some((_, dimension)) = declared_semi {
                Additivity::Semi {
                    dimension: *dimension,
                }
            } else {
                match &ir.column(column).expr {
                    Some(expr) => match classify(&out, &distinct_keys, expr) {
                        // An inherited dimension must be an output here too.
                        Additivity::Semi { dimension } => rel
                            .columns
                            .values()
                            .copied()
                            .find(|c| {
                                matches!(ir.column(*c).expr.as_ref().map(|e| &e.kind),
                                    Some(ExprKind::Column { column, .. }) if *column == dimension)
                            })
                            .map_or(
                                Additivity::NonAdditive {
                                    reason: "semi-additive over a dimension this model drops",
                                },
                                |dimension| Additivity::Semi { dimension },
                            ),
                        other => other,
                    },
                    // A union's column is what its branches' columns are.
                    None => match &model.union {
                        Some(union) => union
                            .inputs(ir, &ir.column(column).name)
                            .map(|input| match out.of(input) {
                                Additivity::Semi { dimension } => rel
                                    .columns
                                    .get(&ir.column(dimension).name)
                                    .map_or(
                                        Additivity::NonAdditive {
                                            reason: "semi-additive over a dimension this model drops",
                                        },
                                        |d| Additivity::Semi { dimension: *d },
                                    ),
                                other => other,
                            })
                            .fold(Additivity::Additive, Additivity::and),
                        None => Additivity::Additive,
                    },
                }
            };
            out.columns[column.index()] = additivity;
        }
    }
    out
}

/// The additivity of `e`; `distinct_keys` are the columns whose distinct
/// count is additive in this model ([`additive_distinct_keys`]).
fn classify(known: &Additivities, distinct_keys: &[ScanColumn], e: &Expr) -> Additivity {
    use Additivity::*;
    let all = |exprs: &mut dyn Iterator<Item = &Expr>| {
        exprs.fold(Additive, |a, e| a.and(classify(known, distinct_keys, e)))
    };
    match &e.kind {
        ExprKind::Column { column, .. } => known.of(*column),
        ExprKind::Call(call) if call.over.is_some() => NonAdditive {
            reason: "a window function's result",
        },
        ExprKind::Call(call) => match call.func.func().name {
            "count" if call.distinct => match call.args.as_slice() {
                // A filter keeps the values apart too.
                [arg]
                    if matches!(arg.kind, ExprKind::Column { scan, column }
                        if distinct_keys.contains(&(scan, column))) =>
                {
                    Additive
                }
                _ => NonAdditive {
                    reason: "a distinct count",
                },
            },
            "count" | "sum" => Additive,
            "avg" => NonAdditive {
                reason: "an average",
            },
            "min" => NonAdditive {
                reason: "a minimum",
            },
            "max" => NonAdditive {
                reason: "a maximum",
            },
            "stddev" => NonAdditive {
                reason: "a standard deviation",
            },
            "row_number" | "rank" | "dense_rank" | "ntile" | "percent_rank" => {
                NonAdditive { reason: "a rank" }
            }
            _ => all(&mut call.args.iter()),
        },
        ExprKind::Binary { op, lhs, rhs } => match op {
            BinOp::Div | BinOp::Mod if rhs.is_constant() => classify(known, distinct_keys, lhs),
            BinOp::Div | BinOp::Mod => NonAdditive { reason: "a ratio" },
            BinOp::Mul if lhs.find_aggregate().is_some() && rhs.find_aggregate().is_some() => {
                NonAdditive {
                    reason: "a product of aggregates",
                }
            }
            _ => classify(known, distinct_keys, lhs).and(classify(known, distinct_keys, rhs)),
        },
        ExprKind::Case {
            arms, otherwise, ..
        } => all(&mut arms
            .iter()
            .map(|(_, then)| then)
            .chain(otherwise.iter().map(|o| &**o))),
        ExprKind::Unary { expr, .. } | ExprKind::Cast { expr, .. } => {
            classify(known, distinct_keys, expr)
        }
        _ => Additive,
    }
}
