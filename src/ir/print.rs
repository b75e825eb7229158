//! A readable dump of one relation of the IR, for `shopc debug ir`.

use std::fmt::Write;

use super::*;

/// Prints a relation as the compiler understands it: kind, settings, the
/// bound query, and every column with its id and type.
pub fn dump_relation(ir: &Ir, id: RelId) -> String {
    let rel = ir.relation(id);
    let mut out = String::new();
    let _ = writeln!(out, "{} {} ({:?})", rel.kind_word(), rel.name, id);
    if !rel.deps.is_empty() {
        let deps: Vec<String> = rel
            .deps
            .iter()
            .map(|d| format!("{} ({d:?})", ir.relation(*d).name))
            .collect();
        let _ = writeln!(out, "  reads: {}", deps.join(", "));
    }
    match &rel.kind {
        RelationKind::Table(t) => {
            let _ = writeln!(out, "  physical: {}.{}", t.schema, t.identifier);
            if !t.expect_key.is_empty() {
                let _ = writeln!(out, "  expect_key: [{}]", names(ir, &t.expect_key));
            }
            if let Some(c) = t.loaded_at {
                let _ = writeln!(out, "  loaded_at: {}", ir.column(c).name);
            }
            if let Some(f) = t.freshness {
                let _ = writeln!(
                    out,
                    "  freshness: warn after {:?}s, error after {:?}s",
                    f.warn_after, f.error_after
                );
            }
        }
        RelationKind::Model(m) => {
            let _ = writeln!(
                out,
                "  layer: {}  materialized: {:?}  schema: {}",
                m.layer.as_deref().unwrap_or("-"),
                m.materialized,
                m.schema.as_deref().unwrap_or("-")
            );
            if let Some(grain) = &m.grain {
                let ids: Vec<ColumnId> = grain.iter().map(|(c, _)| *c).collect();
                let _ = writeln!(out, "  grain: [{}]", names(ir, &ids));
            }
            if let Some(union) = &m.union {
                let op = if union.distinct { "union" } else { "union all" };
                let _ = writeln!(out, "  {op} ({})", union.names(ir).join(", "));
            }
            let q = &m.query;
            for (i, scan) in q.scans.iter().enumerate() {
                let rel_name = &ir.relation(scan.relation).name;
                match q.joins.iter().find(|j| j.scan == i) {
                    None => {
                        let _ = writeln!(out, "  from {rel_name} as {}", scan.alias);
                    }
                    Some(join) => {
                        let _ = writeln!(
                            out,
                            "  {:?} join {rel_name} as {} on {}",
                            join.kind,
                            scan.alias,
                            show(ir, q, &join.on)
                        );
                    }
                }
            }
            if let Some(f) = &q.filter {
                let _ = writeln!(out, "  where {}", show(ir, q, f));
            }
            if !q.group_by.is_empty() {
                let keys: Vec<String> = q.group_by.iter().map(|k| show(ir, q, k)).collect();
                let _ = writeln!(out, "  group by {}", keys.join(", "));
            }
            if let Some(h) = &q.having {
                let _ = writeln!(out, "  having {}", show(ir, q, h));
            }
            if let Some(d) = &q.dedupe {
                let keys: Vec<String> = d.keys.iter().map(|k| show(ir, q, k)).collect();
                let _ = writeln!(
                    out,
                    "  dedupe on {} keep {:?} by {}",
                    keys.join(", "),
                    d.keep,
                    show(ir, q, &d.order_by)
                );
            }
            print_columns(&mut out, ir, rel, Some(q));
            for test in &m.tests {
                let _ = writeln!(out, "  test {:?} ({:?})", test.kind, test.severity);
            }
            return out;
        }
        RelationKind::Snapshot(s) => {
            let _ = writeln!(out, "  from {}", ir.relation(s.from).name);
            let _ = writeln!(out, "  unique_key: [{}]", names(ir, &s.unique_key));
            let _ = writeln!(
                out,
                "  strategy: {:?}  hard_deletes: {:?}",
                s.strategy, s.hard_deletes
            );
        }
        RelationKind::Series(series) => {
            let _ = writeln!(
                out,
                "  {:?} from {:?} to {:?}",
                series.kind, series.start.kind, series.end.kind
            );
        }
    }
    print_columns(&mut out, ir, rel, None);
    out
}

fn print_columns(out: &mut String, ir: &Ir, rel: &Relation, query: Option<&Query>) {
    let _ = writeln!(out, "  columns:");
    for id in rel.columns.values() {
        let c = ir.column(*id);
        let _ = write!(out, "    {id:?} {}: {} ({:?})", c.name, c.ty, c.role);
        if let (Some(expr), Some(q)) = (&c.expr, query) {
            let _ = write!(out, " = {}", show(ir, q, expr));
        }
        let _ = writeln!(out);
    }
}

