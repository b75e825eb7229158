//! The commands that run on a warehouse (`seed`, `run`, `test`, `snapshot`,
//! `build`), and finding and opening the target they run on.

use super::*;

pub(super) fn warehouse_command(args: &RunArgs, command: crate::run::Command) -> ExitCode {
    let Prepared {
        loaded,
        config,
        compilation,
        selected,
        defer,
        seeds: discovered,
        target,
        ..
    } = match prepare(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    report(&loaded.db, &discovered.problems, args.color);
    if discovered.problems.iter().any(Problem::is_error) {
        eprintln!("error: the seeds folder has errors; nothing was run");
        return ExitCode::from(EXIT_ERRORS);
    }
    let seeds = discovered.seeds;
    let color = progress_color(args.color);
    // `test --unit` needs no target: DuckDB in memory is all it reads.
    if args.unit_only {
        let failed = unit_tests(&loaded.db, &compilation.ir, &selected, true, color);
        return if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_ERRORS)
        };
    }
    let target = match find_target(&loaded.root, target.as_deref()) {
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
    let ran = Ran {
        config: &config,
        ir: &compilation.ir,
        target: &target,
        command: command.name(),
        started: chrono::Utc::now(),
    };
    // A run that cannot start is a failed run: the team hears of it too.
    let not_run = |why: &str| {
        let problem = crate::notify::Problem {
            unique_id: format!(
                "target.{}",
                target.name.as_deref().unwrap_or(target.target.adapter())
            ),
            status: "error".into(),
            message: why.lines().next().map(String::from),
        };
        let counts = crate::notify::Counts {
            errors: 1,
            ..Default::default()
        };
        ran.notify(counts, vec![problem], false);
    };
    let mut warehouse =
        match open_warehouse(&target, &loaded.root, &config, args.database.as_deref()) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e}");
                not_run(&e);
                return ExitCode::from(EXIT_USAGE);
            }
        };
    let exclusive = match warehouse.lock(&config.name, &compilation.ir.environment.label()) {
        Ok(exclusive) => exclusive,
        Err(e) => {
            eprintln!("error: {e}; nothing was run");
            not_run(&e.to_string());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Unit tests before anything runs, on DuckDB in memory: a model whose
    // logic is wrong is found before the warehouse is written.
    let unit_failed = if matches!(
        command,
        crate::run::Command::Test | crate::run::Command::Build
    ) {
        unit_tests(&loaded.db, &compilation.ir, &selected, false, color)
    } else {
        0
    };
    if unit_failed > 0 && matches!(command, crate::run::Command::Build) {
        eprintln!(
            "error: {unit_failed} unit test{} failed; nothing was built",
            if unit_failed == 1 { "" } else { "s" }
        );
        not_run("unit tests failed");
        return ExitCode::from(EXIT_ERRORS);
    }
    let (stale, past_threshold) = if args.check_freshness {
        stale_sources(
            &compilation.ir,
            warehouse.as_mut(),
            &selected,
            &seeds,
            &loaded.root.join(&config.paths.target),
            &config.name,
            color,
        )
    } else {
        Default::default()
    };
    let mut out = std::io::stdout().lock();
    let summary = crate::run::execute(
        &compilation.ir,
        warehouse.as_mut(),
        &seeds,
        command,
        crate::run::Options {
            full_refresh: args.full_refresh,
            verify_proofs: args.verify_proofs,
            threads: args.threads.map_or_else(default_threads, usize::from),
            exclusive,
            defer,
            color,
            stale,
            hooks: {
                let (start, end) = crate::environment::hooks(&config, &compilation.ir.environment);
                crate::run::Hooks { start, end }
            },
        },
        &selected,
        &mut out,
    );
    write_run_results(
        &loaded.root.join(&config.paths.target),
        &config.name,
        &compilation.ir.environment,
        ran.started,
        &summary,
    );
    drop(out);
    let counts = summary.counts();
    let problems = summary
        .results
        .iter()
        .filter(|r| matches!(r.status, "error" | "fail" | "warn"))
        .map(|r| crate::notify::Problem {
            unique_id: format!("{}.{}.{}", r.kind, config.name, r.name),
            status: r.status.to_string(),
            message: r.message.clone(),
        })
        .collect();
    ran.notify(counts, problems, past_threshold);
    if summary.success() && unit_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERRORS)
    }
}

