//! Emit: IR + [`Dialect`] → SQL text. Pure: it builds strings, runs nothing.
//!
//! A model becomes one `SELECT` (its ephemeral parents inlined as CTEs), then
//! the statements that materialize it: a view is replaced in place; a table is
//! built beside the old one and swapped in inside a transaction, so a failed
//! build leaves the previous table readable. Data tests become queries that
//! return the failing rows.

mod data_tests;
pub mod dialect;
mod expr;
pub mod files;
mod incremental;
mod snapshot;
mod unit_tests;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

use sha2::Digest;

pub use data_tests::TestSql;
pub use dialect::{Dialect, Layout, SqlDialect, TableReplace};
pub use snapshot::SnapshotSql;
pub use unit_tests::{UnitTestSql, Values};

use crate::config::MaterializedKind;
use crate::ir::library::{FuncKind, Param};
use crate::ir::types::Type;
use crate::ir::{
    ColumnId, Expr, ExprKind, Ir, Literal, Materialized, Query, RelId, RelationKind, TestKind,
    TestSeverity,
};
use crate::syntax::ast::{BinOp, JoinKind, Keep, UnaryOp};

/// Schema of models that neither they nor their layer place anywhere.
pub const DEFAULT_SCHEMA: &str = "main";

/// Where a relation lives in the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhysicalName {
    pub schema: String,
    pub name: String,
}

impl PhysicalName {
    pub fn sql(&self, d: &dyn SqlDialect) -> String {
        format!(
            "{}.{}",
            d.quote_identifier(&self.schema),
            d.quote_identifier(&self.name)
        )
    }

    /// `schema.name` unquoted, for progress lines.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn with_suffix(&self, suffix: &str) -> PhysicalName {
        PhysicalName {
            schema: self.schema.clone(),
            name: format!("{}{suffix}", self.name),
        }
    }
}

