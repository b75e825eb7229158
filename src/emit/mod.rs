//! Emit: IR + [`Dialect`] → SQL text. Pure: it builds strings, runs nothing.
//!
//! A model becomes one `SELECT` (its ephemeral parents inlined as CTEs), then
//! the statements that materialize it: a view is replaced in place; a table is
//! built beside the old one and swapped in inside a transaction, so a failed
//! build leaves the previous table readable. Data tests become queries that
//! return the failing rows.

pub mod dialect;
pub mod files;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

use sha2::Digest;

pub use dialect::{Dialect, Layout, SqlDialect, TableReplace};

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
    /// The test names more than one test of the project would have
    /// (`not_null_a_b_c` for `a_b.c` and `a.b_c`), found on first use.
    shared_test_names: std::sync::OnceLock<std::collections::HashSet<String>>,
    /// The suffix of the tables built beside the ones they replace.
    scratch: String,
    /// Relations read from elsewhere than their own physical name: the
    /// parents `--defer` reads from another run's schemas.
    reads: std::collections::HashMap<RelId, PhysicalName>,
}

/// A data test, as a query returning the rows that fail it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSql {
    /// `not_null_stg_orders_customer_id`
    pub name: String,
    pub sql: String,
    pub severity: TestSeverity,
    /// Derived by the compiler (from the grain) rather than written.
    pub derived: bool,
    /// Other relations the test reads (the parent of a relationships test).
    pub reads: Vec<RelId>,
    /// Not a test of one model (a reconciliation): when it fails, nothing
    /// downstream is skipped.
    pub standalone: bool,
    /// Printed under a failure: what may explain it.
    pub hint: Option<String>,
}

