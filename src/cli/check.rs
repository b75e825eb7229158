//! `shopc check`, `explain` and `debug`: what the compiler found and understood.

use super::*;

pub(super) fn check(
    project: &ProjectArg,
    env: &EnvArg,
    format: Format,
    color: ColorChoice,
) -> ExitCode {
    let started = Instant::now();
    let loaded = match load(project) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // The manifest names relations as the environment builds them.
    let environment = match &loaded.config {
        Some(config) => match environment(config, env) {
            Ok(environment) => environment,
            Err(code) => return code,
        },
        None => Default::default(),
    };
    let LoadedProject {
        mut db,
        config,
        shop_files,
        mut problems,
        root,
        ..
    } = loaded;
    let mut compilation = config
        .as_ref()
        .map(|config| crate::compile(&db, config, &shop_files));
    let mut seeds = Vec::new();
    if let (Some(compilation), Some(config)) = (&mut compilation, &config) {
        problems.extend(compilation.problems.iter().cloned());
        let discovered =
            crate::seed::discover(&compilation.ir, &mut db, &root.join(&config.paths.seeds));
        problems.extend(discovered.problems);
        seeds = discovered.seeds;
        compilation.ir.environment = environment;
        compilation.ir.seeded = seeds.iter().map(|s| s.relation).collect();
    }
    crate::sort_problems(&mut problems);
    if let (Some(compilation), Some(config)) = (&compilation, &config)
        && !problems.iter().any(Problem::is_error)
    {
        let dialect =
            find_target(&root, None).map_or(crate::emit::Dialect::DuckDb, |t| t.target.dialect());
        write_manifest(
            &root.join(&config.paths.target),
            &project_manifest(&db, &root, config, compilation, dialect, &seeds),
            "check".into(),
        );
    }
    let elapsed = started.elapsed();

    let diagnostics: Vec<Diagnostic> = problems.iter().map(Problem::to_diagnostic).collect();
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    let models = compilation
        .as_ref()
        .map_or(0, |c| c.ir.count(|k| matches!(k, RelationKind::Model(_))));
    let sources = compilation
        .as_ref()
        .map_or(0, |c| c.ir.count(|k| matches!(k, RelationKind::Table(_))));
    let snapshots = compilation.as_ref().map_or(0, |c| {
        c.ir.count(|k| matches!(k, RelationKind::Snapshot(_)))
    });
    let reconciles = compilation.as_ref().map_or(0, |c| c.ir.reconciles.len());
    let millis = elapsed.as_secs_f64() * 1000.0;
    let notes = compilation
        .as_ref()
        .map(|c| layerless_notes(&c.ir))
        .unwrap_or_default();
    match format {
        Format::Human => {
            eprint!(
                "{}",
                diagnostic::render(&db, &diagnostics, use_color(color))
            );
            for note in &notes {
                eprintln!("note: {note}");
            }
            let verdict = if errors > 0 { "failed" } else { "ok" };
            say!(
                "check {verdict}: {} file{}, {models} model{}, {sources} source table{}, {snapshots} snapshot{}, \
                 {reconciles} reconciliation{}; {errors} error{}, {warnings} warning{} in {millis:.1}ms",
                shop_files.len(),
                plural(shop_files.len()),
                plural(models),
                plural(sources),
                plural(snapshots),
                plural(reconciles),
                plural(errors),
                plural(warnings),
            );
        }
        Format::Json => {
            let json = serde_json::json!({
                "diagnostics": diagnostics.iter().map(|d| diagnostic::to_json(&db, d)).collect::<Vec<_>>(),
                "notes": notes,
                "summary": {
                    "files": shop_files.len(),
                    "models": models,
                    "source_tables": sources,
                    "snapshots": snapshots,
                    "reconciliations": reconciles,
                    "errors": errors,
                    "warnings": warnings,
                    "elapsed_ms": (millis * 10.0).round() / 10.0,
                }
            });
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = serde_json::to_writer_pretty(&mut out, &json);
            let _ = writeln!(out);
        }
    }
    if problems
        .iter()
        .any(|p| matches!(p, Problem::UnreadableFile { .. }))
    {
        ExitCode::from(EXIT_USAGE)
    } else if errors > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// What models outside every layer are built as, and by which default:
/// a model without a layer must not silently become a view.
pub(super) fn layerless_notes(ir: &crate::ir::Ir) -> Vec<String> {
    use crate::ir::Origin;
    let mut groups: std::collections::BTreeMap<(&str, &str, bool), Vec<&str>> = Default::default();
    for (rel, model) in ir.models() {
        if model.layer.is_some()
            || !matches!(model.materialized_from, Origin::Project | Origin::BuiltIn)
        {
            continue;
        }
        let schema = crate::emit::physical_name(ir, rel.id).map_or("", |_| {
            model
                .schema
                .as_deref()
                .unwrap_or(crate::emit::DEFAULT_SCHEMA)
        });
        let project = model.materialized_from == Origin::Project;
        groups
            .entry((model.materialized.kind().as_str(), schema, project))
            .or_default()
            .push(&rel.name);
    }
    groups
        .into_iter()
        .map(|((kind, schema, project), names)| {
            let by = if project {
                format!("the project's `[defaults] materialized = \"{kind}\"`")
            } else {
                "shopc's default (set `[defaults] materialized` in shop.toml, or give them a `layer`)"
                    .to_string()
            };
            let place = if schema.is_empty() {
                String::new()
            } else {
                format!(" in schema `{schema}`")
            };
            let shown: Vec<&str> = names.iter().take(8).copied().collect();
            let more = names.len() - shown.len();
            let what = match (names.len(), kind) {
                (_, "ephemeral") => "ephemeral".to_string(),
                (1, kind) => format!("a {kind}"),
                (_, kind) => format!("{kind}s"),
            };
            format!(
                "{} model{} without a layer {} built as {what}{place}, by {by}: {}{}",
                names.len(),
                plural(names.len()),
                if names.len() == 1 { "is" } else { "are" },
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() },
            )
        })
        .collect()
}

