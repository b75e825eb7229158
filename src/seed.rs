//! Seeds: CSV files loaded into source tables with the declared column types.
//!
//! `seeds/raw_orders.csv` (or `seeds/any/folder/raw_orders.csv`) fills the
//! source table whose name is `raw_orders`.
//! Before anything is loaded, every row is checked against the declared
//! types, so a bad row fails with its file and line and nothing half-loaded.
//! An unquoted empty field is NULL; `""` is the empty string. IO module.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::ir::types::{Type, is_iso_date, is_iso_timestamp};
use crate::ir::{Ir, RelId, RelationKind};
use crate::problem::Problem;
use crate::span::{SourceDb, Span};

/// A seed file and the source table it fills.
#[derive(Debug, Clone)]
pub struct Seed {
    pub relation: RelId,
    pub path: PathBuf,
}

/// A seed that cannot be loaded, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// What [`discover`] found: the seeds, and what is wrong with the folder.
#[derive(Debug, Default)]
pub struct Discovered {
    pub seeds: Vec<Seed>,
    /// A CSV that fills no source table or is not a regular file, two CSVs
    /// for one table (errors), a table of a seeded source without a CSV
    /// (a warning).
    pub problems: Vec<Problem>,
}

/// Finds the CSV files under `dir` (in subfolders too) and the source
/// tables they fill. A CSV must fill a declared source table; a source with
/// seeded tables should have a CSV for each of them. `db` receives the CSV
/// paths that problems point at.
pub fn discover(ir: &Ir, db: &mut SourceDb, dir: &Path) -> Discovered {
    let mut found = Discovered::default();
    let mut by_identifier: HashMap<&str, RelId> = HashMap::new();
    for rel in &ir.relations {
        if let RelationKind::Table(t) = &rel.kind {
            by_identifier.entry(t.identifier.as_str()).or_insert(rel.id);
        }
    }
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        match entry {
            Ok(entry) => {
                let path = entry.into_path();
                if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                    && !path.is_dir()
                {
                    paths.push(path);
                }
            }
            // No seeds folder: nothing is seeded.
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) => {}
            Err(e) => found.problems.push(Problem::UnreadableFile {
                path: e.path().unwrap_or(dir).display().to_string(),
                reason: e.to_string(),
            }),
        }
    }
    let mut filled: HashMap<RelId, Span> = HashMap::new();
    for path in paths {
        let display = path.display().to_string();
        if let Err(e) = crate::project::check_regular(&path) {
            found.problems.push(Problem::UnreadableFile {
                path: display,
                reason: e.to_string(),
            });
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let header = crate::project::first_line(&path);
        let len = header.len();
        let file = db.add(display, header);
        let span = Span::new(file, 0, len);
        let Some(&relation) = by_identifier.get(stem.as_str()) else {
            found.problems.push(Problem::UnmatchedSeed {
                span,
                table: stem.clone(),
                suggestion: crate::ir::suggest(&stem, by_identifier.keys().copied()),
            });
            continue;
        };
        if let Some(&first) = filled.get(&relation) {
            found.problems.push(Problem::DuplicateSeed {
                table: ir.relation(relation).name.clone(),
                first,
                second: span,
            });
            continue;
        }
        filled.insert(relation, span);
        found.seeds.push(Seed { relation, path });
    }
    // A source some of whose tables are seeded is expected to be seeded whole.
    let seeded_sources: std::collections::HashSet<&str> = found
        .seeds
        .iter()
        .filter_map(|s| source_of(ir, s.relation))
        .collect();
    for rel in &ir.relations {
        if let RelationKind::Table(table) = &rel.kind
            && !filled.contains_key(&rel.id)
            && source_of(ir, rel.id).is_some_and(|s| seeded_sources.contains(s))
        {
            found.problems.push(Problem::MissingSeed {
                span: rel.name_span,
                table: rel.name.clone(),
                file: format!("{}.csv", table.identifier),
            });
        }
    }
    found
}

