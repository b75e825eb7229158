//! Operator precedence: a flat run of operands and operators, as both
//! parsers read an expression (`- a * b :: int is null or c`), into a tree.
//!
//! One algorithm for the pest lowering and the hand-written parser, so the
//! two build the same tree by construction. Operators are applied with an
//! explicit stack (shunting-yard), never by recursion, so a chain of 100,000
//! operators or prefixes costs a loop, not a stack frame each; the tree it
//! builds is cut off at [`MAX_DEPTH`](super::MAX_DEPTH) by [`Bound`].

use super::ast::{BinOp, Expr, ExprKind, TypeName, UnaryOp};
use crate::span::Span;

/// One element of an expression's flat run.
pub(super) enum Piece {
    /// An operand and the depth of its tree.
    Operand(Expr, usize),
    Prefix(UnaryOp, Span),
    Infix(BinOp, Span),
    /// A postfix operator: its span, and the depth of the operands it read.
    Postfix(Postfix, Span, usize),
}

/// What a postfix operator does to the operand before it.
pub(super) enum Postfix {
    Cast(TypeName),
    IsNull {
        negated: bool,
    },
    InList {
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        pattern: Expr,
        negated: bool,
        case_insensitive: bool,
    },
    Between {
        low: Expr,
        high: Expr,
        negated: bool,
    },
}

/// Where the depth limit is enforced: `bounded` returns `expr` at `depth`,
/// or, past the limit, a placeholder (reporting at `at`).
pub(super) trait Bound {
    fn bounded(&mut self, expr: Expr, depth: usize, at: Span) -> (Expr, usize);
}

/// The operands and the operators not yet applied.
#[derive(Default)]
pub(super) struct Climb {
    out: Vec<(Expr, usize)>,
    ops: Vec<(Op, Span, u8)>,
}

#[derive(Clone, Copy)]
enum Op {
    Prefix(UnaryOp),
    Infix(BinOp),
}

/// How an operator binds (higher binds tighter). The same table as SQL's:
/// `or`, `and`, `not`, comparisons and `is`/`in`/`like`/`between`, `||`,
/// `+ -`, `* / %`, unary minus, `::`.
fn binary_precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => 4,
        BinOp::Concat => 5,
        BinOp::Add | BinOp::Sub => 6,
        BinOp::Mul | BinOp::Div | BinOp::Mod => 7,
    }
}

fn unary_precedence(op: UnaryOp) -> u8 {
    match op {
        UnaryOp::Not => 3,
        UnaryOp::Neg => 8,
    }
}

impl Climb {
    pub(super) fn push(&mut self, piece: Piece, bound: &mut impl Bound) {
        match piece {
            Piece::Operand(expr, depth) => self.out.push((expr, depth)),
            Piece::Prefix(op, span) => self.ops.push((Op::Prefix(op), span, unary_precedence(op))),
            Piece::Infix(op, span) => {
                let prec = binary_precedence(op);
                self.reduce_while(bound, |top| top >= prec);
                self.ops.push((Op::Infix(op), span, prec));
            }
            Piece::Postfix(postfix, at, inner) => {
                let prec = if matches!(postfix, Postfix::Cast(_)) {
                    9
                } else {
                    4
                };
                self.reduce_while(bound, |top| top >= prec);
                let (lhs, depth) = self.out.pop().expect("postfix operand");
                let span = lhs.span.to(at);
                let expr = Box::new(lhs);
                let kind = match postfix {
                    Postfix::Cast(ty) => ExprKind::Cast {
                        expr,
                        ty,
                        safe: false,
                    },
                    Postfix::IsNull { negated } => ExprKind::IsNull { expr, negated },
                    Postfix::InList { list, negated } => ExprKind::InList {
                        expr,
                        list,
                        negated,
                    },
                    Postfix::Like {
                        pattern,
                        negated,
                        case_insensitive,
                    } => ExprKind::Like {
                        expr,
                        pattern: Box::new(pattern),
                        negated,
                        case_insensitive,
                    },
                    Postfix::Between { low, high, negated } => ExprKind::Between {
                        expr,
                        low: Box::new(low),
                        high: Box::new(high),
                        negated,
                    },
                };
                let node = bound.bounded(Expr { kind, span }, depth.max(inner) + 1, at);
                self.out.push(node);
            }
        }
    }

    /// The tree, and its depth.
    pub(super) fn finish(mut self, bound: &mut impl Bound) -> (Expr, usize) {
        self.reduce_while(bound, |_| true);
        self.out.pop().expect("expression operand")
    }

    /// Applies the operators on top of the stack while `pops` says so.
    fn reduce_while(&mut self, bound: &mut impl Bound, pops: impl Fn(u8) -> bool) {
        while let Some(&(op, at, prec)) = self.ops.last()
            && pops(prec)
        {
            self.ops.pop();
            let (rhs, rhs_depth) = self.out.pop().expect("operand");
            let (kind, span, depth) = match op {
                Op::Prefix(op) => {
                    let span = at.to(rhs.span);
                    let kind = ExprKind::Unary {
                        op,
                        expr: Box::new(rhs),
                    };
                    (kind, span, rhs_depth + 1)
                }
                Op::Infix(op) => {
                    let (lhs, lhs_depth) = self.out.pop().expect("operand");
                    let span = lhs.span.to(rhs.span);
                    let kind = ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    };
                    (kind, span, lhs_depth.max(rhs_depth) + 1)
                }
            };
            let node = bound.bounded(Expr { kind, span }, depth, at);
            self.out.push(node);
        }
    }
}
