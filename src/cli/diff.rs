//! `shopc diff --state DIR`: what the last run built, next to the same
//! relations where another run (production) built them: the rows of each,
//! and the totals of every reconciliation that reads one. A pull request's
//! job summary says with it whether the one revenue number moved.

use super::*;

use std::fmt::Write as _;

use crate::emit::{Emitter, PhysicalName};
use crate::ir::RelId;

/// One relation the last run built.
struct RelationDiff {
    name: String,
    here: PhysicalName,
    there: Option<PhysicalName>,
    rows_here: Result<u64, String>,
    /// `None`: the state's run has no such relation (a new model), or it
    /// is not in the warehouse any more.
    rows_there: Option<Result<u64, String>>,
}

/// One reconciliation that reads a relation the last run built: each term's
/// total here and there.
struct ReconcileDiff {
    name: String,
    terms: Vec<(String, Figure, Figure)>,
}

/// A total as the warehouse wrote it, or why it could not be read.
type Figure = Result<String, String>;

struct Report {
    here: String,
    there: String,
    state: String,
    warehouse: String,
    relations: Vec<RelationDiff>,
    reconciles: Vec<ReconcileDiff>,
}

pub(super) fn diff(args: &RunArgs, state: &std::path::Path, format: DiffFormat) -> ExitCode {
    let Prepared {
        loaded,
        config,
        compilation,
        target,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let ir = &compilation.ir;
    let previous = match read_state_manifest(state, &config, "--state") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let results_path = loaded
        .root
        .join(&config.paths.target)
        .join("run_results.json");
    let last = match last_run(&results_path, &ir.environment.name) {
        Ok(last) => last,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let ids: std::collections::HashMap<String, RelId> = ir
        .relations
        .iter()
        .map(|rel| (crate::manifest::relation_id(&config.name, rel), rel.id))
        .collect();
    let built: std::collections::HashSet<RelId> = last["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "success")
        .filter(|r| matches!(r["unique_id"].as_str(), Some(id) if !id.starts_with("seed.")))
        .filter_map(|r| ids.get(r["unique_id"].as_str()?).copied())
        .collect();
    // Where the last run read what it did not build (`--defer`).
    let deferred: std::collections::HashMap<RelId, PhysicalName> = last["deferred"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let id = *ids.get(d["unique_id"].as_str()?)?;
            let (schema, name) = d["relation"].as_str()?.split_once('.')?;
            Some((
                id,
                PhysicalName {
                    schema: schema.to_string(),
                    name: name.to_string(),
                },
            ))
        })
        .collect();
    // Where the state's run built each relation, where that is elsewhere.
    let theirs = defer_to(state, &previous, &config.name, ir, false).to;
    let (found, mut warehouse) = match connect(
        &loaded.root,
        &config,
        target.as_deref(),
        args.database.as_deref(),
    ) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dialect = found.target.dialect();
    let counter = Emitter::new(ir, dialect);
    let mut count = |name: &PhysicalName| -> Option<Result<u64, String>> {
        match warehouse.relation_type(name) {
            Ok(None) => None,
            Err(e) => Some(Err(e.to_string())),
            Ok(Some(_)) => Some(row_count(warehouse.as_mut(), &counter, name)),
        }
    };
    let mut relations = Vec::new();
    for &id in ir.order.iter().filter(|id| built.contains(id)) {
        let Some(here) = crate::emit::physical_name(ir, id) else {
            continue;
        };
        let there = previous
            .physical(&crate::manifest::relation_id(&config.name, ir.relation(id)))
            .map(|p| PhysicalName {
                schema: p.schema.clone(),
                name: p.name.clone(),
            });
        let rows_here = count(&here).unwrap_or_else(|| Err("not in the warehouse".into()));
        let rows_there = there.as_ref().and_then(&mut count);
        relations.push(RelationDiff {
            name: ir.relation(id).name.clone(),
            here,
            there,
            rows_here,
            rows_there,
        });
    }
    let reconciled: Vec<&crate::ir::Reconcile> = ir
        .reconciles
        .iter()
        .filter(|r| r.reads().iter().any(|id| built.contains(id)))
        .collect();
    // Here: what the last run built; what it read from the state's schemas
    // where it read it; and what else a reconciliation reads (through
    // ephemeral models) where `--defer` would: this environment's, else
    // where the state's run built it. There: everything where the state's
    // run built it.
    let mut here_reads = deferred;
    let read = crate::run::reads_through_ephemerals(ir, reconciled.iter().flat_map(|r| r.reads()));
    for id in read {
        if built.contains(&id) || here_reads.contains_key(&id) {
            continue;
        }
        let (Some(ours), Some(state)) = (crate::emit::physical_name(ir, id), theirs.get(&id))
        else {
            continue;
        };
        if matches!(warehouse.relation_type(&ours), Ok(None)) {
            here_reads.insert(id, state.clone());
        }
    }
    let here_sql = Emitter::new(ir, dialect).reading(here_reads);
    let there_sql = Emitter::new(ir, dialect).reading(theirs);
    let mut totals = |sql: String| -> Result<Vec<String>, String> {
        let rows = warehouse
            .query(&sql)
            .map_err(|e| first_line(&e.to_string()))?;
        Ok(rows
            .rows
            .into_iter()
            .map(|row| row.get(1).cloned().flatten().unwrap_or_default())
            .collect())
    };
    let mut reconciles = Vec::new();
    for r in reconciled {
        let here = totals(here_sql.reconciliation_totals(r));
        let there = totals(there_sql.reconciliation_totals(r));
        let pick = |all: &Result<Vec<String>, String>, i: usize| match all {
            Ok(values) => values.get(i).cloned().ok_or_else(|| "no total".to_string()),
            Err(e) => Err(e.clone()),
        };
        reconciles.push(ReconcileDiff {
            name: r.name.clone(),
            terms: r
                .terms
                .iter()
                .enumerate()
                .map(|(i, t)| (t.label.clone(), pick(&here, i), pick(&there, i)))
                .collect(),
        });
    }
    let report = Report {
        here: ir.environment.name.clone(),
        there: previous.environment.clone(),
        state: state.display().to_string(),
        warehouse: warehouse.describe(),
        relations,
        reconciles,
    };
    let text = match format {
        DiffFormat::Text => text(&report),
        DiffFormat::Markdown => markdown(&report),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    let failed = report
        .relations
        .iter()
        .any(|r| r.rows_here.is_err() || matches!(r.rows_there, Some(Err(_))))
        || report
            .reconciles
            .iter()
            .flat_map(|r| &r.terms)
            .any(|(_, here, there)| here.is_err() || there.is_err());
    if failed {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// The last run's `run_results.json`, which must be of `environment`.
fn last_run(path: &std::path::Path, environment: &str) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{}` does not exist: there is no run to compare (run `shopc build` first)",
                path.display()
            )
        } else {
            format!("`{}` cannot be read: {e}", path.display())
        }
    })?;
    let last: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("`{}` is not a run's results: {e}", path.display()))?;
    let ran_in = last["metadata"]["environment"].as_str().unwrap_or_default();
    if ran_in != environment {
        return Err(format!(
            "the last run (`{}`) built in `{ran_in}`, not in `{environment}`: give `--env {ran_in}`",
            path.display()
        ));
    }
    Ok(last)
}

fn first_line(text: &str) -> String {
    text.trim().lines().next().unwrap_or_default().to_string()
}

/// `=` when equal, else the signed difference (`+12`, `-3.50`), at the
/// precision of the figures.
fn change(here: &str, there: &str) -> String {
    if here == there {
        return "=".into();
    }
    let (Ok(a), Ok(b)) = (here.parse::<f64>(), there.parse::<f64>()) else {
        return "differs".into();
    };
    let decimals = [here, there]
        .iter()
        .map(|v| v.split_once('.').map_or(0, |(_, d)| d.len()))
        .max()
        .unwrap_or(0);
    let delta = a - b;
    if delta == 0.0 {
        "=".into()
    } else {
        format!(
            "{}{:.*}",
            if delta > 0.0 { "+" } else { "" },
            decimals,
            delta
        )
    }
}

fn rows(value: &Result<u64, String>) -> String {
    match value {
        Ok(n) => n.to_string(),
        Err(e) => format!("error: {}", first_line(e)),
    }
}

fn figure(value: &Result<String, String>) -> String {
    match value {
        Ok(v) => v.clone(),
        Err(e) => format!("error: {e}"),
    }
}

/// The change of a pair of results, empty when one is missing or failed.
fn change_of<T: ToString>(here: &Result<T, String>, there: Option<&Result<T, String>>) -> String {
    match (here, there) {
        (Ok(a), Some(Ok(b))) => change(&a.to_string(), &b.to_string()),
        (Ok(_), None) => "new".into(),
        _ => String::new(),
    }
}

fn text(report: &Report) -> String {
    let mut out = format!(
        "Comparing what the last run built in {} with {} (as --state {} built it) on {}\n",
        report.here, report.there, report.state, report.warehouse
    );
    if report.relations.is_empty() {
        out.push_str("\nThe last run built no relation.\n");
        return out;
    }
    let mut table = vec![[
        "relation".to_string(),
        format!("rows in {}", report.here),
        format!("rows in {}", report.there),
        "change".into(),
    ]];
    for r in &report.relations {
        table.push([
            format!(
                "{} ({} / {})",
                r.name,
                r.here.display(),
                r.there.as_ref().map_or("-".into(), PhysicalName::display)
            ),
            rows(&r.rows_here),
            r.rows_there.as_ref().map_or("-".into(), rows),
            change_of(&r.rows_here, r.rows_there.as_ref()),
        ]);
    }
    out.push('\n');
    out.push_str(&aligned(&table));
    for r in &report.reconciles {
        let mut table = vec![[
            format!("reconcile {}", r.name),
            report.here.clone(),
            report.there.clone(),
            "change".into(),
        ]];
        for (label, here, there) in &r.terms {
            table.push([
                format!("  {label}"),
                figure(here),
                figure(there),
                change_of(here, Some(there)),
            ]);
        }
        out.push('\n');
        out.push_str(&aligned(&table));
    }
    out
}

/// Columns padded to their widest cell; figures right-aligned.
fn aligned(table: &[[String; 4]]) -> String {
    let width = |i: usize| {
        table
            .iter()
            .map(|row| row[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    for row in table {
        let _ = writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A cell of a Markdown table: code, with `|` escaped.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('|', "\\|"))
}

fn markdown(report: &Report) -> String {
    let mut out = format!(
        "### Rebuilt in `{}`, next to `{}`\n\n",
        report.here, report.there
    );
    if report.relations.is_empty() {
        out.push_str("The last run built no relation.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "| relation | rows in `{}` | rows in `{}` | change |\n|---|---:|---:|---|",
        report.here, report.there
    );
    for r in &report.relations {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            code(&r.name),
            rows(&r.rows_here).replace('|', "\\|"),
            r.rows_there
                .as_ref()
                .map_or("—".into(), rows)
                .replace('|', "\\|"),
            change_of(&r.rows_here, r.rows_there.as_ref()),
        );
    }
    for r in &report.reconciles {
        let _ = writeln!(
            out,
            "\n**reconcile {}**\n\n| total of | `{}` | `{}` | change |\n|---|---:|---:|---|",
            r.name, report.here, report.there
        );
        for (label, here, there) in &r.terms {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                code(label),
                figure(here).replace('|', "\\|"),
                figure(there).replace('|', "\\|"),
                change_of(here, Some(there)),
            );
        }
    }
    let _ = writeln!(
        out,
        "\nOn {}, compared with the run of `--state {}`.",
        report.warehouse, report.state
    );
    out
}

#[cfg(test)]
mod tests {
    use super::change;

    #[test]
    fn a_change_is_signed_at_the_figures_precision() {
        assert_eq!(change("500", "500"), "=");
        assert_eq!(change("510", "500"), "+10");
        assert_eq!(change("1307522.66", "1307530.16"), "-7.50");
        assert_eq!(change("1.5", "1.50"), "=");
        assert_eq!(change("a", "b"), "differs");
    }
}
