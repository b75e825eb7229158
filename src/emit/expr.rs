//! Expressions as SQL: operators, calls through each dialect's function
//! templates, casts and literals.

use super::*;

/// What `surrogate_key` hashes for a NULL part: dbt_utils' marker.
pub const SURROGATE_KEY_NULL: &str = "_dbt_utils_surrogate_key_null_";

impl Emitter<'_> {
    /// `sql`, of type `ty`, as a double.
    pub(super) fn as_double(&self, sql: String, ty: Type) -> String {
        if ty == Type::Double {
            sql
        } else {
            format!("CAST({sql} AS {})", self.d.type_name(Type::Double))
        }
    }
    /// `round(x, digits)` of a double, as the language defines it: the
    /// nearest multiple of 10^-digits, ties toward +∞, computed as
    /// `floor(x · 10^digits + 0.5) / 10^digits` in double precision. Every
    /// step is one IEEE 754 operation, so every engine gets the same bits;
    /// engines' own `round(double)` do not agree (PostgreSQL has none, and
    /// goes through a 15-digit decimal).
    pub(super) fn round_double(&self, x: &str, digits: Option<&str>) -> String {
        let double = self.d.type_name(Type::Double);
        let half = format!("CAST(0.5 AS {double})");
        match digits {
            None => format!("floor({x} + {half})"),
            Some(digits) => {
                let scale = format!("CAST(power(10, {digits}) AS {double})");
                format!("(floor({x} * {scale} + {half}) / {scale})")
            }
        }
    }
    /// The operand of a cast, made ready for it: a double cast to a decimal
    /// is rounded to the decimal's scale first, the language's way
    /// ([`Emitter::round_double`]), so that the cast never has a tie to
    /// break (engines break them apart); a `timestamptz` cast to a date is
    /// its UTC time first where the engine has no time zones.
    pub(super) fn cast_operand(&self, sql: String, from: Type, to: Type) -> String {
        match (from, to) {
            (Type::Double, Type::Numeric(Some((_, scale)))) => {
                self.round_double(&sql, Some(&scale.to_string()))
            }
            (Type::TimestampTz, Type::Date) => self.d.utc_timestamp(&sql).unwrap_or(sql),
            _ => sql,
        }
    }
    /// A library function spelled for this dialect, from SQL arguments.
    pub(super) fn call(&self, name: &str, args: &[String], part: &str, ty: Type) -> String {
        match self.template(name, part, args.len()) {
            Some(t) => fill_template(t, args, part, &self.d.type_name(ty)),
            None => format!("{name}({})", args.join(", ")),
        }
    }
    /// This dialect's template for a function called with `args` arguments
    /// and date part `part`: `name:part` first, then `name`; `None` when it
    /// has none, or when the template needs an argument left out.
    pub(super) fn template(&self, name: &str, part: &str, args: usize) -> Option<&'static str> {
        self.d
            .function_template(&format!("{name}:{}", part.to_ascii_lowercase()))
            .or_else(|| self.d.function_template(name))
            .filter(|t| template_fits(t, args))
    }
    pub(super) fn expr(&self, q: &Query, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Literal(lit) => self.literal(lit),
            ExprKind::Column { scan, column } => format!(
                "{}.{}",
                self.q(&q.scans[*scan].alias),
                self.q(&self.ir.column(*column).name)
            ),
            ExprKind::Unary { op, expr } => match op {
                UnaryOp::Not => format!("(NOT {})", self.expr(q, expr)),
                UnaryOp::Neg => format!("(-{})", self.expr(q, expr)),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let mut left = self.expr(q, lhs);
                let mut right = self.expr(q, rhs);
                if *op == BinOp::Div {
                    // `/` is double division everywhere (the language's
                    // definition): integers would truncate on PostgreSQL,
                    // decimals round to a scale of each engine's own.
                    left = self.as_double(left, lhs.ty);
                    right = self.as_double(right, rhs.ty);
                }
                let op = match op {
                    BinOp::Or => "OR",
                    BinOp::And => "AND",
                    BinOp::NotEq => "<>",
                    other => other.symbol(),
                };
                format!("({left} {op} {right})")
            }
            ExprKind::IsNull { expr, negated } => {
                format!(
                    "({} IS {}NULL)",
                    self.expr(q, expr),
                    if *negated { "NOT " } else { "" }
                )
            }
            ExprKind::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list.iter().map(|i| self.expr(q, i)).collect();
                format!(
                    "({} {}IN ({}))",
                    self.expr(q, expr),
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => format!(
                "({} {}{} {})",
                self.expr(q, expr),
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" },
                self.expr(q, pattern)
            ),
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => format!(
                "({} {}BETWEEN {} AND {})",
                self.expr(q, expr),
                if *negated { "NOT " } else { "" },
                self.expr(q, low),
                self.expr(q, high)
            ),
            ExprKind::Cast {
                expr,
                ty,
                safe: false,
            } => format!(
                "CAST({} AS {})",
                self.cast_operand(self.expr(q, expr), expr.ty, *ty),
                self.d.type_name(*ty)
            ),
            ExprKind::Cast {
                expr,
                ty,
                safe: true,
            } => self.d.safe_cast(
                &self.cast_operand(self.expr(q, expr), expr.ty, *ty),
                expr.ty,
                *ty,
            ),
            ExprKind::Case {
                operand,
                arms,
                otherwise,
            } => {
                let mut out = "CASE".to_string();
                if let Some(operand) = operand {
                    let _ = write!(out, " {}", self.expr(q, operand));
                }
                for (when, then) in arms {
                    let _ = write!(
                        out,
                        " WHEN {} THEN {}",
                        self.expr(q, when),
                        self.expr(q, then)
                    );
                }
                if let Some(otherwise) = otherwise {
                    let _ = write!(out, " ELSE {}", self.expr(q, otherwise));
                }
                out + " END"
            }
            ExprKind::Call(call)
                if call.func.func().name == "round" && call.args[0].ty == Type::Double =>
            {
                let x = self.expr(q, &call.args[0]);
                let digits = call.args.get(1).map(|d| self.expr(q, d));
                self.round_double(&x, digits.as_deref())
            }
            // `avg` is `sum / count` in double precision, as `/` is: the
            // sum of decimals is exact everywhere, the one division IEEE.
            ExprKind::Call(call)
                if call.func.func().name == "avg" && call.args[0].ty != Type::Double =>
            {
                format!(
                    "({} / {})",
                    self.as_double(self.call_sql(q, e, call, "sum"), Type::Numeric(None)),
                    self.as_double(self.call_sql(q, e, call, "count"), Type::BigInt),
                )
            }
            ExprKind::Call(call) => self.call_sql(q, e, call, call.func.func().name),
            ExprKind::Sql { text } => format!("({text})"),
            ExprKind::Error => "NULL".to_string(),
        }
    }
    /// A call of the library, spelled for this dialect, as function `name`
    /// (its own, or `sum` and `count` for `avg`), with the call's arguments,
    /// `DISTINCT`, filter and window.
    pub(super) fn call_sql(
        &self,
        q: &Query,
        e: &Expr,
        call: &crate::ir::Call,
        name: &str,
    ) -> String {
        let func = call.func.func();
        // The clock is UTC, on every warehouse (see `SqlDialect::now`).
        match name {
            "current_timestamp" => return self.d.now().to_string(),
            "current_date" => {
                return format!("CAST({} AS {})", self.d.now(), self.d.type_name(Type::Date));
            }
            // dbt_utils' `generate_surrogate_key`, to the character, so a
            // key is the same value on every warehouse and after a port
            // from dbt: each part as text (the types whose text every
            // engine writes alike), NULL as a marker, joined by `-`, md5.
            "surrogate_key" => {
                let text = self.d.type_name(Type::Text);
                let parts: Vec<String> = call
                    .args
                    .iter()
                    .map(|a| {
                        format!(
                            "coalesce(CAST({} AS {text}), '{SURROGATE_KEY_NULL}')",
                            self.expr(q, a)
                        )
                    })
                    .collect();
                return self.call("md5", &[parts.join(" || '-' || ")], "", Type::Text);
            }
            _ => {}
        }
        let mut args: Vec<String> = call
            .args
            .iter()
            .zip(
                func.params
                    .iter()
                    .chain(std::iter::repeat(func.params.last().unwrap_or(&Param::Any))),
            )
            .map(|(a, param)| {
                let sql = self.expr(q, a);
                match (a.ty, param) {
                    (Type::TimestampTz, Param::Temporal | Param::TextOrTemporal) => {
                        self.d.utc_timestamp(&sql).unwrap_or(sql)
                    }
                    _ => sql,
                }
            })
            .collect();
        let mut star = call.star;
        // Without `FILTER`, the filter moves into the argument:
        // aggregates skip the NULLs of rows it rejects.
        let filter = call.filter.as_ref().map(|f| self.expr(q, f));
        let inline_filter = filter.is_some() && !self.d.filter_clause();
        if let (Some(filter), true) = (&filter, inline_filter) {
            if star || args.is_empty() {
                args = vec!["1".to_string()];
                star = false;
            }
            for arg in &mut args {
                *arg = format!("CASE WHEN {filter} THEN {arg} END");
            }
        }
        let part = call
            .args
            .iter()
            .find_map(|a| match &a.kind {
                ExprKind::Literal(Literal::Text(part)) => Some(part.to_ascii_lowercase()),
                _ => None,
            })
            .unwrap_or_default();
        let mut out = match self.template(name, &part, args.len()) {
            Some(template) => fill_template(
                template,
                &args,
                &part.to_ascii_uppercase(),
                &self.d.type_name(e.ty),
            ),
            None => {
                let inner = if star {
                    "*".to_string()
                } else {
                    format!(
                        "{}{}",
                        if call.distinct { "DISTINCT " } else { "" },
                        args.join(", ")
                    )
                };
                format!("{name}({inner})")
            }
        };
        if let (Some(filter), false) = (&filter, inline_filter) {
            let _ = write!(out, " FILTER (WHERE {filter})");
        }
        if let Some(window) = &call.over {
            let mut parts = Vec::new();
            if !window.partition_by.is_empty() {
                let keys: Vec<String> = window
                    .partition_by
                    .iter()
                    .map(|k| self.expr(q, k))
                    .collect();
                parts.push(format!("PARTITION BY {}", keys.join(", ")));
            }
            if !window.order_by.is_empty() {
                let keys: Vec<String> = window
                    .order_by
                    .iter()
                    .map(|(k, desc, nulls_first)| {
                        let mut key = self.expr(q, k);
                        if *desc {
                            key.push_str(" DESC");
                        }
                        match nulls_first {
                            Some(true) => key.push_str(" NULLS FIRST"),
                            Some(false) => key.push_str(" NULLS LAST"),
                            None => {}
                        }
                        key
                    })
                    .collect();
                parts.push(format!("ORDER BY {}", keys.join(", ")));
            }
            let _ = write!(out, " OVER ({})", parts.join(" "));
        } else if func.kind == FuncKind::Window {
            out.push_str(" OVER ()");
        }
        // A sum of decimals is a decimal of the library's type, wherever it
        // is read: a no-op where the engine sums decimals exactly, and the
        // total to its last digit where one sums them as doubles (fakesnow),
        // before a division or a round sees it.
        if name == "sum"
            && let Some(arg) = call.args.first()
            && matches!(arg.ty, Type::Numeric(Some(_)))
            && let total @ Type::Numeric(Some(_)) = arg.ty.sum()
        {
            out = format!("CAST({out} AS {})", self.d.type_name(total));
        }
        out
    }
    pub(super) fn literal(&self, lit: &Literal) -> String {
        match lit {
            // A negative number in parentheses: `-var('n')` with n = -1
            // is `(-(-1))`, never `--1`, which SQL reads as a comment.
            Literal::Integer(n) if *n < 0 => format!("({n})"),
            Literal::Integer(n) => n.to_string(),
            Literal::Decimal(d) if d.starts_with('-') => format!("({d})"),
            Literal::Decimal(d) => d.clone(),
            Literal::Text(s) => self.d.string_literal(s),
            Literal::Bool(b) => self.d.bool_literal(*b).into(),
            Literal::Null => "NULL".into(),
            Literal::Date(d) => self.d.typed_literal(Type::Date, d),
            Literal::Timestamp(t) => self.d.typed_literal(Type::Timestamp, t),
        }
    }
}

