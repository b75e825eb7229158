//! `profiles.toml`: named warehouse targets. Read from the project folder,
//! else from `~/.shopc/`. This module parses text it is given and resolves
//! environment variables through a lookup it is given; finding the file and
//! reading the environment are the caller's job.
//!
//! ```toml
//! default = "dev"
//!
//! [targets.dev]
//! adapter = "duckdb"
//! path = "target/shopco.duckdb"
//!
//! [targets.pg]
//! adapter = "postgres"
//! host = "127.0.0.1"
//! port = { env = "SHOPC_PG_PORT", default = 5432 }
//! user = "shopc"
//! dbname = "shopco"
//! password = { env = "SHOPC_PG_PASSWORD" }
//! ```
//!
//! Any value may come from the environment (`{ env = "NAME" }`, with an
//! optional `default`); secrets (`password`, `private_key`) may only.

use indexmap::IndexMap;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::warehouse::{PostgresConfig, SnowflakeConfig, Timeouts};

/// The file's name.
pub const FILE_NAME: &str = "profiles.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    /// The target used without `--target`; the embedded DuckDB file without it.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub targets: IndexMap<String, TargetConfig>,
}

/// One target, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "adapter", rename_all = "lowercase", deny_unknown_fields)]
pub enum TargetConfig {
    Duckdb {
        /// The database file, relative to the project (default:
        /// `TARGET/NAME.duckdb`).
        #[serde(default)]
        path: Option<Field<String>>,
    },
    Postgres {
        #[serde(default)]
        host: Option<Field<String>>,
        #[serde(default)]
        port: Option<Field<u16>>,
        user: Field<String>,
        dbname: Field<String>,
        #[serde(default)]
        password: Option<Secret>,
        /// Seconds to connect and log in (default 30).
        #[serde(default)]
        connect_timeout: Option<Field<u64>>,
        /// Seconds one statement may take (default 3,600; 0: no limit).
        #[serde(default)]
        statement_timeout: Option<Field<u64>>,
    },
    Snowflake {
        account: Field<String>,
        user: Field<String>,
        #[serde(default)]
        warehouse: Option<Field<String>>,
        #[serde(default)]
        role: Option<Field<String>>,
        database: Field<String>,
        schema: Field<String>,
        #[serde(default)]
        password: Option<Secret>,
        /// A PKCS#8 PEM private key, for key-pair authentication.
        #[serde(default)]
        private_key: Option<Secret>,
        /// Another address than `https://ACCOUNT.snowflakecomputing.com`
        /// (a local server that speaks Snowflake's protocol, in tests).
        #[serde(default)]
        host: Option<Field<String>>,
        /// Seconds to connect and log in (default 30).
        #[serde(default)]
        connect_timeout: Option<Field<u64>>,
        /// Seconds one statement may take (default 3,600; 0: no limit).
        #[serde(default)]
        statement_timeout: Option<Field<u64>>,
    },
    Bigquery {
        project: Field<String>,
        dataset: Field<String>,
    },
}

/// A value written in the file, or read from an environment variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Value(T),
    Env { env: String, default: Option<T> },
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        if let toml::Value::Table(table) = &value
            && table.contains_key("env")
        {
            let env = match table.get("env") {
                Some(toml::Value::String(s)) => s.clone(),
                _ => return Err(D::Error::custom("`env` names an environment variable")),
            };
            if let Some(key) = table.keys().find(|k| *k != "env" && *k != "default") {
                return Err(D::Error::custom(format!(
                    "unknown key `{key}`: expected `env` and an optional `default`"
                )));
            }
            let default = match table.get("default") {
                Some(v) => Some(T::deserialize(v.clone()).map_err(D::Error::custom)?),
                None => None,
            };
            return Ok(Field::Env { env, default });
        }
        T::deserialize(value)
            .map(Field::Value)
            .map_err(D::Error::custom)
    }
}

/// A secret: always the name of an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub env: String,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Field::<String>::deserialize(d)? {
            Field::Env { env, default: None } => Ok(Secret { env }),
            Field::Env { .. } => Err(D::Error::custom(
                "a secret has no default: set the environment variable",
            )),
            Field::Value(_) => Err(D::Error::custom(
                "secrets are read from the environment, never from a file: write `{ env = \"VARIABLE\" }`",
            )),
        }
    }
}

