//! Data tests as queries returning the failing rows: the declared ones,
//! the ones a grain or a join claim implies, and one per `reconcile` item.

use super::*;

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
    /// The checker proved what the test checks (`check::proofs`): why, in
    /// a few words. The runner reports it `PROVEN` without running it,
    /// unless asked to verify proofs.
    pub proven: Option<String>,
}

/// Every relation's tests and reconciliations, by relation index, named
/// by their kind, and the names more than one of them has.
pub(super) struct NamedTests {
    tests: Vec<Vec<TestSql>>,
    reconciliations: Vec<Vec<TestSql>>,
    shared: std::collections::HashSet<String>,
}

impl Emitter<'_> {
    /// The data tests of a relation: for a model, the ones written in
    /// `tests { … }` and the ones its declared grain implies (unique and not
    /// null); for a source table, the ones its claimed key implies.
    ///
    /// A test's name is `KIND_RELATION_COLUMNS`, as dbt names them; where
    /// two tests of the project would share one, each of them is suffixed
    /// with a hash of its relation and its place there, so that no two
    /// tests are written to one file or reported as one.
    pub fn tests(&self, id: RelId) -> Vec<TestSql> {
        let mut tests = self.named_tests().tests[id.index()].clone();
        self.disambiguate(id, &mut tests);
        tests
    }

    /// Names every test of the project now, in parallel; otherwise the
    /// first call that needs a name does it, and on one thread when it is
    /// a worker of the pool (a worker that waited for others inside the
    /// initialisation could be handed a task needing it, and wait for
    /// itself). Call it before asking for tests from many threads.
    pub fn name_tests(&self) {
        if rayon::current_thread_index().is_none() {
            self.named_tests();
        }
    }

    /// See [`Emitter::named_tests`].
    fn named_tests(&self) -> &NamedTests {
        self.named_tests.get_or_init(|| {
            use rayon::prelude::*;
            let named = |rel: &crate::ir::Relation| {
                (
                    self.tests_named_by_kind(rel.id),
                    self.reconciliations_named_by_kind(rel.id),
                )
            };
            let (tests, reconciliations): (Vec<_>, Vec<_>) =
                if rayon::current_thread_index().is_some() {
                    self.ir.relations.iter().map(named).unzip()
                } else {
                    crate::in_pool(|| self.ir.relations.par_iter().map(named).unzip())
                };
            let mut seen = std::collections::HashSet::new();
            let mut shared = std::collections::HashSet::new();
            for test in tests.iter().chain(&reconciliations).flatten() {
                if !seen.insert(test.name.as_str()) {
                    shared.insert(test.name.clone());
                }
            }
            NamedTests {
                tests,
                reconciliations,
                shared,
            }
        })
    }

    /// See [`Emitter::tests`].
    pub(super) fn disambiguate(&self, id: RelId, tests: &mut [TestSql]) {
        let shared = &self.named_tests().shared;
        if shared.is_empty() {
            return;
        }
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
    pub(super) fn tests_named_by_kind(&self, id: RelId) -> Vec<TestSql> {
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
                    &crate::check::proofs::GrainProof::default(),
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
            let proof =
                crate::check::proofs::grain_proof(self.ir, &self.grains, self.nullability(), id);
            tests.extend(self.key_tests("grain", &rel.name, &from, &ids, &proof));
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
                    proven: None,
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
                proven: None,
            });
        }
        tests
    }
    /// Why totals over `reads` may disagree although every definition is
    /// right: an incremental model among them (or upstream) merges only the
    /// rows its `since` column says are new, so it keeps rows its sources
    /// changed without moving that column forward (sources replaced rather
    /// than extended).
    pub(super) fn incremental_hint(&self, reads: &[RelId]) -> Option<String> {
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
        let mut tests = self.named_tests().reconciliations[id.index()].clone();
        self.disambiguate(id, &mut tests);
        tests
    }
    pub(super) fn reconciliations_named_by_kind(&self, id: RelId) -> Vec<TestSql> {
        let (total_of, total, totals) = (self.q("total_of"), self.q("total"), self.q("totals"));
        self.ir
            .reconciles
            .iter()
            .filter(|r| r.terms[0].query.scans[0].relation == id)
            .map(|r| TestSql {
                name: format!("reconcile_{}", r.name),
                sql: format!(
                    "WITH {totals} AS (\n{}\n)\nSELECT {total_of}, {total} FROM {totals}\nWHERE (SELECT count(DISTINCT {total}) FROM {totals}) > 1\nORDER BY {}",
                    indent(&self.reconciliation_terms(r)),
                    self.q("term"),
                ),
                severity: TestSeverity::Error,
                derived: false,
                reads: r.reads(),
                standalone: true,
                hint: self.incremental_hint(&r.reads()),
                proven: None,
            })
            .collect()
    }

    /// Every total of a reconciliation, a row per term in its order:
    /// `total_of` (the term as written) and `total`. What `shopc diff`
    /// compares between two environments.
    pub fn reconciliation_totals(&self, r: &crate::ir::Reconcile) -> String {
        let (total_of, total, totals) = (self.q("total_of"), self.q("total"), self.q("totals"));
        format!(
            "WITH {totals} AS (\n{}\n)\nSELECT {total_of}, {total} FROM {totals}\nORDER BY {}",
            indent(&self.reconciliation_terms(r)),
            self.q("term"),
        )
    }

    /// A reconciliation's totals as one `UNION ALL` of a `SELECT` per term:
    /// `term` (its place), `total_of` and `total`.
    fn reconciliation_terms(&self, r: &crate::ir::Reconcile) -> String {
        let (term, total_of, total) = (self.q("term"), self.q("total_of"), self.q("total"));
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
                // An exact total is compared at its own type, the type
                // `sum` has by the library's rule: a no-op where the engine
                // sums decimals exactly, and the total to the cent where an
                // engine (fakesnow) sums them as doubles.
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
        selects.join("\nUNION ALL\n")
    }
    /// `BASE_unique_RELATION` over the key and `BASE_not_null_RELATION_COLUMN` for each of
    /// its columns: what a declared grain or a claimed key implies.
    pub(super) fn key_tests(
        &self,
        base: &str,
        relation: &str,
        from: &str,
        key: &[ColumnId],
        proof: &crate::check::proofs::GrainProof,
    ) -> Vec<TestSql> {
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let test = |name: String, sql: String, proven: Option<String>| TestSql {
            name,
            sql,
            severity: TestSeverity::Error,
            derived: true,
            reads: Vec::new(),
            standalone: false,
            hint: None,
            proven,
        };
        let mut tests = vec![test(
            format!("{base}_unique_{relation}"),
            self.unique_sql(from, &key.iter().map(|c| col(*c)).collect::<Vec<_>>()),
            proof.unique.clone(),
        )];
        tests.extend(key.iter().map(|c| {
            test(
                format!("{base}_not_null_{relation}_{}", self.ir.column(*c).name),
                format!("SELECT * FROM {from} WHERE {} IS NULL", col(*c)),
                proof
                    .not_null
                    .contains(c)
                    .then(|| "never null by its query".to_string()),
            )
        }));
        tests
    }
    pub(super) fn unique_sql(&self, from: &str, cols: &[String]) -> String {
        let cols = cols.join(", ");
        format!("SELECT {cols}, count(*) AS n FROM {from} GROUP BY {cols} HAVING count(*) > 1")
    }
}
