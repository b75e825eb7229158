//! Run: a plan's statements → a warehouse, with a progress line per node.
//!
//! `seed`, `run`, `test` and `build` share one loop over the selected nodes
//! in build order. A node whose parent failed (or whose error-severity test
//! failed, in `build`) is skipped, like `dbt build`. IO module.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::emit::{Build, Emitter, PhysicalName, RelationType, TestSql, physical_name};
use crate::ir::{
    IncrementalStrategy, Ir, Materialized, OnSchemaChange, RelId, RelationKind, TestSeverity,
};
use crate::plan::Selection;
use crate::seed::{self, Seed};
use crate::warehouse::{Rows, Warehouse};

/// Which command is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Seed,
    Run,
    Test,
    Build,
    /// Only the snapshots.
    Snapshot,
}

impl Command {
    /// The subcommand's name.
    pub fn name(self) -> &'static str {
        match self {
            Command::Seed => "seed",
            Command::Run => "run",
            Command::Test => "test",
            Command::Build => "build",
            Command::Snapshot => "snapshot",
        }
    }
}

/// How a command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Rebuild incremental models from scratch instead of merging.
    pub full_refresh: bool,
    /// How many nodes may run at once, each on its own connection.
    pub threads: usize,
    /// Colour the status of progress lines (PASS green, FAIL red…).
    pub color: bool,
    /// No other run can write to the warehouse (the caller holds its lock,
    /// see [`Warehouse::lock`]): tables left by an interrupted run are
    /// dropped before anything runs.
    pub exclusive: bool,
    /// `--defer`: where to read what the selection reads and does not build.
    pub defer: Option<Defer>,
    /// `--check-freshness`: the source tables whose freshness is an error,
    /// and what it said; what reads them is skipped.
    pub stale: HashMap<RelId, String>,
    /// `on_run_start` / `on_run_end`, their placeholders filled.
    pub hooks: Hooks,
    /// `--verify-proofs`: run the tests whose fact the checker proved
    /// (`check::proofs`) instead of reporting them `PROVEN`.
    pub verify_proofs: bool,
}

/// SQL statements run on the target's first connection: `start` before
/// any node (when one fails, no node runs), `end` after every node, however
/// they ended. Each is a node of the run (`hook on_run_end.1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    pub start: Vec<String>,
    pub end: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            full_refresh: false,
            threads: 4,
            color: false,
            exclusive: false,
            defer: None,
            stale: HashMap::new(),
            hooks: Hooks::default(),
            verify_proofs: false,
        }
    }
}

/// How many nodes ended how, and how each did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub ok: usize,
    pub warned: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Tests not run because the checker proved what they check.
    pub proven: usize,
    /// One per node, in the order they finished.
    pub results: Vec<NodeResult>,
    /// What `--defer` read from the state's schemas instead of the current
    /// environment's, in build order.
    pub deferred: Vec<DeferredRead>,
}

impl Summary {
    /// How many nodes ended how, as notifications report it.
    pub fn counts(&self) -> crate::notify::Counts {
        crate::notify::Counts {
            ok: self.ok,
            warnings: self.warned,
            errors: self.failed,
            skipped: self.skipped,
            proven: self.proven,
        }
    }
}

/// A relation read from another run's schemas (`--defer`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeferredRead {
    /// `source`, `model` or `snapshot`: with the project's name and `name`,
    /// the node's id in the manifest.
    pub kind: &'static str,
    pub name: String,
    /// Where it was read: `marts.fact_orders`.
    pub relation: String,
}

/// How one node ended, for `target/run_results.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeResult {
    /// `seed`, `source`, `model`, `snapshot`, `test` or `reconciliation`:
    /// with the project's name and `name`, the node's id in the manifest.
    pub kind: &'static str,
    pub name: String,
    /// `success` (built), `pass`, `fail`, `warn`, `proven` (tests),
    /// `error`, `skipped`.
    pub status: &'static str,
    pub seconds: f64,
    /// Rows loaded (a seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_affected: Option<u64>,
    /// Failing rows (a test that ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u64>,
    /// The first line of the error, or why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The manifest's kind and name of a step's node.
fn node_of(ir: &Ir, step: &Step<'_>) -> (&'static str, String) {
    match step {
        Step::Seed(seed) => {
            let rel = ir.relation(seed.relation);
            let name = match &rel.kind {
                RelationKind::Table(t) => t.identifier.clone(),
                _ => rel.name.clone(),
            };
            ("seed", name)
        }
        Step::Model(id) => ("model", ir.relation(*id).name.clone()),
        Step::Snapshot(id) => ("snapshot", ir.relation(*id).name.clone()),
        Step::Test(_, test) if test.standalone => ("reconciliation", test.name.clone()),
        Step::Test(_, test) => ("test", test.name.clone()),
    }
}

impl Summary {
    fn record(
        &mut self,
        ir: &Ir,
        step: &Step<'_>,
        status: &'static str,
        seconds: f64,
        message: Option<&str>,
    ) -> &mut NodeResult {
        let (kind, name) = node_of(ir, step);
        self.record_node(kind, name, status, seconds, message)
    }

    /// Records a node of its own kind (a step, a stale source, a hook),
    /// with the first line of its message.
    fn record_node(
        &mut self,
        kind: &'static str,
        name: String,
        status: &'static str,
        seconds: f64,
        message: Option<&str>,
    ) -> &mut NodeResult {
        self.results.push(NodeResult {
            kind,
            name,
            status,
            seconds: (seconds * 1000.0).round() / 1000.0,
            rows_affected: None,
            failures: None,
            message: message
                .and_then(|m| m.trim().lines().next())
                .map(String::from),
        });
        let last = self.results.len() - 1;
        &mut self.results[last]
    }
}

impl Summary {
    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

enum Step<'s> {
    Seed(&'s Seed),
    Model(RelId),
    Snapshot(RelId),
    Test(RelId, TestSql),
}

impl Step<'_> {
    /// The relation built or tested.
    fn relation(&self) -> RelId {
        match self {
            Step::Seed(s) => s.relation,
            Step::Model(id) | Step::Snapshot(id) | Step::Test(id, _) => *id,
        }
    }

    fn is_test(&self) -> bool {
        matches!(self, Step::Test(..))
    }
}

fn is_ephemeral(ir: &Ir, id: RelId) -> bool {
    matches!(&ir.relation(id).kind, RelationKind::Model(m) if m.materialized == Materialized::Ephemeral)
}

