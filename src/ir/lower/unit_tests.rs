//! `unit_test` items: the model tested, the relations given and the rows
//! expected, each value typed by its column.

use super::*;

pub(super) const UNIT_TEST_SETTINGS: &[&str] = &["model", "expect", "ordered"];

impl<'a> Lowerer<'a> {
    pub(super) fn declare_unit_test(&mut self, def: &'a ast::UnitTestDef) {
        if let Some(first) = self
            .unit_tests
            .iter()
            .find(|t| t.name.name == def.name.name)
        {
            let first = first.name.span;
            self.duplicate(NameKind::UnitTest, &def.name, first);
        } else {
            self.unit_tests.push(def);
        }
    }

    pub(super) fn lower_unit_tests(&mut self) {
        for def in std::mem::take(&mut self.unit_tests) {
            if let Some(test) = self.unit_test(def) {
                self.ir.unit_tests.push(test);
            }
        }
    }

    fn unit_test(&mut self, def: &'a ast::UnitTestDef) -> Option<UnitTest> {
        let settings = self.settings(&def.settings, "unit test", UNIT_TEST_SETTINGS);
        let invalid = |reason: &str| Problem::InvalidTest {
            span: def.name.span,
            test: "unit_test".into(),
            reason: reason.into(),
        };
        let Some(model) = settings.get("model") else {
            self.push(invalid(
                "a unit test names the model it tests: `model = int_orders`",
            ));
            return None;
        };
        let relation = match &model.kind {
            ValueKind::Path(parts) => ast::RelationRef {
                parts: parts.clone(),
                span: model.span,
            },
            _ => {
                self.invalid(model, "model", "the name of a model");
                return None;
            }
        };
        let id = self.resolve_relation(&relation)?;
        self.ir.named_relations.push((id, relation.span));
        if !matches!(self.ir.relation(id).kind, RelationKind::Model(_)) {
            self.push(Problem::InvalidTest {
                span: model.span,
                test: "unit_test".into(),
                reason: format!(
                    "`{}` is not a model: a unit test runs a model's query",
                    relation.dotted()
                ),
            });
            return None;
        }
        let Some(expect) = settings.get("expect") else {
            self.push(invalid(
                "a unit test says what it expects: `expect = [{ column = value }, …]`",
            ));
            return None;
        };
        let ordered = match settings.get("ordered") {
            Some(v) => match v.kind {
                ValueKind::Bool(b) => b,
                _ => {
                    self.invalid(v, "ordered", "`true` or `false`");
                    false
                }
            },
            None => false,
        };
        let mut complete = self.ir.relation(id).complete;
        let readable = reachable(&self.ir, id, &|_| false);
        let mut given = Vec::new();
        for (relation, rows) in &def.given {
            let Some(rel) = self.resolve_relation(relation) else {
                complete = false;
                continue;
            };
            self.ir.named_relations.push((rel, relation.span));
            if !readable.contains(&rel) {
                self.push(Problem::InvalidTest {
                    span: relation.span,
                    test: "unit_test".into(),
                    reason: format!(
                        "`{}` does not read `{}`: give the relations it reads",
                        self.ir.relation(id).name,
                        relation.dotted()
                    ),
                });
                complete = false;
                continue;
            }
            if let Some(first) = given.iter().find(|g: &&Given| g.relation == rel) {
                self.push(Problem::Duplicate {
                    kind: NameKind::Relation,
                    name: relation.dotted(),
                    first: first.span,
                    second: relation.span,
                });
                complete = false;
                continue;
            }
            match self.rows(rel, rows) {
                Some(rows) => given.push(Given {
                    relation: rel,
                    rows,
                    span: relation.span,
                }),
                None => complete = false,
            }
        }
        let expect = self.rows(id, expect);
        let (true, Some(expect)) = (complete, expect) else {
            return None;
        };
        Some(UnitTest {
            name: def.name.name.clone(),
            span: def.name.span,
            doc: self.resolve_doc(def.doc.clone(), def.name.span),
            model: id,
            given,
            expect,
            ordered,
        })
    }

    /// Rows of `rel`: an array of inline tables, each value typed by the
    /// column it names, or a CSV file's path.
    fn rows(&mut self, rel: RelId, value: &ast::Value) -> Option<Rows> {
        let items = match &value.kind {
            ValueKind::String(path) => {
                return Some(Rows::Csv {
                    path: path.clone(),
                    span: value.span,
                });
            }
            ValueKind::Array(items) => items,
            _ => {
                self.invalid(
                    value,
                    "rows",
                    "an array of rows, `[{ order_id = 1, status = \"placed\" }]`, or the path of a CSV file",
                );
                return None;
            }
        };
        let mut rows = Vec::new();
        let mut ok = true;
        for item in items {
            let ValueKind::Table(entries) = &item.kind else {
                self.invalid(item, "rows", "a row: `{ column = value, … }`");
                ok = false;
                continue;
            };
            let mut values = Vec::new();
            for (name, v) in entries {
                let Some(column) = self.output_column(rel, &name.name, name.span) else {
                    ok = false;
                    continue;
                };
                if values.iter().any(|(c, _)| *c == column) {
                    let first = entries
                        .iter()
                        .find(|(n, _)| n.name == name.name)
                        .map_or(name.span, |(n, _)| n.span);
                    self.push(Problem::Duplicate {
                        kind: NameKind::Column,
                        name: name.name.clone(),
                        first,
                        second: name.span,
                    });
                    ok = false;
                    continue;
                }
                let ty = self.ir.column(column).ty;
                match row_value(ty, v) {
                    Ok(literal) => values.push((column, literal)),
                    Err(found) => {
                        self.push(Problem::RowValue {
                            span: v.span,
                            column: name.name.clone(),
                            ty: ty.to_string(),
                            found: found.into(),
                        });
                        ok = false;
                    }
                }
            }
            rows.push(Row {
                span: item.span,
                values,
            });
        }
        ok.then_some(Rows::Inline(rows))
    }
}

/// A TOML value as a literal of type `ty`, or what it is instead. Dates and
/// timestamps are strings; `null` is NULL.
fn row_value(ty: Type, value: &ast::Value) -> Result<Literal, &'static str> {
    use Type::*;
    Ok(match (&value.kind, ty) {
        (ValueKind::Path(parts), _) if parts.len() == 1 && parts[0].name == "null" => Literal::Null,
        (ValueKind::Integer(n), Integer | BigInt | Numeric(_) | Double) => Literal::Integer(*n),
        (ValueKind::Float(f), Numeric(_) | Double) => Literal::Decimal(f.to_string()),
        (ValueKind::Bool(b), Boolean) => Literal::Bool(*b),
        (ValueKind::String(s), Text) => Literal::Text(s.clone()),
        (ValueKind::String(s), Date) if is_iso_date(s) => Literal::Date(s.clone()),
        (ValueKind::String(s), Timestamp | TimestampTz)
            if is_iso_timestamp(s) || is_iso_date(s) =>
        {
            Literal::Timestamp(s.clone())
        }
        (ValueKind::String(_), Date | Timestamp | TimestampTz) => {
            return Err("a string that is not one");
        }
        (_, Unknown | Null) => Literal::Null,
        (ValueKind::Float(_), Integer | BigInt) => return Err("a number with a fraction"),
        (kind, _) => return Err(kind.describe()),
    })
}
