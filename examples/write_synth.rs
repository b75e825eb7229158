#![allow(clippy::disallowed_methods)]
//! Writes the synthetic project of the benches to a folder, for benches
//! that run the binary on it (`scripts/bench-docs.sh`, `benches/compare.sh`):
//! `cargo run --release --example write_synth -- 10000 DIR [--dbt-shaped]`
//! (`--dbt-shaped`: [`shopc::synth::dbt_shaped`], one model per file).

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(models), Some(dir)) = (args.next().and_then(|a| a.parse().ok()), args.next()) else {
        eprintln!("usage: write_synth MODELS DIR [--dbt-shaped]");
        return std::process::ExitCode::from(2);
    };
    let project = match args.next().as_deref() {
        Some("--dbt-shaped") => shopc::synth::dbt_shaped(models, 7),
        _ => shopc::synth::project(models, 7),
    };
    let dir = std::path::Path::new(&dir);
    let files = std::iter::once(("shop.toml".to_string(), project.shop_toml.clone()))
        .chain(project.files.iter().cloned());
    for (path, text) in files {
        let path = dir.join(path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return std::process::ExitCode::from(2);
        }
    }
    println!("wrote {models} models into {}", dir.display());
    std::process::ExitCode::SUCCESS
}