/// What a relation reads, looking through ephemeral models (which are never
/// built themselves): the relations that must be there for it to run.
pub fn reads_through_ephemerals(ir: &Ir, reads: impl IntoIterator<Item = RelId>) -> Vec<RelId> {
    let mut pending: Vec<RelId> = reads.into_iter().collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while let Some(r) = pending.pop() {
        if !seen.insert(r) {
            continue;
        }
        out.push(r);
        if is_ephemeral(ir, r) {
            pending.extend(ir.relation(r).deps.iter().copied());
        }
    }
    out
}

/// Which steps wait for which: a build waits for the builds of what it
/// reads (through ephemeral models); a test waits for the builds of what it
/// reads. In `build`, a relation also waits for the tests of what it reads
/// whose every relation it descends from (dbt's rule): a relationships test
/// of `fact_orders` against `dim_customers` holds back what reads both, and
/// nothing else. Every edge follows the build order, so whether a step runs
/// depends only on how the steps it waits for ended, whatever `--threads`.
struct StepGraph {
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

impl StepGraph {
    /// `proofs`: the tests the checker proved are reported so (not run),
    /// each once the tests of what its relation reads have ended: a proof
    /// rests on those, and is not taken when one of them did not pass.
    /// Those wait only for their own relation and for its premises, which
    /// are upstream of it, so no cycle is made.
    fn new(ir: &Ir, command: Command, steps: &[Step<'_>], proofs: bool) -> StepGraph {
        let mut built_by: std::collections::HashMap<RelId, usize> = Default::default();
        let mut tests_of: std::collections::HashMap<RelId, Vec<usize>> = Default::default();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Test(id, _) => tests_of.entry(*id).or_default().push(i),
                _ => {
                    built_by.insert(step.relation(), i);
                }
            }
        }
        let ancestors = Ancestors::new(ir);
        let mut deps = vec![Vec::new(); steps.len()];
        for (i, step) in steps.iter().enumerate() {
            let reads = step_reads(ir, step);
            let me = step.relation();
            if let Step::Test(id, test) = step
                && proofs
                && test.proven.is_some()
            {
                // The tests of the parents alone: one that also reads
                // another relation (a relationships test) is no premise,
                // and may wait for a build that waits for this test.
                for r in &ir.relation(*id).deps {
                    deps[i].extend(tests_of.get(r).into_iter().flatten().copied().filter(
                        |&t| matches!(&steps[t], Step::Test(_, premise) if premise.reads.is_empty()),
                    ));
                }
            }
            for r in reads {
                deps[i].extend(built_by.get(&r).copied().filter(|&j| j != i));
                if command != Command::Build || step.is_test() {
                    continue;
                }
                for &t in tests_of.get(&r).into_iter().flatten() {
                    let Step::Test(_, test) = &steps[t] else {
                        continue;
                    };
                    if test
                        .reads
                        .iter()
                        .all(|&other| other != me && ancestors.of(me, other))
                    {
                        deps[i].push(t);
                    }
                }
            }
            deps[i].sort_unstable();
            deps[i].dedup();
        }
        let mut dependents = vec![Vec::new(); steps.len()];
        for (i, d) in deps.iter().enumerate() {
            for &j in d {
                dependents[j].push(i);
            }
        }
        StepGraph { deps, dependents }
    }
}

/// Who descends from whom, computed once per relation asked about.
struct Ancestors<'a> {
    ir: &'a Ir,
    cache: std::cell::RefCell<std::collections::HashMap<RelId, HashSet<RelId>>>,
}