/// A target with every value known.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    DuckDb { path: Option<String> },
    Postgres(PostgresConfig),
    Snowflake(SnowflakeConfig),
    BigQuery { project: String, dataset: String },
}

impl Target {
    /// The adapter's name, as written after `adapter =`.
    pub fn adapter(&self) -> &'static str {
        match self {
            Target::DuckDb { .. } => "duckdb",
            Target::Postgres(_) => "postgres",
            Target::Snowflake(_) => "snowflake",
            Target::BigQuery { .. } => "bigquery",
        }
    }

    pub fn dialect(&self) -> crate::emit::Dialect {
        match self {
            Target::DuckDb { .. } => crate::emit::Dialect::DuckDb,
            Target::Postgres(_) => crate::emit::Dialect::Postgres,
            Target::Snowflake(_) => crate::emit::Dialect::Snowflake,
            Target::BigQuery { .. } => crate::emit::Dialect::BigQuery,
        }
    }

    /// What the target is, as `key: value` lines, secrets shown only as
    /// set or not.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let secret = |s: &Option<String>| match s {
            Some(_) => "set (not shown)".to_string(),
            None => "none".to_string(),
        };
        match self {
            Target::DuckDb { path } => vec![(
                "path",
                path.clone()
                    .unwrap_or_else(|| "(the project default)".into()),
            )],
            Target::Postgres(c) => vec![
                ("host", c.host.clone()),
                ("port", c.port.to_string()),
                ("user", c.user.clone()),
                ("dbname", c.dbname.clone()),
                ("password", secret(&c.password)),
                ("timeouts", c.timeouts.to_string()),
            ],
            Target::Snowflake(c) => vec![
                ("account", c.account.clone()),
                ("user", c.user.clone()),
                ("warehouse", c.warehouse.clone().unwrap_or_default()),
                ("role", c.role.clone().unwrap_or_default()),
                ("database", c.database.clone()),
                ("schema", c.schema.clone()),
                ("password", secret(&c.password)),
                ("private_key", secret(&c.private_key)),
                (
                    "host",
                    c.host.clone().unwrap_or_else(|| "(Snowflake's)".into()),
                ),
                ("timeouts", c.timeouts.to_string()),
            ],
            Target::BigQuery { project, dataset } => {
                vec![("project", project.clone()), ("dataset", dataset.clone())]
            }
        }
    }
}

/// Parses `profiles.toml`; the error carries the byte range it points at.
pub fn parse(text: &str) -> Result<Profiles, (Option<std::ops::Range<usize>>, String)> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_string();
        // Inside a target, toml loses the position of a field's error (the
        // target is read whole to find its adapter): find a secret written
        // as a string by its key.
        let span = if message.starts_with("secrets are read") {
            secret_literal(text).or(e.span())
        } else {
            e.span()
        };
        (span, message)
    })
}

/// Where a line sets `password` or `private_key` to a string.
fn secret_literal(text: &str) -> Option<std::ops::Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        for key in ["password", "private_key"] {
            if let Some(rest) = trimmed.strip_prefix(key)
                && let Some(value) = rest.trim_start().strip_prefix('=')
                && value.trim_start().starts_with(['"', '\''])
            {
                let start = offset + (line.len() - value.trim_start().len());
                return Some(start..offset + line.trim_end().len());
            }
        }
        offset += line.len();
    }
    None
}

impl Profiles {
    /// The target named `name`, or the default one (`None` when there is
    /// none: the embedded DuckDB file).
    pub fn select<'p>(
        &'p self,
        name: Option<&'p str>,
    ) -> Result<Option<(&'p str, &'p TargetConfig)>, String> {
        let Some(name) = name.or(self.default.as_deref()) else {
            return Ok(None);
        };
        match self.targets.get_key_value(name) {
            Some((name, target)) => Ok(Some((name.as_str(), target))),
            None => {
                let mut known: Vec<&str> = self.targets.keys().map(String::as_str).collect();
                known.sort_unstable();
                Err(format!(
                    "no target `{name}` in {FILE_NAME}; it has {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            }
        }
    }
}

/// The environment variable a field reads, if it reads one.
fn variable<T>(field: Option<&Field<T>>) -> Option<&str> {
    match field {
        Some(Field::Env { env, .. }) => Some(env),
        _ => None,
    }
}

/// Whether a variable's name says that it holds a secret.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "PRIVATE_KEY",
        "API_KEY",
    ]
    .iter()
    .any(|word| name.contains(word))
}