/// Whether `table` is a scratch table of `name`, in the same schema: the
/// emitted files' `NAME__shopc_new`, or a run's `NAME__shopc_new_1a2b3c`.
pub fn is_scratch_of(table: &str, name: &str) -> bool {
    let Some(rest) = table
        .strip_prefix(name)
        .and_then(|t| t.strip_prefix(crate::ir::SCRATCH_SUFFIX))
    else {
        return false;
    };
    rest.is_empty()
        || rest.strip_prefix('_').is_some_and(|run| {
            run.len() == crate::ir::RUN_ID_DIGITS && run.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// The physical name of a relation; `None` for ephemeral models, which exist
/// only inlined in their readers.
pub fn physical_name(ir: &Ir, id: RelId) -> Option<PhysicalName> {
    let rel = ir.relation(id);
    let placed = |schema: &Option<String>, default: &str| {
        ir.environment.schema(schema.as_deref().unwrap_or(default))
    };
    match &rel.kind {
        RelationKind::Table(t) => Some(PhysicalName {
            schema: if ir.seeded.contains(&id) {
                ir.environment.schema(&t.schema)
            } else {
                t.schema.clone()
            },
            name: t.identifier.clone(),
        }),
        RelationKind::Model(m) if m.materialized == Materialized::Ephemeral => None,
        RelationKind::Model(m) => Some(PhysicalName {
            schema: placed(&m.schema, DEFAULT_SCHEMA),
            name: rel.name.clone(),
        }),
        RelationKind::Snapshot(s) => Some(PhysicalName {
            schema: placed(&s.schema, "snapshots"),
            name: rel.name.clone(),
        }),
        // Made where it is read (`Emitter::relation_ref`).
        RelationKind::Series(_) => None,
    }
}

/// The schemas the project writes in its environment (those of its
/// models, snapshots and seeded tables), sorted, each once.
pub fn written_schemas(ir: &Ir) -> Vec<String> {
    let mut schemas: Vec<String> = ir
        .relations
        .iter()
        .filter(|rel| !matches!(rel.kind, RelationKind::Table(_)) || ir.seeded.contains(&rel.id))
        .filter_map(|rel| physical_name(ir, rel.id))
        .map(|name| name.schema)
        .collect();
    schemas.sort();
    schemas.dedup();
    schemas
}

/// Emits SQL for one project in one dialect.
pub struct Emitter<'a> {
    ir: &'a Ir,
    dialect: Dialect,
    d: &'static dyn SqlDialect,
    /// Derived grains and join cardinalities, for the tests they imply.
    grains: Cow<'a, crate::check::grain::Grains>,
    /// Which columns are never NULL, for the tests the checker makes
    /// unnecessary: the checker's, or derived on first use.
    nullability: Option<&'a crate::check::nullability::Nullability>,
    derived_nullability: std::sync::OnceLock<crate::check::nullability::Nullability>,
    /// Every relation's tests and reconciliations as their kind names
    /// them, by relation index, and the names more than one of them has
    /// (`not_null_a_b_c` for `a_b.c` and `a.b_c`): made on first use, in
    /// parallel, and once (a test's name is its own only when no other
    /// test of the project has it).
    named_tests: std::sync::OnceLock<data_tests::NamedTests>,
    /// The suffix of the tables built beside the ones they replace.
    scratch: String,
    /// Relations read from elsewhere than their own physical name: the
    /// parents `--defer` reads from another run's schemas.
    reads: std::collections::HashMap<RelId, PhysicalName>,
    /// Each ephemeral model's body as a CTE, made on first use: an
    /// ephemeral read by many models is written once, not once a reader.
    ctes: Vec<std::sync::OnceLock<String>>,
}

impl<'a> Emitter<'a> {
    pub fn new(ir: &'a Ir, dialect: Dialect) -> Emitter<'a> {
        Emitter::with(
            ir,
            dialect,
            Cow::Owned(crate::check::grain::derive(ir)),
            None,
        )
    }

    fn with(
        ir: &'a Ir,
        dialect: Dialect,
        grains: Cow<'a, crate::check::grain::Grains>,
        nullability: Option<&'a crate::check::nullability::Nullability>,
    ) -> Self {
        Emitter {
            ir,
            dialect,
            d: dialect.sql(),
            grains,
            nullability,
            derived_nullability: std::sync::OnceLock::new(),
            named_tests: std::sync::OnceLock::new(),
            scratch: crate::ir::SCRATCH_SUFFIX.to_string(),
            reads: std::collections::HashMap::new(),
            ctes: (0..ir.relations.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
        }
    }

    /// Forgets the CTE bodies and test queries made so far: what they
    /// read has changed.
    fn forget_ctes(&mut self) {
        for cte in &mut self.ctes {
            cte.take();
        }
        self.named_tests.take();
    }

    /// The emitter that reads these relations from these names instead of
    /// their own (`--defer`: parents not built, read from another run's
    /// schemas). What it builds keeps its own name.
    pub fn reading(mut self, reads: std::collections::HashMap<RelId, PhysicalName>) -> Self {
        self.reads = reads;
        self.forget_ctes();
        self
    }

    /// Where a query reads a relation from: its physical name, or the one
    /// it is deferred to; `None` for an ephemeral model.
    fn read_name(&self, id: RelId) -> Option<PhysicalName> {
        self.reads
            .get(&id)
            .cloned()
            .or_else(|| physical_name(self.ir, id))
    }

    /// An emitter using what the checker already derived.
    pub fn with_analysis(
        ir: &'a Ir,
        dialect: Dialect,
        analysis: &'a crate::check::Analysis,
    ) -> Emitter<'a> {
        Emitter::with(
            ir,
            dialect,
            Cow::Borrowed(&analysis.grains),
            Some(&analysis.nullability),
        )
    }

    fn nullability(&self) -> &crate::check::nullability::Nullability {
        match self.nullability {
            Some(known) => known,
            None => self
                .derived_nullability
                .get_or_init(|| crate::check::nullability::derive(self.ir)),
        }
    }

    /// The emitter of one run, whose tables are built beside as
    /// `NAME__shopc_new_RUN`: no other run writes to them, and a table left
    /// by an interrupted run is known by its name ([`is_scratch_of`]).
    /// `run` is [`crate::ir::RUN_ID_DIGITS`] hex digits.
    pub fn for_run(mut self, run: &str) -> Self {
        self.scratch = format!("{}_{run}", crate::ir::SCRATCH_SUFFIX);
        self.forget_ctes();
        self
    }

    fn q(&self, name: &str) -> String {
        self.d.quote_identifier(name)
    }

    /// The IR this emitter writes SQL for.
    pub fn ir(&self) -> &'a Ir {
        self.ir
    }

    /// How a query refers to a relation: its physical name, or for an
    /// ephemeral model the name of its CTE.
    fn relation_ref(&self, id: RelId) -> String {
        if let RelationKind::Series(series) = &self.ir.relation(id).kind {
            return format!("({})", self.series(id, series));
        }
        match self.read_name(id) {
            Some(name) => name.sql(self.d),
            None => self.q(&self.ir.relation(id).name),
        }
    }

    /// A relation as a test reads it: its physical name, or an ephemeral
    /// model's query in parentheses.
    fn relation_source(&self, id: RelId) -> String {
        match self.read_name(id) {
            Some(name) => name.sql(self.d),
            None => format!("(\n{}\n)", indent(&self.select(id))),
        }
    }

    /// A header comment for emitted files.
    pub fn header(&self, id: RelId) -> String {
        let rel = self.ir.relation(id);
        let mut header = format!(
            "-- shopc {} · {} {} · {}",
            env!("CARGO_PKG_VERSION"),
            rel.kind_word(),
            rel.name,
            self.dialect.name()
        );
        if let RelationKind::Model(m) = &rel.kind
            && let Some(grain) = &m.grain
        {
            let cols: Vec<&str> = grain
                .iter()
                .map(|(c, _)| self.ir.column(*c).name.as_str())
                .collect();
            let _ = write!(header, " · grain [{}]", cols.join(", "));
        }
        header
    }

    /// The complete `SELECT` of a model, ephemeral parents inlined as CTEs.
    pub fn select(&self, id: RelId) -> String {
        let mut ctes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for dep in &self.ir.relation(id).deps {
            self.collect_ephemerals(*dep, &mut seen, &mut ctes);
        }
        let body = self.model_body(id);
        if ctes.is_empty() {
            body
        } else {
            let ctes: Vec<String> = ctes
                .iter()
                .map(|cte| {
                    format!(
                        "{} AS (\n{}\n)",
                        self.q(&self.ir.relation(*cte).name),
                        self.ctes[cte.index()].get_or_init(|| indent(&self.model_body(*cte)))
                    )
                })
                .collect();
            format!("WITH {}\n{body}", ctes.join(",\n"))
        }
    }

    /// Ephemeral models reachable through ephemeral models, parents first.
    /// Iterative (a post-order walk with its own stack): a chain of 10,000
    /// ephemeral models is 10,000 CTEs, not 10,000 stack frames.
    fn collect_ephemerals(
        &self,
        id: RelId,
        seen: &mut std::collections::HashSet<RelId>,
        out: &mut Vec<RelId>,
    ) {
        if self.read_name(id).is_some() || !seen.insert(id) {
            return;
        }
        // (relation, index of the next dependency to visit)
        let mut stack = vec![(id, 0usize)];
        while let Some((rel, next)) = stack.pop() {
            let deps = &self.ir.relation(rel).deps;
            if let Some(&dep) = deps.get(next) {
                stack.push((rel, next + 1));
                if self.read_name(dep).is_none() && seen.insert(dep) {
                    stack.push((dep, 0));
                }
            } else {
                out.push(rel);
            }
        }
    }

    /// What `MODEL.select.sql` holds for an ephemeral model: its own query,
    /// reading its ephemeral parents by their CTE names (each is in its own
    /// file), so that the files of a chain of N ephemeral models are N
    /// queries long, not N²/2. Without ephemeral parents it runs as it is.
    pub fn ephemeral_select(&self, id: RelId) -> String {
        self.model_body(id)
    }

    /// The ephemeral models whose CTEs `id`'s query reads directly.
    pub fn ephemeral_parents(&self, id: RelId) -> Vec<RelId> {
        self.ir
            .relation(id)
            .deps
            .iter()
            .copied()
            .filter(|d| physical_name(self.ir, *d).is_none())
            .collect()
    }

    /// The `SELECT` of one model, without CTEs.
    fn model_body(&self, id: RelId) -> String {
        let rel = self.ir.relation(id);
        let RelationKind::Model(model) = &rel.kind else {
            return format!("SELECT * FROM {}", self.relation_ref(id));
        };
        if let Some(union) = &model.union {
            return self.union_body(rel, union);
        }
        let q = &model.query;
        let outputs: Vec<String> = rel
            .columns
            .values()
            .map(|c| {
                let column = self.ir.column(*c);
                let expr = column
                    .expr
                    .as_ref()
                    .map_or("NULL".to_string(), |e| self.expr(q, e));
                format!(
                    "CAST({expr} AS {}) AS {}",
                    self.d.type_name(column.ty),
                    self.q(&column.name)
                )
            })
            .collect();
        let mut from = String::new();
        for (i, scan) in q.scans.iter().enumerate() {
            let relation = format!(
                "{} AS {}",
                self.relation_ref(scan.relation),
                self.q(&scan.alias)
            );
            match q.joins.iter().find(|j| j.scan == i) {
                None => {
                    let _ = write!(from, "FROM {relation}");
                }
                Some(join) => {
                    let kind = match join.kind {
                        JoinKind::Inner => "INNER JOIN",
                        JoinKind::Left => "LEFT JOIN",
                        JoinKind::Full => "FULL JOIN",
                    };
                    let _ = write!(from, "\n{kind} {relation} ON {}", self.expr(q, &join.on));
                }
            }
        }
        let mut tail = String::new();
        if let Some(filter) = &q.filter {
            let _ = write!(tail, "\nWHERE {}", self.expr(q, filter));
        }
        if !q.group_by.is_empty() {
            // The checker proved that every column read outside an aggregate
            // is a key or determined by the keys (G002). SQL engines only
            // know the keys, so the determined columns are grouped by too:
            // the groups stay the same.
            let mut keys: Vec<&Expr> = q.group_by.iter().collect();
            let mut reads = Vec::new();
            for column in rel.columns.values() {
                if let Some(expr) = &self.ir.column(*column).expr {
                    expr.ungrouped_columns(&q.group_by, &mut reads);
                }
            }
            if let Some(having) = &q.having {
                having.ungrouped_columns(&q.group_by, &mut reads);
            }
            for read in reads {
                if !keys.iter().any(|k| k.same(read)) {
                    keys.push(read);
                }
            }
            let keys: Vec<String> = keys.iter().map(|k| self.expr(q, k)).collect();
            let _ = write!(tail, "\nGROUP BY {}", keys.join(", "));
        }
        if let Some(having) = &q.having {
            let _ = write!(tail, "\nHAVING {}", self.expr(q, having));
        }
        match &q.dedupe {
            None => format!("SELECT\n{}\n{from}{tail}", indent(&outputs.join(",\n"))),
            Some(dedupe) => {
                // One row per key: number the rows of each key, keep the first.
                let keys: Vec<String> = dedupe.keys.iter().map(|k| self.expr(q, k)).collect();
                let direction = match dedupe.keep {
                    Keep::Latest => "DESC NULLS LAST",
                    Keep::Earliest => "ASC NULLS LAST",
                };
                let row = self.q("__shopc_row");
                let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
                format!(
                    "SELECT {}\nFROM (\n  SELECT\n{},\n    row_number() OVER (PARTITION BY {} ORDER BY {} {direction}) AS {row}\n  {}{}\n) AS {}\nWHERE {row} = 1",
                    names.join(", "),
                    indent(&indent(&outputs.join(",\n"))),
                    keys.join(", "),
                    self.expr(q, &dedupe.order_by),
                    from.replace('\n', "\n  "),
                    tail.replace('\n', "\n  "),
                    self.q("__shopc_dedupe"),
                )
            }
        }
    }

    /// The `SELECT` of a series, for the dialect.
    fn series(&self, id: RelId, series: &crate::ir::Series) -> String {
        let none = crate::ir::Query::default();
        let (start, end) = (
            self.expr(&none, &series.start),
            self.expr(&none, &series.end),
        );
        let column = self.ir.column(
            *self
                .ir
                .relation(id)
                .columns
                .values()
                .next()
                .expect("a series' column"),
        );
        let part = match series.kind {
            crate::ir::SeriesKind::Range => None,
            crate::ir::SeriesKind::DateSpine(part) => Some(part),
        };
        self.d.series(
            part,
            &start,
            &end,
            &self.q(&column.name),
            &self.d.type_name(column.ty),
        )
    }

    /// `SELECT … UNION ALL SELECT …`: each branch's columns in the union's
    /// order, cast to the union's types.
    fn union_body(&self, rel: &crate::ir::Relation, union: &crate::ir::Union) -> String {
        let branches: Vec<String> = union
            .branches
            .iter()
            .map(|branch| {
                let outputs: Vec<String> = rel
                    .columns
                    .values()
                    .map(|c| {
                        let column = self.ir.column(*c);
                        format!(
                            "CAST({} AS {}) AS {}",
                            self.q(&column.name),
                            self.d.type_name(column.ty),
                            self.q(&column.name)
                        )
                    })
                    .collect();
                format!(
                    "SELECT\n{}\nFROM {}",
                    indent(&outputs.join(",\n")),
                    self.relation_ref(branch.relation)
                )
            })
            .collect();
        let op = if union.distinct {
            "\nUNION\n"
        } else {
            "\nUNION ALL\n"
        };
        branches.join(op)
    }

    /// Statements that build a model, in order. `swap` statements must run in
    /// one transaction. Ephemeral models build nothing.
    pub fn build(&self, id: RelId) -> Build {
        let Some(name) = physical_name(self.ir, id) else {
            return Build::default();
        };
        let rel = self.ir.relation(id);
        let kind = match &rel.kind {
            RelationKind::Model(m) => m.materialized.kind(),
            _ => MaterializedKind::Table,
        };
        let select = self.select(id);
        match kind {
            MaterializedKind::View => Build {
                prepare: vec![self.create_schema(&name)],
                swap: vec![format!(
                    "CREATE OR REPLACE VIEW {} AS\n{select}",
                    name.sql(self.d)
                )],
                target: Some(name),
                relation_type: RelationType::View,
                load_into: None,
                staged: None,
                refill: Vec::new(),
            },
            _ => self.replace_table(name, &select, self.layout(id)),
        }
    }

    /// A build as one script, exactly what the runner executes: `prepare`,
    /// then `swap` in a transaction where DDL is transactional. Runnable
    /// again and again: each run replaces the previous table.
    pub fn build_script(&self, build: &Build) -> Vec<String> {
        self.script(&build.prepare, &build.swap)
    }

    /// The refill alternative of a build ([`Build::refill`]), as a script.
    pub fn refill_script(&self, build: &Build) -> Vec<String> {
        self.script(&build.prepare, &build.refill)
    }

    /// Data changes that run in one transaction (a merge, a snapshot's
    /// update), as a script: in `BEGIN` … `COMMIT` on every warehouse when
    /// there is more than one statement, as the runner sends them.
    pub fn dml_script(&self, statements: &[String]) -> Vec<String> {
        if statements.len() > 1 {
            let mut out = vec!["BEGIN".to_string()];
            out.extend(statements.iter().cloned());
            out.push("COMMIT".into());
            out
        } else {
            statements.to_vec()
        }
    }

    /// `first`, then `transaction` in one transaction where DDL is
    /// transactional (elsewhere each DDL statement commits by itself).
    pub fn script(&self, first: &[String], transaction: &[String]) -> Vec<String> {
        let mut out = first.to_vec();
        if transaction.len() > 1 && self.d.transactional_ddl() {
            out.push("BEGIN".into());
            out.extend(transaction.iter().cloned());
            out.push("COMMIT".into());
        } else {
            out.extend(transaction.iter().cloned());
        }
        out
    }

    /// `CREATE SCHEMA IF NOT EXISTS` for the schema of each relation, once:
    /// the runner creates them before running nodes side by side, since two
    /// concurrent creations of one schema conflict.
    pub fn create_schemas(&self, relations: &[RelId]) -> Vec<String> {
        let mut statements: Vec<String> = relations
            .iter()
            .filter_map(|id| physical_name(self.ir, *id))
            .map(|name| self.create_schema(&name))
            .collect();
        statements.sort();
        statements.dedup();
        statements
    }

    /// `DROP SCHEMA … CASCADE`: the schema and everything in it.
    pub fn drop_schema(&self, schema: &str) -> String {
        format!("DROP SCHEMA IF EXISTS {} CASCADE", self.q(schema))
    }

    fn create_schema(&self, name: &PhysicalName) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {}", self.q(&name.schema))
    }

    /// The physical layout a model asks for, as this dialect writes it.
    fn layout(&self, id: RelId) -> TableLayout {
        let mut layout = TableLayout::default();
        let RelationKind::Model(model) = &self.ir.relation(id).kind else {
            return layout;
        };
        let cols = |ids: &[ColumnId]| -> Vec<String> {
            ids.iter()
                .map(|c| self.q(&self.ir.column(*c).name))
                .collect()
        };
        if let Some(partition) = &model.partition_by {
            let column = self.ir.column(partition.column);
            layout.clauses.extend(self.d.partition_clause(
                &self.q(&column.name),
                column.ty,
                partition.granularity,
            ));
        }
        let cluster = cols(&model.cluster_by);
        match self.d.cluster_layout() {
            Layout::ClusterClause { parenthesized } if !cluster.is_empty() => {
                layout.clauses.push(if parenthesized {
                    format!("CLUSTER BY ({})", cluster.join(", "))
                } else {
                    format!("CLUSTER BY {}", cluster.join(", "))
                });
            }
            Layout::Indexes => {
                if let Some(grain) = &model.grain {
                    let grain: Vec<ColumnId> = grain.iter().map(|(c, _)| *c).collect();
                    layout.indexes.push(("grain", cols(&grain)));
                }
                if !cluster.is_empty() {
                    layout.indexes.push(("cluster", cluster));
                }
            }
            _ => {}
        }
        layout
    }

    /// Builds a table from a query and puts it in place of `name`: beside
    /// and swapped in where DDL is transactional, `CREATE OR REPLACE` where
    /// that is atomic.
    fn replace_table(&self, name: PhysicalName, select: &str, layout: TableLayout) -> Build {
        let clauses: String = layout.clauses.iter().map(|c| format!("\n{c}")).collect();
        let indexes = layout.indexes.iter().map(|(what, cols)| {
            format!(
                "CREATE INDEX {} ON {} ({})",
                self.q(&format!("{}__{what}", name.name)),
                name.sql(self.d),
                cols.join(", ")
            )
        });
        match self.d.table_replace() {
            TableReplace::CreateOrReplace => Build {
                prepare: vec![self.create_schema(&name)],
                swap: vec![format!(
                    "CREATE OR REPLACE TABLE {}{clauses} AS\n{select}",
                    name.sql(self.d)
                )],
                target: Some(name),
                relation_type: RelationType::Table,
                load_into: None,
                staged: None,
                refill: Vec::new(),
            },
            TableReplace::BuildBesideAndSwap => {
                let staging = name.with_suffix(&self.scratch);
                let mut swap = vec![
                    format!("DROP TABLE IF EXISTS {}", name.sql(self.d)),
                    format!(
                        "ALTER TABLE {} RENAME TO {}",
                        staging.sql(self.d),
                        self.q(&name.name)
                    ),
                ];
                swap.extend(indexes);
                let refill = self.refill(&name, &staging);
                Build {
                    prepare: vec![
                        self.create_schema(&name),
                        format!("DROP TABLE IF EXISTS {}", staging.sql(self.d)),
                        format!("CREATE TABLE {}{clauses} AS\n{select}", staging.sql(self.d)),
                    ],
                    swap,
                    target: Some(name),
                    relation_type: RelationType::Table,
                    load_into: None,
                    staged: Some(staging),
                    refill,
                }
            }
        }
    }

    /// What this dialect cannot build as written: names longer than it
    /// keeps (errors, E002; a table's name counts with the suffix of the
    /// table built beside it, which a source table may need as a seed) and
    /// physical options it cannot honour (warnings, E001).
    pub fn target_problems(&self) -> Vec<crate::problem::Problem> {
        let mut out = Vec::new();
        if let Some(limit) = self.d.max_identifier_bytes() {
            let mut schemas = std::collections::HashSet::new();
            for rel in &self.ir.relations {
                let Some(name) = physical_name(self.ir, rel.id) else {
                    continue;
                };
                let view = matches!(&rel.kind, RelationKind::Model(m) if m.materialized == Materialized::View);
                let schema = schemas.insert(name.schema.clone()).then_some(&name.schema);
                let names = schema.map(|s| (s, s.len(), false)).into_iter().chain([(
                    &name.name,
                    name.name.len()
                        + if view {
                            0
                        } else {
                            crate::ir::SCRATCH_SUFFIX_BYTES
                        },
                    !view,
                )]);
                for (text, bytes, scratch) in names {
                    if bytes > limit {
                        out.push(crate::problem::Problem::NameTooLong {
                            span: rel.name_span,
                            name: text.clone(),
                            bytes,
                            limit,
                            dialect: self.dialect.name(),
                            scratch,
                        });
                    }
                }
            }
        }
        for (rel, model) in self.ir.models() {
            if let (Some(span), Layout::None) = (model.cluster_by_span, self.d.cluster_layout()) {
                out.push(crate::problem::Problem::UnsupportedOption {
                    span,
                    option: "cluster_by",
                    model: rel.name.clone(),
                    dialect: self.dialect.name(),
                });
            }
            if let Some(partition) = &model.partition_by {
                let column = self.ir.column(partition.column);
                if self
                    .d
                    .partition_clause("x", column.ty, partition.granularity)
                    .is_none()
                {
                    out.push(crate::problem::Problem::UnsupportedOption {
                        span: partition.span,
                        option: "partition_by",
                        model: rel.name.clone(),
                        dialect: self.dialect.name(),
                    });
                }
            }
        }
        out
    }

    /// `ALTER TABLE … ADD COLUMN` for a column of a model (schema changes of
    /// incremental models).
    pub fn add_column(&self, target: &PhysicalName, column: ColumnId) -> String {
        let column = self.ir.column(column);
        format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            target.sql(self.d),
            self.q(&column.name),
            self.d.type_name(column.ty)
        )
    }

    /// `ALTER TABLE … DROP COLUMN`.
    pub fn drop_column(&self, target: &PhysicalName, name: &str) -> String {
        format!(
            "ALTER TABLE {} DROP COLUMN {}",
            target.sql(self.d),
            self.q(name)
        )
    }

    /// A query returning the current time as one timestamp value, to be
    /// read once per run and used by every snapshot statement.
    pub fn now_query(&self) -> String {
        format!("SELECT {} AS now", self.d.now())
    }

    /// The freshness query of a source table with a `loaded_at` column:
    /// its latest load time, the warehouse's clock (both UTC timestamps as
    /// text) and its row count. `None` without `loaded_at`.
    pub fn freshness_query(&self, id: RelId) -> Option<String> {
        let RelationKind::Table(table) = &self.ir.relation(id).kind else {
            return None;
        };
        let column = self.ir.column(table.loaded_at?);
        let loaded = match column.ty {
            Type::TimestampTz => self
                .d
                .utc_timestamp(&self.q(&column.name))
                .unwrap_or_else(|| self.q(&column.name)),
            _ => self.q(&column.name),
        };
        let text = self.d.type_name(Type::Text);
        Some(format!(
            "SELECT CAST(max({loaded}) AS {text}) AS max_loaded_at, CAST({} AS {text}) AS now, \
             count(*) AS n FROM {}",
            self.d.now(),
            self.read_name(id)?.sql(self.d)
        ))
    }

    /// A timestamp value as a literal of this dialect.
    pub fn timestamp_literal(&self, text: &str) -> String {
        self.d.typed_literal(Type::Timestamp, text)
    }

    /// The statement that removes an existing relation of the given type.
    pub fn drop(&self, name: &PhysicalName, ty: RelationType) -> String {
        let what = match ty {
            RelationType::Table => "TABLE",
            RelationType::View => "VIEW",
        };
        format!("DROP {what} IF EXISTS {}", name.sql(self.d))
    }

    /// `SELECT count(*)` of a table.
    pub fn count_rows(&self, name: &PhysicalName) -> String {
        format!("SELECT count(*) AS n FROM {}", name.sql(self.d))
    }

    /// The bytes a table or view takes, where the warehouse says it:
    /// PostgreSQL's `pg_total_relation_size` (with indexes and TOAST),
    /// Snowflake's `information_schema.tables.bytes`. `None` for DuckDB
    /// (which tells blocks of the whole file, not of one table) and BigQuery.
    pub fn size_query(&self, name: &PhysicalName) -> Option<String> {
        match self.dialect {
            Dialect::Postgres => Some(format!(
                "SELECT pg_total_relation_size({}) AS bytes",
                self.d.string_literal(&name.sql(self.d))
            )),
            Dialect::Snowflake => Some(format!(
                "SELECT bytes FROM information_schema.tables WHERE table_schema = {} AND table_name = {}",
                self.d.string_literal(&name.schema.to_uppercase()),
                self.d.string_literal(&name.name.to_uppercase())
            )),
            Dialect::DuckDb | Dialect::BigQuery => None,
        }
    }

    /// Loads a seed CSV into `name` (built beside and swapped in, like a table).
    /// `None` when the dialect cannot read files itself.
    pub fn seed(&self, id: RelId, csv_path: &str) -> Option<Build> {
        let name = physical_name(self.ir, id)?;
        let rel = self.ir.relation(id);
        let columns: Vec<(String, String)> = rel
            .columns
            .values()
            .map(|c| {
                let column = self.ir.column(*c);
                (column.name.clone(), self.d.type_name(column.ty))
            })
            .collect();
        if let Some(scan) = self.d.csv_scan(csv_path, &columns) {
            return Some(self.replace_table(
                name,
                &format!("SELECT * FROM {scan}"),
                TableLayout::default(),
            ));
        }
        // The runner copies the file into an empty table built beside.
        let staging = name.with_suffix(&self.scratch);
        let definition: Vec<String> = columns
            .iter()
            .map(|(column, ty)| format!("{} {ty}", self.q(column)))
            .collect();
        let create = format!(
            "CREATE TABLE {} ({})",
            staging.sql(self.d),
            definition.join(", ")
        );
        let (prepare, swap, refill) = match self.d.table_replace() {
            TableReplace::BuildBesideAndSwap => (
                vec![
                    self.create_schema(&name),
                    format!("DROP TABLE IF EXISTS {}", staging.sql(self.d)),
                    create,
                ],
                vec![
                    format!("DROP TABLE IF EXISTS {}", name.sql(self.d)),
                    format!(
                        "ALTER TABLE {} RENAME TO {}",
                        staging.sql(self.d),
                        self.q(&name.name)
                    ),
                ],
                self.refill(&name, &staging),
            ),
            TableReplace::CreateOrReplace => (
                vec![
                    self.create_schema(&name),
                    create.replacen("CREATE TABLE", "CREATE OR REPLACE TABLE", 1),
                ],
                vec![
                    format!(
                        "CREATE OR REPLACE TABLE {} AS SELECT * FROM {}",
                        name.sql(self.d),
                        staging.sql(self.d)
                    ),
                    format!("DROP TABLE {}", staging.sql(self.d)),
                ],
                Vec::new(),
            ),
        };
        Some(Build {
            prepare,
            swap,
            target: Some(name),
            relation_type: RelationType::Table,
            load_into: Some(staging.clone()),
            staged: Some(staging),
            refill,
        })
    }

    /// Moves the rows of a table built beside into the target (see
    /// [`Build::refill`]).
    fn refill(&self, target: &PhysicalName, staging: &PhysicalName) -> Vec<String> {
        // TRUNCATE is faster, but commits on its own where DDL does.
        let empty = if self.d.transactional_ddl() {
            "TRUNCATE TABLE"
        } else {
            "DELETE FROM"
        };
        vec![
            format!("{empty} {}", target.sql(self.d)),
            format!(
                "INSERT INTO {} SELECT * FROM {}",
                target.sql(self.d),
                staging.sql(self.d)
            ),
            format!("DROP TABLE {}", staging.sql(self.d)),
        ]
    }
}

