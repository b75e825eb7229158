//! `shopc docs generate`: the documentation site of the project, written
//! into a folder (see [`crate::docs`]).

use super::*;

pub(super) fn generate(args: &RunArgs, out: Option<&std::path::Path>) -> ExitCode {
    let Prepared {
        loaded,
        config,
        compilation,
        manifest,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dir = out.map_or_else(
        || loaded.root.join(&config.paths.target).join("docs"),
        std::path::Path::to_path_buf,
    );
    if dir.exists() && !dir.is_dir() {
        eprintln!(
            "error: --out `{}` is a file, not a folder; nothing was written",
            dir.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let files = crate::docs::site(
        &compilation.ir,
        &compilation.analysis,
        &loaded.db,
        &manifest,
        &config.name,
    );
    if let Err(code) = write_files(
        &dir,
        files.iter().map(|f| (f.path.as_str(), f.text.as_str())),
    ) {
        return code;
    }
    let pages = files.iter().filter(|f| f.path.ends_with(".html")).count();
    say!(
        "wrote the docs of {}: {pages} pages in {} (open {})",
        config.name,
        dir.display(),
        dir.join("index.html").display()
    );
    ExitCode::SUCCESS
}