impl<'a> Ancestors<'a> {
    fn new(ir: &'a Ir) -> Ancestors<'a> {
        Ancestors {
            ir,
            cache: Default::default(),
        }
    }

    /// Whether `ancestor` is read, directly or not, by `id`.
    fn of(&self, id: RelId, ancestor: RelId) -> bool {
        let mut cache = self.cache.borrow_mut();
        let all = cache.entry(id).or_insert_with(|| {
            let mut seen = HashSet::new();
            let mut pending = self.ir.relation(id).deps.clone();
            while let Some(r) = pending.pop() {
                if seen.insert(r) {
                    pending.extend(self.ir.relation(r).deps.iter().copied());
                }
            }
            seen
        });
        all.contains(&ancestor)
    }
}

/// What running one step gave.
enum Outcome {
    /// A seed, model or snapshot: the detail's prefix, or the error.
    Built(Result<String, String>),
    /// A test: the failing rows' count and a sample, or the error.
    Tested(Result<(u64, Rows), String>),
    /// Not run, and why (a test reading a relation that is not there).
    Skipped(String),
    /// A test not run because the checker proved it, and how.
    Proven(String),
}

/// Runs one step on one connection (a worker's).
fn perform(
    ir: &Ir,
    emitter: &Emitter<'_>,
    warehouse: &mut dyn Warehouse,
    step: &Step<'_>,
    options: &Options,
    context: &Context,
) -> Outcome {
    if let Some(why) = step_reads(ir, step)
        .iter()
        .find_map(|r| context.missing.get(r))
    {
        return match step {
            Step::Test(..) => Outcome::Tested(Err(why.clone())),
            _ => Outcome::Built(Err(why.clone())),
        };
    }
    match step {
        Step::Seed(seed) => Outcome::Built(
            load_seed(ir, emitter, warehouse, seed).map(|rows| format!("{rows} rows in ")),
        ),
        Step::Snapshot(id) => Outcome::Built(
            context
                .now
                .clone()
                .and_then(|now| snapshot(warehouse, emitter, *id, &now)),
        ),
        Step::Model(id) => Outcome::Built(build_model(
            ir,
            warehouse,
            emitter,
            *id,
            options.full_refresh,
        )),
        Step::Test(_, test) => {
            // A relation a test reads besides its own, that this command
            // does not build: when it does not exist, the test cannot say
            // anything (dbt builds the rest).
            for &r in &test.reads {
                if context.built.contains(&r) {
                    continue;
                }
                let Some(name) = physical_name(ir, r) else {
                    continue;
                };
                if let Ok(None) = warehouse.relation_type(&name) {
                    return Outcome::Skipped(format!(
                        "reads {}, which is not selected and does not exist",
                        name.display()
                    ));
                }
            }
            Outcome::Tested(run_test(warehouse, test))
        }
    }
}

/// What every worker needs besides its step.
struct Context {
    /// The run's time, read from the warehouse once, for every snapshot.
    now: Result<String, String>,
    /// Relations this command builds (or seeds).
    built: HashSet<RelId>,
    /// Relations read and not built that are nowhere (`--defer` looked in
    /// the state's schemas and the current target's): why their readers fail.
    missing: std::collections::HashMap<RelId, String>,
}

/// What `--defer` found: the relations read from the state's names, and
/// those found nowhere.
#[derive(Debug, Default)]
struct Deferral {
    /// In build order.
    reads: Vec<(RelId, PhysicalName)>,
    missing: std::collections::HashMap<RelId, String>,
}

/// What each step reads besides what it builds: a build its parents, a
/// test its relation and the others it reads (through ephemeral models).
fn step_reads(ir: &Ir, step: &Step<'_>) -> Vec<RelId> {
    match step {
        Step::Seed(_) => Vec::new(),
        Step::Test(id, test) => {
            reads_through_ephemerals(ir, std::iter::once(*id).chain(test.reads.clone()))
        }
        _ => reads_through_ephemerals(ir, ir.relation(step.relation()).deps.clone()),
    }
}

/// Decides where each relation the steps read and do not build is read
/// from: with `--favor-state` the state's relation when it exists, else the
/// current target's; without, the current target's when it exists, else
/// the state's (dbt's rule). One that exists in neither is missing.
fn deferral(
    ir: &Ir,
    warehouse: &mut dyn Warehouse,
    defer: &Defer,
    steps: &[Step<'_>],
    built: &HashSet<RelId>,
) -> Result<Deferral, String> {
    let mut read: Vec<RelId> = steps
        .iter()
        .flat_map(|s| step_reads(ir, s))
        .filter(|r| !built.contains(r) && defer.to.contains_key(r))
        .collect();
    // In build order, each once.
    let mut place = vec![0; ir.relations.len()];
    for (i, id) in ir.order.iter().enumerate() {
        place[id.index()] = i;
    }
    read.sort_by_key(|r| place[r.index()]);
    read.dedup();
    let mut out = Deferral::default();
    for r in read {
        let (Some(state), Some(current)) = (defer.to.get(&r), physical_name(ir, r)) else {
            continue;
        };
        let mut exists = |name: &PhysicalName| warehouse.relation_type(name).map(|t| t.is_some());
        let (first, second) = if defer.favor_state {
            (state, &current)
        } else {
            (&current, state)
        };
        let found = if exists(first).map_err(|e| e.to_string())? {
            Some(first)
        } else if exists(second).map_err(|e| e.to_string())? {
            Some(second)
        } else {
            None
        };
        match found {
            Some(name) if name == state => out.reads.push((r, state.clone())),
            Some(_) => {}
            None => {
                out.missing.insert(
                    r,
                    format!(
                        "reads {}, which this command does not build and which exists neither \
                         in the state's schemas ({}, as --state {} built it) nor in the current \
                         target ({})",
                        ir.relation(r).name,
                        state.display(),
                        defer.state,
                        current.display()
                    ),
                );
            }
        }
    }
    Ok(out)
}

/// Prints a finished step's line; returns whether it holds back the steps
/// that wait for it (a failed build, a failed or broken blocking test).
#[allow(clippy::too_many_arguments)]
fn report(
    out: &mut dyn Write,
    ir: &Ir,
    command: Command,
    step: &Step<'_>,
    outcome: Outcome,
    elapsed: f64,
    printer: &Printer,
    summary: &mut Summary,
) -> bool {
    let (kind, name) = describe(ir, step);
    let seconds = &format!("{elapsed:.2}s");
    match outcome {
        Outcome::Built(Ok(prefix)) => {
            summary.ok += 1;
            let rows = match step {
                Step::Seed(_) => prefix.split(' ').next().and_then(|n| n.parse().ok()),
                _ => None,
            };
            summary
                .record(ir, step, "success", elapsed, None)
                .rows_affected = rows;
            printer.line(out, "OK", kind, &name, &format!("{prefix}{seconds}"));
            false
        }
        Outcome::Built(Err(message)) => {
            summary.failed += 1;
            summary.record(ir, step, "error", elapsed, Some(&message));
            printer.line(out, "ERROR", kind, &name, seconds);
            detail(out, &message);
            true
        }
        Outcome::Skipped(reason) => {
            summary.skipped += 1;
            summary.record(ir, step, "skipped", elapsed, Some(&reason));
            printer.line(out, "SKIP", kind, &name, &reason);
            false
        }
        Outcome::Proven(proof) => {
            summary.proven += 1;
            summary.record(ir, step, "proven", elapsed, Some(&proof));
            printer.line(out, "PROVEN", kind, &name, &proof);
            false
        }
        Outcome::Tested(result) => {
            let Step::Test(_, test) = step else {
                return false;
            };
            match result {
                Ok((0, _)) => {
                    summary.ok += 1;
                    summary.record(ir, step, "pass", elapsed, None).failures = Some(0);
                    printer.line(out, "PASS", kind, &name, seconds);
                    false
                }
                Ok((n, sample)) => {
                    let warn = test.severity == TestSeverity::Warn;
                    let message = format!("{n} failing row{}", if n == 1 { "" } else { "s" });
                    summary
                        .record(
                            ir,
                            step,
                            if warn { "warn" } else { "fail" },
                            elapsed,
                            Some(&message),
                        )
                        .failures = Some(n);
                    let status = format!("{} {n}", if warn { "WARN" } else { "FAIL" });
                    printer.line(out, &status, kind, &name, seconds);
                    detail(
                        out,
                        &format!(
                            "{n} failing row{}; the first ones:",
                            if n == 1 { "" } else { "s" }
                        ),
                    );
                    detail(out, &render_rows(&sample));
                    if let Some(hint) = &test.hint {
                        detail(out, &format!("hint: {hint}"));
                    }
                    if warn {
                        summary.warned += 1;
                        false
                    } else {
                        summary.failed += 1;
                        command == Command::Build && !test.standalone
                    }
                }
                Err(message) => {
                    summary.failed += 1;
                    summary.record(ir, step, "error", elapsed, Some(&message));
                    printer.line(out, "ERROR", kind, &name, seconds);
                    detail(out, &message);
                    !test.standalone
                }
            }
        }
    }
}

/// The relations that read a stale source table, directly or through
/// others, and which table and why.
fn downstream_of_stale(ir: &Ir, stale: &HashMap<RelId, String>) -> HashMap<RelId, String> {
    let mut out: HashMap<RelId, String> = HashMap::new();
    if stale.is_empty() {
        return out;
    }
    for &id in &ir.order {
        let reason = ir.relation(id).deps.iter().find_map(|d| {
            stale
                .get(d)
                .map(|why| format!("source {} is stale: {why}", ir.relation(*d).name))
                .or_else(|| out.get(d).cloned())
        });
        if let Some(reason) = reason {
            out.insert(id, reason);
        }
    }
    out
}

/// Writes progress lines: numbered in the order steps finish, the status
/// coloured when asked.
pub(crate) struct Printer {
    total: usize,
    width: usize,
    finished: std::cell::Cell<usize>,
    color: bool,
}

impl Printer {
    pub(crate) fn new(total: usize, color: bool) -> Printer {
        Printer {
            total,
            width: total.to_string().len(),
            finished: std::cell::Cell::new(0),
            color,
        }
    }

    pub(crate) fn line(
        &self,
        out: &mut dyn Write,
        status: &str,
        kind: &str,
        name: &str,
        detail: &str,
    ) {
        let finished = self.finished.get() + 1;
        self.finished.set(finished);
        let counter = format!("{finished:>w$} of {}", self.total, w = self.width);
        let label = format!("{kind} {name} ");
        let dots = ".".repeat(60usize.saturating_sub(label.chars().count()).max(3));
        let padded = format!("{status:<7}");
        let status = match (self.color, status.split(' ').next()) {
            (false, _) => padded,
            (true, Some("OK" | "PASS" | "PROVEN")) => format!("\x1b[32m{padded}\x1b[0m"),
            (true, Some("WARN" | "SKIP")) => format!("\x1b[33m{padded}\x1b[0m"),
            (true, _) => format!("\x1b[31m{padded}\x1b[0m"),
        };
        let _ = writeln!(out, "{counter} {status} {label}{dots} [{detail}]");
    }
}

/// Source tables that the steps read, that this command does not seed,
/// and that do not exist: each is reported once, before anything runs,
/// instead of as the engine's "table does not exist" under every reader.
fn missing_sources(
    ir: &Ir,
    warehouse: &mut dyn Warehouse,
    steps: &[Step<'_>],
    built: &HashSet<RelId>,
) -> Result<Vec<(RelId, usize)>, String> {
    let mut readers: std::collections::BTreeMap<RelId, usize> = Default::default();
    for step in steps {
        for r in step_reads(ir, step) {
            if matches!(ir.relation(r).kind, RelationKind::Table(_)) && !built.contains(&r) {
                *readers.entry(r).or_default() += 1;
            }
        }
    }
    let mut missing = Vec::new();
    for (r, n) in readers {
        let Some(name) = physical_name(ir, r) else {
            continue;
        };
        if warehouse
            .relation_type(&name)
            .map_err(|e| e.to_string())?
            .is_none()
        {
            missing.push((r, n));
        }
    }
    Ok(missing)
}

/// The steps of `command` over a selection, in build order: each
/// relation's build (or seed), then the tests that can run once it is built.
fn plan_steps<'s>(
    ir: &Ir,
    emitter: &Emitter<'_>,
    seeds: &'s [Seed],
    command: Command,
    selection: &Selection,
) -> Vec<Step<'s>> {
    let selected = &selection.relations;
    // A test runs once everything it reads that this command builds is built:
    // after its model, or after the parent of a relationships test if later.
    let position: std::collections::HashMap<RelId, usize> = selected
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    let mut tests_after: Vec<Vec<(RelId, TestSql)>> = vec![Vec::new(); selected.len()];
    // Tests selected without their relation, that read nothing this
    // command builds: they go first.
    let mut tests_first: Vec<(RelId, TestSql)> = Vec::new();
    if matches!(command, Command::Test | Command::Build) {
        // Reconciliations go last among the tests at their anchor: they
        // compare models that have their own tests.
        let tests = selected
            .iter()
            .enumerate()
            .flat_map(|(i, &id)| emitter.tests(id).into_iter().map(move |t| (Some(i), id, t)));
        let reconciliations = selected.iter().enumerate().flat_map(|(i, &id)| {
            emitter
                .reconciliations(id)
                .into_iter()
                .map(move |t| (Some(i), id, t))
        });
        let mut owners: Vec<RelId> = selection.tests.iter().map(|(r, _)| *r).collect();
        owners.dedup();
        let alone = owners.into_iter().flat_map(|id| {
            emitter
                .tests(id)
                .into_iter()
                .chain(emitter.reconciliations(id))
                .filter(move |t| {
                    selection
                        .tests
                        .iter()
                        .any(|(r, n)| *r == id && *n == t.name)
                })
                .map(move |t| (None, id, t))
        });
        for (i, id, test) in tests.chain(reconciliations).chain(alone) {
            let anchor = test
                .reads
                .iter()
                .filter_map(|r| position.get(r).copied())
                .chain(i)
                .max();
            match anchor {
                Some(anchor) => tests_after[anchor].push((id, test)),
                None => tests_first.push((id, test)),
            }
        }
    }
    let mut steps: Vec<Step<'_>> = tests_first
        .into_iter()
        .map(|(id, t)| Step::Test(id, t))
        .collect();
    for (i, &id) in selected.iter().enumerate() {
        let rel = ir.relation(id);
        match &rel.kind {
            RelationKind::Table(_) => {
                if matches!(command, Command::Seed | Command::Build)
                    && let Some(seed) = seeds.iter().find(|s| s.relation == id)
                {
                    steps.push(Step::Seed(seed));
                }
            }
            RelationKind::Model(model) => {
                if matches!(command, Command::Run | Command::Build)
                    && model.materialized != Materialized::Ephemeral
                {
                    steps.push(Step::Model(id));
                }
            }
            RelationKind::Snapshot(_) => {
                if matches!(command, Command::Run | Command::Build | Command::Snapshot) {
                    steps.push(Step::Snapshot(id));
                }
            }
            RelationKind::Series(_) => {}
        }
        steps.extend(
            std::mem::take(&mut tests_after[i])
                .into_iter()
                .map(|(id, t)| Step::Test(id, t)),
        );
    }

    steps
}

/// Where `--defer` may read the relations a command reads but does not
/// build: the physical names another run (`--state`) built them under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defer {
    /// The state's name of each model and snapshot whose name there is not
    /// its name here.
    pub to: std::collections::HashMap<RelId, PhysicalName>,
    /// Read the state's relation even when the current target has one
    /// (`--favor-state`); otherwise the current target's comes first.
    pub favor_state: bool,
    /// The state's folder, as progress lines name it.
    pub state: String,
}

