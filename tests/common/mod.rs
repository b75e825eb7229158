//! Helpers shared by the integration tests that run the `shopc` binary.
#![allow(clippy::disallowed_methods, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shopc::warehouse::Warehouse;

pub mod compare;

/// A project of two files compiled in memory, `sources.shop` and
/// `models.shop`, with a shop.toml that names it only.
pub fn compile(sources: &str, models: &str) -> (shopc::Compilation, shopc::span::SourceDb) {
    let mut db = shopc::span::SourceDb::new();
    let toml = "name = \"t\"\n";
    let config_file = db.add("shop.toml", toml);
    let config = shopc::config::parse_project_config(config_file, toml).unwrap();
    let sources = db.add("sources.shop", sources);
    let file = db.add("models.shop", models);
    (shopc::compile(&db, &config, &[sources, file]), db)
}

/// A compilation's problems: their codes in order, and rendered.
pub fn problems(
    compilation: &shopc::Compilation,
    db: &shopc::span::SourceDb,
) -> (Vec<shopc::diagnostic::Code>, String) {
    let diagnostics: Vec<_> = compilation
        .problems
        .iter()
        .map(|p| p.to_diagnostic())
        .collect();
    (
        compilation.problems.iter().map(|p| p.code()).collect(),
        shopc::diagnostic::render(db, &diagnostics, false),
    )
}

pub const SHOPCO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/shopco_models");

/// Runs the binary; fails the test if it panicked. It runs in the `prod`
/// environment, which builds the declared schemas (`marts.fact_orders`),
/// unless the arguments say `--env`: tests/environments.rs is about the
/// others.
pub fn shopc(args: &[&str]) -> Output {
    shopc_with(args, &[])
}

/// [`shopc`] with environment variables set (`("SHOPC_ENV", "")` to run
/// in the default environment).
pub fn shopc_with(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shopc"));
    command
        .args(args)
        .env("SHOPC_ENV", "prod")
        .env("SHOPC_USER", "tester");
    for (name, value) in vars {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    let out = command
        .env("NO_COLOR", "1")
        .env("SHOPC_TEST_SNOWFLAKE_PASSWORD", FAKESNOW_PASSWORD)
        .output()
        .expect("run shopc");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "shopc panicked:\n{err}");
    out
}

/// `shopc COMMAND --project ROOT EXTRA…`
pub fn run(command: &str, root: &Path, extra: &[&str]) -> Output {
    let mut args = vec![command, "--project", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    shopc(&args)
}

/// `shopc COMMAND SUBCOMMAND… --project ROOT EXTRA…` (`shopc source
/// freshness`, `shopc env drop dev`).
pub fn run_in(command: &str, sub: &[&str], root: &Path, extra: &[&str]) -> Output {
    let mut args = vec![command];
    args.extend_from_slice(sub);
    args.extend(["--project", root.to_str().unwrap()]);
    args.extend_from_slice(extra);
    shopc(&args)
}

/// `shopc build --project ROOT EXTRA…`, which must succeed; its stdout.
pub fn build(root: &Path, extra: &[&str]) -> String {
    let out = run("build", root, extra);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    text
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies a folder, leaving out `target/` and the folders named in `skip`.
pub fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || skip.iter().any(|s| name == *s) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name), skip);
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// A copy of ShopCo (without the folders in `skip`) in a temporary folder,
/// so that each test has its own files and database.
pub fn shopco_copy(skip: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("shopco");
    copy_dir(Path::new(SHOPCO), &root, skip);
    (temp, root)
}

/// The DuckDB database a default build of the project at `root` writes.
pub fn database(root: &Path) -> duckdb::Connection {
    database_at(&root.join("target/shopco.duckdb"))
}

/// A DuckDB database file, opened as shopc opens it: never loading an
/// extension.
pub fn database_at(path: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default()
        .enable_autoload_extension(false)
        .unwrap();
    duckdb::Connection::open_with_flags(path, config).unwrap()
}

