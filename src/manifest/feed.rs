//! The bytes a fingerprint is taken of, written from the IR's structure
//! rather than from text it is printed as: a node's meaning is some
//! hundreds of bytes of tags, names and numbers, made without formatting.
//!
//! Each part is written so that it can be read back one way only: a text
//! with its length, a list with its count, a choice with a tag. Two
//! different things never write the same bytes, so they never share a
//! fingerprint except by a collision of the hash.

use crate::ir::types::Type;
use crate::ir::{Expr, ExprKind, Ir, Literal, Query};
use crate::syntax::ast::UnaryOp;

use super::Digest;

#[derive(Default)]
pub(super) struct Feed {
    bytes: Vec<u8>,
}

impl Feed {
    /// Forgets what is written, and keeps the memory.
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// How many bytes are written: where the next part starts.
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The fingerprint of what is written so far.
    pub(super) fn digest<const N: usize>(&self) -> Digest<N> {
        Digest::of(&self.bytes)
    }

    /// The fingerprint of the bytes written between two points.
    pub(super) fn digest_of<const N: usize>(&self, part: std::ops::Range<usize>) -> Digest<N> {
        Digest::of(&self.bytes[part])
    }

    /// A text (or a fixed word that says what follows), with its length.
    pub(super) fn text(&mut self, text: &str) {
        self.number(text.len() as u64);
        self.bytes.extend_from_slice(text.as_bytes());
    }

    /// Texts, with their count.
    pub(super) fn texts<'t>(&mut self, texts: impl ExactSizeIterator<Item = &'t str>) {
        self.number(texts.len() as u64);
        for text in texts {
            self.text(text);
        }
    }

    /// A text that may be missing.
    pub(super) fn maybe_text(&mut self, text: Option<&str>) {
        self.flag(text.is_some());
        if let Some(text) = text {
            self.text(text);
        }
    }

    /// A number in as few bytes as it needs (LEB128: seven bits a byte,
    /// the high bit set on all but the last). Lengths and counts are small:
    /// most are one byte.
    pub(super) fn number(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.bytes.push(n as u8 | 0x80);
            n >>= 7;
        }
        self.bytes.push(n as u8);
    }

    pub(super) fn maybe_number(&mut self, n: Option<u64>) {
        self.flag(n.is_some());
        if let Some(n) = n {
            self.number(n);
        }
    }

    pub(super) fn flag(&mut self, flag: bool) {
        self.bytes.push(u8::from(flag));
    }

    /// Another fingerprint (an inlined model's meaning).
    pub(super) fn digest_in(&mut self, digest: &Digest) {
        self.bytes.extend_from_slice(&digest.0);
    }

    pub(super) fn ty(&mut self, ty: Type) {
        let (tag, precision) = match ty {
            Type::Unknown => (0, None),
            Type::Null => (1, None),
            Type::Boolean => (2, None),
            Type::Integer => (3, None),
            Type::BigInt => (4, None),
            Type::Numeric(p) => (5, Some(p)),
            Type::Double => (6, None),
            Type::Text => (7, None),
            Type::Date => (8, None),
            Type::Timestamp => (9, None),
            Type::TimestampTz => (10, None),
        };
        self.bytes.push(tag);
        if let Some(p) = precision {
            self.flag(p.is_some());
            let (precision, scale) = p.unwrap_or_default();
            self.bytes.extend_from_slice(&[precision, scale]);
        }
    }

    /// An expression of `q`: what it computes, with the columns it reads
    /// named by their scan's alias and their own name (never by id: ids
    /// follow the order of files).
    pub(super) fn expr(&mut self, ir: &Ir, q: &Query, e: &Expr) {
        let list = |feed: &mut Feed, items: &[Expr]| {
            feed.number(items.len() as u64);
            for item in items {
                feed.expr(ir, q, item);
            }
        };
        match &e.kind {
            ExprKind::Literal(l) => {
                self.text("literal");
                match l {
                    Literal::Integer(n) => {
                        self.text("integer");
                        self.bytes.extend_from_slice(&n.to_le_bytes());
                    }
                    Literal::Decimal(d) => {
                        self.text("decimal");
                        self.text(d);
                    }
                    Literal::Text(t) => {
                        self.text("text");
                        self.text(t);
                    }
                    Literal::Bool(b) => {
                        self.text("bool");
                        self.flag(*b);
                    }
                    Literal::Null => self.text("null"),
                    Literal::Date(d) => {
                        self.text("date");
                        self.text(d);
                    }
                    Literal::Timestamp(t) => {
                        self.text("timestamp");
                        self.text(t);
                    }
                }
            }
            ExprKind::Column { scan, column } => {
                self.text("column");
                self.text(&q.scans[*scan].alias);
                self.text(&ir.column(*column).name);
            }
            ExprKind::Unary { op, expr } => {
                self.text(match op {
                    UnaryOp::Not => "not",
                    UnaryOp::Neg => "neg",
                });
                self.expr(ir, q, expr);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.text("binary");
                self.text(op.symbol());
                self.expr(ir, q, lhs);
                self.expr(ir, q, rhs);
            }
            ExprKind::IsNull { expr, negated } => {
                self.text("is null");
                self.flag(*negated);
                self.expr(ir, q, expr);
            }
            ExprKind::InList {
                expr,
                list: items,
                negated,
            } => {
                self.text("in");
                self.flag(*negated);
                self.expr(ir, q, expr);
                list(self, items);
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                self.text("like");
                self.flag(*negated);
                self.flag(*case_insensitive);
                self.expr(ir, q, expr);
                self.expr(ir, q, pattern);
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                self.text("between");
                self.flag(*negated);
                self.expr(ir, q, expr);
                self.expr(ir, q, low);
                self.expr(ir, q, high);
            }
            ExprKind::Cast { expr, ty, safe } => {
                self.text("cast");
                self.flag(*safe);
                self.ty(*ty);
                self.expr(ir, q, expr);
            }
            ExprKind::Case {
                operand,
                arms,
                otherwise,
            } => {
                self.text("case");
                self.maybe_expr(ir, q, operand.as_deref());
                self.number(arms.len() as u64);
                for (when, then) in arms {
                    self.expr(ir, q, when);
                    self.expr(ir, q, then);
                }
                self.maybe_expr(ir, q, otherwise.as_deref());
            }
            ExprKind::Call(call) => {
                self.text("call");
                self.text(call.func.func().name);
                self.flag(call.star);
                self.flag(call.distinct);
                list(self, &call.args);
                self.maybe_expr(ir, q, call.filter.as_deref());
                self.flag(call.over.is_some());
                if let Some(w) = &call.over {
                    list(self, &w.partition_by);
                    self.number(w.order_by.len() as u64);
                    for (e, descending, nulls_first) in &w.order_by {
                        self.expr(ir, q, e);
                        self.flag(*descending);
                        self.bytes.push(match nulls_first {
                            None => 0,
                            Some(false) => 1,
                            Some(true) => 2,
                        });
                    }
                }
            }
            ExprKind::Sql { text } => {
                self.text("sql");
                self.text(text);
            }
            ExprKind::Error => self.text("error"),
        }
    }

    pub(super) fn maybe_expr(&mut self, ir: &Ir, q: &Query, e: Option<&Expr>) {
        self.flag(e.is_some());
        if let Some(e) = e {
            self.expr(ir, q, e);
        }
    }
}
