//! The Snowflake adapter, over the `snowflake-api` crate: one session per
//! connection, driven by a single-threaded runtime that the adapter owns, as
//! for PostgreSQL. Results arrive as Arrow record batches in Snowflake's
//! conventions (scaled integers, timestamps as `epoch` + `fraction` structs)
//! and are read into text rows here.
//!
//! `host` points the client at another address than
//! `https://ACCOUNT.snowflakecomputing.com`: a local server that speaks
//! Snowflake's protocol, such as fakesnow in the tests. See [`LocalServer`]
//! for what that changes.
#![allow(clippy::disallowed_methods)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field};
use reqwest_middleware::{Middleware, Next};
use serde_json::{Value, json};
use snowflake_api::connection::Connection;
use snowflake_api::{
    AuthArgs, AuthType, CertificateArgs, PasswordArgs, QueryResult, SnowflakeApi,
    SnowflakeApiBuilder, SnowflakeApiError,
};
use tokio::runtime::Runtime;

use super::{Result, Rows, Timeouts, Warehouse, WarehouseError, no_answer, within};
use crate::emit::{Dialect, PhysicalName, RelationType};
use crate::seed::Canonical;

/// Where a Snowflake account is and who to be there. Exactly one of
/// `password` and `private_key` is set (the profile checks it); neither is
/// ever printed (see [`Debug`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SnowflakeConfig {
    pub account: String,
    pub user: String,
    pub warehouse: Option<String>,
    pub role: Option<String>,
    pub database: String,
    pub schema: String,
    pub password: Option<String>,
    /// A PKCS#8 PEM private key, for key-pair (JWT) authentication.
    pub private_key: Option<String>,
    /// Another address than `https://ACCOUNT.snowflakecomputing.com`.
    pub host: Option<String>,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for SnowflakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeConfig")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<secret>"),
            )
            .field("host", &self.host)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

pub struct SnowflakeWarehouse {
    runtime: Runtime,
    api: SnowflakeApi,
    describe: String,
    config: SnowflakeConfig,
}

/// Rows per `INSERT … VALUES` when loading a seed.
const INSERT_BATCH: usize = 1000;