/// A PostgreSQL database of its own for one test. `.ci/run` starts one
/// server (`scripts/postgres.sh`) and exports `SHOPC_PG_PORT`: each test
/// gets a fresh database on it. Without it the test starts a server of its
/// own with the same script (installing PostgreSQL from Debian's packages
/// if missing) and stops it when done.
pub struct Postgres {
    pub port: u16,
    pub database: String,
    server: Option<tempfile::TempDir>,
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres.sh");

impl Postgres {
    pub fn start(name: &str) -> Postgres {
        let (port, server) = match std::env::var("SHOPC_PG_PORT") {
            Ok(port) => (port.parse().expect("SHOPC_PG_PORT is a port"), None),
            Err(_) => {
                let (port, dir) = start_server(SCRIPT, "pg", "SHOPC_PG_PORT");
                (port.parse().expect("the script prints a port"), Some(dir))
            }
        };
        let database = format!("{name}_{}", std::process::id());
        let pg = Postgres {
            port,
            database: "shopco".into(),
            server: None,
        };
        let mut admin = pg.connect();
        admin
            .execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .unwrap();
        admin
            .execute(&format!("CREATE DATABASE {database}"))
            .unwrap();
        Postgres {
            port,
            database,
            server,
        }
    }

    pub fn connect(&self) -> shopc::warehouse::PostgresWarehouse {
        shopc::warehouse::PostgresWarehouse::connect(&shopc::warehouse::PostgresConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "shopc".into(),
            dbname: self.database.clone(),
            password: None,
            timeouts: Default::default(),
        })
        .expect("connect to the test server")
    }

    /// Writes a profiles.toml with this database as target `pg`.
    pub fn write_profiles(&self, root: &Path) {
        std::fs::write(
            root.join("profiles.toml"),
            format!(
                "[targets.pg]\nadapter = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"shopc\"\ndbname = \"{}\"\n",
                self.port, self.database
            ),
        )
        .unwrap();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        match &self.server {
            Some(dir) => {
                let _ = Command::new("bash")
                    .arg(SCRIPT)
                    .arg("stop")
                    .arg(dir.path().join("pg"))
                    .output();
            }
            None if self.database != "shopco" => {
                let admin = Postgres {
                    port: self.port,
                    database: "shopco".into(),
                    server: None,
                };
                let _ = admin.connect().execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.database
                ));
            }
            None => {}
        }
    }
}

/// The password the test profiles read from `$SHOPC_TEST_SNOWFLAKE_PASSWORD`
/// (set for every `shopc` the tests run). fakesnow accepts any password;
/// the profile reads it from the environment, as a real one must be.
pub const FAKESNOW_PASSWORD: &str = "fakesnow-accepts-any-password";

/// A Snowflake database of its own for one test, on a local fakesnow
/// server. `.ci/run` starts one (`scripts/fakesnow.sh`) and exports
/// `SHOPC_SNOWFLAKE_HOST`; without it the test starts a server of its own
/// with the same script (installing fakesnow from PyPI if missing).
/// fakesnow keeps databases in memory and creates one on first login.
pub struct Fakesnow {
    pub host: String,
    pub database: String,
    server: Option<tempfile::TempDir>,
}

const FAKESNOW_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fakesnow.sh");

impl Fakesnow {
    pub fn start(name: &str) -> Fakesnow {
        let (host, server) = match std::env::var("SHOPC_SNOWFLAKE_HOST") {
            Ok(host) => (host, None),
            Err(_) => {
                let (host, dir) = start_server(FAKESNOW_SCRIPT, "fakesnow", "SHOPC_SNOWFLAKE_HOST");
                (host, Some(dir))
            }
        };
        Fakesnow {
            host,
            database: format!("{name}_{}", std::process::id()),
            server,
        }
    }

    pub fn config(&self) -> shopc::warehouse::SnowflakeConfig {
        shopc::warehouse::SnowflakeConfig {
            account: "shopco".into(),
            user: "shopc".into(),
            warehouse: Some("compute_wh".into()),
            role: None,
            database: self.database.clone(),
            schema: "public".into(),
            password: Some(FAKESNOW_PASSWORD.into()),
            private_key: None,
            host: Some(self.host.clone()),
            timeouts: Default::default(),
        }
    }

    pub fn connect(&self) -> shopc::warehouse::SnowflakeWarehouse {
        shopc::warehouse::SnowflakeWarehouse::connect(&self.config())
            .expect("connect to the fakesnow server")
    }

