//! SQL dialects: what differs between warehouses, as capabilities.
//!
//! Emission code asks a [`SqlDialect`] how to spell things; it never tests
//! which dialect it has. A dialect overrides only what differs from the
//! documented defaults (standard SQL, as DuckDB and PostgreSQL speak it).
//! Function spellings are data: a table from a portable name (optionally
//! `name:part` for one date part) to a template.

use crate::ir::types::Type;

/// The warehouses shopc emits SQL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    DuckDb,
    Postgres,
    Snowflake,
    BigQuery,
}

impl Dialect {
    pub const ALL: &'static [Dialect] = &[
        Dialect::DuckDb,
        Dialect::Postgres,
        Dialect::Snowflake,
        Dialect::BigQuery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Snowflake => "snowflake",
            Dialect::BigQuery => "bigquery",
        }
    }

    pub fn parse(name: &str) -> Option<Dialect> {
        Dialect::ALL
            .iter()
            .copied()
            .find(|d| d.name().eq_ignore_ascii_case(name))
    }

    pub fn sql(self) -> &'static dyn SqlDialect {
        match self {
            Dialect::DuckDb => &DuckDb,
            Dialect::Postgres => &Postgres,
            Dialect::Snowflake => &Snowflake,
            Dialect::BigQuery => &BigQuery,
        }
    }
}

/// How a table replaces its previous version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableReplace {
    /// Build beside (`name__shopc_new`), then drop the old table and rename
    /// the new one in one transaction: DDL is transactional.
    BuildBesideAndSwap,
    /// `CREATE OR REPLACE TABLE … AS SELECT`, atomic in the warehouse.
    CreateOrReplace,
}

/// How physical layout options are written, when a dialect has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `CLUSTER BY (a, b)` / `CLUSTER BY a, b` in `CREATE TABLE`.
    ClusterClause { parenthesized: bool },
    /// One `CREATE INDEX` per key (grain, cluster columns).
    Indexes,
    /// Nothing: the option is ignored, with a warning.
    None,
}

/// How a dialect spells SQL. Every method has a default that follows
/// standard SQL; a dialect overrides what it does differently.
pub trait SqlDialect: Sync {
    /// Quotes an identifier. Default: double quotes, doubled inside. Quoting
    /// every identifier keeps its case in every warehouse (Snowflake folds
    /// unquoted names to upper case, PostgreSQL to lower case).
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

    /// A typed literal: `DATE '2024-01-31'`. Default: the type's name, then
    /// the string.
    fn typed_literal(&self, ty: Type, text: &str) -> String {
        format!("{} {}", self.type_name(ty), self.string_literal(text))
    }

    /// `try_cast(x as t)` of a value of type `from`: NULL instead of an
    /// error when `x` does not convert. Default: `TRY_CAST(x AS t)` (DuckDB).
    fn safe_cast(&self, expr: &str, _from: Type, ty: Type) -> String {
        format!("TRY_CAST({expr} AS {})", self.type_name(ty))
    }