/// Whether a relation in the warehouse is a table or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelationType {
    #[default]
    Table,
    View,
}

/// The statements that build one relation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Build {
    /// Run first, outside the swap: create the schema, build the new table.
    pub prepare: Vec<String>,
    /// Run in one transaction: the new relation takes the place of the old
    /// one of the same type (`CREATE OR REPLACE`, or `DROP … IF EXISTS`
    /// and a rename), so that the statements run as emitted, as often as
    /// one likes. An old relation of the other type (a view that became a
    /// table) is dropped by the runner first.
    pub swap: Vec<String>,
    pub target: Option<PhysicalName>,
    pub relation_type: RelationType,
    /// A seed the warehouse cannot read itself: the runner loads the CSV
    /// file into this table after `prepare`, before `swap`.
    pub load_into: Option<PhysicalName>,
    /// The table holding the new rows after `prepare` (and the load), before
    /// `swap`, where there is one: the runner checks a seed's row count there.
    pub staged: Option<PhysicalName>,
    /// Instead of `swap`, when the target is a table with the new table's
    /// columns: move the new rows into it, in one transaction. The table
    /// keeps its identity, so views over it (which PostgreSQL binds to the
    /// table itself, not its name) stay valid.
    pub refill: Vec<String>,
}

/// `l.k1 = r.k1 AND l.k2 = r.k2` over quoted key columns.
fn key_match(keys: &[String], left: &str, right: &str) -> String {
    keys.iter()
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Physical options of a table, as SQL: clauses of `CREATE TABLE` and
/// indexes created after it (name suffix, columns).
#[derive(Debug, Default)]
struct TableLayout {
    clauses: Vec<String>,
    indexes: Vec<(&'static str, Vec<String>)>,
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
