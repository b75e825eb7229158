//! Warehouses: where statements run. The runner talks to a [`Warehouse`];
//! each adapter (DuckDB today) implements it. This is an IO module.

mod duckdb;

pub use self::duckdb::DuckDbWarehouse;

use crate::emit::{Dialect, PhysicalName, RelationType};

/// Rows of a query, every value as text (`None` for NULL), for tests and
/// for showing samples to people.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A statement the warehouse refused, with its message.
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseError {
    pub message: String,
    pub statement: Option<String>,
}

impl std::fmt::Display for WarehouseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.trim())
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
}
