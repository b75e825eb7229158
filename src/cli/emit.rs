//! `shopc emit` and `shopc compile`: the SQL of the selection, written out.

use super::*;

pub(super) fn parse_dialect(text: &str) -> Result<crate::emit::Dialect, String> {
    crate::emit::Dialect::parse(text).ok_or_else(|| {
        let names: Vec<&str> = crate::emit::Dialect::ALL.iter().map(|d| d.name()).collect();
        format!(
            "unknown dialect `{text}`; expected one of {}",
            names.join(", ")
        )
    })
}

/// Writes each `(path, text)` under `dir`, making the folders between; the
/// first file that cannot be written is an error naming it (exit 2).
pub(super) fn write_files<'a, P: AsRef<std::path::Path>>(
    dir: &std::path::Path,
    files: impl IntoIterator<Item = (P, &'a str)>,
) -> Result<(), ExitCode> {
    for (file, text) in files {
        let path = dir.join(file);
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = result {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return Err(ExitCode::from(EXIT_USAGE));
        }
    }
    Ok(())
}

pub(super) fn emit(args: &RunArgs, out: Option<&std::path::Path>) -> ExitCode {
    let Prepared {
        loaded,
        compilation,
        selected,
        target,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // A dialect's name, else a target of profiles.toml (`--target`'s, else
    // the environment's).
    let dialect = match target.as_deref().map(parse_dialect) {
        None => crate::emit::Dialect::DuckDb,
        Some(Ok(dialect)) => dialect,
        Some(Err(unknown)) => match find_target(&loaded.root, target.as_deref()) {
            Ok(found) if found.name.is_some() => found.target.dialect(),
            Ok(_) | Err(_) => {
                eprintln!(
                    "error: {unknown}, and no target of {} has that name",
                    crate::profiles::FILE_NAME
                );
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let emitter = crate::emit::Emitter::new(&compilation.ir, dialect);
    let problems = emitter.target_problems();
    report(&loaded.db, &problems, args.color);
    if problems.iter().any(Problem::is_error) {
        eprintln!(
            "error: the project does not fit {}; nothing was written",
            dialect.name()
        );
        return ExitCode::from(EXIT_ERRORS);
    }
    let files = emitter.files(&selected.relations);
    let Some(dir) = out else {
        for file in &files {
            say!("-- file: {}\n{}", file.path, file.text);
        }
        return ExitCode::SUCCESS;
    };
    if let Err(code) = write_files(
        dir,
        files.iter().map(|f| (f.path.as_str(), f.text.as_str())),
    ) {
        return code;
    }
    say!(
        "emitted {} files for {} into {}",
        files.len(),
        dialect.name(),
        dir.display()
    );
    ExitCode::SUCCESS
}

pub(super) fn compile(args: &RunArgs) -> ExitCode {
    let Prepared {
        loaded,
        config,
        compilation,
        selected,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dir = loaded.root.join(&config.paths.target).join("compiled");
    let emitter = crate::emit::Emitter::new(&compilation.ir, crate::emit::Dialect::DuckDb);
    let test_file = |id: crate::ir::RelId, test: &crate::emit::TestSql| {
        let body = format!(
            "{}\n-- test {}\n{};\n",
            emitter.header(id),
            test.name,
            test.sql
        );
        (dir.join("tests").join(format!("{}.sql", test.name)), body)
    };
    // Tests selected without their relation (a changed test).
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (id, name) in &selected.tests {
        let tests = emitter.tests(*id).into_iter();
        let mut all = tests.chain(emitter.reconciliations(*id));
        if let Some(test) = all.find(|t| &t.name == name) {
            files.push(test_file(*id, &test));
        }
    }
    for &id in &selected.relations {
        let rel = compilation.ir.relation(id);
        if !matches!(rel.kind, RelationKind::Model(_)) {
            continue;
        }
        let build = emitter.build(id);
        let mut text = format!("{}\n", emitter.header(id));
        if build.target.is_none() {
            text.push_str("-- ephemeral: inlined as a CTE where it is read\n");
            for parent in emitter.ephemeral_parents(id) {
                let parent = &compilation.ir.relation(parent).name;
                text.push_str(&format!("-- reads the CTE of {parent} ({parent}.sql)\n"));
            }
            text.push_str(&emitter.ephemeral_select(id));
            text.push_str(";\n");
        }
        for statement in emitter.build_script(&build) {
            text.push_str(&statement);
            text.push_str(";\n");
        }
        files.push((dir.join(format!("{}.sql", rel.name)), text));
        for test in emitter.tests(id) {
            files.push(test_file(id, &test));
        }
    }
    // Each path is already under `dir`.
    let written = files.iter().map(|(path, text)| (path, text.as_str()));
    if let Err(code) = write_files(std::path::Path::new(""), written) {
        return code;
    }
    say!("compiled {} files into {}", files.len(), dir.display());
    ExitCode::SUCCESS
}
