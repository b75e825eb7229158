//! The files `shopc emit` writes: one per relation and statement kind, each
//! formatted with sqlformat under a header comment. Each file is a script
//! of exactly the statements `shopc run` sends for it, transactions
//! included, so it can be run by hand, and run again. Pure: paths and texts.

use super::{Dialect, Emitter};
use crate::ir::{Materialized, RelId, RelationKind};

/// One emitted file: a path relative to the output folder, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct EmittedFile {
    pub path: String,
    /// What the statements do: `build`, `incremental`, `snapshot_create`…
    pub kind: &'static str,
    pub statements: Vec<String>,
    pub text: String,
}

impl Emitter<'_> {
    /// Every file for the given relations, in order. Snapshot statements
    /// take the run's timestamp from the dialect's clock ([`super::SqlDialect::now`]).
    /// Relations are emitted (and formatted, most of the work) in parallel;
    /// the files come back in the order of `selected`.
    pub fn files(&self, selected: &[RelId]) -> Vec<EmittedFile> {
        use rayon::prelude::*;
        crate::in_pool(|| {
            selected
                .par_iter()
                .map(|&id| self.files_of(id))
                .collect::<Vec<_>>()
                .into_iter()
                .flatten()
                .collect()
        })
    }

    /// The files of one relation: its statements' and its tests'.
    fn files_of(&self, id: RelId) -> Vec<EmittedFile> {
        let mut files = Vec::new();
        let rel = self.ir.relation(id);
        let mut add = |kind: &'static str, statements: Vec<String>| {
            if !statements.is_empty() {
                files.push(self.file(
                    id,
                    format!("{}.{kind}.sql", file_name(&rel.name)),
                    kind,
                    statements,
                ));
            }
        };
        match &rel.kind {
            RelationKind::Table(_) | RelationKind::Series(_) => {}
            RelationKind::Model(model) => {
                if model.materialized == Materialized::Ephemeral {
                    let parents = self.ephemeral_parents(id);
                    let mut select = self.ephemeral_select(id);
                    if !parents.is_empty() {
                        let names: Vec<String> = parents
                            .iter()
                            .map(|p| {
                                let name = &self.ir.relation(*p).name;
                                format!("{name} (its query: {}.select.sql)", file_name(name))
                            })
                            .collect();
                        select = format!(
                            "-- reads the CTE of the ephemeral model {}; the files of the models that read this one hold every CTE\n{select}",
                            names.join(", ")
                        );
                    }
                    add("select", vec![select]);
                } else {
                    let build = self.build(id);
                    add("build", self.build_script(&build));
                    if !build.refill.is_empty() {
                        add("refill", self.refill_script(&build));
                    }
                }
                if let Some(statements) = self.incremental(id) {
                    add("incremental", self.dml_script(&statements));
                }
            }
            RelationKind::Snapshot(_) => {
                if let Some(snapshot) = self.snapshot(id, self.d.now()) {
                    let (schema, create) = snapshot.create.split_at(1.min(snapshot.create.len()));
                    add("snapshot_create", self.script(schema, create));
                    add("snapshot_update", self.dml_script(&snapshot.update));
                }
            }
        }
        for test in self.tests(id).into_iter().chain(self.reconciliations(id)) {
            files.push(self.file(
                id,
                format!("tests/{}.sql", file_name(&test.name)),
                "test",
                vec![test.sql],
            ));
        }
        files
    }

    fn file(
        &self,
        id: RelId,
        path: String,
        kind: &'static str,
        statements: Vec<String>,
    ) -> EmittedFile {
        let mut text = format!("{} · {kind}\n", self.header(id));
        for statement in &statements {
            text.push_str(&format_sql(self.dialect, statement));
            text.push_str(";\n\n");
        }
        text.truncate(text.trim_end().len());
        text.push('\n');
        EmittedFile {
            path,
            kind,
            statements,
            text,
        }
    }
}

/// A name as a portable file name: letters, digits, `_`, `-` and `.`; any
/// other character (a space, a quote) becomes `_`.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One statement, formatted for reading: two-space indents, keywords as
/// written (shopc writes them in upper case). A file must mean exactly
/// what `run` executes, and sqlformat does not know every dialect's
/// strings (it loses track of one with a backslash, and then rewrites what
/// follows, inside the string and out): the formatted text is kept only
/// when it reads, in `dialect`'s own tokens, as the statement did, spaces
/// aside. Otherwise the statement is written as it is.
pub fn format_sql(dialect: Dialect, sql: &str) -> String {
    let options = sqlformat::FormatOptions {
        indent: sqlformat::Indent::Spaces(2),
        lines_between_queries: 1,
        ..sqlformat::FormatOptions::default()
    };
    // sqlformat breaks the line inside `CREATE OR REPLACE`.
    let formatted = sqlformat::format(sql, &sqlformat::QueryParams::None, &options)
        .replace("CREATE\nOR REPLACE", "CREATE OR REPLACE");
    match (tokens(dialect, sql), tokens(dialect, &formatted)) {
        (Some(before), Some(after)) if before == after => formatted,
        _ => sql.to_string(),
    }
}

/// The statement's tokens as `dialect`'s warehouse reads them, without the
/// spaces and line breaks between them; `None` when it cannot be read.
fn tokens(dialect: Dialect, sql: &str) -> Option<Vec<sqlparser::tokenizer::Token>> {
    use sqlparser::dialect as d;
    use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
    let reader: &dyn d::Dialect = match dialect {
        Dialect::DuckDb => &d::DuckDbDialect {},
        Dialect::Postgres => &d::PostgreSqlDialect {},
        Dialect::Snowflake => &d::SnowflakeDialect {},
        Dialect::BigQuery => &d::BigQueryDialect {},
    };
    let tokens = Tokenizer::new(reader, sql).tokenize().ok()?;
    Some(
        tokens
            .into_iter()
            .filter(|t| {
                !matches!(
                    t,
                    Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
                )
            })
            .collect(),
    )
}