pub(super) fn explain(code: Option<&str>) -> ExitCode {
    let Some(text) = code else {
        say!("Diagnostic codes (run `shopc explain CODE` for one):\n");
        for code in Code::ALL {
            say!("  {code}  {}", code.title());
        }
        return ExitCode::SUCCESS;
    };
    match Code::parse(text) {
        Some(code) => {
            say!("{}", code.explanation().trim_end());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no diagnostic code `{text}`; run `shopc explain` for the list");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

pub(super) fn debug(stage: DebugStage) -> ExitCode {
    let (name, project) = match &stage {
        DebugStage::Ast { name, project }
        | DebugStage::Ir { name, project }
        | DebugStage::Grain { name, project } => (name, project),
        DebugStage::Connection {
            project,
            target,
            env,
        } => {
            return debug_connection(project, target.as_deref(), env.as_deref());
        }
    };
    let (loaded, config) = match load_config(project, ColorChoice::Auto) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &config;
    let compilation = crate::compile(&loaded.db, config, &loaded.shop_files);
    if let DebugStage::Ast { .. } = stage {
        // The compilation keeps no AST: parse again.
        let files: Vec<crate::syntax::ast::File> = loaded
            .shop_files
            .iter()
            .map(|&file| crate::syntax::parse_file(file, loaded.db.text(file)).file)
            .collect();
        let item = files
            .iter()
            .flat_map(|f| &f.items)
            .find(|item| item_matches(item, name));
        match item {
            Some(item) => say!("{item:#?}"),
            None => {
                let names: Vec<String> = files
                    .iter()
                    .flat_map(|f| &f.items)
                    .map(|i| i.name().name.clone())
                    .collect();
                return not_found(name, names.iter().map(String::as_str));
            }
        }
    } else {
        let Some(&id) = compilation.ir.by_name.get(name.as_str()) else {
            return not_found(name, compilation.ir.by_name.keys().map(String::as_str));
        };
        let text = if let DebugStage::Grain { .. } = stage {
            let grains = crate::check::grain::derive(&compilation.ir);
            crate::check::grain::explain(&compilation.ir, &grains, id)
        } else {
            crate::ir::dump_relation(&compilation.ir, id)
        };
        say!("{}", text.trim_end());
    }
    if compilation.error_count() > 0 {
        eprintln!(
            "note: the project has {} error(s); run `shopc check` to see them",
            compilation.error_count()
        );
    }
    ExitCode::SUCCESS
}

pub(super) fn item_matches(item: &ast::Item, name: &str) -> bool {
    item.name().name == name
        || matches!(item, ast::Item::Source(s) if s.tables.iter().any(|t| format!("{}.{}", s.name.name, t.name.name) == name))
}

pub(super) fn not_found<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> ExitCode {
    let hint = crate::ir::suggest(name, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    eprintln!("error: no item named `{name}`{hint}");
    ExitCode::from(EXIT_USAGE)
}

/// `shopc debug connection`: which target, what it is, and whether it answers.
pub(super) fn debug_connection(
    project: &ProjectArg,
    name: Option<&str>,
    env: Option<&str>,
) -> ExitCode {
    let dir = project.project.as_path();
    // Without --target, the environment's, when it names one.
    let from_env = match (name, env) {
        (None, Some(env)) => {
            let (_, config) = match load_config(project, ColorChoice::Auto) {
                Ok(loaded) => loaded,
                Err(code) => return code,
            };
            let env = EnvArg {
                env: Some(env.to_string()),
                user: None,
            };
            match environment(&config, &env) {
                Ok(environment) => environment.target,
                Err(code) => return code,
            }
        }
        _ => None,
    };
    let found = match find_target(dir, name.or(from_env.as_deref())) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    say!(
        "profiles: {}",
        found
            .file
            .as_ref()
            .map_or("none (the embedded DuckDB default)".to_string(), |f| f
                .display()
                .to_string())
    );
    say!(
        "target:   {} ({})",
        found.name.as_deref().unwrap_or("default"),
        found.target.adapter()
    );
    for (key, value) in found.target.describe() {
        say!("  {key:<12} {value}");
    }
    let (loaded, config) = match load_config(project, ColorChoice::Auto) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let started = Instant::now();
    let mut warehouse = match open_warehouse(&found, &loaded.root, &config, None) {
        Ok(w) => w,
        Err(e) => {
            say!("connection: failed");
            eprintln!("error: {e}");
            let unsupported = matches!(found.target, crate::profiles::Target::BigQuery { .. });
            return ExitCode::from(if unsupported { EXIT_USAGE } else { EXIT_ERRORS });
        }
    };
    match warehouse.server_version() {
        Ok(version) => {
            say!(
                "connection: ok in {:.2}s, {}",
                started.elapsed().as_secs_f64(),
                warehouse.describe()
            );
            say!("server:     {version}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("connection: failed");
            eprintln!("error: {e}");
            ExitCode::from(EXIT_ERRORS)
        }
    }
}
