//! `shopc docs generate`: the documentation site of the project, written
//! into a folder (see [`crate::docs`]).

use super::*;

pub(super) fn generate(args: &RunArgs, out: Option<&std::path::Path>) -> ExitCode {
    let Prepared {
        loaded,
        config,
        compilation,
        manifest,
        target,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // Catalog facts only when a target is asked for: the docs of a project
    // need no warehouse.
    let catalog = match &args.target {
        None => None,
        Some(_) => match catalog(
            &loaded.root,
            &config,
            &compilation.ir,
            target.as_deref(),
            args,
        ) {
            Ok(catalog) => Some(catalog),
            Err(code) => return code,
        },
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
    let folders = ["", "assets", "nodes"]
        .iter()
        .try_for_each(|sub| std::fs::create_dir_all(dir.join(sub)));
    if let Err(e) = folders {
        eprintln!("error: cannot write `{}`: {e}", dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    // Pages are made on every core and written as they are made, by one
    // thread: files made in one folder from several threads wait on its
    // lock (twice the time on ext4).
    let (made, files) = std::sync::mpsc::sync_channel::<crate::docs::SiteFile>(256);
    let writer = std::thread::spawn({
        let dir = dir.clone();
        move || {
            let mut written = std::collections::HashSet::new();
            for file in files {
                let path = dir.join(&file.path);
                if let Err(e) = std::fs::write(&path, file.text) {
                    return Err(format!("cannot write `{}`: {e}", path.display()));
                }
                written.insert(path);
            }
            remove_stale_pages(&dir.join("nodes"), &written);
            Ok(())
        }
    });
    let pages = crate::docs::site(
        &compilation.ir,
        &compilation.analysis,
        &loaded.db,
        &manifest,
        &config.name,
        catalog.as_ref(),
        |file| made.send(file),
    );
    drop(made);
    // The writer's error first: a page not sent is one it stopped taking.
    let written = writer
        .join()
        .unwrap_or_else(|_| Err("the thread writing the pages stopped".into()));
    let pages = match (written, pages) {
        (Ok(()), Ok(pages)) => pages,
        (Err(message), _) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
        (Ok(()), Err(_)) => {
            eprintln!("error: the pages of the site were not all written");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    say!(
        "wrote the docs of {}: {pages} pages in {} (open {})",
        config.name,
        dir.display(),
        dir.join("index.html").display()
    );
    ExitCode::SUCCESS
}

/// Removes the pages of `nodes/` this generation did not write: those of
/// relations since removed or renamed (a site written over an older one
/// would still have them, found by their links' old targets). Only
/// `.html` files: anything else there is not the site's.
fn remove_stale_pages(
    nodes: &std::path::Path,
    written: &std::collections::HashSet<std::path::PathBuf>,
) {
    let Ok(entries) = std::fs::read_dir(nodes) else {
        return;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        if path.extension().is_some_and(|e| e == "html")
            && !written.contains(&path)
            && let Err(e) = std::fs::remove_file(&path)
        {
            eprintln!(
                "warning: cannot remove the stale page `{}`: {e}",
                path.display()
            );
        }
    }
}

/// Each built relation's row count and size, from the target's warehouse.
/// A relation not there (never built, or dropped) has no facts.
fn catalog(
    root: &std::path::Path,
    config: &crate::config::ProjectConfig,
    ir: &crate::ir::Ir,
    target: Option<&str>,
    args: &RunArgs,
) -> Result<crate::docs::Catalog, ExitCode> {
    let (found, mut warehouse) = connect(root, config, target, args.database.as_deref())?;
    let emitter = crate::emit::Emitter::new(ir, found.target.dialect());
    let number = |rows: crate::warehouse::Rows| rows.first_value().trim().parse::<u64>().ok();
    let mut facts = std::collections::HashMap::new();
    for &id in &ir.order {
        let Some(name) = crate::emit::physical_name(ir, id) else {
            continue;
        };
        if !matches!(warehouse.relation_type(&name), Ok(Some(_))) {
            continue;
        }
        let rows = row_count(warehouse.as_mut(), &emitter, &name).ok();
        let bytes = emitter
            .size_query(&name)
            .and_then(|sql| warehouse.query(&sql).ok())
            .and_then(number);
        facts.insert(id, crate::docs::CatalogFacts { rows, bytes });
    }
    say!(
        "read the row counts{} of {} relations from {}",
        if facts.values().any(|f| f.bytes.is_some()) {
            " and sizes"
        } else {
            ""
        },
        facts.len(),
        warehouse.describe()
    );
    Ok(crate::docs::Catalog {
        target: warehouse.describe(),
        facts,
    })
}

/// `shopc docs serve`: the site's folder over HTTP on 127.0.0.1 until
/// Ctrl-C (tower-http's `ServeDir`, which keeps requests inside it).
pub(super) fn serve(dir: &std::path::Path, port: u16) -> ExitCode {
    if !dir.join("index.html").is_file() {
        eprintln!(
            "error: `{}` holds no index.html: write the site first with `shopc docs generate`",
            dir.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the server: {e}");
            return ExitCode::from(EXIT_ERRORS);
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let address = listener
            .local_addr()
            .map_or_else(|_| format!("127.0.0.1:{port}"), |a| a.to_string());
        say!(
            "serving {} at http://{address}/ (Ctrl-C stops it)",
            dir.display()
        );
        let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
        let stopped = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        match stopped {
            Ok(()) => {
                say!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: the server stopped: {e}");
                ExitCode::from(EXIT_ERRORS)
            }
        }
    })
}