/// Fills a function template in one pass, so that text inside an argument
/// (a string literal `'{1}'`) is never mistaken for a placeholder.
fn fill_template(template: &str, args: &[String], part: &str, ty: &str) -> String {
    let mut out =
        String::with_capacity(template.len() + args.iter().map(String::len).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let key = &after[..close];
        match key {
            "type" => out.push_str(ty),
            "part" => out.push_str(part),
            _ => match key.parse::<usize>().ok().and_then(|i| args.get(i)) {
                Some(arg) => out.push_str(arg),
                None => out.push_str(&rest[open..open + close + 2]),
            },
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether every argument a template names is there (an optional argument
/// left out falls back to the portable spelling).
fn template_fits(template: &str, args: usize) -> bool {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return true;
        };
        if after[..close].parse::<usize>().is_ok_and(|i| i >= args) {
            return false;
        }
        rest = &after[close + 1..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::fill_template;

    #[test]
    fn templates_fill_in_one_pass() {
        let args = ["'{1}'".to_string(), "x".to_string()];
        assert_eq!(
            fill_template("f({0}, {1}) :: {type} {part}", &args, "DAY", "DATE"),
            "f('{1}', x) :: DATE DAY"
        );
        assert_eq!(fill_template("struct {{a}}", &args, "", ""), "struct {{a}}");
        assert_eq!(fill_template("g({7})", &args, "", ""), "g({7})");
    }
}