/// Runs `command` over the `selected` relations (in build order) and the
/// tests selected on their own; with `defer`, what they read and this
/// command does not build may be read from another run's schemas.
pub fn execute(
    ir: &Ir,
    warehouse: &mut (dyn Warehouse + Send),
    seeds: &[Seed],
    command: Command,
    options: Options,
    selection: &Selection,
    out: &mut dyn Write,
) -> Summary {
    let defer = options.defer.as_ref();
    let emitter = Emitter::new(ir, warehouse.dialect()).for_run(&run_id());
    let mut steps = plan_steps(ir, &emitter, seeds, command, selection);
    if steps.is_empty() {
        // `-s state:modified` when nothing changed: a success.
        let _ = writeln!(
            out,
            "Nothing to do on {}: the selection has no node this command runs",
            warehouse.describe()
        );
        return Summary::default();
    }
    let built: HashSet<RelId> = steps
        .iter()
        .filter(|s| !s.is_test())
        .map(Step::relation)
        .collect();
    let mut summary = Summary::default();
    // `--check-freshness` found these in error: each is a failed node.
    let mut stale: Vec<(&RelId, &String)> = options.stale.iter().collect();
    stale.sort();
    for (id, why) in stale {
        summary.failed += 1;
        let name = ir.relation(*id).name.clone();
        summary.record_node(
            "source",
            name,
            "error",
            0.0,
            Some(&format!("freshness: {why}")),
        );
    }
    let deferral = match defer {
        None => Deferral::default(),
        Some(defer) => match deferral(ir, warehouse, defer, &steps, &built) {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                summary.failed += 1;
                return summary;
            }
        },
    };
    for (r, to) in &deferral.reads {
        let rel = ir.relation(*r);
        summary.deferred.push(DeferredRead {
            kind: crate::manifest::relation_kind(rel),
            name: rel.name.clone(),
            relation: to.display(),
        });
        let _ = writeln!(
            out,
            "defer   {} → {} (as --state {} built it)",
            rel.name,
            to.display(),
            defer.map_or("", |d| d.state.as_str())
        );
    }
    let emitter = emitter.reading(deferral.reads.iter().cloned().collect());
    if !deferral.reads.is_empty() {
        // Tests hold the names of what they read.
        steps = plan_steps(ir, &emitter, seeds, command, selection);
    }

    let started = Instant::now();
    let total = steps.len();
    match missing_sources(ir, warehouse, &steps, &built) {
        Ok(missing) if missing.is_empty() => {}
        Ok(missing) => {
            for (r, readers) in &missing {
                let name = physical_name(ir, *r).map_or_else(String::new, |n| n.display());
                let identifier = match &ir.relation(*r).kind {
                    RelationKind::Table(t) => t.identifier.as_str(),
                    _ => "",
                };
                // Seeded, but not by this command: its seed is not selected.
                let why = if ir.seeded.contains(r) {
                    format!(
                        "and its seed ({identifier}.csv) is not selected: select it too \
                         (`+` before a selector selects what it reads) or --defer to a run \
                         that loaded it"
                    )
                } else {
                    format!("and no seed file fills it ({identifier}.csv)")
                };
                let _ = writeln!(
                    out,
                    "error: source table `{}` does not exist in {} ({name}), {why}; {readers} \
                     selected node{} read{} it",
                    ir.relation(*r).name,
                    warehouse.describe(),
                    if *readers == 1 { "" } else { "s" },
                    if *readers == 1 { "s" } else { "" },
                );
            }
            let _ = writeln!(
                out,
                "nothing was run: load the table{} into the warehouse, or add the seed file{}",
                if missing.len() == 1 { "" } else { "s" },
                if missing.len() == 1 { "" } else { "s" },
            );
            summary.failed += missing.len();
            return summary;
        }
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            summary.failed += 1;
            return summary;
        }
    }
    if options.exclusive
        && let Err(e) = drop_leftovers(ir, &emitter, warehouse, out)
    {
        let _ = writeln!(out, "error: {e}");
        summary.failed += 1;
        return summary;
    }
    let context = Context {
        now: if steps.iter().any(|s| matches!(s, Step::Snapshot(_))) {
            run_clock(warehouse, &emitter)
        } else {
            Err(String::new())
        },
        built,
        missing: deferral.missing,
    };
    // One connection per worker; the first is the caller's.
    let mut others: Vec<Box<dyn Warehouse + Send>> = Vec::new();
    let mut note = None;
    for _ in 1..options.threads.clamp(1, total.max(1)) {
        match warehouse.connect_another() {
            Ok(w) => others.push(w),
            Err(e) => {
                note = Some(format!(
                    "(running on {} connection(s): another could not be opened: {e})",
                    others.len() + 1
                ));
                break;
            }
        }
    }
    let workers = others.len() + 1;
    let creating: Vec<RelId> = context.built.iter().copied().collect();
    for statement in emitter.create_schemas(&creating) {
        if let Err(e) = warehouse.execute(&statement) {
            let _ = writeln!(out, "error: {e}");
            summary.failed += 1;
            return summary;
        }
    }
    let hooks = &options.hooks;
    if !run_hooks(
        warehouse,
        "on_run_start",
        &hooks.start,
        options.color,
        out,
        &mut summary,
    ) {
        let _ = writeln!(
            out,
            "Skipping the {total} node{}: an on_run_start hook failed",
            if total == 1 { "" } else { "s" }
        );
        for step in &steps {
            summary.skipped += 1;
            summary.record(
                ir,
                step,
                "skipped",
                0.0,
                Some("an on_run_start hook failed"),
            );
        }
        end(warehouse, &options, out, started, &mut summary);
        return summary;
    }
    let _ = writeln!(
        out,
        "Running {total} nodes on {} with {workers} thread{}",
        warehouse.describe(),
        if workers == 1 { "" } else { "s" }
    );
    if let Some(note) = note {
        let _ = writeln!(out, "{note}");
    }
    let proofs = !options.verify_proofs;
    let graph = StepGraph::new(ir, command, &steps, proofs);
    let mut waiting: Vec<usize> = graph.deps.iter().map(Vec::len).collect();
    let mut ready: std::collections::BTreeSet<usize> =
        (0..total).filter(|i| waiting[*i] == 0).collect();
    // Steps that hold back the steps waiting for them: a failed build, a
    // failed blocking test, and a skipped build (its relation is not there).
    let mut holds_back = vec![false; total];
    // Tests that ended otherwise than passing (or proven): a proof that
    // rests on one of them is not taken, and the test runs.
    let mut doubtful = vec![false; total];
    let stale = downstream_of_stale(ir, &options.stale);
    let printer = Printer::new(total, options.color);
    let steps = &steps;
    let (emitter, context, options) = (&emitter, &context, &options);

    let (jobs, queue) = std::sync::mpsc::channel::<usize>();
    let queue = std::sync::Mutex::new(queue);
    let (results, outcomes) = std::sync::mpsc::channel::<(usize, Outcome, f64)>();
    std::thread::scope(|scope| {
        let queue = &queue;
        let mut started_workers = 0;
        let mut connections: Vec<&mut (dyn Warehouse + Send)> = vec![warehouse];
        connections.extend(others.iter_mut().map(|w| w.as_mut()));
        for connection in connections {
            let results = results.clone();
            let worker = std::thread::Builder::new().stack_size(crate::STACK_SIZE);
            let spawned = worker.spawn_scoped(scope, move || {
                loop {
                    let job = queue.lock().map(|q| q.recv());
                    let Ok(Ok(i)) = job else { break };
                    let t = Instant::now();
                    let outcome = perform(ir, emitter, connection, &steps[i], options, context);
                    if results
                        .send((i, outcome, t.elapsed().as_secs_f64()))
                        .is_err()
                    {
                        break;
                    }
                }
            });
            started_workers += usize::from(spawned.is_ok());
        }
        drop(results);
        // A worker that could not start took its connection with it.
        let workers = started_workers.min(workers);
        if workers == 0 {
            let _ = writeln!(out, "error: no worker thread could be started");
            summary.failed += 1;
            return;
        }

        let mut in_flight = 0;
        let mut finished = 0;
        // What finishing step `i` makes ready.
        let mut complete = |i: usize, ready: &mut std::collections::BTreeSet<usize>| {
            finished += 1;
            for &next in &graph.dependents[i] {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.insert(next);
                }
            }
        };
        loop {
            while in_flight < workers
                && let Some(i) = ready.pop_first()
            {
                let step = &steps[i];
                let stale_read = match step {
                    Step::Seed(_) => None,
                    _ => stale.get(&step.relation()),
                };
                if let Some(reason) = stale_read {
                    holds_back[i] = !step.is_test();
                    doubtful[i] = step.is_test();
                    summary.skipped += 1;
                    summary.record(ir, step, "skipped", 0.0, Some(reason));
                    let (kind, name) = describe(ir, step);
                    printer.line(out, "SKIP", kind, &name, reason);
                    complete(i, &mut ready);
                    continue;
                }
                if graph.deps[i].iter().any(|&d| holds_back[d]) {
                    // A skipped test failed nothing: only what was not
                    // built holds back what depends on it.
                    holds_back[i] = !step.is_test();
                    doubtful[i] = step.is_test();
                    summary.skipped += 1;
                    summary.record(ir, step, "skipped", 0.0, Some("upstream failed"));
                    let (kind, name) = describe(ir, step);
                    printer.line(out, "SKIP", kind, &name, "upstream failed");
                    complete(i, &mut ready);
                    continue;
                }
                if let Step::Test(_, test) = step
                    && let Some(proof) = &test.proven
                    && proofs
                    && !graph.deps[i].iter().any(|&d| doubtful[d])
                {
                    let proven = Outcome::Proven(proof.clone());
                    report(out, ir, command, step, proven, 0.0, &printer, &mut summary);
                    complete(i, &mut ready);
                    continue;
                }
                if jobs.send(i).is_err() {
                    break;
                }
                in_flight += 1;
            }
            if in_flight == 0 {
                break;
            }
            let Ok((i, outcome, seconds)) = outcomes.recv() else {
                break;
            };
            in_flight -= 1;
            doubtful[i] = steps[i].is_test() && !matches!(outcome, Outcome::Tested(Ok((0, _))));
            holds_back[i] = report(
                out,
                ir,
                command,
                &steps[i],
                outcome,
                seconds,
                &printer,
                &mut summary,
            );
            complete(i, &mut ready);
        }
        drop(jobs);
        // Every step waits only for steps upstream of it; were that ever
        // not so, the run must not end as if everything had run.
        let never = total - finished;
        if never > 0 && workers > 0 {
            let _ = writeln!(
                out,
                "error: {never} node{} never became ready to run (a bug in shopc)",
                if never == 1 { "" } else { "s" }
            );
            summary.failed += never;
        }
    });
    end(warehouse, options, out, started, &mut summary);
    summary
}

