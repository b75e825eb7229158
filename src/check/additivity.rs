//! Measure additivity: which columns may be summed, and across what.
//!
//! - `sum(x)`, `count(...)`, row-level arithmetic of additive values, and
//!   columns read from additive columns are **additive**;
//! - averages, distinct counts, minimums and maximums, ratios of non-constant
//!   values, products of aggregates and window results are **non-additive**,
//!   as are measures declared `non_additive = [...]`;
//! - a measure declared `semi_additive = { balance = snapshot_date }` adds up
//!   within one `snapshot_date`, not across them, and so does every column
//!   that reads it unchanged.
//!
//! Summing a non-additive column downstream is M001; summing a semi-additive
//! one without grouping by its dimension is M002.

use std::collections::HashMap;

use crate::ir::{ColumnId, Expr, ExprKind, Ir, RelationKind};
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

/// The additivity of every model column that is not plainly additive.
/// Columns of source tables and snapshots are additive.
#[derive(Debug, Default)]
pub struct Additivities {
    columns: HashMap<ColumnId, Additivity>,
}

impl Additivities {
    pub fn of(&self, column: ColumnId) -> Additivity {
        self.columns
            .get(&column)
            .copied()
            .unwrap_or(Additivity::Additive)
    }
}

/// Classifies the columns of every model, in build order.
pub fn derive(ir: &Ir) -> Additivities {
    let mut out = Additivities::default();
    for &id in &ir.order {
        let rel = ir.relation(id);
        let RelationKind::Model(model) = &rel.kind else {
            continue;
        };
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
                    Some(expr) => match classify(&out, expr) {
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
                    None => Additivity::Additive,
                }
            };
            if additivity != Additivity::Additive {
                out.columns.insert(column, additivity);
            }
        }
    }
    out
}

fn classify(known: &Additivities, e: &Expr) -> Additivity {
    use Additivity::*;
    let all = |exprs: &mut dyn Iterator<Item = &Expr>| {
        exprs.fold(Additive, |a, e| a.and(classify(known, e)))
    };
    match &e.kind {
        ExprKind::Column { column, .. } => known.of(*column),
        ExprKind::Call(call) if call.over.is_some() => NonAdditive {
            reason: "a window function's result",
        },
        ExprKind::Call(call) => match call.func.func().name {
            "count" if call.distinct => NonAdditive {
                reason: "a distinct count",
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
            BinOp::Div | BinOp::Mod if rhs.is_constant() => classify(known, lhs),
            BinOp::Div | BinOp::Mod => NonAdditive { reason: "a ratio" },
            BinOp::Mul if lhs.find_aggregate().is_some() && rhs.find_aggregate().is_some() => {
                NonAdditive {
                    reason: "a product of aggregates",
                }
            }
            _ => classify(known, lhs).and(classify(known, rhs)),
        },
        ExprKind::Case {
            arms, otherwise, ..
        } => all(&mut arms
            .iter()
            .map(|(_, then)| then)
            .chain(otherwise.iter().map(|o| &**o))),
        ExprKind::Unary { expr, .. } | ExprKind::Cast { expr, .. } => classify(known, expr),
        _ => Additive,
    }
}