/// The source a table belongs to: `raw` for `raw.raw_orders`.
fn source_of(ir: &Ir, id: RelId) -> Option<&str> {
    ir.relation(id)
        .name
        .split_once('.')
        .map(|(source, _)| source)
}

/// Reads the whole file and checks its header and every value. Returns the
/// number of data rows.
pub fn validate(ir: &Ir, seed: &Seed) -> Result<u64, SeedError> {
    let err = |line: Option<u64>, message: String| SeedError {
        path: seed.path.clone(),
        line,
        message,
    };
    let rel = ir.relation(seed.relation);
    let columns: Vec<(&str, Type)> = rel
        .columns
        .values()
        .map(|c| {
            let column = ir.column(*c);
            (column.name.as_str(), column.ty)
        })
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(&seed.path)
        .map_err(|e| err(None, e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| err(Some(1), e.to_string()))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    let expected: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    if names != expected {
        return Err(err(
            Some(1),
            format!(
                "the header must name the columns of `{}` in order: expected `{}`, found `{}`",
                rel.name,
                expected.join(","),
                names.join(",")
            ),
        ));
    }
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(err(line, e.to_string()));
            }
        }
        rows += 1;
        let line = record.position().map_or(rows + 1, |p| p.line());
        for ((name, ty), value) in columns.iter().zip(record.iter()) {
            if let Err(expected) = check_value(*ty, value) {
                return Err(err(
                    Some(line),
                    format!("column `{name}`: {value:?} is not {expected}"),
                ));
            }
        }
    }
    Ok(rows)
}

/// Whether a CSV field can be read as the type; an empty field is NULL.
fn check_value(ty: Type, value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Ok(());
    }
    let ok = match ty {
        Type::Text | Type::Unknown | Type::Null => true,
        Type::Integer => value.parse::<i32>().is_ok(),
        Type::BigInt => value.parse::<i64>().is_ok(),
        Type::Double => value.parse::<f64>().is_ok(),
        Type::Numeric(params) => is_decimal(value, params),
        Type::Boolean => matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "t" | "f" | "1" | "0"
        ),
        Type::Date => is_iso_date(value),
        Type::Timestamp | Type::TimestampTz => is_iso_timestamp(value),
    };
    if ok {
        Ok(())
    } else {
        Err(match ty {
            Type::Integer => "an integer",
            Type::BigInt => "a 64-bit integer",
            Type::Double => "a number",
            Type::Numeric(_) => "a decimal number that fits the column's precision and scale",
            Type::Boolean => "a boolean (true or false)",
            Type::Date => "a date (YYYY-MM-DD)",
            _ => "a timestamp (YYYY-MM-DD HH:MM:SS)",
        })
    }
}

fn is_decimal(value: &str, params: Option<(u8, u8)>) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return false;
    }
    match params {
        Some((precision, scale)) => {
            frac.len() <= scale as usize
                && int.trim_start_matches('0').len() <= (precision - scale) as usize
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_types() {
        assert!(check_value(Type::Integer, "42").is_ok());
        assert!(check_value(Type::Integer, "4.2").is_err());
        assert!(check_value(Type::Integer, "").is_ok());
        assert!(check_value(Type::Numeric(Some((12, 2))), "19.99").is_ok());
        assert!(check_value(Type::Numeric(Some((12, 2))), "19.999").is_err());
        assert!(check_value(Type::Numeric(Some((4, 2))), "123.5").is_err());
        assert!(check_value(Type::Boolean, "TRUE").is_ok());
        assert!(check_value(Type::Boolean, "yes").is_err());
        assert!(check_value(Type::Date, "2024-02-30").is_ok());
        assert!(check_value(Type::Date, "2024-13-01").is_err());
        assert!(check_value(Type::Timestamp, "2024-01-01 10:00:00").is_ok());
        assert!(check_value(Type::Timestamp, "yesterday").is_err());
    }
}