/// The end of a run that started: its `on_run_end` hooks, then its last
/// line.
fn end(
    warehouse: &mut dyn Warehouse,
    options: &Options,
    out: &mut dyn Write,
    started: Instant,
    summary: &mut Summary,
) {
    let hooks = &options.hooks.end;
    run_hooks(warehouse, "on_run_end", hooks, options.color, out, summary);
    let _ = writeln!(
        out,
        "\nFinished in {:.2}s: {}",
        started.elapsed().as_secs_f64(),
        summary.counts().sentence(),
    );
}

/// Runs hooks one after another, a progress line each (`hook
/// on_run_start.1`); returns whether every one succeeded.
fn run_hooks(
    warehouse: &mut dyn Warehouse,
    which: &str,
    hooks: &[String],
    color: bool,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> bool {
    if hooks.is_empty() {
        return true;
    }
    let _ = writeln!(
        out,
        "Running {} {which} hook{}",
        hooks.len(),
        if hooks.len() == 1 { "" } else { "s" }
    );
    let printer = Printer::new(hooks.len(), color);
    let mut all = true;
    for (i, sql) in hooks.iter().enumerate() {
        let name = format!("{which}.{}", i + 1);
        let started = Instant::now();
        let result = warehouse.execute(sql);
        let seconds = started.elapsed().as_secs_f64();
        let (status, message) = match result {
            Ok(()) => {
                summary.ok += 1;
                printer.line(out, "OK", "hook", &name, &format!("{seconds:.2}s"));
                ("success", None)
            }
            Err(e) => {
                all = false;
                summary.failed += 1;
                printer.line(out, "ERROR", "hook", &name, &format!("{seconds:.2}s"));
                detail(out, &e.to_string());
                ("error", Some(e.to_string()))
            }
        };
        summary.record_node("hook", name, status, seconds, message.as_deref());
    }
    let _ = writeln!(out);
    all
}

fn describe(ir: &Ir, step: &Step<'_>) -> (&'static str, String) {
    let physical = |id: RelId| {
        physical_name(ir, id).map_or_else(|| ir.relation(id).name.clone(), |p| p.display())
    };
    match step {
        Step::Seed(seed) => ("seed", physical(seed.relation)),
        Step::Model(id) => {
            let kind = match &ir.relation(*id).kind {
                RelationKind::Model(m) => match m.materialized {
                    Materialized::View => "view",
                    Materialized::Incremental(_) => "incremental",
                    _ => "table",
                },
                _ => "table",
            };
            (kind, physical(*id))
        }
        Step::Snapshot(id) => ("snapshot", physical(*id)),
        Step::Test(_, test) => ("test", test.name.clone()),
    }
}

fn detail(out: &mut dyn Write, message: &str) {
    for l in message.trim_end().lines() {
        let _ = writeln!(out, "      {l}");
    }
}

fn load_seed(
    ir: &Ir,
    emitter: &Emitter<'_>,
    warehouse: &mut dyn Warehouse,
    seed: &Seed,
) -> Result<u64, String> {
    let path =
        std::fs::canonicalize(&seed.path).map_err(|e| format!("{}: {e}", seed.path.display()))?;
    let Some(statements) = emitter.seed(seed.relation, &path.to_string_lossy()) else {
        return Err(format!("{} cannot load CSV files", warehouse.describe()));
    };
    // A warehouse that is sent the rows gets them as they were validated,
    // re-encoded; one that reads the file (DuckDB) is held to the count.
    let (rows, canonical) = if statements.load_into.is_some() {
        let canonical = seed::canonical(ir, seed).map_err(|e| e.to_string())?;
        (canonical.rows, Some(canonical))
    } else {
        (seed::validate(ir, seed).map_err(|e| e.to_string())?, None)
    };
    let expected = Some((rows, seed.path.as_path()));
    let describe = warehouse.describe();
    build_with(
        warehouse,
        emitter,
        statements,
        expected,
        |warehouse, table| match &canonical {
            Some(canonical) => warehouse
                .copy_csv(table, canonical)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => Ok(()),
        },
    )
    .map_err(|e| locate_load_error(e, &seed.path, &describe, canonical.as_ref()))?;
    Ok(rows)
}

/// A warehouse's error about one line of a seed that the validator took
/// (a line longer than DuckDB reads, a value a server refuses), as
/// `seeds/t.csv:3: duckdb … cannot load this line: …`: the file and line,
/// and what the engine said of it, without its advice about reader options
/// shopc sets itself. Any other error is left as it is.
fn locate_load_error(
    error: String,
    file: &Path,
    warehouse: &str,
    canonical: Option<&seed::Canonical>,
) -> String {
    let number = |text: &str| -> Option<u64> {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    // DuckDB's reader: `CSV Error on Line: 3`, `Original Line: …`, then
    // the reason, then advice and the reader's options.
    if let Some((_, rest)) = error.split_once("CSV Error on Line: ")
        && let Some(line) = number(rest)
    {
        let reason: Vec<&str> = rest
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with("Original Line:"))
            .take_while(|l| !l.trim().is_empty())
            .collect();
        return format!(
            "{}:{line}: {warehouse} cannot load this line: {}; nothing was loaded",
            file.display(),
            reason.join(" ").trim_end_matches('.')
        );
    }
    // PostgreSQL's COPY: `CONTEXT: COPY t__shopc_new_…, line 3, column d: …`,
    // a line of the canonical CSV it was sent.
    if let Some((_, context)) = error.split_once("CONTEXT: COPY ")
        && let Some((_, rest)) = context.split_once(", line ")
        && let Some(line) = number(rest).and_then(|l| canonical?.file_line(l))
    {
        let message = error.lines().next().unwrap_or_default();
        let column = rest
            .split_once(", column ")
            .map(|(_, c)| format!(" (column {})", c.lines().next().unwrap_or_default()))
            .unwrap_or_default();
        return format!(
            "{}:{line}: {warehouse} cannot load this line{column}: {message}; nothing was loaded",
            file.display()
        );
    }
    error
}

/// Builds a model: an incremental model whose table exists is brought up to
/// date in one transaction (after any schema change its policy allows);
/// anything else is built in full. Returns the detail's prefix.
fn build_model(
    ir: &Ir,
    warehouse: &mut dyn Warehouse,
    emitter: &Emitter<'_>,
    id: RelId,
    full_refresh: bool,
) -> Result<String, String> {
    let incremental = match &ir.relation(id).kind {
        RelationKind::Model(m) => match &m.materialized {
            Materialized::Incremental(inc) => Some(inc),
            _ => None,
        },
        _ => None,
    };
    if let (Some(inc), false, Some(target)) = (incremental, full_refresh, physical_name(ir, id))
        && warehouse
            .relation_type(&target)
            .map_err(|e| e.to_string())?
            == Some(RelationType::Table)
    {
        let mut statements = schema_change(ir, warehouse, emitter, id, inc, &target)?;
        statements.extend(emitter.incremental(id).unwrap_or_default());
        warehouse
            .transaction(&statements)
            .map_err(|e| e.to_string())?;
        return Ok(match inc.strategy {
            IncrementalStrategy::Merge => "merge in ",
            IncrementalStrategy::Append => "append in ",
        }
        .to_string());
    }
    build(warehouse, emitter, emitter.build(id))?;
    Ok(if incremental.is_some() {
        "full refresh in ".to_string()
    } else {
        String::new()
    })
}

/// The statements that adapt an incremental model's table to the model's
/// columns, as `on_schema_change` allows; an error when it does not.
fn schema_change(
    ir: &Ir,
    warehouse: &mut dyn Warehouse,
    emitter: &Emitter<'_>,
    id: RelId,
    inc: &crate::ir::Incremental,
    target: &PhysicalName,
) -> Result<Vec<String>, String> {
    let rel = ir.relation(id);
    let existing: Vec<String> = warehouse
        .columns(target)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let added: Vec<(&String, &crate::ir::ColumnId)> = rel
        .columns
        .iter()
        .filter(|(name, _)| !existing.contains(name))
        .collect();
    let removed: Vec<&String> = existing
        .iter()
        .filter(|name| !rel.columns.contains_key(*name))
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(Vec::new());
    }
    let list = |names: Vec<&String>| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let adds = added.iter().map(|(_, c)| emitter.add_column(target, **c));
    match inc.on_schema_change {
        OnSchemaChange::Fail => {
            let mut changes = Vec::new();
            if !added.is_empty() {
                changes.push(format!(
                    "new columns {}",
                    list(added.iter().map(|(n, _)| *n).collect())
                ));
            }
            if !removed.is_empty() {
                changes.push(format!("removed columns {}", list(removed.clone())));
            }
            Err(format!(
                "the model's columns changed since `{}` was built: {}.
                 Run with --full-refresh to rebuild it, or set                  `on_schema_change = \"append_new_columns\"` or `\"sync_all_columns\"`.",
                target.display(),
                changes.join("; ")
            ))
        }
        OnSchemaChange::AppendNewColumns => Ok(adds.collect()),
        OnSchemaChange::SyncAllColumns => Ok(adds
            .chain(removed.iter().map(|n| emitter.drop_column(target, n)))
            .collect()),
    }
}

