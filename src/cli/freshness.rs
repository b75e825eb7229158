//! `shopc source freshness`, and `shopc build --check-freshness`, which
//! runs it first: how long ago each source table was loaded, written to
//! `target/sources.json`.

use super::*;

use crate::freshness::{Freshness, Status};
use crate::ir::RelId;

/// `shopc source freshness [-s …]`: one line per selected source table;
/// exit 1 on an error (and on a warning with `--warn-error`).
pub(super) fn source_freshness(args: &RunArgs, warn_error: bool) -> ExitCode {
    let Prepared {
        loaded,
        config,
        compilation,
        selected,
        target,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let ir = &compilation.ir;
    let tables: Vec<RelId> = selected
        .relations
        .iter()
        .copied()
        .filter(|id| matches!(ir.relation(*id).kind, RelationKind::Table(_)))
        .collect();
    if tables.is_empty() {
        say!("Nothing to do: the selection has no source table");
        return ExitCode::SUCCESS;
    }
    let (found, mut warehouse) = match connect(
        &loaded.root,
        &config,
        target.as_deref(),
        args.database.as_deref(),
    ) {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let started = chrono::Utc::now();
    let results = check_and_record(
        ir,
        warehouse.as_mut(),
        &tables,
        &loaded.root.join(&config.paths.target),
        &config.name,
        progress_color(args.color),
    );
    let count = |status: Status| results.iter().filter(|r| r.status == status).count();
    let errors = count(Status::Error) + count(Status::RuntimeError);
    let warned = count(Status::Warn);
    say!(
        "\nFinished in {:.2}s: {} pass, {} warn, {} error{}, {} skipped",
        (chrono::Utc::now() - started).num_milliseconds() as f64 / 1000.0,
        count(Status::Pass),
        warned,
        errors,
        if errors == 1 { "" } else { "s" },
        count(Status::Skipped),
    );
    let counts = crate::notify::Counts {
        ok: count(Status::Pass),
        warnings: warned,
        errors,
        skipped: count(Status::Skipped),
        proven: 0,
    };
    let problems = results
        .iter()
        .filter(|r| !matches!(r.status, Status::Pass | Status::Skipped))
        .map(|r| crate::notify::Problem {
            unique_id: crate::manifest::relation_id(&config.name, ir.relation(r.relation)),
            status: r.status.name().to_string(),
            message: Some(r.message.clone()),
        })
        .collect();
    let ran = Ran {
        config: &config,
        ir,
        target: &found,
        command: "source freshness",
        started,
    };
    ran.notify(counts, problems, warned + count(Status::Error) > 0);
    if errors > 0 || (warn_error && warned > 0) {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Checks the freshness of `tables`, one line each after a header, and
/// writes `target/sources.json`.
fn check_and_record(
    ir: &crate::ir::Ir,
    warehouse: &mut dyn crate::warehouse::Warehouse,
    tables: &[RelId],
    dir: &std::path::Path,
    project: &str,
    color: bool,
) -> Vec<Freshness> {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Checking the freshness of {} source table{} on {}",
        tables.len(),
        plural(tables.len()),
        warehouse.describe()
    );
    let started = chrono::Utc::now();
    let results = crate::freshness::check(ir, warehouse, tables, color, &mut out);
    write_sources(dir, project, ir, started, &results);
    results
}

/// `build --check-freshness`: the freshness of the source tables the
/// selection reads, checked before anything runs; returns the tables in
/// error, with why, so that what reads them is skipped, and whether any
/// was past a threshold. A table this command seeds is loaded by it, so a
/// table it cannot read yet is not an error.
pub(super) fn stale_sources(
    ir: &crate::ir::Ir,
    warehouse: &mut dyn crate::warehouse::Warehouse,
    selected: &crate::plan::Selection,
    seeds: &[crate::seed::Seed],
    dir: &std::path::Path,
    project: &str,
    color: bool,
) -> (std::collections::HashMap<RelId, String>, bool) {
    // Every source table upstream of the selection, in build order.
    let mut read = vec![false; ir.relations.len()];
    let mut stack: Vec<RelId> = selected.relations.clone();
    while let Some(id) = stack.pop() {
        if !std::mem::replace(&mut read[id.index()], true) {
            stack.extend(ir.relation(id).deps.iter().copied());
        }
    }
    let tables: Vec<RelId> = ir
        .order
        .iter()
        .copied()
        .filter(|id| read[id.index()] && matches!(ir.relation(*id).kind, RelationKind::Table(_)))
        .collect();
    if tables.is_empty() {
        return Default::default();
    }
    let results = check_and_record(ir, warehouse, &tables, dir, project, color);
    say!("");
    let past = results
        .iter()
        .any(|r| matches!(r.status, Status::Warn | Status::Error));
    let seeded: std::collections::HashSet<RelId> = seeds.iter().map(|s| s.relation).collect();
    let stale = results
        .into_iter()
        .filter(|r| {
            r.status == Status::Error
                || (r.status == Status::RuntimeError && !seeded.contains(&r.relation))
        })
        .map(|r| (r.relation, r.message))
        .collect();
    (stale, past)
}

/// Writes `target/sources.json`: each table's freshness and the
/// invocation; a failure to write it is a warning.
fn write_sources(
    dir: &std::path::Path,
    project: &str,
    ir: &crate::ir::Ir,
    started: chrono::DateTime<chrono::Utc>,
    results: &[Freshness],
) {
    let results: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut value = serde_json::to_value(r).unwrap_or_default();
            value["unique_id"] =
                crate::manifest::relation_id(project, ir.relation(r.relation)).into();
            value
        })
        .collect();
    write_artifact(
        &dir.join("sources.json"),
        &run_artifact(
            project,
            &ir.environment,
            started,
            serde_json::json!({ "results": results }),
        ),
    );
}
