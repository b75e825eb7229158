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
        #[command(flatten)]
        env: EnvArg,
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
        env: EnvArg,
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
        env: EnvArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        refresh: RefreshArg,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Run the unit tests, then the data tests, of the selected models
    Test {
        /// Run only the unit tests (`unit_test` items), on an in-memory
        /// DuckDB with only their given rows: no warehouse is needed
        #[arg(long)]
        unit: bool,
        #[command(flatten)]
        proofs: ProofsArg,
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        env: EnvArg,
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
        env: EnvArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Seed, run and test in dependency order; a failing test skips what depends on it
    Build {
        /// First check the freshness of the source tables the selection
        /// reads (as `shopc source freshness`); skip what reads one in error
        #[arg(long)]
        check_freshness: bool,
        #[command(flatten)]
        proofs: ProofsArg,
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        env: EnvArg,
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
        env: EnvArg,
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
        env: EnvArg,
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
        env: EnvArg,
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
    /// Source tables: `shopc source freshness` says how long ago each was
    /// loaded, against its `warn_after` and `error_after`
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// What the last run built, next to the same relations in another
    /// run's schemas (`--state`: production's artifacts): the rows of each,
    /// and the totals of every reconciliation that reads one
    Diff {
        /// The target folder of the run to compare with (its manifest.json
        /// says where it built each relation)
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// `text` (default) or `markdown` (for a pull request's job summary)
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        env: EnvArg,
        /// A target of profiles.toml: where both runs built (default: the
        /// environment's, else the file's `default`, else the embedded DuckDB file)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// DuckDB database file (default: TARGET/NAME.duckdb in the project)
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
        #[command(flatten)]
        color: ColorArg,
    },
    /// The project's documentation site: `shopc docs generate` writes it
    Docs {
        #[command(subcommand)]
        command: DocsCommand,
    },
    /// The project's environments (`shopc env list`), or drop one's schemas
    /// (`shopc env drop pr_12 --yes`)
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Explain a diagnostic code (e.g. `shopc explain R001`); list all codes without one
    Explain {
        /// A code such as R001, or a rule name such as unknown-relation
        code: Option<String>,
    },
    /// Rewrite `.shop` files in their one canonical layout
    ///
    /// Every token is kept as written, and every comment where it was;
    /// only the space between tokens changes. A file that does not parse
    /// is reported and left as it is.
    #[command(
        after_help = "Exit status: 0 when done (or, with --check, when every file is \
                      formatted), 1 when a file would be reformatted (--check) or does not \
                      parse, 2 on usage or IO errors."
    )]
    Fmt {
        /// Change nothing: list the files that are not formatted, and exit
        /// with 1 if there are any
        #[arg(long)]
        check: bool,
        /// Files and folders to format (default: the project's model files);
        /// `-` formats standard input to standard output
        #[arg(value_name = "PATHS")]
        paths: Vec<PathBuf>,
        /// The project folder (holding shop.toml), when no PATHS are given
        #[arg(long, default_value = ".", value_name = "DIR")]
        project: PathBuf,
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// Serve the Language Server Protocol on standard input and output
    ///
    /// For editors: diagnostics for the whole project as files are opened
    /// and changed, hover, go to definition, references, symbols,
    /// completion and formatting (see editors/README.md). The project is
    /// the folder with a shop.toml at or above the editor's workspace.
    Lsp,
    /// Show what the compiler understood at one stage
    Debug {
        #[command(subcommand)]
        stage: DebugStage,
    },
}