/// The run's time as a timestamp literal, read from the warehouse's clock.
fn run_clock(warehouse: &mut dyn Warehouse, emitter: &Emitter<'_>) -> Result<String, String> {
    let rows = warehouse
        .query(&emitter.now_query())
        .map_err(|e| e.to_string())?;
    let now = rows
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .ok_or("the warehouse returned no current time")?;
    Ok(emitter.timestamp_literal(&now))
}

/// Runs a snapshot: creates its table on the first run, else closes and
/// inserts versions in one transaction.
fn snapshot(
    warehouse: &mut dyn Warehouse,
    emitter: &Emitter<'_>,
    id: RelId,
    now: &str,
) -> Result<String, String> {
    let (Some(target), Some(sql)) = (physical_name(emitter.ir(), id), emitter.snapshot(id, now))
    else {
        return Err("not a snapshot".into());
    };
    if warehouse
        .relation_type(&target)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        warehouse
            .transaction(&sql.update)
            .map_err(|e| e.to_string())?;
        return Ok("updated in ".into());
    }
    let (schema, create) = sql.create.split_at(1);
    for statement in schema {
        warehouse.execute(statement).map_err(|e| e.to_string())?;
    }
    warehouse.transaction(create).map_err(|e| e.to_string())?;
    Ok("created in ".into())
}

