//! The embedded DuckDB adapter: a database file, no server.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use duckdb::types::Value;

use super::{Result, Rows, Warehouse, WarehouseError};
use crate::emit::{Dialect, PhysicalName, RelationType};

pub struct DuckDbWarehouse {
    connection: Connection,
    path: Option<PathBuf>,
}

fn error(e: duckdb::Error, sql: &str) -> WarehouseError {
    WarehouseError {
        message: e.to_string(),
        statement: Some(sql.to_string()),
    }
}

impl DuckDbWarehouse {
    /// Opens (or creates) a database file; its folder is created if needed.
    pub fn open(path: &Path) -> Result<DuckDbWarehouse> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| WarehouseError {
                message: format!("cannot create `{}`: {e}", parent.display()),
                statement: None,
            })?;
        }
        let connection =
            Connection::open_with_flags(path, offline_config()?).map_err(|e| WarehouseError {
                message: match e.to_string() {
                    // DuckDB's file lock: one process writes a database file.
                    text if text.contains("Could not set lock") => format!(
                        "another process has `{}` open{}: DuckDB lets one process at a time \
                         write a database file; wait for it to finish",
                        path.display(),
                        text.split_once("Conflicting lock is held in ")
                            .map(|(_, holder)| format!(
                                " ({})",
                                holder.split(". See also").next().unwrap_or(holder).trim()
                            ))
                            .unwrap_or_default()
                    ),
                    text => format!("cannot open DuckDB database `{}`: {text}", path.display()),
                },
                statement: None,
            })?;
        Ok(DuckDbWarehouse {
            connection,
            path: Some(path.to_path_buf()),
        })
    }

    /// A database in memory, gone when dropped.
    pub fn in_memory() -> Result<DuckDbWarehouse> {
        let connection =
            Connection::open_in_memory_with_flags(offline_config()?).map_err(|e| error(e, ""))?;
        Ok(DuckDbWarehouse {
            connection,
            path: None,
        })
    }
}

/// The engine never fetches an extension: everything shopc emits runs on
/// the bundled build as it is, offline, and a function that would need an
/// extension fails at once with DuckDB's message instead of trying the
/// network.
fn offline_config() -> Result<duckdb::Config> {
    duckdb::Config::default()
        .enable_autoload_extension(false)
        .and_then(|c| c.with("autoinstall_known_extensions", "false"))
        .map_err(|e| WarehouseError {
            message: format!("cannot configure DuckDB: {e}"),
            statement: None,
        })
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Text(s) => Some(s),
        other => Some(format!("{other:?}")),
    }
}

impl Warehouse for DuckDbWarehouse {
    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("duckdb {}", path.display()),
            None => "duckdb (in memory)".to_string(),
        }
    }

    /// The file is locked by the process that opened it: no other run
    /// writes it while this one does.
    fn lock(&mut self, _project: &str, _environment: &str) -> Result<bool> {
        Ok(true)
    }

    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    fn server_version(&mut self) -> Result<String> {
        Ok(self.query("SELECT 'DuckDB ' || version()")?.first_value())
    }

    fn connect_another(&self) -> Result<Box<dyn Warehouse + Send>> {
        // A second connection to the same open database.
        let connection = self.connection.try_clone().map_err(|e| error(e, ""))?;
        Ok(Box::new(DuckDbWarehouse {
            connection,
            path: self.path.clone(),
        }))
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.connection
            .execute_batch(sql)
            .map_err(|e| error(e, sql))
    }

    fn query(&mut self, sql: &str) -> Result<Rows> {
        // Every column as text: one representation for every type.
        let wrapped = format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM (\n{sql}\n)");
        let mut statement = self
            .connection
            .prepare(&wrapped)
            .map_err(|e| error(e, sql))?;
        let mut rows = statement.query([]).map_err(|e| error(e, sql))?;
        let mut out = Rows::default();
        while let Some(row) = rows.next().map_err(|e| error(e, sql))? {
            if out.columns.is_empty() {
                let statement = row.as_ref();
                out.columns = statement.column_names();
            }
            let n = row.as_ref().column_count();
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(text(row.get::<_, Value>(i).map_err(|e| error(e, sql))?));
            }
            out.rows.push(values);
        }
        if out.columns.is_empty() {
            out.columns = statement.column_names();
        }
        Ok(out)
    }

    fn transaction(&mut self, statements: &[String]) -> Result<()> {
        let tx = self
            .connection
            .transaction()
            .map_err(|e| error(e, "BEGIN"))?;
        for sql in statements {
            tx.execute_batch(sql).map_err(|e| error(e, sql))?;
        }
        tx.commit().map_err(|e| error(e, "COMMIT"))
    }

    fn relation_type(&mut self, name: &PhysicalName) -> Result<Option<RelationType>> {
        let sql = "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?";
        let mut statement = self.connection.prepare(sql).map_err(|e| error(e, sql))?;
        let mut rows = statement
            .query([name.schema.as_str(), name.name.as_str()])
            .map_err(|e| error(e, sql))?;
        match rows.next().map_err(|e| error(e, sql))? {
            None => Ok(None),
            Some(row) => {
                let kind: String = row.get(0).map_err(|e| error(e, sql))?;
                Ok(Some(if kind.eq_ignore_ascii_case("VIEW") {
                    RelationType::View
                } else {
                    RelationType::Table
                }))
            }
        }
    }

    fn columns(&mut self, name: &PhysicalName) -> Result<Vec<(String, String)>> {
        let sql = "SELECT column_name, data_type FROM information_schema.columns \
                   WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position";
        let mut statement = self.connection.prepare(sql).map_err(|e| error(e, sql))?;
        let rows = statement
            .query_map([name.schema.as_str(), name.name.as_str()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| error(e, sql))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| error(e, sql))
    }
}