impl SnowflakeWarehouse {
    /// Connects and logs in (Snowflake logs in on the first statement, so a
    /// statement is run here); the error names the account, never a secret.
    pub fn connect(config: &SnowflakeConfig) -> Result<SnowflakeWarehouse> {
        let describe = describe(config);
        let fail = |message: String| WarehouseError {
            message: format!("cannot connect to {describe}: {message}"),
            statement: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let client = match &config.host {
            // Snowflake's own address, with the crate's client: it retries
            // requests that failed on the way.
            None => Connection::default_client_builder().map_err(|e| fail(chain(&e)))?,
            // A local server: nothing to retry on loopback, and a retried
            // statement would run twice. A new connection per request: a
            // server that closes idle connections (fakesnow's uvicorn, after
            // 5 s) races a request sent on a pooled one, and the request is
            // lost ("connection closed before message completed").
            Some(host) => {
                let base = reqwest::Url::parse(host)
                    .map_err(|e| fail(format!("`host` is not an address ({e}): {host}")))?;
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .user_agent(concat!("shopc/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| fail(chain(&e)))?;
                reqwest_middleware::ClientBuilder::new(http).with(LocalServer { base })
            }
        };
        let auth_type = match (&config.password, &config.private_key) {
            (Some(password), _) => AuthType::Password(PasswordArgs {
                password: password.clone(),
            }),
            (None, Some(key)) => AuthType::Certificate(CertificateArgs {
                private_key_pem: key.clone(),
            }),
            (None, None) => {
                return Err(fail("neither `password` nor `private_key` is set".into()));
            }
        };
        let api = SnowflakeApiBuilder::new(AuthArgs {
            account_identifier: config.account.clone(),
            warehouse: config.warehouse.clone(),
            database: Some(config.database.clone()),
            schema: Some(config.schema.clone()),
            username: config.user.clone(),
            role: config.role.clone(),
            auth_type,
        })
        .with_client(client.build())
        .build()
        .map_err(|e| fail(message(e)))?;
        let warehouse = SnowflakeWarehouse {
            runtime,
            api,
            describe: describe.clone(),
            config: config.clone(),
        };
        let limit = config.timeouts.connect;
        within(
            &warehouse.runtime,
            Some(limit),
            warehouse.api.exec("SELECT 1"),
        )
        .map_err(|e| {
            fail(match e {
                Some(e) => message(e),
                None => no_answer(limit, "connect_timeout"),
            })
        })?;
        Ok(warehouse)
    }

    /// Runs a statement; past `statement_timeout` the request is given up
    /// on (Snowflake may still finish it).
    fn run(&mut self, sql: &str) -> Result<QueryResult> {
        let limit = self.config.timeouts.statement;
        within(&self.runtime, limit, self.api.exec(sql)).map_err(|e| WarehouseError {
            message: match e {
                Some(e) => message(e),
                None => format!(
                    "{}: {}",
                    self.describe,
                    no_answer(limit.unwrap_or_default(), "statement_timeout")
                ),
            },
            statement: (!sql.is_empty()).then(|| sql.to_string()),
        })
    }

    fn literal(value: &str) -> String {
        Dialect::Snowflake.sql().string_literal(value)
    }
}

/// `snowflake USER@ACCOUNT/DATABASE.SCHEMA`, and the address when it is
/// not Snowflake's.
fn describe(config: &SnowflakeConfig) -> String {
    let mut text = format!(
        "snowflake {}@{}/{}.{}",
        config.user, config.account, config.database, config.schema
    );
    if let Some(host) = &config.host {
        text.push_str(&format!(" at {host}"));
    }
    text
}

/// An error and its causes on one line: `error sending request … : tcp
/// connect error: Connection refused`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// What Snowflake said, as people read it: its code and message for a
/// refused statement, the cause for a failed request.
fn message(e: SnowflakeApiError) -> String {
    match e {
        SnowflakeApiError::ApiError(code, message) if message.starts_with(&code) => {
            format!("Snowflake error {message}")
        }
        SnowflakeApiError::ApiError(code, message) => format!("Snowflake error {code}: {message}"),
        other => chain(&other),
    }
}

impl Drop for SnowflakeWarehouse {
    /// Ends the session, so that it does not linger until Snowflake times
    /// it out.
    fn drop(&mut self) {
        let limit = Some(self.config.timeouts.connect);
        let _ = within(&self.runtime, limit, self.api.close_session());
    }
}

impl Warehouse for SnowflakeWarehouse {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Snowflake
    }

    fn server_version(&mut self) -> Result<String> {
        let version = self.query("SELECT CURRENT_VERSION()")?.first_value();
        Ok(format!("Snowflake {version}"))
    }

    fn connect_another(&self) -> Result<Box<dyn Warehouse + Send>> {
        Ok(Box::new(SnowflakeWarehouse::connect(&self.config)?))
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.run(sql).map(|_| ())
    }

    fn query(&mut self, sql: &str) -> Result<Rows> {
        let result = self.run(sql)?;
        rows(result).map_err(|message| WarehouseError {
            message,
            statement: Some(sql.to_string()),
        })
    }

    /// Statements of DML (merges, snapshot updates) run in one transaction.
    /// Snowflake commits the open transaction before any DDL and runs the
    /// DDL on its own, so a list that holds DDL (`CREATE OR REPLACE TABLE`,
    /// atomic by itself) runs statement by statement, as Snowflake would
    /// run it anyway. One statement (an incremental model's `MERGE`) is
    /// atomic by itself and runs without `BEGIN`: fakesnow cannot run a
    /// `MERGE` inside an explicit transaction, and Snowflake needs none.
    fn transaction(&mut self, statements: &[String]) -> Result<()> {
        if let [single] = statements {
            return self.execute(single);
        }
        let ddl = |sql: &str| {
            let word = sql.split_whitespace().next().unwrap_or_default();
            ["CREATE", "ALTER", "DROP", "TRUNCATE"]
                .iter()
                .any(|w| word.eq_ignore_ascii_case(w))
        };
        if statements.iter().any(|s| ddl(s)) {
            return statements.iter().try_for_each(|s| self.execute(s));
        }
        self.execute("BEGIN TRANSACTION")?;
        for sql in statements {
            if let Err(e) = self.execute(sql) {
                let _ = self.execute("ROLLBACK");
                return Err(e);
            }
        }
        self.execute("COMMIT")
    }

    fn relation_type(&mut self, name: &PhysicalName) -> Result<Option<RelationType>> {
        let rows = self.query(&format!(
            "SELECT table_type FROM information_schema.tables \
             WHERE table_schema = {} AND table_name = {}",
            Self::literal(&name.schema),
            Self::literal(&name.name)
        ))?;
        Ok(rows
            .rows
            .first()
            .map(|row| match row.first().cloned().flatten().as_deref() {
                Some(kind) if kind.eq_ignore_ascii_case("VIEW") => RelationType::View,
                _ => RelationType::Table,
            }))
    }

    fn columns(&mut self, name: &PhysicalName) -> Result<Vec<(String, String)>> {
        let rows = self.query(&format!(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position",
            Self::literal(&name.schema),
            Self::literal(&name.name)
        ))?;
        Ok(rows
            .rows
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter().map(Option::unwrap_or_default);
                (r.next().unwrap_or_default(), r.next().unwrap_or_default())
            })
            .collect())
    }

