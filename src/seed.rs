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
    read(ir, seed, None)
}

/// A seed as it was validated, re-encoded so that any CSV reader reads the
/// same rows: the header, then every value quoted (quotes doubled) and NULL
/// as an unquoted empty field. Warehouses that are sent the rows (PostgreSQL's
/// `COPY`, Snowflake's `INSERT`) load this, never the file itself, whose
/// quoting another reader may take differently (`1,a"b` opens a quote in
/// PostgreSQL's `COPY`).
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    pub rows: u64,
    pub csv: Vec<u8>,
}

impl Canonical {
    /// The data rows again, each value `None` for NULL.
    pub fn records(&self) -> impl Iterator<Item = Vec<Option<String>>> + '_ {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(self.csv.as_slice());
        let mut record = csv::ByteRecord::new();
        std::iter::from_fn(move || {
            if !reader.read_byte_record(&mut record).ok()? {
                return None;
            }
            let start = record.position().map_or(0, |p| p.byte() as usize);
            let end = reader.position().byte() as usize;
            let quoted = quoted_fields(&self.csv[start..end]);
            Some(
                record
                    .iter()
                    .zip(quoted)
                    .map(|(value, quoted)| {
                        (quoted || !value.is_empty())
                            .then(|| String::from_utf8_lossy(value).into_owned())
                    })
                    .collect(),
            )
        })
    }
}

/// Validates the file (as [`validate`]) and re-encodes it (see [`Canonical`]).
pub fn canonical(ir: &Ir, seed: &Seed) -> Result<Canonical, SeedError> {
    let mut csv = Vec::new();
    let rows = read(ir, seed, Some(&mut csv))?;
    Ok(Canonical { rows, csv })
}

/// Which fields of one raw record begin with a quote, as the `csv` crate
/// reads them (a quote opens a field only at its start, `""` inside is one
/// quote, anything after the closing quote is literal): what tells `""`, the
/// empty string, from an empty field, NULL.
fn quoted_fields(raw: &[u8]) -> Vec<bool> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let quoted = raw.get(i) == Some(&b'"');
        fields.push(quoted);
        if quoted {
            i += 1;
            loop {
                match raw.get(i) {
                    None => return fields,
                    Some(b'"') if raw.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
        }
        loop {
            match raw.get(i) {
                None | Some(b'\r' | b'\n') => return fields,
                Some(b',') => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// Writes one field of [`Canonical`]: NULL as nothing, a value quoted.
fn write_field(out: &mut Vec<u8>, first: bool, value: Option<&[u8]>) {
    if !first {
        out.push(b',');
    }
    if let Some(value) = value {
        out.push(b'"');
        for &b in value {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }
}

fn read(ir: &Ir, seed: &Seed, mut out: Option<&mut Vec<u8>>) -> Result<u64, SeedError> {
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
    let data = std::fs::read(&seed.path).map_err(|e| err(None, e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data.as_slice());
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
    if let Some(out) = out.as_deref_mut() {
        for (i, name) in expected.iter().enumerate() {
            write_field(out, i == 0, Some(name.as_bytes()));
        }
        out.push(b'\n');
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
        if let Some(out) = out.as_deref_mut() {
            let start = record.position().map_or(0, |p| p.byte() as usize);
            let end = reader.position().byte() as usize;
            let quoted = quoted_fields(&data[start..end]);
            if quoted.len() != record.len() {
                return Err(err(
                    Some(line),
                    "shopc cannot tell which fields of this row are quoted; \
                     quote every field of it"
                        .into(),
                ));
            }
            for (i, (value, quoted)) in record.iter().zip(quoted).enumerate() {
                let value = (quoted || !value.is_empty()).then_some(value.as_bytes());
                write_field(out, i == 0, value);
            }
            out.push(b'\n');
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

    #[test]
    fn quoted_fields_follow_the_csv_reader() {
        assert_eq!(quoted_fields(b"1,a\"b,\"\"\n"), [false, false, true]);
        assert_eq!(quoted_fields(b"\"x,\"\"y\",\r\n"), [true, false]);
        assert_eq!(quoted_fields(b"\"a\"b,\"\n\",3"), [true, true, false]);
        assert_eq!(quoted_fields(b""), [false]);
    }
}