/// A run's own id, [`crate::ir::RUN_ID_DIGITS`] hex digits from the
/// process and the clock: the suffix of its scratch tables.
fn run_id() -> String {
    use sha2::Digest;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let digest = sha2::Sha256::digest(format!("{} {}", std::process::id(), now.as_nanos()));
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(crate::ir::RUN_ID_DIGITS)
        .map(|d| char::from_digit(u32::from(d), 16).unwrap_or('0'))
        .collect()
}

/// Drops the scratch tables of the project's relations that an interrupted
/// run left (`NAME__shopc_new…`, see [`crate::emit::is_scratch_of`]), and
/// says which. Only when no other run can be writing them.
fn drop_leftovers(
    ir: &Ir,
    emitter: &Emitter<'_>,
    warehouse: &mut dyn Warehouse,
    out: &mut dyn Write,
) -> Result<(), String> {
    let mut by_schema: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for rel in &ir.relations {
        if let Some(name) = physical_name(ir, rel.id) {
            by_schema.entry(name.schema).or_default().push(name.name);
        }
    }
    let mut dropped = Vec::new();
    for (schema, names) in by_schema {
        let tables = warehouse.tables(&schema).map_err(|e| e.to_string())?;
        for table in tables {
            if names.iter().any(|n| crate::emit::is_scratch_of(&table, n)) {
                let leftover = PhysicalName {
                    schema: schema.clone(),
                    name: table,
                };
                warehouse
                    .execute(&emitter.drop(&leftover, RelationType::Table))
                    .map_err(|e| e.to_string())?;
                dropped.push(leftover.display());
            }
        }
    }
    if !dropped.is_empty() {
        let _ = writeln!(
            out,
            "Dropped {} table{} an interrupted run left: {}",
            dropped.len(),
            if dropped.len() == 1 { "" } else { "s" },
            dropped.join(", ")
        );
    }
    Ok(())
}