    /// Writes a profiles.toml with this database as target `sf`.
    pub fn write_profiles(&self, root: &Path) {
        std::fs::write(
            root.join("profiles.toml"),
            format!(
                "[targets.sf]\nadapter = \"snowflake\"\naccount = \"shopco\"\nuser = \"shopc\"\n\
                 warehouse = \"compute_wh\"\ndatabase = \"{}\"\nschema = \"public\"\n\
                 password = {{ env = \"SHOPC_TEST_SNOWFLAKE_PASSWORD\" }}\nhost = \"{}\"\n",
                self.database, self.host
            ),
        )
        .unwrap();
    }
}

impl Drop for Fakesnow {
    fn drop(&mut self) {
        if let Some(dir) = &self.server {
            let _ = Command::new("bash")
                .arg(FAKESNOW_SCRIPT)
                .arg("stop")
                .arg(dir.path().join("fakesnow"))
                .output();
        }
    }
}

/// Starts a throwaway server with one of `scripts/` (`SCRIPT start
/// DIR/NAME`), in a temporary folder that the script's server user may
/// enter; returns the value the script prints as `VARIABLE=value` and the
/// folder, which holds the server until it is stopped.
fn start_server(script: &str, name: &str, variable: &str) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("bash")
        .arg(script)
        .arg("start")
        .arg(dir.path().join(name))
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{variable}=")))
        .unwrap_or_else(|| panic!("{script} prints {variable}=…"))
        .trim()
        .to_string();
    (value, dir)
}

/// Runs every `MODEL.build.sql` (and `MODEL.refill.sql`) that `shopc emit
/// --target TARGET` writes for the project at `root`, as a person would run
/// the files by hand, in the order emitted, each twice in a row; fails on
/// the first statement the warehouse refuses. Returns how many files ran.
pub fn run_emitted_builds(root: &Path, target: &str, warehouse: &mut dyn Warehouse) -> usize {
    let out = run("emit", root, &["--target", target]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut ran = 0;
    for file in text.split("-- file: ").skip(1) {
        let (path, body) = file.split_once('\n').unwrap();
        if !(path.ends_with(".build.sql") || path.ends_with(".refill.sql")) {
            continue;
        }
        for time in ["first", "second"] {
            warehouse
                .execute(body)
                .unwrap_or_else(|e| panic!("{path}, run a {time} time: {e}"));
        }
        ran += 1;
    }
    ran
}

/// A project in a temporary folder: each `(path, text)` written under it,
/// folders made as needed (`models/` and `seeds/` always).
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["models", "seeds"] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
    }
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers:
/// a warehouse that hangs. Connections are held until the process ends.
pub fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// A TCP proxy on 127.0.0.1 to `127.0.0.1:port` that passes bytes both ways
/// until [`Proxy::freeze`], and from then on passes none: a server that
/// goes silent after the connection is made and logged in.
pub struct Proxy {
    pub port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn to(port: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap().port();
        let frozen = std::sync::Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut buffer = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buffer) {
                            if n == 0 {
                                break;
                            }
                            // Frozen: swallow everything, answer nothing.
                            if !flag.load(Ordering::SeqCst) && to.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        });
        Proxy {
            port: local,
            frozen,
        }
    }

    pub fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts `shopc ARGS --project ROOT` twice at once: each run goes through
/// (exit 0) or is refused before it runs anything (exit 2, saying
/// `refused`), and at least one goes through. Returns how many did.
pub fn two_at_once(root: &Path, args: &[&str], refused: &str, round: usize) -> usize {
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_shopc"))
            .env("SHOPC_ENV", "prod")
            .args(args)
            .arg("--project")
            .arg(root)
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut ran = 0;
    for out in [&a, &b] {
        match out.status.code() {
            Some(0) => ran += 1,
            Some(2) => assert!(
                stderr(out).contains(refused),
                "round {round}: {}",
                stderr(out)
            ),
            code => panic!("round {round}: {code:?}: {}{}", stdout(out), stderr(out)),
        }
    }
    assert!(ran >= 1, "round {round}: neither run went through");
    ran
}