#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// How long ago each selected source table was loaded (`max(loaded_at)`
    /// against the warehouse's clock): PASS, WARN past `warn_after`, ERROR
    /// past `error_after`; writes target/sources.json; exit 1 on an error
    Freshness {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        env: EnvArg,
        #[command(flatten)]
        select: SelectArgs,
        /// A target of profiles.toml (default: the environment's, else the
        /// file's `default`, else the embedded DuckDB file)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// DuckDB database file (default: TARGET/NAME.duckdb in the project)
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
        /// Exit 1 on a warning too
        #[arg(long)]
        warn_error: bool,
        #[command(flatten)]
        color: ColorArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum DocsCommand {
    /// Write a static site of the project (default: target/docs/) that opens
    /// from file:// or any static host: an index with search, a page per
    /// relation (grain and its proof, columns with type, nullability,
    /// additivity and tests, compiled SQL in every dialect, the .shop source,
    /// neighbours) and each column's lineage, upstream and downstream
    Generate {
        #[command(flatten)]
        project: ProjectArg,
        #[command(flatten)]
        env: EnvArg,
        /// The folder to write the site into (default: TARGET/docs in the project)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// A target of profiles.toml to read catalog facts from: each built
        /// relation's row count, and its size where the warehouse tells it
        /// (without it, the pages have none)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// DuckDB database file (default: TARGET/NAME.duckdb in the project)
        #[arg(long, value_name = "FILE", requires = "target")]
        database: Option<PathBuf>,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Serve the generated site on 127.0.0.1 (prints its URL; Ctrl-C stops it)
    Serve {
        #[command(flatten)]
        project: ProjectArg,
        /// The site's folder (default: TARGET/docs in the project)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The port (default 8080; 0 picks a free one)
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// Each environment of shop.toml: its schema rule, its target, and the
    /// schemas it writes
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        project: ProjectArg,
        /// The `{user}` of the schema rules (default: the login name)
        #[arg(long, value_name = "NAME", env = "SHOPC_USER")]
        user: Option<String>,
    },
    /// Drop every schema an environment writes (its models', snapshots' and
    /// seeded tables'), with everything in them; never the schemas of
    /// tables the project only reads
    Drop {
        /// The environment (`pr_12`, `dev`)
        name: String,
        /// Drop them: without it, the schemas are listed and nothing is dropped
        #[arg(long)]
        yes: bool,
        /// Allow dropping `prod`, or an environment that builds the declared
        /// schemas themselves
        #[arg(long)]
        allow_prod: bool,
        #[command(flatten)]
        project: ProjectArg,
        /// The `{user}` of the schema rule (default: the login name)
        #[arg(long, value_name = "NAME", env = "SHOPC_USER")]
        user: Option<String>,
        /// A target of profiles.toml (default: the environment's, else the
        /// file's `default`, else the embedded DuckDB file)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// DuckDB database file (default: TARGET/NAME.duckdb in the project)
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
        #[command(flatten)]
        color: ColorArg,
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
        /// A target of profiles.toml (default: the environment's, else the
        /// file's `default`, else DuckDB)
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// The environment whose target to reach (shop.toml's
        /// `[environments]`)
        #[arg(long, value_name = "NAME", env = "SHOPC_ENV")]
        env: Option<String>,
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

/// Which environment a command works in.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct EnvArg {
    /// The environment of shop.toml's `[environments]` to work in: its
    /// schema rule names every schema the project writes, and it may name
    /// the target (default: dev)
    #[arg(long, value_name = "NAME", env = "SHOPC_ENV")]
    pub env: Option<String>,
    /// The `{user}` of the environment's schema rule (default: the login
    /// name, lowercased, other characters made `_`)
    #[arg(long, value_name = "NAME", env = "SHOPC_USER")]
    pub user: Option<String>,
}

#[derive(clap::Args, Debug, Default)]
pub struct SeedsArg {
    /// Load seed CSVs from this folder instead of the project's seeds path
    /// (another day's extracts, for example)
    #[arg(long, value_name = "DIR")]
    pub seeds: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Default)]
pub struct ProofsArg {
    /// Run the tests whose fact the checker proved (a declared grain's
    /// unique and not-null tests), which are otherwise reported PROVEN
    /// without a query
    #[arg(long)]
    pub verify_proofs: bool,
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
    pub check_freshness: bool,
    pub target: Option<String>,
    pub threads: Option<u16>,
    pub database: Option<PathBuf>,
    pub env: EnvArg,
    pub defer: bool,
    pub favor_state: bool,
    pub defer_state: Option<PathBuf>,
    pub color: ColorChoice,
    /// `test --unit`: only the unit tests, no warehouse.
    pub unit_only: bool,
    /// Run the tests the checker proved.
    pub verify_proofs: bool,
}

impl RunArgs {
    fn new(project: ProjectArg, env: EnvArg, select: SelectArgs, color: ColorArg) -> RunArgs {
        RunArgs {
            project,
            select: select.select,
            exclude: select.exclude,
            state: select.state,
            seeds: None,
            full_refresh: false,
            check_freshness: false,
            target: None,
            threads: None,
            database: None,
            env,
            defer: false,
            favor_state: false,
            defer_state: None,
            color: color.color,
            unit_only: false,
            verify_proofs: false,
        }
    }

    fn on(mut self, target: TargetArgs) -> RunArgs {
        self.target = target.target;
        self.threads = target.threads;
        self.database = target.database;
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
pub enum DiffFormat {
    Text,
    Markdown,
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

mod artifacts;
mod check;
mod diff;
mod docs;
mod emit;
mod env;
mod fmt;
mod freshness;
mod prepare;
mod warehouse;

use artifacts::*;
use check::*;
use emit::*;
use freshness::*;
use prepare::*;
use warehouse::*;

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
            env,
            format,
            color,
        } => check(&project, &env, format, color),
        Command::Seed {
            project,
            env,
            select,
            seeds,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, env, select, color)
                .on(target)
                .seeds(seeds),
            crate::run::Command::Seed,
        ),
        Command::Run {
            project,
            env,
            select,
            refresh,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, env, select, color)
                .on(target)
                .refresh(refresh),
            crate::run::Command::Run,
        ),
        Command::Snapshot {
            project,
            env,
            select,
            target,
            color,
        } => warehouse_command(
            &RunArgs::new(project, env, select, color).on(target),
            crate::run::Command::Snapshot,
        ),
        Command::Test {
            unit,
            proofs,
            project,
            env,
            select,
            target,
            color,
        } => warehouse_command(
            &RunArgs {
                unit_only: unit,
                verify_proofs: proofs.verify_proofs,
                ..RunArgs::new(project, env, select, color).on(target)
            },
            crate::run::Command::Test,
        ),
        Command::Build {
            check_freshness,
            proofs,
            project,
            env,
            select,
            seeds,
            refresh,
            target,
            color,
        } => warehouse_command(
            &RunArgs {
                check_freshness,
                verify_proofs: proofs.verify_proofs,
                ..RunArgs::new(project, env, select, color)
                    .on(target)
                    .seeds(seeds)
                    .refresh(refresh)
            },
            crate::run::Command::Build,
        ),
        Command::Compile {
            project,
            env,
            select,
            color,
        } => compile(&RunArgs::new(project, env, select, color)),
        Command::Emit {
            target,
            out,
            project,
            env,
            select,
            color,
        } => {
            let mut args = RunArgs::new(project, env, select, color);
            args.target = target;
            emit(&args, out.as_deref())
        }
        Command::Ls {
            project,
            env,
            select,
            resource_type,
            output,
            color,
        } => ls(
            &RunArgs::new(project, env, select, color),
            &resource_type,
            output,
        ),
        Command::Source {
            command:
                SourceCommand::Freshness {
                    project,
                    env,
                    select,
                    target,
                    database,
                    warn_error,
                    color,
                },
        } => {
            let mut args = RunArgs::new(project, env, select, color);
            args.target = target;
            args.database = database;
            source_freshness(&args, warn_error)
        }
        Command::Diff {
            state,
            format,
            project,
            env,
            target,
            database,
            color,
        } => {
            let mut args = RunArgs::new(project, env, SelectArgs::default(), color);
            args.target = target;
            args.database = database;
            diff::diff(&args, &state, format)
        }
        Command::Docs {
            command:
                DocsCommand::Generate {
                    project,
                    env,
                    out,
                    target,
                    database,
                    color,
                },
        } => {
            let mut args = RunArgs::new(project, env, SelectArgs::default(), color);
            args.target = target;
            args.database = database;
            docs::generate(&args, out.as_deref())
        }
        Command::Docs {
            command: DocsCommand::Serve { project, dir, port },
        } => {
            let dir = dir.unwrap_or_else(|| {
                // The project's target folder, as shop.toml names it.
                let target = crate::project::load(&project.project)
                    .ok()
                    .and_then(|loaded| loaded.config.map(|c| c.paths.target))
                    .unwrap_or_else(|| "target".into());
                project.project.join(target).join("docs")
            });
            docs::serve(&dir, port)
        }
        Command::Env {
            command: EnvCommand::List { project, user },
        } => env::list(&project, user),
        Command::Env {
            command:
                EnvCommand::Drop {
                    name,
                    yes,
                    allow_prod,
                    project,
                    user,
                    target,
                    database,
                    color,
                },
        } => env::drop(
            &project,
            env::Drop {
                name,
                yes,
                allow_prod,
                user,
                target,
                database,
            },
            color.color,
        ),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Fmt {
            check,
            paths,
            project,
            color,
        } => fmt::fmt(&fmt::FmtArgs {
            check,
            paths,
            project,
            color,
        }),
        Command::Lsp => match crate::lsp::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: shopc lsp: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Debug { stage } => debug(stage),
    }
}

/// Whether progress lines on stdout are coloured.
fn progress_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
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

/// The environment `--env` (or `SHOPC_ENV`) names, `dev` without one;
/// an unknown one is a usage error.
fn environment(
    config: &crate::config::ProjectConfig,
    env: &EnvArg,
) -> Result<crate::environment::Environment, ExitCode> {
    let name = env.env.as_deref().unwrap_or(crate::environment::DEFAULT);
    crate::environment::resolve(config, name, || {
        crate::environment::user_name(env.user.as_deref(), login().as_deref())
    })
    .map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// The login name: `USER`, else `LOGNAME`, else the system's.
fn login() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .or_else(|| whoami::username().ok())
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn report(db: &SourceDb, problems: &[Problem], color: ColorChoice) {
    let diagnostics: Vec<Diagnostic> = problems.iter().map(Problem::to_diagnostic).collect();
    eprint!("{}", diagnostic::render(db, &diagnostics, use_color(color)));
}