impl TargetConfig {
    /// The variables read by the fields that are not secrets, by key, and
    /// the ones read by secrets.
    fn variables(&self) -> (Vec<(&'static str, &str)>, Vec<&str>) {
        fn secrets<'a>(list: &[&'a Option<Secret>]) -> Vec<&'a str> {
            list.iter()
                .filter_map(|s| s.as_ref().map(|s| s.env.as_str()))
                .collect()
        }
        let (fields, secret_vars) = match self {
            TargetConfig::Duckdb { path } => (vec![("path", variable(path.as_ref()))], Vec::new()),
            TargetConfig::Postgres {
                host,
                port,
                user,
                dbname,
                password,
                connect_timeout,
                statement_timeout,
            } => (
                vec![
                    ("host", variable(host.as_ref())),
                    ("port", variable(port.as_ref())),
                    ("user", variable(Some(user))),
                    ("dbname", variable(Some(dbname))),
                    ("connect_timeout", variable(connect_timeout.as_ref())),
                    ("statement_timeout", variable(statement_timeout.as_ref())),
                ],
                secrets(&[password]),
            ),
            TargetConfig::Snowflake {
                account,
                user,
                warehouse,
                role,
                database,
                schema,
                password,
                private_key,
                host,
                connect_timeout,
                statement_timeout,
            } => (
                vec![
                    ("connect_timeout", variable(connect_timeout.as_ref())),
                    ("statement_timeout", variable(statement_timeout.as_ref())),
                    ("account", variable(Some(account))),
                    ("user", variable(Some(user))),
                    ("warehouse", variable(warehouse.as_ref())),
                    ("role", variable(role.as_ref())),
                    ("database", variable(Some(database))),
                    ("schema", variable(Some(schema))),
                    ("host", variable(host.as_ref())),
                ],
                secrets(&[password, private_key]),
            ),
            TargetConfig::Bigquery { project, dataset } => (
                vec![
                    ("project", variable(Some(project))),
                    ("dataset", variable(Some(dataset))),
                ],
                Vec::new(),
            ),
        };
        (
            fields
                .into_iter()
                .filter_map(|(key, var)| var.map(|v| (key, v)))
                .collect(),
            secret_vars,
        )
    }

    /// Every value known, environment variables read through `env`. A
    /// field that is not a secret may not read a secret's variable (one a
    /// secret field reads, or one named like a secret): its value would be
    /// shown by `debug connection` and in errors.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Target, String> {
        let (fields, secret_vars) = self.variables();
        for (key, name) in fields {
            if secret_vars.contains(&name) || secret_name(name) {
                return Err(format!(
                    "`{key}` is read from ${name}, a secret's variable: only `password` and \
                     `private_key` may read it (its value is never shown)"
                ));
            }
        }
        let secret = |key: &str, s: &Option<Secret>| -> Result<Option<String>, String> {
            match s {
                None => Ok(None),
                Some(Secret { env: name }) => match env(name) {
                    Some(v) => Ok(Some(v)),
                    None => Err(format!("`{key}` is read from ${name}, which is not set")),
                },
            }
        };
        Ok(match self {
            TargetConfig::Duckdb { path } => Target::DuckDb {
                path: optional(env, "path", path)?,
            },
            TargetConfig::Postgres {
                host,
                port,
                user,
                dbname,
                password,
                connect_timeout,
                statement_timeout,
            } => Target::Postgres(PostgresConfig {
                host: optional(env, "host", host)?.unwrap_or_else(|| "127.0.0.1".into()),
                port: optional(env, "port", port)?.unwrap_or(5432),
                user: value(env, "user", user)?,
                dbname: value(env, "dbname", dbname)?,
                password: secret("password", password)?,
                timeouts: Timeouts::from_seconds(
                    optional(env, "connect_timeout", connect_timeout)?,
                    optional(env, "statement_timeout", statement_timeout)?,
                ),
            }),
            TargetConfig::Snowflake {
                account,
                user,
                warehouse,
                role,
                database,
                schema,
                password,
                private_key,
                host,
                connect_timeout,
                statement_timeout,
            } => {
                let config = SnowflakeConfig {
                    account: value(env, "account", account)?,
                    user: value(env, "user", user)?,
                    warehouse: optional(env, "warehouse", warehouse)?,
                    role: optional(env, "role", role)?,
                    database: value(env, "database", database)?,
                    schema: value(env, "schema", schema)?,
                    password: secret("password", password)?,
                    private_key: secret("private_key", private_key)?,
                    host: optional(env, "host", host)?,
                    timeouts: Timeouts::from_seconds(
                        optional(env, "connect_timeout", connect_timeout)?,
                        optional(env, "statement_timeout", statement_timeout)?,
                    ),
                };
                if config.password.is_none() == config.private_key.is_none() {
                    return Err(
                        "a snowflake target authenticates with exactly one of `password` or `private_key`"
                            .into(),
                    );
                }
                Target::Snowflake(config)
            }
            TargetConfig::Bigquery { project, dataset } => Target::BigQuery {
                project: value(env, "project", project)?,
                dataset: value(env, "dataset", dataset)?,
            },
        })
    }
}

