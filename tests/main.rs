//! The integration tests, as the modules of one test binary: each file of
//! `tests/` is a module here, not a crate of its own. As crates, each
//! linked DuckDB's static library and compiled `common` again, which was
//! most of a cold `cargo test --release`'s build; one binary links once.
//! `cargo test --release --test integration faults::` runs one file's tests.

mod common;

mod artifacts;
mod build;
mod cli;
mod defer;
mod diagnostics;
mod docs;
mod editors;
mod emit;
mod engine;
mod environments;
mod faults;
mod format;
mod freshness;
mod functions;
mod grain;
mod hooks;
mod hostile;
mod incremental;
mod jaffle;
mod language;
mod lsp;
mod notifications;
mod parser;
mod peers;
mod postgres;
mod proofs;
mod robustness;
mod safety;
mod scale;
mod shopco;
mod snowflake;
mod unit_tests;
mod usability;