impl<'a> Emitter<'a> {
    pub fn new(ir: &'a Ir, dialect: Dialect) -> Emitter<'a> {
        Emitter::with(ir, dialect, Cow::Owned(crate::check::grain::derive(ir)))
    }

    fn with(ir: &'a Ir, dialect: Dialect, grains: Cow<'a, crate::check::grain::Grains>) -> Self {
        Emitter {
            ir,
            dialect,
            d: dialect.sql(),
            grains,
            shared_test_names: std::sync::OnceLock::new(),
            scratch: crate::ir::SCRATCH_SUFFIX.to_string(),
            reads: std::collections::HashMap::new(),
        }
    }

    /// The emitter that reads these relations from these names instead of
    /// their own (`--defer`: parents not built, read from another run's
    /// schemas). What it builds keeps its own name.
    pub fn reading(mut self, reads: std::collections::HashMap<RelId, PhysicalName>) -> Self {
        self.reads = reads;
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

    /// An emitter using the grains the checker already derived.
    pub fn with_grains(
        ir: &'a Ir,
        dialect: Dialect,
        grains: &'a crate::check::grain::Grains,
    ) -> Emitter<'a> {
        Emitter::with(ir, dialect, Cow::Borrowed(grains))
    }

    /// The emitter of one run, whose tables are built beside as
    /// `NAME__shopc_new_RUN`: no other run writes to them, and a table left
    /// by an interrupted run is known by its name ([`is_scratch_of`]).
    /// `run` is [`crate::ir::RUN_ID_DIGITS`] hex digits.
    pub fn for_run(mut self, run: &str) -> Self {
        self.scratch = format!("{}_{run}", crate::ir::SCRATCH_SUFFIX);
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
                        indent(&self.model_body(*cte))
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
        if physical_name(self.ir, id).is_some() || !seen.insert(id) {
            return;
        }
        // (relation, index of the next dependency to visit)
        let mut stack = vec![(id, 0usize)];
        while let Some((rel, next)) = stack.pop() {
            let deps = &self.ir.relation(rel).deps;
            if let Some(&dep) = deps.get(next) {
                stack.push((rel, next + 1));
                if physical_name(self.ir, dep).is_none() && seen.insert(dep) {
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

    /// The statements that bring an incremental model's existing table up
    /// to date (one transaction), or `None` for other models. The first
    /// build, and `--full-refresh`, use [`Emitter::build`].
    ///
    /// - merge: `MERGE` the model's rows (since the target's latest `since`,
    ///   minus `lookback`, when `since` is set) on `unique_key`;
    /// - append: `INSERT` the rows newer than the target's latest `since`;
    ///   with a `unique_key`, the rows within `lookback` of it whose key is
    ///   not loaded yet.
    pub fn incremental(&self, id: RelId) -> Option<Vec<String>> {
        let rel = self.ir.relation(id);
        let RelationKind::Model(model) = &rel.kind else {
            return None;
        };
        let Materialized::Incremental(inc) = &model.materialized else {
            return None;
        };
        let target = physical_name(self.ir, id)?.sql(self.d);
        let (t, s) = (self.q("target"), self.q("source"));
        let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
        let keys: Vec<String> = inc.unique_key.iter().map(|k| self.q(k)).collect();
        let since = inc.since.as_ref().map(|since| {
            let ty = rel
                .columns
                .get(since)
                .map_or(Type::Timestamp, |c| self.ir.column(*c).ty);
            (self.q(since), ty)
        });
        let latest = |since: &str| format!("(SELECT max({since}) FROM {target})");
        let window = |since: &str, ty: Type| -> String {
            let latest = latest(since);
            match inc.lookback {
                Some(seconds) if seconds > 0 => format!(
                    ">= {}",
                    self.call(
                        "date_add",
                        &["'second'".into(), format!("-{seconds}"), latest],
                        "SECOND",
                        ty
                    )
                ),
                _ => format!("> {latest}"),
            }
        };
        let select = self.select(id);
        let key_match = |left: &str, right: &str| key_match(&keys, left, right);
        match inc.strategy {
            crate::ir::IncrementalStrategy::Merge => {
                let source = match &since {
                    Some((since, ty)) => format!(
                        "SELECT * FROM (\n{}\n) AS {s}\nWHERE {s}.{since} {} OR {} IS NULL",
                        indent(&select),
                        window(since, *ty),
                        latest(since)
                    ),
                    None => select,
                };
                let updates: Vec<String> = names
                    .iter()
                    .filter(|n| !keys.contains(n))
                    .map(|n| format!("{n} = {s}.{n}"))
                    .collect();
                let values: Vec<String> = names.iter().map(|n| format!("{s}.{n}")).collect();
                let mut merge = format!(
                    "MERGE INTO {target} AS {t}\nUSING (\n{}\n) AS {s}\nON {}",
                    indent(&source),
                    key_match(&t, &s)
                );
                if !updates.is_empty() {
                    let _ = write!(
                        merge,
                        "\nWHEN MATCHED THEN UPDATE SET {}",
                        updates.join(", ")
                    );
                }
                let _ = write!(
                    merge,
                    "\nWHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                    names.join(", "),
                    values.join(", ")
                );
                Some(vec![merge])
            }
            crate::ir::IncrementalStrategy::Append => {
                let (since, ty) = since?;
                let mut filter = if keys.is_empty() {
                    format!(
                        "({s}.{since} > {} OR {} IS NULL)",
                        latest(&since),
                        latest(&since)
                    )
                } else {
                    format!(
                        "({s}.{since} {} OR {} IS NULL)",
                        window(&since, ty),
                        latest(&since)
                    )
                };
                if !keys.is_empty() {
                    let _ = write!(
                        filter,
                        "\n  AND NOT EXISTS (SELECT 1 FROM {target} AS {t} WHERE {})",
                        key_match(&t, &s)
                    );
                }
                let columns: Vec<String> = names.iter().map(|n| format!("{s}.{n}")).collect();
                Some(vec![format!(
                    "INSERT INTO {target} ({})\nSELECT {}\nFROM (\n{}\n) AS {s}\nWHERE {filter}",
                    names.join(", "),
                    columns.join(", "),
                    indent(&select)
                )])
            }
        }
    }

    /// `sql`, of type `ty`, as a double.
    fn as_double(&self, sql: String, ty: Type) -> String {
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
    fn round_double(&self, x: &str, digits: Option<&str>) -> String {
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
    fn cast_operand(&self, sql: String, from: Type, to: Type) -> String {
        match (from, to) {
            (Type::Double, Type::Numeric(Some((_, scale)))) => {
                self.round_double(&sql, Some(&scale.to_string()))
            }
            (Type::TimestampTz, Type::Date) => self.d.utc_timestamp(&sql).unwrap_or(sql),
            _ => sql,
        }
    }

    /// A library function spelled for this dialect, from SQL arguments.
    fn call(&self, name: &str, args: &[String], part: &str, ty: Type) -> String {
        match self.template(name, part, args.len()) {
            Some(t) => fill_template(t, args, part, &self.d.type_name(ty)),
            None => format!("{name}({})", args.join(", ")),
        }
    }

    /// This dialect's template for a function called with `args` arguments
    /// and date part `part`: `name:part` first, then `name`; `None` when it
    /// has none, or when the template needs an argument left out.
    fn template(&self, name: &str, part: &str, args: usize) -> Option<&'static str> {
        self.d
            .function_template(&format!("{name}:{}", part.to_ascii_lowercase()))
            .or_else(|| self.d.function_template(name))
            .filter(|t| template_fits(t, args))
    }

    /// The SCD2 statements of a snapshot: `create` makes the table on the
    /// first run; `update`, run in one transaction on later runs, closes the
    /// current rows that changed (and, per `hard_deletes`, the ones whose key
    /// disappeared) and inserts a new current row for every key that has
    /// none. `now` is the run's timestamp as SQL, the same in every statement.
    ///
    /// Changes are compared with `IS DISTINCT FROM`, so NULL ↔ value is a
    /// change; a row is inserted only for a key without a current row, so
    /// there is exactly one current row per key.
    ///
    /// With the timestamp strategy the source may hold several versions of
    /// a key (its grain is the key and the timestamp, which the checker
    /// proves): every version newer than the latest one recorded is
    /// inserted, each valid until the next, so several changes between two
    /// runs are all kept.
    pub fn snapshot(&self, id: RelId, now: &str) -> Option<SnapshotSql> {
        let rel = self.ir.relation(id);
        let RelationKind::Snapshot(snap) = &rel.kind else {
            return None;
        };
        let target = physical_name(self.ir, id)?;
        let table = target.sql(self.d);
        let from = self.relation_source(snap.from);
        let (t, s, l) = (self.q("snapshot"), self.q("source"), self.q("latest"));
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let data: Vec<ColumnId> = rel
            .columns
            .values()
            .copied()
            .filter(|c| self.ir.column(*c).role != crate::ir::Role::Meta)
            .collect();
        let deletes_as_rows = rel.columns.contains_key("dbt_is_deleted");
        let text = self.d.type_name(Type::Text);
        let ts = self.d.type_name(Type::Timestamp);
        let keys: Vec<String> = snap.unique_key.iter().map(|k| col(*k)).collect();
        let key_match = |left: &str, right: &str| key_match(&keys, left, right);
        let scd_id = |table: &str, time: &str| {
            let mut parts: Vec<String> = snap
                .unique_key
                .iter()
                .map(|k| format!("coalesce(CAST({table}.{} AS {text}), '')", col(*k)))
                .collect();
            parts.push(format!("CAST({time} AS {text})"));
            self.call("md5", &[parts.join(" || '|' || ")], "", Type::Text)
        };
        let (valid_to, deleted) = (self.q("dbt_valid_to"), self.q("dbt_is_deleted"));
        let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
        let insert =
            |select: String| format!("INSERT INTO {table} ({})\n{select}", names.join(", "));
        let current = format!("{t}.{valid_to} IS NULL");
        let in_source = format!(
            "EXISTS (SELECT 1 FROM {from} AS {s} WHERE {})",
            key_match(&s, &t)
        );
        // The row a source row becomes: its columns, then the metadata.
        let row = |updated_at: &str, valid_from: &str, valid_to: &str| -> String {
            let mut values: Vec<String> = data.iter().map(|c| format!("{s}.{}", col(*c))).collect();
            values.push(format!(
                "{} AS {}",
                scd_id(&s, valid_from),
                self.q("dbt_scd_id")
            ));
            values.push(format!("{updated_at} AS {}", self.q("dbt_updated_at")));
            values.push(format!("{valid_from} AS {}", self.q("dbt_valid_from")));
            values.push(format!("{valid_to} AS {}", self.q("dbt_valid_to")));
            if deletes_as_rows {
                values.push(format!("{} AS {deleted}", self.d.bool_literal(false)));
            }
            format!("SELECT\n  {}", values.join(",\n  "))
        };
        let no_end = format!("CAST(NULL AS {ts})");

        let mut update = Vec::new();
        let create = match &snap.strategy {
            crate::ir::SnapshotStrategy::Timestamp(c) => {
                let stamp = |table: &str| format!("CAST({table}.{} AS {ts})", col(*c));
                // Every version, with the time the next one replaced it.
                let next = self.q("shopc_next_version");
                let versions = format!(
                    "(SELECT {s}.*, lead({}) OVER (PARTITION BY {} ORDER BY {s}.{}) AS {next} FROM {from} AS {s})",
                    stamp(&s),
                    snap.unique_key
                        .iter()
                        .map(|k| format!("{s}.{}", col(*k)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    col(*c),
                );
                let chained = row(&stamp(&s), &stamp(&s), &format!("{s}.{next}"));
                // A current row with newer versions ends where the first begins
                // (a current row, unless a deletion, is the key's latest version).
                let live_current = if deletes_as_rows {
                    format!("{current} AND NOT {t}.{deleted}")
                } else {
                    current.clone()
                };
                let newer = format!(
                    "FROM {from} AS {s} WHERE {} AND {} > {t}.{}",
                    key_match(&s, &t),
                    stamp(&s),
                    self.q("dbt_updated_at")
                );
                update.push(format!(
                    "UPDATE {table} AS {t}\nSET {valid_to} = (SELECT min({}) {newer})\nWHERE {live_current} AND EXISTS (SELECT 1 {newer})",
                    stamp(&s),
                ));
                update.extend(self.snapshot_deletes(id, &from, now));
                if deletes_as_rows {
                    // A deletion row ends when its key is back.
                    update.push(format!(
                        "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nWHERE {current} AND {t}.{deleted} AND {in_source}"
                    ));
                }
                // Every version newer than the latest recorded, or of a new key.
                let recorded = self.q("shopc_recorded");
                let live = if deletes_as_rows {
                    format!(" WHERE NOT {deleted}")
                } else {
                    String::new()
                };
                update.push(insert(format!(
                    "{chained}\nFROM {versions} AS {s}\nLEFT JOIN (SELECT {}, max({}) AS {recorded} FROM {table}{live} GROUP BY {}) AS {l} ON {}\nWHERE {l}.{recorded} IS NULL OR {} > {l}.{recorded}",
                    keys.join(", "),
                    self.q("dbt_updated_at"),
                    keys.join(", "),
                    key_match(&l, &s),
                    stamp(&s),
                )));
                // A key back after a deletion, unchanged: its latest version, from now.
                update.push(insert(format!(
                    "{}\nFROM {from} AS {s}\nWHERE NOT EXISTS (SELECT 1 FROM {from} AS {l} WHERE {} AND {l}.{} > {s}.{})\n  AND NOT EXISTS (SELECT 1 FROM {table} AS {t} WHERE {} AND {current})",
                    row(&stamp(&s), now, &no_end),
                    key_match(&l, &s),
                    col(*c),
                    col(*c),
                    key_match(&t, &s),
                )));
                vec![
                    self.create_schema(&target),
                    format!("CREATE TABLE {table} AS\n{chained}\nFROM {versions} AS {s}"),
                ]
            }
            strategy => {
                let cols: Vec<ColumnId> = match strategy {
                    crate::ir::SnapshotStrategy::Check(cols) => cols.clone(),
                    _ => data
                        .iter()
                        .copied()
                        .filter(|c| !snap.unique_key.contains(c))
                        .collect(),
                };
                let mut changed = self.distinct(&cols, &t, &s);
                if deletes_as_rows {
                    changed = format!("({changed} OR {t}.{deleted})");
                }
                update.push(format!(
                    "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nFROM {from} AS {s}\nWHERE {} AND {current} AND {changed}",
                    key_match(&t, &s)
                ));
                update.extend(self.snapshot_deletes(id, &from, now));
                update.push(insert(format!(
                    "{}\nFROM {from} AS {s}\nWHERE NOT EXISTS (SELECT 1 FROM {table} AS {t} WHERE {} AND {current})",
                    row(now, now, &no_end),
                    key_match(&t, &s)
                )));
                vec![
                    self.create_schema(&target),
                    format!(
                        "CREATE TABLE {table} AS\n{}\nFROM {from} AS {s}",
                        row(now, now, &no_end)
                    ),
                ]
            }
        };
        Some(SnapshotSql { create, update })
    }

    /// What a snapshot does with the current rows of keys gone from its
    /// source, per `hard_deletes`.
    fn snapshot_deletes(&self, id: RelId, from: &str, now: &str) -> Vec<String> {
        let rel = self.ir.relation(id);
        let RelationKind::Snapshot(snap) = &rel.kind else {
            return Vec::new();
        };
        let Some(target) = physical_name(self.ir, id) else {
            return Vec::new();
        };
        let table = target.sql(self.d);
        let (t, s) = (&self.q("snapshot"), &self.q("source"));
        let no_end = format!("CAST(NULL AS {})", self.d.type_name(Type::Timestamp));
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let keys: Vec<String> = snap.unique_key.iter().map(|k| col(*k)).collect();
        let key_match = |left: &str, right: &str| key_match(&keys, left, right);
        let (valid_to, deleted) = (self.q("dbt_valid_to"), self.q("dbt_is_deleted"));
        let current = format!("{t}.{valid_to} IS NULL");
        let gone = format!(
            "NOT EXISTS (SELECT 1 FROM {from} AS {s} WHERE {})",
            key_match(s, t)
        );
        match snap.hard_deletes {
            crate::ir::HardDeletes::Ignore => Vec::new(),
            crate::ir::HardDeletes::Invalidate => vec![format!(
                "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nWHERE {current} AND {gone}"
            )],
            crate::ir::HardDeletes::NewRecord => {
                let text = self.d.type_name(Type::Text);
                // A deletion is a row too: the key, NULLs, and the flag.
                let mut values: Vec<String> = rel
                    .columns
                    .values()
                    .copied()
                    .filter(|c| self.ir.column(*c).role != crate::ir::Role::Meta)
                    .map(|c| {
                        if snap.unique_key.contains(&c) {
                            format!("{t}.{}", col(c))
                        } else {
                            format!("CAST(NULL AS {})", self.d.type_name(self.ir.column(c).ty))
                        }
                    })
                    .collect();
                let tombstone_id = self.call(
                    "md5",
                    &[format!(
                        "{} || '|deleted|' || CAST({now} AS {text})",
                        snap.unique_key
                            .iter()
                            .map(|k| format!("coalesce(CAST({t}.{} AS {text}), '')", col(*k)))
                            .collect::<Vec<_>>()
                            .join(" || '|' || ")
                    )],
                    "",
                    Type::Text,
                );
                values.extend([
                    tombstone_id,
                    now.to_string(),
                    now.to_string(),
                    no_end,
                    self.d.bool_literal(true).to_string(),
                ]);
                let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
                let latest = self.q("latest");
                vec![
                    format!(
                        "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nWHERE {current} AND NOT {t}.{deleted} AND {gone}"
                    ),
                    format!(
                        "INSERT INTO {table} ({})\nSELECT {}\nFROM {table} AS {t}\nWHERE NOT {t}.{deleted} AND {t}.{valid_to} = (SELECT max({latest}.{valid_to}) FROM {table} AS {latest} WHERE {})\n  AND NOT EXISTS (SELECT 1 FROM {table} AS {latest} WHERE {} AND {latest}.{valid_to} IS NULL)\n  AND {gone}",
                        names.join(", "),
                        values.join(", "),
                        key_match(&latest, t),
                        key_match(&latest, t),
                    ),
                ]
            }
        }
    }

    /// `(a.x IS DISTINCT FROM b.x OR …)`: NULL-safe inequality.
    fn distinct(&self, cols: &[ColumnId], left: &str, right: &str) -> String {
        if cols.is_empty() {
            return self.d.bool_literal(false).to_string();
        }
        let parts: Vec<String> = cols
            .iter()
            .map(|c| {
                let c = self.q(&self.ir.column(*c).name);
                format!("{left}.{c} IS DISTINCT FROM {right}.{c}")
            })
            .collect();
        format!("({})", parts.join(" OR "))
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

    /// The data tests of a relation: for a model, the ones written in
    /// `tests { … }` and the ones its declared grain implies (unique and not
    /// null); for a source table, the ones its claimed key implies.
    ///
    /// A test's name is `KIND_RELATION_COLUMNS`, as dbt names them; where
    /// two tests of the project would share one, each of them is suffixed
    /// with a hash of its relation and its place there, so that no two
    /// tests are written to one file or reported as one.
    pub fn tests(&self, id: RelId) -> Vec<TestSql> {
        let mut tests = self.tests_named_by_kind(id);
        self.disambiguate(id, &mut tests);
        tests
    }

    /// See [`Emitter::tests`].
    fn disambiguate(&self, id: RelId, tests: &mut [TestSql]) {
        let shared = self.shared_test_names.get_or_init(|| {
            let mut seen = std::collections::HashSet::new();
            let mut shared = std::collections::HashSet::new();
            for rel in &self.ir.relations {
                let tests = self.tests_named_by_kind(rel.id);
                let reconciliations = self.reconciliations_named_by_kind(rel.id);
                for test in tests.into_iter().chain(reconciliations) {
                    if !seen.insert(test.name.clone()) {
                        shared.insert(test.name);
                    }
                }
            }
            shared
        });
        let relation = &self.ir.relation(id).name;
        let mut place: HashMap<String, usize> = HashMap::new();
        for test in tests {
            if shared.contains(&test.name) {
                let n = place.entry(test.name.clone()).or_default();
                let digest = sha2::Sha256::digest(format!("{relation}\0{}\0{n}", test.name));
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                test.name = format!("{}_{hex}", test.name);
                *n += 1;
            }
        }
    }

    fn tests_named_by_kind(&self, id: RelId) -> Vec<TestSql> {
        let rel = self.ir.relation(id);
        let model = match &rel.kind {
            RelationKind::Model(model) => model,
            RelationKind::Table(table) if !table.expect_key.is_empty() => {
                let Some(name) = self.read_name(id) else {
                    return Vec::new();
                };
                return self.key_tests(
                    "expect_key",
                    &rel.name.replace('.', "_"),
                    &name.sql(self.d),
                    &table.expect_key,
                );
            }
            _ => return Vec::new(),
        };
        // Made only when a test reads it: an ephemeral model's query
        // carries its ephemeral ancestry, and most models of a long chain
        // have no tests.
        let from = std::cell::LazyCell::new(|| match self.read_name(id) {
            Some(name) => name.sql(self.d),
            None => format!(
                "(\n{}\n) AS {}",
                indent(&self.select(id)),
                self.q(&rel.name)
            ),
        });
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let name_of = |c: ColumnId| self.ir.column(c).name.clone();
        let mut tests = Vec::new();
        if let Some(grain) = &model.grain {
            let ids: Vec<ColumnId> = grain.iter().map(|(c, _)| *c).collect();
            tests.extend(self.key_tests("grain", &rel.name, &from, &ids));
        }
        // An inner to-one join drops left rows without a match: count them.
        if let Some(derived) = self.grains.models.get(&id) {
            let q = &model.query;
            for (join, cardinality) in q.joins.iter().zip(&derived.joins) {
                if join.kind != JoinKind::Inner
                    || !matches!(cardinality, crate::check::grain::Cardinality::ToOne { .. })
                {
                    continue;
                }
                let Some(fk) = crate::check::grain::join_foreign_key(join) else {
                    continue;
                };
                let (left, right) = (q.scans[fk.left_scan].relation, q.scans[join.scan].relation);
                let (child, parent) = (self.q("child"), self.q("parent"));
                let on: Vec<String> = fk
                    .pairs
                    .iter()
                    .map(|(l, r)| format!("{child}.{} = {parent}.{}", col(*l), col(*r)))
                    .collect();
                let mut filter: Vec<String> = fk
                    .pairs
                    .iter()
                    .map(|(l, _)| format!("{child}.{} IS NOT NULL", col(*l)))
                    .collect();
                filter.push(format!("{parent}.{} IS NULL", col(fk.pairs[0].1)));
                let keys: Vec<String> = fk
                    .pairs
                    .iter()
                    .map(|(l, _)| format!("{child}.{}", col(*l)))
                    .collect();
                tests.push(TestSql {
                    name: format!(
                        "join_relationships_{}_{}",
                        rel.name, q.scans[join.scan].alias
                    ),
                    sql: format!(
                        "SELECT {} FROM {} AS {child}\nLEFT JOIN {} AS {parent} ON {}\nWHERE {}",
                        keys.join(", "),
                        self.relation_source(left),
                        self.relation_source(right),
                        on.join(" AND "),
                        filter.join(" AND ")
                    ),
                    severity: TestSeverity::Warn,
                    derived: true,
                    reads: vec![left, right],
                    standalone: false,
                    hint: None,
                });
            }
        }
        for test in &model.tests {
            let reads = match &test.kind {
                TestKind::Relationships { to, .. } => vec![self.ir.column(*to).relation],
                _ => Vec::new(),
            };
            let (name, sql) = match &test.kind {
                TestKind::Unique(cols) => {
                    let names: Vec<String> = cols.iter().map(|c| name_of(*c)).collect();
                    (
                        format!("unique_{}_{}", rel.name, names.join("_")),
                        self.unique_sql(&from, &cols.iter().map(|c| col(*c)).collect::<Vec<_>>()),
                    )
                }
                TestKind::NotNull(c) => (
                    format!("not_null_{}_{}", rel.name, name_of(*c)),
                    format!("SELECT * FROM {} WHERE {} IS NULL", *from, col(*c)),
                ),
                TestKind::AcceptedValues { column, values } => {
                    let values: Vec<String> = values
                        .iter()
                        .map(|v| match v {
                            crate::ir::TestValue::Text(s) => self.d.string_literal(s),
                            crate::ir::TestValue::Integer(n) => n.to_string(),
                            crate::ir::TestValue::Bool(b) => {
                                if *b { "TRUE" } else { "FALSE" }.to_string()
                            }
                        })
                        .collect();
                    let c = col(*column);
                    (
                        format!("accepted_values_{}_{}", rel.name, name_of(*column)),
                        format!(
                            "SELECT {c} AS value, count(*) AS n FROM {} WHERE {c} IS NOT NULL AND {c} NOT IN ({}) GROUP BY {c}",
                            *from,
                            values.join(", ")
                        ),
                    )
                }
                TestKind::Relationships { column, to } => {
                    let parent = self.ir.column(*to).relation;
                    let (child, target) = (self.q("child"), self.q("parent"));
                    (
                        format!(
                            "relationships_{}_{}__{}_{}",
                            rel.name,
                            name_of(*column),
                            self.ir.relation(parent).name,
                            name_of(*to)
                        ),
                        format!(
                            "SELECT {child}.{c} FROM {from_child} AS {child}\nLEFT JOIN {parent_from} AS {target} ON {child}.{c} = {target}.{p}\nWHERE {child}.{c} IS NOT NULL AND {target}.{p} IS NULL",
                            c = col(*column),
                            p = col(*to),
                            from_child = self.relation_source(id),
                            parent_from = self.relation_source(parent),
                        ),
                    )
                }
            };
            tests.push(TestSql {
                name,
                sql,
                severity: test.severity,
                derived: false,
                reads,
                standalone: false,
                hint: None,
            });
        }
        tests
    }

    /// Why totals over `reads` may disagree although every definition is
    /// right: an incremental model among them (or upstream) merges only the
    /// rows its `since` column says are new, so it keeps rows its sources
    /// changed without moving that column forward (sources replaced rather
    /// than extended).
    fn incremental_hint(&self, reads: &[RelId]) -> Option<String> {
        let mut pending = reads.to_vec();
        let mut seen = std::collections::HashSet::new();
        let mut incremental = Vec::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id) {
                continue;
            }
            let rel = self.ir.relation(id);
            if let RelationKind::Model(m) = &rel.kind
                && let Materialized::Incremental(inc) = &m.materialized
            {
                incremental.push(match &inc.since {
                    Some(since) => format!("`{}` (merged since `{since}`)", rel.name),
                    None => format!("`{}`", rel.name),
                });
            }
            pending.extend(rel.deps.iter().copied());
        }
        if incremental.is_empty() {
            return None;
        }
        incremental.sort();
        Some(format!(
            "{} incremental: a run adds only what its `since` column says is new, so rows its sources \
             changed without a newer value there (a replaced extract, a backfill) are not merged; \
             if so, `--full-refresh` rebuilds from the sources",
            if incremental.len() == 1 {
                format!("{} is", incremental[0])
            } else {
                format!("{} are", incremental.join(", "))
            }
        ))
    }

    /// The reconciliations whose first total is read from `id`: one query
    /// each, returning every total when they are not all equal.
    pub fn reconciliations(&self, id: RelId) -> Vec<TestSql> {
        let mut tests = self.reconciliations_named_by_kind(id);
        self.disambiguate(id, &mut tests);
        tests
    }

    fn reconciliations_named_by_kind(&self, id: RelId) -> Vec<TestSql> {
        let (term, total_of, total, totals) = (
            self.q("term"),
            self.q("total_of"),
            self.q("total"),
            self.q("totals"),
        );
        self.ir
            .reconciles
            .iter()
            .filter(|r| r.terms[0].query.scans[0].relation == id)
            .map(|r| {
                let selects: Vec<String> = r
                    .terms
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let q = &t.query;
                        let scan = &q.scans[0];
                        let column = self.ir.column(t.column);
                        let mut sum = format!(
                            "coalesce(sum({}.{}), 0)",
                            self.q(&scan.alias),
                            self.q(&column.name)
                        );
                        // An exact total is compared at its own type, the
                        // type `sum` has by the library's rule: a no-op
                        // where the engine sums decimals exactly, and the
                        // total to the cent where an engine (fakesnow)
                        // sums them as doubles.
                        let total_type = column.ty.sum();
                        if let Type::Numeric(Some(_)) = total_type {
                            sum = format!("CAST({sum} AS {})", self.d.type_name(total_type));
                        }
                        let mut select = format!(
                            "SELECT {} AS {term}, {} AS {total_of}, {sum} AS {total} FROM {} AS {}",
                            i + 1,
                            self.d.string_literal(&t.label),
                            self.relation_source(scan.relation),
                            self.q(&scan.alias),
                        );
                        if let Some(filter) = &q.filter {
                            let _ = write!(select, " WHERE {}", self.expr(q, filter));
                        }
                        select
                    })
                    .collect();
                TestSql {
                    name: format!("reconcile_{}", r.name),
                    sql: format!(
                        "WITH {totals} AS (\n{}\n)\nSELECT {total_of}, {total} FROM {totals}\nWHERE (SELECT count(DISTINCT {total}) FROM {totals}) > 1\nORDER BY {term}",
                        indent(&selects.join("\nUNION ALL\n"))
                    ),
                    severity: TestSeverity::Error,
                    derived: false,
                    reads: r.reads(),
                    standalone: true,
                    hint: self.incremental_hint(&r.reads()),
                }
            })
            .collect()
    }

    /// `BASE_unique_RELATION` over the key and `BASE_not_null_RELATION_COLUMN` for each of
    /// its columns: what a declared grain or a claimed key implies.
    fn key_tests(&self, base: &str, relation: &str, from: &str, key: &[ColumnId]) -> Vec<TestSql> {
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let test = |name: String, sql: String| TestSql {
            name,
            sql,
            severity: TestSeverity::Error,
            derived: true,
            reads: Vec::new(),
            standalone: false,
            hint: None,
        };
        let mut tests = vec![test(
            format!("{base}_unique_{relation}"),
            self.unique_sql(from, &key.iter().map(|c| col(*c)).collect::<Vec<_>>()),
        )];
        tests.extend(key.iter().map(|c| {
            test(
                format!("{base}_not_null_{relation}_{}", self.ir.column(*c).name),
                format!("SELECT * FROM {from} WHERE {} IS NULL", col(*c)),
            )
        }));
        tests
    }

    fn unique_sql(&self, from: &str, cols: &[String]) -> String {
        let cols = cols.join(", ");
        format!("SELECT {cols}, count(*) AS n FROM {from} GROUP BY {cols} HAVING count(*) > 1")
    }

    // ------------------------------------------------------------ expressions

    fn expr(&self, q: &Query, e: &Expr) -> String {
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
    fn call_sql(&self, q: &Query, e: &Expr, call: &crate::ir::Call, name: &str) -> String {
        let func = call.func.func();
        // The clock is UTC, on every warehouse (see `SqlDialect::now`).
        match name {
            "current_timestamp" => return self.d.now().to_string(),
            "current_date" => {
                return format!("CAST({} AS {})", self.d.now(), self.d.type_name(Type::Date));
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

    fn literal(&self, lit: &Literal) -> String {
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

/// The SCD2 statements of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSql {
    /// The first run: create the table from the current rows.
    pub create: Vec<String>,
    /// Later runs, in one transaction: close changed and deleted rows, then
    /// insert the new versions.
    pub update: Vec<String>,
}

/// Physical options of a table, as SQL: clauses of `CREATE TABLE` and
/// indexes created after it (name suffix, columns).
#[derive(Debug, Default)]
struct TableLayout {
    clauses: Vec<String>,
    indexes: Vec<(&'static str, Vec<String>)>,
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

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
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