    /// `TRUE` / `FALSE`.
    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "TRUE" } else { "FALSE" }
    }

    /// How to spell a library function, as a template: `{0}`, `{1}`… are the
    /// arguments, `{part}` a date-part argument as a bare keyword and `{type}`
    /// the SQL type of the result. Looked up as `name:part` first (for a
    /// date part that needs its own spelling), then `name`. `None`: the
    /// portable `name(args…)`.
    fn function_template(&self, name: &str) -> Option<&'static str> {
        let _ = name;
        None
    }

    /// Whether aggregates take `FILTER (WHERE …)`. Without it, shopc writes
    /// `agg(CASE WHEN cond THEN x END)`, which every engine reads the same.
    fn filter_clause(&self) -> bool {
        true
    }

    /// The current time in UTC, as a timestamp without time zone: what
    /// `current_timestamp()` is in the language, and the time a snapshot
    /// run stamps its rows with. `current_date()` is its date.
    fn now(&self) -> &'static str {
        // UTC through epoch microseconds: core DuckDB, no ICU extension
        // (which the embedded engine does not have), and UTC where ICU is
        // loaded too.
        "make_timestamp(epoch_us(current_timestamp))"
    }

    /// A `timestamptz` value as the UTC timestamp the date functions work
    /// on, where the engine has no time zone functions of its own; `None`
    /// where it has them. Default: `None`.
    fn utc_timestamp(&self, expr: &str) -> Option<String> {
        let _ = expr;
        None
    }

    /// How a table replaces its previous version.
    fn table_replace(&self) -> TableReplace {
        TableReplace::BuildBesideAndSwap
    }

    /// How `cluster_by` is written, if at all.
    fn cluster_layout(&self) -> Layout {
        Layout::None
    }

    /// `PARTITION BY …` for a date or timestamp column at a granularity
    /// (`DAY`, `MONTH`…), if the dialect partitions tables.
    fn partition_clause(&self, column: &str, ty: Type, granularity: &str) -> Option<String> {
        let _ = (column, ty, granularity);
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
    /// The `SELECT` of a series: one row per value from `start` to `end`,
    /// both included, as the column `column` of type `ty` (written for this
    /// dialect). `part` is a date spine's step (`day`, …, `hour`), `None`
    /// for integers. The default is `generate_series` (PostgreSQL, DuckDB).
    fn series(&self, part: Option<&str>, start: &str, end: &str, column: &str, ty: &str) -> String {
        match part {
            None => format!(
                "SELECT CAST(g AS {ty}) AS {column} FROM generate_series(CAST({start} AS {ty}), CAST({end} AS {ty})) AS s(g)"
            ),
            Some(part) => {
                let step = match part {
                    "quarter" => "3 months".to_string(),
                    part => format!("1 {part}"),
                };
                format!(
                    "SELECT CAST(g AS {ty}) AS {column} FROM generate_series(CAST({start} AS TIMESTAMP), CAST({end} AS TIMESTAMP), INTERVAL '{step}') AS s(g)"
                )
            }
        }
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    /// The longest identifier the warehouse keeps, in bytes; `None` when
    /// it has no limit. Default: none (DuckDB).
    fn max_identifier_bytes(&self) -> Option<usize> {
        None
    }
}

fn lookup(table: &'static [(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

// ------------------------------------------------------------------ DuckDB

/// DuckDB (embedded): the default target.
pub struct DuckDb;

/// DuckDB's spellings of library functions that differ from `name(args…)`.
const DUCKDB_FUNCTIONS: &[(&str, &str)] = &[
    ("date", "CAST({0} AS DATE)"),
    ("date_trunc", "CAST(date_trunc({0}, {1}) AS {type})"),
    ("date_add", "CAST({2} + INTERVAL ({1}) {part} AS {type})"),
    ("date_part", "CAST(date_part({0}, {1}) AS INTEGER)"),
    // DuckDB has no initcap: capitalise each space-separated word.
    (
        "initcap",
        "array_to_string(list_transform(string_split(lower({0}), ' '), lambda w: upper(substr(w, 1, 1)) || substr(w, 2)), ' ')",
    ),
    ("stddev", "stddev_samp({0})"),
];

impl SqlDialect for DuckDb {
    fn function_template(&self, name: &str) -> Option<&'static str> {
        lookup(DUCKDB_FUNCTIONS, name)
    }

    /// The embedded engine has no ICU extension (the bundled build ships
    /// none, and shopc never downloads one): its date functions take
    /// timestamps, and a `timestamptz` is read as its UTC time.
    fn utc_timestamp(&self, expr: &str) -> Option<String> {
        Some(format!("make_timestamp(epoch_us({expr}))"))
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

// ------------------------------------------------------------------ PostgreSQL

/// PostgreSQL 15 and later (`MERGE` arrived in 15).
pub struct Postgres;

/// PostgreSQL has no `date_diff`: each part is computed from `date_part`
/// or day arithmetic, counting boundaries crossed like DuckDB does. Every
/// template writes each argument once, so that nesting calls keeps the SQL
/// linear in size: months and quarters between two values are the
/// interval between their truncations, whose epoch counts a year as 365.25
/// days and a month as 30, so that its seconds over an average month
/// (30.4375 days, 2,629,800 s) are the whole months, off by less than 0.16.
const POSTGRES_FUNCTIONS: &[(&str, &str)] = &[
    ("date", "CAST({0} AS DATE)"),
    ("date_trunc", "CAST(date_trunc({0}, {1}) AS {type})"),
    (
        "date_add:quarter",
        "CAST({2} + ({1}) * INTERVAL '3 MONTH' AS {type})",
    ),
    (
        "date_add",
        "CAST({2} + ({1}) * INTERVAL '1 {part}' AS {type})",
    ),
    ("date_part", "CAST(date_part({0}, {1}) AS INTEGER)"),
    (
        "date_diff:year",
        "CAST(date_part('year', {2}) - date_part('year', {1}) AS BIGINT)",
    ),
    (
        "date_diff:quarter",
        "CAST(round(date_part('epoch', age(date_trunc('quarter', CAST({2} AS TIMESTAMP)), date_trunc('quarter', CAST({1} AS TIMESTAMP)))) / 7889400) AS BIGINT)",
    ),
    (
        "date_diff:month",
        "CAST(round(date_part('epoch', age(date_trunc('month', CAST({2} AS TIMESTAMP)), date_trunc('month', CAST({1} AS TIMESTAMP)))) / 2629800) AS BIGINT)",
    ),
    (
        "date_diff:week",
        "CAST((CAST(date_trunc('week', {2}) AS DATE) - CAST(date_trunc('week', {1}) AS DATE)) / 7 AS BIGINT)",
    ),
    (
        "date_diff:day",
        "CAST(CAST({2} AS DATE) - CAST({1} AS DATE) AS BIGINT)",
    ),
    (
        "date_diff",
        "CAST(floor(date_part('epoch', date_trunc({0}, {2}) - date_trunc({0}, {1})) / date_part('epoch', INTERVAL '1 {part}')) AS BIGINT)",
    ),
    ("stddev", "stddev_samp({0})"),
    // `any_value` arrived in PostgreSQL 16: any value will do.
    ("any_value", "min({0})"),
    ("ln", "ln({0})"),
];

impl SqlDialect for Postgres {
    /// A literal that means the same whatever the server's
    /// `standard_conforming_strings`: with it off, a backslash in `'…'`
    /// escapes the next character (`'\''` would close nothing and let
    /// what follows run as SQL), so a value with a backslash is written as
    /// an escape string, `E'…'`, with its backslashes doubled.
    fn string_literal(&self, value: &str) -> String {
        if value.contains('\\') {
            format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
        } else {
            format!("'{}'", value.replace('\'', "''"))
        }
    }

    fn type_name(&self, ty: Type) -> String {
        match ty {
            Type::Text | Type::Null | Type::Unknown => "TEXT".into(),
            Type::Numeric(Some((p, s))) => format!("NUMERIC({p}, {s})"),
            Type::Numeric(None) => "NUMERIC".into(),
            Type::Double => "DOUBLE PRECISION".into(),
            other => DuckDb.type_name(other),
        }
    }

    fn function_template(&self, name: &str) -> Option<&'static str> {
        lookup(POSTGRES_FUNCTIONS, name)
    }

    /// PostgreSQL has no safe cast; this one gives what DuckDB's
    /// `TRY_CAST` gives (the language reference, "try_cast"). A number to
    /// a number, and a conversion that cannot fail, is a cast (a number
    /// that does not fit errors). Anything else converts the value's text
    /// when it has a shape DuckDB accepts: an integer may be written as a
    /// decimal or with an exponent, rounded half away from zero; a boolean
    /// is `t f y n 1 0 yes no true false` in any case, without spaces; a
    /// date may carry a time; a timestamp's date alone has no trailing
    /// spaces. `substring(text FROM pattern)` is what the pattern's group
    /// matched, or NULL, so the operand is written once and nested casts
    /// stay linear in size.
    fn safe_cast(&self, expr: &str, from: Type, ty: Type) -> String {
        use Type::*;
        let name = self.type_name(ty);
        let cast = format!("CAST({expr} AS {name})");
        let number = |t: Type| t.is_numeric();
        let temporal = |t: Type| matches!(t, Date | Timestamp | TimestampTz);
        if from == ty
            || from.is_wildcard()
            || matches!(ty, Text | Null | Unknown)
            || (number(from) && number(ty))
            || (temporal(from) && temporal(ty))
        {
            return cast;
        }
        const NUMBER: &str = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?";
        const DATE: &str = r"[0-9]{1,4}[-/][0-9]{1,2}[-/][0-9]{1,2}";
        const TIME: &str = r"[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:z|[+-][0-9]{2}(?::?[0-9]{2})?| utc)?";
        let pattern = match ty {
            Integer | BigInt | Numeric(_) | Double => format!(r"^\s*({NUMBER})\s*$"),
            Boolean => r"^(t|f|y|n|1|0|yes|no|true|false)$".to_string(),
            Date => format!(r"^\s*({DATE})(?:{TIME})?\s*$"),
            Timestamp | TimestampTz => format!(r"^\s*({DATE}(?:{TIME}\s*)?)$"),
            Text | Null | Unknown => return cast,
        };
        let matched = format!(
            "substring(CAST({expr} AS TEXT) FROM {})",
            self.string_literal(&format!("(?i){pattern}"))
        );
        if ty.is_integer() {
            format!("CAST(round(CAST({matched} AS NUMERIC)) AS {name})")
        } else {
            format!("CAST({matched} AS {name})")
        }
    }

    fn now(&self) -> &'static str {
        "CAST(timezone('UTC', now()) AS TIMESTAMP)"
    }

    /// NAMEDATALEN - 1: longer names are cut, with only a notice.
    fn max_identifier_bytes(&self) -> Option<usize> {
        Some(63)
    }

    fn cluster_layout(&self) -> Layout {
        Layout::Indexes
    }
}

// ------------------------------------------------------------------ Snowflake

/// Snowflake. Single-quoted strings treat `\` as an escape; there is no
/// `FILTER` clause; `CREATE OR REPLACE TABLE` is atomic.
pub struct Snowflake;

const SNOWFLAKE_FUNCTIONS: &[(&str, &str)] = &[
    ("date", "CAST({0} AS DATE)"),
    ("date_trunc", "CAST(DATE_TRUNC({part}, {1}) AS {type})"),
    ("date_diff", "DATEDIFF({part}, {1}, {2})"),
    ("date_add", "CAST(DATEADD({part}, {1}, {2}) AS {type})"),
    ("date_part", "CAST(DATE_PART({part}, {1}) AS INTEGER)"),
    ("starts_with", "STARTSWITH({0}, {1})"),
    ("bool_and", "BOOLAND_AGG({0})"),
    ("bool_or", "BOOLOR_AGG({0})"),
    ("stddev", "STDDEV_SAMP({0})"),
];

impl SqlDialect for Snowflake {
    fn string_literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    }

    fn type_name(&self, ty: Type) -> String {
        match ty {
            Type::Numeric(Some((p, s))) => format!("NUMBER({p}, {s})"),
            Type::Numeric(None) => "NUMBER(38, 9)".into(),
            Type::Double => "FLOAT".into(),
            Type::Timestamp => "TIMESTAMP_NTZ".into(),
            Type::TimestampTz => "TIMESTAMP_TZ".into(),
            other => DuckDb.type_name(other),
        }
    }

    fn function_template(&self, name: &str) -> Option<&'static str> {
        lookup(SNOWFLAKE_FUNCTIONS, name)
    }

    fn filter_clause(&self) -> bool {
        false
    }

    /// Snowflake's `TRY_CAST` accepts only text: convert to text first.
    fn safe_cast(&self, expr: &str, _from: Type, ty: Type) -> String {
        format!(
            "TRY_CAST(CAST({expr} AS VARCHAR) AS {})",
            self.type_name(ty)
        )
    }

    fn now(&self) -> &'static str {
        "CAST(CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP()) AS TIMESTAMP_NTZ)"
    }

    fn max_identifier_bytes(&self) -> Option<usize> {
        Some(255)
    }

    fn table_replace(&self) -> TableReplace {
        TableReplace::CreateOrReplace
    }

    fn cluster_layout(&self) -> Layout {
        Layout::ClusterClause {
            parenthesized: true,
        }
    }

    /// DDL commits the open transaction and then runs on its own.
    /// No `generate_series`: the offsets of `ARRAY_GENERATE_RANGE`,
    /// flattened; a date spine steps with `DATEADD` as far as `DATEDIFF`
    /// counts boundaries, and keeps the values up to `end`.
    fn series(&self, part: Option<&str>, start: &str, end: &str, column: &str, ty: &str) -> String {
        match part {
            None => format!(
                "SELECT CAST(f.VALUE AS {ty}) AS {column} FROM TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(CAST({start} AS {ty}), CAST({end} AS {ty}) + 1))) AS f"
            ),
            Some(part) => format!(
                "SELECT {column} FROM (SELECT CAST(DATEADD({part}, f.VALUE, CAST({start} AS TIMESTAMP)) AS {ty}) AS {column} FROM TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(0, DATEDIFF({part}, CAST({start} AS TIMESTAMP), CAST({end} AS TIMESTAMP)) + 1))) AS f) AS s WHERE {column} <= CAST({end} AS {ty})"
            ),
        }
    }

    fn transactional_ddl(&self) -> bool {
        false
    }
}

