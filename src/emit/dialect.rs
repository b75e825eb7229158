//! SQL dialects: what differs between warehouses, as capabilities.
//!
//! Emission code asks a [`SqlDialect`] how to spell things; it never tests
//! which dialect it has. A dialect overrides only what differs from the
//! documented defaults. Function spellings are data: a table from portable
//! name to a template.

use crate::ir::types::Type;

/// The warehouses shopc emits SQL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    DuckDb,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
        }
    }

    pub fn sql(self) -> &'static dyn SqlDialect {
        match self {
            Dialect::DuckDb => &DuckDb,
        }
    }
}

/// How a dialect spells SQL. Every method has a default that follows
/// standard SQL; a dialect overrides what it does differently.
pub trait SqlDialect: Sync {
    /// Quotes an identifier. Default: double quotes, doubled inside.
    fn quote_identifier(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// A string literal. Default: single quotes, doubled inside.
    fn string_literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// The name of a type in DDL and casts.
    fn type_name(&self, ty: Type) -> String {
        match ty {
            Type::Text => "VARCHAR".into(),
            Type::Integer => "INTEGER".into(),
            Type::BigInt => "BIGINT".into(),
            Type::Numeric(Some((p, s))) => format!("DECIMAL({p}, {s})"),
            Type::Numeric(None) => "DECIMAL(38, 9)".into(),
            Type::Double => "DOUBLE".into(),
            Type::Boolean => "BOOLEAN".into(),
            Type::Date => "DATE".into(),
            Type::Timestamp => "TIMESTAMP".into(),
            Type::TimestampTz => "TIMESTAMPTZ".into(),
            Type::Null | Type::Unknown => "VARCHAR".into(),
        }
    }

    /// How to spell a library function, as a template: `{0}`, `{1}`… are the
    /// arguments, `{part}` a date-part argument as a bare keyword and `{type}`
    /// the SQL type of the result. `None`: the portable `name(args…)`.
    fn function_template(&self, name: &str) -> Option<&'static str> {
        let _ = name;
        None
    }

    /// A table expression that reads a local CSV file (header row, columns
    /// in order, typed as given). An unquoted empty field is NULL; `""` is
    /// the empty string. `None`: the warehouse cannot read local files and
    /// the runner must insert the rows itself.
    fn csv_scan(&self, path: &str, columns: &[(String, String)]) -> Option<String> {
        let _ = (path, columns);
        None
    }

    /// Whether DDL runs inside transactions, so that a table can be replaced
    /// atomically (build beside, then drop and rename in one transaction).
    fn transactional_ddl(&self) -> bool {
        true
    }
}

/// DuckDB (embedded): the default target.
pub struct DuckDb;

/// DuckDB's spellings of library functions that differ from `name(args…)`.
const DUCKDB_FUNCTIONS: &[(&str, &str)] = &[
    ("date", "CAST({0} AS DATE)"),
    ("date_trunc", "CAST(date_trunc({0}, {1}) AS {type})"),
    ("date_add", "CAST({2} + INTERVAL ({1}) {part} AS {type})"),
    ("date_part", "CAST(date_part({0}, {1}) AS INTEGER)"),
    ("current_date", "current_date"),
    ("current_timestamp", "current_timestamp"),
    // DuckDB has no initcap: capitalise each space-separated word.
    (
        "initcap",
        "array_to_string(list_transform(string_split(lower({0}), ' '), lambda w: upper(w[1]) || w[2:]), ' ')",
    ),
    ("stddev", "stddev_samp({0})"),
];

impl SqlDialect for DuckDb {
    fn function_template(&self, name: &str) -> Option<&'static str> {
        DUCKDB_FUNCTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    fn csv_scan(&self, path: &str, columns: &[(String, String)]) -> Option<String> {
        let columns: Vec<String> = columns
            .iter()
            .map(|(name, ty)| format!("{}: {}", self.string_literal(name), self.string_literal(ty)))
            .collect();
        Some(format!(
            "read_csv({}, header = true, auto_detect = false, columns = {{{}}}, nullstr = '', allow_quoted_nulls = false)",
            self.string_literal(path),
            columns.join(", ")
        ))
    }
}
