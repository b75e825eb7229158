//! Warehouses: where statements run. The runner talks to a [`Warehouse`];
//! each adapter (embedded DuckDB, PostgreSQL, Snowflake) implements it. IO module.

mod duckdb;
mod postgres;
mod snowflake;

pub use self::duckdb::DuckDbWarehouse;
pub use self::postgres::{PostgresConfig, PostgresWarehouse};
pub use self::snowflake::{SnowflakeConfig, SnowflakeWarehouse};

use crate::emit::{Dialect, PhysicalName, RelationType};
use crate::seed::Canonical;

/// Rows of a query, every value as text (`None` for NULL), for tests and
/// for showing samples to people.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// The first column of the first row; empty when there is none or it
    /// is NULL.
    pub fn first_value(self) -> String {
        self.rows
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
            .unwrap_or_default()
    }
}

/// How long shopc waits for a warehouse: to connect and log in, and for
/// one statement (`None`: as long as it takes). A server that accepts the
/// connection and never answers fails the command instead of hanging it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: std::time::Duration,
    pub statement: Option<std::time::Duration>,
}

impl Timeouts {
    /// `connect_timeout` when a target does not set it.
    pub const CONNECT_SECONDS: u64 = 30;
    /// `statement_timeout` when a target does not set it: an hour.
    pub const STATEMENT_SECONDS: u64 = 3600;

    /// From a target's settings, in seconds (`statement = 0`: no limit).
    pub fn from_seconds(connect: Option<u64>, statement: Option<u64>) -> Timeouts {
        Timeouts {
            connect: std::time::Duration::from_secs(connect.unwrap_or(Self::CONNECT_SECONDS)),
            statement: match statement.unwrap_or(Self::STATEMENT_SECONDS) {
                0 => None,
                s => Some(std::time::Duration::from_secs(s)),
            },
        }
    }
}

impl std::fmt::Display for Timeouts {
    /// `connect 30 s, statement 3600 s`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connect {} s, statement ", self.connect.as_secs())?;
        match self.statement {
            Some(limit) => write!(f, "{} s", limit.as_secs()),
            None => f.write_str("no limit"),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts::from_seconds(None, None)
    }
}

/// Waits for `future` at most `limit` (for ever without one) on `runtime`;
/// `Err(None)` when the limit passed first.
fn within<T, E>(
    runtime: &tokio::runtime::Runtime,
    limit: Option<std::time::Duration>,
    future: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, Option<E>> {
    match limit {
        None => runtime.block_on(future).map_err(Some),
        // The timer is made inside the runtime, whose clock it needs.
        Some(limit) => {
            match runtime.block_on(async { tokio::time::timeout(limit, future).await }) {
                Ok(result) => result.map_err(Some),
                Err(_) => Err(None),
            }
        }
    }
}

/// What a timeout says: `no answer within 30 s (`connect_timeout` in
/// profiles.toml)`.
fn no_answer(limit: std::time::Duration, setting: &str) -> String {
    format!(
        "no answer within {} s (`{setting}` in profiles.toml)",
        limit.as_secs()
    )
}

/// A statement the warehouse refused, with its message.
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseError {
    pub message: String,
    pub statement: Option<String>,
}

/// The lines of a failed statement shown under its error.
const STATEMENT_LINES: usize = 12;

impl std::fmt::Display for WarehouseError {
    /// The warehouse's message, then the statement it refused (its first
    /// lines), so that the error can be found without the log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.trim())?;
        let Some(statement) = self.statement.as_deref().map(str::trim) else {
            return Ok(());
        };
        if statement.is_empty() {
            return Ok(());
        }
        f.write_str("\nin the statement:")?;
        let lines: Vec<&str> = statement.lines().collect();
        for line in lines.iter().take(STATEMENT_LINES) {
            write!(f, "\n  {line}")?;
        }
        if lines.len() > STATEMENT_LINES {
            write!(f, "\n  … {} more lines", lines.len() - STATEMENT_LINES)?;
        }
        Ok(())
    }
}

impl std::error::Error for WarehouseError {}

pub type Result<T> = std::result::Result<T, WarehouseError>;

/// What shopc needs from a warehouse.
pub trait Warehouse {
    /// How to print the target: `duckdb shopco_models/target/shopco.duckdb`.
    fn describe(&self) -> String;

    /// The SQL dialect to emit for this warehouse.
    fn dialect(&self) -> Dialect;

    /// What the server says it is: `PostgreSQL 15.18 (Debian …)`.
    fn server_version(&mut self) -> Result<String> {
        Ok(self.query("SELECT version()")?.first_value())
    }

    /// Runs one statement.
    fn execute(&mut self, sql: &str) -> Result<()>;

    /// Runs a query and returns its rows as text.
    fn query(&mut self, sql: &str) -> Result<Rows>;

    /// Runs statements in one transaction: all of them take effect, or none.
    fn transaction(&mut self, statements: &[String]) -> Result<()>;

    /// Whether a relation exists, and as what.
    fn relation_type(&mut self, name: &PhysicalName) -> Result<Option<RelationType>>;

    /// The columns of a relation and their types, in order.
    fn columns(&mut self, name: &PhysicalName) -> Result<Vec<(String, String)>>;

    /// The names of the tables in a schema (none when it does not exist).
    /// Whether the schema exists.
    fn schema_exists(&mut self, schema: &str) -> Result<bool> {
        let sql = format!(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = {}",
            self.dialect().sql().string_literal(schema)
        );
        Ok(self.query(&sql)?.first_value() != "0")
    }

    fn tables(&mut self, schema: &str) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = {} AND table_type = 'BASE TABLE'",
            self.dialect().sql().string_literal(schema)
        );
        Ok(self
            .query(&sql)?
            .rows
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect())
    }

    /// Makes this connection the only shopc run of `project` in
    /// `environment` (its name, and user when its schemas are a user's:
    /// `dev (user alice)`) on the warehouse for as long as it is open, or
    /// fails naming the run that holds it; runs in other environments write
    /// other schemas and go on. Returns whether runs are serialized at all:
    /// PostgreSQL takes an advisory lock; DuckDB's file lock already lets
    /// one process write a database; Snowflake has no such lock (`false`).
    fn lock(&mut self, project: &str, environment: &str) -> Result<bool> {
        let _ = (project, environment);
        Ok(false)
    }

    /// Another connection to the same warehouse, for a worker thread.
    fn connect_another(&self) -> Result<Box<dyn Warehouse + Send>>;

    /// Loads a validated seed into an existing table, for warehouses whose
    /// SQL cannot read local files: exactly the rows the validator read (see
    /// [`Canonical`]), never the file. Returns the rows loaded.
    fn copy_csv(&mut self, table: &PhysicalName, seed: &Canonical) -> Result<u64> {
        let _ = seed;
        Err(WarehouseError {
            message: format!(
                "{} cannot load `{}` from a local file",
                self.describe(),
                table.display()
            ),
            statement: None,
        })
    }
}
