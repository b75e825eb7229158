//! Reading the settings of items: strings, names, column lists, durations,
//! inline tables and types, each checked at its value.

use super::*;

impl<'a> Lowerer<'a> {
    /// Checks keys against `known`, reports duplicates, and returns the values by key.
    pub(super) fn settings(
        &mut self,
        settings: &'a [ast::Setting],
        item: &'static str,
        known: &'static [&'static str],
    ) -> IndexMap<&'a str, &'a ast::Value> {
        let mut out: IndexMap<&str, &ast::Value> = IndexMap::new();
        let mut spans: HashMap<&str, Span> = HashMap::new();
        for setting in settings {
            let key = setting.key.name.as_str();
            if !known.contains(&key) {
                self.push(Problem::UnknownSetting {
                    span: setting.key.span,
                    key: key.to_string(),
                    item,
                    known,
                    suggestion: suggest(key, known.iter().copied()),
                });
                continue;
            }
            if let Some(first) = spans.get(key) {
                self.push(Problem::DuplicateSetting {
                    key: key.to_string(),
                    first: *first,
                    second: setting.key.span,
                });
                continue;
            }
            spans.insert(key, setting.key.span);
            out.insert(key, &setting.value);
        }
        out
    }

    pub(super) fn invalid(&mut self, value: &ast::Value, key: &str, expected: &str) {
        self.push(Problem::InvalidSetting {
            span: value.span,
            key: key.to_string(),
            expected: expected.to_string(),
            found: value.kind.describe().to_string(),
        });
    }

    pub(super) fn string(&mut self, value: &ast::Value, key: &str) -> Option<String> {
        match &value.kind {
            ValueKind::String(s) => Some(s.clone()),
            _ => {
                self.invalid(value, key, "a string");
                None
            }
        }
    }

    /// A bare name (not dotted).
    pub(super) fn name(&mut self, value: &ast::Value, key: &str) -> Option<(String, Span)> {
        match &value.kind {
            ValueKind::Path(parts) if parts.len() == 1 => {
                Some((parts[0].name.clone(), parts[0].span))
            }
            ValueKind::String(s) => Some((s.clone(), value.span)),
            _ => {
                self.invalid(value, key, "a column name");
                None
            }
        }
    }

    /// A name or an array of names.
    pub(super) fn names(&mut self, value: &ast::Value, key: &str) -> Vec<(String, Span)> {
        match &value.kind {
            ValueKind::Array(items) => items.iter().filter_map(|v| self.name(v, key)).collect(),
            _ => self.name(value, key).into_iter().collect(),
        }
    }

    pub(super) fn column_list(
        &mut self,
        rel: RelId,
        value: &ast::Value,
        key: &str,
    ) -> Vec<ColumnId> {
        self.names(value, key)
            .into_iter()
            .filter_map(|(name, span)| self.output_column(rel, &name, span))
            .collect()
    }

    /// The column `name` of `rel`, named at `span` outside an expression (a
    /// setting, a test, a unit test's rows): kept in [`Ir::named`] for the
    /// editor, the name alone (inside its quotes when it is quoted). An
    /// expression's reads are the editor's already (its column
    /// expressions): they resolve with [`Lowerer::resolve_column`].
    pub(super) fn output_column(&mut self, rel: RelId, name: &str, span: Span) -> Option<ColumnId> {
        let id = self.resolve_column(rel, name, span)?;
        let written = self
            .db
            .text(span.file)
            .get(span.range())
            .unwrap_or_default();
        let at = if written == name {
            Some(span)
        } else if written.len() == name.len() + 2 && written.get(1..written.len() - 1) == Some(name)
        {
            Some(Span::new(
                span.file,
                span.start as usize + 1,
                span.end as usize - 1,
            ))
        } else {
            None
        };
        if let Some(at) = at {
            self.ir.named.push((id, at));
        }
        Some(id)
    }

    /// The column `name` of `rel`, or an unknown-column problem at `span`.
    pub(super) fn resolve_column(
        &mut self,
        rel: RelId,
        name: &str,
        span: Span,
    ) -> Option<ColumnId> {
        let relation = self.ir.relation(rel);
        if let Some(&id) = relation.columns.get(name) {
            return Some(id);
        }
        if relation.complete {
            let suggestion = suggest(name, relation.columns.keys().map(String::as_str));
            let relation = relation.name.clone();
            self.push(Problem::UnknownColumn {
                span,
                name: name.to_string(),
                relation,
                suggestion,
            });
        }
        None
    }

    pub(super) fn duration(&mut self, value: &ast::Value, key: &str) -> Option<u64> {
        let text = self.string(value, key)?;
        let seconds = parse_duration(&text);
        if seconds.is_none() {
            self.invalid_text(
                value,
                key,
                "a duration such as \"12h\" or \"3 days\"",
                &text,
            );
        }
        seconds
    }

    pub(super) fn invalid_text(
        &mut self,
        value: &ast::Value,
        key: &str,
        expected: &str,
        found: &str,
    ) {
        self.push(Problem::InvalidSetting {
            span: value.span,
            key: key.to_string(),
            expected: expected.to_string(),
            found: format!("\"{found}\""),
        });
    }

    /// An inline table whose keys must all be in `known`.
    pub(super) fn table(
        &mut self,
        value: &'a ast::Value,
        key: &str,
        known: &'static [&'static str],
    ) -> Option<IndexMap<&'a str, &'a ast::Value>> {
        let ValueKind::Table(entries) = &value.kind else {
            self.invalid(value, key, "an inline table `{ ... }`");
            return None;
        };
        let mut out = IndexMap::new();
        for (k, v) in entries {
            if !known.contains(&k.name.as_str()) {
                self.push(Problem::UnknownSetting {
                    span: k.span,
                    key: format!("{key}.{}", k.name),
                    item: "setting table",
                    known,
                    suggestion: suggest(&k.name, known.iter().copied()),
                });
            } else if out.insert(k.name.as_str(), v).is_some() {
                let first = entries
                    .iter()
                    .find(|(e, _)| e.name == k.name)
                    .map_or(k.span, |(e, _)| e.span);
                self.push(Problem::DuplicateSetting {
                    key: k.name.clone(),
                    first,
                    second: k.span,
                });
            }
        }
        Some(out)
    }

    pub(super) fn freshness(&mut self, value: &'a ast::Value) -> Option<Freshness> {
        let table = self.table(value, "freshness", &["warn_after", "error_after"])?;
        Some(Freshness {
            warn_after: table
                .get("warn_after")
                .and_then(|v| self.duration(v, "warn_after")),
            error_after: table
                .get("error_after")
                .and_then(|v| self.duration(v, "error_after")),
        })
    }

    pub(super) fn type_name(&mut self, ty: &ast::TypeName) -> Type {
        match Type::from_name(&ty.name.name, &ty.params) {
            Ok(t) => t,
            Err("unknown type") => {
                self.push(Problem::UnknownType {
                    span: ty.name.span,
                    name: ty.name.name.clone(),
                    suggestion: suggest(&ty.name.name, TYPE_NAMES.iter().copied()),
                });
                Type::Unknown
            }
            Err(reason) => {
                self.push(Problem::InvalidLiteral {
                    span: ty.span,
                    reason: reason.to_string(),
                });
                Type::Unknown
            }
        }
    }
}