/// Builds beside, then swaps in one transaction.
fn build(warehouse: &mut dyn Warehouse, emitter: &Emitter<'_>, build: Build) -> Result<(), String> {
    build_with(warehouse, emitter, build, None, |_, _| Ok(()))
}

/// [`build`], with `load` filling the table a seed is copied into.
/// Runs a build: `prepare`, the load (`load`, into `load_into`), then the
/// swap or the refill. With `expected` (a seed's validated row count and
/// its file), the new table must hold exactly that many rows before it
/// takes the old one's place: an engine that drops rows it cannot read
/// (DuckDB's CSV reader, of a line of 32 MiB or more) fails the load and
/// leaves the old table as it was.
fn build_with(
    warehouse: &mut dyn Warehouse,
    emitter: &Emitter<'_>,
    build: Build,
    expected: Option<(u64, &Path)>,
    load: impl FnOnce(&mut dyn Warehouse, &PhysicalName) -> Result<(), String>,
) -> Result<(), String> {
    let Some(target) = &build.target else {
        return Ok(());
    };
    for statement in &build.prepare {
        warehouse.execute(statement).map_err(|e| e.to_string())?;
    }
    if let Some(table) = &build.load_into {
        load(warehouse, table)?;
    }
    if let (Some((rows, file)), Some(staged)) = (expected, &build.staged) {
        let loaded = warehouse
            .query(&emitter.count_rows(staged))
            .map_err(|e| e.to_string())?
            .first_value();
        if loaded != rows.to_string() {
            let _ = warehouse.execute(&emitter.drop(staged, RelationType::Table));
            return Err(format!(
                "`{}` has {rows} row{}, but {} loaded {loaded} (it dropped rows it could \
                 not read, such as a very long line): {} is left as it was",
                file.display(),
                if rows == 1 { "" } else { "s" },
                warehouse.describe(),
                target.display()
            ));
        }
    }
    let existing = warehouse.relation_type(target).map_err(|e| e.to_string())?;
    // A refill moves the rows of the table built beside (`staged`).
    if let Some(staging) = build.staged.as_ref().filter(|_| !build.refill.is_empty())
        && existing == Some(RelationType::Table)
    {
        let same_columns = warehouse.columns(target).map_err(|e| e.to_string())?
            == warehouse.columns(staging).map_err(|e| e.to_string())?;
        if same_columns {
            return warehouse
                .transaction(&build.refill)
                .map_err(|e| e.to_string());
        }
    }
    let mut swap = Vec::new();
    match existing {
        // `CREATE OR REPLACE` replaces its own kind; anything else is dropped first.
        // The swap replaces a relation of its own type itself.
        Some(existing) if existing == build.relation_type => {}
        Some(existing) => swap.push(emitter.drop(target, existing)),
        None => {}
    }
    swap.extend(build.swap.iter().cloned());
    warehouse.transaction(&swap).map_err(|e| e.to_string())
}

/// Runs a test query: the number of failing rows and a few of them.
fn run_test(warehouse: &mut dyn Warehouse, test: &TestSql) -> Result<(u64, Rows), String> {
    let count = warehouse
        .query(&format!(
            "SELECT count(*) AS failures FROM (\n{}\n) AS t",
            test.sql
        ))
        .map_err(|e| e.to_string())?;
    let n = count
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if n == 0 {
        return Ok((0, Rows::default()));
    }
    let sample = warehouse
        .query(&format!("SELECT * FROM (\n{}\n) AS t LIMIT 5", test.sql))
        .map_err(|e| e.to_string())?;
    Ok((n, sample))
}

/// A small text table of rows.
pub fn render_rows(rows: &Rows) -> String {
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    let mut widths: Vec<usize> = rows.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows.rows {
        for (i, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell(v).chars().count().min(60));
            }
        }
    }
    let fmt_row = |values: Vec<String>| {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let v: String = v.chars().take(60).collect();
                format!("{v:<w$}", w = widths.get(i).copied().unwrap_or(0))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut out = vec![fmt_row(rows.columns.clone())];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    for row in &rows.rows {
        out.push(fmt_row(row.iter().map(cell).collect()));
    }
    out.join("\n")
}
