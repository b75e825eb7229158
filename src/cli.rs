//! The `shopc` command line. It loads projects from disk, runs the pure
//! phases, and prints what they found; exit codes: 0 clean, 1 errors in the
//! project, 2 usage or IO errors.
#![allow(clippy::disallowed_methods)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, Code, Diagnostic};
use crate::ir::RelationKind;
use crate::problem::Problem;
use crate::project::{self, LoadedProject};
use crate::span::SourceDb;
use crate::syntax::ast;

#[derive(Parser, Debug)]
#[command(
    name = "shopc",
    version,
    about = "A compiler for analytics modeling layers",
    long_about = "shopc compiles `.shop` models: it parses them, binds every name, types every \
                  column and checks the project before any warehouse is touched.",
    after_help = "Exit status: 0 when clean, 1 when the project has errors, 2 on usage or IO errors."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse, resolve and type-check every model of a project
    Check {
        #[command(flatten)]
        project: ProjectArg,
        /// Output format of the diagnostics
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// Load the seed CSVs into their source tables
    Seed {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        seeds: SeedsArg,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Build the selected models (views, tables, incremental models) and snapshots in dependency order
    Run {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        refresh: RefreshArg,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Run the data tests of the selected models
    Test {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Take the snapshots: record changed rows of their relations as new versions (SCD2)
    Snapshot {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Seed, run and test in dependency order; a failing test skips what depends on it
    Build {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        seeds: SeedsArg,
        #[command(flatten)]
        refresh: RefreshArg,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Write the DuckDB SQL of every selected model and test to
    /// target/compiled/ (`shopc emit --target` writes another dialect's)
    Compile {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Write the SQL of the selected relations for one warehouse: schema and
    /// table DDL, MERGE / INSERT for incremental models, SCD2 statements for
    /// snapshots, and every data test as a query
    Emit {
        /// A dialect (duckdb, postgres, snowflake, bigquery) or a target of
        /// profiles.toml, whose adapter's dialect is written (default: duckdb)
        #[arg(long, value_name = "DIALECT|TARGET")]
        target: Option<String>,
        /// Write one file per relation and statement kind into this folder
        /// (stdout without it)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// List the selected nodes, one per line (dbt's `list`): relations,
    /// the seeds that fill them and their tests
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        select: SelectArgs,
        /// Only nodes of these kinds
        #[arg(long, value_enum, num_args = 1.., value_name = "TYPE")]
        resource_type: Vec<ResourceType>,
        /// `name` (default), `path` (the file it is declared in) or `json`
        /// (one object per line: unique id, kind, name, file, line, physical name)
        #[arg(long, short = 'o', value_enum, default_value_t = LsOutput::Name)]
        output: LsOutput,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Run again what failed or was skipped in the last `seed`, `run`,
    /// `test`, `snapshot` or `build` (its target/run_results.json), with
    /// the same options
    Retry {
        #[command(flatten)]
        project: ProjectArg,
    },
    /// Explain a diagnostic code (e.g. `shopc explain R001`); list all codes without one
    Explain {
        /// A code such as R001, or a rule name such as unknown-relation
        code: Option<String>,
    },
    /// Show what the compiler understood at one stage
    Debug {
        #[command(subcommand)]
        stage: DebugStage,
    },
}

#[derive(Subcommand, Debug)]
pub enum DebugStage {
    /// The syntax tree of one item (source, model or snapshot)
    Ast {
        name: String,
        #[command(flatten)]
        project: ProjectArg,
    },
    /// The resolved, typed IR of one relation (`stg_orders`, `raw.raw_orders`)
    Ir {
        name: String,
        #[command(flatten)]
        project: ProjectArg,
    },
    /// The derived grain of one relation, and each join's cardinality and why
    Grain {
        name: String,
        #[command(flatten)]
        project: ProjectArg,
    },
    /// Reach a target of profiles.toml and say what was found (secrets are
    /// never printed); exit 1 when it cannot be reached
    Connection {
        #[command(flatten)]
        project: ProjectArg,
        /// A target of profiles.toml (default: its `default`, else DuckDB)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
}

/// Which relations a command works on.
#[derive(clap::Args, Debug, Default)]
pub struct SelectArgs {
    /// Nodes to include: `name`, `+name` (and ancestors), `name+` (and
    /// descendants), `n+name`, `@name`, `tag:x`, `layer:x`, `source:x`,
    /// `state:modified` and `result:fail` (with --state)
    #[arg(long, short = 's', num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out, with the same selectors
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// Another run's target folder (its manifest.json), for the `state:`
    /// selectors: `state:new`, `state:modified` (`.body`, `.config`,
    /// `.columns`, `.docs`), `state:unmodified`, `state:impacted` (the
    /// modified and the descendants that read what changed), with `+` as
    /// for names; and for `result:` selectors (its run_results.json)
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// Where a command runs.
#[derive(clap::Args, Debug, Default)]
pub struct TargetArgs {
    /// A target of profiles.toml (in the project, else ~/.shopc/): where to
    /// run (default: the file's `default`, else the embedded DuckDB file)
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// How many nodes may run at once, each on its own connection
    /// (independent nodes only: a node waits for what it reads); default:
    /// the number of cores
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
    /// DuckDB database file (default: TARGET/NAME.duckdb in the project)
    #[arg(long, value_name = "FILE")]
    pub database: Option<PathBuf>,
    /// Build into another set of schemas: every model's and snapshot's
    /// schema gets this prefix (`pr_12` builds `marts` as `pr_12_marts`);
    /// source tables keep theirs
    #[arg(long, value_name = "PREFIX")]
    pub schema_prefix: Option<String>,
    /// Read what the selection reads but does not build from the
    /// relations the `--state` run built, when the current target has none
    #[arg(long)]
    pub defer: bool,
    /// With --defer: read the state's relation even when the current
    /// target has one
    #[arg(long, requires = "defer")]
    pub favor_state: bool,
    /// With --defer: defer to this run's target folder instead of
    /// `--state`'s (compare with one run, read another's relations)
    #[arg(long, value_name = "DIR", requires = "defer")]
    pub defer_state: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Default)]
pub struct SeedsArg {
    /// Load seed CSVs from this folder instead of the project's seeds path
    /// (another day's extracts, for example)
    #[arg(long, value_name = "DIR")]
    pub seeds: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Default)]
pub struct RefreshArg {
    /// Rebuild incremental models from scratch instead of merging into them
    #[arg(long)]
    pub full_refresh: bool,
}

#[derive(clap::Args, Debug)]
pub struct ColorArg {
    /// Colour diagnostics and the PASS / FAIL / SKIP of progress lines
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// What the commands that select relations were given, together; each
/// command's arguments accept only the options it uses.
#[derive(Debug)]
pub struct RunArgs {
    pub project: ProjectArg,
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    pub state: Option<PathBuf>,
    pub seeds: Option<PathBuf>,
    pub full_refresh: bool,
    pub target: Option<String>,
    pub threads: Option<u16>,
    pub database: Option<PathBuf>,
    pub schema_prefix: Option<String>,
    pub defer: bool,
    pub favor_state: bool,
    pub defer_state: Option<PathBuf>,
    pub color: ColorChoice,
}

impl RunArgs {
    fn new(project: ProjectArg, select: SelectArgs, color: ColorArg) -> RunArgs {
        RunArgs {
            project,
            select: select.select,
            exclude: select.exclude,
            state: select.state,
            seeds: None,
            full_refresh: false,
            target: None,
            threads: None,
            database: None,
            schema_prefix: None,
            defer: false,
            favor_state: false,
            defer_state: None,
            color: color.color,
        }
    }

    fn on(mut self, target: TargetArgs) -> RunArgs {
        self.target = target.target;
        self.threads = target.threads;
        self.database = target.database;
        self.schema_prefix = target.schema_prefix;
        self.defer = target.defer;
        self.favor_state = target.favor_state;
        self.defer_state = target.defer_state;
        self
    }

    fn seeds(mut self, seeds: SeedsArg) -> RunArgs {
        self.seeds = seeds.seeds;
        self
    }

    fn refresh(mut self, refresh: RefreshArg) -> RunArgs {
        self.full_refresh = refresh.full_refresh;
        self
    }
}

#[derive(clap::Args, Debug)]
pub struct ProjectArg {
    /// The project folder (holding shop.toml)
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub project: PathBuf,
    /// Vars over shop.toml's `[vars]`, as a TOML inline table:
    /// `--vars '{ test_email_domain = "@example.test", cap = 20 }'`
    #[arg(long, value_name = "TABLE")]
    pub vars: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// The kinds of node `shopc ls --resource-type` picks.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    Model,
    Test,
    Seed,
    Snapshot,
    Source,
}

impl ResourceType {
    /// Whether a manifest node's kind is of this type (a reconciliation
    /// is a test).
    fn matches(self, kind: &str) -> bool {
        match self {
            ResourceType::Model => kind == "model",
            ResourceType::Test => kind == "test" || kind == "reconciliation",
            ResourceType::Seed => kind == "seed",
            ResourceType::Snapshot => kind == "snapshot",
            ResourceType::Source => kind == "source",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsOutput {
    Name,
    Path,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `println!` that ignores a closed pipe (`shopc debug ir x | head`): the
/// reader went away, which is no reason to panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

const EXIT_ERRORS: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    dispatch(cli)
}

/// Runs a parsed command line.
fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Retry { project } => retry(&project),
        Command::Check {
            project,
            format,
            color,
        } => check(&project, format, color),
        Command::Seed {
            project,
            select,
            seeds,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, select, color).on(target).seeds(seeds),
            crate::run::Command::Seed,
        ),
        Command::Run {
            project,
            select,
            refresh,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, select, color)
                .on(target)
                .refresh(refresh),
            crate::run::Command::Run,
        ),
        Command::Snapshot {
            project,
            select,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, select, color).on(target),
            crate::run::Command::Snapshot,
        ),
        Command::Test {
            project,
            select,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, select, color).on(target),
            crate::run::Command::Test,
        ),
        Command::Build {
            project,
            select,
            seeds,
            refresh,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, select, color)
                .on(target)
                .seeds(seeds)
                .refresh(refresh),
            crate::run::Command::Build,
        ),
        Command::Compile {
            project,
            select,
            color,
        } => compile(&RunArgs::new(project, select, color)),
        Command::Emit {
            target,
            out,
            project,
            select,
            color,
        } => {
            let mut args = RunArgs::new(project, select, color);
            args.target = target;
            emit(&args, out.as_deref())
        }
        Command::Ls {
            project,
            select,
            resource_type,
            output,
            color,
        } => ls(
            &RunArgs::new(project, select, color),
            &resource_type,
            output,
        ),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Debug { stage } => debug(stage),
    }
}

/// `shopc retry`: the last run's command again, with the same options, on
/// the relations whose node (or a test of theirs) ended in an error, a
/// failure or a skip: `--select result:error result:fail result:skipped
/// --state` a copy of that run's artifacts.
fn retry(project: &ProjectArg) -> ExitCode {
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
fn ls(args: &RunArgs, types: &[ResourceType], output: LsOutput) -> ExitCode {
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
            by_owner.entry(owner.as_str()).or_default().push(node);
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
        let Some(node) = manifest.nodes.get(&unique_id) else {
            continue;
        };
        let attached = by_owner.get(unique_id.as_str()).into_iter().flatten();
        // A seed before the table it fills, tests after their relation.
        let (seeds, tests): (Vec<&crate::manifest::Node>, Vec<&crate::manifest::Node>) =
            attached.partition(|n| n.kind == "seed");
        let listed: Vec<&crate::manifest::Node> = if built.contains(&id) {
            seeds.into_iter().chain([node]).chain(tests).collect()
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
                LsOutput::Path => node.file.clone(),
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

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

/// Loads a project, with the `--vars` given over its `[vars]`.
fn load(project: &ProjectArg) -> Result<LoadedProject, ExitCode> {
    let mut loaded = project::load(&project.project).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    if let Some(text) = &project.vars {
        let vars = parse_vars(text).map_err(|e| {
            eprintln!("error: --vars: {e}");
            ExitCode::from(EXIT_USAGE)
        })?;
        if let Some(config) = &mut loaded.config {
            config.vars.extend(vars);
        }
    }
    Ok(loaded)
}

/// Loads a project whose shop.toml parses; when it does not, prints why
/// and returns the exit code.
fn load_config(
    project: &ProjectArg,
    color: ColorChoice,
) -> Result<(LoadedProject, crate::config::ProjectConfig), ExitCode> {
    let loaded = load(project)?;
    let Some(config) = loaded.config.clone() else {
        report(&loaded.db, &loaded.problems, color);
        return Err(ExitCode::from(EXIT_ERRORS));
    };
    Ok((loaded, config))
}

/// `--vars '{ cap = 20, domain = "@x.test" }'`: a TOML inline table (the
/// braces may be left out).
fn parse_vars(text: &str) -> Result<Vec<(String, toml::Value)>, String> {
    let trimmed = text.trim();
    let table = if trimmed.starts_with('{') {
        trimmed.to_string()
    } else {
        format!("{{ {trimmed} }}")
    };
    let parsed: toml::Table = toml::from_str(&format!("vars = {table}")).map_err(|e| {
        format!(
            "`{text}` is not a TOML inline table such as `{{ cap = 20, domain = \"@x.test\" }}`: {}",
            e.message()
        )
    })?;
    match parsed.get("vars") {
        Some(toml::Value::Table(vars)) => Ok(vars.clone().into_iter().collect()),
        _ => Err(format!("`{text}` is not a TOML inline table")),
    }
}

fn check(project: &ProjectArg, format: Format, color: ColorChoice) -> ExitCode {
    let started = Instant::now();
    let loaded = match load(project) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let LoadedProject {
        mut db,
        config,
        shop_files,
        mut problems,
        root,
        ..
    } = loaded;
    let compilation = config
        .as_ref()
        .map(|config| crate::compile(&db, config, &shop_files));
    let mut seeds = Vec::new();
    if let (Some(compilation), Some(config)) = (&compilation, &config) {
        problems.extend(compilation.problems.iter().cloned());
        let discovered =
            crate::seed::discover(&compilation.ir, &mut db, &root.join(&config.paths.seeds));
        problems.extend(discovered.problems);
        seeds = discovered.seeds;
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
fn layerless_notes(ir: &crate::ir::Ir) -> Vec<String> {
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn explain(code: Option<&str>) -> ExitCode {
    let Some(text) = code else {
        say!("Diagnostic codes (run `shopc explain CODE` for one):\n");
        for code in Code::ALL {
            say!("  {code}  {}", code.title());
        }
        return ExitCode::SUCCESS;
    };
    match Code::parse(text) {
        Some(code) => {
            // Markers for generated lists are for the repository, not readers.
            let doc: Vec<&str> = code
                .doc()
                .lines()
                .filter(|l| !l.starts_with("<!--"))
                .collect();
            say!("{}", doc.join("\n").trim_end());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no diagnostic code `{text}`; run `shopc explain` for the list");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn debug(stage: DebugStage) -> ExitCode {
    let (name, project) = match &stage {
        DebugStage::Ast { name, project }
        | DebugStage::Ir { name, project }
        | DebugStage::Grain { name, project } => (name, project),
        DebugStage::Connection { project, target } => {
            return debug_connection(project, target.as_deref());
        }
    };
    let (loaded, config) = match load_config(project, ColorChoice::Auto) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &config;
    let compilation = crate::compile(&loaded.db, config, &loaded.shop_files);
    if let DebugStage::Ast { .. } = stage {
        let item = compilation
            .files
            .iter()
            .flat_map(|(_, f)| &f.items)
            .find(|item| item_matches(item, name));
        match item {
            Some(item) => say!("{item:#?}"),
            None => {
                let names: Vec<String> = compilation
                    .files
                    .iter()
                    .flat_map(|(_, f)| &f.items)
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

fn item_matches(item: &ast::Item, name: &str) -> bool {
    item.name().name == name
        || matches!(item, ast::Item::Source(s) if s.tables.iter().any(|t| format!("{}.{}", s.name.name, t.name.name) == name))
}

fn not_found<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> ExitCode {
    let hint = crate::ir::suggest(name, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    eprintln!("error: no item named `{name}`{hint}");
    ExitCode::from(EXIT_USAGE)
}

fn report(db: &SourceDb, problems: &[Problem], color: ColorChoice) {
    let diagnostics: Vec<Diagnostic> = problems.iter().map(Problem::to_diagnostic).collect();
    eprint!("{}", diagnostic::render(db, &diagnostics, use_color(color)));
}

/// A project loaded, compiled clean, and its selection resolved.
struct Prepared {
    loaded: LoadedProject,
    config: crate::config::ProjectConfig,
    compilation: crate::Compilation,
    selected: crate::plan::Selection,
    /// What the command wrote to `target/manifest.json`.
    manifest: crate::manifest::Manifest,
    /// With `--defer`: where the `--state` run built each relation.
    defer: Option<crate::run::Defer>,
    /// The project's seeds folder, read once (its files are in
    /// `loaded.db`, for the diagnostics of the commands that load them).
    seeds: crate::seed::Discovered,
}

/// Loads, compiles and selects; on errors, prints them and returns the exit code.
fn prepare(args: &RunArgs) -> Result<Prepared, ExitCode> {
    let (mut loaded, config) = load_config(&args.project, args.color)?;
    if let Some(prefix) = &args.schema_prefix
        && (prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        eprintln!(
            "error: --schema-prefix `{prefix}`: a prefix is letters, digits and `_` (such as `pr_12`)"
        );
        return Err(ExitCode::from(EXIT_USAGE));
    }
    let mut compilation = crate::compile(&loaded.db, &config, &loaded.shop_files);
    compilation.ir.schema_prefix = args.schema_prefix.clone();
    let mut problems = loaded.problems.clone();
    problems.extend(compilation.problems.iter().cloned());
    report(&loaded.db, &problems, args.color);
    if problems.iter().any(Problem::is_error) {
        eprintln!("error: the project has errors; nothing was run");
        let io = problems
            .iter()
            .any(|p| matches!(p, Problem::UnreadableFile { .. }));
        return Err(ExitCode::from(if io { EXIT_USAGE } else { EXIT_ERRORS }));
    }
    let dialect = match args.target.as_deref().map(parse_dialect) {
        Some(Ok(dialect)) => dialect,
        _ => find_target(&loaded.root, args.target.as_deref())
            .map_or(crate::emit::Dialect::DuckDb, |t| t.target.dialect()),
    };
    let seeds = crate::seed::discover(
        &compilation.ir,
        &mut loaded.db,
        &loaded.root.join(&config.paths.seeds),
    );
    let manifest = project_manifest(
        &loaded.db,
        &loaded.root,
        &config,
        &compilation,
        dialect,
        &seeds.seeds,
    );
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
    })
}

/// Where `--defer` may read each model and snapshot: the name the state's
/// run built it under, when that is not its name here.
fn defer_to(
    dir: &std::path::Path,
    previous: &crate::manifest::Previous,
    project: &str,
    ir: &crate::ir::Ir,
    favor_state: bool,
) -> crate::run::Defer {
    let to = ir
        .relations
        .iter()
        .filter(|rel| !matches!(rel.kind, RelationKind::Table(_)))
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

/// The arguments a retry runs with, in place of the process's own.
static RETRY_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The command line the artifacts record, without the program's name: the
/// process's, or the one `retry` built.
fn invocation_args() -> Vec<String> {
    RETRY_ARGS
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::args().skip(1).collect())
}

/// The subcommand, as the manifest records it.
fn command_name() -> String {
    invocation_args().first().cloned().unwrap_or_default()
}

/// Writes `manifest.json` into the target folder `dir` (see
/// [`crate::manifest`]).
fn write_manifest(dir: &std::path::Path, manifest: &crate::manifest::Manifest, command: String) {
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
    write_artifact(&dir.join("manifest.json"), &manifest.to_json(&invocation));
}

/// Writes an artifact whole or not at all (beside, then renamed over the
/// old one); a failure to write it is a warning, not the command's.
fn write_artifact(path: &std::path::Path, text: &str) {
    let partial = path.with_extension("json.partial");
    let result = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&partial, text))
        .and_then(|()| std::fs::rename(&partial, path));
    if let Err(e) = result {
        eprintln!("warning: cannot write `{}`: {e}", path.display());
    }
}

/// Writes `target/run_results.json`: how each node of a run ended, and the
/// invocation (its arguments, start, end and length); a failure to write it
/// is a warning.
fn write_run_results(
    dir: &std::path::Path,
    project: &str,
    started: chrono::DateTime<chrono::Utc>,
    summary: &crate::run::Summary,
) {
    let ended = chrono::Utc::now();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let results: Vec<serde_json::Value> = summary
        .results
        .iter()
        .map(|r| {
            let mut value = serde_json::to_value(r).unwrap_or_default();
            value["unique_id"] = format!("{}.{project}.{}", r.kind, r.name).into();
            value
        })
        .collect();
    let json = serde_json::json!({
        "metadata": {
            "format_version": crate::manifest::FORMAT_VERSION,
            "shopc_version": env!("CARGO_PKG_VERSION"),
            "project": project,
        },
        "invocation": {
            "args": invocation_args(),
            "started_at": stamp(started),
            "ended_at": stamp(ended),
            "elapsed_seconds": (ended - started).num_milliseconds() as f64 / 1000.0,
        },
        "summary": {
            "ok": summary.ok,
            "warnings": summary.warned,
            "errors": summary.failed,
            "skipped": summary.skipped,
        },
        "results": results,
    });
    write_artifact(
        &dir.join("run_results.json"),
        &(serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"),
    );
}

/// The manifest of a project that compiled, its seeds' bytes hashed.
fn project_manifest(
    db: &SourceDb,
    root: &std::path::Path,
    config: &crate::config::ProjectConfig,
    compilation: &crate::Compilation,
    dialect: crate::emit::Dialect,
    seeds: &[crate::seed::Seed],
) -> crate::manifest::Manifest {
    let seeds: Vec<(crate::ir::RelId, String, String)> = seeds
        .iter()
        .map(|s| {
            let digest = std::fs::read(&s.path).map_or_else(
                |e| format!("unreadable: {e}"),
                |bytes| crate::manifest::hash(&bytes),
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
fn read_state_manifest(
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
fn state_changes(
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
        .filter_map(|(id, rel)| Some((*rel, *by_id.get(id)?)))
        .collect();
    let mut diffs: std::collections::HashMap<crate::ir::RelId, crate::plan::Diff> =
        crate::manifest::diffs(current, &previous)
            .into_iter()
            .filter_map(|(id, diff)| Some((*relation_of.get(&id)?, diff)))
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
fn selection(
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

fn warehouse_command(args: &RunArgs, command: crate::run::Command) -> ExitCode {
    let Prepared {
        mut loaded,
        config,
        compilation,
        selected,
        defer,
        seeds: project_seeds,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
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
        return ExitCode::from(EXIT_USAGE);
    }
    // Another day's extracts (`--seeds DIR`), or the project's, read once.
    let discovered = match &args.seeds {
        Some(dir) => crate::seed::discover(&compilation.ir, &mut loaded.db, dir),
        None => project_seeds,
    };
    report(&loaded.db, &discovered.problems, args.color);
    if discovered.problems.iter().any(Problem::is_error) {
        eprintln!("error: the seeds folder has errors; nothing was run");
        return ExitCode::from(EXIT_ERRORS);
    }
    let seeds = discovered.seeds;
    let target = match find_target(&loaded.root, args.target.as_deref()) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Names the warehouse would cut are found before anything connects.
    let dialect = target.target.dialect();
    let misfits: Vec<Problem> = crate::emit::Emitter::new(&compilation.ir, dialect)
        .target_problems()
        .into_iter()
        .filter(Problem::is_error)
        .collect();
    if !misfits.is_empty() {
        report(&loaded.db, &misfits, args.color);
        eprintln!(
            "error: the project does not fit {}; nothing was run",
            dialect.name()
        );
        return ExitCode::from(EXIT_ERRORS);
    }
    let mut warehouse = match open_warehouse(&target, &loaded.root, &config, args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let exclusive = match warehouse.lock(&config.name) {
        Ok(exclusive) => exclusive,
        Err(e) => {
            eprintln!("error: {e}; nothing was run");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut out = std::io::stdout().lock();
    let started = chrono::Utc::now();
    let summary = crate::run::execute(
        &compilation.ir,
        warehouse.as_mut(),
        &seeds,
        command,
        crate::run::Options {
            full_refresh: args.full_refresh,
            threads: args.threads.map_or_else(default_threads, usize::from),
            exclusive,
            defer,
            color: match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            },
        },
        &selected,
        &mut out,
    );
    write_run_results(
        &loaded.root.join(&config.paths.target),
        &config.name,
        started,
        &summary,
    );
    if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERRORS)
    }
}

/// One thread per core: DuckDB parallelises each statement itself, so more
/// workers than cores only compete (4 on 2 cores was slower than 1 on a
/// large build).
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(64))
}

/// The target a command runs against, and where it came from.
struct FoundTarget {
    /// The profiles file read, if any.
    file: Option<PathBuf>,
    /// The target's name in it; `None` for the built-in DuckDB default.
    name: Option<String>,
    target: crate::profiles::Target,
}

/// Finds profiles.toml (the project's, else `~/.shopc/`) and resolves the
/// target named `name`, or its default; the embedded DuckDB file when there
/// is neither.
fn find_target(root: &std::path::Path, name: Option<&str>) -> Result<FoundTarget, String> {
    let candidates = [
        Some(root.join(crate::profiles::FILE_NAME)),
        std::env::var_os("HOME").map(|home| {
            PathBuf::from(home)
                .join(".shopc")
                .join(crate::profiles::FILE_NAME)
        }),
    ];
    let Some(file) = candidates.into_iter().flatten().find(|p| p.exists()) else {
        return match name {
            None => Ok(FoundTarget {
                file: None,
                name: None,
                target: crate::profiles::Target::DuckDb { path: None },
            }),
            Some(name) => Err(format!(
                "--target {name}: no {} in the project or in ~/.shopc/",
                crate::profiles::FILE_NAME
            )),
        };
    };
    let text = crate::project::read_file(&file, crate::project::MAX_FILE_BYTES)
        .map_err(|e| e.to_string())
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let profiles = crate::profiles::parse(&text).map_err(|(span, message)| {
        let at = span.map_or(String::new(), |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(":{line}:{column}")
        });
        format!("{}{at}: {message}", file.display())
    })?;
    let in_file = |e: String| format!("{}: {e}", file.display());
    let Some((found, config)) = profiles.select(name).map_err(in_file)? else {
        return Ok(FoundTarget {
            file: Some(file),
            name: None,
            target: crate::profiles::Target::DuckDb { path: None },
        });
    };
    let target = config
        .resolve(&|var| std::env::var(var).ok())
        .map_err(|e| in_file(format!("target `{found}`: {e}")))?;
    Ok(FoundTarget {
        name: Some(found.to_string()),
        file: Some(file),
        target,
    })
}

/// Connects to a target's warehouse. BigQuery is emission only.
fn open_warehouse(
    found: &FoundTarget,
    root: &std::path::Path,
    config: &crate::config::ProjectConfig,
    args: &RunArgs,
) -> Result<Box<dyn crate::warehouse::Warehouse + Send>, String> {
    use crate::profiles::Target;
    match &found.target {
        Target::DuckDb { path } => {
            let path = args.database.clone().unwrap_or_else(|| match path {
                Some(path) => root.join(path),
                None => root
                    .join(&config.paths.target)
                    .join(format!("{}.duckdb", config.name)),
            });
            Ok(Box::new(
                crate::warehouse::DuckDbWarehouse::open(&path).map_err(|e| e.to_string())?,
            ))
        }
        Target::Postgres(pg) => Ok(Box::new(
            crate::warehouse::PostgresWarehouse::connect(pg).map_err(|e| e.to_string())?,
        )),
        Target::Snowflake(sf) => Ok(Box::new(
            crate::warehouse::SnowflakeWarehouse::connect(sf).map_err(|e| e.to_string())?,
        )),
        Target::BigQuery { .. } => Err(format!(
            "target `{}`: shopc cannot run against BigQuery yet, only write its SQL: `shopc emit --target {}`",
            found.name.as_deref().unwrap_or_default(),
            found.name.as_deref().unwrap_or("bigquery"),
        )),
    }
}

/// `shopc debug connection`: which target, what it is, and whether it answers.
fn debug_connection(project: &ProjectArg, name: Option<&str>) -> ExitCode {
    let dir = project.project.as_path();
    let found = match find_target(dir, name) {
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
    let args = RunArgs {
        project: ProjectArg {
            project: dir.to_path_buf(),
            vars: project.vars.clone(),
        },
        select: Vec::new(),
        exclude: Vec::new(),
        state: None,
        seeds: None,
        full_refresh: false,
        threads: Some(1),
        target: None,
        database: None,
        schema_prefix: None,
        defer: false,
        favor_state: false,
        defer_state: None,
        color: ColorChoice::Auto,
    };
    let started = Instant::now();
    let mut warehouse = match open_warehouse(&found, &loaded.root, &config, &args) {
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

fn parse_dialect(text: &str) -> Result<crate::emit::Dialect, String> {
    crate::emit::Dialect::parse(text).ok_or_else(|| {
        let names: Vec<&str> = crate::emit::Dialect::ALL.iter().map(|d| d.name()).collect();
        format!(
            "unknown dialect `{text}`; expected one of {}",
            names.join(", ")
        )
    })
}

fn emit(args: &RunArgs, out: Option<&std::path::Path>) -> ExitCode {
    // A dialect's name, else a target of profiles.toml.
    let dialect = match args.target.as_deref().map(parse_dialect) {
        None => crate::emit::Dialect::DuckDb,
        Some(Ok(dialect)) => dialect,
        Some(Err(unknown)) => match find_target(&args.project.project, args.target.as_deref()) {
            Ok(target) if args.target.is_some() && target.name.is_some() => target.target.dialect(),
            Ok(_) | Err(_) => {
                eprintln!(
                    "error: {unknown}, and no target of {} has that name",
                    crate::profiles::FILE_NAME
                );
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let Prepared {
        loaded,
        compilation,
        selected,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
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
    for file in &files {
        let path = dir.join(&file.path);
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &file.text));
        if let Err(e) = result {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    say!(
        "emitted {} files for {} into {}",
        files.len(),
        dialect.name(),
        dir.display()
    );
    ExitCode::SUCCESS
}

fn compile(args: &RunArgs) -> ExitCode {
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
    let mut written = 0;
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
    for (path, text) in files {
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = result {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
        written += 1;
    }
    say!("compiled {written} files into {}", dir.display());
    ExitCode::SUCCESS
}