    /// Loads the validated rows with `INSERT … VALUES`, as dbt's Snowflake
    /// seeds do. Values go in as text; Snowflake converts them to the
    /// column types.
    fn copy_csv(&mut self, table: &PhysicalName, seed: &Canonical) -> Result<u64> {
        let names: Vec<String> = self.columns(table)?.into_iter().map(|(n, _)| n).collect();
        let quoted: Vec<String> = names
            .iter()
            .map(|n| Dialect::Snowflake.sql().quote_identifier(n))
            .collect();
        let mut records = seed.records().peekable();
        let mut loaded = 0;
        while records.peek().is_some() {
            let values: Vec<String> = records
                .by_ref()
                .take(INSERT_BATCH)
                .map(|row| {
                    let values: Vec<String> = row
                        .iter()
                        .map(|v| v.as_deref().map_or("NULL".into(), Self::literal))
                        .collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            loaded += values.len() as u64;
            self.execute(&format!(
                "INSERT INTO {} ({}) VALUES\n{}",
                table.sql(Dialect::Snowflake.sql()),
                quoted.join(", "),
                values.join(",\n")
            ))?;
        }
        Ok(loaded)
    }
}

// ------------------------------------------------------------------ results

/// A result as text rows. DML answers in JSON (`[["2"]]`), queries in Arrow.
fn rows(result: QueryResult) -> std::result::Result<Rows, String> {
    match result {
        QueryResult::Empty => Ok(Rows::default()),
        QueryResult::Json(json) => Ok(Rows {
            columns: json.schema.iter().map(|f| f.name.clone()).collect(),
            rows: json
                .value
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    row.as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| match v {
                            Value::Null => None,
                            Value::String(s) => Some(s.clone()),
                            other => Some(other.to_string()),
                        })
                        .collect()
                })
                .collect(),
        }),
        QueryResult::Arrow(batches) => arrow_rows(&batches),
    }
}

fn arrow_rows(batches: &[RecordBatch]) -> std::result::Result<Rows, String> {
    let mut out = Rows::default();
    let Some(first) = batches.first() else {
        return Ok(out);
    };
    out.columns = first
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let values = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(column, field)| cell(column.as_ref(), field, row))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            out.rows.push(values);
        }
    }
    Ok(out)
}

