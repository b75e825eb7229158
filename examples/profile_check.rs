#![allow(clippy::disallowed_methods)]
//! Times each phase of `check` on a generated project, single-threaded:
//! `cargo run --release --example profile_check -- 10000 [--dbt-shaped] [--pest]`
//! (`--pest`: parse with pest alone, not the hand-written parser).
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
    let t = Instant::now();
    let (ir, problems) = shopc::ir::lower(&db, &config, &asts, &broken);
    let lower = t.elapsed();
    let t = Instant::now();
    let checked = shopc::check::check(&ir);
    let check = t.elapsed();
    println!(
        "{models} models, {} KiB: parse {parse:?}, resolve {lower:?}, check {check:?} ({} problems)",
        bytes / 1024,
        problems.len() + checked.len()
    );
}
