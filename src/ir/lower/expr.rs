//! Expressions: names bound in their scope, every node typed, calls
//! checked against the function library.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn condition(
        &mut self,
        scope: &Scope,
        cx: Cx,
        e: &ast::Expr,
        what: &'static str,
    ) -> Expr {
        let expr = self.expr(scope, cx, e);
        if expr.ty != Type::Boolean && !expr.ty.is_wildcard() {
            self.push(Problem::NotBoolean {
                span: expr.span,
                context: what,
                found: expr.ty.to_string(),
            });
        }
        expr
    }

    /// The scan an alias names, or R006 (unless the query is broken).
    pub(super) fn scan_of(&mut self, scope: &Scope, alias: &ast::Ident) -> Option<usize> {
        let scan = scope.scans.iter().position(|s| s.alias == alias.name);
        if scan.is_none() && !scope.silent {
            let known: Vec<String> = scope.scans.iter().map(|s| s.alias.clone()).collect();
            self.push(Problem::UnknownQualifier {
                span: alias.span,
                name: alias.name.clone(),
                suggestion: suggest(&alias.name, known.iter().map(String::as_str)),
                known,
            });
        }
        scan
    }

    pub(super) fn column_ref(
        &mut self,
        scope: &Scope,
        qualifier: Option<&ast::Ident>,
        name: &ast::Ident,
    ) -> Option<(usize, ColumnId)> {
        if let Some(q) = qualifier {
            let scan = self.scan_of(scope, q)?;
            let rel = scope.scans[scan].relation;
            return self
                .resolve_column(rel, &name.name, name.span)
                .map(|c| (scan, c));
        }
        let found: Vec<(usize, ColumnId)> = scope
            .scans
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                self.ir
                    .relation(s.relation)
                    .columns
                    .get(&name.name)
                    .map(|c| (i, *c))
            })
            .collect();
        match found.as_slice() {
            [one] => Some(*one),
            [] => {
                let all_complete = scope
                    .scans
                    .iter()
                    .all(|s| self.ir.relation(s.relation).complete);
                if !scope.silent && all_complete {
                    let candidates: Vec<&str> = scope
                        .scans
                        .iter()
                        .flat_map(|s| {
                            self.ir
                                .relation(s.relation)
                                .columns
                                .keys()
                                .map(String::as_str)
                        })
                        .collect();
                    let relation = scope
                        .scans
                        .iter()
                        .map(|s| s.alias.as_str())
                        .collect::<Vec<_>>()
                        .join("`, `");
                    self.push(Problem::UnknownColumn {
                        span: name.span,
                        name: name.name.clone(),
                        relation,
                        suggestion: suggest(&name.name, candidates),
                    });
                }
                None
            }
            many => {
                self.push(Problem::AmbiguousColumn {
                    span: name.span,
                    name: name.name.clone(),
                    candidates: many
                        .iter()
                        .map(|(i, _)| scope.scans[*i].alias.clone())
                        .collect(),
                });
                None
            }
        }
    }

    pub(super) fn expr(&mut self, scope: &Scope, cx: Cx, e: &ast::Expr) -> Expr {
        use ast::ExprKind as A;
        let span = e.span;
        let error = |span| Expr {
            kind: ExprKind::Error,
            ty: Type::Unknown,
            span,
        };
        let (kind, ty) = match &e.kind {
            A::Literal(lit) => return self.literal(lit, span),
            A::Column { qualifier, name } if let Some(bound) = scope.params => {
                return self.parameter(bound, qualifier.as_ref(), name, span);
            }
            A::Column { qualifier, name } => match self.column_ref(scope, qualifier.as_ref(), name)
            {
                Some((scan, column)) => {
                    (ExprKind::Column { scan, column }, self.ir.column(column).ty)
                }
                None => return error(span),
            },
            A::Unary { op, expr } => {
                let inner = self.expr(scope, cx, expr);
                let ok = match op {
                    ast::UnaryOp::Not => inner.ty == Type::Boolean,
                    ast::UnaryOp::Neg => inner.ty.is_numeric(),
                } || inner.ty.is_wildcard();
                let ty = match op {
                    ast::UnaryOp::Not => Type::Boolean,
                    ast::UnaryOp::Neg => inner.ty,
                };
                if !ok {
                    let (symbol, expected) = match op {
                        ast::UnaryOp::Not => ("not", "a boolean"),
                        ast::UnaryOp::Neg => ("-", "a number"),
                    };
                    self.push(Problem::OperatorType {
                        span,
                        op: symbol,
                        lhs: (inner.span, inner.ty.to_string()),
                        rhs: (inner.span, inner.ty.to_string()),
                        expected,
                    });
                }
                (
                    ExprKind::Unary {
                        op: *op,
                        expr: Box::new(inner),
                    },
                    if ok { ty } else { Type::Unknown },
                )
            }
            A::Binary { op, lhs, rhs } => {
                let l = self.expr(scope, cx, lhs);
                let r = self.expr(scope, cx, rhs);
                let ty = self.binary_type(*op, &l, &r, span);
                (
                    ExprKind::Binary {
                        op: *op,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    },
                    ty,
                )
            }
            A::IsNull { expr, negated } => {
                let inner = self.expr(scope, cx, expr);
                (
                    ExprKind::IsNull {
                        expr: Box::new(inner),
                        negated: *negated,
                    },
                    Type::Boolean,
                )
            }
            A::InList {
                expr,
                list,
                negated,
            } => {
                let inner = self.expr(scope, cx, expr);
                let list: Vec<Expr> = list.iter().map(|x| self.expr(scope, cx, x)).collect();
                for item in &list {
                    self.comparable(&inner, item, span);
                }
                (
                    ExprKind::InList {
                        expr: Box::new(inner),
                        list,
                        negated: *negated,
                    },
                    Type::Boolean,
                )
            }
            A::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let inner = self.expr(scope, cx, expr);
                let pattern = self.expr(scope, cx, pattern);
                for side in [&inner, &pattern] {
                    if side.ty != Type::Text && !side.ty.is_wildcard() {
                        self.push(Problem::OperatorType {
                            span,
                            op: if *case_insensitive { "ilike" } else { "like" },
                            lhs: (inner.span, inner.ty.to_string()),
                            rhs: (pattern.span, pattern.ty.to_string()),
                            expected: "text on both sides",
                        });
                        break;
                    }
                }
                (
                    ExprKind::Like {
                        expr: Box::new(inner),
                        pattern: Box::new(pattern),
                        negated: *negated,
                        case_insensitive: *case_insensitive,
                    },
                    Type::Boolean,
                )
            }
            A::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let inner = self.expr(scope, cx, expr);
                let low = self.expr(scope, cx, low);
                let high = self.expr(scope, cx, high);
                self.comparable(&inner, &low, span);
                self.comparable(&inner, &high, span);
                (
                    ExprKind::Between {
                        expr: Box::new(inner),
                        low: Box::new(low),
                        high: Box::new(high),
                        negated: *negated,
                    },
                    Type::Boolean,
                )
            }
            A::Cast { expr, ty, safe } => {
                let inner = self.expr(scope, cx, expr);
                let ty = self.type_name(ty);
                (
                    ExprKind::Cast {
                        expr: Box::new(inner),
                        ty,
                        safe: *safe,
                    },
                    ty,
                )
            }
            A::Case {
                operand,
                arms,
                otherwise,
            } => {
                let operand = operand.as_ref().map(|o| self.expr(scope, cx, o));
                let mut lowered_arms = Vec::new();
                let mut result: Option<(Type, Span)> = None;
                let mut ty = Type::Null;
                for (when, then) in arms {
                    let when = match &operand {
                        Some(operand) => {
                            let when = self.expr(scope, cx, when);
                            self.comparable(operand, &when, when.span);
                            when
                        }
                        None => self.condition(scope, cx, when, "a `when` condition"),
                    };
                    let then = self.expr(scope, cx, then);
                    ty = self.branch(&mut result, &then, span, ty);
                    lowered_arms.push((when, then));
                }
                let otherwise = otherwise.as_ref().map(|o| {
                    let o = self.expr(scope, cx, o);
                    ty = self.branch(&mut result, &o, span, ty);
                    Box::new(o)
                });
                (
                    ExprKind::Case {
                        operand: operand.map(Box::new),
                        arms: lowered_arms,
                        otherwise,
                    },
                    ty,
                )
            }
            A::Call(call) => return self.call(scope, cx, call, span),
            A::Sql { text, ty } => {
                let ty = self.type_name(ty);
                (ExprKind::Sql { text: text.clone() }, ty)
            }
        };
        Expr { kind, ty, span }
    }

    /// Folds one more branch of a `case` (or argument of `coalesce`) into the result type.
    pub(super) fn branch(
        &mut self,
        first: &mut Option<(Type, Span)>,
        next: &Expr,
        span: Span,
        acc: Type,
    ) -> Type {
        if next.ty == Type::Null {
            return acc;
        }
        match first {
            None => {
                *first = Some((next.ty, next.span));
                next.ty
            }
            Some((first_ty, first_span)) => match acc.unify(next.ty) {
                Some(t) => t,
                None => {
                    self.push(Problem::MismatchedBranches {
                        span,
                        first: (*first_span, first_ty.to_string()),
                        other: (next.span, next.ty.to_string()),
                    });
                    Type::Unknown
                }
            },
        }
    }

    pub(super) fn comparable(&mut self, a: &Expr, b: &Expr, span: Span) {
        if a.ty.unify(b.ty).is_none() {
            self.push(Problem::IncomparableTypes {
                span,
                lhs: (a.span, a.ty.to_string()),
                rhs: (b.span, b.ty.to_string()),
            });
        }
    }

    pub(super) fn binary_type(&mut self, op: ast::BinOp, l: &Expr, r: &Expr, span: Span) -> Type {
        use ast::BinOp::*;
        if op.is_comparison() {
            self.comparable(l, r, span);
            return Type::Boolean;
        }
        let fits = |t: Type, ok: fn(Type) -> bool| t.is_wildcard() || ok(t);
        let (ok, expected): (bool, &'static str) = match op {
            And | Or => (
                fits(l.ty, |t| t == Type::Boolean) && fits(r.ty, |t| t == Type::Boolean),
                "booleans on both sides",
            ),
            Concat => (
                fits(l.ty, |t| t == Type::Text) && fits(r.ty, |t| t == Type::Text),
                "text on both sides (cast numbers with `::text`, or use `concat(...)`)",
            ),
            _ => (
                fits(l.ty, Type::is_numeric) && fits(r.ty, Type::is_numeric),
                if l.ty.is_temporal() || r.ty.is_temporal() {
                    "numbers on both sides (for dates use `date_add` or `date_diff`)"
                } else {
                    "numbers on both sides"
                },
            ),
        };
        if !ok {
            self.push(Problem::OperatorType {
                span,
                op: op.symbol(),
                lhs: (l.span, l.ty.to_string()),
                rhs: (r.span, r.ty.to_string()),
                expected,
            });
            return Type::Unknown;
        }
        match op {
            And | Or => Type::Boolean,
            Concat => Type::Text,
            // Division is in double precision, whatever the operands: the
            // one definition every engine computes to the same bit (IEEE
            // 754), where decimal division rounds differently on each.
            Div => Type::Double,
            _ => match l.ty.unify(r.ty) {
                Some(Type::Null) | None => Type::Unknown,
                Some(t) => t,
            },
        }
    }

    pub(super) fn literal(&mut self, lit: &ast::Literal, span: Span) -> Expr {
        let (lit, ty) = match lit {
            ast::Literal::Integer(n) => (
                Literal::Integer(*n),
                if i32::try_from(*n).is_ok() {
                    Type::Integer
                } else {
                    Type::BigInt
                },
            ),
            ast::Literal::Decimal(d) => (Literal::Decimal(d.clone()), Type::Numeric(None)),
            ast::Literal::String(s) => (Literal::Text(s.clone()), Type::Text),
            ast::Literal::Bool(b) => (Literal::Bool(*b), Type::Boolean),
            ast::Literal::Null => (Literal::Null, Type::Null),
            ast::Literal::Date(d) => {
                if !is_iso_date(d) {
                    self.push(Problem::InvalidLiteral {
                        span,
                        reason: "a date literal is a day of the calendar, written `date 'YYYY-MM-DD'` (years 0001 to 9999)".into(),
                    });
                }
                (Literal::Date(d.clone()), Type::Date)
            }
            ast::Literal::Timestamp(t) => {
                if !is_iso_timestamp(t) {
                    self.push(Problem::InvalidLiteral {
                        span,
                        reason: "a timestamp literal is written `timestamp 'YYYY-MM-DD HH:MM:SS'`"
                            .into(),
                    });
                }
                (Literal::Timestamp(t.clone()), Type::Timestamp)
            }
        };
        Expr {
            kind: ExprKind::Literal(lit),
            ty,
            span,
        }
    }

    pub(super) fn var(&mut self, call: &ast::Call, span: Span) -> Expr {
        let (name, written) = match call.args.as_slice() {
            [
                ast::Expr {
                    kind: ast::ExprKind::Literal(ast::Literal::String(s)),
                    span,
                },
            ] => (s.clone(), *span),
            _ => {
                self.push(Problem::ArgumentCount {
                    span,
                    function: "var".into(),
                    expected: "one string literal naming a variable".into(),
                    found: call.args.len(),
                    defined: None,
                });
                return Expr {
                    kind: ExprKind::Error,
                    ty: Type::Unknown,
                    span,
                };
            }
        };
        let Some((index, _, value)) = self.config.vars.get_full(&name) else {
            self.push(Problem::UnknownVar {
                span,
                suggestion: suggest(&name, self.config.vars.keys().map(String::as_str)),
                name,
            });
            return Expr {
                kind: ExprKind::Error,
                ty: Type::Unknown,
                span,
            };
        };
        // The name between the quotes, when written without escapes.
        if written.end - written.start == name.len() as u32 + 2 {
            let inside = Span::new(
                written.file,
                written.start as usize + 1,
                written.end as usize - 1,
            );
            // (A function's body is lowered again at every call.)
            let reads = &mut self.ir.vars[index].reads;
            if !reads.contains(&inside) {
                reads.push(inside);
            }
        }
        let lit = match value {
            toml::Value::String(s) => ast::Literal::String(s.clone()),
            toml::Value::Integer(n) => ast::Literal::Integer(*n),
            toml::Value::Float(f) if f.is_finite() => ast::Literal::Decimal(f.to_string()),
            toml::Value::Boolean(b) => ast::Literal::Bool(*b),
            // `nan` and `inf` are TOML floats, and no SQL number.
            toml::Value::Float(f) => {
                self.push(Problem::InvalidSetting {
                    span,
                    key: name,
                    expected: "a finite number in `[vars]`".into(),
                    found: format!("`{f}`"),
                });
                return Expr {
                    kind: ExprKind::Error,
                    ty: Type::Unknown,
                    span,
                };
            }
            _ => {
                self.push(Problem::InvalidSetting {
                    span,
                    key: name,
                    expected: "a string, number or boolean in `[vars]`".into(),
                    found: "a value of another kind".into(),
                });
                return Expr {
                    kind: ExprKind::Error,
                    ty: Type::Unknown,
                    span,
                };
            }
        };
        self.literal(&lit, span)
    }

    pub(super) fn call(&mut self, scope: &Scope, cx: Cx, call: &ast::Call, span: Span) -> Expr {
        let name = call.name.name.to_ascii_lowercase();
        if name == "var" {
            return self.var(call, span);
        }
        if let Some(inlined) = self.call_function(scope, cx, call, &name, span) {
            return inlined;
        }
        let Some(id) = library::lookup(&name) else {
            self.push(Problem::UnknownFunction {
                span: call.name.span,
                name: call.name.name.clone(),
                suggestion: suggest(&name, library::names()),
            });
            for arg in &call.args {
                self.expr(scope, cx, arg);
            }
            return Expr {
                kind: ExprKind::Error,
                ty: Type::Unknown,
                span,
            };
        };
        let func = id.func();
        let misuse = |reason: &'static str| Problem::WindowMisuse {
            span,
            function: func.name.to_string(),
            reason,
        };
        let is_window = func.kind == FuncKind::Window || call.over.is_some();
        let is_aggregate = func.kind == FuncKind::Aggregate && call.over.is_none();
        if call.over.is_some() && func.kind == FuncKind::Scalar {
            self.push(misuse(
                "`over (...)` applies to aggregate and window functions only",
            ));
        }
        if call.over.is_none() && func.kind == FuncKind::Window {
            self.push(misuse("a window function needs `over (...)`"));
        }
        if (call.distinct || call.filter.is_some()) && func.kind != FuncKind::Aggregate {
            self.push(misuse("`distinct` and `filter` apply to aggregates only"));
        }
        if is_window && !cx.window {
            self.push(misuse(
                "window functions are computed last: use them in output columns only",
            ));
        } else if is_aggregate && let Some(place) = cx.no_aggregate {
            self.push(Problem::AggregateNotAllowed {
                span,
                function: func.name.to_string(),
                context: place,
            });
        }
        let arg_count = call.args.len() + usize::from(call.star);
        if call.star && (func.name != "count" || !call.args.is_empty()) {
            self.push(Problem::ArgumentCount {
                span,
                function: func.name.to_string(),
                expected: "real arguments (`*` is only for `count(*)`)".into(),
                found: arg_count,
                defined: None,
            });
        } else if !call.star && !func.accepts_count(call.args.len()) {
            self.push(Problem::ArgumentCount {
                span,
                function: func.name.to_string(),
                expected: format!(
                    "{} argument{}",
                    func.arity(),
                    if func.arity() == "1" { "" } else { "s" }
                ),
                found: call.args.len(),
                defined: None,
            });
        }
        let inner_cx = if is_aggregate {
            Cx {
                no_aggregate: Some("inside another aggregate"),
                window: false,
            }
        } else if is_window {
            // Window functions do not nest.
            Cx {
                window: false,
                ..cx
            }
        } else {
            cx
        };
        let args: Vec<Expr> = call
            .args
            .iter()
            .map(|a| self.expr(scope, inner_cx, a))
            .collect();
        for (i, arg) in args.iter().enumerate() {
            let Some(param) = func.param(i) else { continue };
            let ok = match param {
                Param::DatePart => {
                    matches!(&arg.kind, ExprKind::Literal(Literal::Text(part)) if DATE_PARTS.contains(&part.to_ascii_lowercase().as_str()))
                }
                Param::Digits => is_integer_literal(arg),
                _ => param.accepts(arg.ty),
            };
            if !ok {
                let found = match (param, &arg.kind) {
                    (Param::DatePart, ExprKind::Literal(Literal::Text(part))) => {
                        format!("'{part}'")
                    }
                    (Param::Digits, _) if arg.ty.is_integer() => {
                        format!("an expression of type {}", arg.ty)
                    }
                    _ => arg.ty.to_string(),
                };
                self.push(Problem::ArgumentType {
                    span: arg.span,
                    function: func.name.to_string(),
                    position: i + 1,
                    expected: if param == Param::DatePart {
                        format!(
                            "one of {}",
                            DATE_PARTS
                                .iter()
                                .map(|p| format!("'{p}'"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        param.describe().to_string()
                    },
                    found,
                    cast_to: param.cast_to().map(str::to_string),
                    defined: None,
                });
            }
        }
        let filter = call.filter.as_ref().map(|f| {
            let cx = Cx {
                no_aggregate: Some("in an aggregate's filter"),
                window: false,
            };
            Box::new(self.condition(scope, cx, f, "a `filter` condition"))
        });
        let over = call.over.as_ref().map(|w| {
            let cx = Cx {
                window: false,
                ..cx
            };
            Window {
                partition_by: w
                    .partition_by
                    .iter()
                    .map(|e| self.expr(scope, cx, e))
                    .collect(),
                order_by: w
                    .order_by
                    .iter()
                    .map(|k| (self.expr(scope, cx, &k.expr), k.descending, k.nulls_first))
                    .collect(),
            }
        });
        let arg_ty = |i: usize| args.get(i).map_or(Type::Unknown, |a| a.ty);
        let ty = match func.ret {
            Ret::Fixed(t) => t,
            Ret::Arg(i) => arg_ty(i),
            Ret::Sum => arg_ty(0).sum(),
            Ret::Avg => arg_ty(0).avg(),
            Ret::Common | Ret::CommonOfTwo => {
                let take = if func.ret == Ret::CommonOfTwo {
                    2
                } else {
                    args.len()
                };
                let mut first = None;
                let mut ty = Type::Null;
                for arg in args.iter().take(take) {
                    ty = self.branch(&mut first, arg, span, ty);
                }
                if func.ret == Ret::CommonOfTwo {
                    arg_ty(0)
                } else {
                    ty
                }
            }
        };
        Expr {
            kind: ExprKind::Call(Call {
                func: id,
                args,
                star: call.star,
                distinct: call.distinct,
                filter,
                over,
            }),
            ty,
            span,
        }
    }
}
