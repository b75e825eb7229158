#![allow(clippy::disallowed_methods)]
//! Times each phase of `check` on a generated project, single-threaded:
//! `cargo run --release --example profile_check -- 10000 [--dbt-shaped] [--pest]
//! [--manifest] [--emit] [--fast-coverage]` (`--pest`: parse with pest
//! alone, not the hand-written parser; `--manifest`: also build and
//! serialize the manifest, as every compiling command does, its build and
//! write timed apart; `--emit`: the Snowflake files of every relation, as
//! `shopc emit` formats them; `--fast-coverage`: how many files the
//! hand-written parser hands to pest, and the first of them).
//! With symbols, for perf or callgrind: `cargo build --profile profiling
//! --no-default-features --example profile_check`.
use std::time::Instant;

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let models: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let flags: Vec<String> = std::env::args().skip(2).collect();
    let pest = flags.iter().any(|f| f == "--pest");
    let project = if flags.iter().any(|f| f == "--dbt-shaped") {
        shopc::synth::dbt_shaped(models, 7)
    } else {
        shopc::synth::project(models, 7)
    };
    let (db, config, files) = project.load();
    let bytes: usize = project.files.iter().map(|(_, t)| t.len()).sum();
    let t = Instant::now();
    let mut asts = Vec::new();
    let mut broken = Vec::new();
    for &f in &files {
        let parsed = if pest {
            shopc::syntax::parse_with_pest(f, db.text(f))
        } else {
            shopc::syntax::parse_file(f, db.text(f))
        };
        broken.extend(parsed.broken_items);
        asts.push((f, parsed.file));
    }
    let parse = t.elapsed();
    if flags.iter().any(|f| f == "--fast-coverage") {
        let refused: Vec<_> = files
            .iter()
            .filter(|&&f| shopc::syntax::parse_fast(f, db.text(f)).is_none())
            .collect();
        println!(
            "the fast parser refuses {} of {} files",
            refused.len(),
            files.len()
        );
        if let Some(&&f) = refused.first() {
            println!("{}", &db.text(f)[..db.text(f).len().min(3000)]);
        }
    }
    let t = Instant::now();
    let (ir, problems) = shopc::ir::lower(&db, &config, &asts, &broken);
    let lower = t.elapsed();
    let t = Instant::now();
    let checked = shopc::check::check(&ir);
    let check = t.elapsed();
    // `--emit`: the Snowflake files of every relation, as `shopc emit`
    // writes them (formatted), and the same without formatting.
    let emitted = flags.iter().any(|f| f == "--emit").then(|| {
        let analysis = shopc::check::analyze(&ir);
        let emitter =
            shopc::emit::Emitter::with_analysis(&ir, shopc::emit::Dialect::Snowflake, &analysis);
        let t = Instant::now();
        let files = emitter.files(&ir.order);
        let bytes: usize = files.iter().map(|f| f.text.len()).sum();
        format!(
            ", emit {:?} ({} files, {} KiB)",
            t.elapsed(),
            files.len(),
            bytes / 1024
        )
    });
    // As the criterion bench times it (built, written into a sink that
    // counts the bytes, dropped), fifteen times (`PROFILE_RUNS`): the median, and of that
    // run its parts. The last is also written to a file, to be read.
    let manifest = flags.iter().any(|f| f == "--manifest").then(|| {
        let analysis = shopc::check::analyze(&ir);
        let invocation = shopc::manifest::Invocation {
            id: "0000000000000000".into(),
            command: "check".into(),
            generated_at: "2026-01-01T00:00:00Z".into(),
        };
        let build = || {
            shopc::manifest::build(
                &ir,
                &analysis,
                &db,
                &config.name,
                "",
                shopc::emit::Dialect::DuckDb,
                &[],
            )
        };
        // `PROFILE_RUNS=1` under valgrind, whose counts do not vary.
        let count: u32 = std::env::var("PROFILE_RUNS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(15)
            .max(1);
        let cpu_before = cpu_time();
        let mut runs: Vec<[std::time::Duration; 4]> = (0..count)
            .map(|_| {
                let t = Instant::now();
                let manifest = build();
                let built = t.elapsed();
                manifest
                    .write_json(&invocation, &mut std::io::sink())
                    .unwrap();
                let written = t.elapsed();
                drop(manifest);
                let total = t.elapsed();
                [total, built, written - built, total - written]
            })
            .collect();
        // Steadier than the wall clock on a busy machine: what every core
        // spent, a run's share.
        let cpu = cpu_time().map(|after| (after - cpu_before.unwrap_or_default()) / count);
        runs.sort();
        let [total, built, written, dropped] = runs[runs.len() / 2];
        let path = std::env::temp_dir().join("profile_check_manifest.json");
        let mut file = std::fs::File::create(&path).unwrap();
        build().write_json(&invocation, &mut file).unwrap();
        let bytes = file.metadata().unwrap().len() as usize;
        format!(
            ", manifest {total:?} (build {built:?}, write {written:?}, drop {dropped:?}; \
             {} KiB in {}; median of {count}, fastest {:?}; CPU {})",
            bytes / 1024,
            path.display(),
            runs[0][0],
            cpu.map_or("unknown".to_string(), |cpu| format!("{cpu:?} a run")),
        )
    });
    println!(
        "{models} models, {} KiB: parse {parse:?}, resolve {lower:?}, check {check:?}{}{} ({} problems)",
        bytes / 1024,
        manifest.unwrap_or_default(),
        emitted.unwrap_or_default(),
        problems.len() + checked.len()
    );
}

/// The CPU time the process has spent, on every core (Linux: from
/// `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(std::time::Duration::from_millis(ticks * 10))
}
