#![allow(clippy::disallowed_methods)]
//! Writes a shopc project again as a dbt or a SQLMesh project
//! ([`shopc::peer`]), for `benches/compare.sh`, and copies its seeds:
//!
//! `cargo run --release --example write_peer -- PROJECT OUT --dbt|--sqlmesh`

use std::path::Path;

use shopc::ir::RelationKind;
use shopc::peer::Peer;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let peer = match args.get(2).map(String::as_str) {
        Some("--dbt") => Peer::Dbt,
        Some("--sqlmesh") => Peer::SqlMesh,
        _ => {
            eprintln!("usage: write_peer PROJECT OUT --dbt|--sqlmesh");
            return std::process::ExitCode::from(2);
        }
    };
    match write(Path::new(&args[0]), Path::new(&args[1]), peer) {
        Ok(n) => {
            println!("wrote {n} files into {}", args[1]);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

fn write(project: &Path, out: &Path, peer: Peer) -> Result<usize, String> {
    let mut loaded = shopc::project::load(project).map_err(|e| e.to_string())?;
    let config = loaded
        .config
        .clone()
        .ok_or("shop.toml is not valid: run `shopc check`")?;
    let compilation = shopc::compile(&loaded.db, &config, &loaded.shop_files);
    if let Some(p) = compilation.problems.iter().find(|p| p.is_error()) {
        return Err(format!(
            "the project does not compile: {}",
            p.to_diagnostic().title
        ));
    }
    let ir = &compilation.ir;
    let seeds = shopc::seed::discover(ir, &mut loaded.db, &project.join(&config.paths.seeds)).seeds;
    let seeded = seeds.iter().map(|s| s.relation).collect();
    let files = shopc::peer::files(&compilation, &seeded, &config.name, peer);
    let count = files.len();
    for (path, text) in files {
        let path = out.join(path);
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    for seed in &seeds {
        let RelationKind::Table(t) = &ir.relation(seed.relation).kind else {
            continue;
        };
        let to = out.join("seeds").join(format!("{}.csv", t.identifier));
        std::fs::create_dir_all(out.join("seeds"))
            .and_then(|()| std::fs::copy(&seed.path, &to))
            .map_err(|e| format!("cannot copy `{}`: {e}", seed.path.display()))?;
    }
    Ok(count + seeds.len())
}
