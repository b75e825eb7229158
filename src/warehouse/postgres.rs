//! The PostgreSQL adapter, over `tokio-postgres`: one connection, driven by a
//! single-threaded runtime that the adapter owns, so the runner stays
//! synchronous. PostgreSQL runs DDL inside transactions, so every swap and
//! every merge is all-or-nothing.
#![allow(clippy::disallowed_methods)]

use futures_util::SinkExt;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::{Result, Rows, Timeouts, Warehouse, WarehouseError, no_answer, within};
use crate::emit::{Dialect, PhysicalName, RelationType};
use crate::seed::Canonical;

/// Where a PostgreSQL server is and who to be there. The password is held
/// here only to connect; it is never printed (see [`Debug`]).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<String>,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// How long past `statement_timeout` the client waits for the server's own
/// cancellation.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct PostgresWarehouse {
    runtime: Runtime,
    client: Client,
    describe: String,
    config: PostgresConfig,
}

/// A server error as people read it: the message, then the server's detail
/// and hint, with the statement it came from.
fn error(e: tokio_postgres::Error, sql: &str) -> WarehouseError {
    let message = match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("\nDETAIL: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("\nHINT: {hint}"));
            }
            if let Some(context) = db.where_() {
                text.push_str(&format!("\nCONTEXT: {context}"));
            }
            text
        }
        // "error connecting to server" says nothing by itself: add its
        // causes ("Connection refused (os error 111)", a TLS or DNS error).
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !text.contains(&c_text) {
                    text.push_str(": ");
                    text.push_str(&c_text);
                }
                cause = c.source();
            }
            text
        }
    };
    WarehouseError {
        message,
        statement: (!sql.is_empty()).then(|| sql.to_string()),
    }
}

impl PostgresWarehouse {
    /// Connects within `connect_timeout` (the TCP connection and the
    /// server's handshake); the error names the server, never the
    /// password. The session's `statement_timeout` is the target's, so the
    /// server cancels a longer statement itself.
    pub fn connect(config: &PostgresConfig) -> Result<PostgresWarehouse> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| WarehouseError {
                message: format!("cannot start the PostgreSQL client: {e}"),
                statement: None,
            })?;
        let mut pg = tokio_postgres::Config::new();
        pg.host(&config.host)
            .port(config.port)
            .user(&config.user)
            .dbname(&config.dbname)
            .application_name("shopc")
            // The language's time is UTC (README, "Time is UTC"): a
            // `timestamptz`'s date, hour or month is its UTC one, whatever
            // the server's or the database's time zone.
            .options(&match config.timeouts.statement {
                Some(limit) => {
                    format!("-c TimeZone=UTC -c statement_timeout={}", limit.as_millis())
                }
                None => "-c TimeZone=UTC".to_string(),
            })
            .connect_timeout(config.timeouts.connect);
        if let Some(password) = &config.password {
            pg.password(password);
        }
        let describe = format!(
            "postgres {}@{}:{}/{}",
            config.user, config.host, config.port, config.dbname
        );
        let limit = config.timeouts.connect;
        let (client, connection) =
            within(&runtime, Some(limit), pg.connect(NoTls)).map_err(|e| WarehouseError {
                message: format!(
                    "cannot connect to {describe}: {}",
                    match e {
                        Some(e) => error(e, "").message,
                        None => no_answer(limit, "connect_timeout"),
                    }
                ),
                statement: None,
            })?;
        // The connection does the socket IO; it runs whenever a query blocks.
        runtime.spawn(async move {
            let _ = connection.await;
        });
        Ok(PostgresWarehouse {
            runtime,
            client,
            describe,
            config: config.clone(),
        })
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.wait(sql, self.client.batch_execute(sql))
    }

    /// Waits for a request of `sql`: past the statement timeout (and a
    /// grace for the server's own cancellation to arrive), a server that
    /// does not answer is given up on.
    fn wait<T>(
        &self,
        sql: &str,
        request: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<T> {
        let limit = self.config.timeouts.statement.map(|l| l + GRACE);
        within(&self.runtime, limit, request).map_err(|e| match e {
            Some(e) => error(e, sql),
            None => WarehouseError {
                message: format!(
                    "{}: {}",
                    self.describe,
                    no_answer(limit.unwrap_or_default(), "statement_timeout")
                ),
                statement: (!sql.is_empty()).then(|| sql.to_string()),
            },
        })
    }
}