/// Runs the unit tests of the selected models, a progress line each and
/// the rows that differ under a failure. Returns how many did not pass.
fn unit_tests(
    db: &crate::span::SourceDb,
    ir: &crate::ir::Ir,
    selected: &crate::plan::Selection,
    say_none: bool,
    color: bool,
) -> usize {
    use crate::unit::Outcome;
    let tests: Vec<&crate::ir::UnitTest> = ir
        .unit_tests
        .iter()
        .filter(|t| selected.relations.contains(&t.model))
        .collect();
    if tests.is_empty() {
        if say_none {
            println!("No unit tests in the selection.");
        }
        return 0;
    }
    let mut out = std::io::stdout().lock();
    let printer = crate::run::Printer::new(tests.len(), color);
    let started = std::time::Instant::now();
    let mut failed = 0;
    for test in &tests {
        let start = std::time::Instant::now();
        let outcome = crate::unit::run(ir, db, test);
        let label = format!("{} ({})", test.name, ir.relation(test.model).name);
        let detail = format!("{:.2}s", start.elapsed().as_secs_f64());
        let status = match &outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail { .. } => "FAIL",
            Outcome::Error(_) => "ERROR",
        };
        printer.line(&mut out, status, "unit_test", &label, &detail);
        match outcome {
            Outcome::Pass => {}
            Outcome::Error(e) => {
                failed += 1;
                let _ = writeln!(out, "  {}", e.replace('\n', "\n  "));
            }
            Outcome::Fail {
                expected,
                actual,
                missing,
                unexpected,
                reordered,
            } => {
                failed += 1;
                let rows = |n: usize| {
                    if n == 1 {
                        "1 row".to_string()
                    } else {
                        format!("{n} rows")
                    }
                };
                if reordered {
                    let _ = writeln!(
                        out,
                        "  the rows expected, in another order (the test is ordered):"
                    );
                } else {
                    let _ = writeln!(out, "  expected {}, got {}:", rows(expected), rows(actual));
                }
                for row in &missing {
                    let _ = writeln!(out, "  - {row}");
                }
                for row in &unexpected {
                    let _ = writeln!(out, "  + {row}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "Unit tests: {} passed, {failed} failed in {:.2}s.",
        tests.len() - failed,
        started.elapsed().as_secs_f64()
    );
    failed
}

/// Where and when a run happened, for its notifications.
pub(super) struct Ran<'a> {
    pub(super) config: &'a crate::config::ProjectConfig,
    pub(super) ir: &'a crate::ir::Ir,
    pub(super) target: &'a FoundTarget,
    pub(super) command: &'a str,
    pub(super) started: chrono::DateTime<chrono::Utc>,
}

impl Ran<'_> {
    /// Sends how the run ended to the notifications due, and prints what
    /// happened to each (a failure is a warning; the exit status stands).
    /// `stale`: a source was past a freshness threshold.
    pub(super) fn notify(
        &self,
        counts: crate::notify::Counts,
        problems: Vec<crate::notify::Problem>,
        stale: bool,
    ) {
        if self.config.notifications.is_empty() {
            return;
        }
        let (status, events) = crate::notify::Report::events(&counts, stale);
        let report = crate::notify::Report {
            project: self.config.name.clone(),
            environment: self.ir.environment.name.clone(),
            target: self
                .target
                .name
                .clone()
                .unwrap_or_else(|| self.target.target.adapter().to_string()),
            command: self.command.to_string(),
            status,
            events,
            counts,
            problems,
            started_at: self
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            elapsed_seconds: (chrono::Utc::now() - self.started).num_milliseconds() as f64 / 1000.0,
            run_url: None,
        };
        for line in crate::notify::send(self.config, &report, &|v| std::env::var(v).ok()) {
            if line.starts_with("warning:") {
                eprintln!("{line}");
            } else {
                say!("{line}");
            }
        }
    }
}

/// One thread per core: DuckDB parallelises each statement itself, so more
/// workers than cores only compete (4 on 2 cores was slower than 1 on a
/// large build).
pub(super) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(64))
}

/// The target a command runs against, and where it came from.
pub(super) struct FoundTarget {
    /// The profiles file read, if any.
    pub(super) file: Option<PathBuf>,
    /// The target's name in it; `None` for the built-in DuckDB default.
    pub(super) name: Option<String>,
    pub(super) target: crate::profiles::Target,
}

/// Finds profiles.toml (the project's, else `~/.shopc/`) and resolves the
/// target named `name`, or its default; the embedded DuckDB file when there
/// is neither.
pub(super) fn find_target(
    root: &std::path::Path,
    name: Option<&str>,
) -> Result<FoundTarget, String> {
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

/// Finds a target (`name`, else profiles.toml's default, else the
/// embedded DuckDB file) and connects to it; on failure, says why and
/// returns the usage exit code.
pub(super) fn connect(
    root: &std::path::Path,
    config: &crate::config::ProjectConfig,
    name: Option<&str>,
    database: Option<&std::path::Path>,
) -> Result<(FoundTarget, Box<dyn crate::warehouse::Warehouse + Send>), ExitCode> {
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    };
    let found = find_target(root, name).map_err(fail)?;
    let warehouse = open_warehouse(&found, root, config, database).map_err(fail)?;
    Ok((found, warehouse))
}

/// Connects to a target's warehouse. BigQuery is emission only.
pub(super) fn open_warehouse(
    found: &FoundTarget,
    root: &std::path::Path,
    config: &crate::config::ProjectConfig,
    database: Option<&std::path::Path>,
) -> Result<Box<dyn crate::warehouse::Warehouse + Send>, String> {
    use crate::profiles::Target;
    match &found.target {
        Target::DuckDb { path } => {
            let path = database.map(PathBuf::from).unwrap_or_else(|| match path {
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

/// How many rows a relation has, as the warehouse counts them.
pub(super) fn row_count(
    warehouse: &mut dyn crate::warehouse::Warehouse,
    emitter: &crate::emit::Emitter<'_>,
    name: &crate::emit::PhysicalName,
) -> Result<u64, String> {
    let rows = warehouse
        .query(&emitter.count_rows(name))
        .map_err(|e| e.to_string())?;
    let n = rows.first_value();
    n.trim()
        .parse()
        .map_err(|_| format!("the count is not a number: {n}"))
}
