//! Unit tests (`unit_test` items), run on an in-memory DuckDB whatever the
//! target: each test's model over its given rows only, compared with the
//! rows it expects. Reads the CSV files tests name; the SQL is
//! [`Emitter::unit_test`]'s.

use std::path::Path;

use crate::emit::{Emitter, Values};
use crate::ir::{Ir, Literal, RelId, Rows, UnitTest, text_value};
use crate::span::{SourceDb, Span};
use crate::warehouse::{DuckDbWarehouse, Warehouse};

/// How one unit test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    /// The rows differ: each row as `{ column = value, … }`.
    Fail {
        expected: usize,
        actual: usize,
        missing: Vec<String>,
        unexpected: Vec<String>,
        /// Same rows, another order (an `ordered = true` test).
        reordered: bool,
    },
    /// The test could not run: a CSV file, or the query on DuckDB.
    Error(String),
}

/// Runs `test` on a database of its own.
pub fn run(ir: &Ir, db: &SourceDb, test: &UnitTest) -> Outcome {
    match run_inner(ir, db, test) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Error(e),
    }
}

fn run_inner(ir: &Ir, db: &SourceDb, test: &UnitTest) -> Result<Outcome, String> {
    let mut given = Vec::new();
    for g in &test.given {
        given.push((g.relation, rows(ir, db, g.relation, &g.rows)?));
    }
    let expect = rows(ir, db, test.model, &test.expect)?;
    let sql = Emitter::unit_test(ir, test, &given, &expect);
    let mut duckdb = DuckDbWarehouse::in_memory().map_err(|e| e.to_string())?;
    for statement in &sql.setup {
        duckdb.execute(statement).map_err(|e| e.to_string())?;
    }
    let actual = duckdb.query(&sql.actual).map_err(|e| e.to_string())?.rows;
    let wanted = match &sql.expected {
        Some(q) => duckdb.query(q).map_err(|e| e.to_string())?.rows,
        None => vec![vec![Some("1".to_string())]; expect.len()],
    };
    let model = ir.relation(test.model);
    let types: Vec<_> = sql
        .columns
        .iter()
        .map(|n| ir.column(model.columns[n]).ty)
        .collect();
    let show = |row: &Vec<Option<String>>| -> String {
        if sql.columns.is_empty() {
            return "a row".into();
        }
        let values: Vec<String> = sql
            .columns
            .iter()
            .zip(row)
            .zip(&types)
            .map(|((name, value), ty)| match value {
                None => format!("{name} = null"),
                Some(v) if ty.is_numeric() || *ty == crate::ir::types::Type::Boolean => {
                    format!("{name} = {v}")
                }
                Some(v) => format!("{name} = {v:?}"),
            })
            .collect();
        format!("{{ {} }}", values.join(", "))
    };
    let (mut left, mut right) = (wanted.clone(), actual.clone());
    left.sort();
    right.sort();
    if left == right {
        if test.ordered && wanted != actual {
            return Ok(Outcome::Fail {
                expected: wanted.len(),
                actual: actual.len(),
                missing: wanted.iter().map(show).collect(),
                unexpected: actual.iter().map(show).collect(),
                reordered: true,
            });
        }
        return Ok(Outcome::Pass);
    }
    // The multiset difference, each way.
    let mut missing = Vec::new();
    let mut unexpected = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        match (left.get(i), right.get(j)) {
            (Some(a), Some(b)) if a == b => (i, j) = (i + 1, j + 1),
            (Some(a), Some(b)) if a < b => {
                missing.push(show(a));
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                unexpected.push(show(b));
                j += 1;
            }
            (Some(a), None) => {
                missing.push(show(a));
                i += 1;
            }
            (None, None) => break,
        }
    }
    Ok(Outcome::Fail {
        expected: wanted.len(),
        actual: actual.len(),
        missing,
        unexpected,
        reordered: false,
    })
}

/// The rows of `rel` a test gives or expects, reading a CSV file next to
/// the `.shop` file when it names one.
fn rows(ir: &Ir, db: &SourceDb, rel: RelId, rows: &Rows) -> Result<Vec<Values>, String> {
    let (path, span) = match rows {
        Rows::Inline(rows) => return Ok(rows.iter().map(|r| r.values.clone()).collect()),
        Rows::Csv { path, span } => (path, *span),
    };
    let file = Path::new(&db.get(span.file).path)
        .parent()
        .unwrap_or(Path::new("."))
        .join(path);
    let at = |line: u64, what: &str| format!("{}:{line}: {what}", file.display());
    let mut reader =
        csv::Reader::from_path(&file).map_err(|e| format!("{}: {e}", location(db, span, &file)))?;
    let relation = ir.relation(rel);
    let headers = reader.headers().map_err(|e| at(1, &e.to_string()))?.clone();
    let mut columns = Vec::new();
    for name in &headers {
        match relation.columns.get(name) {
            Some(c) => columns.push(*c),
            None => {
                let known: Vec<&str> = relation.columns.keys().map(String::as_str).collect();
                return Err(at(
                    1,
                    &format!(
                        "`{}` has no column `{name}` (its columns: {})",
                        relation.name,
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| at(line, &e.to_string()))?;
        let mut values = Vec::new();
        for (field, &column) in record.iter().zip(&columns) {
            let c = ir.column(column);
            let literal: Literal = text_value(c.ty, field).map_err(|why| {
                at(
                    line,
                    &format!("`{}` is {}, and {field:?} is {why}", c.name, c.ty),
                )
            })?;
            values.push((column, literal));
        }
        out.push(values);
    }
    Ok(out)
}

/// `models/x.shop:12:5: FILE`, for a file that cannot be read.
fn location(db: &SourceDb, span: Span, file: &Path) -> String {
    let source = db.get(span.file);
    let (line, column) = source.line_col(span.start as usize);
    format!("{}:{line}:{column}: {}", source.path, file.display())
}
