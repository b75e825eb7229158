//! `shopc env list` and `shopc env drop`: the project's environments, and
//! removing one's schemas (a finished pull request's, a developer's).

use super::*;

/// A project compiled in one environment, its seeded tables known: what
/// says which schemas the environment writes.
fn placed(
    project: &ProjectArg,
    env: &EnvArg,
    color: ColorChoice,
) -> Result<
    (
        LoadedProject,
        crate::config::ProjectConfig,
        crate::Compilation,
    ),
    ExitCode,
> {
    let (mut loaded, config) = load_config(project, color)?;
    let environment = environment(&config, env)?;
    let mut compilation = compile_clean(&loaded, &config, color)?;
    let seeds = crate::seed::discover(
        &compilation.ir,
        &mut loaded.db,
        &loaded.root.join(&config.paths.seeds),
    );
    compilation.ir.environment = environment;
    compilation.ir.seeded = seeds.seeds.iter().map(|s| s.relation).collect();
    Ok((loaded, config, compilation))
}

/// `shopc env list`: each environment, its rule and target, and the
/// schemas it writes (for the user `--user` names).
pub(super) fn list(project: &ProjectArg, user: Option<String>) -> ExitCode {
    let env = EnvArg {
        env: None,
        user: user.clone(),
    };
    let (_, config, mut compilation) = match placed(project, &env, ColorChoice::Auto) {
        Ok(placed) => placed,
        Err(code) => return code,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (name, declared) in crate::environment::declared(&config) {
        let rule = declared.map_or("{schema}".to_string(), |d| d.schema.get_ref().clone());
        let target = declared
            .and_then(|d| d.target.as_ref())
            .map_or(String::new(), |t| format!("  target {}", t.get_ref()));
        let default = if name == crate::environment::DEFAULT {
            "  (default)"
        } else {
            ""
        };
        let _ = write!(out, "{name:<10} {rule}{target}{default}");
        // A family (`pr_*`) has no schemas until it is given a name.
        if !name.ends_with('*') {
            let resolved = crate::environment::resolve(&config, &name, || {
                crate::environment::user_name(user.as_deref(), login().as_deref())
            });
            match resolved {
                Ok(environment) => {
                    compilation.ir.environment = environment;
                    let schemas = crate::emit::written_schemas(&compilation.ir);
                    let _ = write!(out, "\n           writes {}", schemas.join(", "));
                }
                Err(e) => {
                    let _ = write!(out, "\n           ({e})");
                }
            }
        }
        let _ = writeln!(out);
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// What `shopc env drop` was given.
pub(super) struct Drop {
    pub(super) name: String,
    pub(super) yes: bool,
    pub(super) allow_prod: bool,
    pub(super) user: Option<String>,
    pub(super) target: Option<String>,
    pub(super) database: Option<PathBuf>,
}

/// `shopc env drop NAME --yes`: drops every schema the environment writes
/// (`DROP SCHEMA … CASCADE`), never a schema of tables the project only
/// reads, never production's without `--allow-prod`.
pub(super) fn drop(project: &ProjectArg, args: Drop, color: ColorChoice) -> ExitCode {
    let env = EnvArg {
        env: Some(args.name.clone()),
        user: args.user.clone(),
    };
    let (loaded, config, compilation) = match placed(project, &env, color) {
        Ok(placed) => placed,
        Err(code) => return code,
    };
    let ir = &compilation.ir;
    let environment = &ir.environment;
    // The schemas of tables the project reads and does not seed are not
    // the environment's, whatever its rule says.
    let read_only: std::collections::HashSet<String> = ir
        .relations
        .iter()
        .filter(|rel| matches!(rel.kind, RelationKind::Table(_)) && !ir.seeded.contains(&rel.id))
        .filter_map(|rel| crate::emit::physical_name(ir, rel.id))
        .map(|name| name.schema)
        .collect();
    let (kept, schemas): (Vec<String>, Vec<String>) = crate::emit::written_schemas(ir)
        .into_iter()
        .partition(|s| read_only.contains(s));
    if environment.is_production() && !args.allow_prod {
        eprintln!(
            "error: environment {} builds production's schemas ({}): dropping it drops \
             production; nothing was dropped (pass --allow-prod if that is what you mean)",
            environment.label(),
            schemas.join(", ")
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let target_name = args.target.clone().or_else(|| environment.target.clone());
    for schema in &kept {
        say!("keep    {schema} (tables the project reads and does not write)");
    }
    if schemas.is_empty() {
        say!(
            "Nothing to drop: environment {} writes no schema",
            environment.label()
        );
        return ExitCode::SUCCESS;
    }
    if !args.yes {
        say!(
            "Would drop {} schema{} of environment {} and everything in them:",
            schemas.len(),
            plural(schemas.len()),
            environment.label()
        );
        for schema in &schemas {
            say!("  {schema}");
        }
        eprintln!("error: nothing was dropped: run again with --yes to drop them");
        return ExitCode::from(EXIT_USAGE);
    }
    let (_, mut warehouse) = match connect(
        &loaded.root,
        &config,
        target_name.as_deref(),
        args.database.as_deref(),
    ) {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    // Not while a run of this environment is writing to it.
    if let Err(e) = warehouse.lock(&config.name, &environment.label()) {
        eprintln!("error: {e}; nothing was dropped");
        return ExitCode::from(EXIT_USAGE);
    }
    say!(
        "Dropping environment {} on {}",
        environment.label(),
        warehouse.describe()
    );
    let emitter = crate::emit::Emitter::new(ir, warehouse.dialect());
    let mut failed = false;
    for schema in &schemas {
        let result = warehouse.schema_exists(schema).and_then(|exists| {
            if exists {
                warehouse.execute(&emitter.drop_schema(schema))?;
            }
            Ok(exists)
        });
        match result {
            Ok(true) => say!("dropped {schema}"),
            Ok(false) => say!("absent  {schema}"),
            Err(e) => {
                failed = true;
                say!(
                    "ERROR   {schema}: {}",
                    e.to_string().lines().next().unwrap_or_default()
                );
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}