// ------------------------------------------------------------------ BigQuery

/// BigQuery (GoogleSQL). Backticks quote names, `\` escapes in strings, a
/// timestamp without time zone is a `DATETIME`, and tables are partitioned
/// and clustered in `CREATE TABLE`.
pub struct BigQuery;

const BIGQUERY_FUNCTIONS: &[(&str, &str)] = &[
    ("date", "CAST({0} AS DATE)"),
    ("date_trunc", "CAST(DATE_TRUNC({1}, {part}) AS {type})"),
    (
        "date_diff",
        "DATETIME_DIFF(CAST({2} AS DATETIME), CAST({1} AS DATETIME), {part})",
    ),
    (
        "date_add",
        "CAST(DATETIME_ADD(CAST({2} AS DATETIME), INTERVAL {1} {part}) AS {type})",
    ),
    ("date_part", "CAST(EXTRACT({part} FROM {1}) AS INT64)"),
    ("split_part", "SPLIT({0}, {1})[SAFE_ORDINAL({2})]"),
    ("md5", "TO_HEX(MD5({0}))"),
    ("ceil", "CEIL({0})"),
    ("power", "POW({0}, {1})"),
    ("bool_and", "LOGICAL_AND({0})"),
    ("bool_or", "LOGICAL_OR({0})"),
    ("stddev", "STDDEV_SAMP({0})"),
];

