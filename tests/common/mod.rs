//! Helpers shared by the integration tests that run the `shopc` binary.
#![allow(clippy::disallowed_methods, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SHOPCO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/shopco_models");

/// Runs the binary; fails the test if it panicked.
pub fn shopc(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_shopc"))
        .args(args)
        .env("NO_COLOR", "1")
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
    duckdb::Connection::open(root.join("target/shopco.duckdb")).unwrap()
}
