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

use crate::ir::types::{Type, is_iso_date, iso_timestamp_zone};
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
    /// For each record, its first line in `csv` and in the file.
    lines: Vec<(u64, u64)>,
}

impl Canonical {
    /// The file's line of the record on `line` of `csv` (a warehouse's
    /// error names that line): what the person who wrote the file reads.
    pub fn file_line(&self, line: u64) -> Option<u64> {
        let i = self
            .lines
            .partition_point(|(canonical, _)| *canonical <= line);
        let (canonical, file) = *self.lines.get(i.checked_sub(1)?)?;
        Some(file + (line - canonical))
    }

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
            let quoted = quoted_fields(&self.csv[start..end])
                .into_iter()
                .map(|q| q != Quoting::Plain);
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
    let mut canonical = Canonical {
        rows: 0,
        csv: Vec::new(),
        lines: Vec::new(),
    };
    canonical.rows = read(ir, seed, Some(&mut canonical))?;
    Ok(canonical)
}

/// How a field of a raw record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    Plain,
    Quoted,
    /// `"a"b`: the `csv` crate reads `ab`, DuckDB refuses the line and
    /// PostgreSQL reads on to the next quote. Refused.
    TextAfterQuote,
}

/// How each field of one raw record is written, as the `csv` crate reads
/// it (a quote opens a field only at its start, `""` inside is one quote,
/// anything after the closing quote is literal): what tells `""`, the
/// empty string, from an empty field, NULL.
fn quoted_fields(raw: &[u8]) -> Vec<Quoting> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut quoting = Quoting::Plain;
        if raw.get(i) == Some(&b'"') {
            quoting = Quoting::Quoted;
            i += 1;
            loop {
                match raw.get(i) {
                    None => {
                        fields.push(quoting);
                        return fields;
                    }
                    Some(b'"') if raw.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            if !matches!(raw.get(i), None | Some(b',' | b'\r' | b'\n')) {
                quoting = Quoting::TextAfterQuote;
            }
        }
        fields.push(quoting);
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

/// Reads the file (whole, in memory: the raw bytes tell quoted fields from
/// plain ones), checks its header, its lines and every value, and with
/// `canonical` re-encodes it there. Returns the number of data rows.
fn read(ir: &Ir, seed: &Seed, mut canonical: Option<&mut Canonical>) -> Result<u64, SeedError> {
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
    // Lines of the canonical CSV so far: a value's line breaks are kept.
    let mut canonical_line = 1;
    if let Some(Canonical { csv: out, .. }) = canonical.as_deref_mut() {
        for (i, name) in expected.iter().enumerate() {
            write_field(out, i == 0, Some(name.as_bytes()));
        }
        out.push(b'\n');
    }
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    // Where the last record ended: anything after it is blank lines, which
    // the CSV reader skips and PostgreSQL reads as rows.
    let mut next = reader.position().byte() as usize;
    let blank = |at: usize| {
        let line = data[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        err(
            Some(line),
            "a blank line: remove it (readers disagree on what it is: DuckDB skips it, \
             PostgreSQL reads a row of empty fields)"
                .into(),
        )
    };
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
        // The reader counts the blank lines it skipped into the record.
        let start = past_crlf(&data, record.position().map_or(next, |p| p.byte() as usize));
        if matches!(data.get(start), Some(b'\n' | b'\r')) {
            return Err(blank(start));
        }
        next = reader.position().byte() as usize;
        let line = record.position().map_or(rows + 1, |p| p.line());
        for ((name, ty), value) in columns.iter().zip(record.iter()) {
            if let Err(expected) = check_value(*ty, value) {
                return Err(err(
                    Some(line),
                    format!("column `{name}`: {value:?} is not {expected}"),
                ));
            }
        }
        let quoting = quoted_fields(&data[start..next]);
        if quoting.len() != record.len() {
            return Err(err(
                Some(line),
                "shopc cannot tell which fields of this row are quoted; \
                 quote every field of it"
                    .into(),
            ));
        }
        if let Some(i) = quoting.iter().position(|q| *q == Quoting::TextAfterQuote) {
            return Err(err(
                Some(line),
                format!(
                    "column `{}`: text after the closing quote (readers disagree on it): \
                     quote the whole value, with `\"\"` for a quote inside",
                    columns.get(i).map_or("?", |(n, _)| *n)
                ),
            ));
        }
        if let Some(Canonical {
            csv: out, lines, ..
        }) = canonical.as_deref_mut()
        {
            canonical_line += 1;
            lines.push((canonical_line, line));
            canonical_line += record
                .iter()
                .map(|v| v.bytes().filter(|&b| b == b'\n').count() as u64)
                .sum::<u64>();
            for (i, (value, quoting)) in record.iter().zip(&quoting).enumerate() {
                let quoted = *quoting != Quoting::Plain;
                let value = (quoted || !value.is_empty()).then_some(value.as_bytes());
                write_field(out, i == 0, value);
            }
            out.push(b'\n');
        }
    }
    let next = past_crlf(&data, next);
    if next < data.len() {
        return Err(blank(next));
    }
    Ok(rows)
}

/// `at`, or past the `\n` there when it ends a CRLF: the reader stops a
/// record between the two bytes, and that `\n` is no blank line.
fn past_crlf(data: &[u8], at: usize) -> usize {
    match (at.checked_sub(1).map(|i| data[i]), data.get(at)) {
        (Some(b'\r'), Some(b'\n')) => at + 1,
        _ => at,
    }
}

/// Whether a CSV field can be read as the type by every warehouse, the
/// same way; an empty field is NULL.
fn check_value(ty: Type, value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Ok(());
    }
    // PostgreSQL's text cannot hold a NUL; DuckDB's can.
    if value.contains('\0') {
        return Err("text without NUL bytes (no warehouse but DuckDB can hold one)");
    }
    let ok = match ty {
        Type::Text | Type::Unknown | Type::Null => true,
        Type::Integer => value.parse::<i32>().is_ok(),
        Type::BigInt => value.parse::<i64>().is_ok(),
        // `1e400`, `inf` and `NaN` are not finite: DuckDB and PostgreSQL
        // disagree on them.
        Type::Double => value.parse::<f64>().is_ok_and(f64::is_finite),
        // `numeric` without a precision is DECIMAL(38, 9) on DuckDB and
        // unbounded on PostgreSQL: held to the narrower.
        Type::Numeric(params) => is_decimal(value, Some(params.unwrap_or((38, 9)))),
        Type::Boolean => matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "t" | "f" | "1" | "0"
        ),
        Type::Date => is_iso_date(value),
        // A zone on a timestamp without one is read as UTC by DuckDB and
        // ignored by PostgreSQL: it is refused.
        Type::Timestamp => iso_timestamp_zone(value) == Some(false),
        Type::TimestampTz => iso_timestamp_zone(value).is_some(),
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
            Type::Date => "a date of the calendar (YYYY-MM-DD, years 0001 to 9999)",
            Type::Timestamp => {
                "a timestamp without a zone (YYYY-MM-DD HH:MM:SS; a column with zones is `timestamptz`)"
            }
            _ => "a timestamp (YYYY-MM-DD HH:MM:SS, then optionally a zone: Z, +HH:MM)",
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
        assert!(check_value(Type::Date, "2024-02-30").is_err());
        assert!(check_value(Type::Date, "0000-01-01").is_err());
        assert!(check_value(Type::Double, "1e400").is_err());
        assert!(check_value(Type::Double, "NaN").is_err());
        assert!(check_value(Type::Double, "-1.5e3").is_ok());
        assert!(check_value(Type::Text, "a\0b").is_err());
        assert!(check_value(Type::Timestamp, "2024-01-01 10:00:00+02:00").is_err());
        assert!(check_value(Type::TimestampTz, "2024-01-01 10:00:00+02:00").is_ok());
        assert!(check_value(Type::Date, "2024-13-01").is_err());
        assert!(check_value(Type::Timestamp, "2024-01-01 10:00:00").is_ok());
        assert!(check_value(Type::Timestamp, "yesterday").is_err());
    }

    #[test]
    fn a_canonical_line_is_traced_to_the_files() {
        // Line 3 of the file held a value over two lines; a blank line
        // cannot be there (refused), so the file's line 5 is record 3.
        let canonical = Canonical {
            rows: 3,
            csv: Vec::new(),
            lines: vec![(2, 2), (3, 3), (5, 5)],
        };
        assert_eq!(canonical.file_line(2), Some(2));
        assert_eq!(canonical.file_line(4), Some(4));
        assert_eq!(canonical.file_line(5), Some(5));
        assert_eq!(canonical.file_line(1), None);
    }

    #[test]
    fn quoted_fields_follow_the_csv_reader() {
        use Quoting::*;
        assert_eq!(quoted_fields(b"1,a\"b,\"\"\n"), [Plain, Plain, Quoted]);
        assert_eq!(quoted_fields(b"\"x,\"\"y\",\r\n"), [Quoted, Plain]);
        assert_eq!(
            quoted_fields(b"\"a\"b,\"\n\",3"),
            [TextAfterQuote, Quoted, Plain]
        );
        assert_eq!(quoted_fields(b""), [Plain]);
    }
}