/// One value as text, written as DuckDB writes it (`150.00`,
/// `2024-01-02 03:04:05.5`, `true`), so results compare across targets.
///
/// Snowflake sends `NUMBER(p, s)` as an integer scaled by `10^s` (or a
/// `Decimal128`), a date as days since 1970, a timestamp as a struct of
/// `epoch` seconds and `fraction` nanoseconds (and a `timezone` for
/// `TIMESTAMP_TZ`) or as an integer scaled by `10^scale`; the field's
/// metadata (`logicalType`, `scale`) says which.
fn cell(
    array: &dyn Array,
    field: &Field,
    row: usize,
) -> std::result::Result<Option<String>, String> {
    if array.is_null(row) {
        return Ok(None);
    }
    let metadata = field.metadata();
    let logical = metadata.get("logicalType").map_or("", String::as_str);
    let scale: u32 = metadata
        .get("scale")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let integer = |v: i128| -> String {
        match logical {
            "TIMESTAMP_NTZ" | "TIMESTAMP_LTZ" => {
                let unit = 10_i128.pow(scale);
                timestamp(
                    v.div_euclid(unit) as i64,
                    (v.rem_euclid(unit) * 10_i128.pow(9 - scale.min(9))) as u32,
                )
            }
            "TIME" => time_of_day(v, scale),
            _ => decimal(v, scale),
        }
    };
    let text = match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Int8 => integer(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => integer(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => integer(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => integer(array.as_primitive::<Int64Type>().value(row).into()),
        DataType::Decimal128(_, s) => decimal(
            array.as_primitive::<Decimal128Type>().value(row),
            u32::try_from(*s).unwrap_or(0),
        ),
        DataType::Float64 => float(
            array
                .as_primitive::<arrow_array::types::Float64Type>()
                .value(row),
        ),
        DataType::Float32 => float(
            array
                .as_primitive::<arrow_array::types::Float32Type>()
                .value(row)
                .into(),
        ),
        DataType::Date32 => {
            let days = array
                .as_primitive::<arrow_array::types::Date32Type>()
                .value(row);
            chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
        }
        DataType::Struct(_) => {
            let parts = array.as_struct();
            let part = |name: &str| -> Option<i64> {
                let column = parts.column_by_name(name)?;
                match column.data_type() {
                    DataType::Int64 => Some(column.as_primitive::<Int64Type>().value(row)),
                    DataType::Int32 => Some(column.as_primitive::<Int32Type>().value(row).into()),
                    _ => None,
                }
            };
            let (Some(epoch), Some(fraction)) = (part("epoch"), part("fraction")) else {
                return Err(format!(
                    "column `{}`: cannot read Snowflake's {logical} from {}",
                    field.name(),
                    array.data_type()
                ));
            };
            let fraction = u32::try_from(fraction).unwrap_or(0);
            match part("timezone") {
                // Minutes east of UTC, plus 1440.
                Some(zone) => {
                    let offset = zone - 1440;
                    let local = timestamp(epoch + offset * 60, fraction);
                    format!(
                        "{local}{}{:02}:{:02}",
                        if offset < 0 { '-' } else { '+' },
                        offset.abs() / 60,
                        offset.abs() % 60
                    )
                }
                None => timestamp(epoch, fraction),
            }
        }
        other => {
            return Err(format!(
                "column `{}`: cannot read Snowflake's {logical} from {other}",
                field.name()
            ));
        }
    };
    Ok(Some(text))
}

/// `12345` at scale 2 is `123.45`.
fn decimal(value: i128, scale: u32) -> String {
    if scale == 0 {
        return value.to_string();
    }
    let digits = format!(
        "{:0>width$}",
        value.unsigned_abs(),
        width = scale as usize + 1
    );
    let (whole, fraction) = digits.split_at(digits.len() - scale as usize);
    format!("{}{whole}.{fraction}", if value < 0 { "-" } else { "" })
}

fn float(value: f64) -> String {
    if value.is_finite() {
        value.to_string()
    } else if value.is_nan() {
        "nan".into()
    } else if value > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// Seconds and nanoseconds since 1970 as `2024-01-02 03:04:05.5`.
fn timestamp(seconds: i64, nanos: u32) -> String {
    match chrono::DateTime::from_timestamp(seconds, nanos) {
        Some(t) => format!(
            "{}{}",
            t.naive_utc().format("%Y-%m-%d %H:%M:%S"),
            fraction(nanos)
        ),
        None => format!("{seconds}.{nanos:09}"),
    }
}

/// A time of day scaled by `10^scale` as `13:45:00.25`.
fn time_of_day(value: i128, scale: u32) -> String {
    let unit = 10_i128.pow(scale);
    let seconds = value.div_euclid(unit);
    let nanos = (value.rem_euclid(unit) * 10_i128.pow(9 - scale.min(9))) as u32;
    format!(
        "{:02}:{:02}:{:02}{}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        fraction(nanos)
    )
}

/// `.5` for 500 000 000 ns; nothing for 0.
fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    format!(".{nanos:09}").trim_end_matches('0').to_string()
}

// ------------------------------------------------------------ local server

/// Middleware for a local server that speaks Snowflake's protocol
/// (fakesnow): sends every request to `base` instead of
/// `ACCOUNT.snowflakecomputing.com`, and completes its answers.
///
/// fakesnow leaves out fields that Snowflake always sends and that
/// `snowflake-api` requires, so that without them a login reads as a
/// failure and a result as an error. Only absent fields are filled in, with
/// what they mean for a session that never expires:
///
/// - login: `sessionId`, `masterToken` (the session token),
///   `validityInSeconds`, `masterValidityInSeconds`, `sessionInfo.roleName`;
/// - results: `returned` (the rows sent), `finalRoleName`, `version`,
///   `parameters`;
/// - errors: `age`, `internalError`, `queryId`, `sqlState`, `errorCode`
///   (from the answer's `code`); a server failure (HTTP 500, no `data`)
///   becomes an error with its message.
struct LocalServer {
    base: reqwest::Url,
}

#[async_trait::async_trait]
impl Middleware for LocalServer {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let url = request.url_mut();
        // Both are special schemes, and the base parsed, so these hold.
        let _ = url.set_scheme(self.base.scheme());
        let _ = url.set_host(self.base.host_str());
        let _ = url.set_port(self.base.port_or_known_default());
        let response = next.run(request, extensions).await?;
        let status = response.status();
        let body = response.bytes().await?;
        let body = match serde_json::from_slice::<Value>(&body) {
            Ok(mut answer) => {
                complete(&mut answer);
                serde_json::to_vec(&answer).unwrap_or_else(|_| body.to_vec())
            }
            Err(_) => body.to_vec(),
        };
        let mut completed = http::Response::new(body);
        *completed.status_mut() = if status.is_server_error() {
            http::StatusCode::OK
        } else {
            status
        };
        completed.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(reqwest::Response::from(completed))
    }
}

/// Fills in the fields [`LocalServer`] lists, where they are absent.
fn complete(answer: &mut Value) {
    let Some(answer) = answer.as_object_mut() else {
        return;
    };
    let success = answer.get("success").and_then(Value::as_bool) == Some(true);
    let code = answer.get("code").cloned().unwrap_or(json!(""));
    let data = answer.entry("data").or_insert(Value::Null);
    if data.is_null() {
        *data = json!({});
    }
    let Some(data) = data.as_object_mut() else {
        return;
    };
    let fill = |data: &mut serde_json::Map<String, Value>, key: &str, value: Value| {
        data.entry(key).or_insert(value);
    };
    if !success {
        fill(data, "errorCode", code);
        fill(data, "sqlState", json!(""));
        fill(data, "age", json!(0));
        fill(data, "internalError", json!(false));
        fill(data, "queryId", json!(""));
        return;
    }
    if let Some(token) = data.get("token").cloned() {
        fill(data, "sessionId", json!(0));
        fill(data, "masterToken", token);
        fill(data, "validityInSeconds", json!(i64::from(u32::MAX)));
        fill(data, "masterValidityInSeconds", json!(i64::from(u32::MAX)));
        if let Some(info) = data.get_mut("sessionInfo").and_then(Value::as_object_mut) {
            info.entry("roleName").or_insert(json!("PUBLIC"));
        }
    } else if data.contains_key("rowtype") {
        let returned = data
            .get("rowset")
            .and_then(Value::as_array)
            .map(|rows| json!(rows.len()))
            .or_else(|| data.get("total").cloned())
            .unwrap_or(json!(0));
        fill(data, "returned", returned);
        fill(data, "finalRoleName", json!("PUBLIC"));
        fill(data, "version", json!(1));
        fill(data, "parameters", json!([]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_with_their_scale() {
        assert_eq!(decimal(12345, 2), "123.45");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(decimal(150, 2), "1.50");
        assert_eq!(decimal(7, 0), "7");
    }

    #[test]
    fn timestamps_are_written_as_duckdb_writes_them() {
        assert_eq!(
            timestamp(1_704_164_645, 500_000_000),
            "2024-01-02 03:04:05.5"
        );
        assert_eq!(timestamp(1_704_164_645, 0), "2024-01-02 03:04:05");
        assert_eq!(time_of_day(4_950_025, 2), "13:45:00.25");
    }

    #[test]
    fn a_local_server_login_is_completed_and_its_own_fields_kept() {
        let mut login = json!({
            "data": {"token": "t", "sessionInfo": {"databaseName": "SHOPCO"}},
            "success": true
        });
        complete(&mut login);
        assert_eq!(login["data"]["masterToken"], "t");
        assert_eq!(login["data"]["sessionInfo"]["roleName"], "PUBLIC");
        assert_eq!(login["data"]["sessionInfo"]["databaseName"], "SHOPCO");

        let mut failure =
            json!({"data": null, "code": "261000", "message": "boom", "success": false});
        complete(&mut failure);
        assert_eq!(failure["data"]["errorCode"], "261000");
        assert_eq!(failure["message"], "boom");

        let mut rows = json!({"data": {"rowtype": [], "rowset": [["2"]], "total": 1, "version": 7}, "success": true});
        complete(&mut rows);
        assert_eq!(rows["data"]["returned"], 1);
        assert_eq!(rows["data"]["version"], 7);
    }
}
