//! The artifacts in `target/` (`manifest.json`, `run_results.json`) and the
//! commands that read them back: `retry` and `ls`.

use super::*;

/// `shopc retry`: the last run's command again, with the same options, on
/// the relations whose node (or a test of theirs) ended in an error, a
/// failure or a skip: `--select result:error result:fail result:skipped
/// --state` a copy of that run's artifacts.
pub(super) fn retry(project: &ProjectArg) -> ExitCode {
    let (loaded, config) = match load_config(project, ColorChoice::Auto) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let target = loaded.root.join(&config.paths.target);
    let path = target.join("run_results.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "error: nothing to retry: `{}` {}",
                path.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "does not exist (no run has been recorded)".to_string()
                } else {
                    format!("cannot be read: {e}")
                }
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Ok(results) = serde_json::from_str::<serde_json::Value>(&text) else {
        eprintln!("error: `{}` is not a run_results.json", path.display());
        return ExitCode::from(EXIT_USAGE);
    };
    let args: Vec<String> = results["invocation"]["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    let command = args.first().cloned().unwrap_or_default();
    if !["seed", "run", "test", "snapshot", "build"].contains(&command.as_str()) {
        eprintln!(
            "error: `{}` records `{command}`, which `retry` cannot run again",
            path.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let again: Vec<&str> = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| matches!(r["status"].as_str(), Some("error" | "fail" | "skipped")))
        .filter_map(|r| r["unique_id"].as_str())
        .collect();
    if again.is_empty() {
        say!("Nothing to retry: the last `{command}` had no errors, failures or skipped nodes");
        return ExitCode::SUCCESS;
    }
    // The run overwrites the artifacts it reads: it reads a copy.
    let state = target.join("retry-state");
    let copied = std::fs::create_dir_all(&state)
        .and_then(|()| std::fs::copy(&path, state.join("run_results.json")))
        .and_then(|_| std::fs::copy(target.join("manifest.json"), state.join("manifest.json")));
    if let Err(e) = copied {
        eprintln!(
            "error: cannot keep the last run's artifacts in `{}`: {e}",
            state.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    // The same options, but for the selection and the project.
    let mut kept = vec!["shopc".to_string(), command.clone()];
    let mut skipping = false;
    for arg in &args[1..] {
        let takes_values = ["-s", "--select", "--exclude", "--state", "--project"];
        if takes_values.contains(&arg.as_str()) {
            skipping = true;
            continue;
        }
        if takes_values
            .iter()
            .any(|f| arg.starts_with(&format!("{f}=")))
        {
            continue;
        }
        if skipping && !arg.starts_with('-') {
            continue;
        }
        skipping = false;
        kept.push(arg.clone());
    }
    kept.extend(
        [
            "--select",
            "result:error",
            "result:fail",
            "result:skipped",
            "--state",
        ]
        .map(String::from),
    );
    kept.push(state.display().to_string());
    // A deferred run still defers to the run it deferred to: `--state`
    // now names the copy of the last run's artifacts.
    let original_state = args.iter().enumerate().find_map(|(i, arg)| {
        arg.strip_prefix("--state=").map(String::from).or_else(|| {
            (arg == "--state")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    if args.iter().any(|a| a == "--defer")
        && !args.iter().any(|a| a.starts_with("--defer-state"))
        && let Some(original) = original_state
    {
        kept.extend(["--defer-state".to_string(), original]);
    }
    // In the environment (and as the user) the run was in, whatever
    // SHOPC_ENV and SHOPC_USER say now.
    let recorded = |key: &str| results["metadata"][key].as_str().map(String::from);
    for (option, key) in [("--env", "environment"), ("--user", "user")] {
        if !args
            .iter()
            .any(|a| a == option || a.starts_with(&format!("{option}=")))
            && let Some(value) = recorded(key)
        {
            kept.extend([option.to_string(), value]);
        }
    }
    kept.push("--project".into());
    kept.push(project.project.display().to_string());
    say!(
        "Retrying {} node{} of the last `{command}`",
        again.len(),
        plural(again.len())
    );
    let _ = RETRY_ARGS.set(kept[1..].to_vec());
    match Cli::try_parse_from(&kept) {
        Ok(cli) => dispatch(cli),
        Err(e) => {
            eprintln!("error: the last run's options do not parse again: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `shopc ls`: the selected relations in build order, each followed by
/// the seed that fills it and its tests; `--resource-type` keeps some kinds.
pub(super) fn ls(args: &RunArgs, types: &[ResourceType], output: LsOutput) -> ExitCode {
    let Prepared {
        config,
        compilation,
        selected,
        manifest,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut by_owner: std::collections::HashMap<&str, Vec<&crate::manifest::Node>> =
        std::collections::HashMap::new();
    for node in manifest.nodes.values() {
        if let Some(owner) = &node.attached_to {
            by_owner.entry(owner).or_default().push(node);
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // The relations, and the tests selected without their relation, at
    // their relation's place in the build order.
    let built: std::collections::HashSet<crate::ir::RelId> =
        selected.relations.iter().copied().collect();
    let owners: std::collections::HashSet<crate::ir::RelId> = built
        .iter()
        .copied()
        .chain(selected.tests.iter().map(|(r, _)| *r))
        .collect();
    let order = compilation.ir.order.iter().filter(|id| owners.contains(id));
    for &id in order {
        let unique_id = crate::manifest::relation_id(&config.name, compilation.ir.relation(id));
        let Some(node) = manifest.nodes.get(unique_id.as_str()) else {
            continue;
        };
        let attached = by_owner.get(unique_id.as_str()).into_iter().flatten();
        // A seed before the table it fills, tests after their relation.
        let (seeds, tests): (Vec<&crate::manifest::Node>, Vec<&crate::manifest::Node>) =
            attached.partition(|n| n.kind == "seed");
        let listed: Vec<&crate::manifest::Node> = if built.contains(&id) {
            seeds.into_iter().chain([&**node]).chain(tests).collect()
        } else {
            tests
                .into_iter()
                .filter(|t| selected.tests.iter().any(|(r, n)| *r == id && *n == t.name))
                .collect()
        };
        for node in listed {
            if !types.is_empty() && !types.iter().any(|t| t.matches(node.kind)) {
                continue;
            }
            let line = match output {
                LsOutput::Name => node.name.clone(),
                LsOutput::Path => node.file.to_string(),
                LsOutput::Json => serde_json::json!({
                    "unique_id": node.unique_id,
                    "kind": node.kind,
                    "name": node.name,
                    "file": node.file,
                    "line": node.line,
                    "physical": node.physical,
                    "attached_to": node.attached_to,
                })
                .to_string(),
            };
            if writeln!(out, "{line}").is_err() {
                return ExitCode::SUCCESS;
            }
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// The arguments a retry runs with, in place of the process's own.
pub(super) static RETRY_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The command line the artifacts record, without the program's name: the
/// process's, or the one `retry` built.
pub(super) fn invocation_args() -> Vec<String> {
    RETRY_ARGS
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::args().skip(1).collect())
}

/// The subcommand, as the manifest records it.
pub(super) fn command_name() -> String {
    invocation_args().first().cloned().unwrap_or_default()
}

/// Writes `manifest.json` into the target folder `dir` (see
/// [`crate::manifest`]).
pub(super) fn write_manifest(
    dir: &std::path::Path,
    manifest: &crate::manifest::Manifest,
    command: String,
) {
    let now = chrono::Utc::now();
    let invocation = crate::manifest::Invocation {
        id: crate::manifest::hash(format!(
            "{} {}",
            std::process::id(),
            now.timestamp_nanos_opt().unwrap_or_default()
        ))[..16]
            .to_string(),
        command,
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    write_artifact_with(&dir.join("manifest.json"), |file| {
        manifest.write_json(&invocation, file)
    });
}

/// Writes an artifact whole or not at all (beside, then renamed over the
/// old one); a failure to write it is a warning, not the command's.
pub(super) fn write_artifact(path: &std::path::Path, text: &str) {
    write_artifact_with(path, |file| file.write_all(text.as_bytes()));
}

/// [`write_artifact`] of what `write` writes to the file, as it writes it.
fn write_artifact_with(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) {
    let partial = path.with_extension("json.partial");
    let result = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::File::create(&partial))
        .and_then(|mut file| write(&mut file))
        .and_then(|()| std::fs::rename(&partial, path));
    if let Err(e) = result {
        eprintln!("warning: cannot write `{}`: {e}", path.display());
    }
}

/// Writes `target/run_results.json`: how each node of a run ended, and the
/// invocation (its arguments, start, end and length); a failure to write it
/// is a warning.
pub(super) fn write_run_results(
    dir: &std::path::Path,
    project: &str,
    environment: &crate::environment::Environment,
    started: chrono::DateTime<chrono::Utc>,
    summary: &crate::run::Summary,
) {
    let results: Vec<serde_json::Value> = summary
        .results
        .iter()
        .map(|r| {
            let mut value = serde_json::to_value(r).unwrap_or_default();
            value["unique_id"] = format!("{}.{project}.{}", r.kind, r.name).into();
            value
        })
        .collect();
    let deferred: Vec<serde_json::Value> = summary
        .deferred
        .iter()
        .map(|d| {
            serde_json::json!({
                "unique_id": format!("{}.{project}.{}", d.kind, d.name),
                "relation": d.relation,
            })
        })
        .collect();
    let body = serde_json::json!({
        "summary": {
            "ok": summary.ok,
            "warnings": summary.warned,
            "errors": summary.failed,
            "skipped": summary.skipped,
            "proven": summary.proven,
        },
        "results": results,
        "deferred": deferred,
    });
    write_artifact(
        &dir.join("run_results.json"),
        &run_artifact(project, environment, started, body),
    );
}

/// The text of an artifact of a run (`run_results.json`, `sources.json`):
/// `metadata` (format and shopc's version, project, environment and its
/// user, `null` when its schemas are no user's) and
/// `invocation` (the arguments, start, end, length), then `body`'s fields.
pub(super) fn run_artifact(
    project: &str,
    environment: &crate::environment::Environment,
    started: chrono::DateTime<chrono::Utc>,
    body: serde_json::Value,
) -> String {
    let ended = chrono::Utc::now();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut json = serde_json::json!({
        "metadata": {
            "format_version": crate::manifest::FORMAT_VERSION,
            "shopc_version": env!("CARGO_PKG_VERSION"),
            "project": project,
            "environment": environment.name,
            "user": environment.user,
        },
        "invocation": {
            "args": invocation_args(),
            "started_at": stamp(started),
            "ended_at": stamp(ended),
            "elapsed_seconds": (ended - started).num_milliseconds() as f64 / 1000.0,
        },
    });
    if let (Some(all), serde_json::Value::Object(fields)) = (json.as_object_mut(), body) {
        all.extend(fields);
    }
    serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
}