fn value<T: std::str::FromStr + Clone>(
    env: &dyn Fn(&str) -> Option<String>,
    key: &str,
    field: &Field<T>,
) -> Result<T, String> {
    match field {
        Field::Value(v) => Ok(v.clone()),
        Field::Env { env: name, default } => match env(name) {
            // The value is not shown: a variable may hold more than it should.
            Some(text) => text.trim().parse().map_err(|_| {
                format!("`{key}` is read from ${name}, whose value does not fit (not shown)")
            }),
            None => default
                .clone()
                .ok_or_else(|| format!("`{key}` is read from ${name}, which is not set")),
        },
    }
}

fn optional<T: std::str::FromStr + Clone>(
    env: &dyn Fn(&str) -> Option<String>,
    key: &str,
    field: &Option<Field<T>>,
) -> Result<Option<T>, String> {
    field.as_ref().map(|f| value(env, key, f)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
default = "pg"
[targets.pg]
adapter = "postgres"
port = { env = "PORT", default = 5432 }
user = "shopc"
dbname = "shopco"
password = { env = "PGPASS" }
[targets.local]
adapter = "duckdb"
"#;

    #[test]
    fn targets_resolve_values_from_the_environment() {
        let profiles = parse(TEXT).unwrap();
        let (name, target) = profiles.select(None).unwrap().unwrap();
        assert_eq!(name, "pg");
        let env = |k: &str| match k {
            "PORT" => Some("6543".to_string()),
            "PGPASS" => Some("hunter2".to_string()),
            _ => None,
        };
        let Target::Postgres(config) = target.resolve(&env).unwrap() else {
            panic!("a postgres target")
        };
        assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 6543));
        assert_eq!(config.password.as_deref(), Some("hunter2"));
        // Never printed, even in debug output.
        assert!(!format!("{config:?}").contains("hunter2"));
        let described = Target::Postgres(config).describe();
        assert!(!format!("{described:?}").contains("hunter2"));

        // The default applies when the variable is unset; a secret has none.
        let error = target.resolve(&|_| None).unwrap_err();
        assert_eq!(error, "`password` is read from $PGPASS, which is not set");
        let error = target
            .resolve(&|k| (k == "PORT").then(|| "many".to_string()))
            .unwrap_err();
        assert!(error.contains("`port` is read from $PORT"), "{error}");
    }

    #[test]
    fn a_secret_written_in_the_file_is_refused() {
        let text = TEXT.replace("password = { env = \"PGPASS\" }", "password = \"hunter2\"");
        let (span, message) = parse(&text).unwrap_err();
        assert!(message.contains("never from a file"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(&text[span.unwrap()], "\"hunter2\"");
    }

    #[test]
    fn unknown_targets_and_keys_are_named() {
        let profiles = parse(TEXT).unwrap();
        let error = profiles.select(Some("prod")).unwrap_err();
        assert_eq!(error, "no target `prod` in profiles.toml; it has local, pg");
        let (_, message) = parse(&TEXT.replace("dbname", "database")).unwrap_err();
        assert!(message.contains("database"), "{message}");
        let (_, message) = parse("[targets.x]\nadapter = \"oracle\"\n").unwrap_err();
        assert!(message.contains("oracle"), "{message}");
    }
}