impl Warehouse for PostgresWarehouse {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn connect_another(&self) -> Result<Box<dyn Warehouse + Send>> {
        Ok(Box::new(PostgresWarehouse::connect(&self.config)?))
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.batch(sql)
    }

    /// A session-level advisory lock on a key from the project's and the
    /// environment's names: the
    /// server releases it when this connection closes, however the run
    /// ends (a killed run holds nothing). The holder is named from
    /// `pg_stat_activity`.
    fn lock(&mut self, project: &str, environment: &str) -> Result<bool> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("shopc run lock {project} in {environment}"));
        let key = i64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
        let sql = "SELECT pg_try_advisory_lock($1)";
        let taken: bool = self.wait(sql, self.client.query_one(sql, &[&key]))?.get(0);
        if taken {
            return Ok(true);
        }
        // A bigint key is shown as its high and low 32 bits.
        let sql = "SELECT a.pid, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), \
                   coalesce(a.usename::text, ''), coalesce(host(a.client_addr), 'a local socket') \
                   FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2";
        let (high, low) = ((key >> 32) & 0xffff_ffff, key & 0xffff_ffff);
        let holder = self.wait(sql, self.client.query_opt(sql, &[&high, &low]))?;
        let who = match holder {
            Some(row) => format!(
                " since {} UTC (server process {}, user {}, from {})",
                row.get::<_, String>(1),
                row.get::<_, i32>(0),
                row.get::<_, String>(2),
                row.get::<_, String>(3),
            ),
            None => String::new(),
        };
        Err(WarehouseError {
            message: format!(
                "another run of project `{project}` in environment {environment} holds the lock on \
                 {}{who}: one run at a time writes an environment's tables; wait for it to finish",
                self.describe
            ),
            statement: None,
        })
    }

    fn query(&mut self, sql: &str) -> Result<Rows> {
        // The simple protocol returns every value as text.
        let messages = self.wait(sql, self.client.simple_query(sql))?;
        let mut out = Rows::default();
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    out.columns = columns.iter().map(|c| c.name().to_string()).collect();
                }
                SimpleQueryMessage::Row(row) => {
                    if out.columns.is_empty() {
                        out.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                    }
                    out.rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn transaction(&mut self, statements: &[String]) -> Result<()> {
        self.batch("BEGIN")?;
        for sql in statements {
            if let Err(e) = self.batch(sql) {
                let _ = self.batch("ROLLBACK");
                return Err(e);
            }
        }
        self.batch("COMMIT")
    }

    fn relation_type(&mut self, name: &PhysicalName) -> Result<Option<RelationType>> {
        let sql = "SELECT table_type FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2";
        let rows = self.wait(sql, self.client.query(sql, &[&name.schema, &name.name]))?;
        Ok(rows.first().map(|row| {
            let kind: String = row.get(0);
            if kind.eq_ignore_ascii_case("VIEW") {
                RelationType::View
            } else {
                RelationType::Table
            }
        }))
    }

    fn columns(&mut self, name: &PhysicalName) -> Result<Vec<(String, String)>> {
        let sql = "SELECT column_name::text, data_type::text FROM information_schema.columns \
                   WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position";
        let rows = self.wait(sql, self.client.query(sql, &[&name.schema, &name.name]))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// `COPY … FROM STDIN` of the canonical CSV, where every value is quoted
    /// and NULL is an unquoted empty field: what COPY reads is what the
    /// validator read.
    fn copy_csv(&mut self, table: &PhysicalName, seed: &Canonical) -> Result<u64> {
        let sql = format!(
            "COPY {} FROM STDIN WITH (FORMAT csv, HEADER true)",
            table.sql(Dialect::Postgres.sql())
        );
        let data = bytes::Bytes::copy_from_slice(&seed.csv);
        self.wait(&sql, async {
            let sink = self.client.copy_in::<_, bytes::Bytes>(sql.as_str()).await?;
            futures_util::pin_mut!(sink);
            sink.send(data).await?;
            sink.finish().await
        })
    }
}