impl SqlDialect for BigQuery {
    fn quote_identifier(&self, name: &str) -> String {
        format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
    }

    fn string_literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    fn type_name(&self, ty: Type) -> String {
        match ty {
            Type::Text | Type::Null | Type::Unknown => "STRING".into(),
            Type::Integer | Type::BigInt => "INT64".into(),
            // NUMERIC holds 29 digits before the point and 9 after.
            Type::Numeric(Some((p, s))) if s <= 9 && p - s <= 29 => format!("NUMERIC({p}, {s})"),
            Type::Numeric(Some((p, s))) => format!("BIGNUMERIC({p}, {s})"),
            Type::Numeric(None) => "NUMERIC".into(),
            Type::Double => "FLOAT64".into(),
            Type::Boolean => "BOOL".into(),
            Type::Date => "DATE".into(),
            Type::Timestamp => "DATETIME".into(),
            Type::TimestampTz => "TIMESTAMP".into(),
        }
    }

    fn typed_literal(&self, ty: Type, text: &str) -> String {
        // A parameterized type name is not a literal prefix.
        let prefix = match ty {
            Type::Numeric(_) => "NUMERIC".to_string(),
            other => self.type_name(other),
        };
        format!("{prefix} {}", self.string_literal(text))
    }

    fn function_template(&self, name: &str) -> Option<&'static str> {
        lookup(BIGQUERY_FUNCTIONS, name)
    }

    fn filter_clause(&self) -> bool {
        false
    }

    fn safe_cast(&self, expr: &str, _from: Type, ty: Type) -> String {
        format!("SAFE_CAST({expr} AS {})", self.type_name(ty))
    }

    fn now(&self) -> &'static str {
        "CURRENT_DATETIME('UTC')"
    }

    fn max_identifier_bytes(&self) -> Option<usize> {
        Some(1024)
    }

    fn table_replace(&self) -> TableReplace {
        TableReplace::CreateOrReplace
    }

    fn cluster_layout(&self) -> Layout {
        Layout::ClusterClause {
            parenthesized: false,
        }
    }

    fn partition_clause(&self, column: &str, ty: Type, granularity: &str) -> Option<String> {
        Some(match (ty, granularity) {
            (Type::Date, "DAY") => format!("PARTITION BY {column}"),
            (Type::Date, _) => format!("PARTITION BY DATE_TRUNC({column}, {granularity})"),
            (Type::TimestampTz, _) => {
                format!("PARTITION BY TIMESTAMP_TRUNC({column}, {granularity})")
            }
            _ => format!("PARTITION BY DATETIME_TRUNC({column}, {granularity})"),
        })
    }

    /// `GENERATE_ARRAY`, `GENERATE_DATE_ARRAY`, `GENERATE_TIMESTAMP_ARRAY`,
    /// unnested.
    fn series(&self, part: Option<&str>, start: &str, end: &str, column: &str, ty: &str) -> String {
        let array = match part {
            None => format!("GENERATE_ARRAY(CAST({start} AS {ty}), CAST({end} AS {ty}))"),
            Some("hour") => format!(
                "GENERATE_TIMESTAMP_ARRAY(CAST({start} AS TIMESTAMP), CAST({end} AS TIMESTAMP), INTERVAL 1 HOUR)"
            ),
            Some(part) => format!(
                "GENERATE_DATE_ARRAY(CAST({start} AS DATE), CAST({end} AS DATE), INTERVAL 1 {})",
                part.to_ascii_uppercase()
            ),
        };
        format!("SELECT g AS {column} FROM UNNEST({array}) AS g")
    }

    fn transactional_ddl(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_escaping_follow_each_dialect() {
        assert_eq!(DuckDb.quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(BigQuery.quote_identifier("a`b"), "`a\\`b`");
        assert_eq!(Postgres.string_literal("it's \\n"), "E'it''s \\\\n'");
        assert_eq!(Postgres.string_literal("it's"), "'it''s'");
        assert_eq!(Snowflake.string_literal("it's \\n"), "'it''s \\\\n'");
        assert_eq!(BigQuery.string_literal("it's \\n"), "'it\\'s \\\\n'");
    }

    #[test]
    fn types_are_named_per_dialect() {
        let names = |ty| {
            Dialect::ALL
                .iter()
                .map(|d| d.sql().type_name(ty))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Type::Text), ["VARCHAR", "TEXT", "VARCHAR", "STRING"]);
        assert_eq!(
            names(Type::Timestamp),
            ["TIMESTAMP", "TIMESTAMP", "TIMESTAMP_NTZ", "DATETIME"]
        );
        assert_eq!(
            names(Type::Numeric(Some((40, 2)))),
            [
                "DECIMAL(40, 2)",
                "NUMERIC(40, 2)",
                "NUMBER(40, 2)",
                "BIGNUMERIC(40, 2)"
            ]
        );
    }

    /// A template that writes an argument twice doubles the SQL of every
    /// call nested in it: `try_cast(try_cast(…))` thirty deep would be a
    /// gigabyte. Only a date part (a literal) may be repeated.
    #[test]
    fn templates_write_each_argument_once() {
        let tables = [
            ("duckdb", DUCKDB_FUNCTIONS),
            ("postgres", POSTGRES_FUNCTIONS),
            ("snowflake", SNOWFLAKE_FUNCTIONS),
            ("bigquery", BIGQUERY_FUNCTIONS),
        ];
        for (dialect, table) in tables {
            for (name, template) in table {
                let base = name.split(':').next().unwrap_or(name);
                let func = crate::ir::library::lookup(base)
                    .unwrap_or_else(|| panic!("{dialect}: `{name}` is not a library function"))
                    .func();
                for (i, param) in func.params.iter().enumerate() {
                    let uses = template.matches(&format!("{{{i}}}")).count();
                    assert!(
                        uses <= 1 || *param == crate::ir::library::Param::DatePart,
                        "{dialect}: `{name}` writes argument {i} {uses} times: {template}"
                    );
                }
            }
        }
        let types = [
            Type::Integer,
            Type::BigInt,
            Type::Numeric(Some((12, 2))),
            Type::Double,
            Type::Boolean,
            Type::Text,
            Type::Date,
            Type::Timestamp,
            Type::TimestampTz,
        ];
        for d in Dialect::ALL.iter().map(|d| d.sql()) {
            for from in types {
                for to in types {
                    let sql = d.safe_cast("ARG", from, to);
                    assert_eq!(sql.matches("ARG").count(), 1, "{from} to {to}: {sql}");
                }
            }
        }
    }
}
