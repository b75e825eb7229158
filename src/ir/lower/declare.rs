//! Pass 1: declare every relation and its columns (sources, models,
//! snapshots), so that references resolve across files in any order.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn add_relation(
        &mut self,
        name: String,
        name_span: Span,
        span: Span,
        doc: Option<String>,
        kind: RelationKind,
    ) -> Option<RelId> {
        if let Some(&existing) = self.ir.by_name.get(&name) {
            let first = self.ir.relation(existing).name_span;
            self.push(Problem::Duplicate {
                kind: NameKind::Relation,
                name,
                first,
                second: name_span,
            });
            return None;
        }
        let physical = match &kind {
            RelationKind::Table(t) => t.identifier.as_str(),
            _ => name.as_str(),
        };
        if physical
            .to_ascii_lowercase()
            .contains(super::SCRATCH_SUFFIX)
        {
            self.push(Problem::ReservedName {
                span: name_span,
                name: physical.to_string(),
            });
        }
        let doc = self.resolve_doc(doc, name_span);
        let id = RelId(self.ir.relations.len() as u32);
        self.ir.by_name.insert(name.clone(), id);
        self.ir.relations.push(Relation {
            id,
            name,
            name_span,
            span,
            doc,
            kind,
            columns: IndexMap::new(),
            deps: Vec::new(),
            complete: true,
        });
        Some(id)
    }

    pub(super) fn add_column(&mut self, mut column: Column) -> Option<ColumnId> {
        column.doc = self.resolve_doc(column.doc.take(), column.span);
        let id = ColumnId(self.ir.columns.len() as u32);
        let relation = &mut self.ir.relations[column.relation.index()];
        if let Some(&existing) = relation.columns.get(&column.name) {
            let first = self.ir.columns[existing.index()].span;
            self.push(Problem::Duplicate {
                kind: NameKind::Column,
                name: column.name,
                first,
                second: column.span,
            });
            return None;
        }
        relation.columns.insert(column.name.clone(), id);
        self.ir.columns.push(column);
        Some(id)
    }

    pub(super) fn declare(&mut self, file: FileId, item: &'a ast::Item) {
        match item {
            ast::Item::Source(source) => self.declare_source(source),
            ast::Item::Model(model) => {
                let placeholder = RelationKind::Model(Box::new(Model {
                    layer: None,
                    materialized: Materialized::View,
                    materialized_from: Origin::BuiltIn,
                    schema: None,
                    tags: Vec::new(),
                    grain: None,
                    cluster_by: Vec::new(),
                    cluster_by_span: None,
                    partition_by: None,
                    non_additive: Vec::new(),
                    semi_additive: Vec::new(),
                    union: None,
                    query: Query::default(),
                    tests: Vec::new(),
                }));
                if let Some(id) = self.add_relation(
                    model.name.name.clone(),
                    model.name.span,
                    model.span,
                    model.doc.clone(),
                    placeholder,
                ) {
                    let hint = self.layer_from_path(file);
                    self.pending.insert(id, Pending::Model(self.models.len()));
                    self.models.push((id, model, hint));
                }
            }
            ast::Item::Snapshot(snapshot) => {
                let placeholder = RelationKind::Snapshot(Snapshot {
                    from: RelId(u32::MAX),
                    key_span: snapshot.name.span,
                    schema: None,
                    unique_key: Vec::new(),
                    strategy: SnapshotStrategy::CheckAll,
                    hard_deletes: HardDeletes::Ignore,
                });
                if let Some(id) = self.add_relation(
                    snapshot.name.name.clone(),
                    snapshot.name.span,
                    snapshot.span,
                    snapshot.doc.clone(),
                    placeholder,
                ) {
                    self.pending
                        .insert(id, Pending::Snapshot(self.snapshots.len()));
                    self.snapshots.push((id, snapshot));
                }
            }
            ast::Item::Function(def) => self.declare_function(def),
            ast::Item::Doc(_) => {} // declared before everything else
            ast::Item::UnitTest(def) => self.declare_unit_test(def),
            ast::Item::Reconcile(reconcile) => {
                if let Some(first) = self
                    .reconciles
                    .iter()
                    .find(|r| r.name.name == reconcile.name.name)
                {
                    let first = first.name.span;
                    self.duplicate(NameKind::Reconcile, &reconcile.name, first);
                } else {
                    self.reconciles.push(reconcile);
                }
            }
        }
    }

    /// A model in `models/staging/x.shop` is in layer `staging` unless it says otherwise.
    pub(super) fn layer_from_path(&self, file: FileId) -> Option<String> {
        let path = &self.db.get(file).path;
        path.split(['/', '\\'])
            .rev()
            .skip(1)
            .find(|dir| self.config.layers.contains_key(*dir))
            .map(str::to_string)
    }

    pub(super) fn declare_source(&mut self, def: &'a ast::SourceDef) {
        let settings = self.settings(&def.settings, "source", SOURCE_SETTINGS);
        let schema = settings
            .get("schema")
            .and_then(|v| self.string(v, "schema"))
            .unwrap_or_else(|| def.name.name.clone());
        let loaded_at = settings
            .get("loaded_at")
            .and_then(|v| self.name(v, "loaded_at"));
        let freshness = settings.get("freshness").and_then(|v| self.freshness(v));
        let source_id = SourceId(self.ir.sources.len() as u32);
        if let Some(existing) = self.ir.sources.iter().find(|s| s.name == def.name.name) {
            let first = existing.span;
            self.duplicate(NameKind::Source, &def.name, first);
            return;
        }
        let mut tables = Vec::new();
        for table in &def.tables {
            let table_settings = self.settings(&table.settings, "source table", TABLE_SETTINGS);
            let name = format!("{}.{}", def.name.name, table.name.name);
            let identifier = table_settings
                .get("identifier")
                .and_then(|v| self.string(v, "identifier"))
                .unwrap_or_else(|| table.name.name.clone());
            let kind = RelationKind::Table(SourceTable {
                source: source_id,
                schema: schema.clone(),
                identifier,
                expect_key: Vec::new(),
                loaded_at: None,
                freshness: table_settings
                    .get("freshness")
                    .and_then(|v| self.freshness(v))
                    .or(freshness),
            });
            let Some(rel) =
                self.add_relation(name, table.name.span, table.span, table.doc.clone(), kind)
            else {
                continue;
            };
            for column in &table.columns {
                let ty = self.type_name(&column.ty);
                self.add_column(Column {
                    relation: rel,
                    name: column.name.name.clone(),
                    span: column.name.span,
                    ty,
                    role: Role::Source,
                    expr: None,
                    doc: column.doc.clone(),
                });
            }
            let expect_key = table_settings
                .get("expect_key")
                .map(|v| self.column_list(rel, v, "expect_key"))
                .unwrap_or_default();
            let table_loaded_at = table_settings
                .get("loaded_at")
                .and_then(|v| self.name(v, "loaded_at"))
                .or_else(|| loaded_at.clone());
            let loaded_at_id =
                table_loaded_at.and_then(|(name, span)| self.output_column(rel, &name, span));
            if let RelationKind::Table(t) = &mut self.ir.relations[rel.index()].kind {
                t.expect_key = expect_key;
                t.loaded_at = loaded_at_id;
            }
            tables.push(rel);
        }
        let doc = self.resolve_doc(def.doc.clone(), def.name.span);
        self.ir.sources.push(Source {
            name: def.name.name.clone(),
            schema,
            doc,
            tables,
            span: def.name.span,
        });
    }

    /// R003: `second` names again what is defined at `first`.
    pub(super) fn duplicate(&mut self, kind: NameKind, second: &ast::Ident, first: Span) {
        self.push(Problem::Duplicate {
            kind,
            name: second.name.clone(),
            first,
            second: second.span,
        });
    }

    pub(super) fn declare_doc(&mut self, block: &'a ast::DocDef) {
        if let Some(first) = self.doc_blocks.get(&block.name.name) {
            let first = first.name.span;
            self.duplicate(NameKind::Doc, &block.name, first);
            return;
        }
        self.doc_blocks.insert(block.name.name.clone(), block);
    }

    /// A description with each `doc(NAME)` replaced by the text of the doc
    /// block `NAME` (R013 at `span`, what it documents, when there is none).
    pub(super) fn resolve_doc(&mut self, doc: Option<String>, span: Span) -> Option<String> {
        let text = doc?;
        if !text.contains("doc(") {
            return Some(text);
        }
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find("doc(") {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + 4..];
            let len = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
            let (name, tail) = after.split_at(len);
            if before.is_some_and(is_name) || name.is_empty() || !tail.starts_with(')') {
                // Not a use: `undoc(`, `doc()`, `doc(a b)`.
                out.push_str(&rest[..at + 4]);
                rest = after;
                continue;
            }
            out.push_str(&rest[..at]);
            match self.doc_blocks.get(name) {
                Some(block) => out.push_str(&block.text),
                None => {
                    let suggestion = suggest(name, self.doc_blocks.keys().map(String::as_str));
                    self.push(Problem::UnknownDoc {
                        span,
                        name: name.to_string(),
                        suggestion,
                    });
                    out.push_str(&rest[at..at + 4 + len + 1]);
                }
            }
            rest = &tail[1..];
        }
        out.push_str(rest);
        Some(out)
    }
}