/// Column names, comma-separated: `order_id, line`.
pub fn names(ir: &Ir, ids: &[ColumnId]) -> String {
    ids.iter()
        .map(|c| ir.column(*c).name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An expression with bound names spelled `alias.column`, fully parenthesised.
pub fn show(ir: &Ir, q: &Query, e: &Expr) -> String {
    Shown { ir, q, e }.to_string()
}

/// An expression as [`show`] spells it, written straight into a formatter
/// (no text per subexpression): `write!(out, "{}", shown(ir, q, e))`.
pub fn shown<'a>(ir: &'a Ir, q: &'a Query, e: &'a Expr) -> Shown<'a> {
    Shown { ir, q, e }
}

pub struct Shown<'a> {
    ir: &'a Ir,
    q: &'a Query,
    e: &'a Expr,
}

impl<'a> std::fmt::Display for Shown<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ir, q, e): (&'a Ir, &'a Query, &'a Expr) = (self.ir, self.q, self.e);
        let s = |e: &'a Expr| Shown { ir, q, e };
        let not = |negated: bool| if negated { "not " } else { "" };
        // `a, b, c`
        let list = |f: &mut std::fmt::Formatter<'_>, items: &'a [Expr]| -> std::fmt::Result {
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", s(e))?;
            }
            Ok(())
        };
        match &e.kind {
            ExprKind::Literal(l) => match l {
                Literal::Integer(n) => write!(f, "{n}"),
                Literal::Decimal(d) => f.write_str(d),
                Literal::Text(t) => write!(f, "'{}'", t.replace('\'', "''")),
                Literal::Bool(b) => write!(f, "{b}"),
                Literal::Null => f.write_str("null"),
                Literal::Date(d) => write!(f, "date '{d}'"),
                Literal::Timestamp(t) => write!(f, "timestamp '{t}'"),
            },
            ExprKind::Column { scan, column } => {
                write!(f, "{}.{}", q.scans[*scan].alias, ir.column(*column).name)
            }
            ExprKind::Unary { op, expr } => match op {
                UnaryOp::Not => write!(f, "(not {})", s(expr)),
                UnaryOp::Neg => write!(f, "(-{})", s(expr)),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                write!(f, "({} {} {})", s(lhs), op.symbol(), s(rhs))
            }
            ExprKind::IsNull { expr, negated } => {
                write!(f, "({} is {}null)", s(expr), not(*negated))
            }
            ExprKind::InList {
                expr,
                list: items,
                negated,
            } => {
                write!(f, "({} {}in (", s(expr), not(*negated))?;
                list(f, items)?;
                f.write_str("))")
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => write!(
                f,
                "({} {}{} {})",
                s(expr),
                not(*negated),
                if *case_insensitive { "ilike" } else { "like" },
                s(pattern)
            ),
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "({} {}between {} and {})",
                s(expr),
                not(*negated),
                s(low),
                s(high)
            ),
            ExprKind::Cast { expr, ty, safe } => write!(
                f,
                "{}({} as {ty})",
                if *safe { "try_cast" } else { "cast" },
                s(expr)
            ),
            ExprKind::Case {
                operand,
                arms,
                otherwise,
            } => {
                f.write_str("(case")?;
                if let Some(o) = operand {
                    write!(f, " {}", s(o))?;
                }
                for (w, t) in arms {
                    write!(f, " when {} then {}", s(w), s(t))?;
                }
                if let Some(o) = otherwise {
                    write!(f, " else {}", s(o))?;
                }
                f.write_str(" end)")
            }
            ExprKind::Call(call) => {
                write!(f, "{}(", call.func.func().name)?;
                if call.star {
                    f.write_str("*")?;
                }
                if call.distinct {
                    f.write_str("distinct ")?;
                }
                list(f, &call.args)?;
                f.write_str(")")?;
                if let Some(filter) = &call.filter {
                    write!(f, " filter (where {})", s(filter))?;
                }
                if let Some(w) = &call.over {
                    f.write_str(" over (partition by [")?;
                    list(f, &w.partition_by)?;
                    f.write_str("] order by [")?;
                    for (i, (e, desc, _)) in w.order_by.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{}{}", s(e), if *desc { " desc" } else { "" })?;
                    }
                    f.write_str("])")?;
                }
                Ok(())
            }
            ExprKind::Sql { text } => write!(f, "sql({text:?})"),
            ExprKind::Error => f.write_str("<error>"),
        }
    }
}
