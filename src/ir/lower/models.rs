//! Pass 3: models and snapshots, in dependency order: settings,
//! materialization, the query and its columns.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn lower_relation(&mut self, id: RelId) {
        match self.pending.get(&id) {
            Some(Pending::Model(i)) => {
                let (_, def, hint) = self.models[*i].clone();
                self.lower_model(id, def, hint);
            }
            Some(Pending::Snapshot(i)) => {
                let (_, def) = self.snapshots[*i];
                self.lower_snapshot(id, def);
            }
            None => {} // source tables are complete once declared
        }
    }

    pub(super) fn lower_model(&mut self, id: RelId, def: &'a ast::ModelDef, hint: Option<String>) {
        let settings = self.settings(&def.settings, "model", MODEL_SETTINGS);
        let layer = match settings.get("layer") {
            Some(v) => self.string(v, "layer").and_then(|name| {
                if self.config.layers.contains_key(&name) {
                    Some(name)
                } else {
                    let known: Vec<String> = self.config.layers.keys().cloned().collect();
                    self.push(Problem::UnknownLayer {
                        span: v.span,
                        suggestion: suggest(&name, known.iter().map(String::as_str)),
                        name,
                        known,
                    });
                    None
                }
            }),
            None => hint,
        };
        // The layer's defaults, then the project's.
        let project = &self.config.defaults;
        let of_layer = layer.as_ref().and_then(|l| self.config.layers.get(l));
        let materialized_from = match (settings.contains_key("materialized"), of_layer) {
            (true, _) => Origin::Model,
            (false, Some(l)) if l.materialized.is_some() => Origin::Layer,
            (false, _) if project.materialized.is_some() => Origin::Project,
            (false, _) => Origin::BuiltIn,
        };
        let defaults = LayerConfig {
            materialized: of_layer
                .and_then(|l| l.materialized)
                .or(project.materialized),
            schema: of_layer
                .and_then(|l| l.schema.clone())
                .or_else(|| project.schema.clone()),
            tags: project
                .tags
                .iter()
                .chain(of_layer.into_iter().flat_map(|l| &l.tags))
                .cloned()
                .collect(),
        };

        let union = def.clauses.iter().find_map(|c| match c {
            Clause::Union {
                distinct,
                relations,
                span,
            } => Some(self.lower_union(id, def, *distinct, relations, *span)),
            _ => None,
        });
        let (query, silent) = match &union {
            Some(_) => (Query::default(), false),
            None => self.lower_query(def),
        };
        let scope = Scope {
            scans: &query.scans,
            silent,
            params: None,
        };

        let mut output_count = 0;
        for block in def.blocks.iter().filter(|_| union.is_none()) {
            let ast::Block::Output { kind, columns, .. } = block else {
                continue;
            };
            let role = match kind {
                ast::BlockKind::Columns => Role::Column,
                ast::BlockKind::Dimensions => Role::Dimension,
                ast::BlockKind::Measures => Role::Measure,
            };
            for column in columns {
                output_count += 1;
                let column = match column {
                    ast::Output::Column(column) => column,
                    ast::Output::Star(star) => {
                        self.star_columns(id, &scope, star, role);
                        continue;
                    }
                };
                let expr = self.expr(&scope, OUTPUT_CX, &column.expr);
                let ty = expr.ty;
                self.add_column(Column {
                    relation: id,
                    name: column.name.name.clone(),
                    span: column.name.span,
                    ty,
                    role,
                    expr: Some(expr),
                    doc: column.doc.clone(),
                });
            }
        }
        if output_count == 0 && union.is_none() {
            self.push(Problem::NoColumns {
                span: def.name.span,
            });
            self.ir.relations[id.index()].complete = false;
        }
        if silent {
            self.ir.relations[id.index()].complete = false;
        }
        // An output that did not resolve or type (R002, R005, T…) was
        // reported where it is; the checks over the model would only
        // report what follows from it (a grain not proven, G001).
        let broken_output = self.ir.relations[id.index()].columns.values().any(|c| {
            let mut broken = false;
            if let Some(expr) = &self.ir.column(*c).expr {
                expr.walk(&mut |e| broken |= matches!(e.kind, ExprKind::Error));
            }
            broken
        });
        if broken_output {
            self.ir.relations[id.index()].complete = false;
        }

        let grain = settings.get("grain").map(|v| {
            self.names(v, "grain")
                .into_iter()
                .filter_map(|(name, span)| self.output_column(id, &name, span).map(|c| (c, span)))
                .collect()
        });
        let cluster_by = settings
            .get("cluster_by")
            .map(|v| self.column_list(id, v, "cluster_by"))
            .unwrap_or_default();
        let cluster_by_span = settings.get("cluster_by").map(|v| v.span);
        let partition_by = settings
            .get("partition_by")
            .and_then(|v| self.partition(id, v));
        let non_additive = settings
            .get("non_additive")
            .map(|v| self.column_list(id, v, "non_additive"))
            .unwrap_or_default();
        let mut semi_additive = Vec::new();
        if let Some(v) = settings.get("semi_additive") {
            match &v.kind {
                ValueKind::Table(entries) => {
                    for (measure, dimension) in entries {
                        let measure = self.output_column(id, &measure.name, measure.span);
                        let dimension = self
                            .name(dimension, "semi_additive")
                            .and_then(|(name, span)| self.output_column(id, &name, span));
                        if let (Some(m), Some(d)) = (measure, dimension) {
                            semi_additive.push((m, d));
                        }
                    }
                }
                _ => self.invalid(
                    v,
                    "semi_additive",
                    "an inline table of measure = dimension, like `{ balance = snapshot_date }`",
                ),
            }
        }
        let schema = match settings.get("schema") {
            Some(v) => self.string(v, "schema"),
            None => defaults.schema.clone(),
        };
        let mut tags = defaults.tags.clone();
        if let Some(v) = settings.get("tags") {
            match &v.kind {
                ValueKind::Array(items) => {
                    for item in items {
                        if let Some(tag) = self.string(item, "tags") {
                            tags.push(tag);
                        }
                    }
                }
                _ => self.invalid(v, "tags", "an array of strings"),
            }
        }
        let materialized = match settings.get("materialized") {
            Some(v) => self.materialized(id, v),
            None => {
                match defaults.materialized {
                    Some(crate::config::MaterializedKind::Table) => Materialized::Table,
                    Some(crate::config::MaterializedKind::Ephemeral) => Materialized::Ephemeral,
                    Some(crate::config::MaterializedKind::Incremental) => {
                        // A layer default cannot name the key; the model must.
                        self.push(Problem::InvalidSetting {
                        span: def.name.span,
                        key: "materialized".into(),
                        expected: "`materialized = { incremental = { unique_key = ... } }` on the model".into(),
                        found: "an incremental layer default".into(),
                    });
                        Materialized::Table
                    }
                    _ => Materialized::View,
                }
            }
        };
        if let RelationKind::Model(model) = &mut self.ir.relations[id.index()].kind {
            model.layer = layer;
            model.materialized = materialized;
            model.materialized_from = materialized_from;
            model.schema = schema;
            model.tags = tags;
            model.grain = grain;
            model.cluster_by = cluster_by;
            model.cluster_by_span = cluster_by_span;
            model.partition_by = partition_by;
            model.non_additive = non_additive;
            model.semi_additive = semi_additive;
            model.query = query;
            model.union = union;
        }
    }

    /// `range(start, end)` / `date_spine(part, start, end)`: a relation of
    /// one column, made for the scan that reads it. Its bounds are
    /// constants (they see no relation); `None` when they are wrong.
    fn series(&mut self, series: &ast::Series) -> Option<RelId> {
        let scope = Scope {
            scans: &[],
            silent: false,
            params: None,
        };
        let (function, parts) = match series.kind {
            ast::SeriesKind::Range => ("range", 2),
            ast::SeriesKind::DateSpine => ("date_spine", 3),
        };
        if series.args.len() != parts {
            self.push(Problem::ArgumentCount {
                span: series.span,
                function: function.into(),
                expected: parts.to_string(),
                found: series.args.len(),
                defined: None,
            });
            return None;
        }
        let args: Vec<Expr> = series
            .args
            .iter()
            .map(|a| self.expr(&scope, ROW_CX("in a series' bounds"), a))
            .collect();
        if args.iter().any(|a| a.ty == Type::Unknown) {
            return None; // reported where it is
        }
        let wrong = |this: &mut Self, arg: &Expr, position: usize, expected: String| {
            this.push(Problem::ArgumentType {
                span: arg.span,
                function: function.into(),
                position,
                expected,
                found: arg.ty.to_string(),
                cast_to: None,
                defined: None,
            });
        };
        const SPINE_PARTS: &[&str] = &["day", "week", "month", "quarter", "year", "hour"];
        let (kind, column, ty, start, end) = match series.kind {
            ast::SeriesKind::Range => {
                let mut args = args.into_iter();
                let (start, end) = (args.next()?, args.next()?);
                let mut ok = true;
                for (i, bound) in [&start, &end].into_iter().enumerate() {
                    if !bound.ty.is_integer() && bound.ty != Type::Null {
                        wrong(self, bound, i + 1, "an integer".into());
                        ok = false;
                    }
                }
                if !ok {
                    return None;
                }
                (
                    SeriesKind::Range,
                    "value".to_string(),
                    Type::BigInt,
                    start,
                    end,
                )
            }
            ast::SeriesKind::DateSpine => {
                let mut args = args.into_iter();
                let (part, start, end) = (args.next()?, args.next()?, args.next()?);
                let part = match &part.kind {
                    ExprKind::Literal(Literal::Text(text)) => SPINE_PARTS
                        .iter()
                        .find(|p| p.eq_ignore_ascii_case(text))
                        .copied(),
                    _ => None,
                };
                let Some(part) = part else {
                    let found = self.db.snippet(series.args[0].span).to_string();
                    self.push(Problem::ArgumentType {
                        span: series.args[0].span,
                        function: function.into(),
                        position: 1,
                        expected: format!(
                            "one of {}",
                            SPINE_PARTS
                                .iter()
                                .map(|p| format!("'{p}'"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        found,
                        cast_to: None,
                        defined: None,
                    });
                    return None;
                };
                let ty = if part == "hour" {
                    Type::Timestamp
                } else {
                    Type::Date
                };
                let mut ok = true;
                for (i, bound) in [&start, &end].into_iter().enumerate() {
                    if !bound.ty.is_temporal() {
                        wrong(self, bound, i + 2, format!("a {ty}"));
                        ok = false;
                    }
                }
                if !ok {
                    return None;
                }
                (
                    SeriesKind::DateSpine(part),
                    format!("date_{part}"),
                    ty,
                    start,
                    end,
                )
            }
        };
        // Named by its resolved bounds (`var(…)` substituted), so that the
        // meaning of what reads it changes with them.
        let none = Query::default();
        let (from, to) = (
            super::super::print::show(&self.ir, &none, &start),
            super::super::print::show(&self.ir, &none, &end),
        );
        let name = match kind {
            SeriesKind::Range => format!("range({from}, {to})"),
            SeriesKind::DateSpine(part) => format!("date_spine('{part}', {from}, {to})"),
        };
        let id = RelId(self.ir.relations.len() as u32);
        self.ir.relations.push(Relation {
            id,
            name,
            name_span: series.span,
            span: series.span,
            doc: None,
            kind: RelationKind::Series(Series { kind, start, end }),
            columns: IndexMap::new(),
            deps: Vec::new(),
            complete: true,
        });
        self.add_column(Column {
            relation: id,
            name: column,
            span: series.span,
            ty,
            role: Role::Dimension,
            expr: None,
            doc: None,
        });
        Some(id)
    }

    /// `union all (a, b)`: the model's columns are the first branch's, each
    /// with the type that every branch's column of that name unifies to.
    fn lower_union(
        &mut self,
        id: RelId,
        def: &'a ast::ModelDef,
        distinct: bool,
        relations: &[ast::RelationRef],
        span: Span,
    ) -> Union {
        for clause in def.clauses.iter().filter(|c| c.span() != span) {
            self.push(Problem::MisplacedClause {
                span: clause.span(),
                clause: clause.keyword(),
                reason: "a union model has no other clause: write it in a model, and union that",
                other: Some(span),
            });
        }
        for block in &def.blocks {
            if let ast::Block::Output {
                kind, span: block, ..
            } = block
            {
                self.push(Problem::MisplacedClause {
                    span: *block,
                    clause: kind.keyword(),
                    reason: "a union model's columns are its branches' columns",
                    other: Some(span),
                });
            }
        }
        let mut branches = Vec::new();
        let mut complete = true;
        for relation in relations {
            match self.ir.by_name.get(&relation.dotted()).copied() {
                Some(target) => {
                    complete &= self.ir.relation(target).complete;
                    branches.push(Scan {
                        relation: target,
                        alias: relation.dotted(),
                        span: relation.span,
                    });
                }
                None => complete = false, // reported when bound (R001)
            }
        }
        if let Some((first, rest)) = branches.split_first() {
            let names = |ir: &Ir, scan: &Scan| -> Vec<String> {
                ir.relation(scan.relation).columns.keys().cloned().collect()
            };
            let first_names = names(&self.ir, first);
            for branch in rest {
                let theirs = names(&self.ir, branch);
                let missing: Vec<String> = first_names
                    .iter()
                    .filter(|n| !theirs.contains(n))
                    .cloned()
                    .collect();
                let extra: Vec<String> = theirs
                    .iter()
                    .filter(|n| !first_names.contains(n))
                    .cloned()
                    .collect();
                if !missing.is_empty() || !extra.is_empty() {
                    complete = false;
                    self.push(Problem::UnionColumns {
                        span: branch.span,
                        relation: branch.alias.clone(),
                        first: (first.span, first.alias.clone()),
                        missing,
                        extra,
                    });
                }
            }
            for name in first_names {
                let column = self.ir.relation(first.relation).columns[&name];
                let (mut ty, role) = (self.ir.column(column).ty, self.ir.column(column).role);
                let mut doc = self.ir.column(column).doc.clone();
                for branch in rest {
                    let Some(&other) = self.ir.relation(branch.relation).columns.get(&name) else {
                        continue;
                    };
                    let theirs = self.ir.column(other);
                    doc = doc.or_else(|| theirs.doc.clone());
                    match ty.unify(theirs.ty) {
                        Some(unified) => ty = unified,
                        None => {
                            complete = false;
                            self.push(Problem::UnionType {
                                span: branch.span,
                                column: name.clone(),
                                relation: branch.alias.clone(),
                                found: theirs.ty.to_string(),
                                first: (first.span, first.alias.clone(), ty.to_string()),
                            });
                        }
                    }
                }
                self.add_column(Column {
                    relation: id,
                    name,
                    span: first.span,
                    ty,
                    role,
                    expr: None,
                    doc,
                });
            }
        }
        if !complete {
            self.ir.relations[id.index()].complete = false;
        }
        Union {
            distinct,
            branches,
            span,
        }
    }

    /// `partition_by = column` (by day) or
    /// `partition_by = { field = column, granularity = "month" }`.
    pub(super) fn partition(&mut self, id: RelId, value: &'a ast::Value) -> Option<Partition> {
        const GRANULARITIES: &[&str] = &["HOUR", "DAY", "MONTH", "YEAR"];
        let (field, granularity) = match &value.kind {
            ValueKind::Table(_) => {
                let table = self.table(value, "partition_by", &["field", "granularity"])?;
                let Some(field) = table.get("field") else {
                    self.invalid(
                        value,
                        "partition_by",
                        "`{ field = column, granularity = \"day\" }`",
                    );
                    return None;
                };
                let granularity = match table.get("granularity") {
                    Some(g) => {
                        let text = self.string(g, "granularity")?;
                        match GRANULARITIES.iter().find(|k| k.eq_ignore_ascii_case(&text)) {
                            Some(k) => *k,
                            None => {
                                self.invalid_text(
                                    g,
                                    "granularity",
                                    "\"hour\", \"day\", \"month\" or \"year\"",
                                    &text,
                                );
                                return None;
                            }
                        }
                    }
                    None => "DAY",
                };
                (*field, granularity)
            }
            _ => (value, "DAY"),
        };
        let (name, span) = self.name(field, "partition_by")?;
        let column = self.output_column(id, &name, span)?;
        if !self.ir.column(column).ty.is_temporal() {
            let found = self.ir.column(column).ty.to_string();
            self.push(Problem::InvalidSetting {
                span,
                key: "partition_by".into(),
                expected: "a date or timestamp column".into(),
                found: format!("`{name}`, {found}"),
            });
            return None;
        }
        Some(Partition {
            column,
            granularity,
            span: value.span,
        })
    }

    pub(super) fn materialized(&mut self, id: RelId, value: &'a ast::Value) -> Materialized {
        const EXPECTED: &str = "\"view\", \"table\", \"ephemeral\" or `{ incremental = { ... } }`";
        match &value.kind {
            ValueKind::String(s) => match s.as_str() {
                "view" => Materialized::View,
                "table" => Materialized::Table,
                "ephemeral" => Materialized::Ephemeral,
                "incremental" => {
                    self.invalid_text(value, "materialized", "`{ incremental = { unique_key = \"...\" } }` (an incremental model must name its key)", s);
                    Materialized::Table
                }
                other => {
                    self.invalid_text(value, "materialized", EXPECTED, other);
                    Materialized::View
                }
            },
            ValueKind::Table(_) => {
                let Some(outer) = self.table(value, "materialized", &["incremental"]) else {
                    return Materialized::View;
                };
                let Some(inner) = outer.get("incremental") else {
                    self.invalid(value, "materialized", EXPECTED);
                    return Materialized::View;
                };
                let Some(config) = self.table(inner, "incremental", INCREMENTAL_KEYS) else {
                    return Materialized::View;
                };
                let strategy = match config.get("strategy") {
                    Some(v) => match self.string(v, "strategy").as_deref() {
                        Some("merge") | None => IncrementalStrategy::Merge,
                        Some("append") => IncrementalStrategy::Append,
                        Some(other) => {
                            self.invalid_text(v, "strategy", "\"merge\" or \"append\"", other);
                            IncrementalStrategy::Merge
                        }
                    },
                    None if config.contains_key("unique_key") => IncrementalStrategy::Merge,
                    None => IncrementalStrategy::Append,
                };
                let unique_key: Vec<String> = config
                    .get("unique_key")
                    .map(|v| self.names(v, "unique_key"))
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(name, span)| self.output_column(id, &name, span).map(|_| name))
                    .collect();
                if strategy == IncrementalStrategy::Merge
                    && unique_key.is_empty()
                    && !config.contains_key("unique_key")
                {
                    self.invalid(
                        inner,
                        "incremental",
                        "a `unique_key` for the merge strategy",
                    );
                }
                let since = config
                    .get("since")
                    .and_then(|v| self.name(v, "since"))
                    .and_then(|(name, span)| self.output_column(id, &name, span).map(|_| name));
                if strategy == IncrementalStrategy::Append
                    && since.is_none()
                    && !config.contains_key("since")
                {
                    self.invalid(
                        inner,
                        "incremental",
                        "a `since` column for the append strategy",
                    );
                }
                let lookback = config
                    .get("lookback")
                    .and_then(|v| self.duration(v, "lookback"));
                let on_schema_change = match config.get("on_schema_change") {
                    Some(v) => match self.string(v, "on_schema_change").as_deref() {
                        Some("fail") | None => OnSchemaChange::Fail,
                        Some("append_new_columns") => OnSchemaChange::AppendNewColumns,
                        Some("sync_all_columns") => OnSchemaChange::SyncAllColumns,
                        Some(other) => {
                            self.invalid_text(
                                v,
                                "on_schema_change",
                                "\"fail\", \"append_new_columns\" or \"sync_all_columns\"",
                                other,
                            );
                            OnSchemaChange::Fail
                        }
                    },
                    None => OnSchemaChange::Fail,
                };
                Materialized::Incremental(Incremental {
                    strategy,
                    unique_key,
                    since,
                    lookback,
                    on_schema_change,
                    span: value.span,
                })
            }
            _ => {
                self.invalid(value, "materialized", EXPECTED);
                Materialized::View
            }
        }
    }

    /// Binds the query clauses. Returns the query and whether it is too broken
    /// for unresolved names to be worth reporting.
    pub(super) fn lower_query(&mut self, def: &'a ast::ModelDef) -> (Query, bool) {
        let mut query = Query::default();
        let mut silent = false;
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut aliases: HashMap<String, Span> = HashMap::new();
        for (i, clause) in def.clauses.iter().enumerate() {
            let keyword = clause.keyword();
            let span = clause.span();
            // Order: from, joins, where, group by | dedupe, having.
            let rank = |c: &Clause| match c {
                Clause::From { .. } => 0,
                Clause::Join { .. } => 1,
                Clause::Where { .. } => 2,
                Clause::GroupBy { .. } | Clause::Dedupe { .. } => 3,
                Clause::Having { .. } => 4,
                Clause::Union { .. } => 5, // not here: see lower_union
            };
            if let Some(later) = def.clauses[..i].iter().find(|c| rank(c) > rank(clause)) {
                self.push(Problem::MisplacedClause {
                    span,
                    clause: keyword,
                    reason: "clauses go in the order from, join, where, group by or dedupe, having",
                    other: Some(later.span()),
                });
            }
            if keyword != "join" {
                if let Some(first) = seen.get(keyword) {
                    self.push(Problem::MisplacedClause {
                        span,
                        clause: keyword,
                        reason: "a model has at most one of this clause",
                        other: Some(*first),
                    });
                    continue;
                }
                seen.insert(keyword, span);
            }
            match clause {
                Clause::From {
                    relation,
                    series,
                    alias,
                    ..
                }
                | Clause::Join {
                    relation,
                    series,
                    alias,
                    ..
                } => {
                    if keyword == "join" && query.scans.is_empty() {
                        continue; // reported as a missing `from` below
                    }
                    let alias = alias
                        .clone()
                        .unwrap_or_else(|| relation.parts.last().expect("relation name").clone());
                    if let Some(first) = aliases.get(&alias.name) {
                        self.push(Problem::Duplicate {
                            kind: NameKind::Alias,
                            name: alias.name.clone(),
                            first: *first,
                            second: alias.span,
                        });
                    }
                    aliases.insert(alias.name.clone(), alias.span);
                    let target = match series {
                        Some(series) => self.series(series),
                        None => self.ir.by_name.get(&relation.dotted()).copied(),
                    };
                    let Some(target) = target else {
                        silent = true;
                        continue;
                    };
                    if !self.ir.relation(target).complete {
                        silent = true;
                    }
                    query.scans.push(Scan {
                        relation: target,
                        alias: alias.name.clone(),
                        span: relation.span.to(alias.span),
                    });
                    if let Clause::Join {
                        kind,
                        claim,
                        on,
                        span,
                        ..
                    } = clause
                    {
                        let on = {
                            let scope = Scope {
                                scans: &query.scans,
                                silent,
                                params: None,
                            };
                            self.condition(
                                &scope,
                                ROW_CX("in a join condition"),
                                on,
                                "a join condition",
                            )
                        };
                        query.joins.push(Join {
                            kind: *kind,
                            claim: *claim,
                            scan: query.scans.len() - 1,
                            on,
                            span: *span,
                        });
                    }
                }
                Clause::Where { condition, .. } => {
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                        params: None,
                    };
                    query.filter = Some(self.condition(
                        &scope,
                        ROW_CX("in `where`"),
                        condition,
                        "a `where` condition",
                    ));
                }
                Clause::GroupBy { keys, .. } => {
                    if let Some(dedupe) = seen.get("dedupe") {
                        self.push(Problem::MisplacedClause {
                            span,
                            clause: "group by",
                            reason: "`group by` and `dedupe` both set the grain: use one",
                            other: Some(*dedupe),
                        });
                    }
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                        params: None,
                    };
                    query.group_by = keys
                        .iter()
                        .map(|k| self.expr(&scope, ROW_CX("in `group by`"), k))
                        .collect();
                }
                Clause::Dedupe {
                    keys,
                    keep,
                    order_by,
                    ..
                } => {
                    if let Some(group) = seen.get("group by") {
                        self.push(Problem::MisplacedClause {
                            span,
                            clause: "dedupe",
                            reason: "`group by` and `dedupe` both set the grain: use one",
                            other: Some(*group),
                        });
                    }
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                        params: None,
                    };
                    let keys = keys
                        .iter()
                        .map(|k| self.expr(&scope, ROW_CX("in `dedupe`"), k))
                        .collect();
                    let order_by = self.expr(&scope, ROW_CX("in `dedupe`"), order_by);
                    query.dedupe = Some(Dedupe {
                        keys,
                        keep: *keep,
                        order_by,
                        span,
                    });
                }
                Clause::Union { .. } => {} // a union model is lowered by lower_union
                Clause::Having { condition, .. } => {
                    if !seen.contains_key("group by") {
                        self.push(Problem::MisplacedClause {
                            span,
                            clause: "having",
                            reason: "`having` filters groups: it needs a `group by`",
                            other: None,
                        });
                    }
                    let scope = Scope {
                        scans: &query.scans,
                        silent,
                        params: None,
                    };
                    let cx = Cx {
                        no_aggregate: None,
                        window: false,
                    };
                    query.having =
                        Some(self.condition(&scope, cx, condition, "a `having` condition"));
                }
            }
        }
        if !seen.contains_key("from") {
            self.push(Problem::MissingFrom {
                span: def.name.span,
                item: "model",
            });
            silent = true;
        }
        (query, silent)
    }

    pub(super) fn lower_snapshot(&mut self, id: RelId, def: &'a ast::SnapshotDef) {
        let settings = self.settings(&def.settings, "snapshot", SNAPSHOT_SETTINGS);
        let Some(from_ref) = &def.from else {
            self.push(Problem::MissingFrom {
                span: def.name.span,
                item: "snapshot",
            });
            self.ir.relations[id.index()].complete = false;
            return;
        };
        let Some(from) = self.ir.by_name.get(&from_ref.dotted()).copied() else {
            self.ir.relations[id.index()].complete = false;
            return;
        };
        let upstream: Vec<(String, Type, Option<String>)> = {
            let rel = self.ir.relation(from);
            rel.columns
                .values()
                .map(|c| {
                    let c = self.ir.column(*c);
                    (c.name.clone(), c.ty, c.doc.clone())
                })
                .collect()
        };
        if !self.ir.relation(from).complete {
            self.ir.relations[id.index()].complete = false;
        }
        for (name, ty, doc) in upstream {
            self.add_column(Column {
                relation: id,
                name,
                span: def.name.span,
                ty,
                role: Role::Source,
                expr: None,
                doc,
            });
        }
        let hard_deletes = match settings.get("hard_deletes") {
            Some(v) => match self.string(v, "hard_deletes").as_deref() {
                Some("ignore") | None => HardDeletes::Ignore,
                Some("invalidate") => HardDeletes::Invalidate,
                Some("new_record") => HardDeletes::NewRecord,
                Some(other) => {
                    self.invalid_text(
                        v,
                        "hard_deletes",
                        "\"ignore\", \"invalidate\" or \"new_record\"",
                        other,
                    );
                    HardDeletes::Ignore
                }
            },
            None => HardDeletes::Ignore,
        };
        // With `new_record`, a deletion is a row of its own, flagged.
        let deletion_flag =
            (hard_deletes == HardDeletes::NewRecord).then_some(("dbt_is_deleted", Type::Boolean));
        for (name, ty) in [
            ("dbt_scd_id", Type::Text),
            ("dbt_updated_at", Type::Timestamp),
            ("dbt_valid_from", Type::Timestamp),
            ("dbt_valid_to", Type::Timestamp),
        ]
        .into_iter()
        .chain(deletion_flag)
        {
            self.add_column(Column {
                relation: id,
                name: name.to_string(),
                span: def.name.span,
                ty,
                role: Role::Meta,
                expr: None,
                doc: None,
            });
        }
        let key_span = settings.get("unique_key").map_or(def.name.span, |v| v.span);
        let unique_key = match settings.get("unique_key") {
            Some(v) => self.column_list(id, v, "unique_key"),
            None => {
                self.push(Problem::InvalidSetting {
                    span: def.name.span,
                    key: "unique_key".into(),
                    expected: "a `unique_key` naming the columns that identify a row".into(),
                    found: "none".into(),
                });
                Vec::new()
            }
        };
        let strategy = match settings.get("strategy") {
            Some(v) => self.snapshot_strategy(id, v),
            None => {
                self.push(Problem::InvalidSetting {
                    span: def.name.span,
                    key: "strategy".into(),
                    expected: "`strategy = { check = [...] }`, `{ check = \"all\" }` or `{ timestamp = column }`".into(),
                    found: "none".into(),
                });
                SnapshotStrategy::CheckAll
            }
        };
        let schema = settings
            .get("schema")
            .and_then(|v| self.string(v, "schema"));
        if let RelationKind::Snapshot(snapshot) = &mut self.ir.relations[id.index()].kind {
            *snapshot = Snapshot {
                from,
                key_span,
                schema,
                unique_key,
                strategy,
                hard_deletes,
            };
        }
    }

    pub(super) fn snapshot_strategy(
        &mut self,
        id: RelId,
        value: &'a ast::Value,
    ) -> SnapshotStrategy {
        let Some(table) = self.table(value, "strategy", &["check", "timestamp"]) else {
            return SnapshotStrategy::CheckAll;
        };
        match (table.get("check"), table.get("timestamp")) {
            (Some(check), None) => match &check.kind {
                ValueKind::String(s) if s == "all" => SnapshotStrategy::CheckAll,
                _ => SnapshotStrategy::Check(self.column_list(id, check, "check")),
            },
            (None, Some(ts)) => match self.name(ts, "timestamp") {
                Some((name, span)) => match self.output_column(id, &name, span) {
                    Some(column) if !self.ir.column(column).ty.is_temporal() => {
                        let found = self.ir.column(column).ty.to_string();
                        self.push(Problem::InvalidSetting {
                            span,
                            key: "timestamp".into(),
                            expected: "a date or timestamp column".into(),
                            found: format!("`{name}`, {found}"),
                        });
                        // No strategy to check the rest against.
                        self.ir.relations[id.index()].complete = false;
                        SnapshotStrategy::CheckAll
                    }
                    Some(column) => SnapshotStrategy::Timestamp(column),
                    None => SnapshotStrategy::CheckAll,
                },
                None => SnapshotStrategy::CheckAll,
            },
            _ => {
                self.invalid(value, "strategy", "exactly one of `check` or `timestamp`");
                SnapshotStrategy::CheckAll
            }
        }
    }

    /// `alias.* except (…) rename (a as b)`: an output for each column of
    /// the relation `alias` reads, in its order, typed and documented as
    /// there.
    fn star_columns(&mut self, id: RelId, scope: &Scope, star: &ast::StarColumns, role: Role) {
        let Some(scan) = self.scan_of(scope, &star.alias) else {
            self.ir.relations[id.index()].complete = false;
            return;
        };
        let read = scope.scans[scan].relation;
        // Every name in `except` and `rename` is a column of it.
        let named = star
            .except
            .iter()
            .chain(star.rename.iter().map(|(from, _)| from));
        let mut unknown = false;
        for name in named {
            if self.output_column(read, &name.name, name.span).is_none() {
                unknown = true;
            }
        }
        if unknown {
            self.ir.relations[id.index()].complete = false;
        }
        let columns: Vec<(String, ColumnId)> = self
            .ir
            .relation(read)
            .columns
            .iter()
            .map(|(name, c)| (name.clone(), *c))
            .collect();
        for (name, column) in columns {
            if star.except.iter().any(|e| e.name == name) {
                continue;
            }
            let renamed = star
                .rename
                .iter()
                .find(|(from, _)| from.name == name)
                .map(|(_, to)| to);
            let parent = self.ir.column(column);
            let (ty, doc) = (parent.ty, parent.doc.clone());
            self.add_column(Column {
                relation: id,
                name: renamed.map_or(name, |to| to.name.clone()),
                span: renamed.map_or(star.span, |to| to.span),
                ty,
                role,
                expr: Some(Expr {
                    kind: ExprKind::Column { scan, column },
                    ty,
                    span: star.span,
                }),
                doc,
            });
        }
    }
}
