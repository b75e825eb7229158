//! Seeds: CSV files loaded into source tables with the declared column types.
//!
//! `seeds/raw_orders.csv` fills the source table whose name is `raw_orders`.
//! Before anything is loaded, every row is checked against the declared
//! types, so a bad row fails with its file and line and nothing half-loaded.
//! An unquoted empty field is NULL; `""` is the empty string. IO module.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::ir::types::{Type, is_iso_date, is_iso_timestamp};
use crate::ir::{Ir, RelId, RelationKind};

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

/// Finds the CSV files of `dir` and the source tables they fill. A CSV that
/// matches no source table is an error: its columns must be declared.
pub fn discover(ir: &Ir, dir: &Path) -> Result<Vec<Seed>, SeedError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut by_identifier: HashMap<&str, RelId> = HashMap::new();
    for rel in &ir.relations {
        if let RelationKind::Table(t) = &rel.kind {
            by_identifier.entry(t.identifier.as_str()).or_insert(rel.id);
        }
    }
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    let mut seeds = Vec::new();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        match by_identifier.get(stem.as_str()) {
            Some(&relation) => seeds.push(Seed { relation, path }),
            None => {
                return Err(SeedError {
                    path,
                    line: None,
                    message: format!(
                        "no source table is named `{stem}`: declare its columns in a `source` block"
                    ),
                });
            }
        }
    }
    Ok(seeds)
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
