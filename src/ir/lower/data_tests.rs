//! Tests: each `tests { … }` call checked against its relation.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn lower_tests(&mut self) {
        let models = std::mem::take(&mut self.models);
        for (id, def, _) in &models {
            let mut tests = Vec::new();
            for block in &def.blocks {
                if let ast::Block::Tests { tests: calls, .. } = block {
                    for call in calls {
                        if let Some(test) = self.test(*id, call) {
                            tests.push(test);
                        }
                    }
                }
            }
            if let RelationKind::Model(model) = &mut self.ir.relations[id.index()].kind {
                model.tests = tests;
            }
        }
        self.models = models;
    }

    pub(super) fn test(&mut self, id: RelId, call: &'a ast::TestCall) -> Option<Test> {
        const TESTS: &[&str] = TEST_NAMES;
        let name = call.name.name.as_str();
        if !TESTS.contains(&name) {
            self.push(Problem::UnknownTest {
                span: call.name.span,
                name: name.to_string(),
                suggestion: suggest(name, TESTS.iter().copied()),
            });
            return None;
        }
        let mut severity = TestSeverity::Error;
        let mut to = None;
        for (key, value) in &call.named {
            match key.name.as_str() {
                "severity" => match self.string(value, "severity").as_deref() {
                    Some("error") => severity = TestSeverity::Error,
                    Some("warn") => severity = TestSeverity::Warn,
                    Some(other) => {
                        self.invalid_text(value, "severity", "\"error\" or \"warn\"", other)
                    }
                    None => {}
                },
                "to" if name == "relationships" => to = Some(value),
                other => {
                    let known: &'static [&'static str] = if name == "relationships" {
                        &["to", "severity"]
                    } else {
                        &["severity"]
                    };
                    self.push(Problem::UnknownSetting {
                        span: key.span,
                        key: other.to_string(),
                        item: "test",
                        known,
                        suggestion: suggest(other, known.iter().copied()),
                    });
                }
            }
        }
        let invalid = |reason: &str| Problem::InvalidTest {
            span: call.span,
            test: name.to_string(),
            reason: reason.to_string(),
        };
        let kind = match name {
            "unique" => {
                if call.args.is_empty() {
                    self.push(invalid("name the column(s): `unique(column, ...)`"));
                    return None;
                }
                let mut columns = Vec::new();
                for arg in &call.args {
                    columns.extend(self.column_list(id, arg, "unique"));
                }
                TestKind::Unique(columns)
            }
            "not_null" => {
                let [arg] = call.args.as_slice() else {
                    self.push(invalid("name one column: `not_null(column)`"));
                    return None;
                };
                TestKind::NotNull(self.test_column(id, arg)?)
            }
            "accepted_values" => {
                let [column, values] = call.args.as_slice() else {
                    self.push(invalid("expected `accepted_values(column, [values...])`"));
                    return None;
                };
                let column = self.test_column(id, column)?;
                let ty = self.ir.column(column).ty;
                let ValueKind::Array(items) = &values.kind else {
                    self.invalid(values, "accepted_values", "an array of values");
                    return None;
                };
                let mut out = Vec::new();
                for item in items {
                    let value = match &item.kind {
                        ValueKind::String(s) if ty == Type::Text || ty.is_wildcard() => {
                            TestValue::Text(s.clone())
                        }
                        ValueKind::Integer(n) if ty.is_numeric() || ty.is_wildcard() => {
                            TestValue::Integer(*n)
                        }
                        ValueKind::Bool(b) if ty == Type::Boolean || ty.is_wildcard() => {
                            TestValue::Bool(*b)
                        }
                        _ => {
                            self.push(Problem::InvalidSetting {
                                span: item.span,
                                key: "accepted_values".into(),
                                expected: format!("a value of the column's type ({ty})"),
                                found: item.kind.describe().to_string(),
                            });
                            continue;
                        }
                    };
                    out.push(value);
                }
                TestKind::AcceptedValues {
                    column,
                    values: out,
                }
            }
            _ => {
                let [arg] = call.args.as_slice() else {
                    self.push(invalid(
                        "expected `relationships(column, to = relation.column)`",
                    ));
                    return None;
                };
                let column = self.test_column(id, arg)?;
                let Some(to) = to else {
                    self.push(invalid(
                        "say where the column points: `to = relation.column`",
                    ));
                    return None;
                };
                let ValueKind::Path(parts) = &to.kind else {
                    self.invalid(to, "to", "`relation.column`");
                    return None;
                };
                let Some((column_name, relation_parts)) =
                    parts.split_last().filter(|(_, r)| !r.is_empty())
                else {
                    self.invalid(to, "to", "`relation.column`");
                    return None;
                };
                let relation = ast::RelationRef {
                    parts: relation_parts.to_vec(),
                    span: relation_parts[0]
                        .span
                        .to(relation_parts[relation_parts.len() - 1].span),
                };
                let target = self.resolve_relation(&relation)?;
                let to = self.output_column(target, &column_name.name, column_name.span)?;
                let (from_ty, to_ty) = (self.ir.column(column).ty, self.ir.column(to).ty);
                if from_ty.unify(to_ty).is_none() {
                    self.push(Problem::IncomparableTypes {
                        span: call.span,
                        lhs: (arg.span, from_ty.to_string()),
                        rhs: (self.ir.column(to).span, to_ty.to_string()),
                    });
                }
                TestKind::Relationships { column, to }
            }
        };
        Some(Test {
            kind,
            severity,
            span: call.span,
        })
    }

    pub(super) fn test_column(&mut self, id: RelId, value: &ast::Value) -> Option<ColumnId> {
        let (name, span) = self.name(value, "column")?;
        self.output_column(id, &name, span)
    }
}
