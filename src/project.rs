//! Loading a project from disk: `shop.toml` and the `.shop` files under its
//! model paths, into a [`SourceDb`]. This is where the compiler meets the
//! file system; everything after it works on the loaded text.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use crate::config::{ProjectConfig, parse_project_config};
use crate::problem::Problem;
use crate::span::{FileId, SourceDb, Span};

/// Largest `.shop` file accepted. Real model files are a few KiB; a file this
/// large is almost certainly not a model file.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

pub const PROJECT_FILE: &str = "shop.toml";

/// A project read from disk, ready to compile.
#[derive(Debug)]
pub struct LoadedProject {
    pub root: PathBuf,
    pub db: SourceDb,
    pub config_file: FileId,
    /// `None` when `shop.toml` is invalid (see `problems`).
    pub config: Option<ProjectConfig>,
    pub shop_files: Vec<FileId>,
    /// Problems met while loading (bad project file, unreadable files…).
    pub problems: Vec<Problem>,
}

/// Loading failed before anything could be compiled.
#[derive(Debug)]
pub enum LoadError {
    NoProjectFile(PathBuf),
    Unreadable(PathBuf, std::io::Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NoProjectFile(dir) => write!(
                f,
                "no {PROJECT_FILE} in `{}`: pass the project folder with --project DIR",
                dir.display()
            ),
            LoadError::Unreadable(path, e) => write!(f, "cannot read `{}`: {e}", path.display()),
        }
    }
}

/// Reads `dir/shop.toml` and every `.shop` file under the configured paths.
pub fn load(dir: &Path) -> Result<LoadedProject, LoadError> {
    let config_path = dir.join(PROJECT_FILE);
    if !config_path.is_file() {
        return Err(LoadError::NoProjectFile(dir.to_path_buf()));
    }
    let mut db = SourceDb::new();
    let mut problems = Vec::new();
    let config_text =
        std::fs::read(&config_path).map_err(|e| LoadError::Unreadable(config_path.clone(), e))?;
    let config_file = add_text(&mut db, &config_path, config_text, &mut problems);
    let config = match parse_project_config(config_file, db.text(config_file)) {
        Ok(config) => Some(config),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let mut shop_files = Vec::new();
    if let Some(config) = &config {
        let mut paths: Vec<PathBuf> = Vec::new();
        for models in &config.paths.models {
            let root = dir.join(models);
            for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
                match entry {
                    Ok(entry)
                        if !entry.file_type().is_dir()
                            && entry.path().extension().is_some_and(|e| e == "shop") =>
                    {
                        paths.push(entry.into_path())
                    }
                    Ok(_) => {}
                    // A configured folder that does not exist simply holds no models.
                    Err(e)
                        if e.io_error()
                            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) => {}
                    Err(e) => problems.push(Problem::UnreadableFile {
                        path: e.path().unwrap_or(&root).display().to_string(),
                        reason: e.to_string(),
                    }),
                }
            }
        }
        paths.dedup();
        for path in paths {
            if let Some(file) = load_shop_file(&mut db, &path, &mut problems) {
                shop_files.push(file);
            }
        }
        if shop_files.is_empty() && problems.is_empty() {
            problems.push(Problem::EmptyProject {
                paths: config
                    .paths
                    .models
                    .iter()
                    .map(|m| dir.join(m).display().to_string())
                    .collect(),
                files: 0,
            });
        }
    }
    Ok(LoadedProject {
        root: dir.to_path_buf(),
        db,
        config_file,
        config,
        shop_files,
        problems,
    })
}

fn load_shop_file(db: &mut SourceDb, path: &Path, problems: &mut Vec<Problem>) -> Option<FileId> {
    let display = path.display().to_string();
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) => {
            problems.push(Problem::UnreadableFile {
                path: display,
                reason: e.to_string(),
            });
            return None;
        }
    };
    if size > MAX_FILE_BYTES {
        let file = db.add(display, String::new());
        problems.push(Problem::FileTooLarge {
            span: Span::new(file, 0, 0),
            size,
            limit: MAX_FILE_BYTES,
        });
        return None;
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let before = problems.len();
            let file = add_text(db, path, bytes, problems);
            // A file that is not text is reported once, not parsed.
            (problems.len() == before).then_some(file)
        }
        Err(e) => {
            problems.push(Problem::UnreadableFile {
                path: display,
                reason: e.to_string(),
            });
            None
        }
    }
}

/// Adds a file's bytes as text; invalid UTF-8 is reported at the first bad byte.
fn add_text(db: &mut SourceDb, path: &Path, bytes: Vec<u8>, problems: &mut Vec<Problem>) -> FileId {
    let display = path.display().to_string();
    match String::from_utf8(bytes) {
        Ok(text) => db.add(display, text),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = db.add(display, text);
            // The replacement character U+FFFD is three bytes long.
            problems.push(Problem::InvalidUtf8 {
                span: Span::new(file, offset, offset + '\u{FFFD}'.len_utf8()),
            });
            file
        }
    }
}
