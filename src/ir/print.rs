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

fn names(ir: &Ir, ids: &[ColumnId]) -> String {
    ids.iter()
        .map(|c| ir.column(*c).name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An expression with bound names spelled `alias.column`, fully parenthesised.
pub fn show(ir: &Ir, q: &Query, e: &Expr) -> String {
    let s = |e: &Expr| show(ir, q, e);
    match &e.kind {
        ExprKind::Literal(l) => match l {
            Literal::Integer(n) => n.to_string(),
            Literal::Decimal(d) => d.clone(),
            Literal::Text(t) => format!("'{}'", t.replace('\'', "''")),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".into(),
            Literal::Date(d) => format!("date '{d}'"),
            Literal::Timestamp(t) => format!("timestamp '{t}'"),
        },
        ExprKind::Column { scan, column } => {
            format!("{}.{}", q.scans[*scan].alias, ir.column(*column).name)
        }
        ExprKind::Unary { op, expr } => match op {
            UnaryOp::Not => format!("(not {})", s(expr)),
            UnaryOp::Neg => format!("(-{})", s(expr)),
        },
        ExprKind::Binary { op, lhs, rhs } => format!("({} {} {})", s(lhs), op.symbol(), s(rhs)),
        ExprKind::IsNull { expr, negated } => format!(
            "({} is {}null)",
            s(expr),
            if *negated { "not " } else { "" }
        ),
        ExprKind::InList {
            expr,
            list,
            negated,
        } => format!(
            "({} {}in ({}))",
            s(expr),
            if *negated { "not " } else { "" },
            list.iter().map(s).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Like {
            expr,
            pattern,
            negated,
            case_insensitive,
        } => format!(
            "({} {}{} {})",
            s(expr),
            if *negated { "not " } else { "" },
            if *case_insensitive { "ilike" } else { "like" },
            s(pattern)
        ),
        ExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "({} {}between {} and {})",
            s(expr),
            if *negated { "not " } else { "" },
            s(low),
            s(high)
        ),
        ExprKind::Cast { expr, ty, safe } => format!(
            "{}({} as {ty})",
            if *safe { "try_cast" } else { "cast" },
            s(expr)
        ),
        ExprKind::Case {
            operand,
            arms,
            otherwise,
        } => {
            let mut out = "(case".to_string();
            if let Some(o) = operand {
                out += &format!(" {}", s(o));
            }
            for (w, t) in arms {
                out += &format!(" when {} then {}", s(w), s(t));
            }
            if let Some(o) = otherwise {
                out += &format!(" else {}", s(o));
            }
            out + " end)"
        }
        ExprKind::Call(call) => {
            let mut out = format!("{}(", call.func.func().name);
            if call.star {
                out.push('*');
            }
            if call.distinct {
                out += "distinct ";
            }
            out += &call.args.iter().map(s).collect::<Vec<_>>().join(", ");
            out.push(')');
            if let Some(f) = &call.filter {
                out += &format!(" filter (where {})", s(f));
            }
            if let Some(w) = &call.over {
                let parts: Vec<String> = w.partition_by.iter().map(s).collect();
                let order: Vec<String> = w
                    .order_by
                    .iter()
                    .map(|(e, desc, _)| format!("{}{}", s(e), if *desc { " desc" } else { "" }))
                    .collect();
                out += &format!(
                    " over (partition by [{}] order by [{}])",
                    parts.join(", "),
                    order.join(", ")
                );
            }
            out
        }
        ExprKind::Sql { text } => format!("sql({text:?})"),
        ExprKind::Error => "<error>".into(),
    }
}
