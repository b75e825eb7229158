//! What every command that selects nodes does first: load, compile, write the
//! manifest, compare with `--state`, resolve the selection and `--defer`.

use super::*;

/// A project loaded, compiled clean, and its selection resolved.
pub(super) struct Prepared {
    pub(super) loaded: LoadedProject,
    pub(super) config: crate::config::ProjectConfig,
    /// Its IR knows the environment and which source tables are seeded.
    pub(super) compilation: crate::Compilation,
    pub(super) selected: crate::plan::Selection,
    /// What the command wrote to `target/manifest.json`.
    pub(super) manifest: crate::manifest::Manifest,
    /// With `--defer`: where the `--state` run built each relation.
    pub(super) defer: Option<crate::run::Defer>,
    /// The seeds the command loads: the `--seeds` folder's, else the
    /// project's, read once (their files are in `loaded.db`, for the
    /// diagnostics of the commands that load them).
    pub(super) seeds: crate::seed::Discovered,
    /// The target to run on: `--target`, else the environment's.
    pub(super) target: Option<String>,
}

/// Loads, compiles and selects; on errors, prints them and returns the exit code.
pub(super) fn prepare(args: &RunArgs) -> Result<Prepared, ExitCode> {
    let (mut loaded, config) = load_config(&args.project, args.color)?;
    let environment = environment(&config, &args.env)?;
    // A folder named on the command line must be there: seeding nothing
    // from a mistyped path would build on yesterday's data.
    if let Some(dir) = &args.seeds
        && !dir.is_dir()
    {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        eprintln!("error: --seeds `{}` {what}; nothing was run", dir.display());
        return Err(ExitCode::from(EXIT_USAGE));
    }
    let mut compilation = compile_clean(&loaded, &config, args.color)?;
    let target = args.target.clone().or_else(|| environment.target.clone());
    let dialect = match target.as_deref().map(parse_dialect) {
        Some(Ok(dialect)) => dialect,
        _ => find_target(&loaded.root, target.as_deref())
            .map_or(crate::emit::Dialect::DuckDb, |t| t.target.dialect()),
    };
    let project_seeds = crate::seed::discover(
        &compilation.ir,
        &mut loaded.db,
        &loaded.root.join(&config.paths.seeds),
    );
    // Another day's extracts (`--seeds DIR`).
    let other_seeds = args
        .seeds
        .as_ref()
        .map(|dir| crate::seed::discover(&compilation.ir, &mut loaded.db, dir));
    compilation.ir.environment = environment;
    compilation.ir.seeded = project_seeds
        .seeds
        .iter()
        .chain(other_seeds.iter().flat_map(|d| &d.seeds))
        .map(|s| s.relation)
        .collect();
    let manifest = project_manifest(
        &loaded.db,
        &loaded.root,
        &config,
        &compilation,
        dialect,
        &project_seeds.seeds,
    );
    let seeds = other_seeds.unwrap_or(project_seeds);
    let (state, previous) = match &args.state {
        None => (None, None),
        Some(dir) => {
            let (state, previous) = state_changes(dir, &config, &manifest, &compilation.ir)?;
            (Some(state), Some(previous))
        }
    };
    let selected = selection(&compilation.ir, args, state.as_ref())?;
    let defer = if !args.defer {
        None
    } else if let Some(dir) = &args.defer_state {
        let previous = read_state_manifest(dir, &config, "--defer-state")?;
        Some(defer_to(
            dir,
            &previous,
            &config.name,
            &compilation.ir,
            args.favor_state,
        ))
    } else if let (Some(dir), Some(previous)) = (&args.state, &previous) {
        Some(defer_to(
            dir,
            previous,
            &config.name,
            &compilation.ir,
            args.favor_state,
        ))
    } else {
        eprintln!(
            "error: --defer reads what another run built: give its target folder with \
             `--state DIR` (or `--defer-state DIR`)"
        );
        return Err(ExitCode::from(EXIT_USAGE));
    };
    write_manifest(
        &loaded.root.join(&config.paths.target),
        &manifest,
        command_name(),
    );
    Ok(Prepared {
        loaded,
        config,
        compilation,
        selected,
        manifest,
        defer,
        seeds,
        target,
    })
}

