//! `shopc fmt`: rewrites `.shop` files in their canonical layout
//! ([`crate::syntax::format`]), or with `--check` lists those that are not.

use std::path::{Path, PathBuf};

use super::*;
use crate::span::FileId;

/// What `shopc fmt` is asked to do.
pub(super) struct FmtArgs {
    pub check: bool,
    pub paths: Vec<PathBuf>,
    pub project: PathBuf,
    pub color: ColorChoice,
}

pub(super) fn fmt(args: &FmtArgs) -> ExitCode {
    if args.paths.len() == 1 && args.paths[0] == Path::new("-") {
        return stdin(args);
    }
    let mut db = SourceDb::new();
    let mut problems = Vec::new();
    let files = if args.paths.is_empty() {
        match project::load(&args.project) {
            Ok(loaded) => {
                problems = loaded.problems;
                db = loaded.db;
                loaded.shop_files
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        match shop_files(&args.paths) {
            Ok(paths) => paths
                .iter()
                .filter_map(|path| project::load_shop_file(&mut db, path, &mut problems))
                .collect(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    };
    // Only the problems of reading the files matter here (a project's
    // `shop.toml` is not formatted, nor needed to be valid).
    problems.retain(|p| {
        matches!(
            p,
            Problem::InvalidUtf8 { .. }
                | Problem::FileTooLarge { .. }
                | Problem::UnreadableFile { .. }
        )
    });
    // Each of these problems is a file that was not read.
    let mut failed = problems.len();
    let mut changed = 0;
    let mut unchanged = 0;
    for file in files {
        let text = db.text(file);
        let formatted = match crate::syntax::format(file, text) {
            Ok(formatted) => formatted,
            Err(found) => {
                problems.extend(found);
                failed += 1;
                continue;
            }
        };
        if formatted == text {
            unchanged += 1;
            continue;
        }
        changed += 1;
        let path = PathBuf::from(&db.get(file).path);
        if args.check {
            let shown = path.strip_prefix(".").unwrap_or(&path);
            println!("Would reformat: {}", shown.display());
        } else if let Err(e) = write_atomically(&path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    crate::sort_problems(&mut problems);
    report(&db, &problems, args.color);
    let files = |n: usize| format!("{n} file{}", plural(n));
    let summary = match (args.check, changed) {
        (true, 0) => format!("{} already formatted", files(unchanged)),
        (true, _) => format!(
            "{} would be reformatted, {} already formatted",
            files(changed),
            files(unchanged)
        ),
        (false, _) => format!(
            "{} reformatted, {} left unchanged",
            files(changed),
            files(unchanged)
        ),
    };
    if failed > 0 {
        eprintln!("{summary}; {} not formatted (errors above)", files(failed));
        return ExitCode::from(EXIT_ERRORS);
    }
    eprintln!("{summary}");
    if args.check && changed > 0 {
        return ExitCode::from(EXIT_ERRORS);
    }
    ExitCode::SUCCESS
}

/// `shopc fmt -`: standard input formatted to standard output (for
/// editors that pipe a buffer through a formatter). A text that does not
/// parse is reported and nothing is written.
fn stdin(args: &FmtArgs) -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
        eprintln!("error: cannot read standard input: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("error: standard input is not UTF-8 text");
        return ExitCode::from(EXIT_ERRORS);
    };
    let mut db = SourceDb::new();
    let file: FileId = db.add("<stdin>", text);
    match crate::syntax::format(file, db.text(file)) {
        Ok(formatted) => {
            print!("{formatted}");
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(problems) => {
            report(&db, &problems, args.color);
            ExitCode::from(EXIT_ERRORS)
        }
    }
}

/// The `.shop` files named, and those under the folders named, in order.
fn shop_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(format!("`{}` does not exist", path.display()));
        }
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| e.to_string())?;
            let is_shop = entry.path().extension().is_some_and(|e| e == "shop");
            if is_shop && !entry.file_type().is_dir() {
                files.push(entry.into_path());
            }
        }
    }
    files.dedup();
    Ok(files)
}

/// Replaces a file's text without a moment where it is half written: the
/// new text goes to a file beside it, which is then renamed over it.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let mut temp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))?;
    temp.write_all(text.as_bytes())?;
    if let Ok(meta) = std::fs::metadata(path) {
        temp.as_file().set_permissions(meta.permissions())?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
