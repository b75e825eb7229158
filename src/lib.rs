#![doc = include_str!("../ARCHITECTURE.md")]

pub mod check;
#[cfg(feature = "warehouses")]
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod docs;
pub mod emit;
pub mod environment;
#[cfg(feature = "warehouses")]
pub mod freshness;
pub mod ide;
pub mod ir;
pub mod lsp;
pub mod manifest;
#[cfg(feature = "warehouses")]
pub mod notify;
#[doc(hidden)]
pub mod peer;
pub mod plan;
pub mod problem;
#[cfg(feature = "warehouses")]
pub mod profiles;
pub mod project;
#[cfg(feature = "warehouses")]
pub mod run;
pub mod seed;
pub mod span;
pub mod syntax;
pub mod synth;
#[cfg(feature = "warehouses")]
pub mod unit;
#[cfg(feature = "warehouses")]
pub mod warehouse;

use config::ProjectConfig;
use ir::Ir;
use problem::Problem;
use span::{FileId, SourceDb};

/// The result of compiling a project up to the checked IR. (The ASTs are
/// dropped once lowered: the IR is what every phase after reads, and their
/// memory is what the checker and the manifest allocate next. `shopc debug
/// ast` parses again.)
#[derive(Debug)]
pub struct Compilation {
    pub ir: Ir,
    /// What the checker derived: grains, additivity, nullability.
    pub analysis: check::Analysis,
    /// Every problem found by every phase, ordered by file and position.
    pub problems: Vec<Problem>,
}

impl Compilation {
    pub fn error_count(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.problems.len() - self.error_count()
    }
}

/// The stack of every thread that compiles, emits or runs: the second line
/// of defence after [`syntax::MAX_DEPTH`], which bounds how deep any walk
/// over an expression goes. Only the pages a walk touches are ever mapped.
pub const STACK_SIZE: usize = 256 << 20;

/// The threads that compile: rayon's, with [`STACK_SIZE`] stacks, whatever
/// thread calls [`compile`].
static POOL: std::sync::LazyLock<Option<rayon::ThreadPool>> = std::sync::LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("shopc-compile-{i}"))
        .build()
        .ok()
});

/// Runs `f` on the compiling threads (their stacks are deep enough for the
/// deepest expression the parser accepts), for parallel work after
/// compiling.
pub(crate) fn in_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match POOL.as_ref() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Parses, resolves and checks the `.shop` files of a project: the whole
/// front end, in memory. `files` are ids of `.shop` files in `db`.
pub fn compile(db: &SourceDb, config: &ProjectConfig, files: &[FileId]) -> Compilation {
    in_pool(|| compile_here(db, config, files, None))
}

/// [`compile`], parsing again only the files whose text changed since the
/// last compilation with this cache (an editor's: `shopc lsp`). The ASTs
/// are kept, where `compile` drops them.
pub fn compile_with_cache(
    db: &SourceDb,
    config: &ProjectConfig,
    files: &[FileId],
    cache: &mut ParseCache,
) -> Compilation {
    in_pool(|| compile_here(db, config, files, Some(cache)))
}

/// The parsed files of the last compilation, by file id, each with a hash
/// of the text it was parsed from.
#[derive(Default)]
pub struct ParseCache {
    files: std::collections::HashMap<FileId, (u64, syntax::Parsed)>,
}

fn text_hash(text: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(text)
}

fn compile_here(
    db: &SourceDb,
    config: &ProjectConfig,
    files: &[FileId],
    mut cache: Option<&mut ParseCache>,
) -> Compilation {
    use rayon::prelude::*;
    // Files parse independently: spread them over the cores. The results come
    // back in the order of `files`, so the output stays deterministic.
    let mut old = match cache.as_deref_mut() {
        Some(cache) => std::mem::take(&mut cache.files),
        None => Default::default(),
    };
    let caching = cache.is_some();
    // Each file's parse kept (`Ok`), or the hash of the text to parse.
    let parsed: Vec<(u64, syntax::Parsed)> = files
        .iter()
        .map(|&file| {
            let hash = if caching { text_hash(db.text(file)) } else { 0 };
            match old.remove(&file) {
                Some(kept) if kept.0 == hash => Ok(kept),
                _ => Err(hash),
            }
        })
        .collect::<Vec<_>>()
        .into_par_iter()
        .zip(files.par_iter())
        .map(|(kept, &file)| match kept {
            Ok(kept) => kept,
            Err(hash) => (hash, syntax::parse_file(file, db.text(file))),
        })
        .collect();
    // Freed on every core.
    old.into_par_iter().for_each(drop);
    let mut problems = Vec::new();
    let mut asts = Vec::with_capacity(files.len());
    let mut broken = Vec::new();
    // What the cache keeps besides the ASTs: copies only when caching.
    let mut kept = Vec::with_capacity(if caching { files.len() } else { 0 });
    for (&file, (hash, parsed)) in files.iter().zip(parsed) {
        if caching {
            problems.extend(parsed.problems.iter().cloned());
            broken.extend(parsed.broken_items.iter().cloned());
            kept.push((hash, parsed.problems, parsed.broken_items));
        } else {
            problems.extend(parsed.problems);
            broken.extend(parsed.broken_items);
        }
        asts.push((file, parsed.file));
    }
    if problems.is_empty() && !files.is_empty() && asts.iter().all(|(_, ast)| ast.items.is_empty())
    {
        problems.push(Problem::EmptyProject {
            paths: Vec::new(),
            files: files.len(),
        });
    }
    let (ir, lower_problems) = ir::lower(db, config, &asts, &broken);
    problems.extend(lower_problems);
    if let Some(cache) = cache {
        for ((file, ast), (hash, problems, broken_items)) in asts.into_iter().zip(kept) {
            let parsed = syntax::Parsed {
                file: ast,
                problems,
                broken_items,
            };
            cache.files.insert(file, (hash, parsed));
        }
    } else {
        // Freed on every core, and reused by what comes next.
        asts.into_par_iter().for_each(drop);
    }
    let analysis = check::analyze(&ir);
    problems.extend(check::check_with(&ir, &analysis));
    sort_problems(&mut problems);
    Compilation {
        ir,
        analysis,
        problems,
    }
}

/// Orders problems by where they point (file, then offset); problems without
/// a location first. Stable, so equal positions keep phase order.
pub fn sort_problems(problems: &mut [Problem]) {
    problems.sort_by_cached_key(|p| {
        p.to_diagnostic()
            .primary_span()
            .map(|s| (1, s.file, s.start))
            .unwrap_or((0, FileId(0), 0))
    });
}