/// Compiles a loaded project; when it has errors, prints every problem
/// and returns the exit code.
pub(super) fn compile_clean(
    loaded: &LoadedProject,
    config: &crate::config::ProjectConfig,
    color: ColorChoice,
) -> Result<crate::Compilation, ExitCode> {
    let compilation = crate::compile(&loaded.db, config, &loaded.shop_files);
    let mut problems = loaded.problems.clone();
    problems.extend(compilation.problems.iter().cloned());
    report(&loaded.db, &problems, color);
    if problems.iter().any(Problem::is_error) {
        eprintln!("error: the project has errors; nothing was run");
        let io = problems
            .iter()
            .any(|p| matches!(p, Problem::UnreadableFile { .. }));
        return Err(ExitCode::from(if io { EXIT_USAGE } else { EXIT_ERRORS }));
    }
    Ok(compilation)
}

/// Where `--defer` may read each relation the project writes (models,
/// snapshots, seeded tables): the name the state's
/// run built it under, when that is not its name here.
pub(super) fn defer_to(
    dir: &std::path::Path,
    previous: &crate::manifest::Previous,
    project: &str,
    ir: &crate::ir::Ir,
    favor_state: bool,
) -> crate::run::Defer {
    let to = ir
        .relations
        .iter()
        .filter_map(|rel| {
            let theirs = previous.physical(&crate::manifest::relation_id(project, rel))?;
            let ours = crate::emit::physical_name(ir, rel.id)?;
            let theirs = crate::emit::PhysicalName {
                schema: theirs.schema.clone(),
                name: theirs.name.clone(),
            };
            (theirs != ours).then_some((rel.id, theirs))
        })
        .collect();
    crate::run::Defer {
        to,
        favor_state,
        state: dir.display().to_string(),
    }
}

/// The manifest of a project that compiled, its seeds' bytes hashed.
pub(super) fn project_manifest(
    db: &SourceDb,
    root: &std::path::Path,
    config: &crate::config::ProjectConfig,
    compilation: &crate::Compilation,
    dialect: crate::emit::Dialect,
    seeds: &[crate::seed::Seed],
) -> crate::manifest::Manifest {
    let seeds: Vec<(crate::ir::RelId, String, crate::manifest::Digest)> = seeds
        .iter()
        .map(|s| {
            let digest = std::fs::read(&s.path).map_or_else(
                |e| crate::manifest::Digest::of(format!("unreadable: {e}")),
                crate::manifest::Digest::of,
            );
            (s.relation, s.path.display().to_string(), digest)
        })
        .collect();
    crate::manifest::build(
        &compilation.ir,
        &compilation.analysis,
        db,
        &config.name,
        &root.display().to_string(),
        dialect,
        &seeds,
    )
}

/// Another run's manifest, from its target folder `dir` (given with
/// `option`); one that cannot be read or is not this project's is a usage
/// error naming the file.
pub(super) fn read_state_manifest(
    dir: &std::path::Path,
    config: &crate::config::ProjectConfig,
    option: &str,
) -> Result<crate::manifest::Previous, ExitCode> {
    let path = dir.join("manifest.json");
    let fail = |message: String| {
        eprintln!("error: {option}: `{}` {message}", path.display());
        ExitCode::from(EXIT_USAGE)
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist: give the target folder of another run".into()
        } else {
            format!("cannot be read: {e}")
        })
    })?;
    crate::manifest::read_previous(&text, &config.name).map_err(fail)
}

/// What another run's target folder says (`--state`): how each relation
/// differs from its manifest, and how its nodes ended (its
/// `run_results.json`, when there is one). A folder without a readable
/// manifest of this project is a usage error.
pub(super) fn state_changes(
    dir: &std::path::Path,
    config: &crate::config::ProjectConfig,
    current: &crate::manifest::Manifest,
    ir: &crate::ir::Ir,
) -> Result<(crate::plan::State, crate::manifest::Previous), ExitCode> {
    let previous = read_state_manifest(dir, config, "--state")?;
    let by_id = crate::manifest::changes(current, &previous);
    let relation_of: std::collections::HashMap<String, crate::ir::RelId> = ir
        .relations
        .iter()
        .map(|rel| (crate::manifest::relation_id(&config.name, rel), rel.id))
        .collect();
    let mut changes: std::collections::HashMap<crate::ir::RelId, crate::plan::Change> = relation_of
        .iter()
        .filter_map(|(id, rel)| Some((*rel, *by_id.get(id.as_str())?)))
        .collect();
    let mut diffs: std::collections::HashMap<crate::ir::RelId, crate::plan::Diff> =
        crate::manifest::diffs(current, &previous)
            .into_iter()
            .filter_map(|(id, diff)| Some((*relation_of.get(&*id)?, diff)))
            .collect();
    // A seed's new bytes are new rows of the source table it fills: the
    // table is modified (its body), and every reader impacted.
    for seed in current.nodes.values().filter(|n| n.kind == "seed") {
        let (Some(change), Some(&table)) = (
            by_id.get(&seed.unique_id),
            seed.attached_to.as_deref().and_then(|t| relation_of.get(t)),
        ) else {
            continue;
        };
        if change.new || change.body {
            changes.entry(table).or_default().body = true;
            diffs.entry(table).or_default().rows = true;
        }
    }
    let tests = current
        .nodes
        .values()
        .filter(|n| matches!(n.kind, "test" | "reconciliation"))
        .filter_map(|n| {
            Some(crate::plan::TestChange {
                relation: *relation_of.get(n.attached_to.as_deref()?)?,
                name: n.name.clone(),
                change: *by_id.get(&n.unique_id)?,
            })
        })
        .collect();
    // A node's status counts for its relation: a test's and a seed's for
    // the relation they are attached to.
    let results_path = dir.join("run_results.json");
    let results = match std::fs::read_to_string(&results_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            eprintln!(
                "error: --state: `{}` cannot be read: {e}",
                results_path.display()
            );
            return Err(ExitCode::from(EXIT_USAGE));
        }
        Ok(text) => {
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                eprintln!(
                    "error: --state: `{}` is not a run_results.json: {e}",
                    results_path.display()
                );
                ExitCode::from(EXIT_USAGE)
            })?;
            let mut results: std::collections::HashMap<
                crate::ir::RelId,
                std::collections::HashSet<String>,
            > = Default::default();
            for r in value["results"].as_array().into_iter().flatten() {
                let (Some(id), Some(status)) = (r["unique_id"].as_str(), r["status"].as_str())
                else {
                    continue;
                };
                let owner = current
                    .nodes
                    .get(id)
                    .and_then(|n| n.attached_to.as_deref())
                    .unwrap_or(id);
                if let Some(rel) = relation_of.get(owner) {
                    results.entry(*rel).or_default().insert(status.to_string());
                }
            }
            Some(results)
        }
    };
    Ok((
        crate::plan::State {
            changes,
            tests,
            results,
            diffs,
        },
        previous,
    ))
}

/// The selected relations, in build order, and the tests selected on
/// their own (a changed test, its relation not rebuilt).
pub(super) fn selection(
    ir: &crate::ir::Ir,
    args: &RunArgs,
    state: Option<&crate::plan::State>,
) -> Result<crate::plan::Selection, ExitCode> {
    let parse = |texts: &[String]| {
        texts
            .iter()
            .flat_map(|t| t.split_whitespace())
            .map(crate::plan::parse_selector)
            .collect::<Result<Vec<_>, _>>()
    };
    let result = parse(&args.select)
        .and_then(|select| Ok((select, parse(&args.exclude)?)))
        .and_then(|(select, exclude)| {
            let relations = crate::plan::select(ir, &select, &exclude, state)?;
            let tests = crate::plan::select_tests(&select, &exclude, state, &relations);
            Ok(crate::plan::Selection { relations, tests })
        });
    result.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}
